import { AgentEscrowError } from "../errors.ts";

/** Details of each {@link PlatformError} code. */
export type PlatformErrorDetails = {
  /** The request is not signed as the seeds' runtime message, or the signature is not the wallet's. */
  SIGNATURE_INVALID: { readonly wallet: string | null; readonly reason: string };
  /** The session nonce is unknown, expired, or another wallet's. */
  SESSION_INVALID: { readonly wallet: string; readonly session: string };
  /** The signed request id was used before. */
  REQUEST_REPLAYED: { readonly wallet: string; readonly requestId: string };
  /** The signer is not the party this action belongs to. */
  NOT_PARTY: { readonly wallet: string; readonly role: "buyer" | "seller"; readonly expected: string };
  /** A field of the body is missing or malformed. */
  FIELD_INVALID: { readonly field: string; readonly value: unknown; readonly expected: string };
  /** No such service or agreement. */
  NOT_FOUND: { readonly kind: "service" | "agreement"; readonly id: string };
  /** A metered call would take usage past the deposit: refused before it reaches the seller. */
  DEPOSIT_EXCEEDED: { readonly id: string; readonly used: string; readonly price: string; readonly deposit: string };
  /** The agreement is not in a status that allows this. */
  WRONG_STATUS: { readonly id: string; readonly status: string; readonly expected: string };
};

/** Stable codes of {@link PlatformError}. */
export type PlatformErrorCode = keyof PlatformErrorDetails;

/** A request the reference platform refuses. */
export class PlatformError<C extends PlatformErrorCode = PlatformErrorCode> extends AgentEscrowError<
  C,
  PlatformErrorDetails[C]
> {
  /** Whether this error has `code`; narrows `details` to that code's. */
  is<K extends PlatformErrorCode>(code: K): this is PlatformError<K> {
    const own: string = this.code;
    return own === code;
  }
}
