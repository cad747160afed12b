import { AgentEscrowError } from "../errors.ts";

/** Details of each {@link RelayerError} code. */
export type RelayerErrorDetails = {
  /** The job's body does not parse (the seed's 400): `field` names what is wrong. */
  JOB_INVALID: { readonly field: string; readonly reason: string };
  /** The request id was already given to another payload: one request id is one job. */
  REQUEST_ID_CONFLICT: { readonly requestId: string; readonly jobId: string };
  /** The activation body is for another agreement than the one the caller named. */
  AGREEMENT_MISMATCH: { readonly expected: string; readonly body: string };
  /** No job with this id or request id. */
  JOB_NOT_FOUND: { readonly id: string };
  /** Usage is recorded by the agreement's recorder: that address is not one of the relayer's signers on the chain. */
  RECORDER_NOT_SIGNER: { readonly chainId: number; readonly recorder: string };
  /** The buyer's policy refuses the purchase: `rule` (`sellers`, `maxPerAgreement`, `maxPerDay`), its `limit`, the offending `value`. */
  POLICY_REFUSED: { readonly buyer: string; readonly rule: string; readonly limit: string; readonly value: string };
  /** An approval or rejection of a job that does not await one. */
  APPROVAL_NOT_PENDING: { readonly id: string; readonly status: string };
  /** The relayer has no configuration (RPC, escrow, signers) for this chain. */
  CHAIN_NOT_CONFIGURED: { readonly chainId: number };
  /** `waitFor` gave up; the job goes on. */
  WAIT_TIMEOUT: { readonly id: string; readonly status: string };
  /** The store holds a job of a kind this version does not know (written by a newer one). */
  JOB_KIND_UNKNOWN: { readonly kind: string };
  /** A set of migrations names a table that is not a plain lowercase identifier. */
  MIGRATION_TABLE_INVALID: { readonly table: string };
  /** The store was asked for a transaction inside a transaction. */
  STORE_NESTED_TRANSACTION: Record<string, never>;
};

/** Stable codes of {@link RelayerError}. */
export type RelayerErrorCode = keyof RelayerErrorDetails;

/** A job the relayer refuses, cannot find or did not finish in time, or a store misuse. */
export class RelayerError<C extends RelayerErrorCode = RelayerErrorCode> extends AgentEscrowError<
  C,
  RelayerErrorDetails[C]
> {
  /** Whether this error has `code`; narrows `details` to that code's. */
  is<K extends RelayerErrorCode>(code: K): this is RelayerError<K> {
    const own: string = this.code;
    return own === code;
  }
}
