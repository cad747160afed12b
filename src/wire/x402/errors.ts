import { AgentEscrowError } from "../../errors.ts";

/** Details of each {@link X402Error} code. */
export type X402ErrorDetails = {
  /** A header is not base64 of JSON. */
  HEADER_MALFORMED: { readonly name: string; readonly header?: string };
  /** A field of a payload or of requirements is missing or malformed (`path` names it). */
  PAYLOAD_INVALID: { readonly path: string; readonly value: unknown };
  /** Not x402 version 2. */
  VERSION_UNSUPPORTED: { readonly x402Version: unknown };
  /** No acceptance of a `PAYMENT-REQUIRED` can be paid; why each one was refused. */
  NO_ACCEPTABLE_REQUIREMENTS: {
    readonly refusals: readonly { readonly index: number; readonly code: string; readonly reason: string }[];
  };
  /** Network, asset or EIP-712 domain disagree with the registry (or the domain is unconfirmed). */
  DOMAIN_MISMATCH: {
    readonly network: string;
    readonly asset: string;
    readonly extra?: { readonly name: unknown; readonly version: unknown };
    readonly registry?: { readonly name: string; readonly version: string };
    readonly status?: string;
  };
  /** A scheme other than 'exact'. */
  SCHEME_UNSUPPORTED: { readonly scheme: string };
  /** The wallet's policy refuses it: a chain it does not pay on, or a validity longer than it signs. */
  POLICY_REFUSED: {
    readonly rule: "chainIds" | "maxTimeoutSeconds";
    readonly value: unknown;
    readonly allowed: unknown;
  };
  /** The amount is above the wallet's cap for this token (no cap: refused). */
  AMOUNT_ABOVE_CAP: { readonly amount: bigint; readonly cap: bigint | undefined };
  /** The amount is not the one the caller expected (a credit pack's price, say). */
  AMOUNT_UNEXPECTED: { readonly amount: bigint; readonly expected: bigint };
  /** The nonce was already signed by this wallet (nonce guard). */
  NONCE_REUSED: { readonly nonce: string };
};

/** Stable codes of {@link X402Error}. */
export type X402ErrorCode = keyof X402ErrorDetails;

/** An x402 header or payload that cannot be read, or a payment this wallet must not sign. */
export class X402Error<C extends X402ErrorCode = X402ErrorCode> extends AgentEscrowError<C, X402ErrorDetails[C]> {
  /** Whether this error has `code`; narrows `details` to that code's. */
  is<K extends X402ErrorCode>(code: K): this is X402Error<K> {
    const own: string = this.code;
    return own === code;
  }
}
