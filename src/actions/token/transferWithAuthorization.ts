import type { Account, Address, Chain, Client, Hex, Transport } from "viem";
import { writeContract } from "viem/actions";
import { fiatTokenAbi } from "../../abi/index.ts";
import type { Authorization } from "../../eip712/index.ts";
import { accountOf, sendAndConfirm, type WriteOptions } from "../execute.ts";

/**
 * Execute a signed EIP-3009 `TransferWithAuthorization` (an x402 'exact' payment) on the token,
 * exactly as the payer signed it; `wallet` sends it and pays the gas.
 *
 * @example
 * const { events } = await transferWithAuthorization(relayerWallet, usdc, payment.authorization, payment.signature);
 * @throws {ActionError} `CONTRACT_REVERTED` (the token's reason: used nonce, expired, invalid signature), `RPC_FAILED`, `NO_ACCOUNT`.
 */
export function transferWithAuthorization(
  wallet: Client<Transport, Chain | undefined, Account | undefined>,
  token: Address,
  authorization: Authorization,
  signature: Hex,
  options?: WriteOptions,
) {
  const account = accountOf(wallet, "transferWithAuthorization");
  const a = authorization;
  return sendAndConfirm(
    wallet,
    fiatTokenAbi,
    token,
    "transferWithAuthorization",
    () =>
      writeContract(wallet, {
        address: token,
        abi: fiatTokenAbi,
        functionName: "transferWithAuthorization",
        args: [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature],
        account,
        chain: wallet.chain,
      }),
    options,
  );
}
