import type { Account, Chain, Client, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import type { AgreementRef } from "../../eip712/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * Arbiter: fix the usage of a challenged agreement, between the acknowledged and the recorded
 * usage, before the resolution deadline.
 *
 * @example
 * await resolve(arbiterWallet, agreement, 45_000_000n);
 * @throws {ActionError} `CONTRACT_REVERTED` (`ResolutionOutOfBounds`, `ResolutionWindowClosed`, `NotArbiter`), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function resolve(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
  usage: bigint,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "resolve");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    agreement.escrow,
    "resolve",
    () =>
      writeContract(wallet, {
        address: agreement.escrow,
        abi: agentEscrowAbi,
        functionName: "resolve",
        args: [agreement.packed, usage],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
