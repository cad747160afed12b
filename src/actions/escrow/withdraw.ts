import type { Account, Address, Chain, Client, Transport } from "viem";
import { writeContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * Withdraw the caller's deferred payouts or accrued fees in `token` to `to`. Refused while the
 * token blacklists the caller.
 *
 * @example
 * await withdraw(sellerWallet, escrow, usdc, payoutAddress);
 * @throws {ActionError} `CONTRACT_REVERTED` (`NothingToWithdraw`, `BalanceOwnerBlacklisted`), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function withdraw(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  escrow: Address,
  token: Address,
  to: Address,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "withdraw");
  return sendAndConfirm(
    wallet,
    agentEscrowAbi,
    escrow,
    "withdraw",
    () =>
      writeContract(wallet, {
        address: escrow,
        abi: agentEscrowAbi,
        functionName: "withdraw",
        args: [token, to],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
