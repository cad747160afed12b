import { getAddress } from "viem";
import type { ChainInfo, ChainType, TokenDomain, TokenInfo, TokenSymbol } from "./types.ts";

const SEED = "product docs: Supported Chains and Tokens table";

function token(symbol: TokenSymbol, address: string, domain: TokenDomain, onChainSymbol: string = symbol): TokenInfo {
  return Object.freeze({
    symbol,
    address: getAddress(address),
    decimals: 6,
    onChainSymbol,
    currency: symbol === "USDC" ? "USD" : "EUR",
    domain: Object.freeze(domain),
  });
}

const usdCoin: TokenDomain = { name: "USD Coin", version: "2", status: "confirmed", source: SEED };

function chain(
  key: string,
  name: string,
  chainId: number,
  testnet: boolean,
  chainType: ChainType,
  counterpart: string,
  explorerUrl: string,
  tokens: TokenInfo[],
): ChainInfo {
  return Object.freeze({
    key,
    name,
    chainId,
    caip2: `eip155:${chainId}` as const,
    testnet,
    chainType,
    counterpart,
    explorerUrl,
    tokens: Object.freeze(tokens),
  });
}

/**
 * Every chain and token this project supports. Mainnet rows are the product documentation's table,
 * exactly. Testnet USDC addresses are Circle's published ones; their EIP-712 names differ between
 * testnets and are marked with how sure we are (see {@link DomainStatus}).
 */
export const CHAINS: readonly ChainInfo[] = Object.freeze([
  chain("base", "Base", 8453, false, "op", "base-sepolia", "https://basescan.org", [
    token("USDC", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", usdCoin),
    token("EURC", "0x60a3E35Cc302bFA44Cb288Bc5a4F316Fdb1adb42", {
      name: "EURC",
      version: "2",
      status: "confirmed",
      source: SEED,
    }),
  ]),
  chain("arbitrum", "Arbitrum One", 42161, false, "generic", "arbitrum-sepolia", "https://arbiscan.io", [
    token("USDC", "0xaf88d065e77c8cC2239327C5EDb3A432268e5831", usdCoin),
  ]),
  chain("optimism", "OP Mainnet", 10, false, "op", "optimism-sepolia", "https://optimistic.etherscan.io", [
    token("USDC", "0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85", usdCoin),
  ]),
  chain("polygon", "Polygon PoS", 137, false, "generic", "polygon-amoy", "https://polygonscan.com", [
    token("USDC", "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", usdCoin),
  ]),
  chain("avalanche", "Avalanche C-Chain", 43114, false, "generic", "avalanche-fuji", "https://snowtrace.io", [
    token("USDC", "0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E", usdCoin),
    token("EURC", "0xc891eb4cbdeff6e073e859e987815ed1505c2acd", {
      name: "Euro Coin",
      version: "2",
      status: "confirmed",
      source: SEED,
    }),
  ]),
  chain("base-sepolia", "Base Sepolia", 84532, true, "op", "base", "https://sepolia.basescan.org", [
    token("USDC", "0x036CbD53842c5426634e7929541eC2318f3dCF7e", {
      name: "USDC",
      version: "2",
      status: "confirmed",
      source: 'project requirements: Base Sepolia USDC signs as "USDC"',
    }),
  ]),
  chain("arbitrum-sepolia", "Arbitrum Sepolia", 421614, true, "generic", "arbitrum", "https://sepolia.arbiscan.io", [
    token("USDC", "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d", {
      name: "USD Coin",
      version: "2",
      status: "unverified",
      source: "assumed equal to the mainnet name; run the domain check before use",
    }),
  ]),
  chain("optimism-sepolia", "OP Sepolia", 11155420, true, "op", "optimism", "https://sepolia-optimism.etherscan.io", [
    token("USDC", "0x5fd84259d66Cd46123540766Be93DFE6D43130D7", {
      name: "USDC",
      version: "2",
      status: "unverified",
      source: "assumed equal to Base Sepolia's testnet name; run the domain check before use",
    }),
  ]),
  chain("polygon-amoy", "Polygon Amoy", 80002, true, "generic", "polygon", "https://amoy.polygonscan.com", [
    token("USDC", "0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582", {
      name: "USDC",
      version: "2",
      status: "reported",
      source: "x402 reference configuration for Polygon Amoy",
    }),
  ]),
  chain("avalanche-fuji", "Avalanche Fuji", 43113, true, "generic", "avalanche", "https://testnet.snowtrace.io", [
    token("USDC", "0x5425890298aed601595a70AB815c96711a31Bc65", {
      name: "USD Coin",
      version: "2",
      status: "reported",
      source: "x402 reference configuration for Avalanche Fuji",
    }),
  ]),
]);
