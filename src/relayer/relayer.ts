import { randomUUID } from "node:crypto";
import type { LocalAccount } from "viem";
import { parseActivationSignatures, WireError } from "../wire/index.ts";
import { RelayerError } from "./errors.ts";
import { findJob, findJobs, insertJob, type Job, RETRYABLE_REASONS, requeueIfRetryable } from "./jobs.ts";
import { NO_METRICS, type RelayerMetricsOptions, relayerMetrics } from "./metrics.ts";
import type { Store } from "./store/sql.ts";
import {
  type ActivationPayload,
  type RelayerChain,
  type RelayerLogger,
  type StepHook,
  tick,
  type WorkerContext,
} from "./worker.ts";

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
  /** Metrics in a prom-client registry of yours (no globals). */
  readonly metrics?: RelayerMetricsOptions;
};

/** A durable, idempotent transaction pipeline for backend services. */
export type Relayer = {
  /**
   * Take the buyer's activation body (`POST .../activate-escrow`) and return at once with the job
   * in status `submitting` (the seed's 202). The same request id, or the same agreement, returns
   * the same job and never a second transaction.
   * @throws {RelayerError} `JOB_INVALID` for a body that does not parse (the seed's 400), `CHAIN_NOT_CONFIGURED`.
   */
  submitActivation(body: unknown, options: { readonly requestId: string; readonly chainId: number }): Promise<Job>;
  /** The job with this id or request id, if any. */
  getJob(idOrRequestId: string): Promise<Job | undefined>;
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
    (options.signers[chain.chainId] ?? []).map((signer) => ({
      sql,
      chain,
      signer,
      instanceId,
      leaseMs: options.leaseMs ?? 15_000,
      log,
      onStatusChange: notify,
      onBroadcast: (outcome: string) => metrics.broadcast(chain.chainId, outcome),
      ...(options.onStep ? { onStep: options.onStep } : {}),
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

  return {
    async submitActivation(body, { requestId, chainId }) {
      const chain = options.chains.find((c) => c.chainId === chainId);
      if (!chain) throw new RelayerError("CHAIN_NOT_CONFIGURED", `chain ${chainId} is not served`, { chainId });
      let payload: ActivationPayload;
      let dedupeKey: string;
      try {
        const signed = parseActivationSignatures(body, { chainId, escrow: chain.escrow });
        dedupeKey = `activation:${chainId}:${signed.agreement.escrow.toLowerCase()}:${signed.agreement.id}`;
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
        if (!(cause instanceof WireError)) throw cause;
        const d = cause.details;
        throw new RelayerError(
          "JOB_INVALID",
          cause.message,
          { field: "field" in d ? d.field : "body", reason: cause.code },
          { cause },
        );
      }
      const { job, created } = await insertJob(sql, { id: randomUUID(), requestId, dedupeKey, chainId, payload });
      if (created) {
        log.info({ job: job.id, requestId }, "activation accepted");
        metrics.jobAccepted(chainId);
        notify(job.id);
        return job;
      }
      // A client retrying after a retryable failure (the seed's 500) gets the job back in the queue.
      if (job.status === "failed" && job.reason !== null && RETRYABLE_REASONS.includes(job.reason)) {
        const requeued = await requeueIfRetryable(sql, job.id);
        if (requeued?.status === "submitting") {
          log.info({ job: job.id, requestId, reason: job.reason }, "activation retried");
          notify(job.id);
          return requeued;
        }
      }
      return job;
    },
    getJob: (idOrRequestId) => findJob(sql, idOrRequestId),
    async waitFor(idOrRequestId, waitOptions = {}) {
      const deadline = Date.now() + (waitOptions.timeoutMs ?? 120_000);
      for (;;) {
        const job = await findJob(sql, idOrRequestId);
        if (!job) throw new RelayerError("JOB_NOT_FOUND", `no job ${idOrRequestId}`, { id: idOrRequestId });
        if (job.status !== "submitting") return job;
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
