// The buyer agent of the demo and of the two-agent test: the five flows of
// agent-payment-workflows and a credit purchase against the reference platform, over HTTP only,
// with the client binding (reading the chain only to check what it signs). Each milestone is
// reported through `say`; it throws when a flow does not end as it should.
import type { LocalAccount, PublicClient } from "viem";
import {
  buildDirectStablecoinAgreement,
  type DirectPaymentRequirements,
  signActivation,
  verifyActivationPackage,
} from "../../src/client/index.ts";
import { purchaseCredits, signBalanceCall } from "../../src/credits/index.ts";
import { x402Payer } from "../../src/x402/index.ts";
import { agreementStatus, platformAgent } from "./platform-agent.ts";

export type AgentLog = (event: string, detail?: Record<string, unknown>) => void;

/** Run the buyer's flows against the platform at `url`. Returns the ids of its agreements. */
export async function runBuyer(options: {
  readonly url: string;
  readonly account: LocalAccount;
  readonly client: PublicClient;
  readonly say: AgentLog;
}): Promise<{ metered: string; direct: string; approved: string }> {
  const { url, account, client, say } = options;
  const buyer = platformAgent(url, account);
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body) });
  const expectStatus = (what: string, got: string, want: string) => {
    if (got !== want) throw new Error(`${what}: ${got}, expected ${want}`);
  };

  // Flow 1: find the seller's service.
  let service: { service_id: string; seller_wallet: `0x${string}`; unit_price: string } | undefined;
  for (let i = 0; i < 200 && !service; i++) {
    const found = (await (
      await post("/catalog/search", { query: "translation for agents", token: "USDC" })
    ).json()) as {
      results: { service_id: string; seller_wallet: `0x${string}`; unit_price: string }[];
    };
    service = found.results[0];
    if (!service) await wait(100);
  }
  if (!service) throw new Error("the seller's service never appeared in the catalog");
  say("found", { service_id: service.service_id });

  // The escrow path against the platform (the seller process accepts), the package checked on chain.
  const escrowFor = async (deposit: bigint) => {
    const proposed = (await (
      await buyer.call("POST", "/usage-agreements", "propose", service.service_id, {
        service_id: service.service_id,
        buyer_wallet: buyer.address,
        deposit: deposit.toString(),
      })
    ).json()) as { agreement_id: string; escrow: `0x${string}` };
    await agreementStatus(url, proposed.agreement_id, (s) => s === "accepted");
    const pkg: unknown = await (
      await fetch(`${url}/usage-agreements/${proposed.agreement_id}/activation-package`)
    ).json();
    const verified = await verifyActivationPackage(
      pkg,
      {
        buyer: buyer.address,
        escrow: proposed.escrow,
        chainId: 8453,
        parties: { seller: service.seller_wallet },
        maxDeposit: { USDC: deposit },
      },
      client,
    );
    const now = Number((await client.getBlock()).timestamp);
    const body = await signActivation(account, verified, { validBefore: BigInt(now + 3_600) });
    const activation = await post(`/usage-agreements/${proposed.agreement_id}/activate-escrow`, body);
    const answer = (await activation.json()) as { status: string };
    return {
      id: proposed.agreement_id,
      httpStatus: activation.status,
      status: answer.status,
    };
  };

  // Flow 2: escrow of 1 USDC, 202, then active.
  const first = await escrowFor(1_000_000n);
  const active = await agreementStatus(url, first.id, (s) => s !== "submitting");
  expectStatus("activation", active.status, "active");
  say("active", { agreement_id: first.id, http: first.httpStatus, activation_tx_hash: active.activation_tx_hash });

  // Flow 3: two metered calls of 0.4 USDC, a third refused (past the deposit), then usage ends.
  for (const text of ["hello", "world", "third"]) {
    const res = await buyer.call("POST", `/metered-proxy/${first.id}/translate`, "proxy", first.id, { text });
    say("proxied", { status: res.status, usage: res.headers.get("x-usage-cumulative") });
  }
  const ended = await buyer.call("POST", `/usage-agreements/${first.id}/end-usage`, "end_usage", first.id);
  say("usage ended", { status: ended.status });

  // Flow 4: a direct purchase of 2 USDC, executed when the seller accepts.
  const requirements = (await (
    await fetch(`${url}/payment-requirements?amount_cents=200&rail=stablecoin&pay_to=${service.seller_wallet}`)
  ).json()) as DirectPaymentRequirements;
  const built = await buildDirectStablecoinAgreement(account, requirements, {
    maxAmount: 5_000_000n,
    directPayment: requirements.fee.spender,
    publicClient: client,
    nowSeconds: Number((await client.getBlock()).timestamp),
  });
  const direct = (await (
    await buyer.call("POST", "/usage-agreements", "propose", service.service_id, {
      ...built.body,
      service_id: service.service_id,
    })
  ).json()) as { agreement_id: string };
  const completed = await agreementStatus(url, direct.agreement_id, (s) => s === "completed" || s === "failed");
  expectStatus("direct purchase", completed.status, "completed");
  say("direct purchase", { agreement_id: direct.agreement_id, transaction_hash: completed.transaction_hash });

  // Flow 5: an escrow of 3 USDC is above the owner's approval threshold: it waits, then goes on.
  const guarded = await escrowFor(3_000_000n);
  expectStatus("guarded activation", guarded.status, "awaiting_approval");
  say("awaiting approval", { agreement_id: guarded.id });
  let outcome = { status: "awaiting_approval" } as { status: string };
  for (let i = 0; i < 600 && (outcome.status === "awaiting_approval" || outcome.status === "submitting"); i++) {
    await wait(100);
    outcome = (await (await fetch(`${url}/usage-agreements/${guarded.id}/escrow-status`)).json()) as { status: string };
  }
  expectStatus("approved activation", outcome.status, "active");
  say("approved and active", { agreement_id: guarded.id });

  // Credits: the x402 handshake with purchaseCredits, then the signed balance.
  const bought = await purchaseCredits({
    endpoint: `${url}/api/external/credits/purchase`,
    walletAddress: buyer.address,
    credits: 500,
    pay: async (challenge) => {
      const { headerName, headerValue } = await x402Payer(account, { maxAmount: { USDC: 10_000_000n } })(challenge, {
        nowSeconds: Number((await client.getBlock()).timestamp),
      });
      return { headerName, headerValue };
    },
  });
  say("credits", { status: bought.status, balance: bought.body.balance_credits });
  const { session_nonce } = (await (
    await post("/api/external/auth/session", { wallet_address: buyer.address })
  ).json()) as {
    session_nonce: string;
  };
  const signed = await signBalanceCall(account, {
    wallet: buyer.address,
    sessionNonce: session_nonce,
    requestId: "balance-final",
  });
  const balance = (await (
    await post("/api/external/credits/balance", {
      wallet_address: buyer.address,
      session_nonce,
      request_id: "balance-final",
      signature: signed.signature,
    })
  ).json()) as { balance_credits: number };
  say("balance", { balance_credits: balance.balance_credits });
  say("done");
  return { metered: first.id, direct: direct.agreement_id, approved: guarded.id };
}
