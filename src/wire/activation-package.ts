import type { Address, Hex } from "viem";
import { type AgreementRef, agreementRef, type Terms } from "../eip712/index.ts";
import { WireError } from "./errors.ts";
import { parseAddress, parseBoolean, parseBytes32, parseInteger, parseObject, parseUintString } from "./primitives.ts";

/**
 * The activation package as it travels (`GET /usage-agreements/{id}/activation-package`): the
 * accepted terms, with 64-bit amounts as decimal strings so that they survive JSON.
 */
export type ActivationPackageJson = {
  agreementId: Hex;
  chainId: number;
  escrow: Address;
  upfrontFeePending: boolean;
  terms: {
    buyer: Address;
    seller: Address;
    token: Address;
    feeRecipient: Address;
    recorder: Address;
    arbiter: Address;
    deposit: string;
    upfrontFee: string;
    feeFixed: string;
    feeCap: string;
    feeBps: number;
    fallbackBps: number;
    challengeWindow: number;
    resolutionWindow: number;
    serviceExpiry: number;
    salt: Hex;
  };
};

/** A parsed activation package: the agreement it describes, and whether an upfront fee is due. */
export type ActivationPackage = {
  readonly agreement: AgreementRef;
  readonly upfrontFeePending: boolean;
};

/** Parse packed terms from their JSON form (addresses checksummed, ranges checked). */
export function parseTermsJson(value: unknown, field = "terms"): Terms {
  const t = parseObject(value, field);
  const f = (name: string) => `${field}.${name}`;
  return {
    buyer: parseAddress(t.buyer, f("buyer")),
    seller: parseAddress(t.seller, f("seller")),
    token: parseAddress(t.token, f("token")),
    feeRecipient: parseAddress(t.feeRecipient, f("feeRecipient")),
    recorder: parseAddress(t.recorder, f("recorder")),
    arbiter: parseAddress(t.arbiter, f("arbiter")),
    deposit: parseUintString(t.deposit, f("deposit"), 64),
    upfrontFee: parseUintString(t.upfrontFee, f("upfrontFee"), 64),
    feeFixed: parseUintString(t.feeFixed, f("feeFixed"), 64),
    feeCap: parseUintString(t.feeCap, f("feeCap"), 64),
    feeBps: parseInteger(t.feeBps, f("feeBps"), 0xffff),
    fallbackBps: parseInteger(t.fallbackBps, f("fallbackBps"), 0xffff),
    challengeWindow: parseInteger(t.challengeWindow, f("challengeWindow"), 0xffff_ffff),
    resolutionWindow: parseInteger(t.resolutionWindow, f("resolutionWindow"), 0xffff_ffff),
    serviceExpiry: parseInteger(t.serviceExpiry, f("serviceExpiry"), 2 ** 40 - 1),
    salt: parseBytes32(t.salt, f("salt")),
  };
}

/** The JSON form of terms. */
export function serializeTerms(terms: Terms): ActivationPackageJson["terms"] {
  return {
    ...terms,
    deposit: terms.deposit.toString(),
    upfrontFee: terms.upfrontFee.toString(),
    feeFixed: terms.feeFixed.toString(),
    feeCap: terms.feeCap.toString(),
  };
}

/**
 * Parse an activation package: every field's type and range, and its `agreementId` against the
 * hash of its terms on its chain and escrow. Applies no policy and reads no chain.
 *
 * @example
 * const pkg = parseActivationPackage(await (await fetch(`${api}/usage-agreements/${id}/activation-package`)).json());
 * @throws {WireError} `FIELD_INVALID` (with the field's path), `ID_MISMATCH`.
 */
export function parseActivationPackage(json: unknown): ActivationPackage {
  const p = parseObject(json, "package");
  const terms = parseTermsJson(p.terms);
  const agreement = agreementRef(terms, {
    chainId: parseInteger(p.chainId, "chainId"),
    escrow: parseAddress(p.escrow, "escrow"),
  });
  const claimed = parseBytes32(p.agreementId, "agreementId");
  if (claimed !== agreement.id) {
    throw new WireError("ID_MISMATCH", `agreementId ${claimed} is not the hash of these terms (${agreement.id})`, {
      field: "agreementId",
      claimed,
      computed: agreement.id,
    });
  }
  return { agreement, upfrontFeePending: parseBoolean(p.upfrontFeePending, "upfrontFeePending") };
}

/** The JSON form of an activation package. */
export function serializeActivationPackage(pkg: ActivationPackage): ActivationPackageJson {
  return {
    agreementId: pkg.agreement.id,
    chainId: pkg.agreement.chainId,
    escrow: pkg.agreement.escrow,
    upfrontFeePending: pkg.upfrontFeePending,
    terms: serializeTerms(pkg.agreement.terms),
  };
}
