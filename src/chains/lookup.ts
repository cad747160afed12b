import { type Address, isAddress, isAddressEqual } from "viem";
import { parseCaip2 } from "./caip2.ts";
import { ChainRegistryError } from "./errors.ts";
import { CHAINS } from "./registry.ts";
import type { ChainInfo, TokenInfo, TokenSymbol } from "./types.ts";

const byId = new Map(CHAINS.map((c) => [c.chainId, c]));
const byKey = new Map(CHAINS.map((c) => [c.key, c]));

/** The chain with this id, or `undefined`. */
export function findChain(chainId: number): ChainInfo | undefined {
  return byId.get(chainId);
}

/** The chain with this id. Throws `CHAIN_UNKNOWN` when it is not in the registry. */
export function getChain(chainId: number): ChainInfo {
  const found = byId.get(chainId);
  if (!found) {
    throw new ChainRegistryError("CHAIN_UNKNOWN", `chain ${chainId} is not supported`, {
      chainId,
      supported: CHAINS.map((c) => c.chainId),
    });
  }
  return found;
}

/** The chain with this key (`base`, `base-sepolia`, ...). Throws `CHAIN_UNKNOWN`. */
export function getChainByKey(key: string): ChainInfo {
  const found = byKey.get(key);
  if (!found) {
    throw new ChainRegistryError("CHAIN_UNKNOWN", `no chain with key ${JSON.stringify(key)}`, {
      key,
      supported: [...byKey.keys()],
    });
  }
  return found;
}

/** The chain a CAIP-2 id names. Throws `CAIP2_*` for a malformed id, `CHAIN_UNKNOWN` for an unsupported one. */
export function getChainByCaip2(id: string): ChainInfo {
  return getChain(parseCaip2(id));
}

/** A token on a chain by symbol or address. Throws `TOKEN_UNKNOWN` (or `CHAIN_UNKNOWN`). */
export function getToken(chainId: number, symbolOrAddress: TokenSymbol | Address | string): TokenInfo {
  const found = findToken(chainId, symbolOrAddress);
  if (!found) {
    const c = getChain(chainId);
    throw new ChainRegistryError(
      "TOKEN_UNKNOWN",
      `token ${symbolOrAddress} is not supported on ${c.name} (${chainId})`,
      { chainId, token: symbolOrAddress, supported: c.tokens.map((t) => t.symbol) },
    );
  }
  return found;
}

/** A token on a chain by symbol or address, or `undefined`. Address comparison ignores case. */
export function findToken(chainId: number, symbolOrAddress: string): TokenInfo | undefined {
  const c = byId.get(chainId);
  if (!c) return undefined;
  if (isAddress(symbolOrAddress, { strict: false })) {
    return c.tokens.find((t) => isAddressEqual(t.address, symbolOrAddress));
  }
  return c.tokens.find((t) => t.symbol === symbolOrAddress);
}

/** Every (chain, token) pair in the registry, mainnets first. */
export function allTokens(filter: { testnet?: boolean } = {}): readonly { chain: ChainInfo; token: TokenInfo }[] {
  return CHAINS.filter((c) => filter.testnet === undefined || c.testnet === filter.testnet).flatMap((chain) =>
    chain.tokens.map((token) => ({ chain, token })),
  );
}

/**
 * The token's EIP-712 domain, refusing (`DOMAIN_UNCONFIRMED`) a name and version the project has
 * not confirmed unless `allowUnconfirmed` is set, e.g. after a live domain check agreed.
 */
export function tokenDomain(
  chainId: number,
  symbolOrAddress: string,
  options: { allowUnconfirmed?: boolean } = {},
): { name: string; version: string; chainId: number; verifyingContract: Address } {
  const t = getToken(chainId, symbolOrAddress);
  if (t.domain.status !== "confirmed" && !options.allowUnconfirmed) {
    throw new ChainRegistryError(
      "DOMAIN_UNCONFIRMED",
      `the EIP-712 domain of ${t.symbol} on chain ${chainId} is ${t.domain.status} (${t.domain.source}); check it against the live token first`,
      { chainId, token: t.address, status: t.domain.status },
    );
  }
  return { name: t.domain.name, version: t.domain.version, chainId, verifyingContract: t.address };
}
