import type { Address, Hex } from "viem";
import { decodePaymentPayload } from "../wire/x402/decode.ts";
import { CreditsError } from "./errors.ts";
import { validateCreditPack } from "./packs.ts";

/** Exponential backoff: the n-th delay (from 0) is `min(maxMs, initialMs * factor ** n)`. */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
}

/** Backoff used when none is given: 500 ms, doubling, capped at 8 s. */
export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ initialMs: 500, factor: 2, maxMs: 8000 });

/** Total number of POSTs (the unpaid challenge request included) a purchase makes at most by default. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** The header that carries a signed x402 payment on the retried request. */
export interface PaymentHeader {
  /** For example `X-PAYMENT` (the route also accepts `PAYMENT` and `payment-signature`). */
  readonly headerName: string;
  /** The base64 payment envelope. */
  readonly headerValue: string;
}

/**
 * Turns the raw (base64) `PAYMENT-REQUIRED` challenge into a signed payment header: decoding,
 * choosing an acceptance and signing the authorization are its job, not this client's.
 */
export type PayChallenge = (
  paymentRequiredHeader: string,
  context: { readonly expectedAmount: bigint; readonly requestId: string },
) => Promise<PaymentHeader>;

/** Options of {@link purchaseCredits}. */
export interface PurchaseCreditsOptions {
  /** Absolute URL of the purchase route, e.g. `https://www.agentpmt.com/api/external/credits/purchase`. */
  readonly endpoint: string | URL;
  /** The wallet that receives the credits (sent as given). */
  readonly walletAddress: Address;
  /** Pack size; a positive multiple of 500, validated before any request. */
  readonly credits: number;
  /** Human-sponsored path: the wallet paying the USDC. */
  readonly payerWalletAddress?: Address;
  /** Human-sponsored path: the payer's EIP-191 signature over the sponsor message. */
  readonly sponsorSignature?: Hex;
  /** Idempotency key kept across every retry; a random UUID by default. */
  readonly requestId?: string;
  /** The fetch implementation; `globalThis.fetch` by default. */
  readonly fetch?: typeof fetch;
  /** Called once, with the challenge, to obtain the payment header. */
  readonly pay: PayChallenge;
  /**
   * A payment header signed by an earlier call with the same `requestId` (from the
   * `PURCHASE_RETRIES_EXHAUSTED` error's `details.payment`): resume with it instead of signing a
   * second payment.
   */
  readonly payment?: PaymentHeader;
  /**
   * Upper bound on POSTs, the unpaid challenge request included ({@link DEFAULT_MAX_ATTEMPTS} by
   * default). A paid purchase needs at least 2.
   */
  readonly maxAttempts?: number;
  /** Delays between retries after a 202, a 5xx or a network error ({@link DEFAULT_BACKOFF} by default). */
  readonly backoff?: BackoffPolicy;
  /** Waits between retries; a `setTimeout` promise by default (inject to test without waiting). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Sends the payment under this header name instead of the one `pay` returns. */
  readonly paymentHeaderName?: string;
  /** Aborts the purchase: passed to fetch and checked before every attempt. */
  readonly signal?: AbortSignal;
}

/** A completed purchase (HTTP 200). */
export interface CreditPurchaseResult {
  readonly status: 200;
  /** The parsed JSON body, e.g. `{ message, wallet_address, balance_credits, balance_usd }`. */
  readonly body: Readonly<Record<string, unknown>>;
  /** The raw base64 `PAYMENT-RESPONSE` (or `X-PAYMENT-RESPONSE`) settlement header, when present. */
  readonly paymentResponse?: string;
  /** The request id every attempt carried. */
  readonly requestId: string;
  /** Number of POSTs made. */
  readonly attempts: number;
}

/** The JSON body POSTed on every attempt. */
export interface CreditPurchaseRequestBody {
  readonly wallet_address: string;
  readonly credits: number;
  readonly payment_method: "x402";
  readonly request_id: string;
  readonly payer_wallet_address?: string;
  readonly sponsor_signature?: string;
}

/** Delay before the `retry`-th backoff retry (counting from 0) under `policy`. */
export function backoffDelay(policy: BackoffPolicy, retry: number): number {
  return Math.min(policy.maxMs, policy.initialMs * policy.factor ** retry);
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function checkSettings(options: PurchaseCreditsOptions): { maxAttempts: number; backoff: BackoffPolicy } {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    throw new CreditsError(
      "OPTION_INVALID",
      `purchaseCredits: maxAttempts must be a positive integer, got ${maxAttempts}`,
      {
        option: "maxAttempts",
        value: maxAttempts,
      },
    );
  }
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const { initialMs, factor, maxMs } = backoff;
  if (!(Number.isFinite(initialMs) && initialMs >= 0 && Number.isFinite(factor) && factor >= 1)) {
    throw new CreditsError("OPTION_INVALID", "purchaseCredits: backoff needs finite initialMs >= 0 and factor >= 1", {
      option: "backoff",
      value: backoff,
    });
  }
  if (!(Number.isFinite(maxMs) && maxMs >= 0)) {
    throw new CreditsError("OPTION_INVALID", "purchaseCredits: backoff.maxMs must be >= 0", {
      option: "backoff.maxMs",
      value: maxMs,
    });
  }
  if (options.requestId !== undefined && (typeof options.requestId !== "string" || options.requestId === "")) {
    throw new CreditsError("OPTION_INVALID", "purchaseCredits: requestId must be a non-empty string", {
      option: "requestId",
      value: options.requestId,
    });
  }
  return { maxAttempts, backoff };
}

function requestBody(options: PurchaseCreditsOptions, credits: number, requestId: string): CreditPurchaseRequestBody {
  return {
    wallet_address: options.walletAddress,
    credits,
    payment_method: "x402",
    request_id: requestId,
    ...(options.payerWalletAddress === undefined ? {} : { payer_wallet_address: options.payerWalletAddress }),
    ...(options.sponsorSignature === undefined ? {} : { sponsor_signature: options.sponsorSignature }),
  };
}

function checkPaymentHeader(header: PaymentHeader, override: string | undefined): PaymentHeader {
  const headerName = override ?? header?.headerName;
  const headerValue = header?.headerValue;
  if (typeof headerName !== "string" || !HEADER_NAME.test(headerName)) {
    throw new CreditsError(
      "OPTION_INVALID",
      `purchaseCredits: unusable payment header name ${JSON.stringify(headerName)}`,
      {
        option: "pay",
        value: headerName,
      },
    );
  }
  if (typeof headerValue !== "string" || headerValue === "" || /[\r\n\0]/.test(headerValue)) {
    throw new CreditsError(
      "OPTION_INVALID",
      "purchaseCredits: pay returned an empty or malformed payment header value",
      {
        option: "pay",
        value: headerValue,
      },
    );
  }
  return { headerName, headerValue };
}

function protocolError(message: string, details: Record<string, unknown>, cause?: unknown): CreditsError {
  return new CreditsError("PURCHASE_PROTOCOL_ERROR", message, details, cause === undefined ? undefined : { cause });
}

/** Read a body as JSON; `undefined` parsed means the body was not JSON (the raw text is returned too). */
async function readBody(response: Response): Promise<{ text: string; json: unknown }> {
  const text = await response.text();
  try {
    return { text, json: JSON.parse(text) as unknown };
  } catch {
    return { text, json: undefined };
  }
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Release the connection of a response whose body is not needed. */
async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Nothing to release.
  }
}

async function succeeded(response: Response, requestId: string, attempts: number): Promise<CreditPurchaseResult> {
  const paymentResponse =
    response.headers.get("PAYMENT-RESPONSE") ?? response.headers.get("X-PAYMENT-RESPONSE") ?? undefined;
  const { text, json } = await readBody(response);
  if (!isJsonObject(json)) {
    throw protocolError("the purchase succeeded (200) but its body is not a JSON object", {
      status: 200,
      body: text,
      paymentResponse,
      requestId,
      attempts,
    });
  }
  return {
    status: 200,
    body: json,
    ...(paymentResponse === undefined ? {} : { paymentResponse }),
    requestId,
    attempts,
  };
}

async function rejected(response: Response, requestId: string, attempts: number): Promise<CreditsError> {
  const { text, json } = await readBody(response);
  const error = isJsonObject(json) && typeof json.error === "string" ? json.error : undefined;
  const suggested = isJsonObject(json) ? json.suggested_credits : undefined;
  return new CreditsError("PURCHASE_REJECTED", `credit purchase rejected: ${error ?? "no error text"}`, {
    status: 400,
    error,
    requestId,
    attempts,
    body: json ?? text,
    ...(typeof suggested === "number" ? { suggestedCredits: suggested } : {}),
  });
}

/** The signed payment must move exactly the pack's price; anything else is refused before it is sent. */
function checkPaidAmount(payment: PaymentHeader, expected: bigint): PaymentHeader {
  let value: string;
  try {
    value = decodePaymentPayload(payment.headerValue).authorization.value;
  } catch (cause) {
    throw protocolError("the payment header is not a readable x402 payment", { headerName: payment.headerName }, cause);
  }
  if (BigInt(value) !== expected) {
    throw protocolError(`the payment moves ${value} but the pack costs ${expected}`, {
      paid: value,
      expected: expected.toString(),
    });
  }
  return payment;
}

/**
 * Buy a credit pack over the x402 v2 header handshake: POST, answer the 402 challenge once
 * through `pay`, and retry with the payment header. Every attempt repeats the same body and
 * `request_id` (so the route can deduplicate); 202 and 5xx/network failures are retried with
 * exponential backoff up to `maxAttempts` POSTs in all.
 *
 * Throws {@link CreditsError}: `CREDIT_PACK_INVALID` (before any request), `PURCHASE_REJECTED`
 * (400; `details.error` is the server's text), `PURCHASE_RETRIES_EXHAUSTED` (details `attempts`,
 * `lastStatus`, `requestId`), `PURCHASE_PROTOCOL_ERROR` (402 without `PAYMENT-REQUIRED`, a 402
 * after paying, any other status, or a non-JSON 200 body). Errors from `pay` propagate unchanged.
 */
export async function purchaseCredits(options: PurchaseCreditsOptions): Promise<CreditPurchaseResult> {
  const pack = validateCreditPack(options.credits);
  const { maxAttempts, backoff } = checkSettings(options);
  const url = new URL(options.endpoint);
  const requestId = options.requestId ?? globalThis.crypto.randomUUID();
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const { signal } = options;
  const body = JSON.stringify(requestBody(options, pack.credits, requestId));

  let payment: PaymentHeader | undefined = options.payment
    ? checkPaidAmount(checkPaymentHeader(options.payment, options.paymentHeaderName), pack.usdcAmount)
    : undefined;
  let attempts = 0;
  let backoffRetries = 0;
  let waitFirst = false;
  let lastStatus: number | null = null;
  let lastError: unknown;

  while (attempts < maxAttempts) {
    if (waitFirst) await sleep(backoffDelay(backoff, backoffRetries++));
    signal?.throwIfAborted();
    attempts++;
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (payment) headers[payment.headerName] = payment.headerValue;

    let response: Response;
    try {
      // No redirects: the payment header must reach the purchase route and nothing else.
      response = await fetchImpl(url, { method: "POST", headers, body, signal, redirect: "error" });
    } catch (error) {
      if (signal?.aborted) throw error;
      lastStatus = null;
      lastError = error;
      waitFirst = true;
      continue;
    }
    const { status } = response;

    if (status === 200) return succeeded(response, requestId, attempts);
    if (status === 400) throw await rejected(response, requestId, attempts);
    if (status === 202 || (status >= 500 && status <= 599)) {
      await discard(response);
      lastStatus = status;
      lastError = undefined;
      waitFirst = true;
      continue;
    }
    if (status === 402) {
      const challenge = response.headers.get("PAYMENT-REQUIRED");
      await discard(response);
      if (payment) {
        throw protocolError("the route answered 402 again after the payment header was sent", {
          status,
          requestId,
          attempts,
        });
      }
      if (!challenge) {
        throw protocolError("the route answered 402 without a PAYMENT-REQUIRED header", {
          status,
          requestId,
          attempts,
        });
      }
      lastStatus = status;
      lastError = undefined;
      if (attempts >= maxAttempts) break; // No attempt left to send the payment: do not sign it.
      const signed = await options.pay(challenge, { expectedAmount: pack.usdcAmount, requestId });
      payment = checkPaidAmount(checkPaymentHeader(signed, options.paymentHeaderName), pack.usdcAmount);
      waitFirst = false;
      continue;
    }
    await discard(response);
    throw protocolError(`unexpected status ${status} from the purchase route`, { status, requestId, attempts });
  }

  throw new CreditsError(
    "PURCHASE_RETRIES_EXHAUSTED",
    `credit purchase not confirmed after ${attempts} attempts (last status ${lastStatus ?? "network error"})`,
    // `payment` lets the caller resume with the same authorization instead of paying twice.
    { attempts, lastStatus, requestId, paid: payment !== undefined, ...(payment ? { payment } : {}) },
    lastError === undefined ? undefined : { cause: lastError },
  );
}
