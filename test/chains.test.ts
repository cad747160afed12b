import { getAddress } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allTokens,
  CHAINS,
  ChainRegistryError,
  checkTokenDomain,
  findChain,
  findToken,
  formatCaip2,
  getChain,
  getChainByCaip2,
  getChainByKey,
  getToken,
  parseCaip2,
  tokenDomain,
} from "../src/chains/index.ts";
import { type FaithfulChain, startFaithfulChain } from "../src/testing/faithful-chain.ts";

// The product documentation's "Supported Chains and Tokens" table, verbatim.
const SEED_TABLE = [
  ["Base", 8453, "eip155:8453", "USDC", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", 6, "USD Coin", "2"],
  ["Base", 8453, "eip155:8453", "EURC", "0x60a3E35Cc302bFA44Cb288Bc5a4F316Fdb1adb42", 6, "EURC", "2"],
  ["Arbitrum", 42161, "eip155:42161", "USDC", "0xaf88d065e77c8cC2239327C5EDb3A432268e5831", 6, "USD Coin", "2"],
  ["Optimism", 10, "eip155:10", "USDC", "0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85", 6, "USD Coin", "2"],
  ["Polygon", 137, "eip155:137", "USDC", "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", 6, "USD Coin", "2"],
  ["Avalanche", 43114, "eip155:43114", "USDC", "0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E", 6, "USD Coin", "2"],
  ["Avalanche", 43114, "eip155:43114", "EURC", "0xc891eb4cbdeff6e073e859e987815ed1505c2acd", 6, "Euro Coin", "2"],
] as const;

const TESTNET_USDC = [
  [84532, "0x036CbD53842c5426634e7929541eC2318f3dCF7e"],
  [421614, "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d"],
  [11155420, "0x5fd84259d66Cd46123540766Be93DFE6D43130D7"],
  [80002, "0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582"],
  [43113, "0x5425890298aed601595a70AB815c96711a31Bc65"],
] as const;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ChainRegistryError);
    return (error as ChainRegistryError).code;
  }
  return undefined;
}

describe("registry data", () => {
  it("has exactly the documented mainnet tokens", () => {
    const mainnet = allTokens({ testnet: false }).map(({ chain, token }) => [
      chain.chainId,
      chain.caip2,
      token.symbol,
      token.address,
      token.decimals,
      token.domain.name,
      token.domain.version,
    ]);
    expect(mainnet).toEqual(
      SEED_TABLE.map(([, id, caip2, sym, addr, dec, name, ver]) => [id, caip2, sym, getAddress(addr), dec, name, ver]),
    );
    for (const { token } of allTokens({ testnet: false })) expect(token.domain.status).toBe("confirmed");
  });

  it('has the five testnets\' USDC, with Base Sepolia signing as "USDC"', () => {
    const testnet = allTokens({ testnet: true }).map(({ chain, token }) => [chain.chainId, token.address]);
    expect(testnet).toEqual(TESTNET_USDC.map(([id, addr]) => [id, addr]));
    expect(getToken(84532, "USDC").domain).toMatchObject({ name: "USDC", version: "2", status: "confirmed" });
  });

  it("pairs every mainnet with its testnet", () => {
    for (const chain of CHAINS) {
      const other = getChainByKey(chain.counterpart);
      expect(other.counterpart).toBe(chain.key);
      expect(other.testnet).toBe(!chain.testnet);
    }
  });

  it("is frozen", () => {
    const base = getChain(8453);
    expect(Object.isFrozen(CHAINS)).toBe(true);
    expect(Object.isFrozen(base)).toBe(true);
    expect(Object.isFrozen(base.tokens)).toBe(true);
    expect(Object.isFrozen(base.tokens[0])).toBe(true);
    expect(Object.isFrozen(base.tokens[0]?.domain)).toBe(true);
    expect(() => {
      (base as { chainId: number }).chainId = 1;
    }).toThrow(TypeError);
  });
});

describe("CAIP-2", () => {
  it("parses and formats eip155 ids", () => {
    expect(parseCaip2("eip155:8453")).toBe(8453);
    expect(formatCaip2(43114)).toBe("eip155:43114");
    for (const c of CHAINS) expect(parseCaip2(formatCaip2(c.chainId))).toBe(c.chainId);
  });

  it.each([
    ["8453", "CAIP2_MALFORMED"],
    ["eip155:", "CAIP2_MALFORMED"],
    ["eip155:08453", "CAIP2_MALFORMED"],
    ["eip155:0x2105", "CAIP2_MALFORMED"],
    ["eip155:8453 ", "CAIP2_MALFORMED"],
    ["EIP155:8453", "CAIP2_MALFORMED"],
    ["eip155:99999999999999999999", "CAIP2_MALFORMED"],
    ["solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "CAIP2_UNSUPPORTED_NAMESPACE"],
  ])("refuses %j with %s", (id, code) => {
    expect(codeOf(() => parseCaip2(id))).toBe(code);
  });

  it("refuses to format a non-positive or fractional chain id", () => {
    expect(codeOf(() => formatCaip2(0))).toBe("CAIP2_MALFORMED");
    expect(codeOf(() => formatCaip2(1.5))).toBe("CAIP2_MALFORMED");
  });
});

describe("lookups", () => {
  it("finds chains by id, key and CAIP-2 id", () => {
    expect(getChain(42161).key).toBe("arbitrum");
    expect(getChainByKey("polygon-amoy").chainId).toBe(80002);
    expect(getChainByCaip2("eip155:10").name).toBe("OP Mainnet");
    expect(findChain(1)).toBeUndefined();
  });

  it("refuses unknown chains with CHAIN_UNKNOWN and the offending id", () => {
    expect(codeOf(() => getChain(1))).toBe("CHAIN_UNKNOWN");
    expect(codeOf(() => getChainByCaip2("eip155:1"))).toBe("CHAIN_UNKNOWN");
    expect(codeOf(() => getChainByKey("mainnet"))).toBe("CHAIN_UNKNOWN");
    try {
      getChain(1);
    } catch (error) {
      expect((error as ChainRegistryError).details).toMatchObject({ chainId: 1 });
    }
  });

  it("finds tokens by symbol or address in any case", () => {
    const eurc = getToken(43114, "EURC");
    expect(getToken(43114, eurc.address.toLowerCase()).symbol).toBe("EURC");
    expect(getToken(43114, eurc.address.toUpperCase().replace("0X", "0x")).symbol).toBe("EURC");
    expect(findToken(42161, "EURC")).toBeUndefined();
    expect(codeOf(() => getToken(42161, "EURC"))).toBe("TOKEN_UNKNOWN");
    expect(codeOf(() => getToken(8453, "0x0000000000000000000000000000000000000001"))).toBe("TOKEN_UNKNOWN");
  });

  it("gives the EIP-712 domain, refusing an unconfirmed one unless allowed", () => {
    expect(tokenDomain(8453, "USDC")).toEqual({
      name: "USD Coin",
      version: "2",
      chainId: 8453,
      verifyingContract: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    });
    expect(codeOf(() => tokenDomain(421614, "USDC"))).toBe("DOMAIN_UNCONFIRMED");
    expect(tokenDomain(421614, "USDC", { allowUnconfirmed: true }).name).toBe("USD Coin");
  });
});

describe("live domain check", () => {
  let local: FaithfulChain;
  beforeAll(async () => {
    local = await startFaithfulChain("base");
  });
  afterAll(async () => local?.close());

  it("agrees with a token that matches the registry", async () => {
    const result = await checkTokenDomain(local.dev.publicClient, getToken(8453, "USDC").address);
    expect(result.ok).toBe(true);
    expect(result.live.domainSeparator).toBe(result.expectedDomainSeparator);
  });

  it("reports every field in which a token differs", async () => {
    const eurc = getToken(8453, "EURC");
    // EURC installed under another EIP-712 name, as a testnet token might have.
    const other = await startFaithfulChain("base", {
      tokenOverride: (t) => (t.symbol === "EURC" ? { ...t, domain: { ...t.domain, name: "Euro Coin (test)" } } : t),
    });
    try {
      const result = await checkTokenDomain(other.dev.publicClient, eurc.address);
      expect(result.ok).toBe(false);
      expect(result.differences.map((d) => d.field)).toEqual(["name", "domainSeparator"]);
      expect(result.differences[0]).toEqual({ field: "name", registry: "EURC", live: "Euro Coin (test)" });
    } finally {
      await other.close();
    }
  });
});
