import type { Account, Chain, Client, Hex, Transport } from "viem";
import { readContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import type { AgreementRef } from "../../eip712/index.ts";
import { guarded } from "../execute.ts";

/**
 * The id the escrow itself computes for the agreement's terms (to check that the escrow at this
 * address is the contract the id was computed for).
 *
 * @example
 * if ((await readAgreementId(publicClient, agreement)) !== agreement.id) throw new Error("another escrow");
 * @throws {ActionError} `RPC_FAILED`, `CONTRACT_REVERTED`.
 */
export function readAgreementId(
  client: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
): Promise<Hex> {
  return guarded("agreementId", agreement.escrow, () =>
    readContract(client, {
      address: agreement.escrow,
      abi: agentEscrowAbi,
      functionName: "agreementId",
      args: [agreement.packed],
    }),
  );
}
