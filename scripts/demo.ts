// The main job: two agents trading over HTTP through the reference platform, on the embedded
// store (PGlite, in memory) and an in-process chain reporting Base's id (8453) with Circle's real
// USDC at its canonical address. Nothing to start by hand: the chain, the relayer, the platform
// service and both agents run in this process, and the agents talk to the platform over HTTP with
// requests signed by their wallets.
//   1. the seller registers a service; the buyer finds it in the catalog;
//   2. an escrow: proposed, accepted, the package verified and signed, activate-escrow answers
//      202, then active;
//   3. metered calls through the proxy, one refused past the deposit, usage ended; the relayer
//      batches the usage and its scanner settles after the challenge window;
//   4. a direct stablecoin purchase, executed when the seller accepts;
//   5. a purchase above the owner's approval threshold waits, the owner approves, it goes on;
//   and a credit purchase over the x402 handshake; finally a paid x402 resource settled through
//   the relayer's facilitator.
import { Hono } from "hono";
import { formatUnits, parseEther, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { readAgreement } from "../src/actions/index.ts";
import { getChainByKey, getToken } from "../src/chains/index.ts";
import { deployAgentEscrow } from "../src/deploy/deploy.ts";
import { loadEconomicParameters } from "../src/deploy/parameters.ts";
import { agreementRef, decodeTerms } from "../src/eip712/index.ts";
import { createPlatformService, migratePlatform } from "../src/platform/index.ts";
import { createFacilitator, createRelayer, pgliteStore } from "../src/relayer/index.ts";
import { mountFacilitator, serveRelayerService, x402Paywall } from "../src/service/index.ts";
import { startFaithfulChain } from "../src/testing/faithful-chain.ts";
import { HEADERS, readPaymentResponse, x402Payer } from "../src/x402/index.ts";
import { runBuyer } from "./agents/buyer.ts";
import { runSeller } from "./agents/seller.ts";

const base = getChainByKey("base");
const usdc = getToken(base.chainId, "USDC");
const fmt = (v: bigint) => `${formatUnits(v, usdc.decimals)} ${usdc.symbol}`;
const line = (label: string, text: string) => console.log(`${label.padEnd(14)}${text}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 30_000) {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}

const local = await startFaithfulChain(base.chainId);
const store = await pgliteStore();
try {
  const client = local.dev.publicClient;
  const token = local.token("USDC");
  const [platformWallet] = await local.wallets();
  const platform = platformWallet?.account?.address;
  if (!platform) throw new Error("the chain has no funded account");
  // The relayer's signer, also the recorder of the agreements (it meters usage); it holds gas.
  const relayerKey = privateKeyToAccount(generatePrivateKey());
  await local.dev.testClient.setBalance({ address: relayerKey.address, value: parseEther("10") });

  line("chain", `${base.name}, chain id ${await client.getChainId()} (${base.caip2}), in-process`);
  line("token", `${usdc.symbol} at ${usdc.address}: Circle's FiatToken v2.2`);
  const { record } = await deployAgentEscrow(local.connection, {
    owner: platform,
    feeRecipient: platform,
    economics: loadEconomicParameters("base"),
    network: "sim-base",
    placeCreateX: true,
  });
  const escrow = record.contracts.AgentEscrow.address;
  const direct = record.contracts.DirectPayment.address;
  line("deployed", `AgentEscrow ${escrow}, DirectPayment ${direct}`);

  const relayer = createRelayer({
    chains: [{ chainId: base.chainId, client, escrow, directPayment: direct, confirmations: 1 }],
    signers: { [base.chainId]: [relayerKey] },
    store,
    pollMs: 100,
    usage: { maxEntries: 50, flushAfterMs: 500 },
    settlement: { intervalMs: 500 },
  });
  relayer.start();
  const facilitator = createFacilitator({ relayer, settleTimeoutMs: 20_000 });
  await migratePlatform(store);
  // The owner's key (policies and approvals); the platform collects fees and credit purchases.
  const apiKey = toHex(crypto.getRandomValues(new Uint8Array(24))).slice(2);
  const owner = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
  const service = await serveRelayerService(
    createPlatformService({
      relayer,
      store,
      apiKey,
      terms: { feeRecipient: platform, arbiter: platform },
      mount: (app) => mountFacilitator(app, facilitator),
    }),
  );
  const api = service.url;
  line("platform", `service at ${api}, embedded store (PGlite), relayer ${relayerKey.address}`);
  const buyerKey = privateKeyToAccount(generatePrivateKey());
  const sellerKey = privateKeyToAccount(generatePrivateKey());
  await token.mint(buyerKey.address, 30_000_000n);
  line("buyer", `${buyerKey.address}  ${fmt(await token.balanceOf(buyerKey.address))}, no ETH`);
  line("seller", `${sellerKey.address}`);
  // The owner's guardrail for the buyer: a purchase above 2.5 USDC waits for approval.
  await fetch(`${api}/agents/${buyerKey.address}/policies`, {
    method: "PUT",
    headers: owner,
    body: JSON.stringify({ approval_threshold: "2500000" }),
  });
  line("owner", "purchases above 2.5 USDC need the owner's approval");

  const stop = new AbortController();
  const speak =
    (who: string) =>
    (event: string, detail: Record<string, unknown> = {}) => {
      const shown = Object.entries(detail)
        .map(
          ([k, v]) =>
            `${k} ${typeof v === "string" && v.startsWith("0x") && v.length > 20 ? `${v.slice(0, 14)}…` : String(v)}`,
        )
        .join(", ");
      line(who, `${event}${shown ? `: ${shown}` : ""}`);
    };
  try {
    console.log("");
    const seller = runSeller({ url: api, account: sellerKey, say: speak("seller"), signal: stop.signal });
    // The owner approves what waits for approval.
    const approving = (async () => {
      while (!stop.signal.aborted) {
        const overview = (await (await fetch(`${api}/owner/overview`, { headers: owner })).json()) as {
          approvals: { id: string; buyer: string; amount: string }[];
        };
        for (const a of overview.approvals) {
          await fetch(`${api}/agents/${a.buyer}/approvals/${a.id}/approve`, { method: "POST", headers: owner });
          line("owner", `approved ${fmt(BigInt(a.amount))} for ${a.buyer.slice(0, 10)}…`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const bought = await runBuyer({ url: api, account: buyerKey, client, say: speak("buyer") });
    stop.abort();
    await Promise.all([seller, approving]);

    console.log("\nchallenge window passes; the relayer's scanner settles the metered agreement");
    const { rows } = await store.query<{ packed_terms: `0x${string}` }>(
      "SELECT packed_terms FROM platform_agreements WHERE id = $1",
      [bought.metered],
    );
    const packed = rows[0]?.packed_terms;
    if (!packed) throw new Error("the metered agreement is not recorded");
    const agreement = agreementRef(decodeTerms(packed), { chainId: base.chainId, escrow });
    await until(
      () => readAgreement(client, agreement),
      (v) => v.status === "completed",
      "usage recorded on chain",
    );
    await local.dev.testClient.increaseTime({ seconds: 3_601 });
    await local.dev.testClient.mine({ blocks: 1 });
    await until(
      () => readAgreement(client, agreement),
      (v) => v.status === "settled",
      "settlement",
    );
    line(
      "",
      `settled: seller ${fmt(await token.balanceOf(sellerKey.address))}, buyer ${fmt(await token.balanceOf(buyerKey.address))}`,
    );

    console.log("\na paid x402 resource, settled through the relayer's facilitator");
    const shop = new Hono();
    shop.get(
      "/report",
      x402Paywall({
        facilitator,
        accepts: () => [
          {
            scheme: "exact",
            network: base.caip2,
            amount: "1000000",
            asset: usdc.address,
            payTo: sellerKey.address,
            maxTimeoutSeconds: 300,
            extra: { name: usdc.domain.name, version: usdc.domain.version },
          },
        ],
      }),
      (c) => c.json({ report: "market data" }),
    );
    const shopServed = await serveRelayerService(shop);
    try {
      const first = await fetch(`${shopServed.url}/report`);
      line("", `GET /report -> ${first.status} (PAYMENT-REQUIRED)`);
      const challenge = first.headers.get(HEADERS.paymentRequired) ?? "";
      const payer = x402Payer(buyerKey, { maxAmount: { USDC: 2_000_000n } }, { style: "v2" });
      const { headerName, headerValue } = await payer(challenge, {
        nowSeconds: Number((await client.getBlock()).timestamp),
      });
      const second = await fetch(`${shopServed.url}/report`, { headers: { [headerName]: headerValue } });
      const settled = readPaymentResponse(second.headers);
      line(
        "",
        `paid with ${headerName} -> ${second.status}, ${JSON.stringify(await second.json())}, settlement ${settled?.success ? "success" : settled?.errorReason} tx ${settled?.transaction.slice(0, 18)}…`,
      );
    } finally {
      await shopServed.close();
    }
    const jobs = await relayer.listJobs({ limit: 100 });
    const kinds = [...new Set(jobs.map((j) => j.kind))].join(", ");
    console.log(
      `\nrelayer: ${jobs.length} jobs (${kinds}), every one ${[...new Set(jobs.map((j) => j.status))].join("/")}`,
    );
  } finally {
    stop.abort();
    await service.close();
    await relayer.stop();
  }
} finally {
  await store.close();
  await local.close();
}
