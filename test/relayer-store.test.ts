// One contract suite for the relayer's store, run against the embedded store (PGlite) and the
// PostgreSQL server (127.0.0.1:5432, database `test`, a schema of its own).
import { afterAll, describe, expect, it } from "vitest";
import { MIGRATIONS, migrate, pgliteStore, postgresStore, type Store } from "../src/relayer/index.ts";
import { insertJob } from "../src/relayer/jobs.ts";

const PG_URL = process.env.RELAYER_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

async function postgresSchema(): Promise<() => Promise<Store>> {
  const { default: pg } = await import("pg");
  const schema = `relayer_store_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Pool({ connectionString: PG_URL });
  await admin.query(`CREATE SCHEMA ${schema}`);
  cleanups.push(async () => {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  });
  return () => postgresStore({ connectionString: `${PG_URL}?options=-c%20search_path%3D${schema}` });
}

const backends: [string, () => Promise<() => Promise<Store>>][] = [
  ["embedded (PGlite)", async () => () => pgliteStore()],
  ["PostgreSQL server", postgresSchema],
];

describe.each(backends)("store: %s", (_name, factory) => {
  it("applies each migration once, also when several instances open the store together", async () => {
    const open = await factory();
    const stores = await Promise.all([open(), open()]);
    try {
      const [first] = stores;
      if (!first) throw new Error("no store");
      expect(await migrate(first)).toEqual([]);
      const { rows } = await first.query<{ version: number }>(
        "SELECT version FROM relayer_migrations ORDER BY version",
      );
      expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("one nonce never carries two payloads, one payload never gets two nonces", async () => {
    const store = await (await factory())();
    try {
      for (const id of ["job-a", "job-b"]) {
        await insertJob(store, {
          id,
          requestId: id,
          dedupeKey: `key-${id}`,
          kind: "activation",
          chainId: 1,
          payload: {},
        });
      }
      const tx = (job: string, nonce: number) =>
        store.query(
          `INSERT INTO relayer_txs (job_id, chain_id, signer, nonce, to_address, data, gas_limit, status)
           VALUES ($1, 1, '0xsigner', $2, '0xto', '0x', 21000, 'nonce_assigned')`,
          [job, nonce],
        );
      await tx("job-a", 7);
      await expect(tx("job-b", 7)).rejects.toThrow(/unique|duplicate/i);
      await expect(tx("job-a", 8)).rejects.toThrow(/unique|duplicate/i);
      await tx("job-b", 8);
    } finally {
      await store.close();
    }
  });

  it("a job is idempotent by request id and by payload, a request id never names two payloads, and a failed transaction leaves nothing", async () => {
    const store = await (await factory())();
    try {
      const first = await insertJob(store, {
        id: "j1",
        requestId: "r1",
        dedupeKey: "k1",
        kind: "activation",
        chainId: 1,
        payload: { a: 1 },
      });
      expect(first.created).toBe(true);
      // The same request id for another payload is refused: it never hides a second job.
      await expect(
        insertJob(store, { id: "j2", requestId: "r1", dedupeKey: "k2", kind: "activation", chainId: 1, payload: {} }),
      ).rejects.toMatchObject({ code: "REQUEST_ID_CONFLICT" });
      const sameRequest = await insertJob(store, {
        id: "j2",
        requestId: "r1",
        dedupeKey: "k1",
        kind: "activation",
        chainId: 1,
        payload: {},
      });
      const samePayload = await insertJob(store, {
        id: "j3",
        requestId: "r3",
        dedupeKey: "k1",
        kind: "activation",
        chainId: 1,
        payload: {},
      });
      expect([sameRequest.created, samePayload.created]).toEqual([false, false]);
      expect([sameRequest.job.id, samePayload.job.id]).toEqual(["j1", "j1"]);
      await expect(
        store.transaction(async (tx) => {
          await tx.query("UPDATE relayer_jobs SET status = 'failed' WHERE id = 'j1'");
          throw new Error("crash inside the transaction");
        }),
      ).rejects.toThrow(/crash/);
      const { rows } = await store.query<{ status: string }>("SELECT status FROM relayer_jobs WHERE id = 'j1'");
      expect(rows[0]?.status).toBe("submitting");
      // 64-bit values round-trip through either engine.
      const { rows: big } = await store.query<{ v: string }>("SELECT $1::bigint::text AS v", ["9223372036854775807"]);
      expect(big[0]?.v).toBe("9223372036854775807");
    } finally {
      await store.close();
    }
  });
});
