import type { Account, Chain, Client, Hex, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import { type AgreementRef, encodeActivation, type FundingAuthorization } from "../../eip712/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * Activate an agreement whose terms carry an upfront fee: the deposit by the buyer's
 * `ReceiveWithAuthorization`, the fee by its EIP-2612 permit for the escrow (an allowance already
 * there is used if the permit was submitted first).
 *
 * @example
 * await activateWithFeePermit(relayerWallet, agreement, authorization, { value, deadline, signature });
 * @throws {ActionError} `CONTRACT_REVERTED` (e.g. `UpfrontFeePermitTooLow`), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function activateWithFeePermit(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
  authorization: FundingAuthorization,
  feePermit: { readonly value: bigint; readonly deadline: bigint; readonly signature: Hex },
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "activateWithFeePermit");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    agreement.escrow,
    "activateWithFeePermit",
    () =>
      writeContract(wallet, {
        address: agreement.escrow,
        abi: agentEscrowAbi,
        functionName: "activateWithFeePermit",
        args: [
          encodeActivation(agreement.terms, authorization),
          { value: feePermit.value, deadline: feePermit.deadline, signature: feePermit.signature },
        ],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
