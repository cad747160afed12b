import type { Account, Address, Chain, Client, Hex, Transport } from "viem";
import { writeContract } from "viem/actions";
import { directPaymentAbi } from "../../abi/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/** A signed direct payment: the buyer's x402 'exact' authorization to the seller and its fee permit. */
export type DirectPaymentOrder = {
  readonly token: Address;
  readonly buyer: Address;
  readonly seller: Address;
  readonly amount: bigint;
  readonly validAfter: bigint;
  readonly validBefore: bigint;
  /** The authorization nonce: the payment id. */
  readonly nonce: Hex;
  /** The buyer's `TransferWithAuthorization` signature. */
  readonly signature: Hex;
  /** The buyer's EIP-2612 permit for the DirectPayment contract; its deadline is implied by `nonce`. */
  readonly feePermit: { readonly value: bigint; readonly signature: Hex };
};

/**
 * Execute a direct payment: collect the platform fee under the buyer's permit, then execute its
 * x402 payment to the seller, in one transaction. Idempotent by the payment nonce: a second call
 * reverts at the token (authorization used) and moves nothing.
 *
 * @example
 * const { events } = await pay(platformWallet, directPayment, order); // DirectPaymentExecuted: amount, fee
 * @throws {ActionError} `CONTRACT_REVERTED` (`FeeAboveSigned`, `FeePermitInvalid`, `TokenNotSupported`, or the token's reason), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function pay(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  directPayment: Address,
  order: DirectPaymentOrder,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "pay");
  return sendAndConfirm(
    wallet,
    directPaymentAbi,
    directPayment,
    "pay",
    () =>
      writeContract(wallet, {
        address: directPayment,
        abi: directPaymentAbi,
        functionName: "pay",
        args: [
          {
            token: order.token,
            buyer: order.buyer,
            seller: order.seller,
            amount: order.amount,
            validAfter: order.validAfter,
            validBefore: order.validBefore,
            nonce: order.nonce,
            signature: order.signature,
          },
          { value: order.feePermit.value, signature: order.feePermit.signature },
        ],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
