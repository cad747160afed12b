import { randomUUID, timingSafeEqual } from "node:crypto";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type Address, getAddress, isAddress, isHex } from "viem";
import { findChain, findToken, formatCaip2 } from "../chains/index.ts";
import { DEFAULT_DIRECT_FEE_SCHEDULE, type DirectFeeSchedule, directPaymentFee } from "../fees.ts";
import type { BuyerPolicy, Job, Relayer } from "../relayer/index.ts";
import { errorBody, httpStatusOf, ServiceError } from "./errors.ts";

/** Options of {@link createRelayerService}. */
export type RelayerServiceOptions = {
  readonly relayer: Relayer;
  /** The chain a request names none of (`?chain_id=`) is for (default: the relayer's first). */
  readonly defaultChainId?: number;
  /**
   * The key operator endpoints require (`Authorization: Bearer <key>`): the job list and the
   * metrics. Without one, they answer 401.
   */
  readonly apiKey?: string;
  /** Largest request body accepted, in bytes (default 64 KiB). */
  readonly maxBodyBytes?: number;
  /** The prom-client registry whose metrics `GET /metrics` serves (the relayer's, usually). */
  readonly metricsRegistry?: { metrics(): Promise<string>; readonly contentType: string };
  /** The direct-payment fee schedule announced by `GET /payment-requirements` (default: the platform's). */
  readonly feeSchedule?: DirectFeeSchedule;
  /** More routes mounted on the same app (the facilitator's, the platform's). */
  readonly mount?: (app: Hono) => void;
};

/** An activation's status as the seeds' `escrow-status` reports it. */
export type EscrowStatusJson = {
  agreement_id: string;
  status: "awaiting_approval" | "submitting" | "active" | "failed";
  activation_tx_hash: string | null;
  error: string | null;
  job_id: string;
  request_id: string;
};

/** A job as the service reports it. */
export type JobJson = {
  id: string;
  request_id: string;
  kind: Job["kind"];
  chain_id: number;
  status: Job["status"];
  reason: string | null;
  tx_hash: string | null;
  attempts: number;
  buyer: string | null;
  amount: string | null;
  created_at: string;
  updated_at: string;
};

export const jobJson = (job: Job): JobJson => ({
  id: job.id,
  request_id: job.requestId,
  kind: job.kind,
  chain_id: job.chainId,
  status: job.status,
  reason: job.reason,
  tx_hash: job.txHash,
  attempts: job.attempts,
  buyer: job.buyer,
  amount: job.amount === null ? null : job.amount.toString(),
  created_at: job.createdAt.toISOString(),
  updated_at: job.updatedAt.toISOString(),
});

const escrowStatus = (agreementId: string, job: Job): EscrowStatusJson => ({
  agreement_id: agreementId,
  status: job.status === "confirmed" ? "active" : job.status,
  activation_tx_hash: job.txHash,
  error: job.status === "failed" ? job.reason : null,
  job_id: job.id,
  request_id: job.requestId,
});

/** Refuse (`UNAUTHORIZED`) a request without the operator's API key (`Authorization: Bearer <key>`). */
export function requireOperator(c: Context, apiKey: string | undefined): void {
  const given = c.req.header("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
  const ok =
    apiKey !== undefined &&
    apiKey.length > 0 &&
    given.length === apiKey.length &&
    timingSafeEqual(Buffer.from(given), Buffer.from(apiKey));
  if (!ok) throw new ServiceError("UNAUTHORIZED", "this endpoint needs the operator's API key", {});
}

/** The request's JSON body, or `BODY_NOT_JSON`. */
export async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch (cause) {
    throw new ServiceError("BODY_NOT_JSON", "the request body is not JSON", {}, { cause });
  }
}

/** The idempotency key of a request: `Idempotency-Key`, `X-Request-Id`, or the body's `request_id`. */
function requestIdOf(c: Context, body: unknown, fallback: string): string {
  const fromBody =
    typeof body === "object" && body !== null && "request_id" in body && typeof body.request_id === "string"
      ? body.request_id
      : undefined;
  const id = c.req.header("idempotency-key") ?? c.req.header("x-request-id") ?? fromBody ?? fallback;
  if (id.length === 0 || id.length > 200) {
    throw new ServiceError("QUERY_INVALID", "the request id must have 1 to 200 characters", {
      param: "request_id",
      value: id,
      expected: "1 to 200 characters",
    });
  }
  return id;
}

/**
 * The relayer's HTTP service (Hono): the seeds' chain-facing endpoints (activate-escrow answering
 * 202, escrow-status, payment-requirements), direct payments, jobs, health and metrics. Errors are
 * JSON `{ error: { code, message, details } }` with the library's codes: 400 for a request that
 * will never succeed as it is, 401, 404, 409, 413, 503 for what a retry with the same request id
 * may fix. Mount it in a backend (`app.route("/", service)`) or serve it with `serveRelayerService`.
 *
 * @example
 * const app = createRelayerService({ relayer, apiKey: process.env.OPERATOR_KEY });
 * const res = await app.request(`/usage-agreements/${id}/activate-escrow`, { method: "POST", body }); // 202
 */
export function createRelayerService(options: RelayerServiceOptions): Hono {
  const { relayer } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const schedule = options.feeSchedule ?? DEFAULT_DIRECT_FEE_SCHEDULE;
  const app = new Hono();

  app.onError((error, c) => c.json(errorBody(error), httpStatusOf(error)));
  app.notFound((c) => {
    const error = new ServiceError("NOT_FOUND", `no route ${c.req.method} ${c.req.path}`, { path: c.req.path });
    return c.json(errorBody(error), 404);
  });
  app.use(
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) => {
        const error = new ServiceError("BODY_TOO_LARGE", `the body exceeds ${maxBodyBytes} bytes`, {
          limitBytes: maxBodyBytes,
        });
        return c.json(errorBody(error), 413);
      },
    }),
  );

  const chainIdOf = (c: Context): number => {
    const param = c.req.query("chain_id");
    const fallback = options.defaultChainId ?? relayer.chains[0]?.chainId;
    const chainId = param === undefined ? fallback : Number(param);
    if (chainId === undefined || !Number.isSafeInteger(chainId) || !relayer.chains.some((x) => x.chainId === chainId)) {
      throw new ServiceError("QUERY_INVALID", `chain ${param ?? "(none)"} is not served`, {
        param: "chain_id",
        value: param ?? null,
        expected: relayer.chains.map((x) => x.chainId).join(" | "),
      });
    }
    return chainId;
  };
  const operator = (c: Context) => requireOperator(c, options.apiKey);

  app.get("/health", async (c) => {
    try {
      const health = await relayer.health();
      return c.json({ status: "ok", ...health, chains: relayer.chains.map((x) => x.chainId) });
    } catch (error) {
      throw new ServiceError("UNAVAILABLE", "the store does not answer", { cause: String(error) }, { cause: error });
    }
  });

  app.get("/metrics", async (c) => {
    operator(c);
    const registry = options.metricsRegistry;
    if (!registry) throw new ServiceError("NOT_FOUND", "no metrics registry is configured", { path: c.req.path });
    return c.body(await registry.metrics(), 200, { "content-type": registry.contentType });
  });

  // The seeds' activation: 202 at once, then poll escrow-status until `active`.
  app.post("/usage-agreements/:id/activate-escrow", async (c) => {
    const agreementId = c.req.param("id").toLowerCase();
    const chainId = chainIdOf(c);
    const body = await jsonBody(c);
    const requestId = requestIdOf(c, body, `activate-escrow:${chainId}:${agreementId}`);
    // The body must activate the agreement in the path (AGREEMENT_MISMATCH, 409, otherwise).
    const job = await relayer.submitActivation(body, { requestId, chainId, agreementId });
    if (job.status === "failed") {
      throw new ServiceError("JOB_FAILED", `activation failed: ${job.reason ?? "unknown"}`, {
        jobId: job.id,
        reason: job.reason,
      });
    }
    return c.json(escrowStatus(agreementId, job), job.status === "active" ? 200 : 202);
  });

  const statusOf = async (c: Context) => {
    const agreementId = c.req.param("id")?.toLowerCase() ?? "";
    const job = await relayer.getActivation(chainIdOf(c), agreementId);
    if (!job) throw new ServiceError("NOT_FOUND", `no activation of agreement ${agreementId}`, { path: c.req.path });
    return c.json(escrowStatus(agreementId, job));
  };
  app.get("/usage-agreements/:id/escrow-status", statusOf);
  app.get("/usage-agreements/:id", statusOf);

  // Metered usage: queued, batched by the relayer (`recordUsageBatch` per chain and recorder).
  app.post("/usage-agreements/:id/record-usage", async (c) => {
    // The relayer's recorder key signs what is recorded: only the operator (the metering backend) may ask.
    operator(c);
    const agreementId = c.req.param("id").toLowerCase();
    const chainId = chainIdOf(c);
    const body = await jsonBody(c);
    const field = (name: string): unknown =>
      typeof body === "object" && body !== null && name in body
        ? Object.getOwnPropertyDescriptor(body, name)?.value
        : undefined;
    const usage = field("cumulative_usage");
    const logRef = field("log_ref");
    const complete = field("complete");
    if (typeof usage !== "string" && typeof usage !== "number") {
      throw new ServiceError("QUERY_INVALID", "cumulative_usage must be a whole number of token units", {
        param: "cumulative_usage",
        value: usage === undefined ? null : String(usage),
        expected: "a decimal string",
      });
    }
    const text = String(usage);
    if (!/^[0-9]{1,20}$/.test(text)) {
      throw new ServiceError("QUERY_INVALID", "cumulative_usage must be a whole number of token units", {
        param: "cumulative_usage",
        value: text,
        expected: "a decimal string",
      });
    }
    if (typeof logRef !== "string" || !isHex(logRef) || logRef.length !== 66) {
      throw new ServiceError("QUERY_INVALID", "log_ref must be 32 bytes of hex", {
        param: "log_ref",
        value: typeof logRef === "string" ? logRef : null,
        expected: "0x and 64 hex digits",
      });
    }
    if (!isHex(agreementId) || agreementId.length !== 66) {
      throw new ServiceError("QUERY_INVALID", "the agreement id must be 32 bytes of hex", {
        param: "id",
        value: agreementId,
        expected: "0x and 64 hex digits",
      });
    }
    const { outcome, entry } = await relayer.recordUsage({
      chainId,
      agreementId,
      cumulativeUsage: BigInt(text),
      logRef,
      complete: complete === true,
    });
    return c.json(
      {
        agreement_id: agreementId,
        outcome,
        usage_id: entry.id,
        status: entry.status,
        cumulative_usage: entry.cumulativeUsage.toString(),
      },
      202,
    );
  });

  app.get("/usage/:id", async (c) => {
    operator(c);
    const entry = await relayer.getUsage(c.req.param("id"));
    if (!entry) throw new ServiceError("NOT_FOUND", `no usage entry ${c.req.param("id")}`, { path: c.req.path });
    return c.json({
      usage_id: entry.id,
      agreement_id: entry.agreementId,
      cumulative_usage: entry.cumulativeUsage.toString(),
      complete: entry.complete,
      status: entry.status,
      reason: entry.reason,
      job_id: entry.jobId,
    });
  });

  // Direct stablecoin purchase: the body `buildDirectStablecoinAgreement()` returns.
  app.post("/direct-payments", async (c) => {
    const chainId = chainIdOf(c);
    const body = await jsonBody(c);
    // Without a request id the payment is still one job: the relayer keys it by its authorization.
    const requestId = requestIdOf(c, body, `direct-payment:${randomUUID()}`);
    const job = await relayer.submitDirectPayment(body, { requestId, chainId });
    if (job.status === "failed") {
      throw new ServiceError("JOB_FAILED", `payment failed: ${job.reason ?? "unknown"}`, {
        jobId: job.id,
        reason: job.reason,
      });
    }
    return c.json(jobJson(job), job.status === "submitting" ? 202 : 200);
  });

  // The seed's `GET /payment-requirements?amount_cents=500&rail=stablecoin` (plus the seller's `pay_to`).
  app.get("/payment-requirements", (c) => {
    const chainId = chainIdOf(c);
    const rail = c.req.query("rail") ?? "stablecoin";
    if (rail !== "stablecoin") {
      throw new ServiceError("QUERY_INVALID", `rail ${rail} is not served`, {
        param: "rail",
        value: rail,
        expected: "stablecoin",
      });
    }
    const cents = c.req.query("amount_cents") ?? null;
    if (cents === null || !/^[1-9][0-9]{0,11}$/.test(cents)) {
      throw new ServiceError("QUERY_INVALID", "amount_cents must be a positive whole number of cents", {
        param: "amount_cents",
        value: cents,
        expected: "1 to 999999999999",
      });
    }
    const payTo = c.req.query("pay_to") ?? null;
    if (payTo === null || !isAddress(payTo, { strict: false })) {
      throw new ServiceError("QUERY_INVALID", "pay_to must be the seller's address", {
        param: "pay_to",
        value: payTo,
        expected: "an address",
      });
    }
    const symbol = c.req.query("asset") ?? "USDC";
    const token = findToken(chainId, symbol);
    const directPayment = relayer.chains.find((x) => x.chainId === chainId)?.directPayment;
    if (!token || !findChain(chainId) || !directPayment) {
      throw new ServiceError("QUERY_INVALID", `${symbol} direct payments are not served on chain ${chainId}`, {
        param: "asset",
        value: symbol,
        expected: "USDC | EURC on a chain with a DirectPayment contract",
      });
    }
    const amount = BigInt(cents) * 10n ** BigInt(token.decimals - 2);
    return c.json({
      accept: {
        scheme: "exact",
        network: formatCaip2(chainId),
        amount: amount.toString(),
        asset: token.address,
        payTo: getAddress(payTo),
        maxTimeoutSeconds: 300,
        extra: { name: token.domain.name, version: token.domain.version },
      },
      fee: {
        amount: directPaymentFee(amount, schedule).toString(),
        bps: schedule.bps,
        fixedFee: schedule.fixedFee.toString(),
        minFee: schedule.minFee.toString(),
        spender: directPayment,
      },
    });
  });

  // Seed flow 5: the owner's guardrails for an agent (its buyer address) and its approvals.
  const policyJson = (p: BuyerPolicy | undefined) => ({
    max_per_agreement: p?.maxPerAgreement?.toString() ?? null,
    max_per_day: p?.maxPerDay?.toString() ?? null,
    sellers: p?.sellers ?? null,
    approval_threshold: p?.approvalThreshold?.toString() ?? null,
  });
  const agentOf = (c: Context): Address => {
    const agent = c.req.param("agent") ?? "";
    if (!isAddress(agent, { strict: false })) {
      throw new ServiceError("QUERY_INVALID", "the agent id is its buyer address", {
        param: "agent_id",
        value: agent,
        expected: "an address",
      });
    }
    return getAddress(agent);
  };
  app.get("/agents/:agent/policies", async (c) => {
    operator(c);
    return c.json(policyJson(await relayer.getPolicy(agentOf(c))));
  });
  app.put("/agents/:agent/policies", async (c) => {
    operator(c);
    const agent = agentOf(c);
    const body = await jsonBody(c);
    const record = typeof body === "object" && body !== null ? body : {};
    const get = (name: string): unknown => Object.getOwnPropertyDescriptor(record, name)?.value;
    const amount = (name: string): bigint | undefined => {
      const value = get(name);
      if (value === undefined || value === null) return undefined;
      if ((typeof value !== "string" && typeof value !== "number") || !/^[0-9]{1,30}$/.test(String(value))) {
        throw new ServiceError("QUERY_INVALID", `${name} must be a whole number of token units`, {
          param: name,
          value: String(value),
          expected: "a decimal string",
        });
      }
      return BigInt(String(value));
    };
    const sellersValue = get("sellers");
    let sellers: Address[] | undefined;
    if (sellersValue !== undefined && sellersValue !== null) {
      if (
        !Array.isArray(sellersValue) ||
        !sellersValue.every((s) => typeof s === "string" && isAddress(s, { strict: false }))
      ) {
        throw new ServiceError("QUERY_INVALID", "sellers must be a list of addresses", {
          param: "sellers",
          value: JSON.stringify(sellersValue),
          expected: "an array of addresses",
        });
      }
      sellers = sellersValue.map((s: string) => getAddress(s));
    }
    const policy: BuyerPolicy = {
      ...(amount("max_per_agreement") !== undefined ? { maxPerAgreement: amount("max_per_agreement") } : {}),
      ...(amount("max_per_day") !== undefined ? { maxPerDay: amount("max_per_day") } : {}),
      ...(amount("approval_threshold") !== undefined ? { approvalThreshold: amount("approval_threshold") } : {}),
      ...(sellers ? { sellers } : {}),
    };
    await relayer.setPolicy(agent, policy);
    return c.json(policyJson(await relayer.getPolicy(agent)));
  });
  app.get("/agents/:agent/approvals", async (c) => {
    operator(c);
    const agent = agentOf(c).toLowerCase();
    const pending = await relayer.listJobs({ status: "awaiting_approval", limit: 1_000 });
    return c.json({ approvals: pending.filter((j) => j.buyer === agent).map(jobJson) });
  });
  for (const decision of ["approve", "reject"] as const) {
    app.post(`/agents/:agent/approvals/:request/${decision}`, async (c) => {
      operator(c);
      const agent = agentOf(c).toLowerCase();
      const job = await relayer.getJob(c.req.param("request") ?? "");
      if (!job) throw new ServiceError("NOT_FOUND", `no request ${c.req.param("request")}`, { path: c.req.path });
      if (job.buyer !== agent) {
        throw new ServiceError("NOT_BUYER", "this purchase is another agent's", { agent, buyer: job.buyer });
      }
      const decided = decision === "approve" ? await relayer.approve(job.id) : await relayer.reject(job.id);
      return c.json(jobJson(decided));
    });
  }

  app.get("/jobs/:id", async (c) => {
    const job = await relayer.getJob(c.req.param("id"));
    if (!job) throw new ServiceError("NOT_FOUND", `no job ${c.req.param("id")}`, { path: c.req.path });
    return c.json(jobJson(job));
  });

  app.get("/jobs", async (c) => {
    operator(c);
    const status = c.req.query("status");
    const statuses = ["awaiting_approval", "submitting", "active", "confirmed", "failed"] as const;
    const known = statuses.find((s) => s === status);
    if (status !== undefined && !known) {
      throw new ServiceError("QUERY_INVALID", `status ${status} is unknown`, {
        param: "status",
        value: status,
        expected: statuses.join(" | "),
      });
    }
    const limit = Number(c.req.query("limit") ?? 100);
    const jobs = await relayer.listJobs({ ...(known ? { status: known } : {}), limit });
    return c.json({ jobs: jobs.map(jobJson) });
  });

  options.mount?.(app);
  return app;
}
