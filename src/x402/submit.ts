import type { Account, Address, Chain, Client, Transport } from "viem";
import { transferWithAuthorization } from "../actions/token/transferWithAuthorization.ts";
import type { ExactPayload } from "../wire/x402/types.ts";

/**
 * Execute a signed 'exact' payment on the token: `transferWithAuthorization` exactly as the payer
 * signed it, sent (and paid for) by `wallet`. Returns the receipt and the token's decoded events;
 * the token refuses a replay, an expired authorization or a wrong signature.
 *
 * @example
 * const { hash } = await submitExactPayment(relayerWallet, usdc, payment);
 * @throws {ActionError} `CONTRACT_REVERTED` (the token's reason), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function submitExactPayment(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  asset: Address,
  payment: ExactPayload,
) {
  const a = payment.authorization;
  return transferWithAuthorization(
    wallet,
    asset,
    {
      from: a.from,
      to: a.to,
      value: BigInt(a.value),
      validAfter: BigInt(a.validAfter),
      validBefore: BigInt(a.validBefore),
      nonce: a.nonce,
    },
    payment.signature,
  );
}
