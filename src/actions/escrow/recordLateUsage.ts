import type { Account, Chain, Client, Hex, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import type { AgreementRef } from "../../eip712/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * Recorder: the one late record after a completion by someone else, strictly above the recorded
 * usage, while Completed (restarts the challenge window) or Challenged (restarts the resolution
 * window and raises the arbiter's upper bound).
 *
 * @example
 * await recordLateUsage(recorderWallet, agreement, 62_000_000n, keccak256(usageLog));
 * @throws {ActionError} `CONTRACT_REVERTED` (e.g. `UsageNotRaised`, `ChallengeWindowClosed`, `WrongStatus`), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function recordLateUsage(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
  cumulativeUsage: bigint,
  logRef: Hex,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "recordLateUsage");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    agreement.escrow,
    "recordLateUsage",
    () =>
      writeContract(wallet, {
        address: agreement.escrow,
        abi: agentEscrowAbi,
        functionName: "recordLateUsage",
        args: [agreement.packed, cumulativeUsage, logRef],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
