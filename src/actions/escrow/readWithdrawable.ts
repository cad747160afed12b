import type { Account, Address, Chain, Client, Transport } from "viem";
import { readContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import { guarded } from "../execute.ts";

/**
 * The balance `owner` can withdraw from the escrow in `token` (deferred payouts, accrued fees).
 *
 * @example
 * const amount = await readWithdrawable(publicClient, escrow, usdc, seller);
 * @throws {ActionError} `RPC_FAILED`.
 */
export function readWithdrawable(
  client: Client<Transport, Chain | undefined, Account | undefined>,
  escrow: Address,
  token: Address,
  owner: Address,
): Promise<bigint> {
  return guarded("withdrawable", escrow, () =>
    readContract(client, { address: escrow, abi: agentEscrowAbi, functionName: "withdrawable", args: [token, owner] }),
  );
}
