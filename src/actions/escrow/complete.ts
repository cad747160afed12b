import type { Account, Chain, Client, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import type { AgreementRef } from "../../eip712/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * End usage: the buyer, the seller or the recorder at any time, anyone after the service expiry.
 * The challenge window starts.
 *
 * @example
 * await complete(sellerWallet, agreement);
 * @throws {ActionError} `CONTRACT_REVERTED` (`NotParty`, `WrongStatus`), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function complete(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "complete");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    agreement.escrow,
    "complete",
    () =>
      writeContract(wallet, {
        address: agreement.escrow,
        abi: agentEscrowAbi,
        functionName: "complete",
        args: [agreement.packed],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
