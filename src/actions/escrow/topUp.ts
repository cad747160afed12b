import type { Account, Chain, Client, Hex, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import type { AgreementRef, FundingAuthorization } from "../../eip712/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * Add to an active agreement's deposit with the buyer's `ReceiveWithAuthorization` of `amount`,
 * whose nonce is `topUpNonce(agreement.id, topUpSalt)`.
 *
 * @example
 * await topUp(relayerWallet, agreement, 25_000_000n, salt, authorization);
 * @throws {ActionError} `CONTRACT_REVERTED` (e.g. `WrongStatus`, `DepositOverflow`), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function topUp(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
  amount: bigint,
  topUpSalt: Hex,
  authorization: FundingAuthorization,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "topUp");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    agreement.escrow,
    "topUp",
    () =>
      writeContract(wallet, {
        address: agreement.escrow,
        abi: agentEscrowAbi,
        functionName: "topUp",
        args: [
          agreement.packed,
          amount,
          topUpSalt,
          {
            validAfter: authorization.validAfter,
            validBefore: authorization.validBefore,
            signature: authorization.signature,
          },
        ],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
