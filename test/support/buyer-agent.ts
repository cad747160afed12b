// The buyer agent as its own process (the two-agent test). Prints one JSON line per milestone and
// exits 0 when every flow ended as it should.
//   AGENT_KEY=0x... RPC_URL=http://... node test/support/buyer-agent.ts <platform url>
import { createPublicClient, http, isHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { runBuyer } from "../../scripts/agents/buyer.ts";

const key = process.env.AGENT_KEY;
if (!key || !isHex(key)) throw new Error("AGENT_KEY must be the buyer's private key");
await runBuyer({
  url: process.argv[2] ?? "",
  account: privateKeyToAccount(key),
  client: createPublicClient({ transport: http(process.env.RPC_URL ?? "") }),
  say: (event, detail = {}) => console.log(JSON.stringify({ agent: "buyer", event, ...detail })),
});
