/**
 * The buyer and seller binding: activation packages (parse, the buyer's policy, the chain; then
 * local signing), vouchers, waiting for activation, and the direct stablecoin purchase. The escrow
 * operations themselves are the typed actions of `agent-escrow/actions`. Every refusal is a
 * {@link ClientError} (or, from the layers below, a `WireError`, `X402Error` or `ActionError`), all
 * subclasses of `AgentEscrowError`. Browser-safe (viem clients only).
 *
 * The money path, buyer side: {@link verifyActivationPackage} → {@link signActivation} → (the
 * relayer's {@link submitActivation}) → {@link waitForActive} → {@link signVoucher} /
 * {@link signFinalVoucher}.
 * @packageDocumentation
 */

export { AgentEscrowError, type ErrorDetails, isAgentEscrowError } from "../errors.ts";
export {
  type BuyerPolicy,
  checkActivationOnChain,
  checkActivationPolicy,
  parsePackage,
  signActivation,
  type VerifiedActivation,
  verifyActivationPackage,
} from "./activation.ts";
export {
  buildDirectStablecoinAgreement,
  type DirectPaymentRequirements,
  type DirectStablecoinAgreement,
} from "./direct.ts";
export { ClientError, type ClientErrorCode, type ClientErrorDetails } from "./errors.ts";
export {
  type ActivationOutcome,
  type BackendActivationStatus,
  signFinalVoucher,
  signVoucher,
  submitActivation,
  waitForActive,
} from "./escrow.ts";
