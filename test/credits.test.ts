// Credit packs, canonical JSON, the exact EIP-191 message formats of the product doc
// ("Autonomous Agent Credit Purchase Paths"), and the x402 purchase handshake against a real
// local HTTP server that implements the documented status contract.
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { type Address, type Hex, recoverMessageAddress, verifyMessage } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  backoffDelay,
  balanceMessage,
  CreditsError,
  canonicalJson,
  MAX_CREDIT_PACK,
  type PayChallenge,
  type PurchaseCreditsOptions,
  payloadHash,
  purchaseCredits,
  purchaseCreditsWithTransaction,
  runtimeMessage,
  signBalanceCall,
  signRuntimeCall,
  signSponsorMessage,
  sponsorMessage,
  validateCreditPack,
} from "../src/credits/index.ts";

const account = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
// Checksummed (mixed case) addresses: the messages must carry them lowercased.
const AGENT: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const OTHER: Address = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const AUTH_NONCE: Hex = "0xc244d760baf20000000000000000000000000000000000000000000000000000";
const TX_HASH: Hex = "0xaa37bd14ff0f17d20ef9988b86c369e2615a20ed2948dd74b8423378f93ff267";

/** Run `fn`, expect a CreditsError, and return it. */
function caught(fn: () => unknown): CreditsError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CreditsError);
    return error as CreditsError;
  }
  throw new Error("expected a CreditsError");
}

async function rejection(promise: Promise<unknown>): Promise<CreditsError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(CreditsError);
  return error as CreditsError;
}

const sha256Hex = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const base64Json = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64");
const fromBase64Json = (header: string): unknown => JSON.parse(Buffer.from(header, "base64").toString("utf8"));

describe("validateCreditPack", () => {
  it("prices valid packs: 100 credits = $1, 500 credits = 5 USDC", () => {
    expect(validateCreditPack(500)).toEqual({ credits: 500, usdCents: 500, usdcAmount: 5_000_000n });
    expect(validateCreditPack(1000)).toEqual({ credits: 1000, usdCents: 1000, usdcAmount: 10_000_000n });
    expect(validateCreditPack(1500).usdcAmount).toBe(15_000_000n);
    expect(validateCreditPack(MAX_CREDIT_PACK).usdcAmount).toBe(BigInt(MAX_CREDIT_PACK) * 10_000n);
  });

  it.each([
    [750, 1000],
    [1, 500],
    [499, 500],
    [501, 1000],
    [1000.5, 1500],
    [0.5, 500],
    [0, 500],
    [-0, 500],
    [-500, 500],
    [Number.NaN, 500],
    [Number.NEGATIVE_INFINITY, 500],
  ])("refuses %s and suggests %s", (credits, suggested) => {
    const error = caught(() => validateCreditPack(credits));
    if (!error.is("CREDIT_PACK_INVALID")) throw error;
    expect(error.details.suggestedCredits).toBe(suggested);
    expect(Object.is(error.details.credits, credits)).toBe(true);
  });

  it.each([Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1, MAX_CREDIT_PACK + 500, 1e300])(
    "refuses %s with no suggestion above the largest pack",
    (credits) => {
      const error = caught(() => validateCreditPack(credits));
      if (!error.is("CREDIT_PACK_INVALID")) throw error;
      expect(error.details.suggestedCredits).toBeNull();
    },
  );

  it("refuses a non-number from untyped callers", () => {
    expect(caught(() => validateCreditPack("500" as unknown as number)).code).toBe("CREDIT_PACK_INVALID");
  });
});

describe("canonicalJson", () => {
  it("sorts keys by UTF-16 code units, without whitespace", () => {
    expect(canonicalJson({ b: 1, a: 2, B: 3, _: 4, "10": 5, "9": 6 })).toBe('{"10":5,"9":6,"B":3,"_":4,"a":2,"b":1}');
  });

  it("sorts nested objects and keeps array order", () => {
    const value = { z: [3, 1, { y: true, x: null }], a: { d: "x", c: [[], {}] } };
    expect(canonicalJson(value)).toBe('{"a":{"c":[[],{}],"d":"x"},"z":[3,1,{"x":null,"y":true}]}');
  });

  it("orders non-BMP keys by UTF-16 code units (not code points) and keeps non-ASCII raw", () => {
    // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FFFF in UTF-16 order.
    expect(canonicalJson({ "\uffff": 1, "\u{1F600}": 2, é: 3, z: "ü" })).toBe('{"z":"ü","é":3,"😀":2,"\uffff":1}');
  });

  it("writes strings and numbers exactly as JSON.stringify does", () => {
    const strings = ['q"uote', "back\\slash", "line\nbreak\ttab", "\u0001\u001f", "\ud800 lone", "\u2028", "/"];
    for (const s of strings) expect(canonicalJson(s)).toBe(JSON.stringify(s));
    const numbers = [0, -0, 1, -1.5, 0.1, 1e21, 1.5e-7, 123456789012345680000, Number.MAX_SAFE_INTEGER];
    for (const n of numbers) expect(canonicalJson(n)).toBe(JSON.stringify(n));
    expect(canonicalJson([true, false, null])).toBe("[true,false,null]");
  });

  it("drops undefined members, writes undefined array items as null, and honours toJSON", () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1], c: new Date(0), d: new URL("https://example.com") })).toBe(
      '{"b":[null,1],"c":"1970-01-01T00:00:00.000Z","d":"https://example.com/"}',
    );
  });

  it("accepts shared (non-cyclic) references", () => {
    const shared = { k: 1 };
    expect(canonicalJson({ a: shared, b: [shared, shared] })).toBe('{"a":{"k":1},"b":[{"k":1},{"k":1}]}');
  });

  it("agrees with an independent sorted-keys serializer and round-trips, for any JSON value", () => {
    // Reference: keys sorted with the default (UTF-16 code unit) comparison, leaves via JSON.stringify.
    // (JSON.stringify of a sorted copy would not do: JS always enumerates integer-like keys first.)
    const reference = (value: unknown): string => {
      if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`;
      if (typeof value === "object" && value !== null) {
        const record = value as Record<string, unknown>;
        const members = Object.keys(record)
          .sort()
          .map((key) => `${JSON.stringify(key)}:${reference(record[key])}`);
        return `{${members.join(",")}}`;
      }
      return JSON.stringify(value);
    };
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const json = canonicalJson(value);
        expect(json).toBe(reference(value));
        expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(JSON.parse(json))).toBe(json);
      }),
      { numRuns: 500 },
    );
  });

  const cyclicObject: Record<string, unknown> = { a: 1 };
  cyclicObject.self = { again: cyclicObject };
  const cyclicArray: unknown[] = [1];
  cyclicArray.push([cyclicArray]);
  it.each([
    ["NaN", { n: Number.NaN }],
    ["Infinity", [1, Number.POSITIVE_INFINITY]],
    ["-Infinity", Number.NEGATIVE_INFINITY],
    ["bigint", { v: 1n }],
    ["function", { f: () => 1 }],
    ["symbol", [Symbol("s")]],
    ["top-level undefined", undefined],
    ["object cycle", cyclicObject],
    ["array cycle", cyclicArray],
    ["Map", { m: new Map([["a", 1]]) }],
    [
      "class instance",
      {
        p: new (class Point {
          x = 1;
        })(),
      },
    ],
  ])("refuses %s", (_label, value) => {
    expect(caught(() => canonicalJson(value)).code).toBe("SIGNED_MESSAGE_INVALID");
  });
});

describe("payloadHash", () => {
  it("is the lowercase hex SHA-256 (no 0x) of the canonical JSON's UTF-8 bytes", () => {
    const parameters = { z: 1, a: { c: [3, "x"], b: null }, é: "ü 😀" };
    const canonical = '{"a":{"b":null,"c":[3,"x"]},"z":1,"é":"ü 😀"}';
    expect(canonicalJson(parameters)).toBe(canonical);
    expect(payloadHash(parameters)).toBe(sha256Hex(canonical));
    expect(payloadHash(parameters)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("matches the well-known digest of {}", () => {
    expect(payloadHash({})).toBe("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  });

  it("does not depend on key insertion order", () => {
    expect(payloadHash({ a: 1, b: { c: 2, d: 3 } })).toBe(payloadHash({ b: { d: 3, c: 2 }, a: 1 }));
  });
});

describe("sponsorMessage", () => {
  it("x402 variant: lowercased addresses and the authorization nonce byte for byte", () => {
    const message = sponsorMessage({
      payer: AGENT,
      recipient: OTHER,
      credits: 500,
      reference: { kind: "nonce", nonce: AUTH_NONCE },
    });
    expect(message).toBe(
      "agentpmt-external-sponsor\n" +
        "payer:0x70997970c51812dc3a010c7d01b50e0d17dc79c8\n" +
        "recipient:0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc\n" +
        "credits:500\n" +
        "nonce:0xc244d760baf20000000000000000000000000000000000000000000000000000",
    );
  });

  it("emits the nonce in lowercase hex, equal to the envelope's authorization.nonce", () => {
    const envelopeNonce = "0xC244D760BAF20000000000000000000000000000000000000000000000000ABC";
    const message = sponsorMessage({
      payer: OTHER,
      recipient: AGENT,
      credits: 1000,
      reference: { kind: "nonce", nonce: envelopeNonce },
    });
    const lastLine = message.split("\n").at(-1);
    expect(lastLine).toBe(`nonce:${envelopeNonce.toLowerCase()}`);
    expect(message.endsWith("\n")).toBe(false);
  });

  it("self-broadcast variant uses the tx: line", () => {
    const message = sponsorMessage({
      payer: AGENT,
      recipient: OTHER,
      credits: 1500,
      reference: { kind: "tx", transactionHash: TX_HASH },
    });
    expect(message).toBe(
      "agentpmt-external-sponsor\n" +
        "payer:0x70997970c51812dc3a010c7d01b50e0d17dc79c8\n" +
        "recipient:0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc\n" +
        "credits:1500\n" +
        "tx:0xaa37bd14ff0f17d20ef9988b86c369e2615a20ed2948dd74b8423378f93ff267",
    );
  });

  it.each([
    ["short nonce", { reference: { kind: "nonce", nonce: "0x1234" } }],
    ["nonce without 0x", { reference: { kind: "nonce", nonce: AUTH_NONCE.slice(2) } }],
    ["non-hex tx", { reference: { kind: "tx", transactionHash: `0x${"g".repeat(64)}` } }],
    ["unknown reference kind", { reference: { kind: "hash", nonce: AUTH_NONCE } }],
    ["bad payer", { payer: "0x1234" }],
    ["bad checksum", { recipient: "0x3c44CdDdB6a900fa2b585dd299e03d12FA4293BC" }],
    ["bad pack", { credits: 750 }],
  ])("refuses %s", (_label, override) => {
    const input = {
      payer: AGENT,
      recipient: OTHER,
      credits: 500,
      reference: { kind: "nonce", nonce: AUTH_NONCE },
      ...override,
    } as Parameters<typeof sponsorMessage>[0];
    expect(caught(() => sponsorMessage(input)).code).toBe("SIGNED_MESSAGE_INVALID");
  });

  it("reports the pack suggestion when the credits are invalid", () => {
    const error = caught(() =>
      sponsorMessage({ payer: AGENT, recipient: OTHER, credits: 750, reference: { kind: "nonce", nonce: AUTH_NONCE } }),
    );
    expect(error.details).toMatchObject({ field: "credits", credits: 750, suggestedCredits: 1000 });
    expect((error.cause as CreditsError).code).toBe("CREDIT_PACK_INVALID");
  });
});

describe("runtime and balance messages", () => {
  const runtimeInput = {
    wallet: AGENT,
    sessionNonce: "sess_3f9a1c",
    requestId: "invoke-0b6f4e2a",
    action: "invoke",
    productId: "prod_42",
    parameters: { your_param: "value" },
  };

  it("runtime message: doc template with the payload hash of the canonical parameters", () => {
    expect(runtimeMessage(runtimeInput)).toBe(
      "agentpmt-external\n" +
        "wallet:0x70997970c51812dc3a010c7d01b50e0d17dc79c8\n" +
        "session:sess_3f9a1c\n" +
        "request:invoke-0b6f4e2a\n" +
        "action:invoke\n" +
        "product:prod_42\n" +
        `payload:${sha256Hex('{"your_param":"value"}')}`,
    );
  });

  it("balance message: product dash and an empty payload line", () => {
    const input = { wallet: AGENT, sessionNonce: "sess_3f9a1c", requestId: "balance-uuid" };
    expect(balanceMessage(input)).toBe(
      "agentpmt-external\n" +
        "wallet:0x70997970c51812dc3a010c7d01b50e0d17dc79c8\n" +
        "session:sess_3f9a1c\n" +
        "request:balance-uuid\n" +
        "action:balance\n" +
        "product:-\n" +
        "payload:",
    );
  });

  it.each([
    ["session with LF", { sessionNonce: "abc\naction:withdraw" }],
    ["session with CR", { sessionNonce: "abc\r" }],
    ["empty session", { sessionNonce: "" }],
    ["empty request id", { requestId: "" }],
    ["request id with CRLF", { requestId: "r\r\nx" }],
    ["action with LF", { action: "invoke\n" }],
    ["empty action", { action: "" }],
    ["product with LF", { productId: "p\npayload:0" }],
    ["empty product", { productId: "" }],
    ["bad wallet", { wallet: "0xnope" }],
    ["unhashable parameters", { parameters: { amount: 1n } }],
  ])("refuses %s", (_label, override) => {
    const input = { ...runtimeInput, ...override } as Parameters<typeof runtimeMessage>[0];
    expect(caught(() => runtimeMessage(input)).code).toBe("SIGNED_MESSAGE_INVALID");
  });

  it("balance message refuses forged lines too", () => {
    const error = caught(() => balanceMessage({ wallet: AGENT, sessionNonce: "s", requestId: "a\nb" }));
    expect(error.code).toBe("SIGNED_MESSAGE_INVALID");
  });
});

describe("signing", () => {
  it("signs each message with EIP-191 so that it recovers to the account", async () => {
    expect(account.address).toBe(AGENT);
    const sponsor = await signSponsorMessage(account, {
      payer: AGENT,
      recipient: OTHER,
      credits: 500,
      reference: { kind: "nonce", nonce: AUTH_NONCE },
    });
    const runtime = await signRuntimeCall(account, {
      wallet: AGENT.toLowerCase() as Address,
      sessionNonce: "s1",
      requestId: "r1",
      action: "invoke",
      productId: "p1",
      parameters: { q: [1, 2] },
    });
    const balance = await signBalanceCall(account, { wallet: AGENT, sessionNonce: "s1", requestId: "balance-1" });
    for (const signed of [sponsor, runtime, balance]) {
      expect(signed.signature).toMatch(/^0x[0-9a-f]{130}$/);
      expect(await recoverMessageAddress({ message: signed.message, signature: signed.signature })).toBe(AGENT);
      expect(await verifyMessage({ address: AGENT, message: signed.message, signature: signed.signature })).toBe(true);
    }
    expect(sponsor.message).toBe(
      sponsorMessage({ payer: AGENT, recipient: OTHER, credits: 500, reference: { kind: "nonce", nonce: AUTH_NONCE } }),
    );
    expect(balance.message.endsWith("\npayload:")).toBe(true);
  });

  it("refuses to sign for another address", async () => {
    const sponsor = signSponsorMessage(account, {
      payer: OTHER,
      recipient: AGENT,
      credits: 500,
      reference: { kind: "tx", transactionHash: TX_HASH },
    });
    expect((await rejection(sponsor)).code).toBe("SIGNED_MESSAGE_INVALID");
    const runtime = signRuntimeCall(account, {
      wallet: OTHER,
      sessionNonce: "s",
      requestId: "r",
      action: "invoke",
      productId: "p",
      parameters: {},
    });
    expect((await rejection(runtime)).code).toBe("SIGNED_MESSAGE_INVALID");
    const balance = signBalanceCall(account, { wallet: OTHER, sessionNonce: "s", requestId: "r" });
    expect((await rejection(balance)).code).toBe("SIGNED_MESSAGE_INVALID");
  });
});

// --- The purchase handshake against a real HTTP server -------------------------------------

const PAYMENT_REQUIRED = {
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
      payTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
      maxTimeoutSeconds: 300,
      extra: {
        name: "USD Coin",
        version: "2",
        resourceUrl: "https://www.agentpmt.com/api/external/credits/purchase",
      },
    },
  ],
};

const ENVELOPE = {
  x402Version: 2,
  scheme: "exact",
  network: "eip155:8453",
  asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
  payload: {
    signature: `0x${"aabbccddeeff00112233445566778899".repeat(4)}1b`,
    authorization: {
      from: AGENT,
      to: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
      value: "5000000",
      validAfter: "0",
      validBefore: "1777057080",
      nonce: AUTH_NONCE,
    },
  },
};

const PAYMENT_RESPONSE = {
  success: true,
  transaction: TX_HASH,
  network: "eip155:8453",
  payer: AGENT,
  requirements: PAYMENT_REQUIRED.accepts[0],
};

const SUCCESS_BODY = {
  message: "Credits purchased successfully",
  wallet_address: AGENT,
  balance_credits: 1500,
  balance_usd: 15,
};

type Reply = { status: number; headers?: Record<string, string>; body?: unknown } | "drop-connection";

interface Recorded {
  readonly method: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

const CHALLENGE: Reply = {
  status: 402,
  headers: { "PAYMENT-REQUIRED": base64Json(PAYMENT_REQUIRED) },
  body: PAYMENT_REQUIRED,
};
const OK: Reply = { status: 200, headers: { "PAYMENT-RESPONSE": base64Json(PAYMENT_RESPONSE) }, body: SUCCESS_BODY };
const PENDING: Reply = { status: 202, body: { message: "Pending confirmations" } };
const FAILURE: Reply = { status: 500, body: { error: "Circle broadcast failed" } };

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function startRoute(respond: (request: Recorded, index: number) => Reply | Promise<Reply>) {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const record = {
        method: req.method,
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
      };
      requests.push(record);
      const reply = await respond(record, requests.length - 1);
      if (reply === "drop-connection") {
        req.socket.destroy();
        return;
      }
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
      res.end(reply.body === undefined ? "" : JSON.stringify(reply.body));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}/api/external/credits/purchase`, requests };
}

const isPaid = (request: Recorded) =>
  ["x-payment", "payment", "payment-signature"].some((name) => request.headers[name] !== undefined);

/** The documented route: a 402 challenge until paid, then `paid` in order (the last one repeats). */
function x402Route(paid: readonly Reply[], unpaid: readonly Reply[] = []) {
  let unpaidIndex = 0;
  let paidIndex = 0;
  return startRoute((request) => {
    if (!isPaid(request)) return unpaid[unpaidIndex++] ?? CHALLENGE;
    const reply = paid[Math.min(paidIndex++, paid.length - 1)];
    if (!reply) throw new Error("no paid reply scripted");
    return reply;
  });
}

function harness() {
  const delays: number[] = [];
  const pay = vi.fn<PayChallenge>(async (header) => {
    expect(fromBase64Json(header)).toEqual(PAYMENT_REQUIRED);
    return { headerName: "X-PAYMENT", headerValue: base64Json(ENVELOPE) };
  });
  const sleep = async (ms: number) => {
    delays.push(ms);
  };
  const options = (endpoint: string, extra: Partial<PurchaseCreditsOptions> = {}): PurchaseCreditsOptions => ({
    endpoint,
    walletAddress: AGENT,
    credits: 500,
    requestId: "purchase-7d1c",
    pay,
    sleep,
    ...extra,
  });
  return { delays, pay, options };
}

function expectSameRequest(requests: readonly Recorded[], requestId = "purchase-7d1c") {
  for (const request of requests) {
    expect(request.method).toBe("POST");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.body).toEqual({
      wallet_address: AGENT,
      credits: 500,
      payment_method: "x402",
      request_id: requestId,
    });
  }
}

describe("purchaseCredits", () => {
  it("402 -> pay -> 200 with the PAYMENT-RESPONSE header", async () => {
    const route = await x402Route([OK]);
    const { delays, pay, options } = harness();
    const result = await purchaseCredits(options(route.endpoint));
    expect(result).toEqual({
      status: 200,
      body: SUCCESS_BODY,
      paymentResponse: base64Json(PAYMENT_RESPONSE),
      settlement: PAYMENT_RESPONSE,
      requestId: "purchase-7d1c",
      attempts: 2,
    });
    // Typed: the balances are numbers, the settlement decoded.
    const credits: number = result.body.balance_credits;
    expect([credits, result.body.balance_usd, result.settlement?.transaction]).toEqual([1500, 15, TX_HASH]);
    expect(fromBase64Json(result.paymentResponse ?? "")).toEqual(PAYMENT_RESPONSE);
    expect(pay).toHaveBeenCalledTimes(1);
    expect(pay).toHaveBeenCalledWith(base64Json(PAYMENT_REQUIRED), {
      expectedAmount: 5_000_000n,
      requestId: expect.any(String),
    });
    expect(route.requests).toHaveLength(2);
    expectSameRequest(route.requests);
    expect(route.requests[0]?.headers["x-payment"]).toBeUndefined();
    expect(fromBase64Json(String(route.requests[1]?.headers["x-payment"]))).toEqual(ENVELOPE);
    expect(delays).toEqual([]);
  });

  it("202 twice then 200: same request_id and payment header, paid once, exponential backoff", async () => {
    const route = await x402Route([PENDING, PENDING, OK]);
    const { delays, pay, options } = harness();
    const result = await purchaseCredits(options(route.endpoint));
    expect(result.attempts).toBe(4);
    expect(pay).toHaveBeenCalledTimes(1);
    expect(route.requests).toHaveLength(4);
    expectSameRequest(route.requests);
    const paymentHeaders = route.requests.slice(1).map((request) => request.headers["x-payment"]);
    expect(new Set(paymentHeaders)).toEqual(new Set([base64Json(ENVELOPE)]));
    expect(delays).toEqual([500, 1000]);
  });

  it("500 then 200 after paying keeps the request_id", async () => {
    const route = await x402Route([FAILURE, OK]);
    const { delays, pay, options } = harness();
    const result = await purchaseCredits(options(route.endpoint));
    expect(result.attempts).toBe(3);
    expect(pay).toHaveBeenCalledTimes(1);
    expectSameRequest(route.requests);
    expect(delays).toEqual([500]);
  });

  it("retries a 503 before the challenge, then pays once", async () => {
    const route = await x402Route([OK], [{ status: 503, body: "down" }]);
    const { delays, pay, options } = harness();
    const result = await purchaseCredits(options(route.endpoint));
    expect(result.attempts).toBe(3);
    expect(pay).toHaveBeenCalledTimes(1);
    expectSameRequest(route.requests);
    expect(delays).toEqual([500]);
  });

  it("retries a dropped connection with the same request_id and payment", async () => {
    const route = await x402Route(["drop-connection", OK]);
    const { delays, pay, options } = harness();
    const result = await purchaseCredits(options(route.endpoint));
    expect(result.attempts).toBe(3);
    expect(pay).toHaveBeenCalledTimes(1);
    expect(route.requests).toHaveLength(3);
    expectSameRequest(route.requests);
    expect(route.requests[2]?.headers["x-payment"]).toBe(route.requests[1]?.headers["x-payment"]);
    expect(delays).toEqual([500]);
  });

  it("500 forever: bounded attempts, then PURCHASE_RETRIES_EXHAUSTED", async () => {
    const route = await x402Route([FAILURE]);
    const { delays, pay, options } = harness();
    const error = await rejection(purchaseCredits(options(route.endpoint)));
    expect(error.code).toBe("PURCHASE_RETRIES_EXHAUSTED");
    expect(error.details).toMatchObject({ attempts: 5, lastStatus: 500, requestId: "purchase-7d1c", paid: true });
    expect(route.requests).toHaveLength(5);
    expectSameRequest(route.requests);
    expect(pay).toHaveBeenCalledTimes(1);
    expect(delays).toEqual([500, 1000, 2000]);
  });

  it("resumes with the payment from an exhausted attempt instead of signing a second one", async () => {
    const first = await x402Route([FAILURE]);
    const { pay, options } = harness();
    const error = await rejection(purchaseCredits(options(first.endpoint, { maxAttempts: 2 })));
    if (!error.is("PURCHASE_RETRIES_EXHAUSTED")) throw error;
    expect(error.details.paid).toBe(true);
    const payment = error.details.payment;
    if (!payment) throw new Error("no payment to resume with");
    expect(payment).toEqual({ headerName: "X-PAYMENT", headerValue: base64Json(ENVELOPE) });
    const second = await x402Route([{ status: 200, body: { balance_credits: 500, balance_usd: 5 } }]);
    const resumed = await purchaseCredits(options(second.endpoint, { payment }));
    expect(resumed.status).toBe(200);
    // Sent with the payment header at once; no new challenge, no new signature.
    expect(second.requests[0]?.headers["x-payment"]).toBe(base64Json(ENVELOPE));
    expect(pay).toHaveBeenCalledTimes(1);
  });

  it("refuses a signed payment whose amount is not the pack's price, before sending it", async () => {
    const route = await x402Route([FAILURE]);
    const { options } = harness();
    const overpaying = base64Json({
      ...ENVELOPE,
      payload: { ...ENVELOPE.payload, authorization: { ...ENVELOPE.payload.authorization, value: "50000000" } },
    });
    const error = await rejection(
      purchaseCredits(
        options(route.endpoint, { pay: async () => ({ headerName: "X-PAYMENT", headerValue: overpaying }) }),
      ),
    );
    expect(error.code).toBe("PURCHASE_PROTOCOL_ERROR");
    expect(error.details).toMatchObject({ paid: "50000000", expected: "5000000" });
    expect(route.requests).toHaveLength(1);
  });

  it("202 forever: bounded by the pending time budget, delays growing by the factor up to the cap", async () => {
    const route = await x402Route([PENDING]);
    const { options } = harness();
    const delays: number[] = [];
    let clock = 0;
    const backoff = { initialMs: 100, factor: 3, maxMs: 1000 };
    const error = await rejection(
      purchaseCredits(
        options(route.endpoint, {
          backoff,
          pendingTimeoutMs: 3_000,
          now: () => clock,
          sleep: async (ms) => {
            delays.push(ms);
            clock += ms;
          },
        }),
      ),
    );
    expect(error.code).toBe("PURCHASE_RETRIES_EXHAUSTED");
    expect(error.details).toMatchObject({ attempts: 7, lastStatus: 202, paid: true });
    expect(route.requests).toHaveLength(7);
    expect(delays).toEqual([100, 300, 900, 1000, 1000]);
    expect(delays).toEqual([0, 1, 2, 3, 4].map((n) => backoffDelay(backoff, n)));
  });

  it("202 many more times than maxAttempts keeps going within the budget (the seed: retry until 200 or 400)", async () => {
    const route = await x402Route([...Array.from({ length: 12 }, () => PENDING), OK]);
    const { pay, options } = harness();
    let clock = 0;
    const result = await purchaseCredits(
      options(route.endpoint, {
        now: () => clock,
        sleep: async (ms) => {
          clock += ms;
        },
      }),
    );
    expect(result.status).toBe(200);
    expect(result.attempts).toBe(14);
    expect(pay).toHaveBeenCalledTimes(1);
    expectSameRequest(route.requests);
    expect(clock).toBeLessThan(120_000); // default budget: minutes, not a count
  });

  it("400 surfaces the server's error text without retrying", async () => {
    const route = await x402Route([{ status: 400, body: { error: "Authorization signature is invalid" } }]);
    const { delays, pay, options } = harness();
    const error = await rejection(purchaseCredits(options(route.endpoint)));
    expect(error.code).toBe("PURCHASE_REJECTED");
    expect(error.details).toMatchObject({
      status: 400,
      error: "Authorization signature is invalid",
      requestId: "purchase-7d1c",
    });
    expect(error.message).toContain("Authorization signature is invalid");
    expect(route.requests).toHaveLength(2);
    expect(pay).toHaveBeenCalledTimes(1);
    expect(delays).toEqual([]);
  });

  it("400 on the challenge request passes on suggested_credits", async () => {
    const route = await x402Route([], [{ status: 400, body: { error: "Invalid pack", suggested_credits: 1000 } }]);
    const { pay, options } = harness();
    const error = await rejection(purchaseCredits(options(route.endpoint)));
    expect(error.details).toMatchObject({ error: "Invalid pack", suggestedCredits: 1000 });
    expect(pay).not.toHaveBeenCalled();
  });

  it("an invalid pack never reaches the server", async () => {
    const route = await x402Route([OK]);
    const { pay, options } = harness();
    const error = await rejection(purchaseCredits(options(route.endpoint, { credits: 750 })));
    expect(error.code).toBe("CREDIT_PACK_INVALID");
    expect(error.details).toMatchObject({ credits: 750, suggestedCredits: 1000 });
    expect(route.requests).toHaveLength(0);
    expect(pay).not.toHaveBeenCalled();
  });

  it("a 402 without PAYMENT-REQUIRED is a protocol error", async () => {
    const route = await x402Route([OK], [{ status: 402, body: PAYMENT_REQUIRED }]);
    const { pay, options } = harness();
    const error = await rejection(purchaseCredits(options(route.endpoint)));
    expect(error.code).toBe("PURCHASE_PROTOCOL_ERROR");
    expect(pay).not.toHaveBeenCalled();
  });

  it("a second 402 after paying is a protocol error", async () => {
    const route = await x402Route([CHALLENGE]);
    const { pay, options } = harness();
    const error = await rejection(purchaseCredits(options(route.endpoint)));
    expect(error.code).toBe("PURCHASE_PROTOCOL_ERROR");
    expect(route.requests).toHaveLength(2);
    expect(pay).toHaveBeenCalledTimes(1);
  });

  it("an undocumented status is a protocol error", async () => {
    const route = await x402Route([{ status: 404, body: { error: "not found" } }]);
    const { options } = harness();
    const error = await rejection(purchaseCredits(options(route.endpoint)));
    expect(error.code).toBe("PURCHASE_PROTOCOL_ERROR");
    expect(error.details).toMatchObject({ status: 404 });
  });

  it("does not pay when no attempt is left to send the payment", async () => {
    const route = await x402Route([OK]);
    const { pay, options } = harness();
    const error = await rejection(purchaseCredits(options(route.endpoint, { maxAttempts: 1 })));
    expect(error.code).toBe("PURCHASE_RETRIES_EXHAUSTED");
    expect(error.details).toMatchObject({ attempts: 1, lastStatus: 402, paid: false });
    expect(pay).not.toHaveBeenCalled();
  });

  it("reads X-PAYMENT-RESPONSE when PAYMENT-RESPONSE is absent, and prefers PAYMENT-RESPONSE", async () => {
    const legacy = await x402Route([{ ...OK, headers: { "X-PAYMENT-RESPONSE": "bGVnYWN5" } }]);
    expect((await purchaseCredits(harness().options(legacy.endpoint))).paymentResponse).toBe("bGVnYWN5");
    const both = await x402Route([
      { ...OK, headers: { "X-PAYMENT-RESPONSE": "bGVnYWN5", "PAYMENT-RESPONSE": "djI=" } },
    ]);
    expect((await purchaseCredits(harness().options(both.endpoint))).paymentResponse).toBe("djI=");
    const none = await x402Route([{ status: 200, body: SUCCESS_BODY }]);
    expect((await purchaseCredits(harness().options(none.endpoint))).paymentResponse).toBeUndefined();
  });

  it("generates a UUID request_id by default and honours paymentHeaderName", async () => {
    const route = await x402Route([OK]);
    const { options } = harness();
    const result = await purchaseCredits({
      ...options(route.endpoint, { paymentHeaderName: "payment-signature" }),
      requestId: undefined,
    });
    expect(result.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expectSameRequest(route.requests, result.requestId);
    expect(route.requests[1]?.headers["payment-signature"]).toBe(base64Json(ENVELOPE));
    expect(route.requests[1]?.headers["x-payment"]).toBeUndefined();
  });

  it("human-sponsored purchase: the route verifies the sponsor signature against the X-PAYMENT nonce", async () => {
    const human = account; // the human payer's wallet
    const agentWallet = OTHER;
    const { signature } = await signSponsorMessage(human, {
      payer: human.address,
      recipient: agentWallet,
      credits: 500,
      reference: { kind: "nonce", nonce: AUTH_NONCE },
    });
    const verdicts: boolean[] = [];
    const route = await startRoute(async (request) => {
      const header = request.headers["x-payment"];
      if (header === undefined) return CHALLENGE;
      const envelope = fromBase64Json(String(header)) as typeof ENVELOPE;
      const { body } = request;
      // The server rebuilds the message from the body and the envelope's nonce, per the doc.
      const expected = [
        "agentpmt-external-sponsor",
        `payer:${String(body.payer_wallet_address).toLowerCase()}`,
        `recipient:${String(body.wallet_address).toLowerCase()}`,
        `credits:${String(body.credits)}`,
        `nonce:${envelope.payload.authorization.nonce}`,
      ].join("\n");
      const verified = await verifyMessage({
        address: body.payer_wallet_address as Address,
        message: expected,
        signature: body.sponsor_signature as Hex,
      });
      verdicts.push(verified);
      return verified ? OK : { status: 400, body: { error: "Sponsor signature mismatch" } };
    });
    const { options } = harness();
    const result = await purchaseCredits(
      options(route.endpoint, {
        walletAddress: agentWallet,
        payerWalletAddress: human.address,
        sponsorSignature: signature,
        nonce: AUTH_NONCE,
      }),
    );
    expect(result.status).toBe(200);
    expect(verdicts).toEqual([true]);
    for (const request of route.requests) {
      expect(request.body).toEqual({
        wallet_address: agentWallet,
        credits: 500,
        payment_method: "x402",
        request_id: "purchase-7d1c",
        payer_wallet_address: human.address,
        sponsor_signature: signature,
      });
    }
  });

  it("human-sponsored purchase with the sponsor's signer: the client picks the nonce, the sponsor signs it, pay signs with it", async () => {
    const human = account;
    const verdicts: boolean[] = [];
    const route = await startRoute(async (request) => {
      const header = request.headers["x-payment"];
      if (header === undefined) return CHALLENGE;
      const envelope = fromBase64Json(String(header)) as typeof ENVELOPE;
      const { body } = request;
      const verified = await verifyMessage({
        address: body.payer_wallet_address as Address,
        message: sponsorMessage({
          payer: body.payer_wallet_address as Address,
          recipient: body.wallet_address as Address,
          credits: Number(body.credits),
          reference: { kind: "nonce", nonce: envelope.payload.authorization.nonce as Hex },
        }),
        signature: body.sponsor_signature as Hex,
      });
      verdicts.push(verified);
      return verified ? OK : { status: 400, body: { error: "Sponsor signature mismatch" } };
    });
    const nonces: (Hex | undefined)[] = [];
    const pay: PayChallenge = async (_challenge, { nonce }) => {
      nonces.push(nonce);
      const authorization = { ...ENVELOPE.payload.authorization, nonce: nonce ?? AUTH_NONCE };
      return {
        headerName: "X-PAYMENT",
        headerValue: base64Json({ ...ENVELOPE, payload: { ...ENVELOPE.payload, authorization } }),
      };
    };
    const { options } = harness();
    const result = await purchaseCredits(
      options(route.endpoint, { walletAddress: OTHER, payerWalletAddress: human.address, sponsor: human, pay }),
    );
    expect(result.status).toBe(200);
    expect(verdicts).toEqual([true]);
    expect(nonces).toHaveLength(1);
    expect(nonces[0]).toMatch(/^0x[0-9a-f]{64}$/);
    // A pay that ignores the nonce is refused before the payment is sent.
    const strict = await x402Route([OK]);
    const error = await rejection(
      purchaseCredits(
        options(strict.endpoint, { walletAddress: OTHER, payerWalletAddress: human.address, sponsor: human }),
      ),
    );
    expect(error.code).toBe("PURCHASE_PROTOCOL_ERROR");
    expect(strict.requests).toHaveLength(1);
  });

  it("Path B, self-broadcast: transaction_hash and the tx: sponsor message, 202 then 200", async () => {
    const human = account;
    const seen: Record<string, unknown>[] = [];
    const route = await startRoute(async (request, index) => {
      const { body } = request;
      seen.push(body);
      const verified = await verifyMessage({
        address: body.payer_wallet_address as Address,
        message: sponsorMessage({
          payer: body.payer_wallet_address as Address,
          recipient: body.wallet_address as Address,
          credits: Number(body.credits),
          reference: { kind: "tx", transactionHash: body.transaction_hash as Hex },
        }),
        signature: body.sponsor_signature as Hex,
      });
      if (!verified) return { status: 400, body: { error: "Sponsor signature mismatch" } };
      return index === 0 ? PENDING : OK;
    });
    const { options } = harness();
    const { pay: _unused, ...common } = options(route.endpoint, { walletAddress: OTHER });
    const result = await purchaseCreditsWithTransaction({
      ...common,
      payerWalletAddress: human.address,
      sponsor: human,
      transactionHash: TX_HASH,
    });
    expect(result).toMatchObject({ status: 200, attempts: 2, body: { balance_credits: 1500 } });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({
      wallet_address: OTHER,
      credits: 500,
      payment_method: "x402",
      payer_wallet_address: human.address,
      transaction_hash: TX_HASH,
    });
    expect(seen[1]).toEqual(seen[0]);
    await expect(
      purchaseCreditsWithTransaction({ ...common, payerWalletAddress: human.address, transactionHash: "0x12" }),
    ).rejects.toMatchObject({ code: "OPTION_INVALID" });
  });

  it("stops when aborted, without retrying", async () => {
    const route = await x402Route([OK]);
    const { pay, options } = harness();
    const controller = new AbortController();
    controller.abort(new Error("caller gave up"));
    await expect(purchaseCredits(options(route.endpoint, { signal: controller.signal }))).rejects.toThrow(
      "caller gave up",
    );
    expect(route.requests).toHaveLength(0);
    expect(pay).not.toHaveBeenCalled();
  });

  it("refuses unusable settings before any request", async () => {
    const route = await x402Route([OK]);
    const { options } = harness();
    await expect(purchaseCredits(options(route.endpoint, { maxAttempts: 0 }))).rejects.toMatchObject({
      code: "OPTION_INVALID",
      details: { option: "maxAttempts", value: 0 },
    });
    await expect(
      purchaseCredits(options(route.endpoint, { backoff: { initialMs: 100, factor: 0.5, maxMs: 1000 } })),
    ).rejects.toMatchObject({ code: "OPTION_INVALID", details: { option: "backoff" } });
    await expect(purchaseCredits(options(route.endpoint, { requestId: "" }))).rejects.toMatchObject({
      code: "OPTION_INVALID",
      details: { option: "requestId" },
    });
    await expect(purchaseCredits(options(route.endpoint, { requestId: "" }))).rejects.toBeInstanceOf(CreditsError);
    expect(route.requests).toHaveLength(0);
  });
});
