import type { Account, Address, Chain, Client, Hex, Transport } from "viem";
import { readContract } from "viem/actions";
import { fiatTokenAbi } from "../../abi/index.ts";
import { guarded } from "../execute.ts";

type AnyChainClient = Client<Transport, Chain | undefined, Account | undefined>;

/**
 * The EIP-2612 nonce the owner's next permit must carry.
 *
 * @example
 * const nonce = await readPermitNonce(publicClient, usdc, buyer);
 * @throws {ActionError} `RPC_FAILED`.
 */
export function readPermitNonce(client: AnyChainClient, token: Address, owner: Address): Promise<bigint> {
  return guarded("nonces", token, () =>
    readContract(client, { address: token, abi: fiatTokenAbi, functionName: "nonces", args: [owner] }),
  );
}

/**
 * Whether an EIP-3009 authorization nonce of `authorizer` is used (or canceled).
 *
 * @example
 * const used = await readAuthorizationState(publicClient, usdc, buyer, agreement.id);
 * @throws {ActionError} `RPC_FAILED`.
 */
export function readAuthorizationState(
  client: AnyChainClient,
  token: Address,
  authorizer: Address,
  nonce: Hex,
): Promise<boolean> {
  return guarded("authorizationState", token, () =>
    readContract(client, {
      address: token,
      abi: fiatTokenAbi,
      functionName: "authorizationState",
      args: [authorizer, nonce],
    }),
  );
}

/**
 * A token balance.
 *
 * @example
 * const balance = await readBalance(publicClient, usdc, buyer);
 * @throws {ActionError} `RPC_FAILED`.
 */
export function readBalance(client: AnyChainClient, token: Address, owner: Address): Promise<bigint> {
  return guarded("balanceOf", token, () =>
    readContract(client, { address: token, abi: fiatTokenAbi, functionName: "balanceOf", args: [owner] }),
  );
}

/**
 * Whether the token's issuer has blacklisted `account`.
 *
 * @example
 * if (await readIsBlacklisted(publicClient, usdc, seller)) throw new Error("frozen");
 * @throws {ActionError} `RPC_FAILED`.
 */
export function readIsBlacklisted(client: AnyChainClient, token: Address, account: Address): Promise<boolean> {
  return guarded("isBlacklisted", token, () =>
    readContract(client, { address: token, abi: fiatTokenAbi, functionName: "isBlacklisted", args: [account] }),
  );
}
