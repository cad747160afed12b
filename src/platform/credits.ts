import type { Context, Hono } from "hono";
import { type Address, getAddress, type Hex, isAddress, isHex, parseEventLogs, verifyMessage } from "viem";
import { getTransactionReceipt } from "viem/actions";
import { fiatTokenAbi } from "../abi/index.ts";
import { formatCaip2, getToken } from "../chains/index.ts";
import { balanceMessage, CreditsError, sponsorMessage, validateCreditPack } from "../credits/index.ts";
import { createFacilitator, type Job, type Relayer, type Sql } from "../relayer/index.ts";
import { jsonBody } from "../service/index.ts";
import { encodeJsonHeader, type PaymentRequirements } from "../wire/index.ts";
import { HEADERS, readPayment } from "../x402/index.ts";
import { useRequest } from "./auth.ts";

/** Options of {@link mountCredits}. */
export type CreditsOptions = {
  readonly relayer: Relayer;
  readonly store: Sql;
  readonly chainId: number;
  /** The wallet the purchases pay (the platform's collector). */
  readonly collector: Address;
  /** How long a purchase waits for its settlement before answering 202 (default 15 s). */
  readonly settleWaitMs?: number;
  /** Confirmations a self-broadcast transaction needs (default 1). */
  readonly confirmations?: number;
};

type PurchaseRow = {
  request_id: string;
  wallet: string;
  credits: number;
  status: string;
  tx_hash: string | null;
  job_id: string | null;
};

/** A 400 with the seed's `error` text (and a pack hint), 402, 202 and 500 as the seed describes them. */
const reply = (
  c: Context,
  status: 200 | 202 | 400 | 402 | 500,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) => c.json(body, status, headers);

/**
 * The credit purchase of credit-purchase-paths.txt and the signed balance query, on the platform:
 *
 * - `POST /api/external/credits/purchase` `{ wallet_address, credits, payment_method: "x402", request_id?,
 *   payer_wallet_address?, sponsor_signature?, transaction_hash? }`:
 *   - without a payment: 402 with `PAYMENT-REQUIRED` (and the same challenge as the body);
 *   - with one (read from `payment-signature`, `PAYMENT`, `X-PAYMENT` and their cases, in that
 *     order): verified against the challenge (payer = the wallet, or for a sponsored purchase the
 *     human payer, whose EIP-191 sponsor message must name `nonce:` = the authorization's nonce),
 *     settled through the relayer; 200 with the balance and `PAYMENT-RESPONSE` /
 *     `X-PAYMENT-RESPONSE` once confirmed and credited (once per request id and payment), 202 while
 *     pending, 400 for a refusal (`error`, and `suggested_credits` for a pack that is not a multiple
 *     of 500), 500 for what a retry with the same request id may fix;
 *   - Path B self-broadcast (`transaction_hash`, sponsor message `tx:`): the transfer to the
 *     collector is read from the receipt, credited once per transaction.
 * - `POST /api/external/credits/balance` `{ wallet_address, session_nonce, request_id, signature }`,
 *   signed over the seeds' balance message; a request id is never accepted twice.
 */
export function mountCredits(app: Hono, options: CreditsOptions): void {
  const { relayer, store: sql, chainId } = options;
  const chain = relayer.chains.find((x) => x.chainId === chainId);
  if (!chain)
    throw new CreditsError("OPTION_INVALID", `the relayer does not serve chain ${chainId}`, {
      option: "chainId",
      value: chainId,
    });
  const facilitator = createFacilitator({ relayer });
  const usdc = getToken(chainId, "USDC");

  const balanceOf = async (wallet: string) => {
    const { rows } = await sql.query<{ credits: string }>(
      "SELECT credits FROM platform_credit_balances WHERE wallet = $1",
      [wallet.toLowerCase()],
    );
    const credits = Number(rows[0]?.credits ?? 0);
    return { balance_credits: credits, balance_usd: credits / 100 };
  };
  /** Credit the purchase once: the row moves to `credited` and the balance rises in one transaction. */
  const credit = async (requestId: string, wallet: string, credits: number, txHash: string) =>
    sql.transaction(async (t) => {
      const { rows } = await t.query(
        "UPDATE platform_credit_purchases SET status = 'credited', tx_hash = $2 WHERE request_id = $1 AND status <> 'credited' RETURNING request_id",
        [requestId, txHash],
      );
      if (rows.length > 0) {
        await t.query(
          `INSERT INTO platform_credit_balances (wallet, credits) VALUES ($1, $2)
           ON CONFLICT (wallet) DO UPDATE SET credits = platform_credit_balances.credits + $2`,
          [wallet.toLowerCase(), credits],
        );
      }
    });
  const requirementFor = (url: string, amount: bigint): PaymentRequirements => ({
    scheme: "exact",
    network: formatCaip2(chainId),
    amount: amount.toString(),
    asset: usdc.address,
    payTo: options.collector,
    maxTimeoutSeconds: 300,
    extra: { name: usdc.domain.name, version: usdc.domain.version, resourceUrl: url },
  });

  app.post("/api/external/credits/purchase", async (c) => {
    const body = await jsonBody(c);
    const get = (name: string): unknown =>
      typeof body === "object" && body !== null ? Object.getOwnPropertyDescriptor(body, name)?.value : undefined;
    const wallet = get("wallet_address");
    if (typeof wallet !== "string" || !isAddress(wallet, { strict: false })) {
      return reply(c, 400, { error: "wallet_address must be an address" });
    }
    const creditsValue = get("credits");
    let pack: ReturnType<typeof validateCreditPack>;
    try {
      pack = validateCreditPack(typeof creditsValue === "number" ? creditsValue : Number.NaN);
    } catch (error) {
      const suggested = error instanceof CreditsError ? error.details.suggestedCredits : null;
      return reply(c, 400, {
        error: error instanceof Error ? error.message : String(error),
        suggested_credits: suggested ?? null,
      });
    }
    if (get("payment_method") !== "x402") return reply(c, 400, { error: 'payment_method must be "x402"' });
    const payerField = get("payer_wallet_address");
    const sponsorSignature = get("sponsor_signature");
    const sponsored = payerField !== undefined;
    if (
      sponsored &&
      (typeof payerField !== "string" ||
        !isAddress(payerField, { strict: false }) ||
        typeof sponsorSignature !== "string" ||
        !isHex(sponsorSignature))
    ) {
      return reply(c, 400, { error: "a sponsored purchase needs payer_wallet_address and sponsor_signature" });
    }
    const payer = getAddress(sponsored && typeof payerField === "string" ? payerField : wallet);
    const requestIdValue = get("request_id");
    const requestId =
      typeof requestIdValue === "string" && requestIdValue.length > 0 && requestIdValue.length <= 200
        ? requestIdValue
        : undefined;
    const url = c.req.url.split("?")[0] ?? c.req.url;
    const requirement = requirementFor(url, pack.usdcAmount);
    const sponsorValid = async (reference: { kind: "nonce"; nonce: Hex } | { kind: "tx"; transactionHash: Hex }) =>
      !sponsored ||
      (typeof sponsorSignature === "string" &&
        isHex(sponsorSignature) &&
        (await verifyMessage({
          address: payer,
          message: sponsorMessage({ payer, recipient: getAddress(wallet), credits: pack.credits, reference }),
          signature: sponsorSignature,
        }).catch(() => false)));

    // A request id seen before answers from its record (200 once credited, else as its job stands).
    const recorded = async (id: string) =>
      (await sql.query<PurchaseRow>("SELECT * FROM platform_credit_purchases WHERE request_id = $1", [id])).rows[0];
    const answer = async (row: PurchaseRow, job: Job | undefined, response?: Record<string, unknown>) => {
      if (row.status === "credited") {
        const settle = encodeJsonHeader(
          response ?? {
            success: true,
            transaction: row.tx_hash,
            network: formatCaip2(chainId),
            payer,
            requirements: requirement,
          },
        );
        return reply(
          c,
          200,
          {
            message: "Credits purchased successfully",
            wallet_address: getAddress(row.wallet),
            ...(await balanceOf(row.wallet)),
          },
          { [HEADERS.paymentResponse]: settle, [HEADERS.xPaymentResponse]: settle },
        );
      }
      if (job?.status === "failed")
        return reply(c, 400, { error: `the payment was refused: ${job.reason ?? "failed"}` });
      return reply(c, 202, {
        status: "pending",
        request_id: row.request_id,
        transaction: job?.txHash ?? row.tx_hash ?? null,
      });
    };

    // Path B, self-broadcast: the client submitted transferWithAuthorization itself.
    const txHash = get("transaction_hash");
    if (txHash !== undefined) {
      if (typeof txHash !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(txHash))
        return reply(c, 400, { error: "transaction_hash must be 32 bytes of hex" });
      const hash = txHash.toLowerCase() as Hex;
      if (!(await sponsorValid({ kind: "tx", transactionHash: hash })))
        return reply(c, 400, { error: "sponsor_signature does not sign this purchase (tx: reference)" });
      const id = `tx:${hash}`;
      await sql.query(
        "INSERT INTO platform_credit_purchases (request_id, wallet, credits, status, tx_hash) VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT DO NOTHING",
        [id, wallet.toLowerCase(), pack.credits, hash],
      );
      const row = await recorded(id);
      if (!row || row.wallet !== wallet.toLowerCase() || row.credits !== pack.credits)
        return reply(c, 400, { error: "this transaction paid for another purchase" });
      if (row.status === "credited") return answer(row, undefined);
      const receipt = await getTransactionReceipt(chain.client, { hash }).catch(() => undefined);
      if (!receipt) return reply(c, 202, { status: "pending", request_id: id, transaction: hash });
      const head = await chain.client.request({ method: "eth_blockNumber" });
      if (BigInt(head) - receipt.blockNumber + 1n < BigInt(options.confirmations ?? 1)) {
        return reply(c, 202, { status: "pending", request_id: id, transaction: hash });
      }
      const paid = parseEventLogs({
        abi: fiatTokenAbi,
        eventName: "Transfer",
        logs: receipt.logs.filter((l) => l.address.toLowerCase() === usdc.address.toLowerCase()),
      }).some(
        (e) =>
          e.args.from.toLowerCase() === payer.toLowerCase() &&
          e.args.to.toLowerCase() === options.collector.toLowerCase() &&
          e.args.value === pack.usdcAmount,
      );
      if (receipt.status !== "success" || !paid)
        return reply(c, 400, { error: "the transaction does not pay this purchase to the collector" });
      await credit(id, wallet, pack.credits, hash);
      const done = await recorded(id);
      return done ? answer(done, undefined) : reply(c, 500, { error: "the purchase vanished; retry" });
    }

    let inbound: ReturnType<typeof readPayment>;
    try {
      inbound = readPayment(c.req.raw.headers);
    } catch (error) {
      return reply(c, 400, {
        error: `the payment header does not parse: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
    if (!inbound) {
      if (requestId) {
        const row = await recorded(requestId);
        if (row) return answer(row, row.job_id ? await relayer.getJob(row.job_id) : undefined);
      }
      const challenge = {
        x402Version: 2,
        error: "Payment required",
        resource: { url, description: "Purchase credits", mimeType: "application/json" },
        accepts: [requirement],
      };
      return reply(c, 402, challenge, { [HEADERS.paymentRequired]: encodeJsonHeader(challenge) });
    }
    const nonce = inbound.authorization.nonce;
    const id = requestId ?? `x402:${nonce.toLowerCase()}`;
    const existing = await recorded(id);
    if (existing) {
      if (existing.wallet !== wallet.toLowerCase() || existing.credits !== pack.credits)
        return reply(c, 400, { error: "request_id was used for another purchase" });
      const job = existing.job_id ? await relayer.getJob(existing.job_id) : undefined;
      if (job && (job.status === "confirmed" || job.status === "active") && existing.status !== "credited")
        await credit(id, wallet, pack.credits, job.txHash ?? "");
      const again = await recorded(id);
      if (again && (again.status === "credited" || job)) return answer(again, job);
    }
    if (inbound.authorization.from.toLowerCase() !== payer.toLowerCase()) {
      return reply(c, 400, { error: `the payment is signed by ${inbound.authorization.from}, not the payer ${payer}` });
    }
    if (!(await sponsorValid({ kind: "nonce", nonce })))
      return reply(c, 400, { error: "sponsor_signature does not sign this purchase (nonce: reference)" });
    const payload = {
      x402Version: inbound.x402Version,
      accepted: inbound.accepted ?? requirement,
      payload: { authorization: inbound.authorization, signature: inbound.signature },
    };
    let verdict: Awaited<ReturnType<typeof facilitator.verify>>;
    try {
      verdict = await facilitator.verify(payload, requirement);
    } catch (error) {
      return reply(c, 500, {
        error: `could not verify the payment now: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
      });
    }
    if (!verdict.isValid)
      return reply(c, 400, {
        error: verdict.invalidReason ?? "invalid payment",
        message: verdict.invalidMessage ?? null,
      });
    const { job } = await relayer.submitX402Settlement(
      { asset: usdc.address, payload: { authorization: inbound.authorization, signature: inbound.signature } },
      { chainId },
    );
    await sql.query(
      "INSERT INTO platform_credit_purchases (request_id, wallet, credits, status, job_id) VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT DO NOTHING",
      [id, wallet.toLowerCase(), pack.credits, job.id],
    );
    let current = job;
    try {
      current = await relayer.waitFor(job.id, { timeoutMs: options.settleWaitMs ?? 15_000, pollMs: 100 });
    } catch {
      current = (await relayer.getJob(job.id)) ?? job;
    }
    if (current.status === "confirmed") await credit(id, wallet, pack.credits, current.txHash ?? "");
    const row = await recorded(id);
    if (!row) return reply(c, 500, { error: "the purchase vanished; retry with the same request_id" });
    return answer(row, current, {
      success: current.status === "confirmed",
      transaction: current.txHash ?? "",
      network: formatCaip2(chainId),
      payer,
      requirements: requirement,
    });
  });

  app.post("/api/external/credits/balance", async (c) => {
    const body = await jsonBody(c);
    const get = (name: string): unknown =>
      typeof body === "object" && body !== null ? Object.getOwnPropertyDescriptor(body, name)?.value : undefined;
    const wallet = get("wallet_address");
    const session = get("session_nonce");
    const requestId = get("request_id");
    const signature = get("signature");
    if (
      typeof wallet !== "string" ||
      !isAddress(wallet, { strict: false }) ||
      typeof session !== "string" ||
      typeof requestId !== "string" ||
      typeof signature !== "string" ||
      !isHex(signature)
    ) {
      return reply(c, 400, { error: "wallet_address, session_nonce, request_id and signature are required" });
    }
    let message: string;
    try {
      message = balanceMessage({ wallet, sessionNonce: session, requestId });
    } catch (error) {
      return reply(c, 400, { error: error instanceof Error ? error.message : String(error) });
    }
    if (!(await verifyMessage({ address: wallet, message, signature }).catch(() => false))) {
      return reply(c, 400, { error: "the signature is not the wallet's over the balance message" });
    }
    const use = await useRequest(sql, wallet, session, requestId);
    if (use === "session") return reply(c, 400, { error: "the session nonce is unknown or expired" });
    if (use === "replayed") return reply(c, 400, { error: `request_id ${requestId} was used before` });
    return c.json({ wallet_address: getAddress(wallet), ...(await balanceOf(wallet)) });
  });
}
