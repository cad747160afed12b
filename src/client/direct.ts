import { type Account, type Address, type Chain, type Client, getAddress, type Hex, type Transport } from "viem";
import type { DirectPaymentOrder } from "../actions/direct/pay.ts";
import { readPermitNonce } from "../actions/token/reads.ts";
import { ChainRegistryError } from "../chains/index.ts";
import { directPaymentFeePermitDeadline, signPermit, type TypedDataSigner } from "../eip712/index.ts";
import { DEFAULT_DIRECT_FEE_SCHEDULE, type DirectFeeSchedule, directPaymentFee } from "../fees.ts";
import {
  type DirectPaymentBodyJson,
  type ExactPayload,
  encodeJsonHeader,
  type PaymentRequirements,
  parseAddress,
  parseDecimal,
  parseInteger,
  parseRequirements,
  serializeDirectPaymentBody,
  WireError,
  X402Error,
} from "../wire/index.ts";
import { acceptRequirements, signExactPayment, toSeedEnvelope } from "../x402/index.ts";
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

/** The body of `POST /usage-agreements` for a direct payment, and what `DirectPayment.pay` takes. */
export type DirectStablecoinAgreement = {
  readonly body: DirectPaymentBodyJson;
  /** The arguments of the `pay` action. */
  readonly order: DirectPaymentOrder;
  readonly payment: ExactPayload;
  readonly fee: bigint;
};

/** The contract's hard caps on a fee schedule (DirectPayment.MAX_BPS, MAX_FIXED_FEE, MAX_MIN_FEE). */
const SCHEDULE_CAPS = { bps: 500, fixedFee: 1_000_000n, minFee: 1_000_000n } as const;

/** Run a parser and report its failure as this client's `PACKAGE_INVALID`. */
function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (cause) {
    if (cause instanceof WireError || cause instanceof X402Error) {
      const d = cause.details;
      const field = "field" in d ? d.field : "path" in d ? d.path : "requirements";
      throw new ClientError(
        "PACKAGE_INVALID",
        `payment requirements: ${cause.message}`,
        { field, value: undefined },
        { cause },
      );
    }
    throw cause;
  }
}

function parseSchedule(fee: DirectPaymentRequirements["fee"]): DirectFeeSchedule {
  return parsed(() => ({
    bps: parseInteger(fee.bps, "fee.bps", SCHEDULE_CAPS.bps),
    fixedFee: parseDecimal(fee.fixedFee, "fee.fixedFee", SCHEDULE_CAPS.fixedFee),
    minFee: parseDecimal(fee.minFee, "fee.minFee", SCHEDULE_CAPS.minFee),
  }));
}

/**
 * Sign, in one call, the x402 payment authorization to the seller and the EIP-2612 permit for the
 * platform fee, and return the body that creates a `direct_payment` agreement. The acceptance goes
 * through the same check as x402 selection (`acceptRequirements`: registry network, asset and
 * domain, validity, cap); the fee is recomputed with the contract's formula and refused if the
 * requirements state another, if it exceeds `maxFee`, or if its spender is not the DirectPayment
 * contract. Nothing is signed unless every check passes.
 *
 * @example
 * const built = await buildDirectStablecoinAgreement(account, requirements, { maxAmount: 50_000_000n, directPayment, publicClient });
 * await fetch(`${api}/usage-agreements`, { method: "POST", body: JSON.stringify(built.body) });
 * @throws {ClientError} `PACKAGE_INVALID`, `PACKAGE_MISMATCH`, `AMOUNT_ABOVE_CAP`, `FEE_MISMATCH`,
 * `TOKEN_NOT_ALLOWED`, `INPUT_MISSING`; {X402Error} for an acceptance the policy refuses.
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
    publicClient?: Client<Transport, Chain | undefined, Account | undefined>;
    nowSeconds?: number;
    nonce?: Hex;
  },
): Promise<DirectStablecoinAgreement> {
  const accept = parsed(() => parseRequirements(requirements.accept, "accept"));
  let selected: ReturnType<typeof acceptRequirements>;
  try {
    selected = acceptRequirements(accept, {
      maxAmount: { USDC: options.maxAmount, EURC: options.maxAmount },
      maxTimeoutSeconds: options.maxTimeoutSeconds ?? 600,
    });
  } catch (cause) {
    if (!(cause instanceof ChainRegistryError)) throw cause;
    throw new ClientError(
      "TOKEN_NOT_ALLOWED",
      cause.message,
      { chainId: 0, token: accept.asset, reason: cause.code },
      { cause },
    );
  }
  const spender = parsed(() => parseAddress(requirements.fee.spender, "fee.spender"));
  if (spender !== getAddress(options.directPayment)) {
    throw new ClientError(
      "PACKAGE_MISMATCH",
      `fee spender ${spender} is not the DirectPayment contract ${options.directPayment}`,
      {
        field: "fee.spender",
        actual: spender,
        expected: options.directPayment,
      },
    );
  }
  const { amount, token, domain } = selected;
  const fee = directPaymentFee(amount, parseSchedule(requirements.fee));
  const maxFee = options.maxFee ?? directPaymentFee(amount, DEFAULT_DIRECT_FEE_SCHEDULE);
  if (fee > maxFee) {
    throw new ClientError("AMOUNT_ABOVE_CAP", `fee ${fee} is above the cap ${maxFee}`, {
      field: "fee",
      amount: fee,
      cap: maxFee,
    });
  }
  const stated = parsed(() => parseDecimal(requirements.fee.amount, "fee.amount"));
  if (fee !== stated) {
    throw new ClientError("FEE_MISMATCH", `the requirements state a fee of ${stated}, the schedule gives ${fee}`, {
      stated: requirements.fee.amount,
      computed: fee,
    });
  }
  const owner = getAddress(signer.address);
  let nonce = options.permitNonce;
  if (nonce === undefined) {
    if (!options.publicClient) {
      throw new ClientError("INPUT_MISSING", "pass permitNonce or publicClient to sign the fee permit", {
        input: "permitNonce",
      });
    }
    nonce = await readPermitNonce(options.publicClient, token.address, owner);
  }

  const payment = await signExactPayment(signer, selected, {
    ...(options.nowSeconds !== undefined ? { nowSeconds: options.nowSeconds } : {}),
    ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
  });
  // The contract takes the permit only with this deadline: it binds the fee to this payment.
  const deadline = directPaymentFeePermitDeadline(payment.authorization.nonce);
  const signature = await signPermit(signer, domain, { owner, spender, value: fee, nonce, deadline });
  const a = payment.authorization;
  const body = serializeDirectPaymentBody({
    network: accept.network,
    token: token.address,
    buyer: owner,
    seller: selected.payTo,
    amount,
    payment,
    paymentHeader: encodeJsonHeader(toSeedEnvelope(payment, selected)),
    feePermit: { owner, spender, value: fee, nonce, deadline, signature },
  });
  const order: DirectPaymentOrder = {
    token: token.address,
    buyer: a.from,
    seller: a.to,
    amount,
    validAfter: BigInt(a.validAfter),
    validBefore: BigInt(a.validBefore),
    nonce: a.nonce,
    signature: payment.signature,
    feePermit: { value: fee, signature },
  };
  return { body, order, payment, fee };
}
