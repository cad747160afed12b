// Two agents as separate processes, a buyer and a seller, talking to the platform service (a third
// process) over HTTP only, with the client binding: the five flows of agent-payment-workflows and
// a credit purchase, on the embedded store and again on PostgreSQL. The chain is anvil with
// Circle's real FiatToken; this test process plays the owner (the approval) and funds the buyer.
import { type Hex, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RelayerChainFixture, startRelayerChain } from "./support/relayer-chain.ts";
import { runScript, type ScriptRun } from "./support/run-script.ts";

const PG_URL = process.env.RELAYER_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";
const API_KEY = "owner-key-for-the-agents-test";

let chain: RelayerChainFixture;
beforeAll(async () => {
  chain = await startRelayerChain();
});
afterAll(async () => chain?.stop());

const events = (run: ScriptRun) =>
  run
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { agent: string; event: string; [k: string]: unknown });

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 90_000) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runAgents(store: string[]) {
  const relayerKey = generatePrivateKey();
  await chain.rpc("anvil_setBalance", [privateKeyToAccount(relayerKey).address, toHex(10n ** 20n)]);
  const buyerKey: Hex = generatePrivateKey();
  const sellerKey: Hex = generatePrivateKey();
  const buyer = privateKeyToAccount(buyerKey).address;
  await chain.token.mint(buyer, 20_000_000n);
  const service = runScript(
    "relayer.ts",
    [
      "--platform",
      "--port",
      "0",
      "--rpc",
      chain.url,
      "--escrow",
      chain.escrow,
      "--direct-payment",
      chain.directPayment,
      "--api-key",
      API_KEY,
      ...store,
    ],
    { RELAYER_PRIVATE_KEY: relayerKey },
  );
  const runs: ScriptRun[] = [service];
  try {
    await until(() => service.output().includes("operator API key"), "the platform service");
    const url = /platform service (http:\/\/\S+)/.exec(service.output())?.[1] ?? "";
    // The owner sets the buyer's guardrail before it starts: above 2.5 USDC, ask.
    const put = await fetch(`${url}/agents/${buyer}/policies`, {
      method: "PUT",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ approval_threshold: "2500000" }),
    });
    expect(put.status).toBe(200);
    const seller = runScript("test/support/seller-agent.ts", [url], { AGENT_KEY: sellerKey });
    const buyerRun = runScript("test/support/buyer-agent.ts", [url], { AGENT_KEY: buyerKey, RPC_URL: chain.url });
    runs.push(seller, buyerRun);
    // The owner approves the purchase that waits for it.
    await until(() => events(buyerRun).some((e) => e.event === "awaiting approval"), "the purchase awaiting approval");
    const overview = (await (
      await fetch(`${url}/owner/overview`, { headers: { authorization: `Bearer ${API_KEY}` } })
    ).json()) as {
      approvals: { id: string; buyer: string }[];
    };
    const approval = overview.approvals.find((a) => a.buyer === buyer.toLowerCase());
    expect(approval).toBeDefined();
    const approved = await fetch(`${url}/agents/${buyer}/approvals/${approval?.id}/approve`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(approved.status).toBe(200);
    expect(await buyerRun.exited, buyerRun.output()).toBe(0);
    seller.child.kill("SIGTERM");
    expect(await seller.exited, seller.output()).toBe(0);
    return { buyer: events(buyerRun), seller: events(seller) };
  } finally {
    for (const run of runs) run.child.kill("SIGINT");
    await Promise.all(runs.map((r) => r.exited));
  }
}

function expectFlows(result: Awaited<ReturnType<typeof runAgents>>) {
  const buyer = result.buyer;
  const find = (event: string) => buyer.filter((e) => e.event === event);
  expect(find("found")).toHaveLength(1);
  expect(find("active")[0]).toMatchObject({ http: 202, activation_tx_hash: expect.stringMatching(/^0x/) });
  expect(find("proxied").map((e) => [e.status, e.usage])).toEqual([
    [200, "400000"],
    [200, "800000"],
    [409, null],
  ]);
  expect(find("usage ended")[0]).toMatchObject({ status: 202 });
  expect(find("direct purchase")[0]).toMatchObject({ transaction_hash: expect.stringMatching(/^0x/) });
  expect(find("approved and active")).toHaveLength(1);
  expect(find("credits")[0]).toMatchObject({ status: 200, balance: 500 });
  expect(find("balance")[0]).toMatchObject({ balance_credits: 500 });
  expect(find("done")).toHaveLength(1);
  // The seller accepted the three proposals (two escrows, one direct purchase) and served two calls.
  expect(result.seller.filter((e) => e.event === "accepted").map((e) => e.status)).toEqual([200, 200, 200]);
  expect(result.seller.find((e) => e.event === "stopped")).toMatchObject({ served: 2 });
}

describe("two agents as separate processes", () => {
  it("go through the five flows and a credit purchase on the embedded store", async () => {
    expectFlows(await runAgents([]));
  }, 180_000);

  it("and again on PostgreSQL", async () => {
    const { default: pg } = await import("pg");
    const schema = `platform_agents_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    const admin = new pg.Pool({ connectionString: PG_URL });
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      expectFlows(await runAgents(["--pg", `${PG_URL}?options=-c%20search_path%3D${schema}`]));
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  }, 180_000);
});
