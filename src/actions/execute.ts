import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  type Client,
  ContractFunctionRevertedError,
  type Hex,
  isAddressEqual,
  type ParseEventLogsReturnType,
  parseEventLogs,
  type TransactionReceipt,
  type Transport,
} from "viem";
import { waitForTransactionReceipt } from "viem/actions";
import { ActionError } from "./errors.ts";

/** Any viem client: public, wallet or test, on any chain (Base and the OP-stack chains included). */
export type AnyClient = Client<Transport, Chain | undefined, Account | undefined>;

/** A client that sends transactions: a wallet client with an account. */
export type SendingClient<chain extends Chain | undefined = Chain | undefined> = Client<Transport, chain, Account>;

/** What a mined, successful write returns: its hash, receipt, and the contract's decoded events. */
export type WriteResult<abi extends Abi> = {
  readonly hash: Hex;
  readonly receipt: TransactionReceipt;
  /** The events the called contract emitted, decoded (other contracts' logs are in `receipt`). */
  readonly events: ParseEventLogsReturnType<abi, undefined, true>;
};

/** Options of every write action. */
export type WriteOptions = {
  /** Confirmations to wait for (default 1). */
  readonly confirmations?: number;
  /** Give up waiting for the receipt after this many milliseconds (default: viem's). */
  readonly timeoutMs?: number;
};

/** The sending account, or a typed refusal. */
export function accountOf(client: Client<Transport, Chain | undefined, Account | undefined>, functionName: string) {
  const account = client.account;
  if (!account) {
    throw new ActionError("NO_ACCOUNT", `${functionName}: the wallet client has no account`, { functionName });
  }
  return account;
}

/**
 * Translate a failure of a contract call: a decoded revert becomes `CONTRACT_REVERTED` with the
 * custom error's name and arguments (permanent for these arguments), anything else `RPC_FAILED`
 * (transient). Errors of this package pass through.
 */
export function toActionError(error: unknown, functionName: string, address: Address): Error {
  if (error instanceof ActionError) return error;
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      const errorName = reverted.data?.errorName ?? (reverted.reason !== undefined ? "Error" : undefined);
      const args = reverted.data?.args ?? (reverted.reason !== undefined ? [reverted.reason] : undefined);
      return new ActionError(
        "CONTRACT_REVERTED",
        `${functionName} reverted: ${errorName ?? reverted.shortMessage}`,
        {
          functionName,
          address,
          ...(errorName !== undefined ? { errorName } : {}),
          ...(args !== undefined ? { args } : {}),
        },
        { cause: error },
      );
    }
  }
  return new ActionError(
    "RPC_FAILED",
    `${functionName}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
    { functionName, address },
    { cause: error },
  );
}

/** Run `read` and translate its failure. */
export async function guarded<T>(functionName: string, address: Address, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw toActionError(error, functionName, address);
  }
}

/**
 * Send with `send` (which simulates first: a refusal surfaces as `CONTRACT_REVERTED` before
 * anything is broadcast), wait for the receipt, refuse a reverted one, and decode the events
 * `address` emitted with `abi`.
 */
export async function sendAndConfirm<const abi extends Abi>(
  client: AnyClient,
  abi: abi,
  address: Address,
  functionName: string,
  send: () => Promise<Hex>,
  options: WriteOptions = {},
): Promise<WriteResult<abi>> {
  const hash = await guarded(functionName, address, send);
  const receipt = await guarded(functionName, address, () =>
    waitForTransactionReceipt(client, {
      hash,
      ...(options.confirmations !== undefined ? { confirmations: options.confirmations } : {}),
      ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    }),
  );
  if (receipt.status !== "success") {
    throw new ActionError("CONTRACT_REVERTED", `${functionName} reverted in transaction ${hash}`, {
      functionName,
      address,
      hash,
    });
  }
  const events = parseEventLogs({ abi, logs: receipt.logs.filter((log) => isAddressEqual(log.address, address)) });
  return { hash, receipt, events };
}
