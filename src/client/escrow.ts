import type { Account, Chain, Client, Hex, Transport } from "viem";
import { activate } from "../actions/escrow/activate.ts";
import { activateWithFeePermit } from "../actions/escrow/activateWithFeePermit.ts";
import { type EscrowStatus, readAgreement } from "../actions/escrow/readAgreement.ts";
import {
  type AgreementRef,
  type EscrowDomain,
  signFinalUsage,
  signUsageVoucher,
  type TypedDataSigner,
} from "../eip712/index.ts";
import { parseActivationSignatures } from "../wire/index.ts";
import { ClientError } from "./errors.ts";

type AnyClient = Client<Transport, Chain | undefined, Account | undefined>;

/**
 * Relayer side of activation: parse the buyer's `POST .../activate-escrow` body for this escrow
 * (the id must be the hash of the signed terms) and submit it with `activate` or, when it carries
 * a fee permit, `activateWithFeePermit`. Returns the receipt and the decoded events.
 *
 * @example
 * const { events } = await submitActivation(relayerWallet, await request.json(), { chainId: 8453, escrow });
 * @throws {WireError} for a malformed body; {ActionError} when the escrow or the token refuses it.
 */
export function submitActivation(wallet: AnyClient, body: unknown, domain: EscrowDomain) {
  const signed = parseActivationSignatures(body, domain);
  return signed.feePermit
    ? activateWithFeePermit(wallet, signed.agreement, signed.authorization, signed.feePermit)
    : activate(wallet, signed.agreement, signed.authorization);
}

/**
 * Buyer: sign a usage voucher acknowledging `cumulativeUsage` (it cannot be disputed later).
 *
 * @example
 * const voucher = await signVoucher(account, agreement, 25_000_000n);
 */
export function signVoucher(signer: TypedDataSigner, agreement: AgreementRef, cumulativeUsage: bigint): Promise<Hex> {
  return signUsageVoucher(signer, agreement, { agreementId: agreement.id, cumulativeUsage });
}

/**
 * Buyer: sign the final usage voucher, agreeing that the agreement ends at exactly `usage` if
 * closed before `deadline` (unix seconds). The seller (or the recorder, at or above the recorded
 * usage) can then close and settle at once with `closeWithFinalVoucher`: no challenge window. Sign
 * it only for the usage you accept as final: until its deadline it cannot be withdrawn.
 *
 * @example
 * const signature = await signFinalVoucher(account, agreement, 60_000_000n, now + 600);
 */
export function signFinalVoucher(
  signer: TypedDataSigner,
  agreement: AgreementRef,
  usage: bigint,
  deadline: number,
): Promise<Hex> {
  return signFinalUsage(signer, agreement, { agreementId: agreement.id, usage, deadline });
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
 *
 * @example
 * const outcome = await waitForActive({ client: publicClient, agreement, backendStatus });
 * @throws {ClientError} `OPTION_INVALID`; {ActionError} `RPC_FAILED`.
 */
export async function waitForActive(options: {
  client: AnyClient;
  agreement: AgreementRef;
  backendStatus?: () => Promise<BackendActivationStatus>;
  timeoutMs?: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}): Promise<ActivationOutcome> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const pollMs = options.pollMs ?? 2_000;
  for (const [option, value] of [
    ["timeoutMs", timeoutMs],
    ["pollMs", pollMs],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) {
      throw new ClientError("OPTION_INVALID", `waitForActive: ${option} must be finite and non-negative`, {
        option,
        value,
      });
    }
  }
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const started = now();
  let last: BackendActivationStatus | undefined;
  for (;;) {
    const status = await readAgreement(options.client, options.agreement);
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
