// Relayer benchmark (not a test): activations per second and submit-to-active latency on anvil
// with Circle's real FiatToken, through the relayer on the embedded store and on PostgreSQL, next
// to the floor: a bare viem sender with explicit nonces sending the same kind of transactions.
// Writes bench/relayer-report.json. Run: npm run bench:relayer (BENCH_N activations per run).
import { writeFileSync } from "node:fs";
import { createPublicClient, encodeFunctionData, type Hex, http } from "viem";
import { getTransactionCount, waitForTransactionReceipt } from "viem/actions";
import { agentEscrowAbi } from "../src/abi/index.ts";
import { decodeTerms, encodeActivation } from "../src/eip712/index.ts";
import { createRelayer, type Job, pgliteStore, postgresStore, type Store } from "../src/relayer/index.ts";
import { base, startRelayerChain } from "../test/support/relayer-chain.ts";

const N = Number(process.env.BENCH_N ?? 300);
const PG_URL = process.env.RELAYER_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

type Run = { name: string; n: number; seconds: number; perSecond: number; p50Ms: number; p95Ms: number; p99Ms: number };
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const summarize = (name: string, seconds: number, latencies: number[]): Run => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    name,
    n: latencies.length,
    seconds: Number(seconds.toFixed(2)),
    perSecond: Number((latencies.length / seconds).toFixed(1)),
    p50Ms: Math.round(percentile(sorted, 50)),
    p95Ms: Math.round(percentile(sorted, 95)),
    p99Ms: Math.round(percentile(sorted, 99)),
  };
};

const chain = await startRelayerChain();
try {
  const bodies = async (n: number) => {
    const out: { body: unknown }[] = [];
    for (let i = 0; i < n; i++) out.push(await chain.activationBody({ deposit: 1_000_000n }));
    return out;
  };
  const runs: Run[] = [];

  // --- floor: a bare sender, explicit nonces, everything in flight at once ------------------
  {
    const sender = chain.account(30);
    await chain.rpc("anvil_setBalance", [sender.address, "0x3635C9ADC5DEA00000"]);
    const client = createPublicClient({ transport: http(chain.url), cacheTime: 0, pollingInterval: 20 });
    const prepared = (await bodies(N)).map(({ body }) => {
      const b = body as {
        terms: Hex;
        fundingAuthorization: { validAfter: string; validBefore: string; signature: Hex };
      };
      const data = encodeFunctionData({
        abi: agentEscrowAbi,
        functionName: "activate",
        args: [
          encodeActivation(decodeTerms(b.terms), {
            validAfter: BigInt(b.fundingAuthorization.validAfter),
            validBefore: BigInt(b.fundingAuthorization.validBefore),
            signature: b.fundingAuthorization.signature,
          }),
        ],
      });
      return data;
    });
    const start = await getTransactionCount(client, { address: sender.address, blockTag: "pending" });
    const t0 = performance.now();
    const latencies = await Promise.all(
      prepared.map(async (data, i) => {
        const sent = performance.now();
        const raw = await sender.signTransaction({
          type: "eip1559",
          chainId: base.chainId,
          nonce: start + i,
          to: chain.escrow,
          data,
          gas: 200_000n,
          maxFeePerGas: 20_000_000_000n,
          maxPriorityFeePerGas: 1_000_000_000n,
        });
        const hash = await client.request({ method: "eth_sendRawTransaction", params: [raw] });
        const receipt = await waitForTransactionReceipt(client, { hash, pollingInterval: 20 });
        if (receipt.status !== "success") throw new Error(`bare activation ${i} reverted`);
        return performance.now() - sent;
      }),
    );
    runs.push(summarize("bare sender (viem, explicit nonces)", (performance.now() - t0) / 1000, latencies));
  }

  // --- the relayer, on each store -----------------------------------------------------------
  const relayerRun = async (name: string, store: Store, signerIndex: number) => {
    const signer = chain.account(signerIndex);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    const submitted = new Map<string, number>();
    const done = new Map<string, number>();
    const relayer = createRelayer({
      chains: [
        {
          chainId: base.chainId,
          client: createPublicClient({ transport: http(chain.url), cacheTime: 0, pollingInterval: 20 }),
          escrow: chain.escrow,
        },
      ],
      signers: { [base.chainId]: [signer] },
      store,
      pollMs: 5,
      onStatusChange: (job: Job) => {
        if (job.status !== "submitting" && !done.has(job.id)) done.set(job.id, performance.now());
      },
    });
    const prepared = await bodies(N);
    relayer.start();
    const t0 = performance.now();
    const jobs = await Promise.all(
      prepared.map(async ({ body }, i) => {
        const at = performance.now();
        const job = await relayer.submitActivation(body, { requestId: `${name}-${i}`, chainId: base.chainId });
        submitted.set(job.id, at);
        return job;
      }),
    );
    // Completion is observed through the status hook (polling every job would load the store).
    while (done.size < jobs.length) await new Promise((r) => setTimeout(r, 10));
    const finished = await Promise.all(jobs.map((j) => relayer.waitFor(j.id, { timeoutMs: 1_000 })));
    const seconds = (performance.now() - t0) / 1000;
    await relayer.stop();
    const failed = finished.filter((j) => j.status !== "active");
    if (failed.length > 0) throw new Error(`${failed.length} activations did not end active`);
    const latencies = jobs.map((j) => (done.get(j.id) ?? performance.now()) - (submitted.get(j.id) ?? t0));
    runs.push(summarize(name, seconds, latencies));
    await store.close();
  };
  await relayerRun("relayer, embedded store (PGlite)", await pgliteStore(), 31);
  {
    const { default: pg } = await import("pg");
    const schema = `relayer_bench_${Date.now()}`;
    const admin = new pg.Pool({ connectionString: PG_URL });
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      await relayerRun(
        "relayer, PostgreSQL",
        await postgresStore({ connectionString: `${PG_URL}?options=-c%20search_path%3D${schema}` }),
        32,
      );
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  }

  const floor = runs[0]?.perSecond ?? 1;
  console.log(
    `\n${"run".padEnd(40)} ${"n".padStart(5)} ${"s".padStart(7)} ${"tx/s".padStart(7)} ${"p50".padStart(6)} ${"p95".padStart(6)} ${"p99".padStart(6)}  of floor`,
  );
  for (const r of runs) {
    console.log(
      `${r.name.padEnd(40)} ${String(r.n).padStart(5)} ${String(r.seconds).padStart(7)} ${String(r.perSecond).padStart(7)} ${String(r.p50Ms).padStart(6)} ${String(r.p95Ms).padStart(6)} ${String(r.p99Ms).padStart(6)}  ${((r.perSecond / floor) * 100).toFixed(0)}%`,
    );
  }
  const out = process.env.RELAYER_REPORT ?? "bench/relayer-report.json";
  writeFileSync(
    out,
    `${JSON.stringify({ chain: "anvil (chain id 8453), automine", token: "USDC (FiatToken v2.2)", activations: N, target: "relayer >= 70% of the bare sender's throughput", runs: runs.map((r) => ({ ...r, ofFloor: Number((r.perSecond / floor).toFixed(3)) })) }, null, 2)}\n`,
  );
  console.log(`\nwrote ${out}`);
} finally {
  await chain.stop();
}
