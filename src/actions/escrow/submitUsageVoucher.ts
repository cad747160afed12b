import type { Account, Chain, Client, Hex, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import type { AgreementRef } from "../../eip712/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * Anyone: submit the buyer's usage voucher; it raises the acknowledged usage (and the recorded
 * usage, if higher).
 *
 * @example
 * await submitUsageVoucher(wallet, agreement, 25_000_000n, voucherSignature);
 * @throws {ActionError} `CONTRACT_REVERTED` (e.g. `VoucherNotHigher`, `InvalidVoucherSignature`), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function submitUsageVoucher(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
  cumulativeUsage: bigint,
  signature: Hex,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "submitUsageVoucher");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    agreement.escrow,
    "submitUsageVoucher",
    () =>
      writeContract(wallet, {
        address: agreement.escrow,
        abi: agentEscrowAbi,
        functionName: "submitUsageVoucher",
        args: [agreement.packed, cumulativeUsage, signature],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
