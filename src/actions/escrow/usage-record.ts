import type { Hex } from "viem";

/** One usage record: cumulative usage of an agreement, a hash of its usage log, and whether usage ends. */
export type UsageRecord = {
  readonly agreementId: Hex;
  readonly cumulativeUsage: bigint;
  readonly logRef: Hex;
  readonly complete?: boolean;
};

/** The contract's `UsageEntry` for a record. */
export function toEntry(record: UsageRecord) {
  return {
    id: record.agreementId,
    cumulativeUsage: record.cumulativeUsage,
    complete: record.complete ?? false,
    logRef: record.logRef,
  };
}
