// Loads the type extension of hardhat-viem (connection.viem).
import type {} from "@nomicfoundation/hardhat-viem";
import type { NetworkConnection } from "hardhat/types/network";
import type { EIP1193Provider, WalletClient } from "viem";
import { type ChainInfo, getChain, getChainByKey, type TokenInfo, type TokenSymbol } from "../chains/index.ts";
import { type DevChain, devChainFromProvider } from "./dev-chain.ts";
import { attachFiatToken, type FiatTokenHandle, installFiatToken } from "./fiat-token.ts";

/** A running chain that reports a listed chain's id and holds Circle's real tokens at their addresses. */
export interface FaithfulChain {
  readonly chain: ChainInfo;
  readonly connection: NetworkConnection;
  readonly dev: DevChain;
  /** `true` when this is a fork of the live chain rather than a fresh in-process chain. */
  readonly forked: boolean;
  readonly tokens: Readonly<Partial<Record<TokenSymbol, FiatTokenHandle>>>;
  /** The handle of a token the chain has; throws when the chain has no such token. */
  token(symbol: TokenSymbol): FiatTokenHandle;
  /** Hardhat's funded local accounts as wallet clients. */
  wallets(): Promise<WalletClient[]>;
  close(): Promise<void>;
}

/**
 * Start an in-process chain reporting `chainIdOrKey`'s real chain id, with Circle's FiatToken v2.2
 * installed at every registry token's canonical address. With `forkUrl`, fork the live chain
 * instead and operate the real deployed tokens.
 */
export async function startFaithfulChain(
  chainIdOrKey: number | string,
  options: {
    forkUrl?: string;
    forkBlockNumber?: bigint;
    /** Change a token's metadata before it is installed (tests of mismatching domains). */
    tokenOverride?: (token: TokenInfo) => TokenInfo;
  } = {},
): Promise<FaithfulChain> {
  const chain = typeof chainIdOrKey === "number" ? getChain(chainIdOrKey) : getChainByKey(chainIdOrKey);
  const forked = options.forkUrl !== undefined;
  // Hardhat loads the project's configuration when it is first imported: import it when a chain is
  // started, not when this module is, so the entry point loads outside a Hardhat project too.
  const { network } = await import("hardhat");
  const connection = await network.create({
    network: `sim-${chain.key}`,
    ...(options.forkUrl
      ? {
          override: {
            forking: {
              url: options.forkUrl,
              ...(options.forkBlockNumber !== undefined ? { blockNumber: options.forkBlockNumber } : {}),
            },
          },
        }
      : {}),
  });
  try {
    const dev = await devChainFromProvider(connection.provider as unknown as EIP1193Provider, "hardhat");
    if (dev.chainId !== chain.chainId) {
      throw new Error(`network sim-${chain.key} reports chain id ${dev.chainId}, expected ${chain.chainId}`);
    }
    const tokens: Partial<Record<TokenSymbol, FiatTokenHandle>> = {};
    for (const t of chain.tokens) {
      tokens[t.symbol] = forked
        ? await attachFiatToken(dev, t)
        : await installFiatToken(dev, options.tokenOverride ? options.tokenOverride(t) : t);
    }
    return {
      chain,
      connection,
      dev,
      forked,
      tokens,
      token(symbol) {
        const handle = tokens[symbol];
        if (!handle) throw new Error(`${chain.name} has no ${symbol} in the registry`);
        return handle;
      },
      wallets: () => connection.viem.getWalletClients() as Promise<WalletClient[]>,
      close: () => connection.close(),
    };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
