// x402 v2 codec: golden vectors (the product documentation's examples and a payload produced by
// the x402 reference client), decoding strict where it matters and tolerant where peers differ,
// refusal of tampered acceptances before anything is signed, and execution of the signatures
// against Circle's real FiatToken on a Base-faithful chain.
import { keccak256, toHex, type WalletClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signAuthorization } from "../src/eip712/index.ts";
import { type FaithfulChain, startFaithfulChain } from "../src/testing/faithful-chain.ts";
import {
  decodeJsonHeader,
  decodePaymentPayload,
  decodePaymentRequired,
  decodePaymentResponse,
  encodeJsonHeader,
  type PaymentRequired,
  readPayment,
  readPaymentHeader,
  readPaymentResponse,
  selectPayment,
  signExactPayment,
  submitExactPayment,
  toPaymentPayloadV2,
  X402Error,
  x402Payer,
} from "../src/x402/index.ts";

const payer = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const COLLECTOR = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

// The product documentation's PAYMENT-REQUIRED payload, with its placeholder wallet filled in.
const seedRequired: PaymentRequired = {
  x402Version: 2,
  error: "Payment required",
  resource: {
    url: "https://www.agentpmt.com/api/external/credits/purchase",
    description: "Purchase AgentPMT Credits",
    mimeType: "application/json",
  },
  accepts: [
    {
      scheme: "exact",
      network: "eip155:8453",
      amount: "5000000",
      asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
      payTo: COLLECTOR,
      maxTimeoutSeconds: 300,
      extra: { name: "USD Coin", version: "2", resourceUrl: "https://www.agentpmt.com/api/external/credits/purchase" },
    },
  ],
};

// A PAYMENT-SIGNATURE payload produced by the x402 reference client (@x402/core and @x402/evm
// 2.27.0) with Date.now() = 1740672094000, nonce bytes 1..32 and the key above.
const REFERENCE_REQUIRED: PaymentRequired = {
  x402Version: 2,
  error: "Payment required",
  resource: {
    url: "https://api.example.com/premium-data",
    description: "Access to premium market data",
    mimeType: "application/json",
  },
  accepts: [
    {
      scheme: "exact",
      network: "eip155:84532",
      amount: "10000",
      asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
      payTo: COLLECTOR,
      maxTimeoutSeconds: 60,
      extra: { name: "USDC", version: "2" },
    },
  ],
};
const REFERENCE_PAYLOAD_JSON =
  '{"x402Version":2,"payload":{"authorization":{"from":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","value":"10000","validAfter":"0","validBefore":"1740672154","nonce":"0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"},"signature":"0x090262ef4c5ff064c6cc38bed8a2d8b46ade8adbd786087e3a2651947d171a9a1a211245595e11c356a97712ec3dfa8a110647a9f85145c8bcf342e9ba28d5181b"},"resource":{"url":"https://api.example.com/premium-data","description":"Access to premium market data","mimeType":"application/json"},"accepted":{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}}';
const REFERENCE_NONCE = "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20" as const;

describe("header encoding", () => {
  it("is standard padded base64 of the UTF-8 JSON, and round-trips", () => {
    const header = encodeJsonHeader(seedRequired);
    expect(header).toBe(b64(JSON.stringify(seedRequired)));
    expect(decodePaymentRequired(header)).toEqual(seedRequired);
    expect(encodeJsonHeader({ note: "é€😀" })).toBe(b64('{"note":"é€😀"}'));
  });

  it("decodes tolerantly: whitespace, URL-safe alphabet, missing padding", () => {
    const header = encodeJsonHeader({ a: "??>>" });
    const urlSafe = header.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    expect(decodeJsonHeader(` ${urlSafe}\n`)).toEqual({ a: "??>>" });
  });

  it.each([
    ["not base64", "%%%"],
    ["not JSON", btoa("hello")],
    ["not UTF-8", btoa(String.fromCharCode(0xff, 0xfe))],
  ])("refuses a header that is %s with HEADER_MALFORMED", (_label, header) => {
    expect(() => decodeJsonHeader(header)).toThrow(expect.objectContaining({ code: "HEADER_MALFORMED" }));
  });
});

describe("PAYMENT-REQUIRED", () => {
  it.each([
    ["x402Version 1", { ...seedRequired, x402Version: 1 }, "VERSION_UNSUPPORTED"],
    ["no accepts", { ...seedRequired, accepts: [] }, "PAYLOAD_INVALID"],
    [
      "amount not decimal",
      { ...seedRequired, accepts: [{ ...seedRequired.accepts[0], amount: "5e6" }] },
      "PAYLOAD_INVALID",
    ],
    [
      "network not CAIP-2",
      { ...seedRequired, accepts: [{ ...seedRequired.accepts[0], network: "base" }] },
      "PAYLOAD_INVALID",
    ],
    [
      "zero timeout",
      { ...seedRequired, accepts: [{ ...seedRequired.accepts[0], maxTimeoutSeconds: 0 }] },
      "PAYLOAD_INVALID",
    ],
    ["no resource", { ...seedRequired, resource: undefined }, "PAYLOAD_INVALID"],
  ])("refuses %s", (_label, value, code) => {
    expect(() => decodePaymentRequired(encodeJsonHeader(value))).toThrow(expect.objectContaining({ code }));
  });

  it("keeps unknown fields it does not need (extensions, extra.resourceUrl)", () => {
    const withExtensions = { ...seedRequired, extensions: { bazaar: { discoverable: true } } };
    expect(decodePaymentRequired(encodeJsonHeader(withExtensions))).toEqual(withExtensions);
  });
});

describe("selecting and signing", () => {
  it("reproduces the x402 reference client's payload byte for byte", async () => {
    const selected = selectPayment(REFERENCE_REQUIRED, { maxAmount: { USDC: 10_000n } });
    const payment = await signExactPayment(payer, selected, { nowSeconds: 1740672094, nonce: REFERENCE_NONCE });
    const payload = toPaymentPayloadV2(payment, selected, REFERENCE_REQUIRED.resource);
    expect(JSON.stringify(payload)).toBe(REFERENCE_PAYLOAD_JSON);
    expect(encodeJsonHeader(payload)).toBe(b64(REFERENCE_PAYLOAD_JSON));
  });

  it("reads the reference client's header, as the server would", () => {
    const inbound = decodePaymentPayload(b64(REFERENCE_PAYLOAD_JSON));
    expect(inbound).toMatchObject({
      shape: "v2",
      scheme: "exact",
      network: "eip155:84532",
      asset: REFERENCE_REQUIRED.accepts[0]?.asset,
    });
    expect(inbound.authorization.nonce).toBe(REFERENCE_NONCE);
  });

  it("builds the documented envelope for X-PAYMENT, in the documented field order", async () => {
    const pay = x402Payer(payer, { maxAmount: { USDC: 5_000_000n } });
    const { headerName, headerValue } = await pay(encodeJsonHeader(seedRequired), {
      nowSeconds: 1777056780,
      nonce: REFERENCE_NONCE,
    });
    expect(headerName).toBe("X-PAYMENT");
    const envelope = decodeJsonHeader(headerValue) as Record<string, unknown>;
    expect(Object.keys(envelope)).toEqual(["x402Version", "scheme", "network", "asset", "payload"]);
    expect(Object.keys(envelope.payload as object)).toEqual(["signature", "authorization"]);
    expect((envelope.payload as { authorization: object }).authorization).toEqual({
      from: payer.address,
      to: COLLECTOR,
      value: "5000000",
      validAfter: "0",
      validBefore: "1777057080",
      nonce: REFERENCE_NONCE,
    });
    const inbound = decodePaymentPayload(headerValue);
    expect(inbound.shape).toBe("seed");
    // The signature is the payer's over the domain the documentation derives (RFC 6979: deterministic).
    const expected = await signAuthorization(
      payer,
      {
        name: "USD Coin",
        version: "2",
        chainId: 8453,
        verifyingContract: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
      },
      {
        from: payer.address,
        to: COLLECTOR,
        value: 5_000_000n,
        validAfter: 0n,
        validBefore: 1777057080n,
        nonce: REFERENCE_NONCE,
      },
    );
    expect(inbound.signature).toBe(expected);
  });

  const tamper = (change: Record<string, unknown>, extra?: Record<string, unknown>): PaymentRequired => ({
    ...seedRequired,
    accepts: [
      { ...(seedRequired.accepts[0] as PaymentRequired["accepts"][number]), ...change, ...(extra ? { extra } : {}) },
    ],
  });
  it.each([
    ["an amount above the cap", tamper({ amount: "5000001" }), "AMOUNT_ABOVE_CAP"],
    ["a network not in the registry", tamper({ network: "eip155:1" }), "DOMAIN_MISMATCH"],
    [
      "an asset not in the registry",
      tamper({ asset: "0x0000000000000000000000000000000000000001" }),
      "DOMAIN_MISMATCH",
    ],
    ["USDC's address on another chain", tamper({ network: "eip155:10" }), "DOMAIN_MISMATCH"],
    ["a wrong domain name", tamper({}, { name: "USDC", version: "2" }), "DOMAIN_MISMATCH"],
    ["a wrong domain version", tamper({}, { name: "USD Coin", version: "1" }), "DOMAIN_MISMATCH"],
    ["no domain in extra", tamper({}, {}), "DOMAIN_MISMATCH"],
    ["a payee that is not an address", tamper({ payTo: "0xagentpmtcollectorwallet" }), "PAYLOAD_INVALID"],
    ["another scheme", tamper({ scheme: "upto" }), "SCHEME_UNSUPPORTED"],
  ])("refuses %s before signing anything", async (_label, required, code) => {
    let signed = 0;
    const counting = {
      ...payer,
      signTypedData: (async (p) => {
        signed++;
        return payer.signTypedData(p);
      }) as typeof payer.signTypedData,
    };
    const pay = x402Payer(counting, { maxAmount: { USDC: 5_000_000n } });
    const error = await pay(encodeJsonHeader(required)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(X402Error);
    expect((error as X402Error).code).toBe("NO_ACCEPTABLE_REQUIREMENTS");
    expect((error as X402Error<"NO_ACCEPTABLE_REQUIREMENTS">).details.refusals).toEqual([
      expect.objectContaining({ code }),
    ]);
    expect(signed).toBe(0);
  });

  it("picks the first acceptance it can pay among several", () => {
    const required = {
      ...seedRequired,
      accepts: [tamper({ network: "eip155:1" }).accepts[0], ...seedRequired.accepts],
    } as PaymentRequired;
    expect(selectPayment(required, { maxAmount: { USDC: 5_000_000n } }).chain.chainId).toBe(8453);
  });

  it("skips a non-EVM or malformed network instead of failing the whole challenge", () => {
    const solana = {
      ...(seedRequired.accepts[0] as PaymentRequired["accepts"][number]),
      network: "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
    };
    const padded = { ...(seedRequired.accepts[0] as PaymentRequired["accepts"][number]), network: "eip155:08453" };
    const required = { ...seedRequired, accepts: [solana, padded, ...seedRequired.accepts] } as PaymentRequired;
    expect(selectPayment(required, { maxAmount: { USDC: 5_000_000n } }).chain.chainId).toBe(8453);
  });

  it("refuses a validity longer than the policy allows (default 600 s)", () => {
    const long = tamper({ maxTimeoutSeconds: 601 });
    expect(() => selectPayment(long, { maxAmount: { USDC: 5_000_000n } })).toThrow(X402Error);
    expect(selectPayment(long, { maxAmount: { USDC: 5_000_000n }, maxTimeoutSeconds: 3_600 }).amount).toBe(5_000_000n);
  });

  it("refuses an amount other than the one the caller expects", async () => {
    const pay = x402Payer(payer, { maxAmount: { USDC: 50_000_000n } });
    await expect(
      pay(encodeJsonHeader(tamper({ amount: "4000000" })), { expectedAmount: 5_000_000n }),
    ).rejects.toMatchObject({
      code: "NO_ACCEPTABLE_REQUIREMENTS",
    });
  });

  it("never signs the same nonce twice, even concurrently", async () => {
    const concurrent = x402Payer(payer, { maxAmount: { USDC: 5_000_000n } });
    const results = await Promise.allSettled([
      concurrent(encodeJsonHeader(seedRequired), { nonce: REFERENCE_NONCE }),
      concurrent(encodeJsonHeader(seedRequired), { nonce: REFERENCE_NONCE }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
  });

  it("never signs the same nonce twice", async () => {
    const pay = x402Payer(payer, { maxAmount: { USDC: 5_000_000n } });
    await pay(encodeJsonHeader(seedRequired), { nonce: REFERENCE_NONCE });
    await expect(pay(encodeJsonHeader(seedRequired), { nonce: REFERENCE_NONCE })).rejects.toMatchObject({
      code: "NONCE_REUSED",
    });
    const a = await pay(encodeJsonHeader(seedRequired));
    const b = await pay(encodeJsonHeader(seedRequired));
    expect(a.payment.authorization.nonce).not.toBe(b.payment.authorization.nonce);
  });

  it("refuses an unconfirmed testnet domain unless the policy allows it", () => {
    const arbSepolia = tamper(
      { network: "eip155:421614", asset: "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d" },
      { name: "USD Coin", version: "2" },
    );
    expect(() => selectPayment(arbSepolia, { maxAmount: { USDC: 5_000_000n } })).toThrow(X402Error);
    expect(
      selectPayment(arbSepolia, { maxAmount: { USDC: 5_000_000n }, allowUnconfirmedDomains: true }).chain.chainId,
    ).toBe(421614);
  });
});

describe("server side", () => {
  it("reads inbound payment headers in the documented priority order", () => {
    const headers = { "x-payment": "x", payment: "p", "payment-signature": "ps" };
    expect(readPaymentHeader(headers)).toEqual({ name: "payment-signature", value: "ps" });
    expect(readPaymentHeader({ PAYMENT: "p", "X-PAYMENT": "x" })).toEqual({ name: "payment", value: "p" });
    // Case does not demote a header below a later alias.
    expect(readPaymentHeader({ "Payment-Signature": "a", "x-payment": "b" })).toEqual({
      name: "payment-signature",
      value: "a",
    });
    expect(readPaymentHeader({ "X-PAYMENT": "x" })).toEqual({ name: "x-payment", value: "x" });
    expect(readPaymentHeader(new Headers({ "X-Payment": "x", Payment: "p" }))?.value).toBe("p");
    expect(readPaymentHeader({})).toBeUndefined();
    const payment = readPayment({ "payment-signature": b64(REFERENCE_PAYLOAD_JSON) });
    expect(payment?.header).toBe("payment-signature");
  });

  it("decodes PAYMENT-RESPONSE (the documented example) and falls back to X-PAYMENT-RESPONSE", () => {
    const response = {
      success: true,
      transaction: "0xaa37bd14ff0f17d20ef9988b86c369e2615a20ed2948dd74b8423378f93ff267",
      network: "eip155:8453",
      payer: payer.address,
      requirements: seedRequired.accepts[0],
    };
    expect(decodePaymentResponse(encodeJsonHeader(response))).toEqual(response);
    expect(readPaymentResponse(new Headers({ "X-PAYMENT-RESPONSE": encodeJsonHeader(response) }))?.transaction).toBe(
      response.transaction,
    );
    // The x402 transport example of a failed settlement.
    const failed =
      "eyJzdWNjZXNzIjpmYWxzZSwiZXJyb3JSZWFzb24iOiJpbnN1ZmZpY2llbnRfZnVuZHMiLCJuZXR3b3JrIjoiZWlwMTU1Ojg0NTMyIn0=";
    expect(decodePaymentResponse(failed)).toMatchObject({
      success: false,
      errorReason: "insufficient_funds",
      transaction: "",
    });
    expect(() => decodePaymentResponse(encodeJsonHeader({ ...response, success: "yes" }))).toThrow(X402Error);
    expect(() => decodePaymentResponse(encodeJsonHeader({ ...response, transaction: "0x" }))).toThrow(X402Error);
  });
});

describe("on the Base-faithful chain with Circle's USDC", () => {
  let local: FaithfulChain;
  beforeAll(async () => {
    local = await startFaithfulChain("base");
    await local.token("USDC").mint(payer.address, 50_000_000n);
  });
  afterAll(async () => local?.close());

  it("the signed X-PAYMENT envelope executes as a TransferWithAuthorization, once", async () => {
    const pay = x402Payer(payer, { maxAmount: { USDC: 5_000_000n } });
    const now = Number((await local.dev.publicClient.getBlock()).timestamp);
    const { headerValue } = await pay(encodeJsonHeader(seedRequired), { nowSeconds: now });
    const inbound = decodePaymentPayload(headerValue);
    const [relayer] = (await local.wallets()) as [WalletClient];
    const submit = () => submitExactPayment(relayer, inbound.asset, inbound);
    const before = await local.token("USDC").balanceOf(COLLECTOR);
    const { events } = await submit();
    expect(events.map((e) => e.eventName)).toEqual(["AuthorizationUsed", "Transfer"]);
    expect((await local.token("USDC").balanceOf(COLLECTOR)) - before).toBe(5_000_000n);
    // A replay is refused by the token, with its reason decoded.
    await expect(submit()).rejects.toMatchObject({
      code: "CONTRACT_REVERTED",
      details: { errorName: "Error", args: ["FiatTokenV2: authorization is used or canceled"] },
    });
    expect(keccak256(toHex(headerValue))).toMatch(/^0x/);
  });
});
