import type { Account, Address, Chain, Client, Transport } from "viem";
import { readContract } from "viem/actions";
import { directPaymentAbi } from "../../abi/index.ts";
import { guarded } from "../execute.ts";

/**
 * The fee the DirectPayment contract charges for paying `amount` of `token`.
 *
 * @example
 * const fee = await quoteFee(publicClient, directPayment, usdc, 5_000_000n); // 103_000n
 * @throws {ActionError} `CONTRACT_REVERTED` (`TokenNotSupported`), `RPC_FAILED`.
 */
export function quoteFee(
  client: Client<Transport, Chain | undefined, Account | undefined>,
  directPayment: Address,
  token: Address,
  amount: bigint,
): Promise<bigint> {
  return guarded("quoteFee", directPayment, () =>
    readContract(client, {
      address: directPayment,
      abi: directPaymentAbi,
      functionName: "quoteFee",
      args: [token, amount],
    }),
  );
}
