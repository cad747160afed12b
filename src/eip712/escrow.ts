import {
  type Address,
  encodeAbiParameters,
  encodePacked,
  getAddress,
  type Hex,
  hashTypedData,
  keccak256,
  size,
  sliceHex,
  type TypedDataDomain,
} from "viem";
import { AgentEscrowError } from "../errors.ts";
import type { TypedDataSigner } from "./token.ts";

/** The EIP-712 domain name and version of the escrow contract. */
export const ESCROW_DOMAIN = { name: "AgentEscrow", version: "1" } as const;

/** EIP-712 types of the escrow's messages. Field order is the contract's. */
export const escrowTypes = {
  Terms: [
    { name: "buyer", type: "address" },
    { name: "seller", type: "address" },
    { name: "token", type: "address" },
    { name: "feeRecipient", type: "address" },
    { name: "recorder", type: "address" },
    { name: "arbiter", type: "address" },
    { name: "deposit", type: "uint64" },
    { name: "upfrontFee", type: "uint64" },
    { name: "feeFixed", type: "uint64" },
    { name: "feeCap", type: "uint64" },
    { name: "feeBps", type: "uint16" },
    { name: "fallbackBps", type: "uint16" },
    { name: "challengeWindow", type: "uint32" },
    { name: "resolutionWindow", type: "uint32" },
    { name: "serviceExpiry", type: "uint40" },
    { name: "salt", type: "bytes32" },
  ],
  UsageVoucher: [
    { name: "agreementId", type: "bytes32" },
    { name: "cumulativeUsage", type: "uint64" },
  ],
  FinalUsage: [
    { name: "agreementId", type: "bytes32" },
    { name: "usage", type: "uint64" },
    { name: "deadline", type: "uint40" },
  ],
} as const;

/** The terms of one escrow agreement (amounts in the token's smallest unit, times in seconds). */
export type Terms = {
  readonly buyer: Address;
  readonly seller: Address;
  readonly token: Address;
  readonly feeRecipient: Address;
  readonly recorder: Address;
  readonly arbiter: Address;
  readonly deposit: bigint;
  readonly upfrontFee: bigint;
  readonly feeFixed: bigint;
  readonly feeCap: bigint;
  readonly feeBps: number;
  readonly fallbackBps: number;
  readonly challengeWindow: number;
  readonly resolutionWindow: number;
  readonly serviceExpiry: number;
  readonly salt: Hex;
};

/** The escrow contract a set of terms is bound to. */
export type EscrowDomain = { readonly chainId: number; readonly escrow: Address };

/** Details of each {@link TermsError} code. */
export type TermsErrorDetails = {
  /** A field does not fit its Solidity type (`index` is its position in the terms, if a term). */
  TERMS_FIELD_OUT_OF_RANGE: { readonly field: string; readonly value: bigint; readonly index?: number };
  /** Bytes that are not packed terms (wrong length), or an activation with no signature. */
  TERMS_ENCODING_INVALID: { readonly length?: number };
};

/** Stable codes of {@link TermsError}. */
export type TermsErrorCode = keyof TermsErrorDetails;

/** Terms that cannot be encoded, or bytes that are not encoded terms. */
export class TermsError<C extends TermsErrorCode = TermsErrorCode> extends AgentEscrowError<C, TermsErrorDetails[C]> {
  /** Whether this error has `code`; narrows `details` to that code's. */
  is<K extends TermsErrorCode>(code: K): this is TermsError<K> {
    const own: string = this.code;
    return own === code;
  }
}

const PACKED_TYPES = [
  "address",
  "address",
  "address",
  "address",
  "address",
  "address",
  "uint64",
  "uint64",
  "uint64",
  "uint64",
  "uint16",
  "uint16",
  "uint32",
  "uint32",
  "uint40",
  "bytes32",
] as const;

/** Size of {@link encodeTerms}' output in bytes. */
export const ENCODED_TERMS_LENGTH = 201;

const BITS: Record<string, number> = { uint16: 16, uint32: 32, uint40: 40, uint64: 64 };

function checkRange(terms: Terms): void {
  for (const [i, field] of escrowTypes.Terms.entries()) {
    const bits = BITS[field.type];
    if (bits === undefined) continue;
    const value = BigInt(terms[field.name as keyof Terms] as bigint | number);
    if (value < 0n || value >= 1n << BigInt(bits)) {
      throw new TermsError("TERMS_FIELD_OUT_OF_RANGE", `terms.${field.name} = ${value} does not fit ${field.type}`, {
        field: field.name,
        value,
        index: i,
      });
    }
  }
}

/** Pack terms into the 201-byte form the escrow takes (see the contract's TermsCodec). */
export function encodeTerms(terms: Terms): Hex {
  checkRange(terms);
  return encodePacked(PACKED_TYPES, [
    terms.buyer,
    terms.seller,
    terms.token,
    terms.feeRecipient,
    terms.recorder,
    terms.arbiter,
    terms.deposit,
    terms.upfrontFee,
    terms.feeFixed,
    terms.feeCap,
    terms.feeBps,
    terms.fallbackBps,
    terms.challengeWindow,
    terms.resolutionWindow,
    terms.serviceExpiry,
    terms.salt,
  ]);
}

/** The buyer's EIP-3009 `ReceiveWithAuthorization` that funds an agreement (value and nonce are implied). */
export type FundingAuthorization = {
  readonly validAfter: bigint;
  readonly validBefore: bigint;
  /** 65-byte ECDSA signature, or ERC-1271 data for a contract wallet. */
  readonly signature: Hex;
};

/** The latest validity time a packed activation can carry (the window travels as two uint40). */
export const MAX_ACTIVATION_TIME = (1n << 40n) - 1n;

/**
 * Pack an activation the way `activate` and `activateWithFeePermit` take it:
 * `terms (201 bytes) ‖ uint40 validAfter ‖ uint40 validBefore ‖ signature`. The buyer signs the
 * window as uint256; any value up to {@link MAX_ACTIVATION_TIME} travels exactly.
 */
export function encodeActivation(terms: Terms, authorization: FundingAuthorization): Hex {
  for (const field of ["validAfter", "validBefore"] as const) {
    const value = authorization[field];
    if (value < 0n || value > MAX_ACTIVATION_TIME) {
      throw new TermsError("TERMS_FIELD_OUT_OF_RANGE", `${field} = ${value} does not fit uint40`, { field, value });
    }
  }
  if (size(authorization.signature) === 0) {
    throw new TermsError("TERMS_ENCODING_INVALID", "the funding authorization has no signature", {});
  }
  return encodePacked(
    ["bytes", "uint40", "uint40", "bytes"],
    [encodeTerms(terms), Number(authorization.validAfter), Number(authorization.validBefore), authorization.signature],
  );
}

/** Unpack {@link encodeTerms}' output. */
export function decodeTerms(packed: Hex): Terms {
  if (size(packed) !== ENCODED_TERMS_LENGTH) {
    throw new TermsError(
      "TERMS_ENCODING_INVALID",
      `packed terms must be ${ENCODED_TERMS_LENGTH} bytes, got ${size(packed)}`,
      {
        length: size(packed),
      },
    );
  }
  let offset = 0;
  const take = (bytes: number): Hex => {
    const part = sliceHex(packed, offset, offset + bytes);
    offset += bytes;
    return part;
  };
  const addr = () => getAddress(take(20));
  const big = (bytes: number) => BigInt(take(bytes));
  const num = (bytes: number) => Number(BigInt(take(bytes)));
  return {
    buyer: addr(),
    seller: addr(),
    token: addr(),
    feeRecipient: addr(),
    recorder: addr(),
    arbiter: addr(),
    deposit: big(8),
    upfrontFee: big(8),
    feeFixed: big(8),
    feeCap: big(8),
    feeBps: num(2),
    fallbackBps: num(2),
    challengeWindow: num(4),
    resolutionWindow: num(4),
    serviceExpiry: num(5),
    salt: take(32),
  };
}

/** The escrow's EIP-712 domain on a chain. */
export function escrowDomain(domain: EscrowDomain): TypedDataDomain {
  return { ...ESCROW_DOMAIN, chainId: domain.chainId, verifyingContract: domain.escrow };
}

/**
 * The agreement id: the EIP-712 digest of the terms under the escrow's domain. It is also the
 * nonce of the buyer's funding authorization, which is what binds that signature to these terms,
 * this chain and this escrow.
 */
export function agreementId(terms: Terms, domain: EscrowDomain): Hex {
  checkRange(terms);
  return hashTypedData({
    domain: escrowDomain(domain),
    types: { Terms: escrowTypes.Terms },
    primaryType: "Terms",
    message: terms,
  });
}

/** The EIP-3009 nonce of a top-up authorization for agreement `id`. */
export function topUpNonce(id: Hex, topUpSalt: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }], [id, topUpSalt]));
}

/** The typed data of a usage voucher: the buyer acknowledges `cumulativeUsage` of agreement `agreementId`. */
export function usageVoucherTypedData(domain: EscrowDomain, voucher: { agreementId: Hex; cumulativeUsage: bigint }) {
  return {
    domain: escrowDomain(domain),
    types: { UsageVoucher: escrowTypes.UsageVoucher },
    primaryType: "UsageVoucher",
    message: voucher,
  } as const;
}

/** Sign a usage voucher as the buyer. */
export function signUsageVoucher(
  signer: TypedDataSigner,
  domain: EscrowDomain,
  voucher: { agreementId: Hex; cumulativeUsage: bigint },
): Promise<Hex> {
  return signer.signTypedData(usageVoucherTypedData(domain, voucher));
}

/** A final usage voucher: agreement `agreementId` ends at exactly `usage`, if closed before `deadline`. */
export type FinalUsage = { readonly agreementId: Hex; readonly usage: bigint; readonly deadline: number };

/**
 * The typed data of a final usage voucher: the buyer agrees that agreement `agreementId` ends at
 * exactly `usage`, if closed before `deadline` (unix seconds). The seller or the recorder submits
 * it with `closeWithFinalVoucher`, which settles at once. A plain usage voucher can never close
 * an agreement.
 */
export function finalUsageTypedData(domain: EscrowDomain, voucher: FinalUsage) {
  return {
    domain: escrowDomain(domain),
    types: { FinalUsage: escrowTypes.FinalUsage },
    primaryType: "FinalUsage",
    message: voucher,
  } as const;
}

/** Sign a final usage voucher as the buyer. */
export function signFinalUsage(signer: TypedDataSigner, domain: EscrowDomain, voucher: FinalUsage): Promise<Hex> {
  return signer.signTypedData(finalUsageTypedData(domain, voucher));
}

/**
 * One agreement, everything derived once: the chain and escrow it is bound to, its terms, its id
 * and its packed terms. Every escrow action takes this.
 */
export type AgreementRef = {
  readonly chainId: number;
  readonly escrow: Address;
  readonly terms: Terms;
  readonly id: Hex;
  readonly packed: Hex;
};

/** Build the {@link AgreementRef} of `terms` on an escrow (validates every field's range). */
export function agreementRef(terms: Terms, domain: EscrowDomain): AgreementRef {
  return Object.freeze({
    chainId: domain.chainId,
    escrow: getAddress(domain.escrow),
    terms,
    id: agreementId(terms, domain),
    packed: encodeTerms(terms),
  });
}
