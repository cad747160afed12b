import { AgentEscrowError } from "../errors.ts";

/** Details of each {@link ActionError} code. */
export type ActionErrorDetails = {
  /** The wallet client has no account to send from. */
  NO_ACCOUNT: { readonly functionName: string };
  /**
   * The contract refused the call (in simulation or on-chain). `errorName` and `args` are the
   * decoded custom error (or `Error` with the reason string); permanent for these arguments.
   */
  CONTRACT_REVERTED: {
    readonly functionName: string;
    readonly address: string;
    readonly errorName?: string;
    readonly args?: readonly unknown[];
    readonly hash?: string;
  };
  /** The node could not be reached or answered with an error: transient, retry. */
  RPC_FAILED: { readonly functionName: string; readonly address: string };
};

/** Stable codes of {@link ActionError}. */
export type ActionErrorCode = keyof ActionErrorDetails;

/** A contract call that could not be made, or that the contract refused. */
export class ActionError<C extends ActionErrorCode = ActionErrorCode> extends AgentEscrowError<
  C,
  ActionErrorDetails[C]
> {
  /** Whether this error has `code`; narrows `details` to that code's. */
  is<K extends ActionErrorCode>(code: K): this is ActionError<K> {
    const own: string = this.code;
    return own === code;
  }
}
