import type { Address, Hex } from "viem";
import { directPaymentFeePermitDeadline } from "../eip712/index.ts";
import { WireError } from "./errors.ts";
import { parseAddress, parseBytes32, parseDecimal, parseHexBytes, parseObject, parseUintString } from "./primitives.ts";
import { decodePaymentPayload } from "./x402/decode.ts";
import type { ExactPayload } from "./x402/types.ts";

/**
 * The body of `POST /usage-agreements` for a direct stablecoin payment, as it travels: the signed
 * x402 payment (base64, as sent in `X-PAYMENT`) and the buyer's EIP-2612 fee permit.
 */
export type DirectPaymentBodyJson = {
  settlement_model: "direct_payment";
  network: string;
  asset: Address;
  amount: string;
  pay_to: Address;
  /** The signed x402 envelope, base64, as sent in `X-PAYMENT`. */
  payment_header: string;
  fee_permit: { owner: Address; spender: Address; value: string; nonce: string; deadline: string; signature: Hex };
};

/** A parsed direct-payment body: what `DirectPayment.pay` needs, and the fee permit's details. */
export type DirectPaymentBody = {
  readonly network: string;
  readonly token: Address;
  readonly buyer: Address;
  readonly seller: Address;
  readonly amount: bigint;
  readonly payment: ExactPayload;
  readonly paymentHeader: string;
  readonly feePermit: {
    readonly owner: Address;
    readonly spender: Address;
    readonly value: bigint;
    readonly nonce: bigint;
    readonly deadline: bigint;
    readonly signature: Hex;
  };
};

function mismatch(field: string, value: unknown, expected: string): never {
  throw new WireError("FIELD_INVALID", `${field} disagrees with the signed payment: ${expected}`, {
    field,
    value,
    expected,
  });
}

/**
 * Parse a direct-payment body: every field, the x402 payment inside `payment_header`, and that
 * they agree (asset and network with the payment's, amount and payee with the signed
 * authorization, the permit's owner with the payer, its deadline with the one the contract
 * derives from the payment nonce). Checks no signature and reads no chain.
 *
 * @example
 * const body = parseDirectPaymentBody(await request.json());
 * @throws {WireError} `FIELD_INVALID`, `BODY_INVALID`; `X402Error` `PAYLOAD_INVALID` for a malformed `payment_header`.
 */
export function parseDirectPaymentBody(json: unknown): DirectPaymentBody {
  const b = parseObject(json, "body");
  if (b.settlement_model !== "direct_payment") {
    throw new WireError("BODY_INVALID", `settlement_model ${String(b.settlement_model)} is not direct_payment`, {
      body: "direct payment",
    });
  }
  if (typeof b.payment_header !== "string") mismatch("payment_header", b.payment_header, "a base64 x402 payment");
  const inbound = decodePaymentPayload(b.payment_header);
  const a = inbound.authorization;
  const token = parseAddress(b.asset, "asset");
  const amount = parseDecimal(b.amount, "amount");
  const seller = parseAddress(b.pay_to, "pay_to");
  if (typeof b.network !== "string" || b.network !== inbound.network) mismatch("network", b.network, inbound.network);
  if (token !== inbound.asset) mismatch("asset", b.asset, inbound.asset);
  if (amount !== BigInt(a.value)) mismatch("amount", b.amount, a.value);
  if (seller !== a.to) mismatch("pay_to", b.pay_to, a.to);
  const p = parseObject(b.fee_permit, "fee_permit");
  const feePermit = {
    owner: parseAddress(p.owner, "fee_permit.owner"),
    spender: parseAddress(p.spender, "fee_permit.spender"),
    value: parseUintString(p.value, "fee_permit.value", 256),
    nonce: parseUintString(p.nonce, "fee_permit.nonce", 256),
    deadline: parseUintString(p.deadline, "fee_permit.deadline", 256),
    signature: parseHexBytes(p.signature, "fee_permit.signature"),
  };
  if (feePermit.owner !== a.from) mismatch("fee_permit.owner", p.owner, a.from);
  const nonce = parseBytes32(a.nonce, "payment.authorization.nonce");
  const deadline = directPaymentFeePermitDeadline(nonce);
  if (feePermit.deadline !== deadline) mismatch("fee_permit.deadline", p.deadline, deadline.toString());
  return {
    network: inbound.network,
    token,
    buyer: a.from,
    seller,
    amount,
    payment: { authorization: a, signature: inbound.signature },
    paymentHeader: b.payment_header,
    feePermit,
  };
}

/** The JSON form of a direct-payment body. */
export function serializeDirectPaymentBody(body: DirectPaymentBody): DirectPaymentBodyJson {
  return {
    settlement_model: "direct_payment",
    network: body.network,
    asset: body.token,
    amount: body.amount.toString(),
    pay_to: body.seller,
    payment_header: body.paymentHeader,
    fee_permit: {
      owner: body.feePermit.owner,
      spender: body.feePermit.spender,
      value: body.feePermit.value.toString(),
      nonce: body.feePermit.nonce.toString(),
      deadline: body.feePermit.deadline.toString(),
      signature: body.feePermit.signature,
    },
  };
}
