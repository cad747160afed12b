import {
  type Address,
  type Chain,
  createPublicClient,
  createTestClient,
  createWalletClient,
  custom,
  type EIP1193Provider,
  type PublicClient,
  parseEther,
  type TestClient,
  type WalletClient,
} from "viem";

/**
 * A development chain (in-process Hardhat network, an anvil, or a fork of a live chain) as the
 * helpers in this folder need it: a public client, a test client for state overrides and
 * impersonation, and wallet clients for impersonated addresses.
 */
export interface DevChain {
  readonly chainId: number;
  readonly publicClient: PublicClient;
  readonly testClient: TestClient;
  /** A wallet client whose JSON-RPC account is `address` (impersonated and funded with gas). */
  impersonate(address: Address): Promise<WalletClient>;
}

/** Wrap an EIP-1193 provider of a Hardhat (EDR) or anvil node. */
export async function devChainFromProvider(
  provider: EIP1193Provider,
  mode: "hardhat" | "anvil" = "hardhat",
): Promise<DevChain> {
  const transport = custom(provider);
  const probe = createPublicClient({ transport });
  const chainId = await probe.getChainId();
  const chain: Chain = {
    id: chainId,
    name: `dev-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [] } },
  };
  const publicClient = createPublicClient({ chain, transport, cacheTime: 0, pollingInterval: 50 });
  const testClient = createTestClient({ chain, transport, mode });
  return {
    chainId,
    publicClient,
    testClient,
    // Impersonation and the gas balance are chain state: a snapshot revert can undo them, so they
    // are set again on every call rather than remembered here.
    async impersonate(address) {
      await testClient.impersonateAccount({ address });
      if ((await publicClient.getBalance({ address })) < parseEther("1")) {
        await testClient.setBalance({ address, value: parseEther("1000") });
      }
      return createWalletClient({ chain, transport, account: address });
    },
  };
}
