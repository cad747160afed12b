import {
  type Account,
  type Address,
  type Chain,
  type Client,
  encodeFunctionData,
  type Hex,
  type LocalAccount,
  type Transport,
} from "viem";
import { estimateContractGas } from "viem/actions";
import { agentEscrowAbi, directPaymentAbi, fiatTokenAbi } from "../abi/index.ts";
import {
  type AgreementRef,
  agreementRef,
  decodeTerms,
  encodeActivation,
  type FundingAuthorization,
} from "../eip712/index.ts";
import type { ExactPayload } from "../wire/index.ts";
import { RelayerError } from "./errors.ts";

type AnyClient = Client<Transport, Chain | undefined, Account | undefined>;

/** The kinds of job the relayer sends. */
export type JobKind =
  | "activation"
  | "x402_settlement"
  | "direct_payment"
  | "usage_batch"
  | "settlement"
  | "completion"
  | "close"
  | "withdrawal";

/** A deferred payout withdrawn by its owner, one of the relayer's signers (`withdraw(token, to)`). */
export type WithdrawalPayload = { readonly escrow: Address; readonly token: Address; readonly to: Address };

/** An agreement's settlement (`settle`) or completion past its service expiry (`complete`): anyone may send it. */
export type AgreementCallPayload = { readonly escrow: Address; readonly packedTerms: Hex };

/** A cooperative close under the buyer's final voucher (`closeWithFinalVoucher`), sent by the recorder. */
export type ClosePayload = AgreementCallPayload & {
  readonly usage: string;
  readonly deadline: string;
  readonly signature: Hex;
};

/** What an activation job stores: the parsed body, ready to encode. */
export type ActivationPayload = {
  readonly packedTerms: Hex;
  readonly escrow: Address;
  readonly authorization: { validAfter: string; validBefore: string; signature: Hex };
  readonly feePermit?: { value: string; deadline: string; signature: Hex };
};

/** An EIP-3009 `transferWithAuthorization` as it is stored (amounts as decimal strings). */
export type TransferPayload = {
  readonly token: Address;
  readonly from: Address;
  readonly to: Address;
  readonly value: string;
  readonly validAfter: string;
  readonly validBefore: string;
  readonly nonce: Hex;
  readonly signature: Hex;
};

/** The stored form of an x402 'exact' payment (its EIP-3009 authorization and signature) at `token`. */
export function transferPayload(token: Address, payment: ExactPayload): TransferPayload {
  const a = payment.authorization;
  return {
    token,
    from: a.from,
    to: a.to,
    value: a.value,
    validAfter: a.validAfter,
    validBefore: a.validBefore,
    nonce: a.nonce,
    signature: payment.signature,
  };
}

/** The authorization a transfer payload spends, and when it ends. */
const spends = (p: TransferPayload) => ({
  token: p.token,
  from: p.from,
  nonce: p.nonce,
  validBefore: BigInt(p.validBefore),
});

/** An x402 'exact' settlement job: the payer's authorization, executed at the token. */
export type X402SettlementPayload = TransferPayload;

/** A direct payment job: `DirectPayment.pay` with the buyer's authorization to the seller and fee permit. */
export type DirectPaymentPayload = TransferPayload & {
  readonly directPayment: Address;
  readonly feePermit: { readonly value: string; readonly signature: Hex };
};

/** A recorder's batch of usage entries (`recordUsageBatch`), each with its queue row. */
export type UsageBatchPayload = {
  readonly escrow: Address;
  readonly entries: readonly {
    readonly usageId: string;
    readonly agreementId: Hex;
    readonly cumulativeUsage: string;
    readonly logRef: Hex;
    readonly complete: boolean;
  }[];
};

/** A job's kind and payload, as stored. */
export type JobPayload =
  | { readonly kind: "activation"; readonly payload: ActivationPayload }
  | { readonly kind: "x402_settlement"; readonly payload: X402SettlementPayload }
  | { readonly kind: "direct_payment"; readonly payload: DirectPaymentPayload }
  | { readonly kind: "usage_batch"; readonly payload: UsageBatchPayload }
  | { readonly kind: "settlement" | "completion"; readonly payload: AgreementCallPayload }
  | { readonly kind: "close"; readonly payload: ClosePayload }
  | { readonly kind: "withdrawal"; readonly payload: WithdrawalPayload };

/** The transaction a job sends, and what the pipeline needs to know about it. */
export type PreparedCall = {
  readonly to: Address;
  readonly data: Hex;
  /** The function called: the key of a gas limit proven for this kind of call. */
  readonly functionName: string;
  /**
   * The EIP-3009 authorization the call spends, whose nonce tells whether it was executed; and
   * its end, after which the call can only revert.
   */
  readonly authorization?: {
    readonly token: Address;
    readonly from: Address;
    readonly nonce: Hex;
    readonly validBefore: bigint;
  };
  /** For an activation: the agreement, to see whether someone else activated it. */
  readonly agreement?: AgreementRef;
  /** `eth_estimateGas` of the call from `account`; a refusal throws the decoded revert. */
  estimate(client: AnyClient, account: LocalAccount): Promise<bigint>;
};

/** The payload a stored row holds (drivers give jsonb back parsed, some as text). */
export function storedPayload(kind: string, payload: unknown): JobPayload {
  const value: unknown = typeof payload === "string" ? JSON.parse(payload) : payload;
  // The store holds only what submit* wrote for this kind.
  switch (kind) {
    case "activation":
      return { kind, payload: value as ActivationPayload };
    case "x402_settlement":
      return { kind, payload: value as X402SettlementPayload };
    case "direct_payment":
      return { kind, payload: value as DirectPaymentPayload };
    case "usage_batch":
      return { kind, payload: value as UsageBatchPayload };
    case "settlement":
    case "completion":
      return { kind, payload: value as AgreementCallPayload };
    case "close":
      return { kind, payload: value as ClosePayload };
    case "withdrawal":
      return { kind, payload: value as WithdrawalPayload };
    default:
      throw new RelayerError("JOB_KIND_UNKNOWN", `a stored job has the unknown kind ${kind}`, { kind });
  }
}

/** The call a job sends on `chainId`. */
export function prepareCall(job: JobPayload, chainId: number): PreparedCall {
  switch (job.kind) {
    case "activation":
      return activationCall(job.payload, chainId);
    case "x402_settlement":
      return transferCall(job.payload);
    case "direct_payment":
      return directPaymentCall(job.payload);
    case "usage_batch":
      return usageBatchCall(job.payload);
    case "settlement":
      return agreementCall(job.payload, "settle");
    case "completion":
      return agreementCall(job.payload, "complete");
    case "close":
      return closeCall(job.payload);
    case "withdrawal":
      return withdrawalCall(job.payload);
  }
}

function activationCall(payload: ActivationPayload, chainId: number): PreparedCall {
  const agreement = agreementRef(decodeTerms(payload.packedTerms), { chainId, escrow: payload.escrow });
  const authorization: FundingAuthorization = {
    validAfter: BigInt(payload.authorization.validAfter),
    validBefore: BigInt(payload.authorization.validBefore),
    signature: payload.authorization.signature,
  };
  const activation = encodeActivation(agreement.terms, authorization);
  const spends = {
    token: agreement.terms.token,
    from: agreement.terms.buyer,
    nonce: agreement.id,
    validBefore: authorization.validBefore,
  };
  const escrow = agreement.escrow;
  if (payload.feePermit) {
    const permit = {
      value: BigInt(payload.feePermit.value),
      deadline: BigInt(payload.feePermit.deadline),
      signature: payload.feePermit.signature,
    };
    return {
      to: escrow,
      data: encodeFunctionData({
        abi: agentEscrowAbi,
        functionName: "activateWithFeePermit",
        args: [activation, permit],
      }),
      functionName: "activateWithFeePermit",
      authorization: spends,
      agreement,
      estimate: (client, account) =>
        estimateContractGas(client, {
          address: escrow,
          abi: agentEscrowAbi,
          functionName: "activateWithFeePermit",
          args: [activation, permit],
          account,
        }),
    };
  }
  return {
    to: escrow,
    data: encodeFunctionData({ abi: agentEscrowAbi, functionName: "activate", args: [activation] }),
    functionName: "activate",
    authorization: spends,
    agreement,
    estimate: (client, account) =>
      estimateContractGas(client, {
        address: escrow,
        abi: agentEscrowAbi,
        functionName: "activate",
        args: [activation],
        account,
      }),
  };
}

function transferCall(p: TransferPayload): PreparedCall {
  const args = [
    p.from,
    p.to,
    BigInt(p.value),
    BigInt(p.validAfter),
    BigInt(p.validBefore),
    p.nonce,
    p.signature,
  ] as const;
  return {
    to: p.token,
    data: encodeFunctionData({ abi: fiatTokenAbi, functionName: "transferWithAuthorization", args }),
    functionName: "transferWithAuthorization",
    authorization: spends(p),
    estimate: (client, account) =>
      estimateContractGas(client, {
        address: p.token,
        abi: fiatTokenAbi,
        functionName: "transferWithAuthorization",
        args,
        account,
      }),
  };
}

function directPaymentCall(p: DirectPaymentPayload): PreparedCall {
  const args = [
    {
      token: p.token,
      buyer: p.from,
      seller: p.to,
      amount: BigInt(p.value),
      validAfter: BigInt(p.validAfter),
      validBefore: BigInt(p.validBefore),
      nonce: p.nonce,
      signature: p.signature,
    },
    { value: BigInt(p.feePermit.value), signature: p.feePermit.signature },
  ] as const;
  return {
    to: p.directPayment,
    data: encodeFunctionData({ abi: directPaymentAbi, functionName: "pay", args }),
    functionName: "pay",
    authorization: spends(p),
    estimate: (client, account) =>
      estimateContractGas(client, {
        address: p.directPayment,
        abi: directPaymentAbi,
        functionName: "pay",
        args,
        account,
      }),
  };
}

function usageBatchCall(p: UsageBatchPayload): PreparedCall {
  const entries = p.entries.map((e) => ({
    id: e.agreementId,
    cumulativeUsage: BigInt(e.cumulativeUsage),
    complete: e.complete,
    logRef: e.logRef,
  }));
  return {
    to: p.escrow,
    data: encodeFunctionData({ abi: agentEscrowAbi, functionName: "recordUsageBatch", args: [entries] }),
    functionName: "recordUsageBatch",
    estimate: (client, account) =>
      estimateContractGas(client, {
        address: p.escrow,
        abi: agentEscrowAbi,
        functionName: "recordUsageBatch",
        args: [entries],
        account,
      }),
  };
}

function agreementCall(p: AgreementCallPayload, functionName: "settle" | "complete"): PreparedCall {
  return {
    to: p.escrow,
    data: encodeFunctionData({ abi: agentEscrowAbi, functionName, args: [p.packedTerms] }),
    functionName,
    estimate: (client, account) =>
      functionName === "settle"
        ? estimateContractGas(client, {
            address: p.escrow,
            abi: agentEscrowAbi,
            functionName: "settle",
            args: [p.packedTerms],
            account,
          })
        : estimateContractGas(client, {
            address: p.escrow,
            abi: agentEscrowAbi,
            functionName: "complete",
            args: [p.packedTerms],
            account,
          }),
  };
}

function closeCall(p: ClosePayload): PreparedCall {
  const args = [p.packedTerms, BigInt(p.usage), Number(p.deadline), p.signature] as const;
  return {
    to: p.escrow,
    data: encodeFunctionData({ abi: agentEscrowAbi, functionName: "closeWithFinalVoucher", args }),
    functionName: "closeWithFinalVoucher",
    estimate: (client, account) =>
      estimateContractGas(client, {
        address: p.escrow,
        abi: agentEscrowAbi,
        functionName: "closeWithFinalVoucher",
        args,
        account,
      }),
  };
}

function withdrawalCall(p: WithdrawalPayload): PreparedCall {
  const args = [p.token, p.to] as const;
  return {
    to: p.escrow,
    data: encodeFunctionData({ abi: agentEscrowAbi, functionName: "withdraw", args }),
    functionName: "withdraw",
    estimate: (client, account) =>
      estimateContractGas(client, { address: p.escrow, abi: agentEscrowAbi, functionName: "withdraw", args, account }),
  };
}
