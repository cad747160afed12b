/**
 * The chain and token registry: the single source of truth for chain ids, CAIP-2 ids, token
 * addresses, decimals and EIP-712 domains.
 * @packageDocumentation
 */

export { AgentEscrowError, type ErrorDetails, isAgentEscrowError } from "../errors.ts";
export { formatCaip2, parseCaip2 } from "./caip2.ts";
export { checkTokenDomain, type DomainCheckResult, type DomainDifference } from "./domain-check.ts";
export { ChainRegistryError, type ChainRegistryErrorCode } from "./errors.ts";
export {
  allTokens,
  findChain,
  findToken,
  getChain,
  getChainByCaip2,
  getChainByKey,
  getToken,
  tokenDomain,
} from "./lookup.ts";
export { CHAINS } from "./registry.ts";
export type { Caip2Id, ChainInfo, ChainType, DomainStatus, TokenDomain, TokenInfo, TokenSymbol } from "./types.ts";
