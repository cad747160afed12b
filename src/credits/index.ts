/**
 * AgentPMT credit purchase and wallet-signed runtime calls: pack validation, canonical JSON and
 * payload hashes, the exact EIP-191 message formats, and the x402 402 -> pay -> retry purchase
 * client.
 * @packageDocumentation
 */

export { AgentEscrowError, type ErrorDetails, isAgentEscrowError } from "../errors.ts";
export { canonicalJson, payloadHash } from "./canonical-json.ts";
export { CreditsError, type CreditsErrorCode } from "./errors.ts";
export {
  type BalanceMessageInput,
  balanceMessage,
  type Hex32,
  type MessageSigner,
  type RuntimeMessageInput,
  runtimeMessage,
  type SignedMessage,
  type SponsorMessageInput,
  type SponsorReference,
  signBalanceCall,
  signRuntimeCall,
  signSponsorMessage,
  sponsorMessage,
} from "./messages.ts";
export {
  CREDIT_PACK_STEP,
  CREDITS_PER_USD,
  type CreditPack,
  MAX_CREDIT_PACK,
  USDC_UNITS_PER_CREDIT,
  validateCreditPack,
} from "./packs.ts";
export {
  type BackoffPolicy,
  backoffDelay,
  type CreditPurchaseBody,
  type CreditPurchaseRequestBody,
  type CreditPurchaseResult,
  DEFAULT_BACKOFF,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PENDING_TIMEOUT_MS,
  type PayChallenge,
  type PaymentHeader,
  type PurchaseCreditsOptions,
  type PurchaseWithTransactionOptions,
  purchaseCredits,
  purchaseCreditsWithTransaction,
} from "./purchase.ts";
