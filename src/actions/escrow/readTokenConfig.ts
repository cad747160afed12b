import type { Account, Address, Chain, Client, Transport } from "viem";
import { readContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import { guarded } from "../execute.ts";

/**
 * A token's configuration at the escrow: allowlisted, paused, the fee caps new terms must respect,
 * and everything the escrow owes in it (`held`).
 *
 * @example
 * const { allowed, paused, maxFeeBps } = await readTokenConfig(publicClient, escrow, usdc);
 * @throws {ActionError} `RPC_FAILED`.
 */
export function readTokenConfig(
  client: Client<Transport, Chain | undefined, Account | undefined>,
  escrow: Address,
  token: Address,
) {
  return guarded("tokenConfig", escrow, () =>
    readContract(client, { address: escrow, abi: agentEscrowAbi, functionName: "tokenConfig", args: [token] }),
  );
}
