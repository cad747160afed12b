// The seller agent as its own process (the two-agent test). Prints one JSON line per event; runs
// until SIGTERM.   AGENT_KEY=0x... node test/support/seller-agent.ts <platform url>
import { isHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { runSeller } from "../../scripts/agents/seller.ts";

const key = process.env.AGENT_KEY;
if (!key || !isHex(key)) throw new Error("AGENT_KEY must be the seller's private key");
const stop = new AbortController();
process.once("SIGTERM", () => stop.abort());
await runSeller({
  url: process.argv[2] ?? "",
  account: privateKeyToAccount(key),
  signal: stop.signal,
  say: (event, detail = {}) => console.log(JSON.stringify({ agent: "seller", event, ...detail })),
});
