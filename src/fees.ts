/**
 * Fee arithmetic, identical to the contracts' `Fees` library: every division rounds down (in the
 * payer's favour). `test/vectors/fees.json` holds vectors both implementations are tested against.
 * @packageDocumentation
 */

import { AgentEscrowError } from "./errors.ts";

const BPS = 10_000n;

/** Details of each {@link FeeError} code. */
export type FeeErrorDetails = {
  /** A negative amount or usage. */
  AMOUNT_NEGATIVE: { readonly field: "amount" | "usage"; readonly value: bigint };
};

/** A fee asked of an amount that cannot carry one. */
export class FeeError<C extends keyof FeeErrorDetails = keyof FeeErrorDetails> extends AgentEscrowError<
  C,
  FeeErrorDetails[C]
> {}

/** A direct-payment fee schedule in token units (6 decimals for USDC and EURC). */
export type DirectFeeSchedule = { readonly bps: number; readonly fixedFee: bigint; readonly minFee: bigint };

/** The platform's published schedule: 2% + $0.003, at least $0.10 (6-decimal tokens). */
export const DEFAULT_DIRECT_FEE_SCHEDULE: DirectFeeSchedule = Object.freeze({
  bps: 200,
  fixedFee: 3_000n,
  minFee: 100_000n,
});

/** Platform fee of a direct payment: `amount * bps / 10_000 + fixedFee`, at least `minFee`. */
export function directPaymentFee(amount: bigint, schedule: DirectFeeSchedule = DEFAULT_DIRECT_FEE_SCHEDULE): bigint {
  if (amount < 0n) {
    throw new FeeError("AMOUNT_NEGATIVE", `amount must not be negative, got ${amount}`, {
      field: "amount",
      value: amount,
    });
  }
  const fee = (amount * BigInt(schedule.bps)) / BPS + schedule.fixedFee;
  return fee < schedule.minFee ? schedule.minFee : fee;
}

/** Escrow settlement fee: `usage * bps / 10_000 + fixedFee`, at most `cap`, never above `usage`. */
export function settlementFee(usage: bigint, terms: { feeBps: number; feeFixed: bigint; feeCap: bigint }): bigint {
  if (usage < 0n) {
    throw new FeeError("AMOUNT_NEGATIVE", `usage must not be negative, got ${usage}`, { field: "usage", value: usage });
  }
  let fee = (usage * BigInt(terms.feeBps)) / BPS + terms.feeFixed;
  if (fee > terms.feeCap) fee = terms.feeCap;
  return fee > usage ? usage : fee;
}

/** Usage paid when the arbiter did not resolve: `acknowledged + (recorded - acknowledged) * sellerBps / 10_000`. */
export function fallbackUsage(acknowledged: bigint, recorded: bigint, sellerBps: number): bigint {
  return acknowledged + ((recorded - acknowledged) * BigInt(sellerBps)) / BPS;
}
export { AgentEscrowError, isAgentEscrowError } from "./errors.ts";
