import { AgentEscrowError } from "../errors.ts";

/** Stable codes of {@link ClientError}. */
export type ClientErrorCode =
  | "PACKAGE_INVALID"
  | "PACKAGE_MISMATCH"
  | "TOKEN_NOT_ALLOWED"
  | "AMOUNT_ABOVE_CAP"
  | "SIGNER_MISMATCH"
  | "FEE_MISMATCH"
  | "CHAIN_MISMATCH"
  | "NO_ACCOUNT"
  | "TRANSACTION_REVERTED";

/** An activation package, payment requirement or call this client refuses, before signing or sending. */
export class ClientError extends AgentEscrowError<ClientErrorCode> {}
