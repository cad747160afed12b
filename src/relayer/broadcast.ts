/**
 * What a node's answer to `eth_sendRawTransaction` means for a transaction the relayer already
 * stored, signed:
 * - `submitted`: accepted, or already in the pool ("already known"), or a time-out / network
 *   failure after which the node may have it: in every case keep the same bytes and rebroadcast
 *   them later, never sign the payload again under another nonce;
 * - `nonce_low`: the nonce is used on chain: reconcile (did one of this transaction's attempts
 *   mine? did someone else execute the payload?);
 * - `nonce_high`: an earlier nonce of this signer is missing from the pool: repair the gap first;
 * - `underpriced`: a replacement must raise both fee fields further;
 * - `rejected`: the node refuses these bytes for another reason (it is reported).
 */
export type BroadcastOutcome = "submitted" | "nonce_low" | "nonce_high" | "underpriced" | "rejected";

const PATTERNS: readonly [BroadcastOutcome, RegExp][] = [
  ["submitted", /already known|known transaction|already imported|already in (the )?mempool|tx already exists/i],
  ["nonce_low", /nonce too low|nonce has already been used|old nonce|OldNonce|nonce is too low/i],
  ["nonce_high", /nonce too high|NonceTooHigh|nonce gap/i],
  ["underpriced", /underpriced|fee too low|max fee per gas less than block base fee|insufficient fee/i],
  [
    "rejected",
    /insufficient funds|intrinsic gas too low|exceeds block gas limit|invalid sender|invalid signature|chain ?id/i,
  ],
];

/** Classify a failed broadcast by the node's message; anything unrecognised counts as submitted. */
export function classifyBroadcastError(error: unknown): BroadcastOutcome {
  const text = describe(error);
  for (const [outcome, pattern] of PATTERNS) if (pattern.test(text)) return outcome;
  // Time-outs, connection resets, 5xx, 429: the node may have the transaction. Rebroadcasting
  // the same bytes is always safe.
  return "submitted";
}

function describe(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e && depth < 6; depth++) {
    if (e instanceof Error) {
      parts.push(e.message);
      const details = (e as { details?: unknown }).details;
      if (typeof details === "string") parts.push(details);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(" | ");
}

/** Raise a fee by at least 12.5% (nodes refuse replacements below +10%, some at exactly +10%). */
export function bumped(fee: bigint): bigint {
  return (fee * 1125n + 999n) / 1000n + 1n;
}
