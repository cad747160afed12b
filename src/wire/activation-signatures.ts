import type { Hex } from "viem";
import {
  type AgreementRef,
  agreementRef,
  decodeTerms,
  type EscrowDomain,
  type FundingAuthorization,
  MAX_ACTIVATION_TIME,
  TermsError,
} from "../eip712/index.ts";
import { WireError } from "./errors.ts";
import { parseBytes32, parseDecimal, parseHexBytes, parseObject, parseUintString } from "./primitives.ts";

/**
 * The buyer's signatures as they travel (`POST /usage-agreements/{id}/activate-escrow`): the
 * packed terms, the deposit authorization and, when an upfront fee is due, the fee permit.
 */
export type ActivationSignaturesJson = {
  agreementId: Hex;
  /** The 201-byte packed terms. */
  terms: Hex;
  /** The buyer's `ReceiveWithAuthorization` to the escrow (the only form the escrow accepts). */
  fundingAuthorization: { validAfter: string; validBefore: string; signature: Hex };
  feePermit?: { value: string; deadline: string; nonce: string; signature: Hex };
};

/** The buyer's EIP-2612 permit for the escrow's upfront fee. */
export type FeePermitSignature = {
  readonly value: bigint;
  readonly deadline: bigint;
  readonly nonce: bigint;
  readonly signature: Hex;
};

/** Parsed activation signatures, bound to their agreement. */
export type ActivationSignatures = {
  readonly agreement: AgreementRef;
  readonly authorization: FundingAuthorization;
  readonly feePermit?: FeePermitSignature;
};

/**
 * Parse the buyer's activation signatures for the escrow `domain`: the packed terms decode, the
 * `agreementId` is their hash on this chain and escrow, the validity window fits the packed
 * activation, the signatures are hex. Checks no signature and reads no chain.
 *
 * @example
 * const signed = parseActivationSignatures(await request.json(), { chainId: 8453, escrow });
 * @throws {WireError} `FIELD_INVALID`, `ID_MISMATCH`.
 */
export function parseActivationSignatures(json: unknown, domain: EscrowDomain): ActivationSignatures {
  const body = parseObject(json, "signatures");
  const packed = parseHexBytes(body.terms, "terms");
  let agreement: AgreementRef;
  try {
    agreement = agreementRef(decodeTerms(packed), domain);
  } catch (cause) {
    if (!(cause instanceof TermsError)) throw cause;
    throw new WireError(
      "FIELD_INVALID",
      `terms are not packed terms: ${cause.message}`,
      { field: "terms", value: body.terms, expected: "201 bytes of packed terms" },
      { cause },
    );
  }
  const claimed = parseBytes32(body.agreementId, "agreementId");
  if (claimed !== agreement.id) {
    throw new WireError("ID_MISMATCH", `agreementId ${claimed} is not the hash of the signed terms (${agreement.id})`, {
      field: "agreementId",
      claimed,
      computed: agreement.id,
    });
  }
  const auth = parseObject(body.fundingAuthorization, "fundingAuthorization");
  const authorization: FundingAuthorization = {
    validAfter: parseDecimal(auth.validAfter, "fundingAuthorization.validAfter", MAX_ACTIVATION_TIME),
    validBefore: parseDecimal(auth.validBefore, "fundingAuthorization.validBefore", MAX_ACTIVATION_TIME),
    signature: parseHexBytes(auth.signature, "fundingAuthorization.signature"),
  };
  if (body.feePermit === undefined) return { agreement, authorization };
  const p = parseObject(body.feePermit, "feePermit");
  return {
    agreement,
    authorization,
    feePermit: {
      value: parseUintString(p.value, "feePermit.value", 256),
      deadline: parseUintString(p.deadline, "feePermit.deadline", 256),
      nonce: parseUintString(p.nonce, "feePermit.nonce", 256),
      signature: parseHexBytes(p.signature, "feePermit.signature"),
    },
  };
}

/** The JSON form of activation signatures. */
export function serializeActivationSignatures(signed: ActivationSignatures): ActivationSignaturesJson {
  const json: ActivationSignaturesJson = {
    agreementId: signed.agreement.id,
    terms: signed.agreement.packed,
    fundingAuthorization: {
      validAfter: signed.authorization.validAfter.toString(),
      validBefore: signed.authorization.validBefore.toString(),
      signature: signed.authorization.signature,
    },
  };
  if (signed.feePermit) {
    json.feePermit = {
      value: signed.feePermit.value.toString(),
      deadline: signed.feePermit.deadline.toString(),
      nonce: signed.feePermit.nonce.toString(),
      signature: signed.feePermit.signature,
    };
  }
  return json;
}
