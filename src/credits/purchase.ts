import { type Address, bytesToHex, type Hex } from "viem";
import { decodePaymentPayload, decodePaymentResponse } from "../wire/x402/decode.ts";
import type { SettleResponse } from "../wire/x402/types.ts";
import { CreditsError } from "./errors.ts";
import { type MessageSigner, signSponsorMessage } from "./messages.ts";
import { validateCreditPack } from "./packs.ts";

/** Exponential backoff: the n-th delay (from 0) is `min(maxMs, initialMs * factor ** n)`. */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
}

/** Backoff used when none is given: 500 ms, doubling, capped at 8 s. */
export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ initialMs: 500, factor: 2, maxMs: 8000 });

/**
 * POSTs a purchase makes at most by default, not counting those answered 202: the challenge, the
 * paid request, and retries after a 5xx or a network error.
 */
export const DEFAULT_MAX_ATTEMPTS = 5;

/**
 * How long a purchase keeps retrying while the route answers 202 (pending confirmations), by
 * default: 10 minutes. On Base, confirmations take seconds to minutes.
 */
export const DEFAULT_PENDING_TIMEOUT_MS = 10 * 60_000;

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
  context: {
    readonly expectedAmount: bigint;
    readonly requestId: string;
    /**
     * For a sponsored purchase, the authorization nonce the payment must use: the sponsor message
     * already names it (`nonce:`), byte for byte. Pass it to `x402Payer`'s `nonce` override.
     */
    readonly nonce?: Hex;
  },
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
  /**
   * Human-sponsored path: the payer's signer (the human's wallet, e.g. a viem account). The client
   * picks the authorization nonce, has the sponsor sign the sponsor message over it (`nonce:`),
   * and hands the same nonce to `pay`: the natural order cannot get the nonce wrong.
   */
  readonly sponsor?: MessageSigner;
  /**
   * Human-sponsored path, signed elsewhere: the payer's EIP-191 signature over the sponsor
   * message, made with `nonce` (which then must be given too).
   */
  readonly sponsorSignature?: Hex;
  /** The authorization nonce (default: random); a sponsored purchase signs its message over it. */
  readonly nonce?: Hex;
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
   * Upper bound on POSTs not answered 202: the challenge, the paid request, and retries after a
   * 5xx or a network error ({@link DEFAULT_MAX_ATTEMPTS} by default). A paid purchase needs at least 2.
   */
  readonly maxAttempts?: number;
  /**
   * How long to keep retrying while the route answers 202 ({@link DEFAULT_PENDING_TIMEOUT_MS} by
   * default), the same request id and payment each time. Past it, `PURCHASE_RETRIES_EXHAUSTED`
   * hands back the payment to resume with.
   */
  readonly pendingTimeoutMs?: number;
  /** The clock, in ms (`Date.now` by default; inject to test without waiting). */
  readonly now?: () => number;
  /** Delays between retries after a 202, a 5xx or a network error ({@link DEFAULT_BACKOFF} by default). */
  readonly backoff?: BackoffPolicy;
  /** Waits between retries; a `setTimeout` promise by default (inject to test without waiting). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Sends the payment under this header name instead of the one `pay` returns. */
  readonly paymentHeaderName?: string;
  /** Aborts the purchase: passed to fetch and checked before every attempt. */
  readonly signal?: AbortSignal;
}

/** The body of a completed purchase (`balance_usd` is `balance_credits / 100`). */
export interface CreditPurchaseBody {
  readonly message?: string;
  readonly wallet_address?: string;
  readonly balance_credits: number;
  readonly balance_usd: number;
  readonly [field: string]: unknown;
}

/** A completed purchase (HTTP 200). */
export interface CreditPurchaseResult {
  readonly status: 200;
  /** The parsed JSON body, the balances typed. */
  readonly body: CreditPurchaseBody;
  /** The raw base64 `PAYMENT-RESPONSE` (or `X-PAYMENT-RESPONSE`) settlement header, when present. */
  readonly paymentResponse?: string;
  /** That header decoded (transaction hash, network, payer), when it is a readable x402 settle response. */
  readonly settlement?: SettleResponse;
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
  /** Path B, self-broadcast: the hash of the client's own `transferWithAuthorization`. */
  readonly transaction_hash?: string;
}

/** Delay before the `retry`-th backoff retry (counting from 0) under `policy`. */
export function backoffDelay(policy: BackoffPolicy, retry: number): number {
  return Math.min(policy.maxMs, policy.initialMs * policy.factor ** retry);
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function checkSettings(options: CommonOptions): { maxAttempts: number; backoff: BackoffPolicy } {
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

function settlementOf(header: string | undefined): SettleResponse | undefined {
  if (header === undefined) return undefined;
  try {
    return decodePaymentResponse(header);
  } catch {
    return undefined;
  }
}

async function succeeded(response: Response, requestId: string, attempts: number): Promise<CreditPurchaseResult> {
  const paymentResponse =
    response.headers.get("PAYMENT-RESPONSE") ?? response.headers.get("X-PAYMENT-RESPONSE") ?? undefined;
  const { text, json } = await readBody(response);
  if (!isJsonObject(json) || typeof json.balance_credits !== "number" || typeof json.balance_usd !== "number") {
    throw protocolError("the purchase succeeded (200) but its body is not the documented JSON object", {
      status: 200,
      body: text,
      paymentResponse,
      requestId,
      attempts,
    });
  }
  const body: CreditPurchaseBody = { ...json, balance_credits: json.balance_credits, balance_usd: json.balance_usd };
  const settlement = settlementOf(paymentResponse);
  return {
    status: 200,
    body,
    ...(paymentResponse === undefined ? {} : { paymentResponse }),
    ...(settlement === undefined ? {} : { settlement }),
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

/**
 * The signed payment must move exactly the pack's price and, for a sponsored purchase, use the
 * nonce the sponsor signed: anything else is refused before it is sent.
 */
function checkPaidAmount(payment: PaymentHeader, expected: bigint, nonce?: Hex): PaymentHeader {
  let authorization: { value: string; nonce: string };
  try {
    authorization = decodePaymentPayload(payment.headerValue).authorization;
  } catch (cause) {
    throw protocolError("the payment header is not a readable x402 payment", { headerName: payment.headerName }, cause);
  }
  const { value } = authorization;
  if (BigInt(value) !== expected) {
    throw protocolError(`the payment moves ${value} but the pack costs ${expected}`, {
      paid: value,
      expected: expected.toString(),
    });
  }
  if (nonce !== undefined && authorization.nonce.toLowerCase() !== nonce.toLowerCase()) {
    throw protocolError("the payment's nonce is not the one the sponsor signed", {
      nonce: authorization.nonce,
      expected: nonce,
    });
  }
  return payment;
}

/** What every purchase shares: the route, the retry settings, the transport. */
type Exchange = {
  readonly url: URL;
  readonly body: string;
  readonly requestId: string;
  readonly maxAttempts: number;
  readonly backoff: BackoffPolicy;
  readonly pendingTimeoutMs: number;
  readonly fetch: typeof fetch;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly signal: AbortSignal | undefined;
};

function exchangeFor(options: CommonOptions, body: CreditPurchaseRequestBody): Exchange {
  const { maxAttempts, backoff } = checkSettings(options);
  const pendingTimeoutMs = options.pendingTimeoutMs ?? DEFAULT_PENDING_TIMEOUT_MS;
  if (!Number.isFinite(pendingTimeoutMs) || pendingTimeoutMs < 0) {
    throw new CreditsError("OPTION_INVALID", "purchaseCredits: pendingTimeoutMs must be finite and >= 0", {
      option: "pendingTimeoutMs",
      value: pendingTimeoutMs,
    });
  }
  return {
    url: new URL(options.endpoint),
    body: JSON.stringify(body),
    requestId: body.request_id,
    maxAttempts,
    backoff,
    pendingTimeoutMs,
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    sleep: options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))),
    now: options.now ?? Date.now,
    signal: options.signal,
  };
}

/**
 * POST until the route answers 200 (returned) or 400 (thrown). A 202 is retried with backoff
 * until the pending time budget runs out; a 5xx or a network error with backoff, counted against
 * `maxAttempts`; a 402 is answered once through `onChallenge` (or is a protocol error).
 */
async function exchange(
  x: Exchange,
  initialPayment: PaymentHeader | undefined,
  onChallenge: ((challenge: string) => Promise<PaymentHeader>) | undefined,
): Promise<CreditPurchaseResult> {
  let payment = initialPayment;
  let attempts = 0;
  let counted = 0;
  let backoffRetries = 0;
  let waitFirst = false;
  let pendingSince: number | undefined;
  let lastStatus: number | null = null;
  let lastError: unknown;
  const giveUp = () =>
    new CreditsError(
      "PURCHASE_RETRIES_EXHAUSTED",
      `credit purchase not confirmed after ${attempts} attempts (last status ${lastStatus ?? "network error"})`,
      // `payment` lets the caller resume with the same authorization instead of paying twice.
      { attempts, lastStatus, requestId: x.requestId, paid: payment !== undefined, ...(payment ? { payment } : {}) },
      lastError === undefined ? undefined : { cause: lastError },
    );

  for (;;) {
    if (waitFirst) await x.sleep(backoffDelay(x.backoff, backoffRetries++));
    x.signal?.throwIfAborted();
    attempts++;
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (payment) headers[payment.headerName] = payment.headerValue;

    let response: Response;
    try {
      // No redirects: the payment header must reach the purchase route and nothing else.
      response = await x.fetch(x.url, { method: "POST", headers, body: x.body, signal: x.signal, redirect: "error" });
    } catch (error) {
      if (x.signal?.aborted) throw error;
      lastStatus = null;
      lastError = error;
      if (++counted >= x.maxAttempts) throw giveUp();
      waitFirst = true;
      continue;
    }
    const { status } = response;

    if (status === 200) return succeeded(response, x.requestId, attempts);
    if (status === 400) throw await rejected(response, x.requestId, attempts);
    if (status === 202) {
      // Pending: bounded by time, never by a count (confirmations take seconds to minutes).
      await discard(response);
      lastStatus = status;
      lastError = undefined;
      pendingSince ??= x.now();
      if (x.now() - pendingSince >= x.pendingTimeoutMs) throw giveUp();
      waitFirst = true;
      continue;
    }
    counted++;
    if (status >= 500 && status <= 599) {
      await discard(response);
      lastStatus = status;
      lastError = undefined;
      if (counted >= x.maxAttempts) throw giveUp();
      waitFirst = true;
      continue;
    }
    if (status === 402) {
      const challenge = response.headers.get("PAYMENT-REQUIRED");
      await discard(response);
      if (payment || !onChallenge) {
        throw protocolError(
          payment
            ? "the route answered 402 again after the payment header was sent"
            : "the route answered 402 on a paid path",
          { status, requestId: x.requestId, attempts },
        );
      }
      if (!challenge) {
        throw protocolError("the route answered 402 without a PAYMENT-REQUIRED header", {
          status,
          requestId: x.requestId,
          attempts,
        });
      }
      lastStatus = status;
      lastError = undefined;
      if (counted >= x.maxAttempts) throw giveUp(); // No attempt left to send the payment: do not sign it.
      payment = await onChallenge(challenge);
      waitFirst = false;
      continue;
    }
    await discard(response);
    throw protocolError(`unexpected status ${status} from the purchase route`, {
      status,
      requestId: x.requestId,
      attempts,
    });
  }
}

/** Options every purchase path shares. */
type CommonOptions = Pick<
  PurchaseCreditsOptions,
  | "endpoint"
  | "walletAddress"
  | "credits"
  | "requestId"
  | "fetch"
  | "maxAttempts"
  | "backoff"
  | "sleep"
  | "signal"
  | "pendingTimeoutMs"
  | "now"
>;

/** A fresh 32-byte authorization nonce. */
function freshNonce(): Hex {
  return bytesToHex(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * Buy a credit pack over the x402 v2 header handshake: POST, answer the 402 challenge once
 * through `pay`, and retry with the payment header. Every attempt repeats the same body and
 * `request_id` (so the route can deduplicate). A 202 (pending confirmations) is retried with
 * backoff for up to `pendingTimeoutMs` (10 minutes by default); a 5xx or a network failure with
 * backoff, up to `maxAttempts` POSTs.
 *
 * Human-sponsored (Path B over x402): give `payerWalletAddress` and the human's signer as
 * `sponsor`. The client picks the authorization nonce, has the sponsor sign the sponsor message
 * over it (`nonce:`), and passes the same nonce to `pay`, which must sign with it (a payment with
 * another nonce is refused before it is sent).
 *
 * Throws {@link CreditsError}: `CREDIT_PACK_INVALID` (before any request), `OPTION_INVALID`,
 * `PURCHASE_REJECTED` (400; `details.error` is the server's text), `PURCHASE_RETRIES_EXHAUSTED`
 * (details `attempts`, `lastStatus`, `requestId`, and `payment` to resume without paying twice),
 * `PURCHASE_PROTOCOL_ERROR` (402 without `PAYMENT-REQUIRED`, a 402 after paying, any other
 * status, or a 200 body without the balances). Errors from `pay` propagate unchanged.
 *
 * @example
 * const payer = x402Payer(agent, { maxAmount: { USDC: 10_000_000n } });
 * const { body } = await purchaseCredits({
 *   endpoint: "https://www.agentpmt.com/api/external/credits/purchase",
 *   walletAddress: agent.address,
 *   credits: 500,
 *   pay: async (challenge, { nonce }) => payer(challenge, nonce ? { nonce } : {}),
 * });
 * body.balance_credits; // number
 */
export async function purchaseCredits(options: PurchaseCreditsOptions): Promise<CreditPurchaseResult> {
  const pack = validateCreditPack(options.credits);
  const requestId = options.requestId ?? globalThis.crypto.randomUUID();
  if (options.sponsorSignature !== undefined && options.sponsor !== undefined) {
    throw new CreditsError("OPTION_INVALID", "purchaseCredits: give sponsor or sponsorSignature, not both", {
      option: "sponsor",
      value: "both",
    });
  }
  const sponsored = options.sponsor !== undefined || options.sponsorSignature !== undefined;
  if (sponsored && options.payerWalletAddress === undefined) {
    throw new CreditsError("OPTION_INVALID", "purchaseCredits: a sponsored purchase needs payerWalletAddress", {
      option: "payerWalletAddress",
      value: undefined,
    });
  }
  // A sponsored purchase binds the sponsor message and the payment to one nonce, chosen here.
  const nonce = sponsored ? (options.nonce ?? freshNonce()) : options.nonce;
  const sponsorSignature =
    options.sponsor && options.payerWalletAddress && nonce
      ? (
          await signSponsorMessage(options.sponsor, {
            payer: options.payerWalletAddress,
            recipient: options.walletAddress,
            credits: pack.credits,
            reference: { kind: "nonce", nonce },
          })
        ).signature
      : options.sponsorSignature;
  const x = exchangeFor(options, {
    wallet_address: options.walletAddress,
    credits: pack.credits,
    payment_method: "x402",
    request_id: requestId,
    ...(options.payerWalletAddress === undefined ? {} : { payer_wallet_address: options.payerWalletAddress }),
    ...(sponsorSignature === undefined ? {} : { sponsor_signature: sponsorSignature }),
  });
  const checkedNonce = sponsored ? nonce : undefined;
  const initial = options.payment
    ? checkPaidAmount(checkPaymentHeader(options.payment, options.paymentHeaderName), pack.usdcAmount, checkedNonce)
    : undefined;
  return exchange(x, initial, async (challenge) => {
    const signed = await options.pay(challenge, {
      expectedAmount: pack.usdcAmount,
      requestId,
      ...(nonce !== undefined ? { nonce } : {}),
    });
    return checkPaidAmount(checkPaymentHeader(signed, options.paymentHeaderName), pack.usdcAmount, checkedNonce);
  });
}

/** Options of {@link purchaseCreditsWithTransaction}. */
export type PurchaseWithTransactionOptions = Omit<CommonOptions, never> & {
  /** The hash of the `transferWithAuthorization` the payer submitted on chain itself. */
  readonly transactionHash: Hex;
  /** The human wallet that paid. */
  readonly payerWalletAddress: Address;
  /** The payer's signer: it signs the sponsor message over the transaction (`tx:`)... */
  readonly sponsor?: MessageSigner;
  /** ...or that signature, made elsewhere. */
  readonly sponsorSignature?: Hex;
};

/**
 * Path B, self-broadcast: the payer submitted `transferWithAuthorization` on chain itself; send
 * `transaction_hash` with the sponsor message bound to it (`tx:0x<hash>`). The same contract as
 * {@link purchaseCredits}: 200 returns, 202 is retried within `pendingTimeoutMs` (the route waits
 * for confirmations), 400 throws `PURCHASE_REJECTED`, 5xx and network failures retry within
 * `maxAttempts`; a 402 is a protocol error (this path pays outside the handshake).
 *
 * @example
 * const { hash } = await submitExactPayment(humanWallet, usdc, payment); // the human's own transaction
 * await purchaseCreditsWithTransaction({ endpoint, walletAddress: agent, credits: 500,
 *   payerWalletAddress: human.address, sponsor: human, transactionHash: hash });
 */
export async function purchaseCreditsWithTransaction(
  options: PurchaseWithTransactionOptions,
): Promise<CreditPurchaseResult> {
  const pack = validateCreditPack(options.credits);
  if (!/^0x[0-9a-fA-F]{64}$/.test(options.transactionHash)) {
    throw new CreditsError(
      "OPTION_INVALID",
      "purchaseCreditsWithTransaction: transactionHash must be 32 bytes of hex",
      {
        option: "transactionHash",
        value: options.transactionHash,
      },
    );
  }
  const signature = options.sponsor
    ? (
        await signSponsorMessage(options.sponsor, {
          payer: options.payerWalletAddress,
          recipient: options.walletAddress,
          credits: pack.credits,
          reference: { kind: "tx", transactionHash: options.transactionHash },
        })
      ).signature
    : options.sponsorSignature;
  if (signature === undefined) {
    throw new CreditsError("OPTION_INVALID", "purchaseCreditsWithTransaction: give sponsor or sponsorSignature", {
      option: "sponsor",
      value: undefined,
    });
  }
  const requestId = options.requestId ?? `tx:${options.transactionHash.toLowerCase()}`;
  const x = exchangeFor(options, {
    wallet_address: options.walletAddress,
    credits: pack.credits,
    payment_method: "x402",
    request_id: requestId,
    payer_wallet_address: options.payerWalletAddress,
    sponsor_signature: signature,
    transaction_hash: options.transactionHash,
  });
  return exchange(x, undefined, undefined);
}
