import {
  type Account,
  type Address,
  type Chain,
  type Client,
  type Hex,
  keccak256,
  type LocalAccount,
  type Log,
  TransactionReceiptNotFoundError,
  type Transport,
} from "viem";
import {
  call,
  estimateFeesPerGas,
  getBlock,
  getBlockNumber,
  getTransactionCount,
  getTransactionReceipt,
} from "viem/actions";
import { ActionError, readAgreement, readAuthorizationState, toActionError } from "../actions/index.ts";
import { bumped, classifyBroadcastError } from "./broadcast.ts";
import { type PreparedCall, prepareCall, storedPayload } from "./calls.ts";
import { type ScannerOptions, scanAgreements } from "./scanner.ts";
import type { Sql } from "./store/sql.ts";
import { flushUsage, usageBatchFailed, usageRecorded } from "./usage.ts";

type AnyClient = Client<Transport, Chain | undefined, Account | undefined>;

/** A chain the relayer serves. */
export type RelayerChain = {
  readonly chainId: number;
  /** Reads, simulations and broadcasts go through this client. */
  readonly client: AnyClient;
  readonly escrow: Address;
  /** The DirectPayment contract, for direct payment jobs. */
  readonly directPayment?: Address;
  /** Blocks on top of the mined one before an agreement counts as active (default 1). */
  readonly confirmations?: number;
  /** Highest `maxFeePerGas` the relayer pays, in wei (default: no cap). */
  readonly maxFeePerGas?: bigint;
  /** Rebroadcast a pending transaction after this long without a receipt (default 3 s). */
  readonly rebroadcastMs?: number;
  /** Replace a pending transaction with higher fees after this long (default 30 s). */
  readonly bumpAfterMs?: number;
  /**
   * Refuse to take a nonce for an authorization that expires within this many seconds of the
   * chain's clock (default 60): it would only revert on chain, or strand the nonce.
   */
  readonly deadlineMarginSeconds?: number;
  /**
   * Cancel a broadcast activation still unmined this many seconds before its authorization
   * expires (default 30), by replacing it with a no-op self-send at the same nonce, so that it
   * never reverts on chain and the nonce is not held by a call that can no longer succeed.
   */
  readonly cancelMarginSeconds?: number;
};

/** Logger with pino's signature (`logger.info(obj, msg)`); every method optional to call. */
export type RelayerLogger = {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
};

export type WorkerContext = {
  readonly sql: Sql;
  readonly chain: RelayerChain;
  readonly signer: LocalAccount;
  readonly instanceId: string;
  readonly leaseMs: number;
  readonly log: RelayerLogger;
  readonly onStatusChange: (jobId: string) => void;
  readonly onStep?: StepHook;
  readonly onBroadcast?: (outcome: string) => void;
  /** Settlement scanner of this chain (run by one signer's passes per chain). */
  readonly scanner?: ScannerOptions;
  /** Usage queued for this signer as recorder is flushed as batches of at most `maxEntries`, or after `flushAfterMs`. */
  readonly usage?: { readonly maxEntries: number; readonly flushAfterMs: number };
};

/** The durable steps of the pipeline, each reported once it is committed to the store. */
export type PipelineStep = "nonce_claimed" | "attempt_stored" | "broadcast" | "mined" | "confirmed";

/** Called after each durable step (tracing; a test may kill the process here to prove recovery). */
export type StepHook = (
  step: PipelineStep,
  detail: { readonly jobId: string; readonly txId: string },
) => void | Promise<void>;

const larger = (a: bigint, b: bigint) => (a > b ? a : b);
const smaller = (a: bigint, b: bigint) => (a < b ? a : b);

/** RPC calls a pass makes side by side (simulations, receipts). */
const CONCURRENCY = 16;
/**
 * Broadcasts in flight at once, started in nonce order: few enough that a node never holds more
 * future nonces of one sender than it accepts (geth queues 64 per account).
 */
const BROADCAST_WINDOW = 16;

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Gas of a no-op self-send (a gap filler or a cancellation). */
const NO_OP_GAS = 21_000n;

const BACKOFF_MS = [500, 1_000, 2_000, 5_000, 10_000, 30_000] as const;
const MAX_TRANSIENT_ATTEMPTS = 12;

/**
 * Why a simulated activation is refused for good (the seed's 400), from the revert: a typed
 * reason, or undefined for a transient failure.
 */
export function permanentReason(error: Error): string | undefined {
  if (!(error instanceof ActionError) || !error.is("CONTRACT_REVERTED")) return undefined;
  const text = `${error.message} ${error.details.errorName ?? ""} ${(error.details.args ?? []).join(" ")}`;
  const reasons: [string, RegExp][] = [
    ["authorization_used", /authorization is used or canceled/i],
    ["authorization_expired", /authorization is expired/i],
    ["authorization_not_yet_valid", /authorization is not yet valid/i],
    ["invalid_signature", /invalid signature|InvalidVoucherSignature/i],
    ["balance_too_low", /exceeds balance/i],
    ["allowance_too_low", /exceeds allowance/i],
    ["token_not_allowed", /TokenNotAllowed/],
    ["activations_paused", /ActivationsPaused|Pausable: paused/],
    ["party_blacklisted", /PartyBlacklisted|blacklisted/i],
    ["agreement_exists", /AgreementExists/],
    [
      "terms_invalid",
      /FeeAboveCap|BpsAboveMax|WindowTooLong|ServiceExpiryInvalid|ZeroAddress|ZeroDeposit|PartyIsEscrow|BuyerCannotBe|UpfrontFee/,
    ],
  ];
  for (const [reason, pattern] of reasons) if (pattern.test(text)) return reason;
  return "reverted";
}

async function setJob(
  ctx: WorkerContext,
  jobId: string,
  fields: {
    status?: string;
    reason?: string | null;
    detail?: unknown;
    txId?: bigint | null;
    delayMs?: number;
    attempt?: boolean;
  },
  options: {
    /** Run inside this store transaction (the caller notifies after it commits). */
    readonly sql?: Sql;
    /** Only while the job has no transaction and is still submitting (checks racing a claim). */
    readonly onlyUnclaimed?: boolean;
  } = {},
): Promise<boolean> {
  const run = async (sql: Sql): Promise<boolean> => {
    const { rows } = await sql.query(
      `UPDATE relayer_jobs SET
         status = COALESCE($2, status),
         reason = CASE WHEN $3::boolean THEN $4 ELSE reason END,
         detail = CASE WHEN $5::boolean THEN $6::jsonb ELSE detail END,
         tx_id = CASE WHEN $7::boolean THEN $8::bigint ELSE tx_id END,
         next_run_at = now() + ($9::integer * interval '1 millisecond'),
         attempts = attempts + CASE WHEN $10::boolean THEN 1 ELSE 0 END,
         updated_at = now()
       WHERE id = $1 AND (NOT $11::boolean OR (tx_id IS NULL AND status = 'submitting'))
       RETURNING id`,
      [
        jobId,
        fields.status ?? null,
        fields.reason !== undefined,
        fields.reason ?? null,
        fields.detail !== undefined,
        fields.detail === undefined ? null : JSON.stringify(fields.detail),
        fields.txId !== undefined,
        fields.txId === undefined || fields.txId === null ? null : fields.txId.toString(),
        fields.delayMs ?? 0,
        fields.attempt ?? false,
        options.onlyUnclaimed ?? false,
      ],
    );
    const changed = rows.length > 0;
    // A failed usage batch hands its entries back (each to be sent alone), or fails them: in the
    // same store transaction as the job's failure, so a crash between the two loses no entry.
    if (changed && fields.status === "failed") await usageBatchFailed(sql, [jobId], fields.reason ?? "failed");
    return changed;
  };
  const updated = options.sql
    ? await run(options.sql)
    : fields.status === "failed"
      ? await ctx.sql.transaction(run)
      : await run(ctx.sql);
  if (updated && fields.status && !options.sql) ctx.onStatusChange(jobId);
  return updated;
}

/** The receipt of `hash`, null when the node has none; any other failure is thrown (never read as "not mined"). */
async function receiptOf(ctx: WorkerContext, hash: Hex) {
  try {
    return await getTransactionReceipt(ctx.chain.client, { hash });
  } catch (error) {
    if (error instanceof TransactionReceiptNotFoundError) return null;
    throw error;
  }
}

/**
 * Take or renew the lease on (chain, signer). Returns the fencing token while this instance owns
 * it, undefined otherwise. The first owner seeds the nonce counter from the chain.
 */
export async function acquireLease(ctx: WorkerContext): Promise<bigint | undefined> {
  const { chainId } = ctx.chain;
  const signer = ctx.signer.address.toLowerCase();
  const { rows: existing } = await ctx.sql.query("SELECT 1 FROM relayer_signers WHERE chain_id = $1 AND signer = $2", [
    chainId,
    signer,
  ]);
  if (existing.length === 0) {
    const pending = await getTransactionCount(ctx.chain.client, { address: ctx.signer.address, blockTag: "pending" });
    await ctx.sql.query(
      "INSERT INTO relayer_signers (chain_id, signer, next_nonce) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
      [chainId, signer, pending.toString()],
    );
  }
  const { rows } = await ctx.sql.query<{ fence: string }>(
    `UPDATE relayer_signers SET
       fence = CASE WHEN lease_owner = $3 AND lease_until > now() THEN fence ELSE fence + 1 END,
       lease_owner = $3,
       lease_until = now() + ($4::integer * interval '1 millisecond')
     WHERE chain_id = $1 AND signer = $2 AND (lease_owner IS NULL OR lease_owner = $3 OR lease_until < now())
     RETURNING fence`,
    [chainId, signer, ctx.instanceId, ctx.leaseMs],
  );
  const row = rows[0];
  return row ? BigInt(row.fence) : undefined;
}

/** The scanner looks for agreements to settle at most this often (each agreement has its own next look). */
const SCAN_EVERY_MS = 1_000;
const lastScan = new WeakMap<WorkerContext, number>();

/** One pass of the pipeline for (chain, signer): prepare new jobs, send, watch. */
export async function tick(ctx: WorkerContext): Promise<void> {
  const fence = await acquireLease(ctx);
  if (fence === undefined) return;
  if (ctx.usage) {
    const batches = await flushUsage(ctx.sql, {
      chainId: ctx.chain.chainId,
      recorder: ctx.signer.address,
      ...ctx.usage,
    });
    for (const id of batches) ctx.onStatusChange(id);
  }
  if (ctx.scanner && Date.now() - (lastScan.get(ctx) ?? 0) >= SCAN_EVERY_MS) {
    lastScan.set(ctx, Date.now());
    for (const id of await scanAgreements(ctx, ctx.scanner)) ctx.onStatusChange(id);
  }
  await prepare(ctx, fence);
  await send(ctx, fence);
  await watch(ctx);
}

/** Check and simulate queued jobs, then give each a nonce (in one store transaction). */
async function prepare(ctx: WorkerContext, fence: bigint): Promise<void> {
  const { rows } = await ctx.sql.query<{ id: string; kind: string; payload: unknown }>(
    `SELECT id, kind, payload FROM relayer_jobs
     WHERE chain_id = $1 AND status = 'submitting' AND tx_id IS NULL AND next_run_at <= now()
       AND (signer IS NULL OR signer = $2)
     ORDER BY created_at LIMIT 256`,
    [ctx.chain.chainId, ctx.signer.address.toLowerCase()],
  );
  if (rows.length === 0) return;
  const now = (await getBlock(ctx.chain.client)).timestamp;
  const margin = BigInt(ctx.chain.deadlineMarginSeconds ?? 60);
  // Checks and simulations run side by side; nonces are then claimed together, in order.
  const limits = gasLimitsOf(ctx);
  const checked = await mapLimit(rows, CONCURRENCY, async (job) => {
    const prepared = prepareCall(storedPayload(job.kind, job.payload), ctx.chain.chainId);
    const validBefore = prepared.authorization?.validBefore;
    if (validBefore !== undefined && validBefore <= now + margin) {
      // Deadline-aware: an authorization about to expire is never sent to revert on chain.
      const reason = validBefore <= now ? "authorization_expired" : "authorization_expiring";
      await setJob(
        ctx,
        job.id,
        { status: "failed", reason, detail: { validBefore: validBefore.toString() } },
        { onlyUnclaimed: true },
      );
      return undefined;
    }
    let gas: bigint;
    try {
      gas = await simulate(ctx, limits, prepared);
    } catch (failure) {
      const error = toActionError(failure, prepared.functionName, prepared.to);
      const reason = permanentReason(error);
      const agreement = prepared.agreement;
      if (agreement && (reason === "agreement_exists" || reason === "authorization_used")) {
        // Someone else activated it (or an earlier attempt did): the chain decides.
        const view = await readAgreement(ctx.chain.client, agreement).catch(() => undefined);
        if (view && view.status !== "none") {
          await setJob(ctx, job.id, { status: "active", reason: "activated_elsewhere" }, { onlyUnclaimed: true });
          return undefined;
        }
      }
      if (reason) {
        ctx.log.info({ job: job.id, reason }, "activation refused");
        await setJob(
          ctx,
          job.id,
          { status: "failed", reason, detail: { message: String(error) } },
          { onlyUnclaimed: true },
        );
      } else {
        const attempts = await transientRetry(ctx, job.id);
        ctx.log.warn({ job: job.id, attempts }, "activation check failed transiently; retrying");
      }
      return undefined;
    }
    return { job, prepared, gas };
  });
  const ready = checked.filter((c) => c !== undefined);
  if (ready.length === 0) return;
  // One store transaction claims consecutive nonces for every checked job (the counter only rises).
  const claimed = await ctx.sql.transaction(async (tx): Promise<{ jobId: string; txId: string }[]> => {
    const { rows: locked } = await tx.query<{ next_nonce: string; fence: string; lease_owner: string }>(
      "SELECT next_nonce, fence, lease_owner FROM relayer_signers WHERE chain_id = $1 AND signer = $2 FOR UPDATE",
      [ctx.chain.chainId, ctx.signer.address.toLowerCase()],
    );
    const signerRow = locked[0];
    // Fencing: another instance took the lease since this pass began.
    if (!signerRow || BigInt(signerRow.fence) !== fence || signerRow.lease_owner !== ctx.instanceId) return [];
    // Jobs still unclaimed (a concurrent check may have failed one), in the order they were read.
    const { rows: still } = await tx.query<{ id: string }>(
      "SELECT id FROM relayer_jobs WHERE id = ANY($1::text[]) AND tx_id IS NULL AND status = 'submitting' FOR UPDATE SKIP LOCKED",
      [ready.map((r) => r.job.id)],
    );
    const open = new Set(still.map((r) => r.id));
    const take = ready.filter((r) => open.has(r.job.id));
    const first = BigInt(signerRow.next_nonce);
    if (take.length === 0) return [];
    const { rows: inserted } = await tx.query<{ id: string; job_id: string }>(
      `INSERT INTO relayer_txs (job_id, chain_id, signer, nonce, to_address, data, gas_limit, status)
       SELECT v.job_id, $1, $2, v.nonce, v.to_address, v.data, v.gas_limit, 'nonce_assigned'
       FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[]) AS v(job_id, nonce, to_address, data, gas_limit)
       RETURNING id, job_id`,
      [
        ctx.chain.chainId,
        ctx.signer.address.toLowerCase(),
        take.map((r) => r.job.id),
        take.map((_, i) => (first + BigInt(i)).toString()),
        take.map((r) => r.prepared.to),
        take.map((r) => r.prepared.data),
        take.map((r) => r.gas.toString()),
      ],
    );
    await tx.query(
      `UPDATE relayer_jobs j SET tx_id = v.tx_id, updated_at = now()
       FROM unnest($1::text[], $2::bigint[]) AS v(job_id, tx_id) WHERE j.id = v.job_id`,
      [inserted.map((r) => r.job_id), inserted.map((r) => r.id)],
    );
    await tx.query("UPDATE relayer_signers SET next_nonce = $3 WHERE chain_id = $1 AND signer = $2", [
      ctx.chain.chainId,
      ctx.signer.address.toLowerCase(),
      (first + BigInt(take.length)).toString(),
    ]);
    return inserted.map((r) => ({ jobId: r.job_id, txId: r.id }));
  });
  for (const c of claimed) await ctx.onStep?.("nonce_claimed", c);
}

/**
 * Simulate a call and return the gas limit to send it with. The first call of a kind is
 * estimated (`eth_estimateGas`, plus 20%); later ones of that kind are simulated once (`eth_call`)
 * at the highest limit estimated so far, which proves that limit suffices for them. A call that
 * fails is estimated after all, so a refusal is read from the estimate's decoded revert.
 */
async function simulate(ctx: WorkerContext, limits: Map<string, bigint>, prepared: PreparedCall): Promise<bigint> {
  const known = limits.get(prepared.functionName);
  if (known !== undefined) {
    try {
      await call(ctx.chain.client, { account: ctx.signer.address, to: prepared.to, data: prepared.data, gas: known });
      return known;
    } catch {
      // Estimated below: a revert gives its reason there, a low limit a higher one.
    }
  }
  const limit = ((await prepared.estimate(ctx.chain.client, ctx.signer)) * 12n) / 10n;
  if (known === undefined || limit > known) limits.set(prepared.functionName, limit);
  return limit;
}

/** Report a durable step of a job's transaction (gap fillers belong to no job and are not reported). */
async function reportStep(ctx: WorkerContext, step: PipelineStep, jobId: string | null, txId: string): Promise<void> {
  if (jobId !== null) await ctx.onStep?.(step, { jobId, txId });
}

/**
 * Fill nonce gaps. The node's pending nonce is below a nonce this signer holds a transaction for,
 * and some nonces in between have no transaction in the store (the counter was seeded from a
 * pending transaction of someone else's that was then dropped): each gets a no-op self-send, so
 * the transactions above it can be mined. Returns how many fillers were added.
 */
async function fillGaps(ctx: WorkerContext, highest: bigint): Promise<number> {
  const pending = BigInt(
    await getTransactionCount(ctx.chain.client, { address: ctx.signer.address, blockTag: "pending" }),
  );
  if (pending >= highest) return 0;
  const fence = await acquireLease(ctx);
  if (fence === undefined) return 0;
  return ctx.sql.transaction(async (t) => {
    if (!(await holdsLease(t, ctx, fence))) return 0;
    const { rows } = await t.query<{ nonce: string }>(
      `INSERT INTO relayer_txs (job_id, chain_id, signer, nonce, to_address, data, gas_limit, status)
       SELECT NULL, $1, $2, n, $2, '0x', $5, 'nonce_assigned' FROM generate_series($3::bigint, $4::bigint - 1) AS n
       WHERE NOT EXISTS (SELECT 1 FROM relayer_txs x WHERE x.chain_id = $1 AND x.signer = $2 AND x.nonce = n)
       ON CONFLICT DO NOTHING RETURNING nonce`,
      [
        ctx.chain.chainId,
        ctx.signer.address.toLowerCase(),
        pending.toString(),
        highest.toString(),
        NO_OP_GAS.toString(),
      ],
    );
    if (rows.length > 0) {
      ctx.log.warn({ nonces: rows.map((r) => r.nonce) }, "filling nonce gaps with no-op self-sends");
    }
    return rows.length;
  });
}

/** Gas limits proven per kind of call, kept across passes (each use is proven again by a simulation). */
const provenLimits = new WeakMap<WorkerContext, Map<string, bigint>>();
function gasLimitsOf(ctx: WorkerContext): Map<string, bigint> {
  const known = provenLimits.get(ctx);
  if (known) return known;
  const limits = new Map<string, bigint>();
  provenLimits.set(ctx, limits);
  return limits;
}

async function transientRetry(ctx: WorkerContext, jobId: string): Promise<number> {
  const { rows } = await ctx.sql.query<{ attempts: number }>("SELECT attempts FROM relayer_jobs WHERE id = $1", [
    jobId,
  ]);
  const attempts = Number(rows[0]?.attempts ?? 0) + 1;
  if (attempts >= MAX_TRANSIENT_ATTEMPTS) {
    await setJob(ctx, jobId, { status: "failed", reason: "rpc_unavailable", attempt: true });
  } else {
    const delayMs = BACKOFF_MS[Math.min(attempts - 1, BACKOFF_MS.length - 1)] ?? 30_000;
    await setJob(ctx, jobId, { delayMs, attempt: true });
  }
  return attempts;
}

type TxRow = {
  id: string;
  /** Null for a gap filler (a no-op self-send). */
  job_id: string | null;
  nonce: string;
  to_address: Address;
  data: Hex;
  gas_limit: string;
  status: string;
  mined_hash: Hex | null;
  mined_block: string | null;
  mined_block_hash: Hex | null;
  updated_at: Date | string;
};
type AttemptRow = {
  hash: Hex;
  raw: Hex;
  /** A no-op self-send replacing the call (a cancellation near the deadline). */
  cancel: boolean;
  max_fee_per_gas: string;
  max_priority_fee_per_gas: string;
  created_at: Date | string;
  broadcast_at: Date | string | null;
};

async function fees(ctx: WorkerContext): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
  const estimate = await estimateFeesPerGas(ctx.chain.client);
  const cap = ctx.chain.maxFeePerGas;
  const maxFeePerGas = cap !== undefined && estimate.maxFeePerGas > cap ? cap : estimate.maxFeePerGas;
  const maxPriorityFeePerGas = smaller(estimate.maxPriorityFeePerGas, maxFeePerGas);
  return { maxFeePerGas, maxPriorityFeePerGas };
}

/** Sign a new attempt (the call, or its cancellation), store it (raw bytes and hash) and only then broadcast it. */
async function signStoreBroadcast(
  ctx: WorkerContext,
  fence: bigint,
  tx: TxRow,
  fee: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint },
  cancel: boolean,
): Promise<void> {
  const raw = await signAttempt(ctx, tx, fee, cancel);
  const hash = keccak256(raw);
  if (!(await storeAttempts(ctx, fence, [{ tx, raw, hash, cancel }], fee))) return;
  await reportStep(ctx, "attempt_stored", tx.job_id, tx.id);
  await broadcast(ctx, tx, { hash, raw });
}

/**
 * Broadcast stored bytes. Returns whether the node has them (accepted, already known, or a
 * failure after which it may have them); handles "nonce too low" by reconciling.
 */
async function broadcastOnly(ctx: WorkerContext, tx: TxRow, attempt: { hash: Hex; raw: Hex }): Promise<boolean> {
  let outcome: ReturnType<typeof classifyBroadcastError> = "submitted";
  try {
    await ctx.chain.client.request({ method: "eth_sendRawTransaction", params: [attempt.raw] });
    await reportStep(ctx, "broadcast", tx.job_id, tx.id);
  } catch (error) {
    outcome = classifyBroadcastError(error);
    ctx.log.debug({ tx: tx.id, outcome, error: String(error) }, "broadcast answered with an error");
  }
  ctx.onBroadcast?.(outcome);
  if (outcome === "nonce_low") await reconcile(ctx, tx);
  // nonce_high: an earlier nonce is missing from the pool; its own rebroadcast fills the gap.
  // rejected: kept as is and retried; the log says why.
  if (outcome === "rejected") ctx.log.error({ tx: tx.id, hash: attempt.hash }, "the node rejects the transaction");
  return outcome === "submitted" || outcome === "underpriced";
}

/** Broadcast one attempt and record the outcome. */
async function broadcast(ctx: WorkerContext, tx: TxRow, attempt: { hash: Hex; raw: Hex }): Promise<void> {
  if (await broadcastOnly(ctx, tx, attempt)) await recordBroadcasts(ctx, [{ tx, hash: attempt.hash }]);
}

/**
 * The nonce is used on chain. If one of this transaction's attempts mined, the watcher records
 * it. Otherwise something else used the nonce: the payload goes back to the queue for a new one,
 * unless it was executed by someone else meanwhile (the chain then shows the agreement active).
 */
async function reconcile(ctx: WorkerContext, tx: TxRow): Promise<void> {
  // Every chain read first (a failure aborts the pass and nothing is written), then one write.
  const { rows: attempts } = await ctx.sql.query<AttemptRow>("SELECT hash FROM relayer_attempts WHERE tx_id = $1", [
    tx.id,
  ]);
  for (const a of attempts) {
    if (await receiptOf(ctx, a.hash)) {
      // Mined (the broadcast reached the node before a crash or a lost reply): watch() takes it.
      await ctx.sql.query(
        "UPDATE relayer_txs SET status = 'submitted', updated_at = now() WHERE id = $1 AND status IN ('nonce_assigned', 'signed')",
        [tx.id],
      );
      return;
    }
  }
  if (tx.job_id === null) {
    // A gap filler whose nonce something else used: the gap is filled.
    await ctx.sql.query(
      "UPDATE relayer_txs SET status = 'replaced', updated_at = now() WHERE id = $1 AND status IN ('nonce_assigned', 'signed', 'submitted')",
      [tx.id],
    );
    return;
  }
  const jobId = tx.job_id;
  const { rows } = await ctx.sql.query<{ kind: string; payload: unknown }>(
    "SELECT kind, payload FROM relayer_jobs WHERE id = $1",
    [jobId],
  );
  const row = rows[0];
  if (!row) return;
  const { authorization, agreement } = prepareCall(storedPayload(row.kind, row.payload), ctx.chain.chainId);
  const used =
    authorization !== undefined &&
    (await readAuthorizationState(ctx.chain.client, authorization.token, authorization.from, authorization.nonce));
  const activeElsewhere =
    used && agreement !== undefined && (await readAgreement(ctx.chain.client, agreement)).status !== "none";
  const outcome = activeElsewhere
    ? { status: "active", reason: "activated_elsewhere" }
    : used
      ? { status: "failed", reason: "authorization_used" }
      : { status: "failed", reason: "nonce_taken_outside_relayer" };
  if (!used) ctx.log.warn({ tx: tx.id, nonce: tx.nonce }, "nonce taken outside the relayer");
  const changed = await ctx.sql.transaction(async (t) => {
    const { rows: moved } = await t.query(
      "UPDATE relayer_txs SET status = 'replaced', updated_at = now() WHERE id = $1 AND status IN ('nonce_assigned', 'signed', 'submitted') RETURNING id",
      [tx.id],
    );
    if (moved.length === 0) return false;
    return setJob(ctx, jobId, outcome, { sql: t });
  });
  if (changed) ctx.onStatusChange(jobId);
}

/** Send what is signed but not yet broadcast, and sign what has a nonce but no attempt. */
async function send(ctx: WorkerContext, fence: bigint): Promise<void> {
  const { rows } = await ctx.sql.query<TxRow & { a_hash: Hex | null; a_raw: Hex | null }>(
    `SELECT t.*, a.hash AS a_hash, a.raw AS a_raw FROM relayer_txs t
     LEFT JOIN LATERAL (SELECT hash, raw FROM relayer_attempts WHERE tx_id = t.id
                        ORDER BY created_at DESC, max_fee_per_gas DESC LIMIT 1) a ON true
     WHERE t.chain_id = $1 AND t.signer = $2 AND t.status IN ('nonce_assigned', 'signed')
     ORDER BY t.nonce`,
    [ctx.chain.chainId, ctx.signer.address.toLowerCase()],
  );
  if (rows.length === 0) return;
  // Sign what has no attempt yet, and store every new attempt in one transaction, before any
  // of them is broadcast.
  const unsigned = rows.filter((r) => r.a_hash === null);
  const signed = new Map<string, { hash: Hex; raw: Hex }>();
  if (unsigned.length > 0) {
    const fee = await fees(ctx); // one fee estimate per pass
    const attempts = await Promise.all(
      unsigned.map(async (tx) => {
        const raw = await signAttempt(ctx, tx, fee, false);
        return { tx, raw, hash: keccak256(raw), cancel: false };
      }),
    );
    if (!(await storeAttempts(ctx, fence, attempts, fee))) return;
    for (const { tx, raw, hash } of attempts) {
      signed.set(tx.id, { hash, raw });
      await reportStep(ctx, "attempt_stored", tx.job_id, tx.id);
    }
  }
  // Broadcast in nonce order, a bounded window in flight (a node holds only so many future
  // nonces); record the accepted ones together.
  const accepted: { tx: TxRow; hash: Hex }[] = [];
  await mapLimit(rows, BROADCAST_WINDOW, async (tx) => {
    const attempt = tx.a_hash !== null && tx.a_raw !== null ? { hash: tx.a_hash, raw: tx.a_raw } : signed.get(tx.id);
    if (attempt && (await broadcastOnly(ctx, tx, attempt))) accepted.push({ tx, hash: attempt.hash });
  });
  await recordBroadcasts(ctx, accepted);
}

/**
 * Store signed attempts (raw bytes and hash) in one transaction, if this instance still holds the
 * lease: nothing is broadcast that is not stored first.
 */
async function storeAttempts(
  ctx: WorkerContext,
  fence: bigint,
  attempts: readonly { tx: TxRow; raw: Hex; hash: Hex; cancel: boolean }[],
  fee: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint },
): Promise<boolean> {
  return ctx.sql.transaction(async (t) => {
    if (!(await holdsLease(t, ctx, fence))) return false;
    await t.query(
      `INSERT INTO relayer_attempts (hash, tx_id, raw, cancel, max_fee_per_gas, max_priority_fee_per_gas)
       SELECT v.hash, v.tx_id, v.raw, v.cancel, $5, $6
       FROM unnest($1::text[], $2::bigint[], $3::text[], $4::boolean[]) AS v(hash, tx_id, raw, cancel)
       ON CONFLICT DO NOTHING`,
      [
        attempts.map((a) => a.hash),
        attempts.map((a) => a.tx.id),
        attempts.map((a) => a.raw),
        attempts.map((a) => a.cancel),
        fee.maxFeePerGas.toString(),
        fee.maxPriorityFeePerGas.toString(),
      ],
    );
    await t.query(
      "UPDATE relayer_txs SET status = 'signed', updated_at = now() WHERE id = ANY($1::bigint[]) AND status = 'nonce_assigned'",
      [attempts.map((a) => a.tx.id)],
    );
    return true;
  });
}

/** Whether this instance still holds the (chain, signer) lease with this fencing token (locks the row). */
async function holdsLease(t: Sql, ctx: WorkerContext, fence: bigint): Promise<boolean> {
  const { rows } = await t.query<{ fence: string; lease_owner: string }>(
    "SELECT fence, lease_owner FROM relayer_signers WHERE chain_id = $1 AND signer = $2 FOR UPDATE",
    [ctx.chain.chainId, ctx.signer.address.toLowerCase()],
  );
  return rows[0] !== undefined && BigInt(rows[0].fence) === fence && rows[0].lease_owner === ctx.instanceId;
}

/** Sign the transaction's call at this nonce, or, to cancel it, a no-op self-send at the same nonce. */
function signAttempt(
  ctx: WorkerContext,
  tx: TxRow,
  fee: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint },
  cancel: boolean,
) {
  return ctx.signer.signTransaction({
    type: "eip1559",
    chainId: ctx.chain.chainId,
    nonce: Number(tx.nonce),
    to: cancel ? ctx.signer.address : tx.to_address,
    data: cancel ? "0x" : tx.data,
    gas: cancel ? NO_OP_GAS : BigInt(tx.gas_limit),
    value: 0n,
    maxFeePerGas: fee.maxFeePerGas,
    maxPriorityFeePerGas: fee.maxPriorityFeePerGas,
  });
}

/** Record accepted broadcasts: attempts stamped, transactions submitted, jobs notified. */
async function recordBroadcasts(ctx: WorkerContext, accepted: readonly { tx: TxRow; hash: Hex }[]): Promise<void> {
  if (accepted.length === 0) return;
  await ctx.sql.query(
    "UPDATE relayer_attempts SET broadcast_at = COALESCE(broadcast_at, now()) WHERE hash = ANY($1::text[])",
    [accepted.map((a) => a.hash)],
  );
  const { rows } = await ctx.sql.query<{ job_id: string | null }>(
    "UPDATE relayer_txs SET status = 'submitted', updated_at = now() WHERE id = ANY($1::bigint[]) AND status IN ('signed', 'nonce_assigned') RETURNING job_id",
    [accepted.map((a) => a.tx.id)],
  );
  // Those jobs now have a transaction hash to report (the seed's activation_tx_hash).
  for (const r of rows) if (r.job_id !== null) ctx.onStatusChange(r.job_id);
}

/**
 * Receipts, confirmations, reorgs, rebroadcasts and fee bumps of broadcast transactions. Reads go
 * to the node side by side; what they show is written to the store in a few set-based statements.
 */
async function watch(ctx: WorkerContext): Promise<void> {
  const { rows } = await ctx.sql.query<TxRow & { kind: string | null; payload: unknown }>(
    `SELECT t.*, j.kind, CASE WHEN j.kind = 'usage_batch' THEN j.payload END AS payload
     FROM relayer_txs t LEFT JOIN relayer_jobs j ON j.id = t.job_id
     WHERE t.chain_id = $1 AND t.signer = $2 AND t.status IN ('submitted', 'mined') ORDER BY t.nonce`,
    [ctx.chain.chainId, ctx.signer.address.toLowerCase()],
  );
  if (rows.length === 0) return;
  const { rows: all } = await ctx.sql.query<AttemptRow & { tx_id: string }>(
    "SELECT * FROM relayer_attempts WHERE tx_id = ANY($1::bigint[]) ORDER BY created_at DESC, max_fee_per_gas DESC",
    [rows.map((r) => r.id)],
  );
  const attemptsOf = new Map<string, AttemptRow[]>();
  for (const a of all) attemptsOf.set(String(a.tx_id), [...(attemptsOf.get(String(a.tx_id)) ?? []), a]);
  const head = await getBlockNumber(ctx.chain.client, { cacheTime: 0 });
  const depth = BigInt(ctx.chain.confirmations ?? 1);

  // 1. Receipts, newest attempt first. A node error is never read as "not mined": that
  //    transaction waits for the next pass.
  const seen = await mapLimit(rows, CONCURRENCY, async (tx) => {
    const attempts = attemptsOf.get(String(tx.id)) ?? [];
    try {
      return { tx, attempts, mined: await minedAttempt(ctx, attempts) };
    } catch (error) {
      ctx.log.warn({ tx: tx.id, error: String(error) }, "could not read the transaction's state; retrying next pass");
      return undefined;
    }
  });
  const observed = seen.filter((s) => s !== undefined);

  // 2. Newly mined (or mined under another attempt after a reorg): one write.
  const moved = observed.flatMap(({ tx, mined }) =>
    mined && (tx.status !== "mined" || tx.mined_hash !== mined.hash) ? [{ tx, mined }] : [],
  );
  if (moved.length > 0) {
    await ctx.sql.query(
      `UPDATE relayer_txs t SET status = 'mined', mined_hash = v.hash, mined_block = v.block,
         mined_block_hash = v.block_hash, updated_at = now()
       FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS v(id, hash, block, block_hash)
       WHERE t.id = v.id AND t.status IN ('submitted', 'mined')`,
      [
        moved.map((m) => m.tx.id),
        moved.map((m) => m.mined.hash),
        moved.map((m) => m.mined.block.toString()),
        moved.map((m) => m.mined.blockHash),
      ],
    );
    for (const { tx } of moved) await reportStep(ctx, "mined", tx.job_id, tx.id);
  }

  // 3. Not mined: a nonce gap below it is filled; a reorg may have dropped it (back to
  //    submitted); keep it alive either way.
  const unmined = observed.filter((o) => o.mined === undefined);
  const highestUnmined = unmined.reduce((h, o) => larger(h, BigInt(o.tx.nonce)), -1n);
  if (highestUnmined >= 0n) {
    await fillGaps(ctx, highestUnmined).catch((error: unknown) =>
      ctx.log.warn({ error: String(error) }, "could not check for nonce gaps; retrying next pass"),
    );
  }
  const expiring = await expiringJobs(ctx, unmined);
  await mapLimit(unmined, CONCURRENCY, async ({ tx, attempts }) => {
    try {
      if (tx.job_id !== null && expiring.has(tx.job_id) && (await cancel(ctx, tx, attempts))) return;
      if (tx.status === "mined") {
        ctx.log.warn({ tx: tx.id, hash: tx.mined_hash }, "mined transaction gone after a reorg; rebroadcasting");
        await ctx.sql.query(
          "UPDATE relayer_txs SET status = 'submitted', mined_hash = NULL, mined_block = NULL, mined_block_hash = NULL, updated_at = now() WHERE id = $1 AND status = 'mined'",
          [tx.id],
        );
      }
      await keepAlive(ctx, tx, attempts);
    } catch (error) {
      ctx.log.warn({ tx: tx.id, error: String(error) }, "could not keep the transaction alive; retrying next pass");
    }
  });

  // 4. At depth: confirmed. The receipt was read in this pass, so its block is on the node's
  //    canonical chain now; a reorg that moved the transaction shows a new block (recorded in
  //    step 2), and one that dropped it shows no receipt (step 3).
  const final = observed.flatMap(({ tx, mined }) => (mined && head - mined.block + 1n >= depth ? [{ tx, mined }] : []));
  if (final.length === 0) return;
  const byTx = new Map(final.map((f) => [String(f.tx.id), f]));
  // Each transaction and its job change together, or not at all.
  const confirmed = await ctx.sql.transaction(async (t) => {
    const { rows: done } = await t.query<{ id: string; job_id: string | null }>(
      "UPDATE relayer_txs SET status = 'confirmed', updated_at = now() WHERE id = ANY($1::bigint[]) AND status = 'mined' RETURNING id, job_id",
      [final.map((f) => f.tx.id)],
    );
    if (done.length === 0) return done;
    // The call mined and succeeded: active. It reverted: failed. Its cancellation mined instead:
    // failed, the authorization unused (it was about to expire).
    const outcome = (r: { id: string }): { status: string; reason: string | null } => {
      const mined = byTx.get(String(r.id))?.mined;
      if (mined?.cancel) return { status: "failed", reason: "authorization_expiring" };
      return mined?.success ? { status: "active", reason: null } : { status: "failed", reason: "reverted_on_chain" };
    };
    const jobs = done.filter((r) => r.job_id !== null);
    // A usage batch's entries: recorded, or skipped where the chain says so; a reverted one's
    // entries go back to the queue one by one.
    for (const r of jobs) {
      const f = byTx.get(String(r.id));
      if (f?.tx.kind !== "usage_batch" || r.job_id === null) continue;
      const stored = storedPayload("usage_batch", f.tx.payload);
      if (outcome(r).status === "active" && stored.kind === "usage_batch") {
        await usageRecorded(t, r.job_id, stored.payload.escrow, f.mined.logs);
      } else {
        await usageBatchFailed(t, [r.job_id], outcome(r).reason ?? "failed");
      }
    }
    await t.query(
      `UPDATE relayer_jobs j SET status = v.status, reason = v.reason, updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::text[]) AS v(id, status, reason) WHERE j.id = v.id`,
      [jobs.map((r) => r.job_id), jobs.map((r) => outcome(r).status), jobs.map((r) => outcome(r).reason)],
    );
    return done;
  });
  for (const r of confirmed) {
    if (r.job_id !== null) ctx.onStatusChange(r.job_id);
    await reportStep(ctx, "confirmed", r.job_id, r.id);
  }
}

/** The attempt of a transaction that is mined, with its receipt's block, if any. */
async function minedAttempt(
  ctx: WorkerContext,
  attempts: readonly AttemptRow[],
): Promise<
  { hash: Hex; block: bigint; blockHash: Hex; success: boolean; cancel: boolean; logs: readonly Log[] } | undefined
> {
  for (const a of attempts) {
    const receipt = await receiptOf(ctx, a.hash);
    if (receipt) {
      return {
        hash: a.hash,
        cancel: a.cancel,
        block: receipt.blockNumber,
        blockHash: receipt.blockHash,
        success: receipt.status === "success",
        logs: receipt.logs,
      };
    }
  }
  return undefined;
}

/** A pending transaction: rebroadcast its latest bytes now and then, and raise its fees when stuck. */
async function keepAlive(ctx: WorkerContext, tx: TxRow, attempts: AttemptRow[]): Promise<void> {
  const latest = attempts[0];
  if (!latest) return;
  const age = Date.now() - new Date(latest.created_at).getTime();
  const bumpAfter = ctx.chain.bumpAfterMs ?? 30_000;
  if (age >= bumpAfter) {
    const next = {
      maxFeePerGas: bumped(BigInt(latest.max_fee_per_gas)),
      maxPriorityFeePerGas: bumped(BigInt(latest.max_priority_fee_per_gas)),
    };
    const cap = ctx.chain.maxFeePerGas;
    if (cap === undefined || next.maxFeePerGas <= cap) {
      const current = await fees(ctx);
      const fee = {
        maxFeePerGas: larger(current.maxFeePerGas, next.maxFeePerGas),
        maxPriorityFeePerGas: larger(current.maxPriorityFeePerGas, next.maxPriorityFeePerGas),
      };
      const fence = await acquireLease(ctx);
      if (fence !== undefined) {
        ctx.log.info({ tx: tx.id, ...fee }, "replacing a stuck transaction with higher fees");
        // A cancellation stays a cancellation.
        await signStoreBroadcast(ctx, fence, tx, fee, latest.cancel);
        return;
      }
    }
  }
  if (age >= (ctx.chain.rebroadcastMs ?? 3_000) || latest.broadcast_at === null) {
    await broadcast(ctx, tx, { hash: latest.hash, raw: latest.raw });
  }
}

/**
 * The jobs among these unmined transactions whose authorization expires within the cancel margin
 * of the chain's clock (their call could only revert from then on). One block read and one store
 * read per pass, and only when such transactions are waiting.
 */
async function expiringJobs(
  ctx: WorkerContext,
  unmined: readonly { tx: TxRow; attempts: readonly AttemptRow[] }[],
): Promise<Set<string>> {
  const ids = unmined.flatMap(({ tx, attempts }) =>
    tx.job_id !== null && !attempts.some((a) => a.cancel) ? [tx.job_id] : [],
  );
  if (ids.length === 0) return new Set();
  const now = (await getBlock(ctx.chain.client)).timestamp;
  const margin = BigInt(ctx.chain.cancelMarginSeconds ?? 30);
  // The end of the authorization each kind spends (an activation's is nested), compared in the store.
  const { rows } = await ctx.sql.query<{ id: string }>(
    `SELECT id FROM relayer_jobs WHERE id = ANY($1::text[])
       AND COALESCE(payload->'authorization'->>'validBefore', payload->>'validBefore')::numeric <= $2::numeric`,
    [ids, (now + margin).toString()],
  );
  return new Set(rows.map((r) => r.id));
}

/**
 * Replace an unmined call whose authorization is about to expire with a no-op self-send at the
 * same nonce, both fees raised by at least 12.5% over its latest attempt (the replacement rule),
 * stored before it is broadcast. Whichever of the two mines decides the job: the call makes it
 * active, the cancellation fails it as `authorization_expiring`. Returns whether it was sent.
 */
async function cancel(ctx: WorkerContext, tx: TxRow, attempts: readonly AttemptRow[]): Promise<boolean> {
  const latest = attempts[0];
  if (!latest || latest.cancel) return false;
  const current = await fees(ctx);
  const fee = {
    maxFeePerGas: larger(current.maxFeePerGas, bumped(BigInt(latest.max_fee_per_gas))),
    maxPriorityFeePerGas: larger(current.maxPriorityFeePerGas, bumped(BigInt(latest.max_priority_fee_per_gas))),
  };
  const cap = ctx.chain.maxFeePerGas;
  if (cap !== undefined && fee.maxFeePerGas > cap) {
    ctx.log.warn({ tx: tx.id, ...fee, cap }, "cannot cancel an expiring activation within the fee cap");
    return false;
  }
  const fence = await acquireLease(ctx);
  if (fence === undefined) return false;
  ctx.log.warn({ tx: tx.id, job: tx.job_id, nonce: tx.nonce }, "cancelling an activation about to expire");
  await signStoreBroadcast(ctx, fence, tx, fee, true);
  return true;
}
