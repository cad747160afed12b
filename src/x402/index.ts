/**
 * x402 v2 codec for the 'exact' EVM scheme: decode `PAYMENT-REQUIRED`, choose and sign an
 * acceptance within a policy, build `PAYMENT-SIGNATURE` / `X-PAYMENT` headers in both the x402 v2
 * and the documented envelope shapes, read inbound payment headers in alias priority order, and
 * decode `PAYMENT-RESPONSE`; and, on the facilitator's side, verify a payment against the
 * advertised requirements with the x402 reference facilitator's reason strings. Browser-safe.
 * @packageDocumentation
 */

export { AgentEscrowError, type ErrorDetails, isAgentEscrowError } from "../errors.ts";
export { decodeJsonHeader, encodeJsonHeader } from "../wire/x402/base64.ts";
export {
  decodePaymentPayload,
  decodePaymentRequired,
  decodePaymentResponse,
  parseRequirements,
} from "../wire/x402/decode.ts";
export { X402Error, type X402ErrorCode, type X402ErrorDetails } from "../wire/x402/errors.ts";
export type * from "../wire/x402/types.ts";
export {
  FacilitatorError,
  type FacilitatorErrorCode,
  type FacilitatorErrorDetails,
} from "./facilitator/errors.ts";
export {
  DEFAULT_VALID_BEFORE_MARGIN_SECONDS,
  EXACT_EVM_INVALID_REASONS,
  EXACT_EVM_SETTLE_ERROR_REASONS,
  type ExactSettleErrorReason,
  type ExactVerifyInvalidReason,
  type FacilitatorPaymentPayload,
  type VerifyExactPaymentParameters,
  type VerifyExactPaymentResult,
  X402_SPEC_INVALID_REASONS,
} from "./facilitator/types.ts";
export { verifyExactPayment } from "./facilitator/verify.ts";
export {
  HEADERS,
  type HeaderSource,
  PAYMENT_HEADER_ALIASES,
  readPayment,
  readPaymentHeader,
  readPaymentResponse,
} from "./headers.ts";
export {
  type NonceGuard,
  type PaymentStyle,
  randomNonce,
  type SignedPaymentHeader,
  signExactPayment,
  toPaymentPayloadV2,
  toSeedEnvelope,
  type X402Payer,
  x402Payer,
} from "./pay.ts";
export {
  acceptRequirements,
  domainFromRequirements,
  type PaymentPolicy,
  type SelectedPayment,
  selectPayment,
} from "./select.ts";
export { submitExactPayment } from "./submit.ts";
