import { AgentEscrowError } from "../errors.ts";

/** Stable codes of {@link X402Error}. */
export type X402ErrorCode =
  | "HEADER_MALFORMED"
  | "PAYLOAD_INVALID"
  | "VERSION_UNSUPPORTED"
  | "NO_ACCEPTABLE_REQUIREMENTS"
  | "DOMAIN_MISMATCH"
  | "AMOUNT_ABOVE_CAP"
  | "NONCE_REUSED"
  | "SIGNER_MISMATCH";

/** An x402 header or payload that cannot be read, or a payment this wallet must not sign. */
export class X402Error extends AgentEscrowError<X402ErrorCode> {}
