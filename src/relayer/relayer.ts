import { randomUUID } from "node:crypto";
import { type Address, type Hex, isHex, type LocalAccount } from "viem";
import { decodeTerms } from "../eip712/index.ts";
import { AgentEscrowError } from "../errors.ts";
import { type ExactPayload, parseActivationSignatures, parseDirectPaymentBody } from "../wire/index.ts";
import {
  type ActivationPayload,
  type ClosePayload,
  type DirectPaymentPayload,
  type JobKind,
  storedPayload,
  transferPayload,
  type X402SettlementPayload,
} from "./calls.ts";
import { RelayerError } from "./errors.ts";
import {
  findJob,
  findJobByKey,
  findJobs,
  insertJob,
  type Job,
  listJobs,
  RETRYABLE_REASONS,
  requeueIfRetryable,
} from "./jobs.ts";
import { NO_METRICS, type RelayerMetricsOptions, relayerMetrics } from "./metrics.ts";
import { type BuyerPolicy, checkPolicy, type Purchase, readPolicy, writePolicy } from "./policies.ts";
import type { Store } from "./store/sql.ts";
import { enqueueUsage, findUsage, type UsageEntry, type UsageOutcome } from "./usage.ts";
import { type RelayerChain, type RelayerLogger, type StepHook, tick, type WorkerContext } from "./worker.ts";

/** Options of {@link createRelayer}. */
export type RelayerOptions = {
  /** The chains served, each with its client, escrow, confirmation depth and fee cap. */
  readonly chains: readonly RelayerChain[];
  /** The accounts that send, per chain id (several per chain spread the load). */
  readonly signers: Readonly<Record<number, readonly LocalAccount[]>>;
  /** Where everything is recorded before it happens: `pgliteStore()` or `postgresStore()`. */
  readonly store: Store;
  /** This instance's name in signer leases and logs (a per-process suffix is added). */
  readonly instanceId?: string;
  /** pino-compatible logger (default: silent). */
  readonly logger?: RelayerLogger;
  /** Pause between pipeline passes, in ms (default 250). */
  readonly pollMs?: number;
  /** How long a signer lease lasts without renewal, in ms (default 15 s). */
  readonly leaseMs?: number;
  /** Called after a job changes status (submitting, active, failed). */
  readonly onStatusChange?: (job: Job) => void;
  /** Called after each durable pipeline step (nonce claimed, attempt stored, broadcast, mined, confirmed). */
  readonly onStep?: StepHook;
  /**
   * Usage batching: queued entries of a (chain, recorder) are sent as one `recordUsageBatch` when
   * `maxEntries` are queued (default 50) or the oldest has waited `flushAfterMs` (default 5 s),
   * whichever comes first.
   */
  readonly usage?: { readonly maxEntries?: number; readonly flushAfterMs?: number };
  /**
   * The settlement scanner (off unless given): agreements this relayer activated are settled once
   * their challenge window or resolution deadline has passed, and, with `completeExpired`
   * (default true), completed once past their service expiry. `intervalMs` (default 30 s) is the
   * longest pause between two looks at one agreement.
   */
  readonly settlement?: { readonly completeExpired?: boolean; readonly intervalMs?: number };
  /** Metrics in a prom-client registry of yours (no globals). */
  readonly metrics?: RelayerMetricsOptions;
};

/** A durable, idempotent transaction pipeline for backend services. */
export type Relayer = {
  /** The chains served, as configured. */
  readonly chains: readonly RelayerChain[];
  /** The job spending this EIP-3009 authorization (token, payer, nonce), of whatever kind, if any. */
  findAuthorizationJob(chainId: number, token: Address, from: Address, nonce: string): Promise<Job | undefined>;
  /** The addresses that send on this chain (empty for a chain not served). */
  senders(chainId: number): readonly Address[];
  /**
   * Claim a report of a job's outcome, true for exactly one caller, ever, across instances: the
   * one `success` of a confirmed job, or the one `pending` of a job still under way (the x402
   * facilitator tells one settle caller "success", and at most one "pending" before it).
   */
  claimReport(jobId: string, report: "success" | "pending"): Promise<boolean>;
  /** Whether this x402 settlement job executes exactly this payment (same authorization fields and signature). */
  isSamePayment(jobId: string, payment: { readonly asset: Address; readonly payload: ExactPayload }): Promise<boolean>;
  /** Whether the store answers (one round trip); throws its error otherwise. */
  health(): Promise<{ readonly store: "ok" }>;
  /**
   * Take the buyer's activation body (`POST .../activate-escrow`) and return at once with the job
   * in status `submitting` (the seed's 202). The same request id, or the same agreement, returns
   * the same job and never a second transaction.
   * @throws {RelayerError} `JOB_INVALID` for a body that does not parse (the seed's 400), `CHAIN_NOT_CONFIGURED`.
   */
  submitActivation(
    body: unknown,
    options: {
      readonly requestId: string;
      readonly chainId: number;
      /** The agreement the caller expects the body to activate (e.g. from the URL): another is refused. */
      readonly agreementId?: string;
    },
  ): Promise<Job>;
  /**
   * Execute a verified x402 'exact' payment (`transferWithAuthorization` at `asset`). One job per
   * authorization (token, payer, nonce), whatever the request id: `created` is true for exactly
   * one caller. Verify the payment against the advertised requirements first (the facilitator
   * does).
   * @throws {RelayerError} `CHAIN_NOT_CONFIGURED`.
   */
  submitX402Settlement(
    payment: { readonly asset: Address; readonly payload: ExactPayload },
    options: { readonly chainId: number; readonly requestId?: string },
  ): Promise<{ readonly job: Job; readonly created: boolean }>;
  /**
   * Execute a direct payment body (`DirectPayment.pay`: the fee under the buyer's permit, then
   * the x402 payment to the seller). Idempotent by the payment nonce, across request ids.
   * @throws {RelayerError} `JOB_INVALID` for a body that does not parse, `CHAIN_NOT_CONFIGURED`
   * (no `directPayment` contract configured for the chain).
   */
  submitDirectPayment(body: unknown, options: { readonly requestId: string; readonly chainId: number }): Promise<Job>;
  /**
   * Queue a recorder's usage of an agreement; returns at once. Entries are flushed as batches
   * (see `usage` in the options); later entries of one agreement coalesce to the highest, and an
   * entry below the queued one is `skipped` (said so in the outcome). The recorder must be one of
   * the relayer's signers on the chain (default: the one the agreement's terms name, when this
   * relayer activated it, else its first signer).
   * @throws {RelayerError} `JOB_INVALID` (usage or hashes malformed), `RECORDER_NOT_SIGNER`, `CHAIN_NOT_CONFIGURED`.
   */
  recordUsage(entry: {
    readonly chainId: number;
    readonly agreementId: Hex;
    readonly cumulativeUsage: bigint;
    readonly logRef: Hex;
    readonly complete?: boolean;
    readonly recorder?: Address;
  }): Promise<UsageOutcome>;
  /**
   * Retry a deferred payout: a payout the escrow could not transfer (or a fee credited to the fee
   * recipient) is a withdrawable balance of its owner; when the owner is one of the relayer's
   * signers, this withdraws it to `to` (default: the owner). Each call is a new job; a balance of
   * zero is refused before anything is sent (`NothingToWithdraw`).
   * @throws {RelayerError} `RECORDER_NOT_SIGNER` (the owner does not send here), `CHAIN_NOT_CONFIGURED`.
   */
  retryPayout(payout: {
    readonly chainId: number;
    readonly token: Address;
    readonly owner: Address;
    readonly to?: Address;
  }): Promise<Job>;
  /** A usage entry by its id: queued, batched, then recorded or skipped by the chain, or failed. */
  getUsage(id: string): Promise<UsageEntry | undefined>;
  /**
   * Close an agreement this relayer activated under the buyer's final voucher
   * (`closeWithFinalVoucher`, sent by the agreement's recorder, which must be one of the
   * relayer's signers): the seller is paid the final usage less fees, the buyer refunded the
   * rest. One close per agreement.
   * @throws {RelayerError} `JOB_NOT_FOUND` (no activation of this agreement here), `RECORDER_NOT_SIGNER`, `JOB_INVALID`.
   */
  submitFinalVoucher(voucher: {
    readonly chainId: number;
    readonly agreementId: Hex;
    readonly usage: bigint;
    readonly deadline: number;
    readonly signature: Hex;
  }): Promise<Job>;
  /** The job with this id or request id, if any. */
  getJob(idOrRequestId: string): Promise<Job | undefined>;
  /** The activation job of this agreement on this chain (whatever its request id), if any. */
  getActivation(chainId: number, agreementId: string): Promise<Job | undefined>;
  /** The latest jobs, newest first (at most `limit`, default 100), optionally of one status. */
  listJobs(filter?: {
    readonly status?: "awaiting_approval" | "submitting" | "active" | "confirmed" | "failed";
    readonly limit?: number;
  }): Promise<Job[]>;
  /**
   * Set (replace) a buyer's policy: checked on every activation and direct payment of that buyer
   * before anything is recorded; a purchase above `approvalThreshold` waits in `awaiting_approval`.
   */
  setPolicy(buyer: Address, policy: BuyerPolicy): Promise<void>;
  /** A buyer's policy, if one is set. */
  getPolicy(buyer: Address): Promise<BuyerPolicy | undefined>;
  /**
   * The owner approves a purchase waiting in `awaiting_approval`: it goes on (`submitting`).
   * @throws {RelayerError} `JOB_NOT_FOUND`, `APPROVAL_NOT_PENDING`.
   */
  approve(idOrRequestId: string): Promise<Job>;
  /**
   * The owner rejects a purchase waiting in `awaiting_approval`: it fails with
   * `rejected_by_owner`, nothing sent.
   * @throws {RelayerError} `JOB_NOT_FOUND`, `APPROVAL_NOT_PENDING`.
   */
  reject(idOrRequestId: string, reason?: string): Promise<Job>;
  /**
   * Wait until the job is `active` or `failed`.
   * @throws {RelayerError} `JOB_NOT_FOUND`, `WAIT_TIMEOUT` (the job goes on).
   */
  waitFor(idOrRequestId: string, options?: { readonly timeoutMs?: number; readonly pollMs?: number }): Promise<Job>;
  /** Run one pass of the pipeline for every (chain, signer) now. */
  tick(): Promise<void>;
  /** Start the pipeline loops (idempotent). */
  start(): void;
  /** Stop the loops after their current pass. */
  stop(): Promise<void>;
};

const noop = () => undefined;

/** The key of an activation: one job per (chain, escrow, agreement), whatever the request id. */
const activationKey = (chainId: number, escrow: Address, agreementId: string) =>
  `activation:${chainId}:${escrow.toLowerCase()}:${agreementId.toLowerCase()}`;

/** A body that does not parse, as the relayer's typed refusal (the seed's 400); anything else passes through. */
function invalid(cause: unknown): unknown {
  if (!(cause instanceof AgentEscrowError) || cause instanceof RelayerError) return cause;
  const details: Readonly<Record<string, unknown>> = cause.details;
  const field = typeof details.field === "string" ? details.field : "body";
  return new RelayerError("JOB_INVALID", cause.message, { field, reason: cause.code }, { cause });
}
const SILENT: RelayerLogger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * Create a relayer: activations are recorded before anything is sent, checked and simulated
 * before a nonce is taken, given a nonce in a store transaction, signed and stored before they
 * are broadcast, and watched to the confirmation depth. Any number of instances may share a
 * PostgreSQL store; one owns each (chain, signer) at a time by a lease with a fencing token.
 *
 * @example
 * const relayer = createRelayer({ chains: [{ chainId: 8453, client, escrow }], signers: { 8453: [account] }, store: await pgliteStore() });
 * relayer.start();
 * const job = await relayer.submitActivation(await request.json(), { requestId, chainId: 8453 }); // 202 { status: "submitting" }
 */
export function createRelayer(options: RelayerOptions): Relayer {
  const log = options.logger ?? SILENT;
  // The lease owner is the instance's name plus a per-process suffix: two processes given the same
  // name never share a lease (and its fencing token).
  const instanceId = `${options.instanceId ?? "relayer"}:${randomUUID()}`;
  const sql = options.store;
  const metrics = options.metrics ? relayerMetrics(options.metrics) : NO_METRICS;
  // Status changes are read back in batches: every job changed since the last read, in one query.
  const changed = new Set<string>();
  let reading = false;
  const readChanged = async () => {
    reading = true;
    try {
      while (changed.size > 0) {
        const ids = [...changed];
        changed.clear();
        for (const job of await findJobs(sql, ids)) {
          if (job.status !== "submitting") {
            metrics.jobFinished(job.chainId, job.status, job.reason, (Date.now() - job.createdAt.getTime()) / 1000);
          }
          try {
            options.onStatusChange?.(job);
          } catch (error) {
            log.warn({ job: job.id, error: String(error) }, "status hook failed");
          }
        }
      }
    } catch (error) {
      log.warn({ error: String(error) }, "could not read changed jobs for the status hook");
    } finally {
      reading = false;
    }
  };
  const notify = (jobId: string) => {
    changed.add(jobId);
    if (!reading) void readChanged();
  };
  const contexts: WorkerContext[] = options.chains.flatMap((chain) =>
    (options.signers[chain.chainId] ?? []).map((signer, index) => ({
      sql,
      chain,
      signer,
      instanceId,
      leaseMs: options.leaseMs ?? 15_000,
      log,
      onStatusChange: notify,
      onBroadcast: (outcome: string) => metrics.broadcast(chain.chainId, outcome),
      usage: { maxEntries: options.usage?.maxEntries ?? 50, flushAfterMs: options.usage?.flushAfterMs ?? 5_000 },
      ...(options.onStep ? { onStep: options.onStep } : {}),
      // One signer's passes scan the chain for agreements to settle (under that signer's lease).
      ...(options.settlement && index === 0
        ? {
            scanner: {
              completeExpired: options.settlement.completeExpired ?? true,
              intervalMs: options.settlement.intervalMs ?? 30_000,
            },
          }
        : {}),
    })),
  );
  let running = false;
  let loops: Promise<void>[] = [];
  const pollMs = options.pollMs ?? 250;

  // Passes for one (chain, signer) never overlap inside this process (the loop, tick() and
  // waitFor() may all ask for one): each waits for the previous one.
  const lastPass = new Map<WorkerContext, Promise<void>>();
  const pass = (ctx: WorkerContext): Promise<void> => {
    const run = (lastPass.get(ctx) ?? Promise.resolve()).then(async () => {
      try {
        await tick(ctx);
      } catch (error) {
        // A pass that fails (RPC down, store busy) leaves everything recorded; the next one resumes.
        metrics.passFailed(ctx.chain.chainId);
        log.warn(
          { chainId: ctx.chain.chainId, signer: ctx.signer.address, error: String(error) },
          "pipeline pass failed",
        );
      }
    });
    lastPass.set(ctx, run);
    return run;
  };

  const chainOf = (chainId: number) => {
    const chain = options.chains.find((c) => c.chainId === chainId);
    if (!chain) throw new RelayerError("CHAIN_NOT_CONFIGURED", `chain ${chainId} is not served`, { chainId });
    return chain;
  };
  const enqueue = async (
    kind: JobKind,
    job: { requestId: string; dedupeKey: string; chainId: number; payload: unknown; signer?: string },
    purchase?: Purchase,
  ): Promise<{ job: Job; created: boolean }> => {
    const record = {
      id: randomUUID(),
      kind,
      ...job,
      ...(purchase ? { buyer: purchase.buyer, amount: purchase.amount } : {}),
    };
    const inserted =
      purchase && (await readPolicy(sql, purchase.buyer))
        ? // A buyer with a policy: checked and recorded under the buyer's lock, so that purchases
          // submitted together count each other against the daily limit. A request already
          // recorded is answered as it is, without a second check.
          await sql.transaction(async (t) => {
            // Already recorded (this payload): answered as it is. A request id of another payload is refused.
            if (await findJobByKey(t, job.dedupeKey)) return insertJob(t, record);
            await t.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`buyer:${purchase.buyer.toLowerCase()}`]);
            const { needsApproval } = await checkPolicy(t, purchase);
            return insertJob(t, { ...record, status: needsApproval ? "awaiting_approval" : "submitting" });
          })
        : await insertJob(sql, record);
    if (inserted.created) {
      log.info({ job: inserted.job.id, kind, requestId: job.requestId }, "job accepted");
      metrics.jobAccepted(job.chainId);
      notify(inserted.job.id);
    }
    return inserted;
  };
  /** The recorder named by the terms of an agreement this relayer activated. */
  const packedTermsOf = async (chainId: number, escrow: Address, agreementId: string): Promise<Hex | undefined> => {
    const { rows } = await sql.query<{ packed: Hex | null }>(
      "SELECT payload->>'packedTerms' AS packed FROM relayer_jobs WHERE dedupe_key = $1 AND kind = 'activation'",
      [activationKey(chainId, escrow, agreementId)],
    );
    return rows[0]?.packed ?? undefined;
  };
  const recorderOf = async (chainId: number, escrow: Address, agreementId: string): Promise<Address | undefined> => {
    const packed = await packedTermsOf(chainId, escrow, agreementId);
    return packed ? decodeTerms(packed).recorder : undefined;
  };
  /** The owner's decision on a purchase awaiting approval (only such a job changes). */
  const decide = async (idOrRequestId: string, status: "submitting" | "failed", reason: string | null) => {
    const job = await findJob(sql, idOrRequestId);
    if (!job) throw new RelayerError("JOB_NOT_FOUND", `no job ${idOrRequestId}`, { id: idOrRequestId });
    const { rows } = await sql.query(
      `UPDATE relayer_jobs SET status = $2, reason = $3, next_run_at = now(), updated_at = now()
       WHERE id = $1 AND status = 'awaiting_approval' RETURNING id`,
      [job.id, status, reason],
    );
    if (rows.length === 0) {
      throw new RelayerError("APPROVAL_NOT_PENDING", `job ${job.id} is ${job.status}, not awaiting approval`, {
        id: job.id,
        status: job.status,
      });
    }
    log.info({ job: job.id, decision: status === "failed" ? "rejected" : "approved" }, "owner decided");
    notify(job.id);
    return (await findJob(sql, job.id)) ?? job;
  };
  /** The key of an EIP-3009 authorization: one job per authorization, whatever spends it. */
  const authorizationKey = (chainId: number, token: Address, from: Address, nonce: string) =>
    `eip3009:${chainId}:${token.toLowerCase()}:${from.toLowerCase()}:${nonce.toLowerCase()}`;

  return {
    chains: options.chains,
    async recordUsage(entry) {
      const chain = chainOf(entry.chainId);
      const senders = (options.signers[entry.chainId] ?? []).map((s) => s.address);
      const recorder =
        entry.recorder ?? (await recorderOf(entry.chainId, chain.escrow, entry.agreementId)) ?? senders[0];
      if (!recorder || !senders.some((s) => s.toLowerCase() === recorder.toLowerCase())) {
        throw new RelayerError(
          "RECORDER_NOT_SIGNER",
          `${recorder ?? "no recorder"} does not send on chain ${entry.chainId}`,
          {
            chainId: entry.chainId,
            recorder: recorder ?? "",
          },
        );
      }
      const bytes32 = (value: string, field: string) => {
        if (!isHex(value) || value.length !== 66) {
          throw new RelayerError("JOB_INVALID", `${field} must be 32 bytes of hex`, { field, reason: "FIELD_INVALID" });
        }
      };
      bytes32(entry.agreementId, "agreementId");
      bytes32(entry.logRef, "logRef");
      if (entry.cumulativeUsage < 0n || entry.cumulativeUsage >= 2n ** 64n) {
        throw new RelayerError("JOB_INVALID", "cumulativeUsage must fit in 64 bits", {
          field: "cumulativeUsage",
          reason: "FIELD_INVALID",
        });
      }
      return enqueueUsage(sql, {
        chainId: entry.chainId,
        escrow: chain.escrow,
        recorder,
        agreementId: entry.agreementId,
        cumulativeUsage: entry.cumulativeUsage,
        logRef: entry.logRef,
        complete: entry.complete ?? false,
      });
    },
    getUsage: (id) => findUsage(sql, id),
    async retryPayout({ chainId, token, owner, to }) {
      const chain = chainOf(chainId);
      if (!(options.signers[chainId] ?? []).some((s) => s.address.toLowerCase() === owner.toLowerCase())) {
        throw new RelayerError("RECORDER_NOT_SIGNER", `${owner} does not send on chain ${chainId}`, {
          chainId,
          recorder: owner,
        });
      }
      const key = `withdraw:${chainId}:${owner.toLowerCase()}:${token.toLowerCase()}:${randomUUID()}`;
      const { job } = await enqueue("withdrawal", {
        requestId: key,
        dedupeKey: key,
        chainId,
        payload: { escrow: chain.escrow, token, to: to ?? owner },
        signer: owner.toLowerCase(),
      });
      return job;
    },
    setPolicy: (buyer, policy) => writePolicy(sql, buyer, policy),
    getPolicy: (buyer) => readPolicy(sql, buyer),
    approve: (idOrRequestId) => decide(idOrRequestId, "submitting", null),
    reject: (idOrRequestId, reason) => decide(idOrRequestId, "failed", reason ?? "rejected_by_owner"),
    async submitFinalVoucher(voucher) {
      const chain = chainOf(voucher.chainId);
      const packed = await packedTermsOf(voucher.chainId, chain.escrow, voucher.agreementId);
      if (!packed) {
        throw new RelayerError("JOB_NOT_FOUND", `no activation of agreement ${voucher.agreementId} here`, {
          id: voucher.agreementId,
        });
      }
      const recorder = decodeTerms(packed).recorder;
      if (!(options.signers[voucher.chainId] ?? []).some((s) => s.address.toLowerCase() === recorder.toLowerCase())) {
        throw new RelayerError(
          "RECORDER_NOT_SIGNER",
          `the recorder ${recorder} does not send on chain ${voucher.chainId}`,
          {
            chainId: voucher.chainId,
            recorder,
          },
        );
      }
      if (!isHex(voucher.signature) || voucher.usage < 0n || !Number.isSafeInteger(voucher.deadline)) {
        throw new RelayerError("JOB_INVALID", "the final voucher is malformed", {
          field: "voucher",
          reason: "FIELD_INVALID",
        });
      }
      const key = `close:${voucher.chainId}:${chain.escrow.toLowerCase()}:${voucher.agreementId.toLowerCase()}`;
      const payload: ClosePayload = {
        escrow: chain.escrow,
        packedTerms: packed,
        usage: voucher.usage.toString(),
        deadline: voucher.deadline.toString(),
        signature: voucher.signature,
      };
      const { job } = await enqueue("close", {
        requestId: key,
        dedupeKey: key,
        chainId: voucher.chainId,
        payload,
        signer: recorder.toLowerCase(),
      });
      return job;
    },
    findAuthorizationJob: (chainId, token, from, nonce) =>
      findJobByKey(sql, authorizationKey(chainId, token, from, nonce)),
    senders: (chainId) => (options.signers[chainId] ?? []).map((s) => s.address),
    async claimReport(jobId, report) {
      const { rows } = await sql.query(
        report === "success"
          ? `UPDATE relayer_jobs SET detail = COALESCE(detail, '{}'::jsonb) || '{"successReported": true}'::jsonb
             WHERE id = $1 AND status = 'active' AND COALESCE((detail->>'successReported')::boolean, false) = false
             RETURNING id`
          : `UPDATE relayer_jobs SET detail = COALESCE(detail, '{}'::jsonb) || '{"pendingReported": true}'::jsonb
             WHERE id = $1 AND status = 'submitting' AND COALESCE((detail->>'pendingReported')::boolean, false) = false
             RETURNING id`,
        [jobId],
      );
      return rows.length > 0;
    },
    async isSamePayment(jobId, { asset, payload: exact }) {
      const { rows } = await sql.query<{ payload: unknown }>(
        "SELECT payload FROM relayer_jobs WHERE id = $1 AND kind = 'x402_settlement'",
        [jobId],
      );
      const row = rows[0];
      if (!row) return false;
      const stored = storedPayload("x402_settlement", row.payload);
      if (stored.kind !== "x402_settlement") return false;
      const given = transferPayload(asset, exact);
      const fields = ["token", "from", "to", "value", "validAfter", "validBefore", "nonce", "signature"] as const;
      return fields.every((f) => stored.payload[f].toLowerCase() === given[f].toLowerCase());
    },
    async health() {
      await sql.query("SELECT 1");
      return { store: "ok" };
    },
    async submitX402Settlement({ asset, payload: exact }, { chainId, requestId }) {
      chainOf(chainId);
      const payload: X402SettlementPayload = transferPayload(asset, exact);
      const dedupeKey = authorizationKey(chainId, asset, payload.from, payload.nonce);
      return enqueue("x402_settlement", { requestId: requestId ?? dedupeKey, dedupeKey, chainId, payload });
    },

    async submitDirectPayment(body, { requestId, chainId }) {
      const chain = chainOf(chainId);
      const directPayment = chain.directPayment;
      if (!directPayment) {
        throw new RelayerError("CHAIN_NOT_CONFIGURED", `no DirectPayment contract configured on chain ${chainId}`, {
          chainId,
        });
      }
      let payload: DirectPaymentPayload;
      try {
        const parsed = parseDirectPaymentBody(body);
        payload = {
          ...transferPayload(parsed.token, parsed.payment),
          directPayment,
          feePermit: { value: parsed.feePermit.value.toString(), signature: parsed.feePermit.signature },
        };
      } catch (cause) {
        throw invalid(cause);
      }
      const dedupeKey = authorizationKey(chainId, payload.token, payload.from, payload.nonce);
      const { job } = await enqueue(
        "direct_payment",
        { requestId, dedupeKey, chainId, payload },
        { buyer: payload.from, seller: payload.to, amount: BigInt(payload.value) },
      );
      return job;
    },

    async submitActivation(body, { requestId, chainId, agreementId }) {
      const chain = chainOf(chainId);
      let payload: ActivationPayload;
      let dedupeKey: string;
      let purchase: Purchase;
      try {
        const signed = parseActivationSignatures(body, { chainId, escrow: chain.escrow });
        if (agreementId !== undefined && signed.agreement.id.toLowerCase() !== agreementId.toLowerCase()) {
          throw new RelayerError("AGREEMENT_MISMATCH", "the body activates another agreement", {
            expected: agreementId,
            body: signed.agreement.id,
          });
        }
        dedupeKey = activationKey(chainId, signed.agreement.escrow, signed.agreement.id);
        const { terms } = signed.agreement;
        purchase = { buyer: terms.buyer, seller: terms.seller, amount: terms.deposit };
        payload = {
          packedTerms: signed.agreement.packed,
          escrow: signed.agreement.escrow,
          authorization: {
            validAfter: signed.authorization.validAfter.toString(),
            validBefore: signed.authorization.validBefore.toString(),
            signature: signed.authorization.signature,
          },
          ...(signed.feePermit
            ? {
                feePermit: {
                  value: signed.feePermit.value.toString(),
                  deadline: signed.feePermit.deadline.toString(),
                  signature: signed.feePermit.signature,
                },
              }
            : {}),
        };
      } catch (cause) {
        throw invalid(cause);
      }
      const { job, created } = await enqueue("activation", { requestId, dedupeKey, chainId, payload }, purchase);
      if (created) return job;
      // A client retrying after a retryable failure (the seed's 500) gets the job back in the queue.
      if (job.status === "failed" && job.reason !== null && RETRYABLE_REASONS.includes(job.reason)) {
        // A failed job did not count against the buyer's daily limit: it is checked again, under
        // the buyer's lock, before it goes back to the queue.
        const requeued = (await readPolicy(sql, purchase.buyer))
          ? await sql.transaction(async (t) => {
              await t.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`buyer:${purchase.buyer.toLowerCase()}`]);
              const { needsApproval } = await checkPolicy(t, purchase);
              return requeueIfRetryable(t, job.id, needsApproval ? "awaiting_approval" : "submitting");
            })
          : await requeueIfRetryable(sql, job.id);
        if (requeued?.status === "submitting" || requeued?.status === "awaiting_approval") {
          log.info({ job: job.id, requestId, reason: job.reason }, "activation retried");
          notify(job.id);
          return requeued;
        }
      }
      return job;
    },
    getJob: (idOrRequestId) => findJob(sql, idOrRequestId),
    getActivation: (chainId, agreementId) =>
      findJobByKey(sql, activationKey(chainId, chainOf(chainId).escrow, agreementId)),
    listJobs: (filter = {}) =>
      // A payment's `confirmed` is stored as `active` (its call succeeded at depth).
      listJobs(sql, {
        ...(filter.status ? { status: filter.status === "confirmed" ? "active" : filter.status } : {}),
        ...(filter.limit !== undefined ? { limit: filter.limit } : {}),
      }),
    async waitFor(idOrRequestId, waitOptions = {}) {
      const deadline = Date.now() + (waitOptions.timeoutMs ?? 120_000);
      for (;;) {
        const job = await findJob(sql, idOrRequestId);
        if (!job) throw new RelayerError("JOB_NOT_FOUND", `no job ${idOrRequestId}`, { id: idOrRequestId });
        if (job.status !== "submitting" && job.status !== "awaiting_approval") return job;
        if (Date.now() > deadline) {
          throw new RelayerError("WAIT_TIMEOUT", `job ${idOrRequestId} is still ${job.status}`, {
            id: idOrRequestId,
            status: job.status,
          });
        }
        if (!running) await Promise.all(contexts.map(pass));
        await new Promise((r) => setTimeout(r, waitOptions.pollMs ?? 100));
      }
    },
    tick: () => Promise.all(contexts.map(pass)).then(noop),
    start() {
      if (running) return;
      running = true;
      loops = contexts.map(async (ctx) => {
        while (running) {
          await pass(ctx);
          await new Promise((r) => setTimeout(r, pollMs));
        }
      });
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      loops = [];
    },
  };
}
