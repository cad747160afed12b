import { AgentEscrowError } from "../errors.ts";

/** Stable codes of {@link CreditsError}. */
export type CreditsErrorCode =
  /** The credit amount is not a positive multiple of 500 (details: `credits`, `suggestedCredits`). */
  | "CREDIT_PACK_INVALID"
  /** A field of an EIP-191 message (address, nonce, session, request id, action, product, parameters) is unusable. */
  | "SIGNED_MESSAGE_INVALID"
  /** The purchase route answered 400; `details.error` is the server's text, safe to surface. */
  | "PURCHASE_REJECTED"
  /** The route kept answering 202 or 5xx (or the network kept failing) until the attempt bound. */
  | "PURCHASE_RETRIES_EXHAUSTED"
  /** The route answered outside the documented contract (missing challenge header, second 402, odd status or body). */
  | "PURCHASE_PROTOCOL_ERROR";

/** A credit pack, signed message or credit purchase that cannot go ahead or did not complete. */
export class CreditsError extends AgentEscrowError<CreditsErrorCode> {}
