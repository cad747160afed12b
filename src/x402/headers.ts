import { decodePaymentPayload, decodePaymentResponse } from "../wire/x402/decode.ts";
import type { InboundPayment, SettleResponse } from "../wire/x402/types.ts";

/** Inbound payment header names, in the order a server reads them (product documentation). */
export const PAYMENT_HEADER_ALIASES = [
  "payment-signature",
  "PAYMENT-SIGNATURE",
  "payment",
  "PAYMENT",
  "x-payment",
  "X-PAYMENT",
] as const;

/** Outbound header names. */
export const HEADERS = {
  paymentRequired: "PAYMENT-REQUIRED",
  paymentSignature: "PAYMENT-SIGNATURE",
  xPayment: "X-PAYMENT",
  paymentResponse: "PAYMENT-RESPONSE",
  xPaymentResponse: "X-PAYMENT-RESPONSE",
} as const;

/** Request headers as a Fetch `Headers` or a plain record (Node's `IncomingHttpHeaders`). */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function lookup(headers: HeaderSource, name: string, caseInsensitive = true): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const value =
    record[name] ??
    (caseInsensitive ? Object.entries(record).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1] : undefined);
  return Array.isArray(value) ? value[0] : value;
}

/** The first inbound payment header present, in alias priority order, or `undefined`. */
export function readPaymentHeader(headers: HeaderSource): { name: string; value: string } | undefined {
  // Alias by alias in the documented order: the exact name first (frameworks that keep the
  // sender's case), then the name in any case, before moving on to the next alias.
  for (const name of PAYMENT_HEADER_ALIASES) {
    for (const caseInsensitive of [false, true]) {
      const value = lookup(headers, name, caseInsensitive);
      if (value !== undefined && value.trim() !== "") return { name, value };
    }
  }
  return undefined;
}

/** Read and decode the inbound payment (either shape), or `undefined` when none is present. */
export function readPayment(headers: HeaderSource): (InboundPayment & { header: string }) | undefined {
  const found = readPaymentHeader(headers);
  return found ? { ...decodePaymentPayload(found.value), header: found.name } : undefined;
}

/** Read and decode `PAYMENT-RESPONSE`, else `X-PAYMENT-RESPONSE`, from response headers. */
export function readPaymentResponse(headers: HeaderSource): SettleResponse | undefined {
  const value = lookup(headers, HEADERS.paymentResponse) ?? lookup(headers, HEADERS.xPaymentResponse);
  return value ? decodePaymentResponse(value) : undefined;
}
