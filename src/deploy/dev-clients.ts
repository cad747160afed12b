import {
  type Chain,
  createPublicClient,
  createTestClient,
  custom,
  type EIP1193Provider,
  type PublicClient,
  type TestClient,
} from "viem";

/**
 * A public client, and a test client for development chains (placing CreateX), over a Hardhat
 * connection's EIP-1193 provider, for whatever chain id its node reports. The deployment code's
 * own: it does not depend on the testing helpers.
 */
export async function clientsFromProvider(
  provider: EIP1193Provider,
): Promise<{ chainId: number; publicClient: PublicClient; testClient: TestClient }> {
  const transport = custom(provider);
  const chainId = await createPublicClient({ transport }).getChainId();
  const chain: Chain = {
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [] } },
  };
  return {
    chainId,
    publicClient: createPublicClient({ chain, transport, cacheTime: 0, pollingInterval: 50 }),
    testClient: createTestClient({ chain, transport, mode: "hardhat" }),
  };
}
