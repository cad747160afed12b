import type { Account, Address, Hex, LocalAccount, TypedDataDomain, WalletClient } from "viem";
import { AgentEscrowError } from "../errors.ts";

/** Details of each {@link SignerError} code. */
export type SignerErrorDetails = {
  /** The wallet client has no account to sign with, and none was given. */
  NO_ACCOUNT: Record<string, never>;
};

/** A signer that cannot be built. */
export class SignerError<C extends keyof SignerErrorDetails = keyof SignerErrorDetails> extends AgentEscrowError<
  C,
  SignerErrorDetails[C]
> {}

/**
 * EIP-712 types of the token messages this project signs: EIP-3009 transfer/receive
 * authorizations and EIP-2612 permits, as Circle's FiatToken v2 defines them.
 */
export const transferWithAuthorizationTypes = {
  TransferWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

export const receiveWithAuthorizationTypes = {
  ReceiveWithAuthorization: transferWithAuthorizationTypes.TransferWithAuthorization,
} as const;

export const permitTypes = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/** The EIP-712 domain of a token: name and version from the token, chain id, and its address. */
export interface TokenDomainFields {
  readonly name: string;
  readonly version: string;
  readonly chainId: number;
  readonly verifyingContract: Address;
}

/** An EIP-3009 authorization (the message of TransferWithAuthorization / ReceiveWithAuthorization). */
export type Authorization = {
  readonly from: Address;
  readonly to: Address;
  readonly value: bigint;
  readonly validAfter: bigint;
  readonly validBefore: bigint;
  readonly nonce: Hex;
};

/** An EIP-2612 permit message. */
export type Permit = {
  readonly owner: Address;
  readonly spender: Address;
  readonly value: bigint;
  readonly nonce: bigint;
  readonly deadline: bigint;
};

/** Which EIP-3009 entry point an authorization is for. */
export type AuthorizationKind = "transfer" | "receive";

/**
 * Anything that signs EIP-712 typed data for an address: a viem `LocalAccount`, or
 * {@link walletClientSigner} around a JSON-RPC wallet or a smart-wallet client.
 */
export type TypedDataSigner = Pick<LocalAccount, "address" | "signTypedData">;

/** A {@link TypedDataSigner} backed by a wallet client (JSON-RPC account or smart-wallet client). */
export function walletClientSigner(client: WalletClient, account?: Account | Address): TypedDataSigner {
  const acct = account ?? client.account;
  if (!acct) {
    throw new SignerError("NO_ACCOUNT", "walletClientSigner: the wallet client has no account and none was given", {});
  }
  const address = typeof acct === "string" ? acct : acct.address;
  return {
    address,
    signTypedData: (parameters) =>
      client.signTypedData({ ...parameters, account: acct } as Parameters<WalletClient["signTypedData"]>[0]),
  };
}

function toDomain(domain: TokenDomainFields): TypedDataDomain {
  return {
    name: domain.name,
    version: domain.version,
    chainId: domain.chainId,
    verifyingContract: domain.verifyingContract,
  };
}

/** The typed data of an EIP-3009 authorization, ready for `signTypedData` or `hashTypedData`. */
export function authorizationTypedData(
  domain: TokenDomainFields,
  message: Authorization,
  kind: AuthorizationKind = "transfer",
) {
  return kind === "transfer"
    ? ({
        domain: toDomain(domain),
        types: transferWithAuthorizationTypes,
        primaryType: "TransferWithAuthorization",
        message,
      } as const)
    : ({
        domain: toDomain(domain),
        types: receiveWithAuthorizationTypes,
        primaryType: "ReceiveWithAuthorization",
        message,
      } as const);
}

/** The typed data of an EIP-2612 permit. */
export function permitTypedData(domain: TokenDomainFields, message: Permit) {
  return { domain: toDomain(domain), types: permitTypes, primaryType: "Permit", message } as const;
}

type TransferTypedData = {
  domain: TypedDataDomain;
  types: typeof transferWithAuthorizationTypes;
  primaryType: "TransferWithAuthorization";
  message: Authorization;
};
type ReceiveTypedData = {
  domain: TypedDataDomain;
  types: typeof receiveWithAuthorizationTypes;
  primaryType: "ReceiveWithAuthorization";
  message: Authorization;
};

/** Sign an EIP-3009 authorization. The signer must be `message.from`. */
export async function signAuthorization(
  signer: TypedDataSigner,
  domain: TokenDomainFields,
  message: Authorization,
  kind: AuthorizationKind = "transfer",
): Promise<Hex> {
  if (kind === "transfer") {
    return signer.signTypedData(authorizationTypedData(domain, message, "transfer") as TransferTypedData);
  }
  return signer.signTypedData(authorizationTypedData(domain, message, "receive") as ReceiveTypedData);
}

/** Sign an EIP-2612 permit. The signer must be `message.owner`. */
export async function signPermit(signer: TypedDataSigner, domain: TokenDomainFields, message: Permit): Promise<Hex> {
  return signer.signTypedData(permitTypedData(domain, message));
}
