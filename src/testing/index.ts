/**
 * Mainnet-faithful development chains: Circle's real FiatToken at the canonical addresses on an
 * in-process chain that reports a listed chain's real id, or a fork of the live chain (Node only).
 * @packageDocumentation
 */
export { type DevChain, devChainFromProvider } from "./dev-chain.ts";
export { type FaithfulChain, startFaithfulChain } from "./faithful-chain.ts";
export { attachFiatToken, type FiatTokenHandle, installFiatToken, LOCAL_TOKEN_ROLES } from "./fiat-token.ts";
export { type UrlKind, urlFor, urlVariable } from "./rpc-env.ts";
