// A seller agent as its own process (two-agent test): it serves an upstream for the metered
// proxy, registers its service with the platform, and accepts every proposal made to it. It talks
// to the platform only over HTTP, with requests signed by its wallet. Prints one JSON line per
// event; runs until SIGTERM.
//   AGENT_KEY=0x... node test/support/seller-agent.ts <platform url>
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { privateKeyToAccount } from "viem/accounts";
import { platformAgent } from "./platform-agents.ts";

const url = process.argv[2] ?? "";
const key = process.env.AGENT_KEY;
if (!key?.startsWith("0x")) throw new Error("AGENT_KEY must be the seller's private key");
const seller = platformAgent(url, privateKeyToAccount(key as `0x${string}`));
const say = (event: string, detail: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ agent: "seller", event, ...detail }));

let served = 0;
const upstream = createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => {
    body += chunk;
  });
  req.on("end", () => {
    served++;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ translated: body.toUpperCase(), served }));
  });
});
await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));

const registered = await seller.call("POST", "/agents/services", "register_service", "-", {
  name: "Agent translation",
  description: "Translation for agents, metered per call",
  tags: ["translation", "agents"],
  unit_price: "400000",
  unit: "call",
  chains: [8453],
  tokens: ["USDC"],
  seller_wallet: seller.address,
  upstream_url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
});
const { service_id } = (await registered.json()) as { service_id: string };
say("registered", { status: registered.status, service_id });

let stopping = false;
process.once("SIGTERM", () => {
  stopping = true;
});
while (!stopping) {
  const res = await seller.call("POST", "/agents/agreements", "list_agreements", "-", { status: "proposed" });
  const { agreements } = (await res.json()) as {
    agreements: { agreement_id: string; seller_wallet: string; settlement_model: string }[];
  };
  for (const a of agreements.filter((x) => x.seller_wallet === seller.address)) {
    const accepted = await seller.call("PUT", `/usage-agreements/${a.agreement_id}/accept`, "accept", a.agreement_id);
    say("accepted", { agreement_id: a.agreement_id, model: a.settlement_model, status: accepted.status });
  }
  await new Promise((r) => setTimeout(r, 100));
}
say("stopped", { served });
upstream.close();
