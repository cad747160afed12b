// Metered proxy overhead (not a test): the same upstream call on loopback, made directly and
// through the platform's metered proxy (signed request verified, session and replay checks,
// metering in the store, usage queued for the relayer's batching), one at a time. The proxied
// calls are signed beforehand, so the figure is the platform's own cost. Anvil with Circle's real
// FiatToken, the relayer and the platform on the embedded store. Writes bench/proxy-report.json.
// Run: npm run bench:proxy (BENCH_N calls each way).
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createPublicClient, http } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createPlatformService, migratePlatform } from "../src/platform/index.ts";
import { createRelayer, pgliteStore } from "../src/relayer/index.ts";
import { serveRelayerService } from "../src/service/index.ts";
import { agreementStatus, platformAgent, proposeAndActivate } from "../test/support/platform-agents.ts";
import { base, startRelayerChain } from "../test/support/relayer-chain.ts";

const N = Number(process.env.BENCH_N ?? 500);
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const stats = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    n: ms.length,
    p50Ms: Number(percentile(sorted, 50).toFixed(2)),
    p99Ms: Number(percentile(sorted, 99).toFixed(2)),
  };
};

const upstream = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.setHeader("content-type", "application/json");
    res.end('{"ok":true}');
  });
});
await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
const chain = await startRelayerChain();
const store = await pgliteStore();
await migratePlatform(store);
const signer = chain.account(50);
await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]); // gas for the relayer
const relayer = createRelayer({
  chains: [{ chainId: base.chainId, client: createPublicClient({ transport: http(chain.url) }), escrow: chain.escrow }],
  signers: { [base.chainId]: [signer] },
  store,
  pollMs: 50,
  usage: { maxEntries: 100, flushAfterMs: 1_000 },
});
relayer.start();
const platform = chain.account(1).address;
const served = await serveRelayerService(
  createPlatformService({ relayer, store, terms: { feeRecipient: platform, arbiter: platform } }),
);
try {
  const seller = platformAgent(served.url, privateKeyToAccount(generatePrivateKey()));
  const buyer = platformAgent(served.url, privateKeyToAccount(generatePrivateKey()));
  await chain.token.mint(buyer.address, 100_000_000n);
  const registered = await seller.call("POST", "/agents/services", "register_service", "-", {
    name: "Bench",
    description: "Echo",
    tags: ["bench"],
    unit_price: "1",
    unit: "call",
    chains: [base.chainId],
    tokens: ["USDC"],
    seller_wallet: seller.address,
    upstream_url: upstreamUrl,
  });
  const { service_id } = (await registered.json()) as { service_id: string };
  const { id } = await proposeAndActivate({
    url: served.url,
    chain,
    seller,
    buyer,
    serviceId: service_id,
    deposit: 100_000_000n,
  });
  const activated = await agreementStatus(served.url, id, (x) => x === "active" || x === "failed");
  if (activated.status !== "active") throw new Error(`the agreement is ${JSON.stringify(activated)}`);

  const body = { q: "hello" };
  const direct: number[] = [];
  const proxied: number[] = [];
  const headers = await Promise.all(Array.from({ length: N + 20 }, () => buyer.headersFor("proxy", id, body)));
  for (let i = 0; i < N + 20; i++) {
    // Interleaved, after 20 warm-up calls each way.
    let t0 = performance.now();
    const d = await fetch(`${upstreamUrl}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    await d.text();
    if (i >= 20) direct.push(performance.now() - t0);
    t0 = performance.now();
    const p = await fetch(`${served.url}/metered-proxy/${id}/echo`, {
      method: "POST",
      headers: headers[i],
      body: JSON.stringify(body),
    });
    await p.text();
    if (p.status !== 200) throw new Error(`proxied call answered ${p.status}`);
    if (i >= 20) proxied.push(performance.now() - t0);
  }
  const d = stats(direct);
  const p = stats(proxied);
  const report = {
    transport: "loopback HTTP, one call at a time",
    store: "embedded (PGlite, in memory)",
    direct: d,
    proxied: p,
    overhead: { p50Ms: Number((p.p50Ms - d.p50Ms).toFixed(2)), p99Ms: Number((p.p99Ms - d.p99Ms).toFixed(2)) },
    target: "p50 overhead under 5 ms",
  };
  writeFileSync(new URL("./proxy-report.json", import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
} finally {
  await served.close();
  await relayer.stop();
  await store.close();
  await chain.stop();
  upstream.close();
}
