import { AgentEscrowError } from "../errors.ts";

/** Details of each {@link ChainRegistryError} code. */
export type ChainRegistryErrorDetails = {
  /** Not a CAIP-2 id, or not a positive chain id. */
  CAIP2_MALFORMED: { readonly id?: string; readonly reference?: string; readonly chainId?: number };
  /** A CAIP-2 namespace other than eip155. */
  CAIP2_UNSUPPORTED_NAMESPACE: { readonly id: string; readonly namespace: string };
  /** A chain id or key the registry does not list. */
  CHAIN_UNKNOWN: {
    readonly chainId?: number;
    readonly key?: string;
    readonly supported: readonly (number | string)[];
  };
  /** A token the registry does not list on this chain. */
  TOKEN_UNKNOWN: { readonly chainId: number; readonly token: string; readonly supported: readonly string[] };
  /** A testnet token whose EIP-712 domain has not been confirmed against the live contract. */
  DOMAIN_UNCONFIRMED: { readonly chainId: number; readonly token: string; readonly status: string };
};

/** Stable codes of {@link ChainRegistryError}. */
export type ChainRegistryErrorCode = keyof ChainRegistryErrorDetails;

/** A chain id, CAIP-2 id or token that the registry cannot accept. */
export class ChainRegistryError<C extends ChainRegistryErrorCode = ChainRegistryErrorCode> extends AgentEscrowError<
  C,
  ChainRegistryErrorDetails[C]
> {
  /** Whether this error has `code`; narrows `details` to that code's. */
  is<K extends ChainRegistryErrorCode>(code: K): this is ChainRegistryError<K> {
    const own: string = this.code;
    return own === code;
  }
}
