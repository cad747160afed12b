// The same conformance suite on a real fork of each listed chain, against the real deployed token.
// A chain runs only when FORK_URL_<KEY> is set (e.g. FORK_URL_BASE); otherwise its cases are
// reported as skipped, and a warning names the variable.
import { describe, it } from "vitest";
import { CHAINS } from "../src/chains/index.ts";
import { startFaithfulChain } from "../src/testing/faithful-chain.ts";
import { urlFor, urlVariable } from "../src/testing/rpc-env.ts";
import { tokenConformanceSuite } from "./support/token-suite.ts";

const missing: string[] = [];
for (const chain of CHAINS) {
  const url = urlFor(chain, "FORK_URL");
  if (url) {
    describe(`${chain.name} (live fork)`, () => {
      tokenConformanceSuite(chain, () => startFaithfulChain(chain.chainId, { forkUrl: url }));
    });
  } else {
    missing.push(urlVariable(chain, "FORK_URL"));
    describe(`${chain.name} (live fork)`, () => {
      it.skip(`SKIPPED: no live fork, set ${urlVariable(chain, "FORK_URL")} to run it`, () => {});
    });
  }
}
if (missing.length > 0) {
  console.warn(`\n[fork] SKIPPED live-fork runs for ${missing.length} chains; set ${missing.join(", ")}\n`);
}
