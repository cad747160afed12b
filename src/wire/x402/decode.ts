import { type Address, type Hex, isHex } from "viem";
import { WireError } from "../errors.ts";
import { parseAddress, parseBytes32, parseDecimal, parseHexBytes, parseObject } from "../primitives.ts";
import { decodeJsonHeader } from "./base64.ts";
import { X402Error } from "./errors.ts";
import type {
  ExactAuthorization,
  InboundPayment,
  PaymentRequired,
  PaymentRequirements,
  ResourceInfo,
  SettleResponse,
} from "./types.ts";

type Json = Readonly<Record<string, unknown>>;
const CAIP2 = /^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}$/;

function fail(path: string, reason: string, value: unknown): never {
  throw new X402Error("PAYLOAD_INVALID", `${path} ${reason}`, { path, value });
}
/** Run one of the shared wire parsers and report its refusal as this codec's `PAYLOAD_INVALID`. */
function field<T>(value: unknown, path: string, parse: (value: unknown, field: string) => T): T {
  try {
    return parse(value, path);
  } catch (cause) {
    if (!(cause instanceof WireError)) throw cause;
    throw new X402Error("PAYLOAD_INVALID", cause.message, { path, value }, { cause });
  }
}
function object(value: unknown, path: string): Json {
  return field(value, path, parseObject);
}
function string(value: unknown, path: string): string {
  if (typeof value !== "string" || value.length === 0) fail(path, "must be a non-empty string", value);
  return value;
}
function decimal(value: unknown, path: string): string {
  field(value, path, parseDecimal);
  return String(value);
}
function address(value: unknown, path: string): Address {
  return field(value, path, parseAddress);
}
function hex(value: unknown, path: string, bytes?: number): Hex {
  return field(value, path, (v, f) => (bytes === 32 ? parseBytes32(v, f) : parseHexBytes(v, f)));
}
function version(value: unknown): void {
  if (value !== 2)
    throw new X402Error("VERSION_UNSUPPORTED", `x402Version ${String(value)} is not supported`, { x402Version: value });
}

function resource(value: unknown, path: string): ResourceInfo {
  const r = object(value, path);
  string(r.url, `${path}.url`);
  for (const key of ["description", "mimeType"] as const) {
    if (r[key] !== undefined && typeof r[key] !== "string") fail(`${path}.${key}`, "must be a string", r[key]);
  }
  return r as ResourceInfo;
}

/** Validate one `PaymentRequirements`, keeping its fields (and their order) as received. */
export function parseRequirements(value: unknown, path = "requirements"): PaymentRequirements {
  const r = object(value, path);
  string(r.scheme, `${path}.scheme`);
  if (typeof r.network !== "string" || !CAIP2.test(r.network))
    fail(`${path}.network`, "must be a CAIP-2 id", r.network);
  decimal(r.amount, `${path}.amount`);
  string(r.asset, `${path}.asset`);
  string(r.payTo, `${path}.payTo`);
  if (!Number.isSafeInteger(r.maxTimeoutSeconds) || (r.maxTimeoutSeconds as number) <= 0) {
    fail(`${path}.maxTimeoutSeconds`, "must be a positive integer", r.maxTimeoutSeconds);
  }
  if (r.extra !== undefined) object(r.extra, `${path}.extra`);
  return r as PaymentRequirements;
}

/** Decode and validate a `PAYMENT-REQUIRED` header (x402 v2). */
export function decodePaymentRequired(header: string): PaymentRequired {
  const v = object(decodeJsonHeader(header, "PAYMENT-REQUIRED"), "paymentRequired");
  version(v.x402Version);
  if (v.error !== undefined && typeof v.error !== "string") fail("paymentRequired.error", "must be a string", v.error);
  resource(v.resource, "paymentRequired.resource");
  if (!Array.isArray(v.accepts) || v.accepts.length === 0)
    fail("paymentRequired.accepts", "must be a non-empty array", v.accepts);
  (v.accepts as unknown[]).forEach((a, i) => {
    parseRequirements(a, `paymentRequired.accepts[${i}]`);
  });
  return v as PaymentRequired;
}

function authorization(value: unknown, path: string): ExactAuthorization {
  const a = object(value, path);
  return {
    from: address(a.from, `${path}.from`),
    to: address(a.to, `${path}.to`),
    value: decimal(a.value, `${path}.value`),
    validAfter: decimal(a.validAfter, `${path}.validAfter`),
    validBefore: decimal(a.validBefore, `${path}.validBefore`),
    nonce: hex(a.nonce, `${path}.nonce`, 32),
  };
}

/**
 * Decode an inbound payment header in either shape: x402 v2 (`x402Version`, `accepted`,
 * `payload`, optional `resource`) or the product documentation's envelope (`x402Version`,
 * `scheme`, `network`, `asset`, `payload`).
 */
export function decodePaymentPayload(header: string): InboundPayment {
  const v = object(decodeJsonHeader(header, "payment header"), "payment");
  version(v.x402Version);
  const payload = object(v.payload, "payment.payload");
  const common = {
    x402Version: 2,
    authorization: authorization(payload.authorization, "payment.payload.authorization"),
    signature: hex(payload.signature, "payment.payload.signature"),
  };
  if (v.accepted !== undefined) {
    const accepted = parseRequirements(v.accepted, "payment.accepted");
    return {
      shape: "v2",
      ...common,
      scheme: accepted.scheme,
      network: accepted.network,
      asset: address(accepted.asset, "payment.accepted.asset"),
      accepted,
      ...(v.resource !== undefined ? { resource: resource(v.resource, "payment.resource") } : {}),
    };
  }
  if (typeof v.network !== "string" || !CAIP2.test(v.network))
    fail("payment.network", "must be a CAIP-2 id", v.network);
  return {
    shape: "seed",
    ...common,
    scheme: string(v.scheme, "payment.scheme"),
    network: v.network as string,
    asset: address(v.asset, "payment.asset"),
  };
}

/** Decode a `PAYMENT-RESPONSE` / `X-PAYMENT-RESPONSE` header. */
export function decodePaymentResponse(header: string): SettleResponse {
  const v = object(decodeJsonHeader(header, "PAYMENT-RESPONSE"), "paymentResponse");
  if (typeof v.success !== "boolean") fail("paymentResponse.success", "must be a boolean", v.success);
  if (typeof v.network !== "string") fail("paymentResponse.network", "must be a string", v.network);
  // A failed settlement may carry an empty or no transaction.
  if (v.transaction !== undefined && typeof v.transaction !== "string") {
    fail("paymentResponse.transaction", "must be a string", v.transaction);
  }
  if (v.success && !(isHex(v.transaction) && (v.transaction as string).length === 66)) {
    fail("paymentResponse.transaction", "must be a 32-byte transaction hash", v.transaction);
  }
  if (v.payer !== undefined) address(v.payer, "paymentResponse.payer");
  if (v.requirements !== undefined) parseRequirements(v.requirements, "paymentResponse.requirements");
  return { ...v, transaction: (v.transaction as string | undefined) ?? "" } as SettleResponse;
}
