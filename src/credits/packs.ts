import { CreditsError } from "./errors.ts";

/** Credit packs are sold in steps of this many credits. */
export const CREDIT_PACK_STEP = 500;

/** Credits per US dollar: one credit is one US cent. */
export const CREDITS_PER_USD = 100;

/** USDC base units (6 decimals) per credit: $0.01 = 10_000 base units. */
export const USDC_UNITS_PER_CREDIT = 10_000n;

/** The largest pack this client accepts: the largest multiple of 500 that is a safe integer. */
export const MAX_CREDIT_PACK = Math.floor(Number.MAX_SAFE_INTEGER / CREDIT_PACK_STEP) * CREDIT_PACK_STEP;

/** A valid credit pack and its price. */
export interface CreditPack {
  /** Number of credits, a positive multiple of {@link CREDIT_PACK_STEP}. */
  readonly credits: number;
  /** Price in US cents (equal to `credits`). */
  readonly usdCents: number;
  /** Price in USDC base units (6 decimals). */
  readonly usdcAmount: bigint;
}

/**
 * The nearest valid pack at or above `credits`, at least one step; `null` when there is none
 * within {@link MAX_CREDIT_PACK} (too large, or +Infinity).
 */
function suggestPack(credits: unknown): number | null {
  if (typeof credits !== "number" || Number.isNaN(credits) || credits <= CREDIT_PACK_STEP) return CREDIT_PACK_STEP;
  const roundedUp = Math.ceil(credits / CREDIT_PACK_STEP) * CREDIT_PACK_STEP;
  return roundedUp <= MAX_CREDIT_PACK ? roundedUp : null;
}

/**
 * Check that `credits` is a purchasable pack (a positive safe-integer multiple of 500) and price
 * it. Throws {@link CreditsError} `CREDIT_PACK_INVALID` with details `{ credits, suggestedCredits }`
 * otherwise, where `suggestedCredits` rounds up to the next valid pack (minimum 500, `null` when
 * no valid pack is that large).
 */
export function validateCreditPack(credits: number): CreditPack {
  const valid =
    typeof credits === "number" &&
    Number.isSafeInteger(credits) &&
    credits > 0 &&
    credits <= MAX_CREDIT_PACK &&
    credits % CREDIT_PACK_STEP === 0;
  if (!valid) {
    const suggestedCredits = suggestPack(credits);
    const hint = suggestedCredits === null ? "" : ` (try ${suggestedCredits})`;
    throw new CreditsError(
      "CREDIT_PACK_INVALID",
      `credit packs must be positive multiples of ${CREDIT_PACK_STEP} credits, got ${String(credits)}${hint}`,
      { credits, suggestedCredits },
    );
  }
  return { credits, usdCents: credits, usdcAmount: BigInt(credits) * USDC_UNITS_PER_CREDIT };
}
