import { AgentEscrowError } from "../../errors.ts";

/** Details of each {@link FacilitatorError} code. */
export type FacilitatorErrorDetails = {
  /** The client reads another chain than the payment's network: a configuration error, not the payer's. */
  CHAIN_MISMATCH: { readonly network: string; readonly chainId: number; readonly clientChainId: number };
};

/** Stable codes of {@link FacilitatorError}. */
export type FacilitatorErrorCode = keyof FacilitatorErrorDetails;

/**
 * The facilitator cannot judge a payment at all (as opposed to refusing it, which is a verdict).
 * A chain read that fails is an `ActionError` `RPC_FAILED` (transient, retry).
 */
export class FacilitatorError<C extends FacilitatorErrorCode = FacilitatorErrorCode> extends AgentEscrowError<
  C,
  FacilitatorErrorDetails[C]
> {
  /** Whether this error has `code`; narrows `details` to that code's. */
  is<K extends FacilitatorErrorCode>(code: K): this is FacilitatorError<K> {
    const own: string = this.code;
    return own === code;
  }
}
