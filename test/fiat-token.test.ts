// Every (chain, token) in the registry, on an in-process chain reporting the real chain id with
// Circle's real FiatToken installed at the canonical address.
import { describe } from "vitest";
import { CHAINS } from "../src/chains/index.ts";
import { startFaithfulChain } from "../src/testing/faithful-chain.ts";
import { tokenConformanceSuite } from "./support/token-suite.ts";

describe.each(CHAINS.map((c) => [c.name, c] as const))("%s (in-process)", (_name, chain) => {
  tokenConformanceSuite(chain, () => startFaithfulChain(chain.chainId));
});
