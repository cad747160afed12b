/**
 * The buyer and seller binding: activation packages, escrow operations, direct payments.
 * Browser-safe (viem clients only).
 * @packageDocumentation
 */
export {
  type ActivationPackage,
  type ActivationSignatures,
  type BuyerPolicy,
  signActivation,
  type VerifiedActivation,
  verifyActivationPackage,
} from "./activation.ts";
export * from "./credits/index.ts";
export {
  buildDirectStablecoinAgreement,
  type DirectPaymentRequirements,
  type DirectStablecoinAgreement,
  directPaymentCall,
} from "./direct.ts";
export { ClientError, type ClientErrorCode } from "./errors.ts";
export {
  type ActivationOutcome,
  AGREEMENT_STATUS,
  type AgreementStatus,
  type BackendActivationStatus,
  challengeUsage,
  closeWithFinalVoucher,
  completeAgreement,
  type EscrowStatus,
  previewSettlement,
  readEscrowStatus,
  recordUsage,
  recordUsageBatch,
  settleAgreement,
  signFinalVoucher,
  signVoucher,
  submitActivation,
  submitVoucher,
  type UsageRecord,
  waitForActive,
  withdraw,
} from "./escrow.ts";
