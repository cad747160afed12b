// The seller agent of the demo and of the two-agent test: it serves an upstream for the metered
// proxy, registers its service with the platform, and accepts every proposal made to it, over
// HTTP only, with requests signed by its wallet.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { LocalAccount } from "viem";
import type { AgentLog } from "./buyer.ts";
import { platformAgent } from "./platform-agent.ts";

/** Run the seller until `signal` aborts. Returns how many metered calls its upstream served. */
export async function runSeller(options: {
  readonly url: string;
  readonly account: LocalAccount;
  readonly say: AgentLog;
  readonly signal: AbortSignal;
}): Promise<{ served: number }> {
  const { url, account, say, signal } = options;
  const seller = platformAgent(url, account);
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
  try {
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
    while (!signal.aborted) {
      const res = await seller.call("POST", "/agents/agreements", "list_agreements", "-", { status: "proposed" });
      const { agreements } = (await res.json()) as {
        agreements: { agreement_id: string; seller_wallet: string; settlement_model: string }[];
      };
      for (const a of agreements.filter((x) => x.seller_wallet === seller.address)) {
        const accepted = await seller.call(
          "PUT",
          `/usage-agreements/${a.agreement_id}/accept`,
          "accept",
          a.agreement_id,
        );
        say("accepted", { agreement_id: a.agreement_id, model: a.settlement_model, status: accepted.status });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    say("stopped", { served });
    return { served };
  } finally {
    upstream.close();
  }
}
