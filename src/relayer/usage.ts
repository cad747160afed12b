import { randomUUID } from "node:crypto";
import { type Address, type Hex, type Log, parseEventLogs } from "viem";
import { agentEscrowAbi } from "../abi/index.ts";
import type { UsageBatchPayload } from "./calls.ts";
import { insertJob } from "./jobs.ts";
import type { Sql } from "./store/sql.ts";

/** Where a usage entry is: queued, in a batch job, then recorded or skipped by the chain, or failed. */
export type UsageEntryStatus = "queued" | "batched" | "recorded" | "skipped" | "failed";

/** A usage entry as the queue holds it. */
export type UsageEntry = {
  readonly id: string;
  readonly chainId: number;
  readonly agreementId: Hex;
  readonly recorder: Address;
  readonly cumulativeUsage: bigint;
  readonly logRef: Hex;
  readonly complete: boolean;
  readonly status: UsageEntryStatus;
  /**
   * Why it was skipped or failed: `below_queued` (a higher entry of this agreement is queued),
   * `superseded` (a higher entry was queued while it waited), `overtaken` (the chain skipped it:
   * the agreement was completed, or a voucher raised its usage meanwhile), or the batch's refusal.
   */
  readonly reason: string | null;
  /** The batch job that carries it, once batched. */
  readonly jobId: string | null;
};

/** What `recordUsage` did with an entry. */
export type UsageOutcome = {
  /** `queued`: a new entry; `coalesced`: it raised the agreement's queued entry; `skipped`: a higher one is queued. */
  readonly outcome: "queued" | "coalesced" | "skipped";
  /** The agreement's queued entry after the call (for `skipped`, the higher one that stays queued). */
  readonly entry: UsageEntry;
};

type UsageRow = {
  id: string;
  chain_id: number;
  agreement_id: Hex;
  recorder: Address;
  cumulative_usage: string;
  log_ref: Hex;
  complete: boolean;
  status: string;
  reason: string | null;
  job_id: string | null;
};

const STATUSES: readonly UsageEntryStatus[] = ["queued", "batched", "recorded", "skipped", "failed"];

function toEntry(row: UsageRow): UsageEntry {
  return {
    id: String(row.id),
    chainId: Number(row.chain_id),
    agreementId: row.agreement_id,
    recorder: row.recorder,
    cumulativeUsage: BigInt(row.cumulative_usage),
    logRef: row.log_ref,
    complete: row.complete,
    status: STATUSES.find((s) => s === row.status) ?? "failed",
    reason: row.reason,
    jobId: row.job_id,
  };
}

/**
 * Queue a usage entry. Entries of one agreement coalesce: a higher one raises the queued entry
 * (its log reference too), an equal one only adds completion, a lower one is skipped and said so.
 */
export async function enqueueUsage(
  sql: Sql,
  e: {
    chainId: number;
    escrow: Address;
    recorder: Address;
    agreementId: Hex;
    cumulativeUsage: bigint;
    logRef: Hex;
    complete: boolean;
  },
): Promise<UsageOutcome> {
  const keys = [e.chainId, e.escrow.toLowerCase(), e.recorder.toLowerCase(), e.agreementId.toLowerCase()];
  const { rows } = await sql.query<UsageRow & { coalesced: boolean }>(
    `INSERT INTO relayer_usage (chain_id, escrow, recorder, agreement_id, cumulative_usage, log_ref, complete, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued')
     ON CONFLICT (chain_id, escrow, recorder, agreement_id) WHERE status = 'queued'
     DO UPDATE SET cumulative_usage = EXCLUDED.cumulative_usage, log_ref = EXCLUDED.log_ref,
       complete = relayer_usage.complete OR EXCLUDED.complete, updated_at = now()
     WHERE EXCLUDED.cumulative_usage > relayer_usage.cumulative_usage
        OR (EXCLUDED.cumulative_usage = relayer_usage.cumulative_usage AND EXCLUDED.complete AND NOT relayer_usage.complete)
     RETURNING *, (xmax <> 0) AS coalesced`,
    [...keys, e.cumulativeUsage.toString(), e.logRef.toLowerCase(), e.complete],
  );
  const row = rows[0];
  if (row) return { outcome: row.coalesced ? "coalesced" : "queued", entry: toEntry(row) };
  const { rows: queued } = await sql.query<UsageRow>(
    `SELECT * FROM relayer_usage WHERE chain_id = $1 AND escrow = $2 AND recorder = $3 AND agreement_id = $4
     AND status = 'queued'`,
    keys,
  );
  const higher = queued[0];
  if (!higher) return enqueueUsage(sql, e); // flushed in between: queue it afresh
  return { outcome: "skipped", entry: toEntry(higher) };
}

/** The usage entry with this id. */
export async function findUsage(sql: Sql, id: string): Promise<UsageEntry | undefined> {
  if (!/^[0-9]{1,18}$/.test(id)) return undefined;
  const { rows } = await sql.query<UsageRow>("SELECT * FROM relayer_usage WHERE id = $1", [id]);
  const row = rows[0];
  return row ? toEntry(row) : undefined;
}

/**
 * Turn the queued entries of (chain, recorder) into batch jobs when there are `maxEntries` of
 * them or the oldest waited `flushAfterMs`, whichever comes first: one `recordUsageBatch` job per
 * escrow and at most `maxEntries` entries, an entry whose batch was refused in a job of its own.
 * Each entry goes into exactly one job (the rows are locked and moved in the job's transaction).
 * Returns the ids of the jobs created.
 */
export async function flushUsage(
  sql: Sql,
  scope: { chainId: number; recorder: Address; maxEntries: number; flushAfterMs: number },
): Promise<string[]> {
  const recorder = scope.recorder.toLowerCase();
  const { rows: due } = await sql.query<{ n: string; due: boolean }>(
    `SELECT count(*) AS n, COALESCE(min(created_at) <= now() - ($3::integer * interval '1 millisecond'), false) AS due
     FROM relayer_usage WHERE chain_id = $1 AND recorder = $2 AND status = 'queued'`,
    [scope.chainId, recorder, scope.flushAfterMs],
  );
  const state = due[0];
  if (!state || Number(state.n) === 0 || (Number(state.n) < scope.maxEntries && !state.due)) return [];
  return sql.transaction(async (t) => {
    const { rows } = await t.query<UsageRow & { escrow: Address; solo: boolean }>(
      `SELECT * FROM relayer_usage WHERE chain_id = $1 AND recorder = $2 AND status = 'queued'
       ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`,
      [scope.chainId, recorder, scope.maxEntries * 4],
    );
    const groups: (typeof rows)[] = [];
    const open = new Map<string, typeof rows>();
    for (const row of rows) {
      if (row.solo) {
        groups.push([row]);
        continue;
      }
      let group = open.get(row.escrow);
      if (!group || group.length >= scope.maxEntries) {
        group = [];
        open.set(row.escrow, group);
        groups.push(group);
      }
      group.push(row);
    }
    const jobs: string[] = [];
    for (const group of groups) {
      const first = group[0];
      if (!first) continue;
      const ids = group.map((r) => String(r.id));
      // A key of its own per flush: an entry sent again alone (its batch refused) is a new job.
      // Each entry is in one job at a time: its row is locked and moved in this transaction.
      const key = `usage:${scope.chainId}:${recorder}:${randomUUID()}`;
      const payload: UsageBatchPayload = {
        escrow: first.escrow,
        entries: group.map((r) => ({
          usageId: String(r.id),
          agreementId: r.agreement_id,
          cumulativeUsage: String(r.cumulative_usage),
          logRef: r.log_ref,
          complete: r.complete,
        })),
      };
      const { job } = await insertJob(t, {
        id: randomUUID(),
        requestId: key,
        dedupeKey: key,
        kind: "usage_batch",
        chainId: scope.chainId,
        signer: recorder,
        payload,
      });
      await t.query(
        "UPDATE relayer_usage SET status = 'batched', job_id = $2, updated_at = now() WHERE id = ANY($1::bigint[])",
        [ids, job.id],
      );
      jobs.push(job.id);
    }
    return jobs;
  });
}

/** Entries of a confirmed batch: recorded, or skipped where the chain emitted `UsageEntrySkipped`. */
export async function usageRecorded(sql: Sql, jobId: string, escrow: Address, logs: readonly Log[]): Promise<void> {
  const skipped = parseEventLogs({
    abi: agentEscrowAbi,
    eventName: "UsageEntrySkipped",
    logs: logs.filter((l) => l.address.toLowerCase() === escrow.toLowerCase()),
  }).map((e) => e.args.id.toLowerCase());
  await sql.query(
    `UPDATE relayer_usage SET
       status = CASE WHEN agreement_id = ANY($2::text[]) THEN 'skipped' ELSE 'recorded' END,
       reason = CASE WHEN agreement_id = ANY($2::text[]) THEN 'overtaken' ELSE NULL END,
       updated_at = now()
     WHERE job_id = $1 AND status = 'batched'`,
    [jobId, skipped],
  );
}

/**
 * Entries of failed batch jobs: an entry that shared its batch goes back to the queue to be sent
 * alone (unless a higher entry of its agreement was queued meanwhile: superseded), an entry that
 * was already alone fails with the job's reason.
 */
export async function usageBatchFailed(sql: Sql, jobIds: readonly string[], reason: string): Promise<void> {
  // A queued entry of the same agreement below a refused entry is raised to it (and to its
  // completion), so that the one that supersedes it never records less.
  await sql.query(
    `UPDATE relayer_usage q SET cumulative_usage = u.cumulative_usage, log_ref = u.log_ref,
       complete = q.complete OR u.complete, updated_at = now()
     FROM relayer_usage u
     WHERE u.job_id = ANY($1::text[]) AND u.status = 'batched' AND q.status = 'queued'
       AND q.chain_id = u.chain_id AND q.escrow = u.escrow AND q.recorder = u.recorder AND q.agreement_id = u.agreement_id
       AND (q.cumulative_usage < u.cumulative_usage OR (u.complete AND NOT q.complete))`,
    [jobIds],
  );
  await sql.query(
    `UPDATE relayer_usage u SET status = 'skipped', reason = 'superseded', updated_at = now()
     WHERE u.job_id = ANY($1::text[]) AND u.status = 'batched' AND EXISTS (
       SELECT 1 FROM relayer_usage q WHERE q.status = 'queued' AND q.chain_id = u.chain_id AND q.escrow = u.escrow
         AND q.recorder = u.recorder AND q.agreement_id = u.agreement_id)`,
    [jobIds],
  );
  await sql.query(
    `UPDATE relayer_usage SET
       status = CASE WHEN solo THEN 'failed' ELSE 'queued' END,
       reason = CASE WHEN solo THEN $2 ELSE NULL END,
       job_id = CASE WHEN solo THEN job_id ELSE NULL END,
       solo = true, updated_at = now()
     WHERE job_id = ANY($1::text[]) AND status = 'batched'`,
    [jobIds, reason],
  );
}
