import type { Account, Chain, Client, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import { type AgreementRef, encodeActivation, type FundingAuthorization } from "../../eip712/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * Activate an agreement with the buyer's `ReceiveWithAuthorization` (value = deposit, nonce = agreement
 * id). For terms without an upfront fee; anyone may submit it (a relayer pays the gas).
 *
 * @example
 * const { events } = await activate(relayerWallet, agreement, { validAfter: 0n, validBefore, signature });
 * @throws {ActionError} `CONTRACT_REVERTED` (e.g. `AgreementExists`, `TokenNotAllowed`, `PartyBlacklisted`, or the token's reason string), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function activate(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
  authorization: FundingAuthorization,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "activate");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    agreement.escrow,
    "activate",
    () =>
      writeContract(wallet, {
        address: agreement.escrow,
        abi: agentEscrowAbi,
        functionName: "activate",
        args: [encodeActivation(agreement.terms, authorization)],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
