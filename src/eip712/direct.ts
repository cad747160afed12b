import { encodeAbiParameters, type Hex, keccak256, stringToHex } from "viem";

const FEE_DEADLINE_TAG = keccak256(stringToHex("agent-escrow/direct-payment-fee"));

/**
 * The deadline a direct payment's fee permit must carry: derived from the x402 authorization's
 * nonce (so the permit covers that one payment) with the top bit set (so it never expires by
 * time). Identical to `DirectPayment.feePermitDeadline`.
 */
export function directPaymentFeePermitDeadline(paymentNonce: Hex): bigint {
  const hash = keccak256(
    encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }], [FEE_DEADLINE_TAG, paymentNonce]),
  );
  return BigInt(hash) | (1n << 255n);
}
