import type { JobKind } from "./calls.ts";
import { RelayerError } from "./errors.ts";
import type { Sql } from "./store/sql.ts";

/**
 * Where a job is. An activation uses the seed's agreement statuses (`submitting`, `active`,
 * `failed`); a payment (x402 settlement, direct payment) is `submitting`, then `confirmed` at the
 * confirmation depth, or `failed`.
 */
export type JobStatus = "awaiting_approval" | "submitting" | "active" | "confirmed" | "failed";

/** What the relayer was asked to do, and where it is. */
export type Job = {
  readonly id: string;
  readonly requestId: string;
  readonly kind: JobKind;
  readonly chainId: number;
  readonly status: JobStatus;
  /** Why it failed (a typed reason, e.g. `authorization_expired`), or why it waits. */
  readonly reason: string | null;
  readonly detail: Readonly<Record<string, unknown>> | null;
  /** The transaction's hash once it is broadcast (for an activation, the seed's `activation_tx_hash`). */
  readonly txHash: string | null;
  readonly attempts: number;
  /** A purchase's buyer and amount (an escrow deposit or a payment), null for other jobs. */
  readonly buyer: string | null;
  readonly amount: bigint | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
};

type JobRow = {
  id: string;
  request_id: string;
  kind: string;
  chain_id: number;
  status: string;
  reason: string | null;
  detail: Record<string, unknown> | null;
  attempts: number;
  created_at: Date | string;
  updated_at: Date | string;
  tx_hash: string | null;
  buyer: string | null;
  amount: string | null;
};

const SELECT_JOB = `
  SELECT j.id, j.request_id, j.kind, j.chain_id, j.status, j.reason, j.detail, j.attempts, j.created_at, j.updated_at,
         j.buyer, j.amount,
         -- The activation's hash: the mined attempt, else the latest broadcast one; never a cancellation.
         (SELECT a.hash FROM relayer_attempts a
          WHERE a.tx_id = t.id AND NOT a.cancel
            AND (a.hash = t.mined_hash OR (t.mined_hash IS NULL AND a.broadcast_at IS NOT NULL))
          ORDER BY a.created_at DESC LIMIT 1) AS tx_hash
  FROM relayer_jobs j LEFT JOIN relayer_txs t ON t.id = j.tx_id`;

function toJob(row: JobRow): Job {
  const kind = jobKind(row.kind);
  // The store says `active` for a call that succeeded at depth; a payment is `confirmed` then.
  const status =
    row.status === "failed" || row.status === "awaiting_approval"
      ? row.status
      : row.status === "active"
        ? kind === "activation"
          ? "active"
          : "confirmed"
        : "submitting";
  return {
    id: row.id,
    requestId: row.request_id,
    kind,
    chainId: Number(row.chain_id),
    status,
    reason: row.reason,
    detail: row.detail,
    txHash: row.tx_hash,
    attempts: Number(row.attempts),
    buyer: row.buyer,
    amount: row.amount === null ? null : BigInt(row.amount),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

function jobKind(kind: string): JobKind {
  const kinds: readonly JobKind[] = [
    "activation",
    "x402_settlement",
    "direct_payment",
    "usage_batch",
    "settlement",
    "completion",
    "close",
    "withdrawal",
  ];
  const known = kinds.find((k) => k === kind);
  if (known) return known;
  throw new RelayerError("JOB_KIND_UNKNOWN", `a stored job has the unknown kind ${kind}`, { kind });
}

async function findJobRowFor(
  sql: Sql,
  requestId: string,
  dedupeKey: string,
): Promise<(JobRow & { dedupe_key: string }) | undefined> {
  const { rows } = await sql.query<JobRow & { dedupe_key: string }>(
    `${SELECT_JOB.replace("SELECT j.id,", "SELECT j.dedupe_key, j.id,")} WHERE j.id = (SELECT job_id FROM relayer_job_requests WHERE request_id = $1)
        OR j.request_id = $1 OR j.dedupe_key = $2
     ORDER BY (j.request_id = $1) DESC LIMIT 1`,
    [requestId, dedupeKey],
  );
  return rows[0];
}

/** The job recorded for this request id or this payload, if any. */
export async function findJobFor(sql: Sql, requestId: string, dedupeKey: string): Promise<Job | undefined> {
  const row = await findJobRowFor(sql, requestId, dedupeKey);
  return row ? toJob(row) : undefined;
}

/** The job with this id or request id. */
export async function findJob(sql: Sql, idOrRequestId: string): Promise<Job | undefined> {
  const { rows } = await sql.query<JobRow>(
    `${SELECT_JOB} WHERE j.id = $1 OR j.id = (SELECT job_id FROM relayer_job_requests WHERE request_id = $1)`,
    [idOrRequestId],
  );
  const row = rows[0];
  return row ? toJob(row) : undefined;
}

/** The job of this payload (its dedupe key), if any. */
export async function findJobByKey(sql: Sql, dedupeKey: string): Promise<Job | undefined> {
  const { rows } = await sql.query<JobRow>(`${SELECT_JOB} WHERE j.dedupe_key = $1`, [dedupeKey]);
  const row = rows[0];
  return row ? toJob(row) : undefined;
}

/** The latest jobs, newest first, optionally of one status (as stored: `submitting`, `active`, `failed`). */
export async function listJobs(
  sql: Sql,
  filter: { readonly status?: string; readonly limit?: number } = {},
): Promise<Job[]> {
  const { rows } = await sql.query<JobRow>(
    `${SELECT_JOB} WHERE ($1::text IS NULL OR j.status = $1) ORDER BY j.created_at DESC LIMIT $2`,
    [filter.status ?? null, Math.min(Math.max(filter.limit ?? 100, 1), 1_000)],
  );
  return rows.map(toJob);
}

/** The jobs with these ids (any order; missing ones left out). */
export async function findJobs(sql: Sql, ids: readonly string[]): Promise<Job[]> {
  if (ids.length === 0) return [];
  const { rows } = await sql.query<JobRow>(`${SELECT_JOB} WHERE j.id = ANY($1::text[])`, [ids]);
  return rows.map(toJob);
}

/**
 * Insert a job unless one exists with this request id or this payload (`dedupeKey`): returns the
 * job that exists afterwards, and whether it is new. Idempotent across instances: the unique
 * indexes decide, not a prior read. A request id already given to another payload is refused
 * (`REQUEST_ID_CONFLICT`): one request id is one job, and never hides a second payload.
 */
export async function insertJob(
  sql: Sql,
  job: {
    id: string;
    requestId: string;
    dedupeKey: string;
    kind: JobKind;
    chainId: number;
    payload: unknown;
    /** Only this signer may send it (a recorder's usage batch). */
    signer?: string;
    /** A purchase waiting for the owner's approval starts in `awaiting_approval`. */
    status?: "submitting" | "awaiting_approval";
    /** A purchase's buyer and amount (for the buyer's daily limit). */
    buyer?: string;
    amount?: bigint;
  },
): Promise<{ job: Job; created: boolean }> {
  // The common case in one statement: the job and its request id, both new.
  const { rows } = await sql.query<JobRow>(
    `WITH job AS (
       INSERT INTO relayer_jobs (id, request_id, dedupe_key, kind, chain_id, status, payload, signer, buyer, amount)
       SELECT $1, $2, $3, $6, $4, $8, $5, $7, $9, $10
       WHERE NOT EXISTS (SELECT 1 FROM relayer_job_requests WHERE request_id = $2)
       ON CONFLICT DO NOTHING
       RETURNING id, request_id, kind, chain_id, status, reason, detail, attempts, created_at, updated_at,
         NULL::text AS tx_hash, buyer, amount
     ), request AS (
       INSERT INTO relayer_job_requests (request_id, job_id) SELECT request_id, id FROM job ON CONFLICT DO NOTHING
     )
     SELECT * FROM job`,
    [
      job.id,
      job.requestId,
      job.dedupeKey,
      job.chainId,
      JSON.stringify(job.payload),
      job.kind,
      job.signer ?? null,
      job.status ?? "submitting",
      job.buyer?.toLowerCase() ?? null,
      job.amount?.toString() ?? null,
    ],
  );
  const inserted = rows[0];
  if (inserted) return { job: toJob(inserted), created: true };
  const row = await findJobRowFor(sql, job.requestId, job.dedupeKey);
  if (!row) {
    throw new RelayerError("JOB_NOT_FOUND", `job ${job.requestId} vanished after insertion`, { id: job.requestId });
  }
  if (row.dedupe_key !== job.dedupeKey) {
    throw new RelayerError("REQUEST_ID_CONFLICT", `request id ${job.requestId} belongs to another payload`, {
      requestId: job.requestId,
      jobId: row.id,
    });
  }
  // Every request id that reached this job finds it again.
  await sql.query("INSERT INTO relayer_job_requests (request_id, job_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
    job.requestId,
    row.id,
  ]);
  return { job: toJob(row), created: false };
}

/** Reasons a job may fail for now but succeed later (the seed's 500): a resubmission retries it. */
export const RETRYABLE_REASONS: readonly string[] = [
  "rpc_unavailable",
  "balance_too_low",
  "allowance_too_low",
  "authorization_not_yet_valid",
  "activations_paused",
];

/**
 * Put a job that failed for a retryable reason, before it ever took a nonce, back in the queue.
 * Returns the job as it is afterwards. A job with a transaction is never re-queued (its payload
 * has a nonce already).
 */
export async function requeueIfRetryable(
  sql: Sql,
  jobId: string,
  status: "submitting" | "awaiting_approval" = "submitting",
): Promise<Job | undefined> {
  await sql.query(
    `UPDATE relayer_jobs SET status = $3, reason = NULL, detail = NULL, attempts = 0,
       next_run_at = now(), updated_at = now()
     WHERE id = $1 AND status = 'failed' AND tx_id IS NULL AND reason = ANY($2::text[])`,
    [jobId, RETRYABLE_REASONS, status],
  );
  return findJob(sql, jobId);
}
