import { bytesToHex, type Hex } from "viem";
import { signAuthorization, type TypedDataSigner } from "../eip712/index.ts";
import { encodeJsonHeader } from "../wire/x402/base64.ts";
import { decodePaymentRequired } from "../wire/x402/decode.ts";
import { X402Error } from "../wire/x402/errors.ts";
import type {
  ExactPayload,
  PaymentPayloadV2,
  PaymentRequired,
  ResourceInfo,
  SeedEnvelope,
} from "../wire/x402/types.ts";
import { HEADERS } from "./headers.ts";
import { type PaymentPolicy, type SelectedPayment, selectPayment } from "./select.ts";

/** A fresh random 32-byte EIP-3009 nonce (Web Crypto). */
export function randomNonce(): Hex {
  return bytesToHex(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}

/** Remembers the nonces a wallet has signed, so none is ever signed twice. */
export type NonceGuard = { has(nonce: Hex): boolean; add(nonce: Hex): unknown };

/**
 * Sign the 'exact' EIP-3009 TransferWithAuthorization for a selected acceptance:
 * `from` = signer, `to` = payTo, `value` = amount, `validAfter` = 0,
 * `validBefore` = now + maxTimeoutSeconds, a random (or given) 32-byte nonce.
 */
export async function signExactPayment(
  signer: TypedDataSigner,
  selected: SelectedPayment,
  options: { nowSeconds?: number; nonce?: Hex; nonceGuard?: NonceGuard } = {},
): Promise<ExactPayload> {
  const nonce = (options.nonce ?? randomNonce()).toLowerCase() as Hex;
  if (!/^0x[0-9a-f]{64}$/.test(nonce))
    throw new X402Error("PAYLOAD_INVALID", "the nonce must be 32 bytes of hex", { path: "nonce", value: nonce });
  if (options.nonceGuard?.has(nonce)) {
    throw new X402Error("NONCE_REUSED", `nonce ${nonce} was already signed`, { nonce });
  }
  // Claimed before signing, so two concurrent calls cannot both sign it.
  options.nonceGuard?.add(nonce);
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const authorization = {
    from: signer.address,
    to: selected.payTo,
    value: selected.amount.toString(),
    validAfter: "0",
    validBefore: String(now + selected.requirements.maxTimeoutSeconds),
    nonce,
  };
  const signature = await signAuthorization(signer, selected.domain, {
    from: authorization.from,
    to: authorization.to,
    value: selected.amount,
    validAfter: 0n,
    validBefore: BigInt(authorization.validBefore),
    nonce,
  });
  options.nonceGuard?.add(nonce);
  return { authorization, signature };
}

/** The x402 v2 `PaymentPayload` for a signed payment (field order as the reference client sends it). */
export function toPaymentPayloadV2(
  payment: ExactPayload,
  selected: SelectedPayment,
  resource?: ResourceInfo,
): PaymentPayloadV2 {
  return {
    x402Version: 2,
    payload: { authorization: payment.authorization, signature: payment.signature },
    ...(resource ? { resource } : {}),
    accepted: selected.requirements,
  };
}

/** The signed envelope in the product documentation's shape. */
export function toSeedEnvelope(payment: ExactPayload, selected: SelectedPayment): SeedEnvelope {
  return {
    x402Version: 2,
    scheme: "exact",
    network: selected.requirements.network,
    asset: selected.requirements.asset,
    payload: { signature: payment.signature, authorization: payment.authorization },
  };
}

/** How to send a payment: the v2 payload as `PAYMENT-SIGNATURE`, or the documented envelope as `X-PAYMENT`. */
export type PaymentStyle = "v2" | "seed";

/**
 * A payer for 402 challenges: decodes `PAYMENT-REQUIRED`, selects an acceptance under `policy`,
 * signs it and returns the header to retry with. Nothing is signed for an acceptance the policy or
 * the registry refuses, and no nonce is ever signed twice.
 */
/** A payment signed for a 402 challenge, and the header that carries it. */
export type SignedPaymentHeader = {
  /** `PAYMENT-SIGNATURE` (v2 style) or `X-PAYMENT` (the documented envelope). */
  readonly headerName: string;
  /** The base64 payment. */
  readonly headerValue: string;
  readonly payment: ExactPayload;
  readonly selected: SelectedPayment;
};

/**
 * What {@link x402Payer} returns: sign the payment a `PAYMENT-REQUIRED` challenge asks for, within
 * the policy. `nonce` fixes the authorization nonce (a sponsored credit purchase signs its sponsor
 * message over it first); `expectedAmount` refuses a challenge for another amount.
 */
export type X402Payer = (
  paymentRequiredHeader: string,
  overrides?: { nowSeconds?: number; nonce?: Hex; expectedAmount?: bigint },
) => Promise<SignedPaymentHeader>;

export function x402Payer(
  signer: TypedDataSigner,
  policy: PaymentPolicy,
  options: { style?: PaymentStyle } = {},
): X402Payer {
  const signed = new Set<Hex>();
  return async (paymentRequiredHeader, overrides = {}) => {
    const required: PaymentRequired = decodePaymentRequired(paymentRequiredHeader);
    const { expectedAmount, ...signing } = overrides;
    const selected = selectPayment(required, policy, expectedAmount === undefined ? {} : { expectedAmount });
    const payment = await signExactPayment(signer, selected, { ...signing, nonceGuard: signed });
    return options.style === "v2"
      ? {
          headerName: HEADERS.paymentSignature,
          headerValue: encodeJsonHeader(toPaymentPayloadV2(payment, selected, required.resource)),
          payment,
          selected,
        }
      : {
          headerName: HEADERS.xPayment,
          headerValue: encodeJsonHeader(toSeedEnvelope(payment, selected)),
          payment,
          selected,
        };
  };
}
