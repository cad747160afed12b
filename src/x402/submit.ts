import type { Address, Hex, WalletClient } from "viem";
import { fiatTokenAbi } from "../abi/index.ts";
import type { ExactPayload } from "./types.ts";

/**
 * Execute a signed 'exact' payment on the token: `transferWithAuthorization` exactly as the payer
 * signed it, sent (and paid for) by `wallet`. Returns the transaction hash; the token reverts a
 * replay, an expired authorization or a wrong signature.
 */
export function submitExactPayment(wallet: WalletClient, asset: Address, payment: ExactPayload): Promise<Hex> {
  const a = payment.authorization;
  if (!wallet.account) throw new TypeError("submitExactPayment: the wallet client has no account");
  return wallet.writeContract({
    address: asset,
    abi: fiatTokenAbi,
    functionName: "transferWithAuthorization",
    args: [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, payment.signature],
    account: wallet.account,
    chain: wallet.chain,
  });
}
