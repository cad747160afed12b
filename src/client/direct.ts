import { type Address, getAddress, type Hex, isAddress, type PublicClient } from "viem";
import { fiatTokenAbi } from "../abi/index.ts";
import { getChain } from "../chains/index.ts";
import { directPaymentFeePermitDeadline, signPermit, type TypedDataSigner } from "../eip712/index.ts";
import { DEFAULT_DIRECT_FEE_SCHEDULE, directPaymentFee } from "../fees.ts";
import { encodeJsonHeader } from "../x402/base64.ts";
import { parseRequirements } from "../x402/decode.ts";
import { signExactPayment, toSeedEnvelope } from "../x402/pay.ts";
import { domainFromRequirements, type SelectedPayment } from "../x402/select.ts";
import type { ExactPayload, PaymentRequirements } from "../x402/types.ts";
import { ClientError } from "./errors.ts";

/**
 * Payment requirements of a direct stablecoin purchase (`GET /payment-requirements?...&rail=stablecoin`):
 * the x402 'exact' acceptance to pay the seller, and the platform fee with its schedule and the
 * address allowed to collect it (the DirectPayment contract).
 */
export type DirectPaymentRequirements = {
  accept: PaymentRequirements;
  fee: { amount: string; bps: number; fixedFee: string; minFee: string; spender: Address };
};

/** The body of `POST /usage-agreements` for a direct payment, plus the typed pieces. */
export type DirectStablecoinAgreement = {
  body: {
    settlement_model: "direct_payment";
    network: string;
    asset: Address;
    amount: string;
    pay_to: Address;
    /** The signed x402 envelope, base64, as sent in `X-PAYMENT`. */
    payment_header: string;
    fee_permit: { owner: Address; spender: Address; value: string; nonce: string; deadline: string; signature: Hex };
  };
  payment: ExactPayload;
  fee: bigint;
};

/** The contract's hard caps on a fee schedule (DirectPayment.MAX_BPS, MAX_FIXED_FEE, MAX_MIN_FEE). */
const SCHEDULE_CAPS = { bps: 500, fixedFee: 1_000_000n, minFee: 1_000_000n } as const;

function parseSchedule(fee: DirectPaymentRequirements["fee"]) {
  const decimal = (v: unknown, field: string): bigint => {
    if (typeof v !== "string" || !/^(0|[1-9][0-9]*)$/.test(v)) {
      throw new ClientError("PACKAGE_INVALID", `fee.${field} is not a decimal amount`, { field, value: v });
    }
    return BigInt(v);
  };
  if (!Number.isSafeInteger(fee.bps) || fee.bps < 0 || fee.bps > SCHEDULE_CAPS.bps) {
    throw new ClientError("PACKAGE_INVALID", `fee.bps ${fee.bps} is not an integer within 0..${SCHEDULE_CAPS.bps}`, {
      bps: fee.bps,
    });
  }
  const schedule = { bps: fee.bps, fixedFee: decimal(fee.fixedFee, "fixedFee"), minFee: decimal(fee.minFee, "minFee") };
  if (schedule.fixedFee > SCHEDULE_CAPS.fixedFee || schedule.minFee > SCHEDULE_CAPS.minFee) {
    throw new ClientError("PACKAGE_INVALID", "the fee schedule exceeds the contract's hard caps", { schedule });
  }
  decimal(fee.amount, "amount");
  return schedule;
}

/**
 * Sign, in one call, the x402 payment authorization to the seller and the EIP-2612 permit for the
 * platform fee, and return the body that creates a `direct_payment` agreement. The fee is
 * recomputed with the contract's own formula and the requirements are refused if they state
 * another fee, if the amount exceeds `maxAmount`, or if network, asset or domain disagree with the
 * registry; nothing is signed then.
 */
export async function buildDirectStablecoinAgreement(
  signer: TypedDataSigner,
  requirements: DirectPaymentRequirements,
  options: {
    /** Largest payment (atomic units). */
    maxAmount: bigint;
    /** The DirectPayment contract on this chain (e.g. `getDeployment(chainId).directPayment`): the only allowed fee spender. */
    directPayment: Address;
    /** Largest fee (atomic units); default: the platform's published schedule applied to the amount. */
    maxFee?: bigint;
    /** Longest validity of the payment authorization in seconds (default 600). */
    maxTimeoutSeconds?: number;
    permitNonce?: bigint;
    publicClient?: PublicClient;
    nowSeconds?: number;
    nonce?: Hex;
  },
): Promise<DirectStablecoinAgreement> {
  let accept: PaymentRequirements;
  try {
    accept = parseRequirements(requirements.accept, "accept");
  } catch (cause) {
    throw new ClientError(
      "PACKAGE_INVALID",
      `payment requirements are invalid: ${(cause as Error).message}`,
      {},
      { cause },
    );
  }
  const maxTimeout = options.maxTimeoutSeconds ?? 600;
  if (accept.maxTimeoutSeconds > maxTimeout) {
    throw new ClientError("PACKAGE_INVALID", `maxTimeoutSeconds ${accept.maxTimeoutSeconds} is above ${maxTimeout}`, {
      maxTimeoutSeconds: accept.maxTimeoutSeconds,
    });
  }
  if (accept.scheme !== "exact")
    throw new ClientError("PACKAGE_INVALID", `scheme ${accept.scheme} is not supported`, {});
  const { token, domain } = domainFromRequirements(accept);
  if (!isAddress(accept.payTo, { strict: false }) || !isAddress(requirements.fee.spender, { strict: false })) {
    throw new ClientError("PACKAGE_INVALID", "payTo and fee.spender must be addresses", {
      payTo: accept.payTo,
      spender: requirements.fee.spender,
    });
  }
  if (getAddress(requirements.fee.spender) !== getAddress(options.directPayment)) {
    throw new ClientError(
      "PACKAGE_MISMATCH",
      `fee spender ${requirements.fee.spender} is not the DirectPayment contract ${options.directPayment}`,
      {
        spender: requirements.fee.spender,
        expected: options.directPayment,
      },
    );
  }
  const amount = BigInt(accept.amount);
  if (amount === 0n || amount > options.maxAmount) {
    throw new ClientError("AMOUNT_ABOVE_CAP", `amount ${amount} is zero or above the cap ${options.maxAmount}`, {
      amount,
      cap: options.maxAmount,
    });
  }
  const schedule = parseSchedule(requirements.fee);
  const fee = directPaymentFee(amount, schedule);
  const maxFee = options.maxFee ?? directPaymentFee(amount, DEFAULT_DIRECT_FEE_SCHEDULE);
  if (fee > maxFee) {
    throw new ClientError("AMOUNT_ABOVE_CAP", `fee ${fee} is above the cap ${maxFee}`, { fee, cap: maxFee });
  }
  if (fee !== BigInt(requirements.fee.amount)) {
    throw new ClientError(
      "FEE_MISMATCH",
      `the requirements state a fee of ${requirements.fee.amount}, the schedule gives ${fee}`,
      {
        stated: requirements.fee.amount,
        computed: fee,
      },
    );
  }
  const owner = getAddress(signer.address);
  const spender = getAddress(requirements.fee.spender);
  const nonce =
    options.permitNonce ??
    (options.publicClient
      ? await options.publicClient.readContract({
          address: token.address,
          abi: fiatTokenAbi,
          functionName: "nonces",
          args: [owner],
        })
      : undefined);
  if (nonce === undefined)
    throw new ClientError("PACKAGE_INVALID", "pass permitNonce or publicClient to sign the fee permit", {});

  const selected: SelectedPayment = {
    requirements: accept,
    chain: getChain(domain.chainId),
    token,
    amount,
    payTo: getAddress(accept.payTo),
    domain,
  };
  const payment = await signExactPayment(signer, selected, {
    ...(options.nowSeconds !== undefined ? { nowSeconds: options.nowSeconds } : {}),
    ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
  });
  // The contract takes the permit only with this deadline: it binds the fee to this payment.
  const deadline = directPaymentFeePermitDeadline(payment.authorization.nonce);
  const signature = await signPermit(signer, domain, { owner, spender, value: fee, nonce, deadline });
  return {
    body: {
      settlement_model: "direct_payment",
      network: accept.network,
      asset: token.address,
      amount: amount.toString(),
      pay_to: getAddress(accept.payTo),
      payment_header: encodeJsonHeader(toSeedEnvelope(payment, selected)),
      fee_permit: {
        owner,
        spender,
        value: fee.toString(),
        nonce: nonce.toString(),
        deadline: deadline.toString(),
        signature,
      },
    },
    payment,
    fee,
  };
}

/** The arguments of `DirectPayment.pay` for a built agreement (what the platform's relayer submits). */
export function directPaymentCall(agreement: DirectStablecoinAgreement) {
  const a = agreement.payment.authorization;
  return [
    {
      token: agreement.body.asset,
      buyer: a.from,
      seller: a.to,
      amount: BigInt(a.value),
      validAfter: BigInt(a.validAfter),
      validBefore: BigInt(a.validBefore),
      nonce: a.nonce,
      signature: agreement.payment.signature,
    },
    { value: BigInt(agreement.body.fee_permit.value), signature: agreement.body.fee_permit.signature },
  ] as const;
}
