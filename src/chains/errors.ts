import { AgentEscrowError } from "../errors.ts";

/** Stable codes of {@link ChainRegistryError}. */
export type ChainRegistryErrorCode =
  | "CAIP2_MALFORMED"
  | "CAIP2_UNSUPPORTED_NAMESPACE"
  | "CHAIN_UNKNOWN"
  | "TOKEN_UNKNOWN"
  | "DOMAIN_UNCONFIRMED";

/** A chain id, CAIP-2 id or token that the registry cannot accept. */
export class ChainRegistryError extends AgentEscrowError<ChainRegistryErrorCode> {}
