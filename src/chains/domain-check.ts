import { type Address, type Hex, hashDomain, type PublicClient } from "viem";
import { fiatTokenAbi } from "../abi/index.ts";
import { getChain, getToken } from "./lookup.ts";

/** One field where a live token disagrees with the registry. */
export interface DomainDifference {
  readonly field: "name" | "version" | "decimals" | "domainSeparator";
  readonly registry: string;
  readonly live: string;
}

export interface DomainCheckResult {
  readonly chainId: number;
  readonly token: Address;
  readonly live: { name: string; version: string; decimals: number; domainSeparator: Hex };
  /** The separator the registry's name and version give for this chain and address. */
  readonly expectedDomainSeparator: Hex;
  readonly differences: readonly DomainDifference[];
  readonly ok: boolean;
}

/**
 * Read `name()`, `version()`, `decimals()` and `DOMAIN_SEPARATOR()` from a token on a live chain
 * (or a fork) and report every difference from the registry. Use it before trusting a domain
 * whose status is not `confirmed`.
 */
export async function checkTokenDomain(client: PublicClient, tokenAddress: Address): Promise<DomainCheckResult> {
  const chainId = await client.getChainId();
  const token = getToken(getChain(chainId).chainId, tokenAddress);
  const read = <const F extends "name" | "version" | "decimals" | "DOMAIN_SEPARATOR">(functionName: F) =>
    client.readContract({ address: token.address, abi: fiatTokenAbi, functionName });
  const [name, version, decimals, domainSeparator] = await Promise.all([
    read("name"),
    read("version"),
    read("decimals"),
    read("DOMAIN_SEPARATOR"),
  ]);
  const expectedDomainSeparator = hashDomain({
    domain: {
      name: token.domain.name,
      version: token.domain.version,
      chainId: BigInt(chainId),
      verifyingContract: token.address,
    },
    types: {
      EIP712Domain: [
        { name: "name", type: "string" },
        { name: "version", type: "string" },
        { name: "chainId", type: "uint256" },
        { name: "verifyingContract", type: "address" },
      ],
    },
  });
  const differences: DomainDifference[] = [];
  const compare = (field: DomainDifference["field"], registry: string, live: string) => {
    if (registry !== live) differences.push({ field, registry, live });
  };
  compare("name", token.domain.name, name);
  compare("version", token.domain.version, version);
  compare("decimals", String(token.decimals), String(decimals));
  compare("domainSeparator", expectedDomainSeparator, domainSeparator);
  return {
    chainId,
    token: token.address,
    live: { name, version, decimals, domainSeparator },
    expectedDomainSeparator,
    differences,
    ok: differences.length === 0,
  };
}
