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
import { signActivation, verifyActivationPackage } from "../src/client/index.ts";
import { signRuntimeCall } from "../src/credits/index.ts";
import { createPlatformService, migratePlatform, SIGNED_HEADERS } from "../src/platform/index.ts";
import { createRelayer, pgliteStore } from "../src/relayer/index.ts";
import { serveRelayerService } from "../src/service/index.ts";
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
  const seller = privateKeyToAccount(generatePrivateKey());
  const buyer = privateKeyToAccount(generatePrivateKey());
  await chain.token.mint(buyer.address, 100_000_000n);
  const session = async (wallet: string) =>
    (
      (await (
        await fetch(`${served.url}/api/external/auth/session`, {
          method: "POST",
          body: JSON.stringify({ wallet_address: wallet }),
        })
      ).json()) as { session_nonce: string }
    ).session_nonce;
  let n = 0;
  const signed = async (account: typeof buyer, nonce: string, action: string, product: string, body: unknown) => {
    const requestId = `bench-${n++}`;
    const { signature } = await signRuntimeCall(account, {
      wallet: account.address,
      sessionNonce: nonce,
      requestId,
      action,
      productId: product,
      parameters: body,
    });
    return {
      "content-type": "application/json",
      [SIGNED_HEADERS.wallet]: account.address,
      [SIGNED_HEADERS.session]: nonce,
      [SIGNED_HEADERS.requestId]: requestId,
      [SIGNED_HEADERS.signature]: signature,
    };
  };
  const sellerSession = await session(seller.address);
  const buyerSession = await session(buyer.address);
  const service = {
    name: "Bench",
    description: "Echo",
    tags: ["bench"],
    unit_price: "1",
    unit: "call",
    chains: [base.chainId],
    tokens: ["USDC"],
    seller_wallet: seller.address,
    upstream_url: upstreamUrl,
  };
  const post = async (path: string, headers: Record<string, string>, body: unknown, method = "POST") =>
    (await fetch(`${served.url}${path}`, { method, headers, body: JSON.stringify(body) })).json() as Promise<
      Record<string, string>
    >;
  const { service_id } = await post(
    "/agents/services",
    await signed(seller, sellerSession, "register_service", "-", service),
    service,
  );
  const proposal = { service_id, buyer_wallet: buyer.address, deposit: "100000000" };
  const { agreement_id: id } = await post(
    "/usage-agreements",
    await signed(buyer, buyerSession, "propose", service_id ?? "", proposal),
    proposal,
  );
  await post(`/usage-agreements/${id}/accept`, await signed(seller, sellerSession, "accept", id ?? "", {}), {}, "PUT");
  const pkg = await (await fetch(`${served.url}/usage-agreements/${id}/activation-package`)).json();
  const verified = await verifyActivationPackage(
    pkg,
    {
      buyer: buyer.address,
      escrow: chain.escrow,
      chainId: base.chainId,
      parties: { seller: seller.address },
      maxDeposit: { USDC: 100_000_000n },
    },
    chain.dev.publicClient,
  );
  const now = Number((await chain.dev.publicClient.getBlock()).timestamp);
  await fetch(`${served.url}/usage-agreements/${id}/activate-escrow`, {
    method: "POST",
    body: JSON.stringify(await signActivation(buyer, verified, { validBefore: BigInt(now + 3_600) })),
  });
  for (;;) {
    const s = (await (await fetch(`${served.url}/usage-agreements/${id}`)).json()) as { status: string };
    if (s.status === "active") break;
    await new Promise((r) => setTimeout(r, 50));
  }

  const body = { q: "hello" };
  const direct: number[] = [];
  const proxied: number[] = [];
  const headers = await Promise.all(
    Array.from({ length: N + 20 }, () => signed(buyer, buyerSession, "proxy", id ?? "", body)),
  );
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
