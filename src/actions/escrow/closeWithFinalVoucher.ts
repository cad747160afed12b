import type { Account, Chain, Client, Hex, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import type { AgreementRef } from "../../eip712/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * Seller or recorder: close with the buyer's final usage voucher. In one transaction the
 * agreement ends and settles at that usage: the seller is paid usage less fee, the fee credited,
 * the buyer refunded. No challenge window. The recorder (unless it is the seller) can close only
 * at or above the recorded and the acknowledged usage.
 *
 * @example
 * const { events } = await closeWithFinalVoucher(sellerWallet, agreement, { usage, deadline, signature });
 * @throws {ActionError} `CONTRACT_REVERTED` (`NotParty`, `InvalidVoucherSignature`, `VoucherExpired`, `UsageBelowRecorded`, `UsageAboveDeposit`, `WrongStatus`), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function closeWithFinalVoucher(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
  voucher: { readonly usage: bigint; readonly deadline: number; readonly signature: Hex },
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "closeWithFinalVoucher");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    agreement.escrow,
    "closeWithFinalVoucher",
    () =>
      writeContract(wallet, {
        address: agreement.escrow,
        abi: agentEscrowAbi,
        functionName: "closeWithFinalVoucher",
        args: [agreement.packed, voucher.usage, voucher.deadline, voucher.signature],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
