/**
 * EIP-712 type definitions and signing helpers. These definitions exist once; the contracts'
 * tests, the client binding and the relayer all sign through them.
 * @packageDocumentation
 */

export { AgentEscrowError, type ErrorDetails, isAgentEscrowError } from "../errors.ts";
export * from "./direct.ts";
export * from "./escrow.ts";
export * from "./token.ts";
