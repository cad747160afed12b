import type { Account, Chain, Client, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import type { AgreementRef } from "../../eip712/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * Settle (anyone, once): after the challenge window, after a resolution, or after the resolution
 * deadline (fallback split). Pays the seller usage less fee, credits the fee, refunds the buyer.
 *
 * @example
 * const { events } = await settle(wallet, agreement); // AgreementSettled: usage, toSeller, fee, refund
 * @throws {ActionError} `CONTRACT_REVERTED` (`NotSettleable`, with the time it becomes settleable), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function settle(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "settle");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    agreement.escrow,
    "settle",
    () =>
      writeContract(wallet, {
        address: agreement.escrow,
        abi: agentEscrowAbi,
        functionName: "settle",
        args: [agreement.packed],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
