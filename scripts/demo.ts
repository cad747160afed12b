// The main job: the whole lifecycle through the relayer service, on the embedded store (PGlite,
// in memory) and an in-process chain reporting Base's id (8453) with Circle's real USDC at its
// canonical address. Nothing to start by hand: the chain, the relayer and its HTTP service run in
// this process, and the agents talk to the service over HTTP.
//   1. escrow activation: the buyer signs, POST activate-escrow answers 202, polling escrow-status
//      shows submitting, then active with the transaction hash;
//   2. metered usage: record-usage calls, batched by the relayer into one recordUsageBatch;
//   3. settlement by the scanner once the challenge window has passed;
//   4. a cooperative close under the buyer's final voucher;
//   5. a direct stablecoin payment (fee by permit), idempotent by its nonce;
//   6. a paid x402 resource, settled through the relayer's facilitator.
import { Hono } from "hono";
import { formatUnits, keccak256, parseEther, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { readAgreement } from "../src/actions/index.ts";
import { getChainByKey, getToken } from "../src/chains/index.ts";
import {
  buildDirectStablecoinAgreement,
  type DirectPaymentRequirements,
  signActivation,
  signFinalVoucher,
  verifyActivationPackage,
} from "../src/client/index.ts";
import { deployAgentEscrow } from "../src/deploy/deploy.ts";
import { loadEconomicParameters } from "../src/deploy/parameters.ts";
import { agreementRef, type Terms } from "../src/eip712/index.ts";
import { createFacilitator, createRelayer, pgliteStore } from "../src/relayer/index.ts";
import { createRelayerService, mountFacilitator, serveRelayerService, x402Paywall } from "../src/service/index.ts";
import { startFaithfulChain } from "../src/testing/faithful-chain.ts";
import { serializeActivationPackage } from "../src/wire/index.ts";
import { HEADERS, readPaymentResponse, x402Payer } from "../src/x402/index.ts";

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
  const agent = privateKeyToAccount(generatePrivateKey());
  const seller = privateKeyToAccount(generatePrivateKey()).address;
  await token.mint(agent.address, 200_000_000n);

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
    usage: { maxEntries: 50, flushAfterMs: 1_000 },
    settlement: { intervalMs: 500 },
  });
  relayer.start();
  const facilitator = createFacilitator({ relayer, settleTimeoutMs: 20_000 });
  // The metering backend records usage with the operator's key (the relayer's recorder key signs it).
  const apiKey = toHex(crypto.getRandomValues(new Uint8Array(24))).slice(2);
  const operator = { authorization: `Bearer ${apiKey}` };
  const service = await serveRelayerService(
    createRelayerService({ relayer, apiKey, mount: (app) => mountFacilitator(app, facilitator) }),
  );
  const api = service.url;
  line("relayer", `service at ${api}, embedded store (PGlite), signer ${relayerKey.address}`);
  line("agent", `${agent.address}  ${fmt(await token.balanceOf(agent.address))}, no ETH`);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${api}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });

  try {
    // 1. activation ---------------------------------------------------------------------------
    console.log("\n1. bilateral escrow, deposit 100: the buyer signs, the relayer activates (202, then poll)");
    const now = Number((await client.getBlock()).timestamp);
    const terms: Terms = {
      buyer: agent.address,
      seller,
      token: usdc.address,
      feeRecipient: platform,
      recorder: relayerKey.address,
      arbiter: platform,
      deposit: 100_000_000n,
      upfrontFee: 0n,
      feeFixed: 10_000n,
      feeCap: 1_000_000n,
      feeBps: 100,
      fallbackBps: 5_000,
      challengeWindow: 3_600,
      resolutionWindow: 3_600,
      serviceExpiry: now + 86_400,
      salt: keccak256(toHex(`demo-agreement-${now}`)),
    };
    const escrowDomain = { chainId: base.chainId, escrow };
    const policy = {
      buyer: agent.address,
      escrow,
      chainId: base.chainId,
      parties: { seller, recorder: terms.recorder, arbiter: terms.arbiter },
      maxDeposit: { USDC: 100_000_000n },
    };
    const activate = async (t: Terms) => {
      const pkg = serializeActivationPackage({ agreement: agreementRef(t, escrowDomain), upfrontFeePending: false });
      const verified = await verifyActivationPackage(pkg, policy, client);
      const chainNow = Number((await client.getBlock()).timestamp);
      const body = await signActivation(agent, verified, { validBefore: BigInt(chainNow + 3_600) });
      const res = await post(`/usage-agreements/${verified.agreement.id}/activate-escrow`, body);
      const accepted = (await res.json()) as { status: string };
      line("", `POST activate-escrow -> ${res.status} ${accepted.status}`);
      const active = await until(
        async () =>
          (await (await fetch(`${api}/usage-agreements/${verified.agreement.id}/escrow-status`)).json()) as {
            status: string;
            activation_tx_hash: string | null;
          },
        (s) => s.status !== "submitting",
        "activation",
      );
      if (active.status !== "active") throw new Error(`activation ended ${JSON.stringify(active)}`);
      line("", `escrow-status -> ${active.status}, activation_tx_hash ${active.activation_tx_hash?.slice(0, 18)}…`);
      return verified.agreement;
    };
    const agreement = await activate(terms);
    line("", `escrow holds ${fmt(await token.balanceOf(escrow))}`);

    // 2. usage --------------------------------------------------------------------------------
    console.log("\n2. metered usage: three record-usage calls, batched by the relayer");
    let last = "";
    for (const [usage, complete] of [
      [20_000_000n, false],
      [45_000_000n, false],
      [60_000_000n, true],
    ] as const) {
      const res = await post(
        `/usage-agreements/${agreement.id}/record-usage`,
        {
          cumulative_usage: usage.toString(),
          log_ref: keccak256(toHex(`usage-log-${usage}`)),
          complete,
        },
        operator,
      );
      const queued = (await res.json()) as { usage_id: string; outcome: string };
      last = queued.usage_id;
      line("", `record-usage ${fmt(usage)}${complete ? " (final)" : ""} -> ${res.status} ${queued.outcome}`);
    }
    const recorded = await until(
      async () =>
        (await (await fetch(`${api}/usage/${last}`, { headers: operator })).json()) as {
          status: string;
          job_id: string;
        },
      (u) => u.status === "recorded" || u.status === "failed",
      "the usage batch",
    );
    const view = await readAgreement(client, agreement);
    line(
      "",
      `one recordUsageBatch (job ${recorded.job_id.slice(0, 8)}…): usage ${fmt(view.recordedUsage)}, ${view.status}`,
    );

    // 3. settlement by the scanner --------------------------------------------------------------
    console.log("\n3. challenge window passes; the relayer's scanner settles");
    await local.dev.testClient.increaseTime({ seconds: terms.challengeWindow + 1 });
    await local.dev.testClient.mine({ blocks: 1 });
    await until(
      () => readAgreement(client, agreement),
      (v) => v.status === "settled",
      "settlement",
    );
    line(
      "",
      `settled: seller ${fmt(await token.balanceOf(seller))}, agent ${fmt(await token.balanceOf(agent.address))}`,
    );

    // 4. cooperative close ----------------------------------------------------------------------
    console.log("\n4. cooperative close: deposit 20, the buyer signs its final usage of 12");
    const closing = await activate({ ...terms, deposit: 20_000_000n, salt: keccak256(toHex(`demo-close-${now}`)) });
    const deadline = Number((await client.getBlock()).timestamp) + 600;
    const signature = await signFinalVoucher(agent, closing, 12_000_000n, deadline);
    const before = { seller: await token.balanceOf(seller), agent: await token.balanceOf(agent.address) };
    const close = await relayer.submitFinalVoucher({
      chainId: base.chainId,
      agreementId: closing.id,
      usage: 12_000_000n,
      deadline,
      signature,
    });
    await relayer.waitFor(close.id, { timeoutMs: 30_000 });
    line(
      "",
      `${(await readAgreement(client, closing)).status}: seller +${fmt((await token.balanceOf(seller)) - before.seller)}, agent refunded ${fmt((await token.balanceOf(agent.address)) - before.agent)}`,
    );

    // 5. direct payment -------------------------------------------------------------------------
    console.log("\n5. direct stablecoin payment of 20, fee 2% + $0.003 (min $0.10) by permit");
    const requirements = (await (
      await fetch(`${api}/payment-requirements?amount_cents=2000&rail=stablecoin&pay_to=${seller}`)
    ).json()) as DirectPaymentRequirements;
    const built = await buildDirectStablecoinAgreement(agent, requirements, {
      maxAmount: 50_000_000n,
      directPayment: direct,
      publicClient: client,
      nowSeconds: Number((await client.getBlock()).timestamp),
    });
    line("", `agent signed the payment and a fee permit of ${fmt(built.fee)} in one call`);
    const paid = await post("/direct-payments", built.body);
    if (paid.status !== 202) throw new Error(`POST /direct-payments answered ${paid.status}: ${await paid.text()}`);
    const job = (await paid.json()) as { id: string };
    const again = (await (await post("/direct-payments", built.body)).json()) as { id: string };
    line("", `POST /direct-payments -> ${paid.status}; sent twice, one job: ${job.id === again.id}`);
    const done = await until(
      async () => (await (await fetch(`${api}/jobs/${job.id}`)).json()) as { status: string },
      (j) => j.status !== "submitting",
      "the direct payment",
    );
    line(
      "",
      `${done.status}: seller ${fmt(await token.balanceOf(seller))}, agent ${fmt(await token.balanceOf(agent.address))}`,
    );

    // 6. x402 ---------------------------------------------------------------------------------
    console.log("\n6. a paid x402 resource, settled through the relayer's facilitator");
    const shop = new Hono();
    shop.get(
      "/report",
      x402Paywall({
        facilitator,
        accepts: () => [
          {
            scheme: "exact",
            network: base.caip2,
            amount: "5000000",
            asset: usdc.address,
            payTo: seller,
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
      const payer = x402Payer(agent, { maxAmount: { USDC: 10_000_000n } }, { style: "v2" });
      const { headerName, headerValue } = await payer(challenge, {
        nowSeconds: Number((await client.getBlock()).timestamp),
      });
      const second = await fetch(`${shopServed.url}/report`, { headers: { [headerName]: headerValue } });
      const settled = readPaymentResponse(second.headers);
      line(
        "",
        `paid with ${headerName} -> ${second.status}, ${JSON.stringify(await second.json())}, settlement ${settled?.success ? "success" : settled?.errorReason} tx ${settled?.transaction.slice(0, 18)}…`,
      );
      line("", `seller ${fmt(await token.balanceOf(seller))}, agent ${fmt(await token.balanceOf(agent.address))}`);
    } finally {
      await shopServed.close();
    }
    const jobs = await relayer.listJobs({ limit: 100 });
    const kinds = [...new Set(jobs.map((j) => j.kind))].join(", ");
    console.log(
      `\nrelayer: ${jobs.length} jobs (${kinds}), every one ${[...new Set(jobs.map((j) => j.status))].join("/")}`,
    );
  } finally {
    await service.close();
    await relayer.stop();
  }
} finally {
  await store.close();
  await local.close();
}
