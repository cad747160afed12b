// Compare every registry token's EIP-712 domain with the live chain.
// Usage: RPC_URL_BASE=https://... RPC_URL_BASE_SEPOLIA=... npm run check-domains
// Chains without an RPC URL are listed as not checked; any difference makes the exit code 1.
import { createPublicClient, http } from "viem";
import { CHAINS, checkTokenDomain } from "../src/chains/index.ts";
import { urlFor, urlVariable } from "../src/testing/rpc-env.ts";

let failures = 0;
for (const chain of CHAINS) {
  const url = urlFor(chain);
  if (!url) {
    console.log(`- ${chain.name} (${chain.chainId}): not checked, set ${urlVariable(chain)}`);
    continue;
  }
  const client = createPublicClient({ transport: http(url) });
  for (const token of chain.tokens) {
    try {
      const result = await checkTokenDomain(client, token.address);
      if (result.ok) {
        console.log(`ok ${chain.name} ${token.symbol}: "${result.live.name}" v${result.live.version}`);
      } else {
        failures++;
        console.log(`DIFFERS ${chain.name} ${token.symbol}:`);
        for (const d of result.differences) console.log(`    ${d.field}: registry ${d.registry}, live ${d.live}`);
      }
    } catch (error) {
      failures++;
      console.log(`ERROR ${chain.name} ${token.symbol}: ${(error as Error).message}`);
    }
  }
}
process.exitCode = failures === 0 ? 0 : 1;
