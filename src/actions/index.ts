/**
 * One typed function per contract call: escrow, direct payment and token. Writes simulate first,
 * send, wait for the receipt and return it with the called contract's decoded events; reads return
 * typed values. Every function takes any viem client (Base and the OP-stack chains included) and
 * throws only {@link ActionError}: `CONTRACT_REVERTED` with the decoded custom error (permanent for
 * these arguments), `RPC_FAILED` (transient) or `NO_ACCOUNT`. Browser-safe.
 *
 * The money path: {@link activate} → {@link recordUsageBatch} (or {@link recordUsage}) →
 * {@link settle}, or {@link closeWithFinalVoucher} straight after activation.
 * @packageDocumentation
 */

export { AgentEscrowError, type ErrorDetails, isAgentEscrowError } from "../errors.ts";
export { type DirectPaymentOrder, pay } from "./direct/pay.ts";
export { quoteFee } from "./direct/quoteFee.ts";
export { ActionError, type ActionErrorCode, type ActionErrorDetails } from "./errors.ts";
export { activate } from "./escrow/activate.ts";
export { activateWithFeePermit } from "./escrow/activateWithFeePermit.ts";
export { challenge } from "./escrow/challenge.ts";
export { closeWithFinalVoucher } from "./escrow/closeWithFinalVoucher.ts";
export { complete } from "./escrow/complete.ts";
export { previewSettlement } from "./escrow/previewSettlement.ts";
export {
  AGREEMENT_STATUS,
  type AgreementStatus,
  type EscrowStatus,
  readAgreement,
} from "./escrow/readAgreement.ts";
export { readAgreementId } from "./escrow/readAgreementId.ts";
export { readTokenConfig } from "./escrow/readTokenConfig.ts";
export { readWithdrawable } from "./escrow/readWithdrawable.ts";
export { recordLateUsage } from "./escrow/recordLateUsage.ts";
export { recordUsage } from "./escrow/recordUsage.ts";
export { recordUsageBatch } from "./escrow/recordUsageBatch.ts";
export { resolve } from "./escrow/resolve.ts";
export { settle } from "./escrow/settle.ts";
export { submitUsageVoucher } from "./escrow/submitUsageVoucher.ts";
export { topUp } from "./escrow/topUp.ts";
export type { UsageRecord } from "./escrow/usage-record.ts";
export { withdraw } from "./escrow/withdraw.ts";
export { toActionError, type WriteOptions, type WriteResult } from "./execute.ts";
export {
  readAuthorizationState,
  readBalance,
  readIsBlacklisted,
  readPermitNonce,
} from "./token/reads.ts";
export { transferWithAuthorization } from "./token/transferWithAuthorization.ts";
