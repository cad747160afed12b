import type { Account, Chain, Client, Transport } from "viem";
import { readContract } from "viem/actions";
import { agentEscrowAbi } from "../../abi/index.ts";
import type { AgreementRef } from "../../eip712/index.ts";
import { guarded } from "../execute.ts";

/** Agreement states, as the escrow numbers them. */
export const AGREEMENT_STATUS = ["none", "active", "completed", "challenged", "resolved", "settled"] as const;
/** An agreement's state. */
export type AgreementStatus = (typeof AGREEMENT_STATUS)[number];

/** An agreement as the escrow reports it; times in unix seconds (0: not yet). */
export type EscrowStatus = {
  readonly status: AgreementStatus;
  readonly recorder: `0x${string}`;
  readonly lateRecordAvailable: boolean;
  readonly deposit: bigint;
  readonly recordedUsage: bigint;
  readonly acknowledgedUsage: bigint;
  readonly completedAt: bigint;
  readonly challengedAt: bigint;
  readonly challengeDeadline: bigint;
  readonly resolutionDeadline: bigint;
  readonly settleableAt: bigint;
};

/**
 * Read an agreement's state, amounts and deadlines.
 *
 * @example
 * const { status, recordedUsage, settleableAt } = await readAgreement(publicClient, agreement);
 * @throws {ActionError} `RPC_FAILED`, `CONTRACT_REVERTED` (packed terms of the wrong length).
 */
export async function readAgreement(
  client: Client<Transport, Chain | undefined, Account | undefined>,
  agreement: AgreementRef,
): Promise<EscrowStatus> {
  const v = await guarded("getAgreement", agreement.escrow, () =>
    readContract(client, {
      address: agreement.escrow,
      abi: agentEscrowAbi,
      functionName: "getAgreement",
      args: [agreement.packed],
    }),
  );
  return { ...v, status: AGREEMENT_STATUS[v.status] ?? "none" };
}
