// The relayer's pipeline on anvil (JSON-RPC) with Circle's real FiatToken at Base's USDC address,
// on the embedded store and on the PostgreSQL server (127.0.0.1:5432, database `test`).
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as promClient from "prom-client";
import { createPublicClient, type Hex, http, keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { getTransactionCount } from "viem/actions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fiatTokenAbi } from "../src/abi/index.ts";
import { readAgreement } from "../src/actions/index.ts";
import { tokenDomain } from "../src/chains/index.ts";
import { agreementRef, decodeTerms, signAuthorization } from "../src/eip712/index.ts";
import {
  createFacilitator,
  createRelayer,
  pgliteStore,
  postgresStore,
  RelayerError,
  type Store,
} from "../src/relayer/index.ts";
import { base, type RelayerChainFixture, startRelayerChain, usdc } from "./support/relayer-chain.ts";
import { type RpcProxy, startRpcProxy } from "./support/rpc-proxy.ts";

const PG_URL = process.env.RELAYER_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

let chain: RelayerChainFixture;
beforeAll(async () => {
  chain = await startRelayerChain();
});
afterAll(async () => chain?.stop());

const relayerChain = (overrides: { url?: string; confirmations?: number; rebroadcastMs?: number } = {}) => ({
  chainId: base.chainId,
  client: createPublicClient({ transport: http(overrides.url ?? chain.url), cacheTime: 0, pollingInterval: 20 }),
  escrow: chain.escrow,
  confirmations: overrides.confirmations ?? 1,
  rebroadcastMs: overrides.rebroadcastMs ?? 0,
});

/** A PostgreSQL store in a schema of its own, dropped afterwards. */
async function freshPostgres(): Promise<{ url: string; store: () => Promise<Store>; drop: () => Promise<void> }> {
  const { default: pg } = await import("pg");
  const schema = `relayer_test_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Pool({ connectionString: PG_URL });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = `${PG_URL}?options=-c%20search_path%3D${schema}`;
  return {
    url,
    store: () => postgresStore({ connectionString: url }),
    drop: async () => {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

/** A PostgreSQL store in a schema of its own, dropped when the store closes. */
async function postgresInSchema(): Promise<Store> {
  const fresh = await freshPostgres();
  const store = await fresh.store();
  return {
    ...store,
    close: async () => {
      await store.close();
      await fresh.drop();
    },
  };
}

/** The fault, reorg, deadline and gap tests run on both stores. */
const STORES: [string, () => Promise<Store>][] = [
  ["embedded store", () => pgliteStore()],
  ["PostgreSQL", postgresInSchema],
];

const nonceOf = (address: Hex) =>
  getTransactionCount(createPublicClient({ transport: http(chain.url) }), { address, blockTag: "latest" });

describe("activation jobs (embedded store)", () => {
  it("returns at once as submitting, is active at the confirmation depth, and is idempotent by request id and agreement", async () => {
    const store = await pgliteStore();
    const signer = chain.account(5);
    const registry = new promClient.Registry();
    const relayer = createRelayer({
      chains: [relayerChain({ confirmations: 2 })],
      signers: { [base.chainId]: [signer] },
      store,
      pollMs: 20,
      metrics: { client: promClient, registry },
    });
    try {
      const { body, id, terms } = await chain.activationBody();
      const job = await relayer.submitActivation(body, { requestId: "req-1", chainId: base.chainId });
      expect(job).toMatchObject({ status: "submitting", requestId: "req-1", txHash: null });
      // The same request id, and the same agreement under another request id: the same job.
      expect((await relayer.submitActivation(body, { requestId: "req-1", chainId: base.chainId })).id).toBe(job.id);
      expect((await relayer.submitActivation(body, { requestId: "req-2", chainId: base.chainId })).id).toBe(job.id);
      // Both request ids find it.
      expect((await relayer.getJob("req-2"))?.id).toBe(job.id);
      const before = await nonceOf(signer.address);
      await relayer.tick(); // checked, simulated, nonce claimed, signed, stored, broadcast (mined by automine)
      await relayer.tick(); // receipt seen at depth 1: not yet active
      const mined = await relayer.getJob(job.id);
      expect(mined?.status).toBe("submitting");
      expect(mined?.txHash).toMatch(/^0x[0-9a-f]{64}$/);
      await chain.rpc("evm_mine");
      const done = await relayer.waitFor(job.id, { timeoutMs: 10_000, pollMs: 20 });
      expect(done.status).toBe("active");
      const agreement = agreementRef(terms, { chainId: base.chainId, escrow: chain.escrow });
      expect((await readAgreement(chain.dev.publicClient, agreement)).status).toBe("active");
      expect(agreement.id).toBe(id);
      // Exactly one transaction went out.
      expect((await nonceOf(signer.address)) - before).toBe(1);
      // Metrics land in the injected registry, not the global one.
      const text = await registry.metrics();
      expect(text).toMatch(/agent_escrow_relayer_jobs_accepted_total\{chain="8453"\} 1/);
      expect(text).toMatch(/agent_escrow_relayer_jobs_finished_total\{chain="8453",status="active",reason=""\} 1/);
      expect(text).toMatch(/agent_escrow_relayer_broadcasts_total\{chain="8453",outcome="submitted"\} 1/);
      expect(await promClient.register.metrics()).not.toMatch(/agent_escrow_relayer/);
      expect(decodeTerms(agreement.packed).buyer).toBe(terms.buyer);
    } finally {
      await store.close();
    }
  });

  it("refuses a body that does not parse, and a chain it does not serve (the seed's 400)", async () => {
    const store = await pgliteStore();
    const relayer = createRelayer({ chains: [relayerChain()], signers: { [base.chainId]: [chain.account(6)] }, store });
    try {
      const { body } = await chain.activationBody();
      const tampered = { ...(body as Record<string, unknown>), agreementId: `0x${"00".repeat(32)}` };
      const error = await relayer
        .submitActivation(tampered, { requestId: "bad", chainId: base.chainId })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RelayerError);
      expect(error).toMatchObject({ code: "JOB_INVALID", details: { field: "agreementId", reason: "ID_MISMATCH" } });
      await expect(relayer.submitActivation(body, { requestId: "x", chainId: 10 })).rejects.toMatchObject({
        code: "CHAIN_NOT_CONFIGURED",
      });
      expect(await relayer.getJob("bad")).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("fails an expired authorization with a typed reason before taking a nonce, and sends nothing", async () => {
    const store = await pgliteStore();
    const signer = chain.account(7);
    const relayer = createRelayer({ chains: [relayerChain()], signers: { [base.chainId]: [signer] }, store });
    try {
      const now = Number((await chain.dev.publicClient.getBlock()).timestamp);
      const { body } = await chain.activationBody({ validBefore: BigInt(now - 1) });
      const job = await relayer.submitActivation(body, { requestId: "expired", chainId: base.chainId });
      const before = await nonceOf(signer.address);
      const done = await relayer.waitFor(job.id, { timeoutMs: 10_000 });
      expect(done).toMatchObject({ status: "failed", reason: "authorization_expired", txHash: null });
      expect(await nonceOf(signer.address)).toBe(before);
    } finally {
      await store.close();
    }
  });

  it("rebroadcasts the same bytes when the node drops the transaction from its pool", async () => {
    const store = await pgliteStore();
    const signer = chain.account(8);
    const relayer = createRelayer({
      chains: [relayerChain()],
      signers: { [base.chainId]: [signer] },
      store,
      logger: process.env.RELAYER_DEBUG ? console : undefined,
    });
    const { body } = await chain.activationBody();
    await chain.rpc("evm_setAutomine", [false]);
    try {
      const job = await relayer.submitActivation(body, { requestId: "dropped", chainId: base.chainId });
      await relayer.tick();
      const sent = await relayer.getJob(job.id);
      const hash = sent?.txHash as Hex;
      expect(hash).toMatch(/^0x/);
      await chain.rpc("anvil_dropTransaction", [hash]);
      await relayer.tick(); // not mined, not in the pool: the stored bytes go out again
      await chain.rpc("evm_mine");
      const done = await relayer.waitFor(job.id, { timeoutMs: 10_000, pollMs: 20 });
      expect(done).toMatchObject({ status: "active", txHash: hash });
    } finally {
      await chain.rpc("evm_setAutomine", [true]);
      await store.close();
    }
  });

  it("after a crash between storing the signed transaction and broadcasting it, a restarted relayer sends those bytes, once", async () => {
    const dir = `/tmp/relayer-restart-${Date.now()}`;
    const signer = chain.account(9);
    const { body } = await chain.activationBody();
    // First life: the node never receives the broadcast (a dead endpoint for sends only).
    const deadForSends = createPublicClient({
      transport: http(chain.url, {
        fetchFn: async (input, init) => {
          const text = typeof init?.body === "string" ? init.body : "";
          if (text.includes("eth_sendRawTransaction")) throw new Error("connection reset");
          return fetch(input, init);
        },
      }),
    });
    let store = await pgliteStore({ dataDir: dir });
    const first = createRelayer({
      chains: [{ ...relayerChain(), client: deadForSends }],
      signers: { [base.chainId]: [signer] },
      store,
      instanceId: "first",
      leaseMs: 200,
    });
    const job = await first.submitActivation(body, { requestId: "crash", chainId: base.chainId });
    await first.tick();
    const { rows: stored } = await store.query<{ hash: string }>("SELECT hash FROM relayer_attempts");
    expect(stored).toHaveLength(1);
    const before = await nonceOf(signer.address);
    await store.close(); // the process dies
    // Second life, another instance id, same data directory: the lease expires and it takes over.
    await new Promise((r) => setTimeout(r, 250));
    store = await pgliteStore({ dataDir: dir });
    const second = createRelayer({
      chains: [relayerChain()],
      signers: { [base.chainId]: [signer] },
      store,
      instanceId: "second",
    });
    try {
      const done = await second.waitFor(job.id, { timeoutMs: 10_000, pollMs: 20 });
      expect(done.status).toBe("active");
      expect(done.txHash).toBe(stored[0]?.hash);
      expect((await nonceOf(signer.address)) - before).toBe(1);
      const { rows } = await store.query("SELECT hash FROM relayer_attempts");
      expect(rows).toHaveLength(1);
    } finally {
      await store.close();
    }
  });
});

describe("several instances on PostgreSQL", () => {
  let pg: Awaited<ReturnType<typeof freshPostgres>>;
  beforeAll(async () => {
    pg = await freshPostgres();
  });
  afterAll(async () => pg?.drop());

  it("two instances, activations submitted to both: every one active, one transaction each, no nonce errors", async () => {
    const N = Number(process.env.RELAYER_MULTI_N ?? 1_000);
    const signers = [chain.account(10), chain.account(11)];
    for (const s of signers) await chain.rpc("anvil_setBalance", [s.address, "0x3635C9ADC5DEA00000"]);
    const [storeA, storeB] = await Promise.all([pg.store(), pg.store()]);
    const make = (store: Store, instanceId: string) =>
      createRelayer({
        chains: [relayerChain({ confirmations: 2 })],
        signers: { [base.chainId]: signers },
        store,
        instanceId,
        pollMs: 20,
        leaseMs: 5_000,
        logger: process.env.RELAYER_DEBUG ? console : undefined,
      });
    let stopMiner = () => {};
    const a = make(storeA, "a");
    const b = make(storeB, "b");
    const before = await Promise.all(signers.map((s) => nonceOf(s.address)));
    try {
      const bodies = [];
      for (let i = 0; i < N; i++) bodies.push(await chain.activationBody({ deposit: 1_000_000n }));
      a.start();
      b.start();
      // Blocks keep coming, so every activation can reach the depth.
      const miner = setInterval(() => void chain.rpc("evm_mine").catch(() => undefined), 200);
      stopMiner = () => clearInterval(miner);
      // Every activation is submitted to both instances (a client retrying against another node).
      const jobs = await Promise.all(
        bodies.flatMap(({ body }, i) => [
          a.submitActivation(body, { requestId: `multi-${i}`, chainId: base.chainId }),
          b.submitActivation(body, { requestId: `multi-${i}`, chainId: base.chainId }),
        ]),
      );
      for (let i = 0; i < N; i++) expect(jobs[2 * i]?.id).toBe(jobs[2 * i + 1]?.id);
      const done = await Promise.all(
        bodies.map((_, i) => a.waitFor(`multi-${i}`, { timeoutMs: 120_000, pollMs: 100 })),
      );
      expect(done.filter((j) => j.status !== "active")).toEqual([]);
      // Every one was activated by the relayers' own transactions, at the depth (none seen "elsewhere").
      expect(done.filter((j) => j.reason !== null)).toEqual([]);
      const after = await Promise.all(signers.map((s) => nonceOf(s.address)));
      const sent = after.reduce((s, n, i) => s + n - (before[i] ?? 0), 0);
      expect(sent).toBe(N);
      const { rows } = await storeA.query<{ n: string }>("SELECT count(*) AS n FROM relayer_txs");
      expect(Number(rows[0]?.n)).toBe(N);
      for (const { terms } of bodies) {
        const agreement = agreementRef(terms, { chainId: base.chainId, escrow: chain.escrow });
        expect((await readAgreement(chain.dev.publicClient, agreement)).status).toBe("active");
      }
    } finally {
      stopMiner();
      await Promise.all([a.stop(), b.stop()]);
      await Promise.all([storeA.close(), storeB.close()]);
    }
  }, 600_000);

  it("the same on the embedded store with one instance: every one active, one transaction each", async () => {
    const N = Number(process.env.RELAYER_MULTI_N ?? 1_000);
    const signer = chain.account(23);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    const store = await pgliteStore();
    const finished = new Set<string>();
    const relayer = createRelayer({
      chains: [relayerChain()],
      signers: { [base.chainId]: [signer] },
      store,
      pollMs: 20,
      // Observed through the status hook: polling a thousand jobs would load the one-session store.
      onStatusChange: (job) => {
        if (job.status !== "submitting") finished.add(job.id);
      },
    });
    const before = await nonceOf(signer.address);
    try {
      const bodies = [];
      for (let i = 0; i < N; i++) bodies.push(await chain.activationBody({ deposit: 1_000_000n }));
      relayer.start();
      const jobs = await Promise.all(
        bodies.map(({ body }, i) =>
          relayer.submitActivation(body, { requestId: `single-${i}`, chainId: base.chainId }),
        ),
      );
      const deadline = Date.now() + 300_000;
      while (finished.size < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const { rows: statuses } = await store.query<{ status: string; reason: string | null; n: string }>(
        "SELECT status, reason, count(*) AS n FROM relayer_jobs WHERE request_id LIKE 'single-%' GROUP BY status, reason",
      );
      expect(statuses.map((r) => [r.status, r.reason, Number(r.n)])).toEqual([["active", null, N]]);
      expect(jobs).toHaveLength(N);
      expect((await nonceOf(signer.address)) - before).toBe(N);
      const { rows } = await store.query<{ n: string }>("SELECT count(*) AS n FROM relayer_txs");
      expect(Number(rows[0]?.n)).toBe(N);
    } finally {
      await relayer.stop();
      await store.close();
    }
  }, 600_000);
});

describe("a relayer process killed after each durable step", () => {
  let pg: Awaited<ReturnType<typeof freshPostgres>>;
  let url: string;
  beforeAll(async () => {
    pg = await freshPostgres();
    url = pg.url;
  });
  afterAll(async () => pg?.drop());

  it.each(["nonce_claimed", "attempt_stored", "broadcast", "mined", "confirmed"] as const)(
    "killed after %s: a restarted relayer leaves exactly one activation on chain, no duplicate, no lost job",
    async (step) => {
      const signerIndex = 12 + ["nonce_claimed", "attempt_stored", "broadcast", "mined", "confirmed"].indexOf(step);
      const signer = chain.account(signerIndex);
      await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
      const { body, terms } = await chain.activationBody();
      const file = join(tmpdir(), `relayer-body-${step}-${Date.now()}.json`);
      writeFileSync(file, JSON.stringify(body));
      const before = await nonceOf(signer.address);
      const child = spawn(process.execPath, ["test/support/relayer-child.ts"], {
        env: {
          ...process.env,
          ANVIL_URL: chain.url,
          PG_URL: url,
          ESCROW: chain.escrow,
          SIGNER_INDEX: String(signerIndex),
          BODY_FILE: file,
          REQUEST_ID: `killed-${step}`,
          KILL_AT: step,
        },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr?.on("data", (d) => {
        stderr += String(d);
      });
      const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
        child.on("exit", (_code, sig) => resolve(sig)),
      );
      expect(signal, stderr).toBe("SIGKILL");
      // Restart: another instance on the same store takes over once the dead one's lease expires.
      const store = await pg.store();
      const relayer = createRelayer({
        chains: [relayerChain()],
        signers: { [base.chainId]: [signer] },
        store,
        instanceId: `restarted-${step}`,
        leaseMs: 300,
      });
      try {
        const done = await relayer.waitFor(`killed-${step}`, { timeoutMs: 20_000, pollMs: 50 });
        expect(done.status).toBe("active");
        const agreement = agreementRef(terms, { chainId: base.chainId, escrow: chain.escrow });
        expect((await readAgreement(chain.dev.publicClient, agreement)).status).toBe("active");
        // One transaction from the signer, one transaction row for the job.
        expect((await nonceOf(signer.address)) - before).toBe(1);
        const { rows } = await store.query<{ n: string }>(
          "SELECT count(*) AS n FROM relayer_txs t JOIN relayer_jobs j ON j.id = t.job_id WHERE j.request_id = $1",
          [`killed-${step}`],
        );
        expect(Number(rows[0]?.n)).toBe(1);
      } finally {
        await store.close();
      }
    },
    60_000,
  );
});

describe.each(STORES)("faults between the relayer and the node (%s)", (_store, openStore) => {
  let proxy: RpcProxy;
  beforeAll(async () => {
    proxy = await startRpcProxy(chain.url);
  });
  afterAll(async () => proxy?.close());

  const relayerVia = async (store: Store, signerIndex: number, extra: { bumpAfterMs?: number } = {}) => {
    const signer = chain.account(signerIndex);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    return {
      signer,
      relayer: createRelayer({
        chains: [{ ...relayerChain({ url: proxy.url }), ...extra }],
        signers: { [base.chainId]: [signer] },
        store,
      }),
    };
  };

  it("the node's reply to the broadcast is lost: the same bytes go out again, one transaction", async () => {
    const store = await openStore();
    const { signer, relayer } = await relayerVia(store, 16);
    try {
      const { body } = await chain.activationBody();
      const before = await nonceOf(signer.address);
      proxy.faults = { dropReply: { method: "eth_sendRawTransaction", count: 1 } };
      const job = await relayer.submitActivation(body, { requestId: "lost-reply", chainId: base.chainId });
      const done = await relayer.waitFor(job.id, { timeoutMs: 20_000, pollMs: 50 });
      expect(done.status).toBe("active");
      expect((await nonceOf(signer.address)) - before).toBe(1);
      const { rows } = await store.query("SELECT hash FROM relayer_attempts");
      expect(rows).toHaveLength(1);
    } finally {
      proxy.faults = {};
      await store.close();
    }
  });

  it("429 and 503 while checking: backs off, keeps the request id, then activates", async () => {
    const store = await openStore();
    const { relayer } = await relayerVia(store, 17);
    try {
      const { body } = await chain.activationBody();
      // More refusals than the client's own retries (and its fallback to eth_estimateGas) absorb in one pass.
      // (viem estimates gas with eth_fillTransaction where the node has it.)
      proxy.faults = { status: { method: /eth_(estimateGas|fillTransaction)/, code: 429, count: 12 } };
      const job = await relayer.submitActivation(body, { requestId: "throttled", chainId: base.chainId });
      await relayer.tick();
      const waiting = await relayer.getJob("throttled");
      expect(waiting).toMatchObject({ status: "submitting", txHash: null });
      expect(waiting?.attempts).toBeGreaterThanOrEqual(1);
      proxy.faults = { status: { method: /eth_(estimateGas|fillTransaction)/, code: 503, count: 1 } };
      const done = await relayer.waitFor(job.id, { timeoutMs: 30_000, pollMs: 100 });
      expect(done).toMatchObject({ status: "active", requestId: "throttled" });
    } finally {
      proxy.faults = {};
      await store.close();
    }
  });

  it("a stuck transaction is replaced with both fees raised by more than 10% (the proxy enforces geth's rule)", async () => {
    // The rule is enforced: a replacement at exactly +10% is refused.
    const store = await openStore();
    const { signer, relayer } = await relayerVia(store, 18, { bumpAfterMs: 300 });
    const { body } = await chain.activationBody();
    await chain.rpc("evm_setAutomine", [false]);
    try {
      const job = await relayer.submitActivation(body, { requestId: "stuck", chainId: base.chainId });
      await relayer.tick(); // broadcast, not mined
      await new Promise((r) => setTimeout(r, 350));
      await relayer.tick(); // stuck: replaced
      const { rows } = await store.query<{ max_fee_per_gas: string; max_priority_fee_per_gas: string; hash: Hex }>(
        "SELECT hash, max_fee_per_gas, max_priority_fee_per_gas FROM relayer_attempts ORDER BY created_at",
      );
      expect(rows).toHaveLength(2);
      const [first, second] = rows;
      expect(BigInt(second?.max_fee_per_gas ?? 0) * 1000n).toBeGreaterThanOrEqual(
        BigInt(first?.max_fee_per_gas ?? 0) * 1125n,
      );
      expect(BigInt(second?.max_priority_fee_per_gas ?? 0) * 1000n).toBeGreaterThanOrEqual(
        BigInt(first?.max_priority_fee_per_gas ?? 0) * 1125n,
      );
      expect(proxy.refusedReplacements).toBe(0);
      const before = await nonceOf(signer.address);
      await chain.rpc("evm_mine");
      const done = await relayer.waitFor(job.id, { timeoutMs: 20_000, pollMs: 50 });
      expect(done).toMatchObject({ status: "active", txHash: second?.hash });
      expect((await nonceOf(signer.address)) - before).toBe(1);
    } finally {
      await chain.rpc("evm_setAutomine", [true]);
      await store.close();
    }
  });

  it("the proxy refuses a replacement that raises the fees by exactly 10%", async () => {
    const signer = chain.account(19);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    await chain.rpc("evm_setAutomine", [false]);
    try {
      const nonce = await getTransactionCount(createPublicClient({ transport: http(chain.url) }), {
        address: signer.address,
        blockTag: "pending",
      });
      const send = async (maxFeePerGas: bigint, maxPriorityFeePerGas: bigint) => {
        const raw = await signer.signTransaction({
          type: "eip1559",
          chainId: base.chainId,
          nonce,
          to: signer.address,
          gas: 21_000n,
          maxFeePerGas,
          maxPriorityFeePerGas,
        });
        return createPublicClient({ transport: http(proxy.url) }).request({
          method: "eth_sendRawTransaction",
          params: [raw],
        });
      };
      await send(10_000_000_000n, 1_000_000_000n);
      await expect(send(11_000_000_000n, 1_100_000_000n)).rejects.toThrow(/underpriced/);
      await send(11_000_000_001n, 1_100_000_001n);
    } finally {
      await chain.rpc("evm_mine");
      await chain.rpc("evm_setAutomine", [true]);
    }
  });
});

describe.each(STORES)("reorgs (%s)", (_store, openStore) => {
  it("a reorg that drops the mined activation sends it back to submitted and rebroadcasts it; active only at depth", async () => {
    const store = await openStore();
    const signer = chain.account(20);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    const relayer = createRelayer({
      chains: [relayerChain({ confirmations: 3 })],
      signers: { [base.chainId]: [signer] },
      store,
    });
    try {
      const { body, terms } = await chain.activationBody();
      const job = await relayer.submitActivation(body, { requestId: "reorged", chainId: base.chainId });
      const snapshot = await chain.rpc<Hex>("evm_snapshot");
      // Broadcast and mined at once (automine); passes until the receipt is recorded (depth 1 of 3).
      const minedRows = () =>
        store.query<{ status: string; mined_hash: Hex }>("SELECT status, mined_hash FROM relayer_txs");
      for (let i = 0; i < 50 && (await minedRows()).rows[0]?.status !== "mined"; i++) await relayer.tick();
      const { rows: mined } = await minedRows();
      expect(mined[0]?.status).toBe("mined");
      expect((await relayer.getJob(job.id))?.status).toBe("submitting"); // not before the depth
      // The chain reorganises under the relayer: the block with the activation is gone.
      await chain.rpc("evm_revert", [snapshot]);
      await relayer.tick(); // gone: back to submitted, rebroadcast (mined again)
      await chain.rpc("anvil_mine", ["0x3"]);
      const done = await relayer.waitFor(job.id, { timeoutMs: 20_000, pollMs: 50 });
      expect(done).toMatchObject({ status: "active", txHash: mined[0]?.mined_hash });
      const agreement = agreementRef(terms, { chainId: base.chainId, escrow: chain.escrow });
      expect((await readAgreement(chain.dev.publicClient, agreement)).status).toBe("active");
    } finally {
      await store.close();
    }
  });
});

describe.each(STORES)("deadlines (%s)", (_store, openStore) => {
  it("an authorization that expires within the margin is failed before it takes a nonce, never sent to revert", async () => {
    const store = await openStore();
    const signer = chain.account(21);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    const relayer = createRelayer({
      chains: [{ ...relayerChain(), deadlineMarginSeconds: 120 }],
      signers: { [base.chainId]: [signer] },
      store,
    });
    try {
      const now = Number((await chain.dev.publicClient.getBlock()).timestamp);
      const { body } = await chain.activationBody({ validBefore: BigInt(now + 60) });
      const before = await nonceOf(signer.address);
      const job = await relayer.submitActivation(body, { requestId: "expiring", chainId: base.chainId });
      const done = await relayer.waitFor(job.id, { timeoutMs: 10_000 });
      expect(done).toMatchObject({ status: "failed", reason: "authorization_expiring", txHash: null });
      expect(await nonceOf(signer.address)).toBe(before);
      const { rows } = await store.query("SELECT id FROM relayer_txs");
      expect(rows).toHaveLength(0);
    } finally {
      await store.close();
    }
  });

  it("an activation still unmined near its deadline is replaced by a no-op self-send at its nonce: failed, nothing moved", async () => {
    const store = await openStore();
    const signer = chain.account(24);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    const relayer = createRelayer({
      chains: [{ ...relayerChain({ rebroadcastMs: 600_000 }), deadlineMarginSeconds: 60, cancelMarginSeconds: 120 }],
      signers: { [base.chainId]: [signer] },
      store,
    });
    const now = Number((await chain.dev.publicClient.getBlock()).timestamp);
    const { body, terms, id } = await chain.activationBody({ validBefore: BigInt(now + 600) });
    const before = await nonceOf(signer.address);
    await chain.rpc("evm_setAutomine", [false]);
    try {
      const job = await relayer.submitActivation(body, { requestId: "cancelled", chainId: base.chainId });
      await relayer.tick(); // claimed (600 s left > 60 s margin), signed, stored, broadcast; not mined
      const attempts = () =>
        store.query<{ hash: Hex; cancel: boolean; max_fee_per_gas: string; max_priority_fee_per_gas: string }>(
          "SELECT hash, cancel, max_fee_per_gas, max_priority_fee_per_gas FROM relayer_attempts ORDER BY created_at",
        );
      const [call] = (await attempts()).rows;
      expect(call?.cancel).toBe(false);
      // The call leaves the pool unmined (as a stuck one would), and the chain's clock moves to
      // 100 s before the authorization's end: inside the 120 s cancel margin.
      await chain.rpc("anvil_dropTransaction", [call?.hash]);
      await chain.rpc("evm_setNextBlockTimestamp", [now + 500]);
      await chain.rpc("evm_mine");
      await relayer.tick(); // replaced by a cancellation
      const rows = (await attempts()).rows;
      expect(rows).toHaveLength(2);
      const cancellation = rows[1];
      expect(cancellation?.cancel).toBe(true);
      expect(BigInt(cancellation?.max_fee_per_gas ?? 0) * 1000n).toBeGreaterThanOrEqual(
        BigInt(call?.max_fee_per_gas ?? 0) * 1125n,
      );
      expect(BigInt(cancellation?.max_priority_fee_per_gas ?? 0) * 1000n).toBeGreaterThanOrEqual(
        BigInt(call?.max_priority_fee_per_gas ?? 0) * 1125n,
      );
      const sent = await chain.dev.publicClient.getTransaction({ hash: cancellation?.hash as Hex });
      expect(sent).toMatchObject({ from: signer.address.toLowerCase(), to: signer.address.toLowerCase(), input: "0x" });
      await chain.rpc("evm_mine");
      const done = await relayer.waitFor(job.id, { timeoutMs: 20_000, pollMs: 50 });
      expect(done).toMatchObject({ status: "failed", reason: "authorization_expiring", txHash: null });
      // The nonce is used by the self-send; the authorization is unused and the buyer keeps the deposit.
      expect((await nonceOf(signer.address)) - before).toBe(1);
      expect(
        await chain.dev.publicClient.readContract({
          address: terms.token,
          abi: fiatTokenAbi,
          functionName: "authorizationState",
          args: [terms.buyer, id],
        }),
      ).toBe(false);
      expect(await chain.token.balanceOf(terms.buyer)).toBe(terms.deposit);
    } finally {
      await chain.rpc("evm_setAutomine", [true]);
      await store.close();
    }
  });
});

describe("x402 settlements", () => {
  it("one payment submitted 50 times at once is one job, created for exactly one caller, executed once", async () => {
    const store = await pgliteStore();
    const signer = chain.account(25);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    const relayer = createRelayer({ chains: [relayerChain()], signers: { [base.chainId]: [signer] }, store });
    try {
      const payer = privateKeyToAccount(generatePrivateKey());
      const payee = privateKeyToAccount(generatePrivateKey()).address;
      await chain.token.mint(payer.address, 1_000_000n);
      const now = Number((await chain.dev.publicClient.getBlock()).timestamp);
      const authorization = {
        from: payer.address,
        to: payee,
        value: 250_000n,
        validAfter: 0n,
        validBefore: BigInt(now + 600),
        nonce: keccak256(toHex(`x402-${Math.random()}`)),
      };
      const signature = await signAuthorization(payer, tokenDomain(base.chainId, "USDC"), authorization);
      const payload = {
        authorization: {
          ...authorization,
          value: authorization.value.toString(),
          validAfter: "0",
          validBefore: authorization.validBefore.toString(),
        },
        signature,
      };
      const before = await nonceOf(signer.address);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          relayer.submitX402Settlement(
            { asset: usdc.address, payload },
            { chainId: base.chainId, requestId: `settle-${i}` },
          ),
        ),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
      const done = await relayer.waitFor(results[0]?.job.id ?? "", { timeoutMs: 20_000, pollMs: 50 });
      expect(done).toMatchObject({ kind: "x402_settlement", status: "confirmed" });
      expect(done.txHash).toMatch(/^0x[0-9a-f]{64}$/);
      expect(await chain.token.balanceOf(payee)).toBe(250_000n);
      expect(await chain.token.balanceOf(payer.address)).toBe(750_000n);
      expect((await nonceOf(signer.address)) - before).toBe(1);
      // Any of the request ids finds the one job; a request id never names a second payload.
      expect((await relayer.getJob("settle-37"))?.id).toBe(done.id);
      const other = { ...payload, authorization: { ...payload.authorization, nonce: keccak256(toHex("other")) } };
      await expect(
        relayer.submitX402Settlement(
          { asset: usdc.address, payload: other },
          { chainId: base.chainId, requestId: "settle-37" },
        ),
      ).rejects.toMatchObject({ code: "REQUEST_ID_CONFLICT" });
    } finally {
      await store.close();
    }
  });
});

describe("x402 facilitator on the relayer", () => {
  it("a second payment signed with a spent nonce is never reported settled, whatever requirements it meets", async () => {
    const store = await pgliteStore();
    const signer = chain.account(26);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    const relayer = createRelayer({ chains: [relayerChain()], signers: { [base.chainId]: [signer] }, store });
    try {
      const facilitator = createFacilitator({ relayer, settleTimeoutMs: 20_000 });
      const payer = privateKeyToAccount(generatePrivateKey());
      const shop = privateKeyToAccount(generatePrivateKey()).address;
      await chain.token.mint(payer.address, 1_000_000n);
      const now = Number((await chain.dev.publicClient.getBlock()).timestamp);
      const nonce = keccak256(toHex(`twice-${Math.random()}`));
      const requirementsFor = (payTo: Hex, amount: string) => ({
        scheme: "exact",
        network: "eip155:8453",
        amount,
        asset: usdc.address,
        payTo,
        maxTimeoutSeconds: 300,
        extra: { name: "USD Coin", version: "2" },
      });
      const signed = async (to: Hex, value: bigint) => {
        const authorization = { from: payer.address, to, value, validAfter: 0n, validBefore: BigInt(now + 600), nonce };
        const signature = await signAuthorization(payer, tokenDomain(base.chainId, "USDC"), authorization);
        const requirements = requirementsFor(to, value.toString());
        return {
          requirements,
          payload: {
            x402Version: 2,
            accepted: requirements,
            payload: {
              authorization: {
                ...authorization,
                value: value.toString(),
                validAfter: "0",
                validBefore: String(now + 600),
              },
              signature,
            },
          },
        };
      };
      // A payment of 1 unit to the payer itself, settled first; then one of 250,000 to the shop with the same nonce.
      const cheap = await signed(payer.address, 1n);
      const dear = await signed(shop, 250_000n);
      expect(await facilitator.settle(cheap.payload, cheap.requirements)).toMatchObject({ success: true });
      const answer = await facilitator.settle(dear.payload, dear.requirements);
      expect(answer).toMatchObject({ success: false, errorReason: "invalid_exact_evm_nonce_already_used" });
      expect(await chain.token.balanceOf(shop)).toBe(0n);
    } finally {
      await store.close();
    }
  });
});

describe("usage batching", () => {
  const recorderRelayer = (store: Store, usage: { maxEntries: number; flushAfterMs: number }) =>
    createRelayer({
      chains: [relayerChain()],
      // The activation fixture names account 4 as every agreement's recorder.
      signers: { [base.chainId]: [chain.account(4)] },
      store,
      usage,
    });
  const activated = async (relayer: ReturnType<typeof createRelayer>, n: number) => {
    const bodies: Awaited<ReturnType<typeof chain.activationBody>>[] = [];
    for (let i = 0; i < n; i++) bodies.push(await chain.activationBody()); // mints one after another
    const jobs = await Promise.all(
      bodies.map((b, i) =>
        relayer.submitActivation(b.body, { requestId: `usage-${b.id}-${i}`, chainId: base.chainId }),
      ),
    );
    for (const job of jobs)
      expect((await relayer.waitFor(job.id, { timeoutMs: 20_000, pollMs: 50 })).status).toBe("active");
    return bodies.map((b) => agreementRef(b.terms, { chainId: base.chainId, escrow: chain.escrow }));
  };
  const waitSettled = async (relayer: ReturnType<typeof createRelayer>, id: string) => {
    for (let i = 0; i < 200; i++) {
      const entry = await relayer.getUsage(id);
      if (entry && entry.status !== "queued" && entry.status !== "batched") return entry;
      await relayer.tick();
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`usage entry ${id} never settled`);
  };
  const logRef = (s: string) => keccak256(toHex(s));

  it("flushes M entries as one recordUsageBatch; later entries of an agreement coalesce to the highest, a lower one is reported skipped", async () => {
    const store = await pgliteStore();
    await chain.rpc("anvil_setBalance", [chain.account(4).address, "0x3635C9ADC5DEA00000"]);
    const relayer = recorderRelayer(store, { maxEntries: 3, flushAfterMs: 600_000 });
    try {
      const [a, b, c] = await activated(relayer, 3);
      if (!a || !b || !c) throw new Error("three agreements");
      const before = await nonceOf(chain.account(4).address);
      const first = await relayer.recordUsage({
        chainId: base.chainId,
        agreementId: a.id,
        cumulativeUsage: 100n,
        logRef: logRef("a1"),
      });
      expect(first.outcome).toBe("queued");
      const raised = await relayer.recordUsage({
        chainId: base.chainId,
        agreementId: a.id,
        cumulativeUsage: 300n,
        logRef: logRef("a2"),
      });
      expect(raised).toMatchObject({ outcome: "coalesced", entry: { id: first.entry.id, cumulativeUsage: 300n } });
      const lower = await relayer.recordUsage({
        chainId: base.chainId,
        agreementId: a.id,
        cumulativeUsage: 200n,
        logRef: logRef("a3"),
      });
      expect(lower).toMatchObject({ outcome: "skipped", entry: { id: first.entry.id, cumulativeUsage: 300n } });
      await relayer.tick(); // one agreement queued: below M, not yet due
      expect((await relayer.getUsage(first.entry.id))?.status).toBe("queued");
      const second = await relayer.recordUsage({
        chainId: base.chainId,
        agreementId: b.id,
        cumulativeUsage: 500n,
        logRef: logRef("b1"),
      });
      const third = await relayer.recordUsage({
        chainId: base.chainId,
        agreementId: c.id,
        cumulativeUsage: 700n,
        logRef: logRef("c1"),
        complete: true,
      });
      const entries = await Promise.all([first, second, third].map((o) => waitSettled(relayer, o.entry.id)));
      expect(entries.map((e) => e.status)).toEqual(["recorded", "recorded", "recorded"]);
      expect(new Set(entries.map((e) => e.jobId)).size).toBe(1); // one batch
      expect((await nonceOf(chain.account(4).address)) - before).toBe(1); // one transaction
      const views = await Promise.all([a, b, c].map((ref) => readAgreement(chain.dev.publicClient, ref)));
      expect(views.map((v) => [v.status, v.recordedUsage])).toEqual([
        ["active", 300n],
        ["active", 500n],
        ["completed", 700n],
      ]);
    } finally {
      await store.close();
    }
  });

  it("flushes after T when fewer than M are queued; a batch refused for one entry sends each alone, and only that one fails", async () => {
    const store = await pgliteStore();
    const relayer = recorderRelayer(store, { maxEntries: 100, flushAfterMs: 300 });
    try {
      const [a, b] = await activated(relayer, 2);
      if (!a || !b) throw new Error("two agreements");
      const good = await relayer.recordUsage({
        chainId: base.chainId,
        agreementId: a.id,
        cumulativeUsage: 1_000n,
        logRef: logRef("g"),
      });
      // Above the deposit (10 USDC): the whole batch would revert.
      const bad = await relayer.recordUsage({
        chainId: base.chainId,
        agreementId: b.id,
        cumulativeUsage: 20_000_000n,
        logRef: logRef("x"),
      });
      await relayer.tick();
      expect((await relayer.getUsage(good.entry.id))?.status).toBe("queued"); // not yet T
      const [g, x] = await Promise.all([waitSettled(relayer, good.entry.id), waitSettled(relayer, bad.entry.id)]);
      expect(g.status).toBe("recorded");
      expect(x).toMatchObject({ status: "failed", reason: "reverted" });
      expect((await readAgreement(chain.dev.publicClient, a)).recordedUsage).toBe(1_000n);
      expect((await readAgreement(chain.dev.publicClient, b)).recordedUsage).toBe(0n);
      // An entry refused while alone in its batch is tried once more alone, then fails (never stuck).
      const lonely = await relayer.recordUsage({
        chainId: base.chainId,
        agreementId: a.id,
        cumulativeUsage: 50_000_000n,
        logRef: logRef("alone"),
      });
      expect(await waitSettled(relayer, lonely.entry.id)).toMatchObject({ status: "failed", reason: "reverted" });
      await expect(
        relayer.recordUsage({
          chainId: base.chainId,
          agreementId: a.id,
          cumulativeUsage: 1n,
          logRef: logRef("r"),
          recorder: chain.account(5).address,
        }),
      ).rejects.toMatchObject({ code: "RECORDER_NOT_SIGNER" });
    } finally {
      await store.close();
    }
  });
});

describe.each(STORES)("nonce gaps (%s)", (_store, openStore) => {
  it("a gap below the relayer's nonces (the counter was seeded past a dropped transaction) is filled with no-op self-sends", async () => {
    const store = await openStore();
    const signer = chain.account(23);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    const relayer = createRelayer({
      chains: [relayerChain({ rebroadcastMs: 200 })],
      signers: { [base.chainId]: [signer] },
      store,
    });
    try {
      await relayer.tick(); // takes the lease and seeds the counter from the chain
      const start = await nonceOf(signer.address);
      // As if the counter had been seeded while two transactions of someone else's were pending,
      // and the node then dropped them: nonces start and start + 1 belong to nobody.
      await store.query("UPDATE relayer_signers SET next_nonce = next_nonce + 2");
      const { body } = await chain.activationBody();
      const job = await relayer.submitActivation(body, { requestId: "gap", chainId: base.chainId });
      const done = await relayer.waitFor(job.id, { timeoutMs: 20_000, pollMs: 100 });
      expect(done.status).toBe("active");
      expect(await nonceOf(signer.address)).toBe(start + 3);
      const { rows } = await store.query<{ nonce: string; job_id: string | null; status: string; data: string }>(
        "SELECT nonce, job_id, status, data FROM relayer_txs ORDER BY nonce",
      );
      expect(rows.map((r) => [Number(r.nonce), r.job_id === null, r.status])).toEqual([
        [start, true, "confirmed"],
        [start + 1, true, "confirmed"],
        [start + 2, false, "confirmed"],
      ]);
      expect(rows.filter((r) => r.job_id === null).every((r) => r.data === "0x")).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe("retries", () => {
  it("a job that failed for a balance too low is retried when the client resubmits it, and activates once funded", async () => {
    const store = await pgliteStore();
    const signer = chain.account(22);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    const relayer = createRelayer({ chains: [relayerChain()], signers: { [base.chainId]: [signer] }, store });
    try {
      const { body, terms } = await chain.activationBody({ deposit: 5_000_000n });
      // The buyer spends its USDC elsewhere before the relayer gets to it.
      const buyerBalance = await chain.token.balanceOf(terms.buyer);
      const buyerWallet = await chain.dev.impersonate(terms.buyer);
      await buyerWallet.writeContract({
        address: terms.token,
        abi: fiatTokenAbi,
        functionName: "transfer",
        args: [chain.account(2).address, buyerBalance],
        account: terms.buyer,
        chain: buyerWallet.chain,
      });
      const first = await relayer.submitActivation(body, { requestId: "poor", chainId: base.chainId });
      const failed = await relayer.waitFor(first.id, { timeoutMs: 10_000 });
      expect(failed).toMatchObject({ status: "failed", reason: "balance_too_low", txHash: null });
      // Funded again, the client retries the same request: the same job, back in the queue.
      await chain.token.mint(terms.buyer, 5_000_000n);
      const retried = await relayer.submitActivation(body, { requestId: "poor", chainId: base.chainId });
      expect(retried).toMatchObject({ id: first.id, status: "submitting" });
      expect((await relayer.waitFor(first.id, { timeoutMs: 10_000 })).status).toBe("active");
    } finally {
      await store.close();
    }
  });
});
