// Relayer benchmark (not a test): activations per second and submit-to-active latency on anvil
// with Circle's real FiatToken, through the relayer on the embedded store and on PostgreSQL, next
// to the floor: a bare viem sender with explicit nonces sending the same kind of transactions.
// Every configuration runs BENCH_ROUNDS times (default 3) after a warm-up; the report gives each
// round and the median, and the floor is the faster bare sender (plain HTTP or JSON-RPC batches).
// Writes bench/relayer-report.json. Run: npm run bench:relayer (BENCH_N activations per run).
import { writeFileSync } from "node:fs";
import { createPublicClient, encodeFunctionData, type Hex, http } from "viem";
import { getTransactionCount, waitForTransactionReceipt } from "viem/actions";
import { agentEscrowAbi } from "../src/abi/index.ts";
import { decodeTerms, encodeActivation } from "../src/eip712/index.ts";
import { createRelayer, type Job, pgliteStore, postgresStore, type Store } from "../src/relayer/index.ts";
import { base, startRelayerChain } from "../test/support/relayer-chain.ts";

const N = Number(process.env.BENCH_N ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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

// A fresh chain for every round: each round starts from the same state.
let chain = await startRelayerChain();
try {
  const bodies = async (n: number) => {
    const out: { body: unknown }[] = [];
    for (let i = 0; i < n; i++) out.push(await chain.activationBody({ deposit: 1_000_000n }));
    return out;
  };
  const runs: Run[] = [];

  // --- floor: a bare sender, explicit nonces, everything in flight at once ------------------
  const bareRun = async (name: string, batch: boolean, n: number, senderIndex: number) => {
    const sender = chain.account(senderIndex);
    await chain.rpc("anvil_setBalance", [sender.address, "0x3635C9ADC5DEA00000"]);
    const client = createPublicClient({ transport: http(chain.url, { batch }), cacheTime: 0, pollingInterval: 20 });
    const prepared = (await bodies(n)).map(({ body }) => {
      const b = body as {
        terms: Hex;
        fundingAuthorization: { validAfter: string; validBefore: string; signature: Hex };
      };
      return encodeFunctionData({
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
        // A node may drop a transaction that arrived ahead of its nonce: send the same bytes
        // again after 2 s without a receipt.
        let receipt: Awaited<ReturnType<typeof waitForTransactionReceipt>> | undefined;
        for (let tries = 0; !receipt; tries++) {
          if (tries === 30) {
            const latest = await getTransactionCount(client, { address: sender.address });
            const pending = await getTransactionCount(client, { address: sender.address, blockTag: "pending" });
            const status = await chain.rpc("txpool_status", []);
            const byHash = await client.request({ method: "eth_getTransactionByHash", params: [hash] });
            throw new Error(
              `bare activation ${i} (nonce ${start + i}) never mined: latest ${latest} pending ${pending} pool ${JSON.stringify(status)} tx ${JSON.stringify(byHash)?.slice(0, 200)}`,
            );
          }
          receipt = await waitForTransactionReceipt(client, { hash, pollingInterval: 20, timeout: 2_000 }).catch(
            async () => {
              await client.request({ method: "eth_sendRawTransaction", params: [raw] }).catch(() => undefined);
              return undefined;
            },
          );
        }
        if (receipt.status !== "success") throw new Error(`bare activation ${i} reverted`);
        return performance.now() - sent;
      }),
    );
    return summarize(name, (performance.now() - t0) / 1000, latencies);
  };

  // --- the relayer, on each store -----------------------------------------------------------
  const relayerRun = async (name: string, store: Store, signerIndex: number): Promise<Run> => {
    const signer = chain.account(signerIndex);
    await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
    const submitted = new Map<string, number>();
    const done = new Map<string, number>();
    const relayer = createRelayer({
      chains: [
        {
          chainId: base.chainId,
          // JSON-RPC batches: the reads and simulations of a pass travel together.
          client: createPublicClient({
            transport: http(chain.url, { batch: true }),
            cacheTime: 0,
            pollingInterval: 20,
          }),
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
    await store.close();
    return summarize(name, seconds, latencies);
  };
  const postgresRun = async (name: string, signerIndex: number): Promise<Run> => {
    const { default: pg } = await import("pg");
    const schema = `relayer_bench_${Date.now()}`;
    const admin = new pg.Pool({ connectionString: PG_URL });
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      return await relayerRun(
        name,
        await postgresStore({ connectionString: `${PG_URL}?options=-c%20search_path%3D${schema}` }),
        signerIndex,
      );
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  };

  const configs: { name: string; floor: boolean; run: (round: number) => Promise<Run> }[] = [
    { name: "bare sender (viem, explicit nonces)", floor: true, run: (r) => bareRun("bare", false, N, 30 + r * 10) },
    { name: "bare sender, JSON-RPC batches", floor: true, run: (r) => bareRun("bare-batch", true, N, 31 + r * 10) },
    {
      name: "relayer, embedded store (PGlite)",
      floor: false,
      run: async (r) => relayerRun(`pglite-${r}`, await pgliteStore(), 32 + r * 10),
    },
    { name: "relayer, PostgreSQL", floor: false, run: (r) => postgresRun(`postgres-${r}`, 33 + r * 10) },
  ];
  const rounds = new Map<string, Run[]>(configs.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) {
      await chain.stop();
      chain = await startRelayerChain();
    }
    // Warm-up (node and anvil), not reported.
    await bareRun("warm-up", false, 50, 29);
    await relayerRun("warm-up", await pgliteStore(), 28);
    // The order rotates, so that no configuration always runs first on a fresh chain.
    for (const config of [...configs.slice(round % configs.length), ...configs.slice(0, round % configs.length)]) {
      const result = await config.run(round);
      rounds.get(config.name)?.push(result);
      console.log(`round ${round + 1}: ${config.name}: ${result.perSecond} activations/s`);
    }
  }
  // The median round of each configuration (by throughput).
  for (const config of configs) {
    const sorted = [...(rounds.get(config.name) ?? [])].sort((a, b) => a.perSecond - b.perSecond);
    const median = sorted[Math.floor(sorted.length / 2)];
    if (median) runs.push({ ...median, name: config.name });
  }
  const floor = Math.max(...runs.filter((r) => r.name.startsWith("bare")).map((r) => r.perSecond));
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
    `${JSON.stringify({ chain: "anvil (chain id 8453), automine", token: "USDC (FiatToken v2.2)", activations: N, target: "relayer >= 70% of the bare sender's throughput", rounds: ROUNDS, floor: "the faster bare sender (median round)", runs: runs.map((r) => ({ ...r, ofFloor: Number((r.perSecond / floor).toFixed(3)), rounds: (rounds.get(r.name) ?? []).map((x) => x.perSecond) })) }, null, 2)}\n`,
  );
  console.log(`\nwrote ${out}`);
} finally {
  await chain.stop();
}
