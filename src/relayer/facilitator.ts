import { type Address, isAddress, isHex } from "viem";
import { formatCaip2, parseCaip2 } from "../chains/index.ts";
import type { ExactPayload, PaymentRequirements } from "../wire/index.ts";
import {
  type ExactSettleErrorReason,
  type ExactVerifyInvalidReason,
  type FacilitatorPaymentPayload,
  verifyExactPayment,
} from "../x402/index.ts";
import { RelayerError } from "./errors.ts";
import type { Job } from "./jobs.ts";
import type { Relayer } from "./relayer.ts";

/** The answer of `POST /verify` (x402 v2 `VerifyResponse`). */
export type FacilitatorVerifyResponse = {
  isValid: boolean;
  invalidReason?: ExactVerifyInvalidReason;
  invalidMessage?: string;
  payer?: Address;
};

/** The answer of `POST /settle` (x402 v2 `SettleResponse`): `transaction` is `""` when nothing was sent. */
export type FacilitatorSettleResponse = {
  success: boolean;
  errorReason?: ExactSettleErrorReason;
  errorMessage?: string;
  payer?: Address;
  transaction: string;
  network: string;
};

/** The answer of `GET /supported` (x402 v2 `SupportedResponse`). */
export type FacilitatorSupportedResponse = {
  kinds: { x402Version: 2; scheme: "exact"; network: string }[];
  extensions: string[];
  signers: Record<string, Address[]>;
};

/** An x402 'exact' facilitator whose settlements go through the relayer's pipeline. */
export type Facilitator = {
  /** Verify a payment against the advertised requirements; nothing is sent. */
  verify(payload: FacilitatorPaymentPayload, requirements: PaymentRequirements): Promise<FacilitatorVerifyResponse>;
  /**
   * Verify, then execute the payment through the relayer (one job per authorization). Exactly one
   * caller of one payment is ever told `success: true`; the others `invalid_exact_evm_nonce_already_used`.
   * When the transaction is not confirmed within `timeoutMs`, the answer is `settlement_pending`
   * with the transaction's hash, never a failure: settling again later gives the outcome.
   */
  settle(
    payload: FacilitatorPaymentPayload,
    requirements: PaymentRequirements,
    options?: { readonly timeoutMs?: number },
  ): Promise<FacilitatorSettleResponse>;
  /** The networks and signers served. */
  supported(): FacilitatorSupportedResponse;
};

/** Why a settlement job failed, as the reference facilitator's reason strings. */
function settleReason(reason: string | null): ExactSettleErrorReason {
  switch (reason) {
    case "authorization_used":
      return "invalid_exact_evm_nonce_already_used";
    case "authorization_expired":
    case "authorization_expiring":
      return "invalid_exact_evm_payload_authorization_valid_before";
    case "authorization_not_yet_valid":
      return "invalid_exact_evm_payload_authorization_valid_after";
    case "balance_too_low":
      return "invalid_exact_evm_insufficient_balance";
    case "invalid_signature":
      return "invalid_exact_evm_signature";
    default:
      return "invalid_exact_evm_transaction_failed";
  }
}

/** The EIP-3009 payload of a payment, when its fields have the right types (the verification checks the rest). */
function parsedPayload(payload: FacilitatorPaymentPayload): ExactPayload | undefined {
  const p = payload.payload;
  const a: unknown = p.authorization;
  if (typeof a !== "object" || a === null) return undefined;
  const get = (name: string): unknown => (name in a ? Object.getOwnPropertyDescriptor(a, name)?.value : undefined);
  const from = get("from");
  const to = get("to");
  const nonce = get("nonce");
  const [value, validAfter, validBefore] = [get("value"), get("validAfter"), get("validBefore")];
  const signature = p.signature;
  if (
    typeof from !== "string" ||
    !isAddress(from, { strict: false }) ||
    typeof to !== "string" ||
    !isAddress(to, { strict: false }) ||
    typeof nonce !== "string" ||
    !isHex(nonce) ||
    typeof signature !== "string" ||
    !isHex(signature) ||
    typeof value !== "string" ||
    typeof validAfter !== "string" ||
    typeof validBefore !== "string"
  ) {
    return undefined;
  }
  return { authorization: { from, to, value, validAfter, validBefore, nonce }, signature };
}

/**
 * An x402 'exact' facilitator on the relayer: `verify` checks a payment against the requirements
 * the resource server advertised (`verifyExactPayment`), `settle` verifies again and executes it
 * through the relayer's durable pipeline, deduplicated by the authorization's nonce, and
 * `supported` lists the relayer's networks and signers. Serve it over HTTP with the relayer
 * service (`POST /verify`, `POST /settle`, `GET /supported`).
 *
 * @example
 * const facilitator = createFacilitator({ relayer });
 * const verdict = await facilitator.verify(paymentPayload, paymentRequirements);
 */
export function createFacilitator(options: {
  readonly relayer: Relayer;
  /** How long `settle` waits for the confirmation before answering `settlement_pending` (default 30 s). */
  readonly settleTimeoutMs?: number;
}): Facilitator {
  const { relayer } = options;
  const chainOf = (network: string) => {
    try {
      const chainId = parseCaip2(network);
      return relayer.chains.find((c) => c.chainId === chainId);
    } catch {
      return undefined;
    }
  };

  const verify: Facilitator["verify"] = async (payload, requirements) => {
    const chain = chainOf(requirements.network);
    if (!chain) {
      return {
        isValid: false,
        invalidReason: "invalid_exact_evm_network_mismatch",
        invalidMessage: `network ${String(requirements.network)} is not served by this facilitator`,
      };
    }
    const sender = relayer.senders(chain.chainId)[0];
    const verdict = await verifyExactPayment(chain.client, {
      payload,
      requirements,
      // The pipeline refuses an authorization ending within the chain's deadline margin: so does verify.
      validBeforeMarginSeconds: chain.deadlineMarginSeconds ?? 60,
      ...(sender ? { facilitator: sender } : {}),
    });
    if (verdict.isValid) return { isValid: true, payer: verdict.payer };
    return {
      isValid: false,
      invalidReason: verdict.invalidReason,
      ...(verdict.message !== undefined ? { invalidMessage: verdict.message } : {}),
      ...(verdict.payer !== undefined ? { payer: verdict.payer } : {}),
    };
  };

  /** The answer for a settlement job as it stands now. */
  const answer = async (job: Job, network: string, payer: Address): Promise<FacilitatorSettleResponse> => {
    const transaction = job.txHash ?? "";
    if (job.status === "confirmed" || job.status === "active") {
      if (await relayer.claimReport(job.id, "success")) return { success: true, payer, transaction, network };
      return {
        success: false,
        errorReason: "invalid_exact_evm_nonce_already_used",
        errorMessage: `this payment was settled for another request (transaction ${transaction})`,
        payer,
        transaction,
        network,
      };
    }
    if (job.status === "failed") {
      return {
        success: false,
        errorReason: settleReason(job.reason),
        errorMessage: `settlement failed: ${job.reason ?? "unknown"}`,
        payer,
        transaction,
        network,
      };
    }
    // Under way: one caller is told "pending" (with the hash once broadcast); the others that
    // ask meanwhile are told the authorization is being spent. Once confirmed, one caller is told
    // "success".
    if (await relayer.claimReport(job.id, "pending")) {
      return {
        success: false,
        errorReason: "settlement_pending",
        errorMessage:
          transaction === ""
            ? "the settlement is queued, not yet broadcast; settle again for the outcome"
            : "the settlement is broadcast but not yet confirmed; settle again for the outcome",
        payer,
        transaction,
        network,
      };
    }
    return {
      success: false,
      errorReason: "invalid_exact_evm_nonce_already_used",
      errorMessage: "this payment is being settled for another request",
      payer,
      transaction,
      network,
    };
  };

  return {
    verify,
    async settle(payload, requirements, settleOptions = {}) {
      const network = requirements.network;
      const chain = chainOf(network);
      const timeoutMs = settleOptions.timeoutMs ?? options.settleTimeoutMs ?? 30_000;
      const wait = async (job: Job): Promise<Job> => {
        try {
          return await relayer.waitFor(job.id, { timeoutMs, pollMs: 100 });
        } catch (error) {
          if (!(error instanceof RelayerError && error.is("WAIT_TIMEOUT"))) throw error;
          return (await relayer.getJob(job.id)) ?? job;
        }
      };
      const exact = chain ? parsedPayload(payload) : undefined;
      const asset = requirements.asset;
      if (chain && exact && isAddress(asset, { strict: false })) {
        // Settled or settling already (a retry after `settlement_pending`, or a concurrent
        // caller): the job tells the outcome, for a payment that meets these requirements.
        const a = exact.authorization;
        const existing = await relayer.findAuthorizationJob(chain.chainId, asset, a.from, a.nonce);
        if (existing) {
          // The job must execute this very payment (same fields, same signature), and the payment
          // must meet these requirements: a payment signed twice with one nonce is not this one.
          const meets =
            existing.kind === "x402_settlement" &&
            a.to.toLowerCase() === requirements.payTo.toLowerCase() &&
            a.value === requirements.amount &&
            (await relayer.isSamePayment(existing.id, { asset, payload: exact }));
          if (!meets) {
            return {
              success: false,
              errorReason: "invalid_exact_evm_nonce_already_used",
              errorMessage: `the authorization is spent by job ${existing.id}`,
              payer: a.from,
              transaction: "",
              network,
            };
          }
          return answer(await wait(existing), network, a.from);
        }
      }
      const verdict = await verify(payload, requirements);
      if (!verdict.isValid || !chain || !exact || !verdict.payer || !isAddress(asset, { strict: false })) {
        return {
          success: false,
          errorReason: verdict.invalidReason ?? "invalid_payload",
          ...(verdict.invalidMessage ? { errorMessage: verdict.invalidMessage } : {}),
          ...(verdict.payer ? { payer: verdict.payer } : {}),
          transaction: "",
          network,
        };
      }
      const { job, created } = await relayer.submitX402Settlement(
        { asset, payload: exact },
        { chainId: chain.chainId },
      );
      if (!created && !(await relayer.isSamePayment(job.id, { asset, payload: exact }))) {
        // Another payment with this authorization's nonce got there first.
        return {
          success: false,
          errorReason: "invalid_exact_evm_nonce_already_used",
          errorMessage: `the authorization's nonce is spent by job ${job.id}`,
          payer: verdict.payer,
          transaction: "",
          network,
        };
      }
      return answer(await wait(job), network, verdict.payer);
    },
    supported() {
      const chains = relayer.chains.map((c) => c.chainId);
      return {
        kinds: chains.map((chainId) => ({ x402Version: 2, scheme: "exact", network: formatCaip2(chainId) })),
        extensions: [],
        signers: { "eip155:*": [...new Set(chains.flatMap((id) => relayer.senders(id)))] },
      };
    },
  };
}
