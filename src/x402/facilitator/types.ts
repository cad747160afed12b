import type { Address } from "viem";
import type { PaymentRequirements } from "../../wire/index.ts";

/**
 * The `invalidReason` strings the x402 reference facilitator (`@x402/evm` 2.27, `ExactEvmScheme`
 * of `@x402/evm/exact/facilitator`, its errors in `src/exact/facilitator/errors.ts`) returns on
 * the EIP-3009 path of the 'exact' scheme, plus `unsupported_payload_type` (its refusal of a payload
 * type it does not handle; here: a Permit2 payload).
 */
export const EXACT_EVM_INVALID_REASONS = [
  "invalid_exact_evm_scheme",
  "invalid_exact_evm_network_mismatch",
  "invalid_exact_evm_missing_eip712_domain",
  "invalid_exact_evm_token_name_mismatch",
  "invalid_exact_evm_token_version_mismatch",
  "invalid_exact_evm_recipient_mismatch",
  "invalid_exact_evm_payload_authorization_value_mismatch",
  "invalid_exact_evm_payload_authorization_valid_before",
  "invalid_exact_evm_payload_authorization_valid_after",
  "invalid_exact_evm_signature",
  "eip6492_factory_not_allowed",
  "asset_not_deployed_contract",
  "invalid_exact_evm_eip3009_not_supported",
  "invalid_exact_evm_nonce_already_used",
  "invalid_exact_evm_insufficient_balance",
  "invalid_exact_evm_transaction_simulation_failed",
  "unsupported_payload_type",
] as const;

/**
 * The generic error codes of the x402 v2 specification (§9 Error Handling), for the refusals the
 * reference EVM facilitator has no string of its own for (it throws instead).
 */
export const X402_SPEC_INVALID_REASONS = [
  "invalid_x402_version",
  "invalid_payload",
  "invalid_payment_requirements",
] as const;

/** Why {@link verifyExactPayment} refused a payment: one of the official reason strings. */
export type ExactVerifyInvalidReason =
  | (typeof EXACT_EVM_INVALID_REASONS)[number]
  | (typeof X402_SPEC_INVALID_REASONS)[number];

/**
 * The `errorReason` strings the reference facilitator's settle adds to the verify reasons (it
 * re-verifies first and answers a refusal with the verify reason): the transaction reverted, its
 * receipt lacks the expected `Transfer`, a signature it could not parse, a smart wallet that could
 * not be deployed, and a broadcast transaction still unconfirmed when the wait timed out.
 */
export const EXACT_EVM_SETTLE_ERROR_REASONS = [
  "invalid_exact_evm_transaction_failed",
  "invalid_exact_evm_transfer_event_mismatch",
  "invalid_exact_evm_failed_to_parse_signature",
  "smart_wallet_deployment_failed",
  "settlement_pending",
] as const;

/** Why a settlement failed: a verify reason or one of {@link EXACT_EVM_SETTLE_ERROR_REASONS}. */
export type ExactSettleErrorReason = ExactVerifyInvalidReason | (typeof EXACT_EVM_SETTLE_ERROR_REASONS)[number];

/**
 * How long before `validBefore` an authorization is refused, in seconds: the reference
 * facilitator refuses `validBefore < now + 6`, leaving the settlement time to be mined.
 */
export const DEFAULT_VALID_BEFORE_MARGIN_SECONDS = 6;

/**
 * A payment payload as a facilitator receives it (x402 v2 `PaymentPayload`, the `paymentPayload`
 * of `POST /verify` and `POST /settle`). `payload` is checked field by field: it comes off the
 * network. The reference implementation's `PaymentPayload` is assignable to it.
 */
export type FacilitatorPaymentPayload = {
  readonly x402Version: number;
  readonly accepted: PaymentRequirements;
  readonly payload: Readonly<Record<string, unknown>>;
  /** The resource paid for (`ResourceInfo`); not read by the verification. */
  readonly resource?: unknown;
  /** Extensions echoed by the payer; not read by the verification. */
  readonly extensions?: unknown;
};

/** Parameters of {@link verifyExactPayment}. */
export type VerifyExactPaymentParameters = {
  /** The payment the payer sent. */
  readonly payload: FacilitatorPaymentPayload;
  /** The requirements the server advertised (and that the payment must meet). */
  readonly requirements: PaymentRequirements;
  /** The current time, in Unix seconds (default: the system clock). */
  readonly nowSeconds?: number;
  /** Refuse an authorization expiring within this many seconds (default {@link DEFAULT_VALID_BEFORE_MARGIN_SECONDS}). */
  readonly validBeforeMarginSeconds?: number;
  /** The address the settlement will be sent from, used as the simulation's sender (default: the client's account). */
  readonly facilitator?: Address;
  /** Simulate `transferWithAuthorization` (default `true`). */
  readonly simulate?: boolean;
};

/** The verdict of {@link verifyExactPayment}. */
export type VerifyExactPaymentResult =
  | { readonly isValid: true; readonly payer: Address }
  | {
      readonly isValid: false;
      readonly invalidReason: ExactVerifyInvalidReason;
      /** The authorization's `from`, when it is an address. */
      readonly payer?: Address;
      /** What was wrong, for a person (the x402 `invalidMessage`). */
      readonly message?: string;
    };
