import type { Address } from "viem";

/** Stablecoins this project moves. */
export type TokenSymbol = "USDC" | "EURC";

/** A CAIP-2 chain id in the `eip155` namespace, e.g. `eip155:8453`. */
export type Caip2Id = `eip155:${number}`;

/**
 * How much we know about a token's EIP-712 domain:
 * - `confirmed`: taken from the product documentation (the seed table) or checked on the live chain;
 * - `reported`: published by a third party but not checked by this project;
 * - `unverified`: our best knowledge only. Run the domain check against the live chain before
 *   signing anything with it.
 */
export type DomainStatus = "confirmed" | "reported" | "unverified";

/** The EIP-712 domain fields a token signs with (besides chain id and its own address). */
export interface TokenDomain {
  readonly name: string;
  readonly version: string;
  readonly status: DomainStatus;
  /** Where the name and version come from. */
  readonly source: string;
}

export interface TokenInfo {
  readonly symbol: TokenSymbol;
  /** Checksummed address of the token (Circle's FiatToken proxy). */
  readonly address: Address;
  readonly decimals: 6;
  /** `symbol()` as the contract reports it. */
  readonly onChainSymbol: string;
  /** Currency code passed to FiatToken's `initialize`. */
  readonly currency: "USD" | "EUR";
  readonly domain: TokenDomain;
}

/** Hardhat chain type: OP-stack chains get Hardhat's OP support (L1 fee estimation). */
export type ChainType = "op" | "generic";

export interface ChainInfo {
  /** Stable short key, used in network names and environment variables (e.g. `base-sepolia`). */
  readonly key: string;
  readonly name: string;
  readonly chainId: number;
  readonly caip2: Caip2Id;
  readonly testnet: boolean;
  readonly chainType: ChainType;
  /** For a testnet: key of the mainnet it mirrors; for a mainnet: key of its testnet. */
  readonly counterpart: string;
  readonly explorerUrl: string;
  readonly tokens: readonly TokenInfo[];
}
