import type { Account, Address, Chain, Client, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";
import { toEntry, type UsageRecord } from "./usage-record.ts";

/**
 * Recorder: record the cumulative usage of one agreement (never lower, never above the deposit);
 * with `complete`, usage also ends.
 *
 * @example
 * await recordUsage(recorderWallet, escrow, { agreementId, cumulativeUsage: 10_000_000n, logRef });
 * @throws {ActionError} `CONTRACT_REVERTED` (`UsageDecreased`, `UsageAboveDeposit`, `WrongStatus`), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function recordUsage(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  escrow: Address,
  record: UsageRecord,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "recordUsage");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    escrow,
    "recordUsage",
    () =>
      writeContract(wallet, {
        address: escrow,
        abi: agentEscrowAbi,
        functionName: "recordUsage",
        args: [toEntry(record)],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
