// The live-fork path, exercised without the internet: a local anvil plays the live chain
// (Avalanche C-Chain's id, Circle's FiatToken installed at the canonical addresses), and the
// conformance suite runs on a Hardhat fork of it, attaching to the tokens it finds there through
// their real role holders. (An OP-stack chain cannot be played by a plain anvil: Hardhat's OP
// block builder needs the Holocene fee parameters that real OP blocks carry in extraData.)
import { createPublicClient, type EIP1193Provider, http } from "viem";
import { afterAll, beforeAll, describe } from "vitest";
import { getChain } from "../src/chains/index.ts";
import { devChainFromProvider } from "../src/testing/dev-chain.ts";
import { startFaithfulChain } from "../src/testing/faithful-chain.ts";
import { installFiatToken } from "../src/testing/fiat-token.ts";
import { type Anvil, startAnvil } from "./support/anvil.ts";
import { tokenConformanceSuite } from "./support/token-suite.ts";

const avalanche = getChain(43114);
let anvil: Anvil;
beforeAll(async () => {
  anvil = await startAnvil(avalanche.chainId);
  const client = createPublicClient({ transport: http(anvil.url) });
  const provider = {
    request: (args: { method: string; params?: unknown }) => client.request(args as never),
  } as EIP1193Provider;
  const dev = await devChainFromProvider(provider, "anvil");
  for (const token of avalanche.tokens) await installFiatToken(dev, token);
});
afterAll(async () => anvil?.stop());

describe("fork of a JSON-RPC chain (anvil standing in for Avalanche C-Chain)", () => {
  tokenConformanceSuite(avalanche, () => startFaithfulChain(avalanche.chainId, { forkUrl: anvil.url }));
});
