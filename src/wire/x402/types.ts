import type { Address, Hex } from "viem";

/** The resource a payment is for (x402 v2 `ResourceInfo`). */
export type ResourceInfo = {
  url: string;
  description?: string;
  mimeType?: string;
  [extra: string]: unknown;
};

/** One way to pay (x402 v2 `PaymentRequirements`): amounts are decimal strings in atomic units. */
export type PaymentRequirements = {
  scheme: string;
  network: string;
  amount: string;
  asset: string;
  payTo: string;
  maxTimeoutSeconds: number;
  extra?: Record<string, unknown>;
  [extra: string]: unknown;
};

/** The server's 402 challenge, carried base64-encoded in `PAYMENT-REQUIRED`. */
export type PaymentRequired = {
  x402Version: 2;
  error?: string;
  resource: ResourceInfo;
  accepts: PaymentRequirements[];
  extensions?: Record<string, unknown>;
};

/** EIP-3009 authorization as x402 'exact' carries it: numbers as decimal strings. */
export type ExactAuthorization = {
  from: Address;
  to: Address;
  value: string;
  validAfter: string;
  validBefore: string;
  nonce: Hex;
};

/** The 'exact' EVM payload: the authorization and the payer's signature. */
export type ExactPayload = { authorization: ExactAuthorization; signature: Hex };

/** x402 v2 `PaymentPayload` (sent as `PAYMENT-SIGNATURE`). */
export type PaymentPayloadV2 = {
  x402Version: 2;
  payload: ExactPayload;
  resource?: ResourceInfo;
  accepted: PaymentRequirements;
  extensions?: Record<string, unknown>;
};

/** The signed envelope in the product documentation's shape (sent as `X-PAYMENT`). */
export type SeedEnvelope = {
  x402Version: 2;
  scheme: "exact";
  network: string;
  asset: string;
  payload: { signature: Hex; authorization: ExactAuthorization };
};

/** A payment read from an inbound header, whichever shape it came in. */
export type InboundPayment = {
  shape: "v2" | "seed";
  x402Version: number;
  scheme: string;
  network: string;
  asset: Address;
  authorization: ExactAuthorization;
  signature: Hex;
  accepted?: PaymentRequirements;
  resource?: ResourceInfo;
};

/** The settlement result, carried base64-encoded in `PAYMENT-RESPONSE` / `X-PAYMENT-RESPONSE`. */
export type SettleResponse = {
  success: boolean;
  transaction: string;
  network: string;
  payer?: string;
  errorReason?: string;
  errorMessage?: string;
  requirements?: PaymentRequirements;
  [extra: string]: unknown;
};
