// The relayer's HTTP service over real HTTP, on anvil with Circle's real FiatToken at Base's USDC
// address: the seeds' activate-escrow (202) and escrow-status, errors as JSON with stable codes,
// operator authentication, and signed webhooks.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createPublicClient, http, keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAgreement } from "../src/actions/index.ts";
import { buildDirectStablecoinAgreement, type DirectPaymentRequirements } from "../src/client/index.ts";
import { agreementRef } from "../src/eip712/index.ts";
import { directPaymentFee } from "../src/fees.ts";
import { createRelayer, pgliteStore, type Relayer, type Store } from "../src/relayer/index.ts";
import {
  createRelayerService,
  type ServedService,
  serveRelayerService,
  verifyWebhookSignature,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  webhookNotifier,
} from "../src/service/index.ts";
import { base, type RelayerChainFixture, startRelayerChain } from "./support/relayer-chain.ts";

const API_KEY = "operator-key-for-tests";
const WEBHOOK_SECRET = "webhook-secret-for-tests";

let chain: RelayerChainFixture;
let store: Store;
let relayer: Relayer;
let served: ServedService;
const deliveries: { body: string; timestamp: string | undefined; signature: string | undefined }[] = [];
let receiver: ReturnType<typeof createServer>;

beforeAll(async () => {
  chain = await startRelayerChain();
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      deliveries.push({
        body,
        timestamp: header(WEBHOOK_TIMESTAMP_HEADER),
        signature: header(WEBHOOK_SIGNATURE_HEADER),
      });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const signer = chain.account(30);
  await chain.rpc("anvil_setBalance", [signer.address, "0x3635C9ADC5DEA00000"]);
  store = await pgliteStore();
  relayer = createRelayer({
    chains: [
      {
        chainId: base.chainId,
        client: createPublicClient({ transport: http(chain.url), cacheTime: 0, pollingInterval: 20 }),
        escrow: chain.escrow,
        directPayment: chain.directPayment,
        rebroadcastMs: 0,
      },
    ],
    // Account 4 records usage: the activation fixture names it every agreement's recorder.
    signers: { [base.chainId]: [signer, chain.account(4)] },
    store,
    pollMs: 50,
    usage: { maxEntries: 50, flushAfterMs: 200 },
    onStatusChange: webhookNotifier({ url: hook, secret: WEBHOOK_SECRET }),
  });
  relayer.start();
  served = await serveRelayerService(createRelayerService({ relayer, apiKey: API_KEY, maxBodyBytes: 16 * 1024 }));
});

afterAll(async () => {
  await served?.close();
  await relayer?.stop();
  await store?.close();
  await new Promise((r) => receiver?.close(r));
  await chain?.stop();
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${served.url}${path}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

async function pollStatus(id: string, until: (status: string) => boolean) {
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${served.url}/usage-agreements/${id}/escrow-status`);
    const json = (await res.json()) as { status: string; activation_tx_hash: string | null };
    if (until(json.status)) return json;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`agreement ${id} never left submitting`);
}

describe("relayer service", () => {
  it("activate-escrow answers 202 submitting, escrow-status turns active with the transaction hash, a retry is the same job", async () => {
    const { id, body } = await chain.activationBody();
    const res = await post(`/usage-agreements/${id}/activate-escrow`, JSON.stringify(body));
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { status: string; agreement_id: string; job_id: string };
    expect(accepted).toMatchObject({ status: "submitting", agreement_id: id });
    const active = await pollStatus(id, (s) => s !== "submitting");
    expect(active.status).toBe("active");
    expect(active.activation_tx_hash).toMatch(/^0x[0-9a-f]{64}$/);
    const again = await post(`/usage-agreements/${id}/activate-escrow`, JSON.stringify(body));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: "active", job_id: accepted.job_id });
    // The job is public by its id; the list is for the operator.
    const job = await fetch(`${served.url}/jobs/${accepted.job_id}`);
    expect(await job.json()).toMatchObject({ kind: "activation", status: "active" });
  });

  it("refuses bad input with JSON errors carrying stable codes, and records nothing", async () => {
    const { id, body } = await chain.activationBody();
    const cases: [Response, number, string][] = [
      [await post(`/usage-agreements/${id}/activate-escrow`, "{not json"), 400, "BODY_NOT_JSON"],
      [await post(`/usage-agreements/${id}/activate-escrow`, JSON.stringify({ nope: 1 })), 400, "JOB_INVALID"],
      [await post(`/usage-agreements/${id}/activate-escrow`, "x".repeat(20_000)), 413, "BODY_TOO_LARGE"],
      [
        await post(`/usage-agreements/0x${"ab".repeat(32)}/activate-escrow`, JSON.stringify(body)),
        409,
        "AGREEMENT_MISMATCH",
      ],
      [await post(`/usage-agreements/${id}/activate-escrow?chain_id=1`, JSON.stringify(body)), 400, "QUERY_INVALID"],
      [await fetch(`${served.url}/usage-agreements/${id}/escrow-status`), 404, "NOT_FOUND"],
      [await fetch(`${served.url}/jobs`), 401, "UNAUTHORIZED"],
      [
        await fetch(`${served.url}/jobs`, { headers: { authorization: "Bearer wrong-key-of-same-size!" } }),
        401,
        "UNAUTHORIZED",
      ],
      [await fetch(`${served.url}/payment-requirements?amount_cents=abc&rail=stablecoin`), 400, "QUERY_INVALID"],
      [await fetch(`${served.url}/no-such-route`), 404, "NOT_FOUND"],
    ];
    for (const [res, status, code] of cases) {
      expect({ status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code }).toEqual({
        status,
        code,
      });
    }
    expect(await relayer.getActivation(base.chainId, id)).toBeUndefined();
  });

  it("operator endpoints answer with the API key", async () => {
    const res = await fetch(`${served.url}/jobs?limit=5`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.status).toBe(200);
    const { jobs } = (await res.json()) as { jobs: { kind: string }[] };
    expect(jobs.length).toBeGreaterThan(0);
    expect((await fetch(`${served.url}/health`)).status).toBe(200);
  });

  it("status changes reach the webhook signed with HMAC-SHA256 over the timestamp and body", async () => {
    const { id, body } = await chain.activationBody();
    await post(`/usage-agreements/${id}/activate-escrow`, JSON.stringify(body));
    await pollStatus(id, (s) => s === "active");
    let delivery: (typeof deliveries)[number] | undefined;
    for (let i = 0; i < 100 && !delivery; i++) {
      delivery = deliveries.find((d) => {
        const parsed = JSON.parse(d.body) as { job: { status: string; request_id: string } };
        return parsed.job.status === "active" && parsed.job.request_id.includes(id);
      });
      if (!delivery) await new Promise((r) => setTimeout(r, 50));
    }
    expect(delivery).toBeDefined();
    if (!delivery) return;
    const signed = {
      secret: WEBHOOK_SECRET,
      body: delivery.body,
      timestamp: delivery.timestamp,
      signature: delivery.signature,
    };
    expect(verifyWebhookSignature(signed)).toBe(true);
    expect(verifyWebhookSignature({ ...signed, secret: "another secret" })).toBe(false);
    expect(verifyWebhookSignature({ ...signed, body: delivery.body.replace("active", "failed") })).toBe(false);
    expect(verifyWebhookSignature({ ...signed, now: Number(delivery.timestamp) + 3_600 })).toBe(false);
  });

  it("record-usage answers 202 queued; the relayer batches it and the entry is recorded on chain", async () => {
    const { id, body, terms } = await chain.activationBody();
    await post(`/usage-agreements/${id}/activate-escrow`, JSON.stringify(body));
    await pollStatus(id, (s) => s === "active");
    const operator = { authorization: `Bearer ${API_KEY}` };
    const anonymous = await post(
      `/usage-agreements/${id}/record-usage`,
      JSON.stringify({ cumulative_usage: "1", log_ref: keccak256(toHex("x")) }),
    );
    expect(anonymous.status).toBe(401); // the recorder's key signs what is recorded: operator only
    const bad = await post(
      `/usage-agreements/${id}/record-usage`,
      JSON.stringify({ cumulative_usage: "-5", log_ref: "0x12" }),
      operator,
    );
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("QUERY_INVALID");
    const res = await post(
      `/usage-agreements/${id}/record-usage`,
      JSON.stringify({ cumulative_usage: "1250000", log_ref: keccak256(toHex("usage log 1")) }),
      operator,
    );
    expect(res.status).toBe(202);
    const queued = (await res.json()) as { usage_id: string; outcome: string; status: string };
    expect(queued).toMatchObject({ outcome: "queued", status: "queued" });
    let status = "queued";
    for (let i = 0; i < 200 && (status === "queued" || status === "batched"); i++) {
      await new Promise((r) => setTimeout(r, 50));
      const entry = await fetch(`${served.url}/usage/${queued.usage_id}`, { headers: operator });
      status = ((await entry.json()) as { status: string }).status;
    }
    expect(status).toBe("recorded");
    const view = await readAgreement(
      chain.dev.publicClient,
      agreementRef(terms, { chainId: base.chainId, escrow: chain.escrow }),
    );
    expect(view.recordedUsage).toBe(1_250_000n);
  });

  it("a buyer's policy: above the approval threshold a purchase waits for the owner; outside the policy it is refused and nothing is recorded", async () => {
    const buyer = privateKeyToAccount(generatePrivateKey());
    const operatorHeaders = { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" };
    const put = await fetch(`${served.url}/agents/${buyer.address}/policies`, {
      method: "PUT",
      headers: operatorHeaders,
      body: JSON.stringify({
        max_per_agreement: "50000000",
        max_per_day: "25000000",
        approval_threshold: "5000000",
        sellers: [chain.account(2).address],
      }),
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ max_per_day: "25000000", approval_threshold: "5000000" });
    expect((await fetch(`${served.url}/agents/${buyer.address}/policies`)).status).toBe(401);

    // 10 USDC, above the 5 USDC threshold: accepted, waiting for the owner, nothing sent.
    const approved = await chain.activationBody({ buyer, deposit: 10_000_000n });
    const waiting = await post(`/usage-agreements/${approved.id}/activate-escrow`, JSON.stringify(approved.body));
    expect(waiting.status).toBe(202);
    expect(await waiting.json()).toMatchObject({ status: "awaiting_approval", activation_tx_hash: null });
    await new Promise((r) => setTimeout(r, 300)); // passes run; the job stays put
    const ref = (terms: typeof approved.terms) => agreementRef(terms, { chainId: base.chainId, escrow: chain.escrow });
    expect((await readAgreement(chain.dev.publicClient, ref(approved.terms))).status).toBe("none");
    const { approvals } = (await (
      await fetch(`${served.url}/agents/${buyer.address}/approvals`, { headers: operatorHeaders })
    ).json()) as { approvals: { id: string; amount: string }[] };
    expect(approvals.map((a) => a.amount)).toEqual(["10000000"]);
    const approval = approvals[0]?.id ?? "";
    // Another agent cannot decide it; the owner approves; it goes on to active.
    const stranger = privateKeyToAccount(generatePrivateKey()).address;
    const wrong = await fetch(`${served.url}/agents/${stranger}/approvals/${approval}/approve`, {
      method: "POST",
      headers: operatorHeaders,
    });
    expect(wrong.status).toBe(403);
    const ok = await fetch(`${served.url}/agents/${buyer.address}/approvals/${approval}/approve`, {
      method: "POST",
      headers: operatorHeaders,
    });
    expect(ok.status).toBe(200);
    expect((await pollStatus(approved.id, (s) => s !== "submitting")).status).toBe("active");
    const twice = await fetch(`${served.url}/agents/${buyer.address}/approvals/${approval}/approve`, {
      method: "POST",
      headers: operatorHeaders,
    });
    expect(twice.status).toBe(409);

    // Rejected: failed, nothing on chain, and it does not count against the daily limit.
    const rejected = await chain.activationBody({ buyer, deposit: 10_000_000n });
    const second = (await (
      await post(`/usage-agreements/${rejected.id}/activate-escrow`, JSON.stringify(rejected.body))
    ).json()) as { job_id: string };
    const no = await fetch(`${served.url}/agents/${buyer.address}/approvals/${second.job_id}/reject`, {
      method: "POST",
      headers: operatorHeaders,
    });
    expect(await no.json()).toMatchObject({ status: "failed", reason: "rejected_by_owner" });
    expect((await pollStatus(rejected.id, (s) => s !== "awaiting_approval")).status).toBe("failed");
    expect((await readAgreement(chain.dev.publicClient, ref(rejected.terms))).status).toBe("none");

    // Outside the policy: refused with the rule, nothing recorded.
    const refusals: [Awaited<ReturnType<typeof chain.activationBody>>, string][] = [
      [await chain.activationBody({ buyer, deposit: 60_000_000n }), "maxPerAgreement"],
      [await chain.activationBody({ buyer, deposit: 20_000_000n }), "maxPerDay"], // 10 approved + 20 > 25
    ];
    for (const [refused, rule] of refusals) {
      const res = await post(`/usage-agreements/${refused.id}/activate-escrow`, JSON.stringify(refused.body));
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: "POLICY_REFUSED", details: { rule } } });
      expect(await relayer.getActivation(base.chainId, refused.id)).toBeUndefined();
    }
    await fetch(`${served.url}/agents/${buyer.address}/policies`, {
      method: "PUT",
      headers: operatorHeaders,
      body: JSON.stringify({ sellers: [stranger] }),
    });
    const otherSeller = await chain.activationBody({ buyer, deposit: 1_000_000n });
    const res = await post(`/usage-agreements/${otherSeller.id}/activate-escrow`, JSON.stringify(otherSeller.body));
    expect(await res.json()).toMatchObject({ error: { code: "POLICY_REFUSED", details: { rule: "sellers" } } });
  });

  it("a direct payment: payment-requirements, the body the client builds, 202, one job however often it is sent, seller and fee paid", async () => {
    const buyer = privateKeyToAccount(generatePrivateKey());
    const seller = privateKeyToAccount(generatePrivateKey()).address;
    await chain.token.mint(buyer.address, 30_000_000n);
    const res = await fetch(`${served.url}/payment-requirements?amount_cents=2000&rail=stablecoin&pay_to=${seller}`);
    const requirements = (await res.json()) as DirectPaymentRequirements;
    expect(requirements.fee).toMatchObject({
      amount: directPaymentFee(20_000_000n).toString(),
      spender: chain.directPayment,
    });
    const built = await buildDirectStablecoinAgreement(buyer, requirements, {
      maxAmount: 25_000_000n,
      directPayment: chain.directPayment,
      publicClient: chain.dev.publicClient,
      nowSeconds: Number((await chain.dev.publicClient.getBlock()).timestamp),
    });
    const sent = await Promise.all([1, 2, 3].map(() => post("/direct-payments", JSON.stringify(built.body))));
    expect(sent.map((r) => r.status)).toEqual([202, 202, 202]);
    const ids = new Set(await Promise.all(sent.map(async (r) => ((await r.json()) as { id: string }).id)));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    let job = { status: "submitting", kind: "" };
    for (let i = 0; i < 200 && job.status === "submitting"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await (await fetch(`${served.url}/jobs/${id}`)).json()) as typeof job;
    }
    expect(job).toMatchObject({ kind: "direct_payment", status: "confirmed" });
    expect(await chain.token.balanceOf(seller)).toBe(20_000_000n);
    expect(await chain.token.balanceOf(buyer.address)).toBe(30_000_000n - 20_000_000n - built.fee);
    const tampered = { ...built.body, amount: "1" };
    const refused = await post("/direct-payments", JSON.stringify(tampered));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("JOB_INVALID");
  });
});
