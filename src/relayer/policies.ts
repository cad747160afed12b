import { type Address, getAddress } from "viem";
import { RelayerError } from "./errors.ts";
import type { Sql } from "./store/sql.ts";

/**
 * A buyer's guardrails (seed flow 5), in token units (6 decimals). Every limit is optional:
 * - `maxPerAgreement`: the most one purchase (an escrow deposit or a payment) may take;
 * - `maxPerDay`: the most the buyer's purchases may take over the last 24 hours (failed ones
 *   and rejected ones do not count);
 * - `sellers`: the only sellers the buyer may pay;
 * - `approvalThreshold`: a purchase above it waits in `awaiting_approval` for the owner.
 */
export type BuyerPolicy = {
  readonly maxPerAgreement?: bigint;
  readonly maxPerDay?: bigint;
  readonly sellers?: readonly Address[];
  readonly approvalThreshold?: bigint;
};

/** What a purchase is, for the policy. */
export type Purchase = { readonly buyer: Address; readonly seller: Address; readonly amount: bigint };

type PolicyRow = {
  max_per_agreement: string | null;
  max_per_day: string | null;
  sellers: string[] | null;
  approval_threshold: string | null;
};

const big = (v: string | null) => (v === null ? undefined : BigInt(v));

/** The buyer's policy, if one is set. */
export async function readPolicy(sql: Sql, buyer: Address): Promise<BuyerPolicy | undefined> {
  const { rows } = await sql.query<PolicyRow>("SELECT * FROM relayer_policies WHERE buyer = $1", [buyer.toLowerCase()]);
  const row = rows[0];
  if (!row) return undefined;
  const maxPerAgreement = big(row.max_per_agreement);
  const maxPerDay = big(row.max_per_day);
  const approvalThreshold = big(row.approval_threshold);
  return {
    ...(maxPerAgreement !== undefined ? { maxPerAgreement } : {}),
    ...(maxPerDay !== undefined ? { maxPerDay } : {}),
    ...(row.sellers !== null ? { sellers: row.sellers.map((s) => getAddress(s)) } : {}),
    ...(approvalThreshold !== undefined ? { approvalThreshold } : {}),
  };
}

/** Set (replace) the buyer's policy. */
export async function writePolicy(sql: Sql, buyer: Address, policy: BuyerPolicy): Promise<void> {
  for (const [field, value] of Object.entries({
    maxPerAgreement: policy.maxPerAgreement,
    maxPerDay: policy.maxPerDay,
    approvalThreshold: policy.approvalThreshold,
  })) {
    if (value !== undefined && value < 0n) {
      throw new RelayerError("JOB_INVALID", `${field} must not be negative`, { field, reason: "FIELD_INVALID" });
    }
  }
  await sql.query(
    `INSERT INTO relayer_policies (buyer, max_per_agreement, max_per_day, sellers, approval_threshold, updated_at)
     VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (buyer) DO UPDATE SET max_per_agreement = $2, max_per_day = $3, sellers = $4,
       approval_threshold = $5, updated_at = now()`,
    [
      buyer.toLowerCase(),
      policy.maxPerAgreement?.toString() ?? null,
      policy.maxPerDay?.toString() ?? null,
      policy.sellers ? policy.sellers.map((s) => s.toLowerCase()) : null,
      policy.approvalThreshold?.toString() ?? null,
    ],
  );
}

/**
 * Check a purchase against its buyer's policy, inside the transaction that records it (which
 * holds the buyer's advisory lock, so concurrent purchases count each other). Returns whether it
 * needs the owner's approval; throws `POLICY_REFUSED` naming the rule that refuses it.
 */
export async function checkPolicy(t: Sql, purchase: Purchase): Promise<{ needsApproval: boolean }> {
  const policy = await readPolicy(t, purchase.buyer);
  if (!policy) return { needsApproval: false };
  const refuse = (rule: string, limit: string, value: string): never => {
    throw new RelayerError("POLICY_REFUSED", `the buyer's policy refuses this purchase: ${rule} is ${limit}`, {
      buyer: purchase.buyer,
      rule,
      limit,
      value,
    });
  };
  if (policy.sellers && !policy.sellers.some((s) => s.toLowerCase() === purchase.seller.toLowerCase())) {
    refuse("sellers", policy.sellers.join(","), purchase.seller);
  }
  if (policy.maxPerAgreement !== undefined && purchase.amount > policy.maxPerAgreement) {
    refuse("maxPerAgreement", policy.maxPerAgreement.toString(), purchase.amount.toString());
  }
  if (policy.maxPerDay !== undefined) {
    const { rows } = await t.query<{ spent: string | null }>(
      `SELECT COALESCE(sum(amount), 0) AS spent FROM relayer_jobs
       WHERE buyer = $1 AND status <> 'failed' AND created_at > now() - interval '24 hours'`,
      [purchase.buyer.toLowerCase()],
    );
    const spent = BigInt(rows[0]?.spent ?? "0");
    if (spent + purchase.amount > policy.maxPerDay) {
      refuse("maxPerDay", policy.maxPerDay.toString(), (spent + purchase.amount).toString());
    }
  }
  return { needsApproval: policy.approvalThreshold !== undefined && purchase.amount > policy.approvalThreshold };
}
