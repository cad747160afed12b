// The reference platform over HTTP on anvil with Circle's real FiatToken: a seller registers a
// service, a buyer finds it and proposes, the seller accepts, the buyer verifies and signs the
// activation package with the client binding, and the relayer activates it (202, then active).
// Every agent request is signed with the seeds' runtime message.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium } from "playwright-core";
import { createPublicClient, createWalletClient, type Hex, http, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAgreement } from "../src/actions/index.ts";
import { tokenDomain } from "../src/chains/index.ts";
import {
  buildDirectStablecoinAgreement,
  type DirectPaymentRequirements,
  signActivation,
  verifyActivationPackage,
} from "../src/client/index.ts";
import { purchaseCredits, signBalanceCall, signSponsorMessage } from "../src/credits/index.ts";
import { signAuthorization } from "../src/eip712/index.ts";
import { createPlatformService, migratePlatform } from "../src/platform/index.ts";
import { createRelayer, pgliteStore, type Relayer, type Store } from "../src/relayer/index.ts";
import { type ServedService, serveRelayerService } from "../src/service/index.ts";
import { randomNonce, submitExactPayment, x402Payer } from "../src/x402/index.ts";
import { agreementStatus, type PlatformAgent, platformAgent, proposeAndActivate } from "./support/platform-agents.ts";
import { base, type RelayerChainFixture, startRelayerChain, usdc } from "./support/relayer-chain.ts";

let chain: RelayerChainFixture;
let store: Store;
let relayer: Relayer;
let served: ServedService;
const API_KEY = "platform-operator-key";
/** Debian's Chromium (`.ci/run` installs it). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const operator = { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" };

beforeAll(async () => {
  chain = await startRelayerChain();
  const signer = chain.account(50);
  await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
  store = await pgliteStore();
  await migratePlatform(store);
  relayer = createRelayer({
    chains: [
      {
        chainId: base.chainId,
        client: createPublicClient({ transport: http(chain.url), cacheTime: 0, pollingInterval: 20 }),
        escrow: chain.escrow,
        directPayment: chain.directPayment,
        rebroadcastMs: 0,
      },
    ],
    signers: { [base.chainId]: [signer] },
    store,
    pollMs: 50,
    usage: { maxEntries: 50, flushAfterMs: 200 },
  });
  relayer.start();
  const platform = chain.account(1).address;
  served = await serveRelayerService(
    createPlatformService({ relayer, store, apiKey: API_KEY, terms: { feeRecipient: platform, arbiter: platform } }),
  );
});

afterAll(async () => {
  await served?.close();
  await relayer?.stop();
  await store?.close();
  await chain?.stop();
});

const agent = (account: LocalAccount) => platformAgent(served.url, account);
const activate = (seller: PlatformAgent, buyer: PlatformAgent, serviceId: string, deposit: bigint) =>
  proposeAndActivate({ url: served.url, chain, seller, buyer, serviceId, deposit });

const json = async <T>(res: Response) => (await res.json()) as T;

describe("reference platform", () => {
  it("catalog, proposal, the seller's acceptance, activation package, activate-escrow (202) to active", async () => {
    const seller = agent(privateKeyToAccount(generatePrivateKey()));
    const buyerKey = privateKeyToAccount(generatePrivateKey());
    const buyer = agent(buyerKey);
    const stranger = agent(privateKeyToAccount(generatePrivateKey()));
    await chain.token.mint(buyer.address, 10_000_000n);

    const service = {
      name: "Legal translation",
      description: "Certified translation of contracts between English and German",
      tags: ["translation", "legal"],
      unit_price: "2000",
      unit: "word",
      chains: [base.chainId],
      tokens: ["USDC"],
      seller_wallet: seller.address,
      upstream_url: "http://127.0.0.1:9/translate",
    };
    // A seller registers only its own services.
    expect((await stranger.call("POST", "/agents/services", "register_service", "-", service)).status).toBe(403);
    const registered = await seller.call("POST", "/agents/services", "register_service", "-", service);
    expect(registered.status).toBe(201);
    const { service_id } = await json<{ service_id: string }>(registered);

    const search = async (body: unknown) =>
      json<{ results: { service_id: string }[]; total: number }>(
        await fetch(`${served.url}/catalog/search`, { method: "POST", body: JSON.stringify(body) }),
      );
    expect(
      (await search({ query: "contract translations", chain_id: 8453, token: "usdc" })).results.map(
        (r) => r.service_id,
      ),
    ).toContain(service_id);
    expect(
      (await search({ query: "contract translations", max_price: "1999" })).results.map((r) => r.service_id),
    ).not.toContain(service_id);
    expect((await search({ query: "plumbing" })).total).toBe(0);

    // The buyer proposes for itself; the platform completes the terms.
    const proposal = { service_id, buyer_wallet: buyer.address, deposit: "10000000" };
    expect((await stranger.call("POST", "/usage-agreements", "propose", service_id, proposal)).status).toBe(403);
    const proposed = await buyer.call("POST", "/usage-agreements", "propose", service_id, proposal);
    expect(proposed.status).toBe(201);
    const created = await json<{ agreement_id: Hex; status: string; deposit: string }>(proposed);
    expect(created).toMatchObject({ status: "proposed", deposit: "10000000" });
    const id = created.agreement_id;

    // Only the seller decides; no package before acceptance.
    expect((await fetch(`${served.url}/usage-agreements/${id}/activation-package`)).status).toBe(409);
    expect((await buyer.call("PUT", `/usage-agreements/${id}/accept`, "accept", id)).status).toBe(403);
    const accepted = await seller.call("PUT", `/usage-agreements/${id}/accept`, "accept", id);
    expect(await json(accepted)).toMatchObject({ status: "accepted" });
    expect((await seller.call("PUT", `/usage-agreements/${id}/reject`, "reject", id)).status).toBe(409);

    // The buyer verifies the package against its own policy and signs locally.
    const pkg = await json<unknown>(await fetch(`${served.url}/usage-agreements/${id}/activation-package`));
    const verified = await verifyActivationPackage(
      pkg,
      {
        buyer: buyer.address,
        escrow: chain.escrow,
        chainId: base.chainId,
        parties: { seller: seller.address },
        maxDeposit: { USDC: 10_000_000n },
      },
      chain.dev.publicClient,
    );
    const now = Number((await chain.dev.publicClient.getBlock()).timestamp);
    const body = await signActivation(buyerKey, verified, { validBefore: BigInt(now + 3_600) });
    const activation = await fetch(`${served.url}/usage-agreements/${id}/activate-escrow`, {
      method: "POST",
      body: JSON.stringify(body),
    });
    expect(activation.status).toBe(202);
    expect(await json(activation)).toMatchObject({ status: "submitting" });
    let status = { status: "submitting", activation_tx_hash: null as string | null };
    for (let i = 0; i < 200 && status.status === "submitting"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await json(await fetch(`${served.url}/usage-agreements/${id}/escrow-status`));
    }
    expect(status.status).toBe("active");
    expect(status.activation_tx_hash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await chain.token.balanceOf(chain.escrow)).toBeGreaterThanOrEqual(10_000_000n);
    expect(usdc.address).toBe(verified.agreement.terms.token);

    // Metered usage: recorded by the seller's side only, batched by the relayer, on chain.
    const usage = { cumulative_usage: "4000000", log_ref: `0x${"ab".repeat(32)}` };
    expect((await buyer.call("POST", `/usage-agreements/${id}/record-usage`, "record_usage", id, usage)).status).toBe(
      403,
    );
    const recorded = await seller.call("POST", `/usage-agreements/${id}/record-usage`, "record_usage", id, usage);
    expect(recorded.status).toBe(202);
    const { usage_id } = await json<{ usage_id: string }>(recorded);
    let entry = { status: "queued" };
    for (let i = 0; i < 200 && (entry.status === "queued" || entry.status === "batched"); i++) {
      await new Promise((r) => setTimeout(r, 50));
      entry = await json(await fetch(`${served.url}/usage/${usage_id}`, { headers: operator }));
    }
    expect(entry.status).toBe("recorded");
  });

  it("refuses unsigned, forged and replayed requests, and a rejected agreement goes no further", async () => {
    const sellerKey = privateKeyToAccount(generatePrivateKey());
    const seller = agent(sellerKey);
    const service = {
      name: "Weather data",
      description: "Hourly forecasts",
      tags: ["weather"],
      unit_price: "100",
      unit: "call",
      chains: [base.chainId],
      tokens: ["USDC"],
      seller_wallet: seller.address,
      upstream_url: "http://127.0.0.1:9/weather",
    };
    const unsigned = await fetch(`${served.url}/agents/services`, { method: "POST", body: JSON.stringify(service) });
    expect(unsigned.status).toBe(401);
    const malformed = await fetch(`${served.url}/agents/services`, { method: "POST", body: "{not json" });
    expect([malformed.status, (await json<{ error: { code: string } }>(malformed)).error.code]).toEqual([
      400,
      "BODY_NOT_JSON",
    ]);
    const oversize = await fetch(`${served.url}/usage-agreements`, {
      method: "POST",
      body: JSON.stringify({ pad: "x".repeat(80_000) }),
    });
    expect([oversize.status, (await json<{ error: { code: string } }>(oversize)).error.code]).toEqual([
      413,
      "BODY_TOO_LARGE",
    ]);
    // Signed for another body: the payload hash differs.
    const headers = await seller.headersFor("register_service", "-", { ...service, unit_price: "1" }, "forged-1");
    const forged = await fetch(`${served.url}/agents/services`, {
      method: "POST",
      headers,
      body: JSON.stringify(service),
    });
    expect(await json(forged)).toMatchObject({ error: { code: "SIGNATURE_INVALID" } });
    const good = await seller.headersFor("register_service", "-", service, "once-1");
    expect(
      (await fetch(`${served.url}/agents/services`, { method: "POST", headers: good, body: JSON.stringify(service) }))
        .status,
    ).toBe(201);
    const replay = await fetch(`${served.url}/agents/services`, {
      method: "POST",
      headers: good,
      body: JSON.stringify(service),
    });
    expect(replay.status).toBe(409);
    expect(await json(replay)).toMatchObject({ error: { code: "REQUEST_REPLAYED" } });

    const { results } = await json<{ results: { service_id: string }[] }>(
      await fetch(`${served.url}/catalog/search`, { method: "POST", body: JSON.stringify({ query: "forecasts" }) }),
    );
    const serviceId = results[0]?.service_id ?? "";
    const buyer = agent(privateKeyToAccount(generatePrivateKey()));
    const proposed = await json<{ agreement_id: string }>(
      await buyer.call("POST", "/usage-agreements", "propose", serviceId, {
        service_id: serviceId,
        buyer_wallet: buyer.address,
        deposit: "1000000",
      }),
    );
    const id = proposed.agreement_id;
    expect(await json(await seller.call("PUT", `/usage-agreements/${id}/reject`, "reject", id))).toMatchObject({
      status: "rejected",
    });
    expect((await fetch(`${served.url}/usage-agreements/${id}/activation-package`)).status).toBe(409);
    expect(
      (await fetch(`${served.url}/usage-agreements/${id}/activate-escrow`, { method: "POST", body: "{}" })).status,
    ).toBe(409);
    expect((await fetch(`${served.url}/usage-agreements/0x${"00".repeat(32)}`)).status).toBe(404);
  });

  it("flow 4: a direct stablecoin purchase is executed when the seller accepts; flow 5: a purchase outside the buyer's policy is refused with the rule", async () => {
    const seller = agent(privateKeyToAccount(generatePrivateKey()));
    const buyerKey = privateKeyToAccount(generatePrivateKey());
    const buyer = agent(buyerKey);
    await chain.token.mint(buyer.address, 30_000_000n);
    const registered = await seller.call("POST", "/agents/services", "register_service", "-", {
      name: "Market report",
      description: "A one-off market report",
      tags: ["report"],
      unit_price: "5000000",
      unit: "report",
      chains: [base.chainId],
      tokens: ["USDC"],
      seller_wallet: seller.address,
      upstream_url: "http://127.0.0.1:9/report",
    });
    const { service_id } = await json<{ service_id: string }>(registered);

    const requirements = await json<DirectPaymentRequirements>(
      await fetch(`${served.url}/payment-requirements?amount_cents=500&rail=stablecoin&pay_to=${seller.address}`),
    );
    const built = await buildDirectStablecoinAgreement(buyerKey, requirements, {
      maxAmount: 10_000_000n,
      directPayment: chain.directPayment,
      publicClient: chain.dev.publicClient,
      nowSeconds: Number((await chain.dev.publicClient.getBlock()).timestamp),
    });
    const proposal = { ...built.body, service_id };
    const proposed = await buyer.call("POST", "/usage-agreements", "propose", service_id, proposal);
    expect(proposed.status).toBe(201);
    const { agreement_id, settlement_model } = await json<{ agreement_id: string; settlement_model: string }>(proposed);
    expect(settlement_model).toBe("direct_payment");
    expect(await chain.token.balanceOf(seller.address)).toBe(0n); // nothing moves before the seller accepts
    const accepted = await seller.call("PUT", `/usage-agreements/${agreement_id}/accept`, "accept", agreement_id);
    expect(accepted.status).toBe(200);
    let status = { status: "submitting" };
    for (let i = 0; i < 200 && status.status === "submitting"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await json(await fetch(`${served.url}/usage-agreements/${agreement_id}`));
    }
    expect(status).toMatchObject({ status: "completed", transaction_hash: expect.stringMatching(/^0x/) });
    expect(await chain.token.balanceOf(seller.address)).toBe(5_000_000n);
    expect(await chain.token.balanceOf(buyer.address)).toBe(30_000_000n - 5_000_000n - built.fee);

    // Flow 5: the owner caps the buyer at 2 USDC per agreement; an escrow of 10 is refused at activation.
    const put = await fetch(`${served.url}/agents/${buyer.address}/policies`, {
      method: "PUT",
      headers: operator,
      body: JSON.stringify({ max_per_agreement: "2000000" }),
    });
    expect(put.status).toBe(200);
    const { response: refused } = await activate(seller, buyer, service_id, 10_000_000n);
    expect(refused.status).toBe(403);
    expect(await json(refused)).toMatchObject({
      error: { code: "POLICY_REFUSED", details: { rule: "maxPerAgreement", limit: "2000000" } },
    });
  });

  it("flow 3: the metered proxy serves only the buyer, meters each call at the service's price, refuses a call past the deposit before it reaches the seller, and usage ends into completion", async () => {
    const calls: string[] = [];
    const upstream = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        calls.push(`${req.method} ${req.url} ${body}`);
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ translated: body.length }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    try {
      const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/api`;
      const seller = agent(privateKeyToAccount(generatePrivateKey()));
      const buyerKey = privateKeyToAccount(generatePrivateKey());
      const buyer = agent(buyerKey);
      await chain.token.mint(buyer.address, 5_000_000n);
      const { service_id } = await json<{ service_id: string }>(
        await seller.call("POST", "/agents/services", "register_service", "-", {
          name: "Metered translation",
          description: "Per call",
          tags: ["translation"],
          unit_price: "2000000",
          unit: "call",
          chains: [base.chainId],
          tokens: ["USDC"],
          seller_wallet: seller.address,
          upstream_url: upstreamUrl,
        }),
      );
      const { id, verified } = await activate(seller, buyer, service_id, 5_000_000n);
      expect((await agreementStatus(served.url, id, (x) => x === "active")).status).toBe("active");

      const proxied = (who: ReturnType<typeof agent>, text: string) =>
        who.call("POST", `/metered-proxy/${id}/translate?lang=de`, "proxy", id, { text });
      const stranger = agent(privateKeyToAccount(generatePrivateKey()));
      expect((await proxied(stranger, "hello")).status).toBe(403);
      const first = await proxied(buyer, "hello");
      expect(first.status).toBe(200);
      expect(await json(first)).toEqual({ translated: JSON.stringify({ text: "hello" }).length });
      expect(first.headers.get("x-usage-cumulative")).toBe("2000000");
      const second = await proxied(buyer, "world");
      expect(second.headers.get("x-usage-remaining")).toBe("1000000");
      const third = await proxied(buyer, "too much");
      expect(third.status).toBe(409);
      expect(await json(third)).toMatchObject({
        error: { code: "DEPOSIT_EXCEEDED", details: { used: "4000000", deposit: "5000000" } },
      });
      expect(calls).toEqual([
        `POST /api/translate?lang=de ${JSON.stringify({ text: "hello" })}`,
        `POST /api/translate?lang=de ${JSON.stringify({ text: "world" })}`,
      ]);

      // Usage ends: recorded with completion through the relayer; the chain shows 4 USDC, completed.
      const ended = await buyer.call("POST", `/usage-agreements/${id}/end-usage`, "end_usage", id);
      expect(ended.status).toBe(202);
      expect((await proxied(buyer, "after the end")).status).toBe(409);
      let view = await readAgreement(chain.dev.publicClient, verified.agreement);
      for (let i = 0; i < 200 && view.status !== "completed"; i++) {
        await new Promise((r) => setTimeout(r, 50));
        view = await readAgreement(chain.dev.publicClient, verified.agreement);
      }
      expect([view.status, view.recordedUsage]).toEqual(["completed", 4_000_000n]);
    } finally {
      await new Promise((r) => upstream.close(r));
    }
  });

  it("credit purchase: the x402 handshake with the client's purchaseCredits (Path A and a sponsored Path B), the self-broadcast Path B, packs, and the signed balance", async () => {
    const endpoint = `${served.url}/api/external/credits/purchase`;
    const collector = chain.account(1).address;
    const agentKey = privateKeyToAccount(generatePrivateKey());
    await chain.token.mint(agentKey.address, 20_000_000n);
    const now = async () => Number((await chain.dev.publicClient.getBlock()).timestamp);
    const payWith = (signer: LocalAccount, nonce?: Hex) => async (challenge: string) => {
      const { headerName, headerValue } = await x402Payer(signer, { maxAmount: { USDC: 10_000_000n } })(challenge, {
        nowSeconds: await now(),
        ...(nonce ? { nonce } : {}),
      });
      return { headerName, headerValue };
    };
    const before = await chain.token.balanceOf(collector);

    // A pack that is not a multiple of 500: 400 with the suggestion.
    const odd = await fetch(endpoint, {
      method: "POST",
      body: JSON.stringify({ wallet_address: agentKey.address, credits: 700, payment_method: "x402" }),
    });
    expect(odd.status).toBe(400);
    expect(await odd.json()).toMatchObject({ suggested_credits: 1000 });

    // Path A: the agent pays for itself.
    const bought = await purchaseCredits({
      endpoint,
      walletAddress: agentKey.address,
      credits: 500,
      pay: payWith(agentKey),
    });
    expect(bought.status).toBe(200);
    expect(bought.body).toMatchObject({ balance_credits: 500, balance_usd: 5 });
    expect(bought.paymentResponse).toBeDefined();
    expect((await chain.token.balanceOf(collector)) - before).toBe(5_000_000n);

    // Path B over x402: a human pays for the agent; the sponsor message names the authorization's nonce.
    const human = privateKeyToAccount(generatePrivateKey());
    await chain.token.mint(human.address, 20_000_000n);
    // The client picks the nonce, the human's signer signs the sponsor message over it, and the
    // human's payer signs the authorization with the same nonce.
    const sponsored = await purchaseCredits({
      endpoint,
      walletAddress: agentKey.address,
      credits: 1000,
      payerWalletAddress: human.address,
      sponsor: human,
      pay: async (challenge, { nonce }) => payWith(human, nonce)(challenge),
    });
    expect(sponsored.body).toMatchObject({ balance_credits: 1500 });
    // A sponsor signature over another nonce than the payment's is refused by the route, nothing charged.
    const paid = randomNonce();
    const wrongSponsor = await signSponsorMessage(human, {
      payer: human.address,
      recipient: agentKey.address,
      credits: 500,
      reference: { kind: "nonce", nonce: randomNonce() },
    });
    const humanBefore = await chain.token.balanceOf(human.address);
    await expect(
      purchaseCredits({
        endpoint,
        walletAddress: agentKey.address,
        credits: 500,
        payerWalletAddress: human.address,
        sponsorSignature: wrongSponsor.signature,
        nonce: paid,
        pay: payWith(human, paid),
      }),
    ).rejects.toMatchObject({ code: "PURCHASE_REJECTED" });
    expect(await chain.token.balanceOf(human.address)).toBe(humanBefore);

    // Path B, self-broadcast: the human submits transferWithAuthorization and sends the hash.
    await chain.rpc("anvil_setBalance", [human.address, "0x3635C9ADC5DEA00000"]);
    const authorization = {
      from: human.address,
      to: collector,
      value: 5_000_000n,
      validAfter: 0n,
      validBefore: BigInt((await now()) + 600),
      nonce: randomNonce(),
    };
    const signature = await signAuthorization(human, tokenDomain(base.chainId, "USDC"), authorization);
    const wallet = createWalletClient({
      account: human,
      chain: chain.dev.publicClient.chain,
      transport: http(chain.url),
    });
    const { hash } = await submitExactPayment(wallet, usdc.address, {
      authorization: {
        ...authorization,
        value: "5000000",
        validAfter: "0",
        validBefore: authorization.validBefore.toString(),
      },
      signature,
    });
    const txSponsor = await signSponsorMessage(human, {
      payer: human.address,
      recipient: agentKey.address,
      credits: 500,
      reference: { kind: "tx", transactionHash: hash },
    });
    const selfBroadcast = {
      wallet_address: agentKey.address,
      credits: 500,
      payment_method: "x402",
      payer_wallet_address: human.address,
      sponsor_signature: txSponsor.signature,
      transaction_hash: hash,
    };
    const credited = await fetch(endpoint, { method: "POST", body: JSON.stringify(selfBroadcast) });
    expect(credited.status).toBe(200);
    expect(await credited.json()).toMatchObject({ balance_credits: 2000 });
    const again = await fetch(endpoint, { method: "POST", body: JSON.stringify(selfBroadcast) });
    expect(await again.json()).toMatchObject({ balance_credits: 2000 }); // credited once

    // The balance, signed over the seeds' balance message; a request id is never accepted twice.
    const { session_nonce } = await json<{ session_nonce: string }>(
      await fetch(`${served.url}/api/external/auth/session`, {
        method: "POST",
        body: JSON.stringify({ wallet_address: agentKey.address }),
      }),
    );
    const signed = await signBalanceCall(agentKey, {
      wallet: agentKey.address,
      sessionNonce: session_nonce,
      requestId: "balance-1",
    });
    const balanceBody = JSON.stringify({
      wallet_address: agentKey.address,
      session_nonce,
      request_id: "balance-1",
      signature: signed.signature,
    });
    const balance = await fetch(`${served.url}/api/external/credits/balance`, { method: "POST", body: balanceBody });
    expect(await balance.json()).toMatchObject({ balance_credits: 2000, balance_usd: 20 });
    expect(
      (await fetch(`${served.url}/api/external/credits/balance`, { method: "POST", body: balanceBody })).status,
    ).toBe(400);
  });

  it("the owner's page, in a real browser: a purchase above the approval threshold is listed and approved with a click, and goes on to active", async () => {
    const seller = agent(privateKeyToAccount(generatePrivateKey()));
    const buyerKey = privateKeyToAccount(generatePrivateKey());
    const buyer = agent(buyerKey);
    await chain.token.mint(buyer.address, 3_000_000n);
    await fetch(`${served.url}/agents/${buyer.address}/policies`, {
      method: "PUT",
      headers: operator,
      body: JSON.stringify({ approval_threshold: "1000000" }),
    });
    const { service_id } = await json<{ service_id: string }>(
      await seller.call("POST", "/agents/services", "register_service", "-", {
        name: "Approved service",
        description: "Needs the owner's approval",
        tags: ["approval"],
        unit_price: "1000",
        unit: "call",
        chains: [base.chainId],
        tokens: ["USDC"],
        seller_wallet: seller.address,
        upstream_url: "http://127.0.0.1:9/x",
      }),
    );
    const { id, response: waiting } = await activate(seller, buyer, service_id, 3_000_000n);
    expect(await json(waiting)).toMatchObject({ status: "awaiting_approval" });

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless=new"] });
    try {
      const page = await browser.newPage();
      await page.goto(`${served.url}/owner`);
      await page.fill("#key", API_KEY);
      await page.click("button[type=submit]");
      const approve = page
        .locator("#approvals tbody tr", { hasText: buyer.address.toLowerCase() })
        .locator("button[data-decision=approve]");
      await approve.waitFor({ timeout: 10_000 });
      expect(await page.locator("#agreements tbody tr", { hasText: id }).count()).toBe(1);
      await approve.click();
      await page
        .locator("#approvals tbody tr", { hasText: buyer.address.toLowerCase() })
        .waitFor({ state: "detached", timeout: 10_000 });
    } finally {
      await browser.close();
    }
    expect((await agreementStatus(served.url, id, (x) => x === "active")).status).toBe("active");
  });
});
