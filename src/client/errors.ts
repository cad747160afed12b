import { AgentEscrowError } from "../errors.ts";

/** Details of each {@link ClientError} code. */
export type ClientErrorDetails = {
  /** A package or requirements field is malformed (`field` names it; `cause` keeps the parser's error). */
  PACKAGE_INVALID: { readonly field: string; readonly value: unknown };
  /** The package names something other than what the buyer expects or proposed. */
  PACKAGE_MISMATCH: { readonly field: string; readonly actual: unknown; readonly expected: unknown };
  /** The chain is not in the registry. */
  CHAIN_UNSUPPORTED: { readonly chainId: number };
  /** The client is connected to another chain than the package's. */
  CHAIN_MISMATCH: { readonly chainId: number; readonly expected: number };
  /** The token is not in the registry for this chain, its domain is unconfirmed, or the escrow does not take it now. */
  TOKEN_NOT_ALLOWED: { readonly chainId: number; readonly token: string; readonly reason: string };
  /** An amount (deposit, upfront fee, fee rate, payment, fee) is above the buyer's cap or the escrow's. */
  AMOUNT_ABOVE_CAP: { readonly field: string; readonly amount: bigint; readonly cap: bigint | undefined };
  /** Terms outside what the buyer accepts (challenge window too short, service already expired). */
  TERMS_REFUSED: { readonly field: string; readonly value: number; readonly limit: number };
  /** The signer is not the package's buyer. */
  SIGNER_MISMATCH: { readonly signer: string; readonly expected: string };
  /** The stated fee is not what the published schedule gives. */
  FEE_MISMATCH: { readonly stated: string; readonly computed: bigint };
  /** The token's issuer has blacklisted a party: the escrow would refuse the activation. */
  PARTY_BLACKLISTED: { readonly role: string; readonly account: string };
  /** The agreement is already activated (or used). */
  AGREEMENT_EXISTS: { readonly id: string; readonly status: string };
  /** A value the signing needs was not given and cannot be read (no client). */
  INPUT_MISSING: { readonly input: string };
  /** An option is out of range. */
  OPTION_INVALID: { readonly option: string; readonly value: unknown };
};

/** Stable codes of {@link ClientError}. */
export type ClientErrorCode = keyof ClientErrorDetails;

/** An activation package, payment requirement or option this client refuses, before anything is signed. */
export class ClientError<C extends ClientErrorCode = ClientErrorCode> extends AgentEscrowError<
  C,
  ClientErrorDetails[C]
> {
  /** Whether this error has `code`; narrows `details` to that code's. */
  is<K extends ClientErrorCode>(code: K): this is ClientError<K> {
    const own: string = this.code;
    return own === code;
  }
}
