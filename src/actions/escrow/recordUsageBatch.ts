import type { Account, Address, Chain, Client, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";
import { toEntry, type UsageRecord } from "./usage-record.ts";

/**
 * Recorder: record the usage of many agreements in one transaction. An entry that someone else
 * overtook (agreement completed meanwhile, or a buyer's voucher above it) is skipped with a
 * `UsageEntrySkipped` event, which `events` reports; the rest applies.
 *
 * @example
 * const { events } = await recordUsageBatch(recorderWallet, escrow, records);
 * const skipped = events.filter((e) => e.eventName === "UsageEntrySkipped");
 * @throws {ActionError} `CONTRACT_REVERTED` (`UsageAboveDeposit`, `WrongStatus` for an agreement that does not exist for the caller, `EmptyBatch`), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function recordUsageBatch(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  escrow: Address,
  records: readonly UsageRecord[],
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "recordUsageBatch");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    escrow,
    "recordUsageBatch",
    () =>
      writeContract(wallet, {
        address: escrow,
        abi: agentEscrowAbi,
        functionName: "recordUsageBatch",
        args: [records.map(toEntry)],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
