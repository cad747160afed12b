import { AgentEscrowError } from "../errors.ts";

/** Details of each {@link CreditsError} code. */
export type CreditsErrorDetails = {
  /** The credit amount is not a positive multiple of 500; `suggestedCredits` is the nearest valid pack. */
  CREDIT_PACK_INVALID: { readonly credits: unknown; readonly suggestedCredits: number | null };
  /** A field of an EIP-191 message (address, nonce, session, request id, action, product, parameters) is unusable. */
  SIGNED_MESSAGE_INVALID: Readonly<{ field?: string; value?: unknown; path?: string; reason?: string }>;
  /** The purchase route answered 400; `error` is the server's text, safe to surface. */
  PURCHASE_REJECTED: {
    readonly status: 400;
    readonly error: string | undefined;
    readonly requestId: string;
    readonly attempts: number;
    readonly body: unknown;
    readonly suggestedCredits?: number;
  };
  /**
   * The route kept answering 202 or 5xx (or the network kept failing) until the bound. `payment`
   * resumes without paying twice.
   */
  PURCHASE_RETRIES_EXHAUSTED: {
    readonly attempts: number;
    readonly lastStatus: number | null;
    readonly requestId: string;
    readonly paid: boolean;
    readonly payment?: { readonly headerName: string; readonly headerValue: string };
  };
  /** The route answered outside the documented contract (missing challenge header, second 402, odd status or body). */
  PURCHASE_PROTOCOL_ERROR: Readonly<Record<string, unknown>>;
  /** An option of `purchaseCredits` is out of range, or `pay` returned an unusable header. */
  OPTION_INVALID: { readonly option: string; readonly value: unknown };
};

/** Stable codes of {@link CreditsError}. */
export type CreditsErrorCode = keyof CreditsErrorDetails;

/** A credit pack, signed message or credit purchase that cannot go ahead or did not complete. */
export class CreditsError<C extends CreditsErrorCode = CreditsErrorCode> extends AgentEscrowError<
  C,
  CreditsErrorDetails[C]
> {
  /** Whether this error has `code`; narrows `details` to that code's. */
  is<K extends CreditsErrorCode>(code: K): this is CreditsError<K> {
    const own: string = this.code;
    return own === code;
  }
}
