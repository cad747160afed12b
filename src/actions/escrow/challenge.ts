import type { Account, Chain, Client, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import type { AgreementRef } from "../../eip712/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * Buyer: dispute the recorded usage above what it acknowledged, inside the challenge window.
 *
 * @example
 * await challenge(buyerWallet, agreement);
 * @throws {ActionError} `CONTRACT_REVERTED` (`ChallengeWindowClosed`, `NothingToDispute`, `NotParty`), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function challenge(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "challenge");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    agreement.escrow,
    "challenge",
    () =>
      writeContract(wallet, {
        address: agreement.escrow,
        abi: agentEscrowAbi,
        functionName: "challenge",
        args: [agreement.packed],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
