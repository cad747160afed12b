import type { Account, Chain, Client, Transport } from "viem";
import { readContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import type { AgreementRef } from "../../eip712/index.ts";
import { guarded } from "../execute.ts";

/**
 * What `settle` would pay now (or, if not yet settleable, under the current usage): whether it
 * is settleable, whether the fallback split applies, usage, seller's share, fee and refund.
 *
 * @example
 * const { settleableNow, toSeller, fee, refund } = await previewSettlement(publicClient, agreement);
 * @throws {ActionError} `RPC_FAILED`.
 */
export function previewSettlement(
  client: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
) {
  return guarded("previewSettlement", agreement.escrow, () =>
    readContract(client, {
      address: agreement.escrow,
      abi: agentEscrowAbi,
      functionName: "previewSettlement",
      args: [agreement.packed],
    }),
  );
}
