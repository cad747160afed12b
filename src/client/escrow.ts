import type { Address, Hex, PublicClient, WalletClient } from "viem";
import { agentEscrowAbi } from "../abi/index.ts";
import {
  decodeTerms,
  type EscrowDomain,
  encodeActivation,
  encodeTerms,
  signFinalUsage,
  signUsageVoucher,
  type Terms,
  type TypedDataSigner,
} from "../eip712/index.ts";
import type { ActivationSignatures } from "./activation.ts";
import { ClientError } from "./errors.ts";

/** Agreement states, as the escrow numbers them. */
export const AGREEMENT_STATUS = ["none", "active", "completed", "challenged", "resolved", "settled"] as const;
export type AgreementStatus = (typeof AGREEMENT_STATUS)[number];

/** An agreement as the escrow reports it. */
export type EscrowStatus = {
  status: AgreementStatus;
  recorder: Address;
  deposit: bigint;
  recordedUsage: bigint;
  acknowledgedUsage: bigint;
  completedAt: bigint;
  challengedAt: bigint;
  challengeDeadline: bigint;
  resolutionDeadline: bigint;
  settleableAt: bigint;
};

/** Read an agreement's state, amounts and deadlines from the chain. */
export async function readEscrowStatus(client: PublicClient, escrow: Address, terms: Terms): Promise<EscrowStatus> {
  const v = await client.readContract({
    address: escrow,
    abi: agentEscrowAbi,
    functionName: "getAgreement",
    args: [encodeTerms(terms)],
  });
  return { ...v, status: AGREEMENT_STATUS[v.status] ?? "none" };
}

/** What settlement would pay now. */
export async function previewSettlement(client: PublicClient, escrow: Address, terms: Terms) {
  return client.readContract({
    address: escrow,
    abi: agentEscrowAbi,
    functionName: "previewSettlement",
    args: [encodeTerms(terms)],
  });
}

async function send(
  wallet: WalletClient,
  client: PublicClient,
  escrow: Address,
  functionName: string,
  args: readonly unknown[],
): Promise<Hex> {
  if (!wallet.account) throw new ClientError("NO_ACCOUNT", "the wallet client has no account", {});
  const hash = await wallet.writeContract({
    address: escrow,
    abi: agentEscrowAbi,
    functionName,
    args,
    account: wallet.account,
    chain: wallet.chain,
  } as Parameters<WalletClient["writeContract"]>[0]);
  const receipt = await client.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") {
    throw new ClientError("TRANSACTION_REVERTED", `${functionName} reverted in transaction ${hash}`, {
      hash,
      functionName,
    });
  }
  return hash;
}

/** Submit an activation with the buyer's signatures (what a relayer does; anyone may). */
export function submitActivation(
  wallet: WalletClient,
  client: PublicClient,
  escrow: Address,
  signed: ActivationSignatures,
) {
  const activation = encodeActivation(decodeTerms(signed.terms), {
    validAfter: BigInt(signed.fundingAuthorization.validAfter),
    validBefore: BigInt(signed.fundingAuthorization.validBefore),
    signature: signed.fundingAuthorization.signature,
  });
  return signed.feePermit
    ? send(wallet, client, escrow, "activateWithFeePermit", [
        activation,
        {
          value: BigInt(signed.feePermit.value),
          deadline: BigInt(signed.feePermit.deadline),
          signature: signed.feePermit.signature,
        },
      ])
    : send(wallet, client, escrow, "activate", [activation]);
}

/** One usage record: cumulative usage of an agreement, a hash of its usage log, and whether usage ends. */
export type UsageRecord = { agreementId: Hex; cumulativeUsage: bigint; logRef: Hex; complete?: boolean };

const entry = (r: UsageRecord) => ({
  id: r.agreementId,
  cumulativeUsage: r.cumulativeUsage,
  complete: r.complete ?? false,
  logRef: r.logRef,
});

/** Recorder: record usage of one agreement. */
export function recordUsage(wallet: WalletClient, client: PublicClient, escrow: Address, record: UsageRecord) {
  return send(wallet, client, escrow, "recordUsage", [entry(record)]);
}

/** Recorder: record usage of many agreements in one transaction (all or nothing). */
export function recordUsageBatch(
  wallet: WalletClient,
  client: PublicClient,
  escrow: Address,
  records: readonly UsageRecord[],
) {
  return send(wallet, client, escrow, "recordUsageBatch", [records.map(entry)]);
}

/** Buyer, seller or recorder (anyone after the service expiry): end usage; the challenge window starts. */
export function completeAgreement(wallet: WalletClient, client: PublicClient, escrow: Address, terms: Terms) {
  return send(wallet, client, escrow, "complete", [encodeTerms(terms)]);
}

/** Anyone, once settleable: pay the seller, credit the fee, refund the buyer. */
export function settleAgreement(wallet: WalletClient, client: PublicClient, escrow: Address, terms: Terms) {
  return send(wallet, client, escrow, "settle", [encodeTerms(terms)]);
}

/** Buyer: dispute recorded usage above what it acknowledged, inside the challenge window. */
export function challengeUsage(wallet: WalletClient, client: PublicClient, escrow: Address, terms: Terms) {
  return send(wallet, client, escrow, "challenge", [encodeTerms(terms)]);
}

/** Withdraw the caller's deferred payouts (or accrued fees) in `token` to `to`. */
export function withdraw(wallet: WalletClient, client: PublicClient, escrow: Address, token: Address, to: Address) {
  return send(wallet, client, escrow, "withdraw", [token, to]);
}

/** Buyer: sign a usage voucher acknowledging `cumulativeUsage` (cannot be disputed later). */
export function signVoucher(signer: TypedDataSigner, domain: EscrowDomain, agreementId: Hex, cumulativeUsage: bigint) {
  return signUsageVoucher(signer, domain, { agreementId, cumulativeUsage });
}

/** Anyone: submit a buyer-signed voucher. */
export function submitVoucher(
  wallet: WalletClient,
  client: PublicClient,
  escrow: Address,
  terms: Terms,
  cumulativeUsage: bigint,
  signature: Hex,
) {
  return send(wallet, client, escrow, "submitUsageVoucher", [encodeTerms(terms), cumulativeUsage, signature]);
}

/**
 * Buyer: sign the final usage voucher, agreeing that the agreement ends at exactly `usage` if
 * closed before `deadline` (unix seconds). The seller (or the recorder, at or above the recorded
 * usage) can then close and settle at once with {@link closeWithFinalVoucher}: no challenge
 * window. Sign it only for the usage you accept as final: until its deadline it cannot be withdrawn.
 */
export function signFinalVoucher(
  signer: TypedDataSigner,
  domain: EscrowDomain,
  agreementId: Hex,
  usage: bigint,
  deadline: number,
) {
  return signFinalUsage(signer, domain, { agreementId, usage, deadline });
}

/**
 * Seller or recorder: close the agreement with the buyer's final voucher. In one transaction the
 * agreement ends and settles at the voucher's usage: the seller is paid usage less fee, the fee is
 * credited, the buyer is refunded the rest.
 */
export function closeWithFinalVoucher(
  wallet: WalletClient,
  client: PublicClient,
  escrow: Address,
  terms: Terms,
  voucher: { usage: bigint; deadline: number; signature: Hex },
) {
  return send(wallet, client, escrow, "closeWithFinalVoucher", [
    encodeTerms(terms),
    voucher.usage,
    voucher.deadline,
    voucher.signature,
  ]);
}

/** The backend's view of an activation (`GET .../escrow-status`). */
export type BackendActivationStatus = { status: string; activation_tx_hash?: string | null; error?: string | null };

/** How waiting for an activation ended. */
export type ActivationOutcome =
  | { outcome: "active"; status: EscrowStatus }
  | { outcome: "failed"; reason: string }
  | { outcome: "stuck_submitting"; waitedMs: number }
  | { outcome: "timed_out"; waitedMs: number; lastBackendStatus?: BackendActivationStatus };

/**
 * Wait until the agreement is active on-chain (the chain is authoritative). Activation is
 * asynchronous: the backend reports `submitting` until its relayer's transaction confirms.
 * Outcomes: `active`; `failed` (the backend says so); `stuck_submitting` (timed out while the
 * backend still says submitting and has no transaction hash: a backend problem, not chain
 * latency); `timed_out` otherwise.
 */
export async function waitForActive(options: {
  client: PublicClient;
  escrow: Address;
  terms: Terms;
  backendStatus?: () => Promise<BackendActivationStatus>;
  timeoutMs?: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}): Promise<ActivationOutcome> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const pollMs = options.pollMs ?? 2_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0 || !Number.isFinite(pollMs) || pollMs < 0) {
    throw new RangeError(
      `waitForActive: timeoutMs and pollMs must be finite and non-negative (${timeoutMs}, ${pollMs})`,
    );
  }
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const started = now();
  let last: BackendActivationStatus | undefined;
  for (;;) {
    const status = await readEscrowStatus(options.client, options.escrow, options.terms);
    if (status.status !== "none") return { outcome: "active", status };
    if (options.backendStatus) {
      last = await options.backendStatus();
      if (last.status === "failed") return { outcome: "failed", reason: last.error ?? "the backend reported failure" };
    }
    const waited = now() - started;
    if (waited >= timeoutMs) {
      if (last?.status === "submitting" && !last.activation_tx_hash)
        return { outcome: "stuck_submitting", waitedMs: waited };
      return { outcome: "timed_out", waitedMs: waited, ...(last ? { lastBackendStatus: last } : {}) };
    }
    await sleep(pollMs);
  }
}
