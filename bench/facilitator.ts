// Facilitator and usage-batching benchmark (not a test), on anvil (automine) with Circle's real
// FiatToken, the relayer on the embedded store:
// - x402 facilitator `verify` latency (all checks, chain reads and the simulation; nothing sent);
// - `settle` latency (verify, the durable pipeline, confirmation at depth 1), one payment at a time;
// - usage batching: entries recorded on chain per second, from queueing one entry per agreement
//   to every entry `recorded`, flushed at M entries per `recordUsageBatch`.
// Writes bench/facilitator-report.json. Run: npm run bench:facilitator (BENCH_N payments,
// BENCH_AGREEMENTS agreements).
import { writeFileSync } from "node:fs";
import { createPublicClient, http, keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { formatCaip2, tokenDomain } from "../src/chains/index.ts";
import { signAuthorization } from "../src/eip712/index.ts";
import { createFacilitator, createRelayer, pgliteStore } from "../src/relayer/index.ts";
import type { PaymentRequirements } from "../src/wire/index.ts";
import { base, startRelayerChain, usdc } from "../test/support/relayer-chain.ts";

const N = Number(process.env.BENCH_N ?? 200);
const AGREEMENTS = Number(process.env.BENCH_AGREEMENTS ?? 200);
const BATCH = 50;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const latency = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    n: ms.length,
    p50Ms: Number(percentile(sorted, 50).toFixed(1)),
    p99Ms: Number(percentile(sorted, 99).toFixed(1)),
    meanMs: Number((ms.reduce((a, b) => a + b, 0) / ms.length).toFixed(1)),
  };
};

const chain = await startRelayerChain();
const store = await pgliteStore();
try {
  const recorder = chain.account(4); // the activation fixture's recorder
  const relayer = createRelayer({
    chains: [
      {
        chainId: base.chainId,
        client: createPublicClient({ transport: http(chain.url, { batch: true }), cacheTime: 0, pollingInterval: 20 }),
        escrow: chain.escrow,
        rebroadcastMs: 2_000,
      },
    ],
    signers: { [base.chainId]: [recorder] },
    store,
    pollMs: 20,
    usage: { maxEntries: BATCH, flushAfterMs: 100 },
  });
  relayer.start();
  const facilitator = createFacilitator({ relayer, settleTimeoutMs: 30_000 });

  // Payments: one payer per payment (each its own balance), all to one payee.
  const payee = privateKeyToAccount(generatePrivateKey()).address;
  const requirements: PaymentRequirements = {
    scheme: "exact",
    network: formatCaip2(base.chainId),
    amount: "250000",
    asset: usdc.address,
    payTo: payee,
    maxTimeoutSeconds: 300,
    extra: { name: usdc.domain.name, version: usdc.domain.version },
  };
  const payments = [];
  const now = Number((await chain.dev.publicClient.getBlock()).timestamp);
  for (let i = 0; i < N; i++) {
    const payer = privateKeyToAccount(generatePrivateKey());
    await chain.token.mint(payer.address, 250_000n);
    const authorization = {
      from: payer.address,
      to: payee,
      value: 250_000n,
      validAfter: 0n,
      validBefore: BigInt(now + 3_600),
      nonce: keccak256(toHex(`bench-${i}-${Math.random()}`)),
    };
    const signature = await signAuthorization(payer, tokenDomain(base.chainId, "USDC"), authorization);
    payments.push({
      x402Version: 2,
      accepted: requirements,
      payload: {
        authorization: {
          ...authorization,
          value: "250000",
          validAfter: "0",
          validBefore: authorization.validBefore.toString(),
        },
        signature,
      },
    });
  }

  const verifyMs: number[] = [];
  for (const payment of payments) {
    const t0 = performance.now();
    const verdict = await facilitator.verify(payment, requirements);
    verifyMs.push(performance.now() - t0);
    if (!verdict.isValid) throw new Error(`a valid payment did not verify: ${verdict.invalidReason}`);
  }
  const settleMs: number[] = [];
  for (const payment of payments) {
    const t0 = performance.now();
    const settled = await facilitator.settle(payment, requirements);
    settleMs.push(performance.now() - t0);
    if (!settled.success) throw new Error(`settle failed: ${settled.errorReason}`);
  }

  // Usage: one agreement per entry, activated first.
  const agreements: `0x${string}`[] = [];
  const activations = [];
  for (let i = 0; i < AGREEMENTS; i++) {
    const { body, id } = await chain.activationBody({ deposit: 1_000_000n });
    activations.push(await relayer.submitActivation(body, { requestId: `bench-usage-${id}`, chainId: base.chainId }));
    agreements.push(id);
  }
  for (const job of activations) await relayer.waitFor(job.id, { timeoutMs: 120_000, pollMs: 20 });
  const t0 = performance.now();
  const queued = await Promise.all(
    agreements.map((agreementId, i) =>
      relayer.recordUsage({
        chainId: base.chainId,
        agreementId,
        cumulativeUsage: 1_000n + BigInt(i),
        logRef: keccak256(toHex(`log-${i}`)),
      }),
    ),
  );
  for (;;) {
    const entries = await Promise.all(queued.map((q) => relayer.getUsage(q.entry.id)));
    if (entries.every((e) => e?.status === "recorded")) break;
    if (entries.some((e) => e?.status === "failed" || e?.status === "skipped"))
      throw new Error("an entry did not record");
    await new Promise((r) => setTimeout(r, 20));
  }
  const usageSeconds = (performance.now() - t0) / 1000;
  const jobs = new Set((await Promise.all(queued.map((q) => relayer.getUsage(q.entry.id)))).map((e) => e?.jobId));
  await relayer.stop();

  const report = {
    chain: "anvil (chain id 8453), automine",
    token: "USDC (FiatToken v2.2)",
    store: "embedded (PGlite, in memory)",
    verify: latency(verifyMs),
    settle: { ...latency(settleMs), note: "one payment at a time, verify + pipeline + confirmation at depth 1" },
    usageBatching: {
      entries: AGREEMENTS,
      maxEntriesPerBatch: BATCH,
      batches: jobs.size,
      seconds: Number(usageSeconds.toFixed(2)),
      entriesPerSecond: Number((AGREEMENTS / usageSeconds).toFixed(1)),
    },
  };
  writeFileSync(new URL("./facilitator-report.json", import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
} finally {
  await store.close();
  await chain.stop();
}
