// The relayer's x402 facilitator over HTTP (POST /verify, POST /settle, GET /supported) and the
// x402Paywall middleware, on anvil with Circle's real FiatToken at Base's USDC address, against
// the x402 reference implementation (@x402/core and @x402/evm 2.27, used only as a peer): its
// HTTPFacilitatorClient talks to our facilitator, its resource server (x402ResourceServer +
// x402HTTPResourceServer, driven inside a Hono middleware) settles through it, its client pays
// both its server and our paywall, and this package's own client pays our paywall. Tampered
// payments are refused before anything is sent; 50 concurrent settles of one payment give one
// success and one transaction; a settlement past the time-out is `settlement_pending`, then
// settles on a retry.
import { x402Client, x402HTTPClient } from "@x402/core/client";
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from "@x402/core/http";
import {
  type HTTPAdapter,
  HTTPFacilitatorClient,
  type HTTPRequestContext,
  x402HTTPResourceServer,
  x402ResourceServer,
} from "@x402/core/server";
import type {
  PaymentPayload as TheirPayload,
  PaymentRequired as TheirRequired,
  PaymentRequirements as TheirRequirements,
} from "@x402/core/types";
import { ExactEvmScheme as ExactEvmClient } from "@x402/evm/exact/client";
import { ExactEvmScheme as ExactEvmServer } from "@x402/evm/exact/server";
import { Hono, type MiddlewareHandler } from "hono";
import { type Address, createPublicClient, getAddress, http, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { getTransactionCount, getTransactionReceipt } from "viem/actions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createFacilitator,
  createRelayer,
  type Facilitator,
  pgliteStore,
  type Relayer,
  type Store,
} from "../src/relayer/index.ts";
import {
  createRelayerService,
  mountFacilitator,
  type ServedService,
  serveRelayerService,
  x402Paywall,
} from "../src/service/index.ts";
import {
  decodePaymentResponse,
  encodeJsonHeader,
  HEADERS,
  type PaymentRequired,
  type PaymentRequirements,
  readPaymentResponse,
  selectPayment,
  signExactPayment,
  toPaymentPayloadV2,
  x402Payer,
} from "../src/x402/index.ts";
import { base, type RelayerChainFixture, startRelayerChain, usdc } from "./support/relayer-chain.ts";

const NETWORK = "eip155:8453";
const AMOUNT = 250_000n;
const TX_HASH = /^0x[0-9a-f]{64}$/;
const THIRD = getAddress("0x00000000000000000000000000000000000bad01");

/** What a resource advertises: 0.25 USDC on Base to `payTo`. */
const requirementsFor = (payTo: Address) =>
  ({
    scheme: "exact",
    network: NETWORK,
    amount: AMOUNT.toString(),
    asset: usdc.address,
    payTo,
    maxTimeoutSeconds: 120,
    extra: { name: "USD Coin", version: "2" },
  }) satisfies TheirRequirements & PaymentRequirements;

const freshAccount = () => privateKeyToAccount(generatePrivateKey());
const clock = () => Math.floor(Date.now() / 1000);

let chain: RelayerChainFixture;
let signer: LocalAccount;
let store: Store;
let relayer: Relayer;
let facilitator: Facilitator;
/** The relayer service with the facilitator at `/` and a 500 ms settle time-out one at `/short`. */
let service: ServedService;
/** The resource server: `/official` behind the reference server, `/paid` behind x402Paywall. */
let shop: ServedService;
/** Requests the paywall let through to the handler. */
let delivered = 0;
const OFFICIAL_PAYEE = freshAccount().address;
const PAYWALL_PAYEE = freshAccount().address;

const reader = () => createPublicClient({ transport: http(chain.url), cacheTime: 0 });
const balanceOf = (address: Address) => chain.token.balanceOf(address);
/** Transactions the relayer's signer has sent, mempool included. */
const sentCount = () => getTransactionCount(reader(), { address: signer.address, blockTag: "pending" });

/** A payer holding 1 USDC. */
async function fundedPayer() {
  const payer = freshAccount();
  await chain.token.mint(payer.address, 1_000_000n);
  return payer;
}

/** The reference client's payment for these requirements. */
function officialPayment(payer: LocalAccount, requirements: TheirRequirements): Promise<TheirPayload> {
  const required: TheirRequired = {
    x402Version: 2,
    resource: { url: "https://api.example.com/premium", description: "", mimeType: "" },
    accepts: [requirements],
  };
  return new x402Client().register("eip155:*", new ExactEvmClient(payer)).createPaymentPayload(required);
}

/** The transaction `hash` is one transferWithAuthorization sent by the relayer to USDC, and succeeded. */
async function expectSettlementTx(hash: string) {
  const receipt = await getTransactionReceipt(reader(), { hash: hash as `0x${string}` });
  expect(receipt).toMatchObject({
    status: "success",
    from: signer.address.toLowerCase(),
    to: usdc.address.toLowerCase(),
  });
}

/**
 * Hono middleware driving the reference HTTP resource server (what @x402/hono does): 402 from
 * `processHTTPRequest`, the handler, then `processSettlement` and its `PAYMENT-RESPONSE`.
 */
function officialMiddleware(server: x402HTTPResourceServer): MiddlewareHandler {
  return async (c, next) => {
    const adapter: HTTPAdapter = {
      getHeader: (name) => c.req.header(name),
      getMethod: () => c.req.method,
      getPath: () => c.req.path,
      getUrl: () => c.req.url,
      getAcceptHeader: () => c.req.header("accept") ?? "",
      getUserAgent: () => c.req.header("user-agent") ?? "",
    };
    const context: HTTPRequestContext = { adapter, path: c.req.path, method: c.req.method };
    const result = await server.processHTTPRequest(context);
    if (result.type === "no-payment-required") return next();
    if (result.type === "payment-error") {
      const { status, headers, body } = result.response;
      return new Response(JSON.stringify(body ?? {}), { status, headers });
    }
    await next();
    if (c.res.status >= 400) return;
    const settled = await server.processSettlement(
      result.paymentPayload,
      result.paymentRequirements,
      result.declaredExtensions,
      { request: context },
    );
    if (!settled.success) {
      const { status, headers, body } = settled.response;
      c.res = new Response(JSON.stringify(body ?? {}), { status, headers: { ...headers, ...settled.headers } });
      return;
    }
    for (const [name, value] of Object.entries(settled.headers)) c.res.headers.set(name, value);
  };
}

beforeAll(async () => {
  chain = await startRelayerChain();
  signer = chain.account(40);
  await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
  store = await pgliteStore();
  relayer = createRelayer({
    chains: [
      {
        chainId: base.chainId,
        client: createPublicClient({ transport: http(chain.url), cacheTime: 0, pollingInterval: 20 }),
        escrow: chain.escrow,
        confirmations: 1,
      },
    ],
    signers: { [base.chainId]: [signer] },
    store,
    pollMs: 20,
  });
  relayer.start();
  facilitator = createFacilitator({ relayer, settleTimeoutMs: 20_000 });
  const short = createFacilitator({ relayer, settleTimeoutMs: 500 });
  service = await serveRelayerService(
    createRelayerService({
      relayer,
      mount: (app) => {
        mountFacilitator(app, facilitator);
        mountFacilitator(app, short, { prefix: "/short" });
      },
    }),
  );

  const official = new x402HTTPResourceServer(
    new x402ResourceServer(new HTTPFacilitatorClient({ url: service.url })).register(NETWORK, new ExactEvmServer()),
    {
      "GET /official": {
        accepts: { scheme: "exact", network: NETWORK, payTo: OFFICIAL_PAYEE, price: "$0.25", maxTimeoutSeconds: 120 },
        description: "premium data behind the reference resource server",
        mimeType: "application/json",
      },
    },
  );
  await official.initialize(); // GET /supported of our facilitator, through the reference client
  const app = new Hono();
  app.get("/official", officialMiddleware(official), (c) => c.json({ data: "official premium" }));
  app.get("/paid", x402Paywall({ facilitator, accepts: () => [requirementsFor(PAYWALL_PAYEE)] }), (c) => {
    delivered++;
    return c.json({ data: "paywalled premium" });
  });
  shop = await serveRelayerService(app);
});

afterAll(async () => {
  await shop?.close();
  await service?.close();
  await relayer?.stop();
  await store?.close();
  await chain?.stop();
});

/** The reference client pays `url` through the 402 handshake; returns both responses. */
async function officialPays(url: string, payer: LocalAccount) {
  const client = new x402HTTPClient(new x402Client().register("eip155:*", new ExactEvmClient(payer)));
  const challenge = await fetch(url);
  const challengeBody: unknown = await challenge.json();
  const required = client.getPaymentRequiredResponse((name) => challenge.headers.get(name), challengeBody);
  const payload = await client.createPaymentPayload(required);
  const paid = await fetch(url, { headers: client.encodePaymentSignatureHeader(payload) });
  const body: unknown = await paid.json();
  const settlement = client.getPaymentSettleResponse((name) => paid.headers.get(name));
  return { challenge, required, payload, paid, body, settlement };
}

describe("the reference HTTPFacilitatorClient against our facilitator", () => {
  it("lists eip155:8453 exact, verifies and settles a payment signed by the reference client: one transaction, the exact amount", async () => {
    const client = new HTTPFacilitatorClient({ url: service.url });
    const supported = await client.getSupported();
    expect(supported.kinds).toContainEqual(
      expect.objectContaining({ x402Version: 2, scheme: "exact", network: NETWORK }),
    );
    expect(supported.signers["eip155:*"]).toContain(signer.address);

    const payer = await fundedPayer();
    const payee = freshAccount().address;
    const requirements = requirementsFor(payee);
    const payload = await officialPayment(payer, requirements);
    const sent = await sentCount();
    expect(await client.verify(payload, requirements)).toMatchObject({ isValid: true, payer: payer.address });
    expect(await sentCount()).toBe(sent); // verifying sends nothing

    const settled = await client.settle(payload, requirements);
    expect(settled).toMatchObject({ success: true, network: NETWORK, payer: payer.address });
    expect(settled.transaction).toMatch(TX_HASH);
    expect(await balanceOf(payee)).toBe(AMOUNT);
    expect(await balanceOf(payer.address)).toBe(1_000_000n - AMOUNT);
    expect((await sentCount()) - sent).toBe(1);
    await expectSettlementTx(settled.transaction);
  });
});

describe("the reference resource server settling through our facilitator", () => {
  it("the reference client pays it end to end: 402, then 200 with a PAYMENT-RESPONSE the reference decoder reads as success", async () => {
    const payer = await fundedPayer();
    const before = await balanceOf(OFFICIAL_PAYEE);
    const sent = await sentCount();
    const { challenge, required, paid, body, settlement } = await officialPays(`${shop.url}/official`, payer);
    expect(challenge.status).toBe(402);
    expect(required.accepts[0]).toMatchObject({
      scheme: "exact",
      network: NETWORK,
      amount: AMOUNT.toString(),
      asset: usdc.address,
      payTo: OFFICIAL_PAYEE,
      extra: { name: "USD Coin", version: "2" },
    });
    expect(paid.status).toBe(200);
    expect(body).toEqual({ data: "official premium" });
    const header = paid.headers.get("PAYMENT-RESPONSE");
    expect(header).not.toBeNull();
    expect(decodePaymentResponseHeader(header ?? "")).toEqual(settlement);
    expect(settlement).toMatchObject({ success: true, network: NETWORK, payer: payer.address });
    expect(settlement.transaction).toMatch(TX_HASH);
    expect((await balanceOf(OFFICIAL_PAYEE)) - before).toBe(AMOUNT);
    expect((await sentCount()) - sent).toBe(1);
    await expectSettlementTx(settlement.transaction);
  });
});

describe("x402Paywall with the in-process facilitator", () => {
  it("this package's payer pays it (PAYMENT-SIGNATURE and X-PAYMENT shapes): 402, then 200 with PAYMENT-RESPONSE and X-PAYMENT-RESPONSE, funds moved once each", async () => {
    for (const style of ["v2", "seed"] as const) {
      const payer = await fundedPayer();
      const pay = x402Payer(payer, { maxAmount: { USDC: 1_000_000n } }, { style });
      const before = await balanceOf(PAYWALL_PAYEE);
      const sent = await sentCount();
      const served = delivered;

      const challenge = await fetch(`${shop.url}/paid`);
      expect(challenge.status).toBe(402);
      const required = challenge.headers.get(HEADERS.paymentRequired);
      expect(required).not.toBeNull();
      expect(delivered).toBe(served);
      const { headerName, headerValue } = await pay(required ?? "");
      expect(headerName).toBe(style === "v2" ? "PAYMENT-SIGNATURE" : "X-PAYMENT");

      const paid = await fetch(`${shop.url}/paid`, { headers: { [headerName]: headerValue } });
      expect(paid.status).toBe(200);
      expect(await paid.json()).toEqual({ data: "paywalled premium" });
      expect(delivered).toBe(served + 1);
      const primary = paid.headers.get(HEADERS.paymentResponse);
      const legacy = paid.headers.get(HEADERS.xPaymentResponse);
      expect(primary).not.toBeNull();
      expect(legacy).toBe(primary);
      const settlement = decodePaymentResponse(primary ?? "");
      expect(settlement).toMatchObject({ success: true, network: NETWORK, payer: payer.address });
      expect(settlement.transaction).toMatch(TX_HASH);
      expect(readPaymentResponse(paid.headers)).toEqual(settlement);
      expect((await balanceOf(PAYWALL_PAYEE)) - before).toBe(AMOUNT);
      expect(await balanceOf(payer.address)).toBe(1_000_000n - AMOUNT);
      expect((await sentCount()) - sent).toBe(1);
      await expectSettlementTx(settlement.transaction);
    }
  });

  it("the reference client pays it: 402 it decodes, then 200 with a PAYMENT-RESPONSE the reference decoder reads as success", async () => {
    const payer = await fundedPayer();
    const before = await balanceOf(PAYWALL_PAYEE);
    const sent = await sentCount();
    const { challenge, required, paid, body, settlement } = await officialPays(`${shop.url}/paid`, payer);
    expect(challenge.status).toBe(402);
    expect(required.accepts).toEqual([requirementsFor(PAYWALL_PAYEE)]);
    expect(paid.status).toBe(200);
    expect(body).toEqual({ data: "paywalled premium" });
    expect(settlement).toMatchObject({ success: true, network: NETWORK, payer: payer.address });
    expect(settlement.transaction).toMatch(TX_HASH);
    expect(decodePaymentResponseHeader(paid.headers.get("X-PAYMENT-RESPONSE") ?? "")).toEqual(settlement);
    expect((await balanceOf(PAYWALL_PAYEE)) - before).toBe(AMOUNT);
    expect((await sentCount()) - sent).toBe(1);
  });
});

describe("tampered payments", () => {
  it("are refused by the paywall and by POST /verify with the reference reason before anything is sent", async () => {
    const payer = await fundedPayer();
    const advertised = requirementsFor(PAYWALL_PAYEE);
    const challenge: PaymentRequired = { x402Version: 2, resource: { url: `${shop.url}/paid` }, accepts: [advertised] };
    const selected = selectPayment(challenge, { maxAmount: { USDC: 1_000_000n } });

    // A payment settled already, to be presented again.
    const spent = await signExactPayment(payer, selected);
    const spentHeader = encodeJsonHeader(toPaymentPayloadV2(spent, selected, challenge.resource));
    const first = await fetch(`${shop.url}/paid`, { headers: { "PAYMENT-SIGNATURE": spentHeader } });
    expect(first.status).toBe(200);
    expect(decodePaymentResponse(first.headers.get(HEADERS.paymentResponse) ?? "").success).toBe(true);

    const lower = { ...selected, amount: 1_000n, requirements: { ...advertised, amount: "1000" } };
    const elsewhere = { ...selected, payTo: THIRD, requirements: { ...advertised, payTo: THIRD } };
    const contradicting = { ...selected, amount: 1_000n }; // accepted: the advertised 250,000
    const cases = [
      {
        name: "amount lower than advertised (1,000 instead of 250,000)",
        payload: toPaymentPayloadV2(await signExactPayment(payer, lower), lower),
        reason: "invalid_exact_evm_payload_authorization_value_mismatch",
      },
      {
        name: "payTo a third address",
        payload: toPaymentPayloadV2(await signExactPayment(payer, elsewhere), elsewhere),
        reason: "invalid_exact_evm_recipient_mismatch",
      },
      {
        name: "an accepted block that contradicts the authorization",
        payload: toPaymentPayloadV2(await signExactPayment(payer, contradicting), selected),
        reason: "invalid_exact_evm_payload_authorization_value_mismatch",
      },
      {
        name: "a reused nonce (settled already)",
        payload: toPaymentPayloadV2(spent, selected),
        reason: "invalid_exact_evm_nonce_already_used",
      },
      {
        name: "expired",
        payload: toPaymentPayloadV2(await signExactPayment(payer, selected, { nowSeconds: clock() - 600 }), selected),
        reason: "invalid_exact_evm_payload_authorization_valid_before",
      },
    ];

    const before = await balanceOf(PAYWALL_PAYEE);
    const payerBefore = await balanceOf(payer.address);
    const sent = await sentCount();
    const jobs = (await relayer.listJobs({ limit: 1_000 })).length;
    const served = delivered;
    for (const { name, payload, reason } of cases) {
      const verdict = await fetch(`${service.url}/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ x402Version: 2, paymentPayload: payload, paymentRequirements: advertised }),
      });
      expect({ name, status: verdict.status, body: await verdict.json() }).toMatchObject({
        name,
        status: 200,
        body: { isValid: false, invalidReason: reason, payer: payer.address },
      });

      const refused = await fetch(`${shop.url}/paid`, {
        headers: { "PAYMENT-SIGNATURE": encodeJsonHeader(payload) },
      });
      const body = (await refused.json()) as { error: string; accepts: unknown };
      expect({ name, status: refused.status, error: body.error }).toEqual({ name, status: 402, error: reason });
      expect(body.accepts).toEqual([advertised]);
      expect(decodePaymentRequiredHeader(refused.headers.get("PAYMENT-REQUIRED") ?? "").error).toBe(reason);
      expect(refused.headers.get(HEADERS.paymentResponse)).toBeNull();

      const a = payload.payload.authorization;
      const job = await relayer.findAuthorizationJob(base.chainId, usdc.address, a.from, a.nonce);
      if (a.nonce === spent.authorization.nonce) expect(job?.status).toBe("confirmed");
      else expect(job, name).toBeUndefined();
    }
    expect(delivered).toBe(served);
    expect((await relayer.listJobs({ limit: 1_000 })).length).toBe(jobs);
    expect(await sentCount()).toBe(sent);
    expect(await balanceOf(PAYWALL_PAYEE)).toBe(before);
    expect(await balanceOf(payer.address)).toBe(payerBefore);
  });
});

describe("POST /settle", () => {
  it("50 concurrent settles of one payment: exactly one success, the others nonce used, one transaction, the payee credited once", async () => {
    const client = new HTTPFacilitatorClient({ url: service.url });
    const payer = await fundedPayer();
    const payee = freshAccount().address;
    const requirements = requirementsFor(payee);
    const payload = await officialPayment(payer, requirements);
    const sent = await sentCount();
    const answers = await Promise.all(Array.from({ length: 50 }, () => client.settle(payload, requirements)));
    const successes = answers.filter((a) => a.success);
    expect(successes).toHaveLength(1);
    const failures = answers.filter((a) => !a.success);
    expect(failures).toHaveLength(49);
    expect(new Set(failures.map((a) => a.errorReason))).toEqual(new Set(["invalid_exact_evm_nonce_already_used"]));
    const hash = successes[0]?.transaction ?? "";
    expect(hash).toMatch(TX_HASH);
    // Those that found the job name its transaction; none names another.
    expect(failures.every((a) => a.transaction === "" || a.transaction === hash)).toBe(true);
    expect((await sentCount()) - sent).toBe(1);
    await expectSettlementTx(hash);
    expect(await balanceOf(payee)).toBe(AMOUNT);
    expect(await balanceOf(payer.address)).toBe(1_000_000n - AMOUNT);
  });

  it("past the time-out answers settlement_pending with the transaction hash; once mined, settling again succeeds with the same hash; a third time, nonce used", async () => {
    const client = new HTTPFacilitatorClient({ url: `${service.url}/short` });
    const payer = await fundedPayer();
    const payee = freshAccount().address;
    const requirements = requirementsFor(payee);
    const payload = await officialPayment(payer, requirements);
    const sent = await sentCount();
    await chain.rpc("evm_setAutomine", [false]);
    try {
      const pending = await client.settle(payload, requirements);
      expect(pending).toMatchObject({ success: false, errorReason: "settlement_pending", payer: payer.address });
      expect(pending.transaction).toMatch(TX_HASH);
      expect(await balanceOf(payee)).toBe(0n);

      await chain.rpc("evm_mine");
      const a = payload.payload.authorization as { from: Address; nonce: string };
      const job = await relayer.findAuthorizationJob(base.chainId, usdc.address, a.from, a.nonce);
      await relayer.waitFor(job?.id ?? "", { timeoutMs: 10_000, pollMs: 20 }); // the relayer saw the receipt

      const settled = await client.settle(payload, requirements);
      expect(settled).toMatchObject({ success: true, transaction: pending.transaction, payer: payer.address });
      const third = await client.settle(payload, requirements);
      expect(third).toMatchObject({ success: false, errorReason: "invalid_exact_evm_nonce_already_used" });
      expect(await balanceOf(payee)).toBe(AMOUNT);
      expect((await sentCount()) - sent).toBe(1); // the retries sent nothing more
      await expectSettlementTx(pending.transaction);
    } finally {
      await chain.rpc("evm_setAutomine", [true]);
    }
  });

  it("a body that does not parse answers 400 with invalid_payload", async () => {
    const post = (path: string, body: string) =>
      fetch(`${service.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const requirements = requirementsFor(PAYWALL_PAYEE);
    for (const body of [
      "{not json",
      JSON.stringify({ nope: 1 }),
      JSON.stringify({
        x402Version: 2,
        paymentPayload: { x402Version: 2, accepted: requirements },
        paymentRequirements: requirements,
      }),
    ]) {
      const verify = await post("/verify", body);
      expect({ body, status: verify.status, json: await verify.json() }).toMatchObject({
        body,
        status: 400,
        json: { isValid: false, invalidReason: "invalid_payload" },
      });
      const settle = await post("/settle", body);
      expect({ body, status: settle.status, json: await settle.json() }).toMatchObject({
        body,
        status: 400,
        json: { success: false, errorReason: "invalid_payload", transaction: "" },
      });
    }
    // The reference client reads the 400 as a refusal with the reason, not as a transport failure.
    const client = new HTTPFacilitatorClient({ url: service.url });
    const unsigned = { x402Version: 2, accepted: requirements } as unknown as TheirPayload;
    await expect(client.verify(unsigned, requirements)).rejects.toMatchObject({
      name: "VerifyError",
      statusCode: 400,
      invalidReason: "invalid_payload",
    });
    await expect(client.settle(unsigned, requirements)).rejects.toMatchObject({
      name: "SettleError",
      statusCode: 400,
      errorReason: "invalid_payload",
    });
  });
});
