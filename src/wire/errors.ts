import { AgentEscrowError } from "../errors.ts";

/** Details of each {@link WireError} code. */
export type WireErrorDetails = {
  /** A field is missing or malformed: `field` is its path, `expected` what it must be. */
  FIELD_INVALID: { readonly field: string; readonly value: unknown; readonly expected: string };
  /** A body is not an object of the expected shape. */
  BODY_INVALID: { readonly body: string };
  /** An id in the body is not the one its contents derive (`claimed` vs `computed`). */
  ID_MISMATCH: { readonly field: string; readonly claimed: string; readonly computed: string };
};

/** Stable codes of {@link WireError}. */
export type WireErrorCode = keyof WireErrorDetails;

/** A message (HTTP body, package, signature bundle) that cannot be parsed; nothing was acted on. */
export class WireError<C extends WireErrorCode = WireErrorCode> extends AgentEscrowError<C, WireErrorDetails[C]> {
  /** Whether this error has `code`; narrows `details` to that code's. */
  is<K extends WireErrorCode>(code: K): this is WireError<K> {
    const own: string = this.code;
    return own === code;
  }
}
