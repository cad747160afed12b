// Automatic settlement on anvil with Circle's real FiatToken: the scanner settles agreements past
// their challenge window, completes those past their service expiry, and a final voucher closes
// one cooperatively; two instances on PostgreSQL settle each agreement exactly once.
import { createPublicClient, type Hex, http, keccak256, type LocalAccount, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAgreement, readWithdrawable } from "../src/actions/index.ts";
import { signFinalVoucher } from "../src/client/index.ts";
import { type AgreementRef, agreementRef, type Terms } from "../src/eip712/index.ts";
import { settlementFee } from "../src/fees.ts";
import { createRelayer, pgliteStore, postgresStore, type Relayer, type Store } from "../src/relayer/index.ts";
import { base, type RelayerChainFixture, startRelayerChain } from "./support/relayer-chain.ts";

const PG_URL = process.env.RELAYER_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

let chain: RelayerChainFixture;
beforeAll(async () => {
  chain = await startRelayerChain();
});
afterAll(async () => chain?.stop());

const recorder = () => chain.account(4); // the activation fixture names account 4 as recorder

const relayerOn = (store: Store, instanceId = "settler", extraSigners: LocalAccount[] = []) =>
  createRelayer({
    chains: [
      {
        chainId: base.chainId,
        client: createPublicClient({ transport: http(chain.url), cacheTime: 0, pollingInterval: 20 }),
        escrow: chain.escrow,
        rebroadcastMs: 0,
      },
    ],
    signers: { [base.chainId]: [recorder(), ...extraSigners] },
    store,
    instanceId,
    pollMs: 50,
    usage: { maxEntries: 50, flushAfterMs: 100 },
    settlement: { intervalMs: 200 },
  });

/** Agreements activated through `relayer`, one after another (each mints for its buyer). */
async function activate(relayer: Relayer, n: number): Promise<{ terms: Terms; ref: AgreementRef; buyer: Hex }[]> {
  const out: { terms: Terms; ref: AgreementRef; buyer: Hex }[] = [];
  for (let i = 0; i < n; i++) {
    const { body, terms } = await chain.activationBody();
    const job = await relayer.submitActivation(body, { requestId: `settle-test-${terms.salt}`, chainId: base.chainId });
    expect((await relayer.waitFor(job.id, { timeoutMs: 20_000, pollMs: 50 })).status).toBe("active");
    out.push({ terms, ref: agreementRef(terms, { chainId: base.chainId, escrow: chain.escrow }), buyer: terms.buyer });
  }
  return out;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Move the chain's clock forward and mine a block. */
async function advance(seconds: number) {
  await chain.rpc("evm_increaseTime", [seconds]);
  await chain.rpc("evm_mine");
}

describe("settlement scanner (embedded store)", () => {
  it("settles an agreement after its challenge window, and completes then settles one past its service expiry", async () => {
    await chain.rpc("anvil_setBalance", [recorder().address, "0x3635C9ADC5DEA00000"]);
    const store = await pgliteStore();
    const relayer = relayerOn(store);
    relayer.start();
    try {
      const [used, idle] = await activate(relayer, 2);
      if (!used || !idle) throw new Error("two agreements");
      const sellerBefore = await chain.token.balanceOf(used.terms.seller);
      // Usage ends on the first: recorded with completion through the relayer's batching.
      const { entry } = await relayer.recordUsage({
        chainId: base.chainId,
        agreementId: used.ref.id,
        cumulativeUsage: 4_000_000n,
        logRef: keccak256(toHex("final usage")),
        complete: true,
      });
      await until(
        () => relayer.getUsage(entry.id),
        (e) => e?.status === "recorded",
        "the usage entry",
      );
      expect((await readAgreement(chain.dev.publicClient, used.ref)).status).toBe("completed");
      // Not before the challenge window ends.
      await new Promise((r) => setTimeout(r, 500));
      expect((await readAgreement(chain.dev.publicClient, used.ref)).status).toBe("completed");
      // Past the window (3,600 s): the scanner settles it. Past the service expiry (86,400 s) as
      // well: the idle one is completed by the scanner, then settled after its own window.
      await advance(86_400 + 60);
      await until(
        () => readAgreement(chain.dev.publicClient, used.ref),
        (v) => v.status === "settled",
        "settlement",
      );
      const fee = settlementFee(4_000_000n, used.terms);
      expect((await chain.token.balanceOf(used.terms.seller)) - sellerBefore).toBe(4_000_000n - fee);
      expect(await chain.token.balanceOf(used.buyer)).toBe(used.terms.deposit - 4_000_000n);
      await until(
        () => readAgreement(chain.dev.publicClient, idle.ref),
        (v) => v.status === "completed",
        "completion",
      );
      await advance(3_600 + 60);
      await until(
        () => readAgreement(chain.dev.publicClient, idle.ref),
        (v) => v.status === "settled",
        "settlement",
      );
      expect(await chain.token.balanceOf(idle.buyer)).toBe(idle.terms.deposit); // no usage: all refunded
      const kinds = await until(
        () =>
          store.query<{ kind: string; status: string }>(
            "SELECT kind, status FROM relayer_jobs WHERE kind IN ('settlement', 'completion') ORDER BY created_at",
          ),
        (r) => r.rows.every((x) => x.status !== "submitting"),
        "confirmations",
      );
      expect(kinds.rows).toEqual([
        { kind: "settlement", status: "active" },
        { kind: "completion", status: "active" },
        { kind: "settlement", status: "active" },
      ]);
    } finally {
      await relayer.stop();
      await store.close();
    }
  });

  it("closes cooperatively under the buyer's final voucher, sent by the recorder; the fee recipient's deferred payout is withdrawn when asked", async () => {
    const store = await pgliteStore();
    // The fixture's fee recipient (account 3) sends here too, so its credited fees can be withdrawn.
    const feeRecipient = chain.account(3);
    const relayer = relayerOn(store, "settler", [feeRecipient]);
    relayer.start();
    try {
      // A fresh buyer key signs the voucher: the fixture's buyer key is not exposed, so sign with
      // an agreement whose buyer we hold.
      const buyer = privateKeyToAccount(generatePrivateKey());
      const { body, terms } = await chain.activationBody({ buyer });
      const job = await relayer.submitActivation(body, { requestId: `close-${terms.salt}`, chainId: base.chainId });
      expect((await relayer.waitFor(job.id, { timeoutMs: 20_000, pollMs: 50 })).status).toBe("active");
      const ref = agreementRef(terms, { chainId: base.chainId, escrow: chain.escrow });
      const now = Number((await chain.dev.publicClient.getBlock()).timestamp);
      const signature = await signFinalVoucher(buyer, ref, 2_500_000n, now + 600);
      const close = await relayer.submitFinalVoucher({
        chainId: base.chainId,
        agreementId: ref.id,
        usage: 2_500_000n,
        deadline: now + 600,
        signature,
      });
      expect((await relayer.waitFor(close.id, { timeoutMs: 20_000, pollMs: 50 })).status).toBe("confirmed");
      expect((await readAgreement(chain.dev.publicClient, ref)).status).toBe("settled");
      expect(await chain.token.balanceOf(buyer.address)).toBe(terms.deposit - 2_500_000n);
      // The same voucher again is the same job.
      const again = await relayer.submitFinalVoucher({
        chainId: base.chainId,
        agreementId: ref.id,
        usage: 2_500_000n,
        deadline: now + 600,
        signature,
      });
      expect(again.id).toBe(close.id);
      // The settlement fee is credited to the fee recipient's withdrawable balance: withdrawn on request.
      const fee = settlementFee(2_500_000n, terms);
      const owed = await readWithdrawable(chain.dev.publicClient, chain.escrow, terms.token, feeRecipient.address);
      expect(owed).toBeGreaterThanOrEqual(fee);
      const to = privateKeyToAccount(generatePrivateKey()).address;
      const payout = await relayer.retryPayout({
        chainId: base.chainId,
        token: terms.token,
        owner: feeRecipient.address,
        to,
      });
      expect((await relayer.waitFor(payout.id, { timeoutMs: 20_000, pollMs: 50 })).status).toBe("confirmed");
      expect(await chain.token.balanceOf(to)).toBe(owed);
      expect(await readWithdrawable(chain.dev.publicClient, chain.escrow, terms.token, feeRecipient.address)).toBe(0n);
      // Nothing left: refused before anything is sent.
      const empty = await relayer.retryPayout({
        chainId: base.chainId,
        token: terms.token,
        owner: feeRecipient.address,
      });
      expect(await relayer.waitFor(empty.id, { timeoutMs: 20_000, pollMs: 50 })).toMatchObject({
        status: "failed",
        txHash: null,
      });
      await expect(relayer.retryPayout({ chainId: base.chainId, token: terms.token, owner: to })).rejects.toMatchObject(
        { code: "RECORDER_NOT_SIGNER" },
      );
    } finally {
      await relayer.stop();
      await store.close();
    }
  });
});

describe("settlement scanner, two instances on PostgreSQL", () => {
  it("settles each agreement exactly once", async () => {
    const { default: pg } = await import("pg");
    const schema = `relayer_settle_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    const admin = new pg.Pool({ connectionString: PG_URL });
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = `${PG_URL}?options=-c%20search_path%3D${schema}`;
    const stores = [await postgresStore({ connectionString: url }), await postgresStore({ connectionString: url })];
    const [one, two] = stores.map((s, i) => relayerOn(s, `settler-${i}`));
    if (!one || !two) throw new Error("two relayers");
    try {
      const agreements = await activate(one, 4);
      for (const a of agreements) {
        await one.recordUsage({
          chainId: base.chainId,
          agreementId: a.ref.id,
          cumulativeUsage: 1_000_000n,
          logRef: keccak256(toHex(a.ref.id)),
          complete: true,
        });
      }
      one.start();
      two.start();
      for (const a of agreements) {
        await until(
          () => readAgreement(chain.dev.publicClient, a.ref),
          (v) => v.status === "completed",
          "completion",
        );
      }
      await advance(3_600 + 60);
      for (const a of agreements) {
        await until(
          () => readAgreement(chain.dev.publicClient, a.ref),
          (v) => v.status === "settled",
          "settlement",
        );
      }
      // Mined on chain; confirmed in the store by the next pass of whichever instance holds the lease.
      const settlementJobs = async () =>
        (
          await admin.query<{ status: string; n: string }>(
            `SELECT status, count(*) AS n FROM ${schema}.relayer_jobs WHERE kind = 'settlement' GROUP BY status`,
          )
        ).rows;
      const rows = await until(settlementJobs, (r) => r.every((x) => x.status !== "submitting"), "confirmation");
      expect(rows).toEqual([{ status: "active", n: "4" }]);
      const { rows: txs } = await admin.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${schema}.relayer_txs t JOIN ${schema}.relayer_jobs j ON j.id = t.job_id WHERE j.kind = 'settlement'`,
      );
      expect(txs[0]?.n).toBe("4");
    } finally {
      await Promise.all([one.stop(), two.stop()]);
      await Promise.all(stores.map((s) => s.close()));
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });
});
