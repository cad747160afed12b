import { randomUUID } from "node:crypto";
import type { Hex } from "viem";
import { getBlock } from "viem/actions";
import { readAgreement } from "../actions/index.ts";
import { agreementRef, decodeTerms } from "../eip712/index.ts";
import type { AgreementCallPayload } from "./calls.ts";
import { insertJob } from "./jobs.ts";
import type { WorkerContext } from "./worker.ts";

/** What the settlement scanner does, per chain. */
export type ScannerOptions = {
  /** Complete agreements still active past their service expiry (anyone may; default true). */
  readonly completeExpired: boolean;
  /** Longest pause between two looks at one agreement, in ms (default 30 s). */
  readonly intervalMs: number;
};

type Watched = { chain_id: number; escrow: `0x${string}`; agreement_id: Hex; packed_terms: Hex };

/**
 * One pass of the settlement scanner for a chain: adopt the agreements this relayer activated,
 * then look at each one that is due. An agreement whose challenge window or resolution deadline
 * has passed gets a `settle` job; one still active past its service expiry a `complete` job
 * (when configured); a settled one is no longer watched. Jobs are keyed by the agreement (and,
 * for a settlement, the time it became settleable), so instances scanning together, or a
 * scanner run twice, enqueue each at most once. Returns the jobs created.
 */
export async function scanAgreements(ctx: WorkerContext, options: ScannerOptions): Promise<string[]> {
  const chainId = ctx.chain.chainId;
  await ctx.sql.query(
    `INSERT INTO relayer_agreements (chain_id, escrow, agreement_id, packed_terms, status)
     SELECT j.chain_id, lower(j.payload->>'escrow'), split_part(j.dedupe_key, ':', 4), j.payload->>'packedTerms', 'watching'
     FROM relayer_jobs j
     WHERE j.kind = 'activation' AND j.status = 'active' AND j.chain_id = $1
     ON CONFLICT DO NOTHING`,
    [chainId],
  );
  const { rows } = await ctx.sql.query<Watched>(
    `SELECT chain_id, escrow, agreement_id, packed_terms FROM relayer_agreements
     WHERE chain_id = $1 AND status = 'watching' AND next_check_at <= now() ORDER BY next_check_at LIMIT 200`,
    [chainId],
  );
  if (rows.length === 0) return [];
  const now = (await getBlock(ctx.chain.client)).timestamp;
  const created: string[] = [];
  for (const row of rows) {
    const terms = decodeTerms(row.packed_terms);
    const ref = agreementRef(terms, { chainId, escrow: row.escrow });
    let view: Awaited<ReturnType<typeof readAgreement>>;
    try {
      view = await readAgreement(ctx.chain.client, ref);
    } catch (error) {
      ctx.log.warn({ agreement: row.agreement_id, error: String(error) }, "could not read the agreement; next pass");
      continue;
    }
    const payload: AgreementCallPayload = { escrow: row.escrow, packedTerms: row.packed_terms };
    let wait = BigInt(options.intervalMs);
    if (view.status === "settled") {
      await ctx.sql.query(
        "UPDATE relayer_agreements SET status = 'settled', updated_at = now() WHERE chain_id = $1 AND escrow = $2 AND agreement_id = $3",
        [chainId, row.escrow, row.agreement_id],
      );
      continue;
    }
    if (view.status === "completed" || view.status === "challenged" || view.status === "resolved") {
      if (view.settleableAt > 0n && view.settleableAt <= now) {
        const key = `settle:${chainId}:${row.escrow}:${row.agreement_id}:${view.settleableAt}`;
        const job = await enqueueOnce(ctx, key, "settlement", payload);
        if (job) {
          created.push(job);
          ctx.log.info({ agreement: row.agreement_id, job }, "settling an agreement");
        }
      } else if (view.settleableAt > now) {
        wait = smaller(wait, (view.settleableAt - now) * 1000n);
      }
    } else if (view.status === "active" && options.completeExpired) {
      const expiry = BigInt(terms.serviceExpiry);
      if (expiry <= now) {
        const job = await enqueueOnce(
          ctx,
          `complete:${chainId}:${row.escrow}:${row.agreement_id}`,
          "completion",
          payload,
        );
        if (job) created.push(job);
      } else {
        wait = smaller(wait, (expiry - now) * 1000n);
      }
    }
    await ctx.sql.query(
      `UPDATE relayer_agreements SET next_check_at = now() + ($4::bigint * interval '1 millisecond'), updated_at = now()
       WHERE chain_id = $1 AND escrow = $2 AND agreement_id = $3`,
      [chainId, row.escrow, row.agreement_id, larger(wait, 500n).toString()],
    );
  }
  return created;
}

/** Attempts per agreement and state before the scanner gives up (each failed one is logged). */
const MAX_ATTEMPTS = 5;

/**
 * Enqueue the job keyed `key`, once across instances. A failed one (an RPC outage, a race on
 * chain) is followed by one more attempt per scan, under the next key, at most
 * {@link MAX_ATTEMPTS} in all. Returns the id of a job created now.
 */
async function enqueueOnce(
  ctx: WorkerContext,
  key: string,
  kind: "settlement" | "completion",
  payload: AgreementCallPayload,
): Promise<string | undefined> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const attemptKey = attempt === 0 ? key : `${key}:attempt-${attempt + 1}`;
    const { created, job } = await insertJob(ctx.sql, {
      id: randomUUID(),
      requestId: attemptKey,
      dedupeKey: attemptKey,
      kind,
      chainId: ctx.chain.chainId,
      payload,
    });
    if (created) return job.id;
    if (job.status !== "failed") return undefined; // under way, or done
  }
  ctx.log.error({ key }, `${kind} failed ${MAX_ATTEMPTS} times; the agreement needs attention`);
  return undefined;
}

const larger = (a: bigint, b: bigint) => (a > b ? a : b);
const smaller = (a: bigint, b: bigint) => (a < b ? a : b);
