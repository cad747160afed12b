import { type Address, getAddress, isAddress } from "viem";
import {
  type ChainInfo,
  ChainRegistryError,
  findChain,
  findToken,
  parseCaip2,
  type TokenInfo,
} from "../chains/index.ts";
import type { TokenDomainFields } from "../eip712/index.ts";
import { parseDecimal } from "../wire/primitives.ts";
import { X402Error } from "../wire/x402/errors.ts";
import type { PaymentRequired, PaymentRequirements } from "../wire/x402/types.ts";

/** What a wallet is willing to pay: caps per token symbol (atomic units) and optional chain filter. */
export type PaymentPolicy = {
  /** Largest amount the wallet signs for, per token symbol (e.g. `{ USDC: 10_000_000n }`). */
  readonly maxAmount: Partial<Record<TokenInfo["symbol"], bigint>>;
  /** Only these chain ids (default: every chain in the registry). */
  readonly chainIds?: readonly number[];
  /** Allow testnet tokens whose EIP-712 domain the registry has not confirmed (default false). */
  readonly allowUnconfirmedDomains?: boolean;
  /** Longest validity the wallet signs for, in seconds (default 600). */
  readonly maxTimeoutSeconds?: number;
};

/** Default cap on an acceptance's `maxTimeoutSeconds`. */
export const DEFAULT_MAX_TIMEOUT_SECONDS = 600;

/** An acceptance the wallet can pay, with everything needed to sign it. */
export type SelectedPayment = {
  readonly requirements: PaymentRequirements;
  readonly chain: ChainInfo;
  readonly token: TokenInfo;
  readonly amount: bigint;
  readonly payTo: Address;
  readonly domain: TokenDomainFields;
};

/**
 * The EIP-712 domain of an 'exact' acceptance, exactly as the product documentation derives it:
 * name and version from `extra`, chain id from the CAIP-2 network, verifying contract = asset.
 * Refuses (`DOMAIN_MISMATCH`) an asset the registry does not list on that chain, or a name or
 * version that disagrees with the registry.
 */
export function domainFromRequirements(
  requirements: PaymentRequirements,
  options: { allowUnconfirmedDomains?: boolean } = {},
): { chain: ChainInfo; token: TokenInfo; domain: TokenDomainFields } {
  const chainId = parseCaip2(requirements.network);
  const chain = findChain(chainId);
  const token =
    chain && isAddress(requirements.asset, { strict: false }) ? findToken(chainId, requirements.asset) : undefined;
  if (!chain || !token) {
    throw new X402Error(
      "DOMAIN_MISMATCH",
      `asset ${requirements.asset} on ${requirements.network} is not in the registry`,
      {
        network: requirements.network,
        asset: requirements.asset,
      },
    );
  }
  const name = requirements.extra?.name;
  const version = requirements.extra?.version;
  if (name !== token.domain.name || version !== token.domain.version) {
    throw new X402Error(
      "DOMAIN_MISMATCH",
      `acceptance signs as "${String(name)}" v${String(version)}, the registry says "${token.domain.name}" v${token.domain.version} for ${token.symbol} on ${chain.name}`,
      { network: requirements.network, asset: token.address, extra: { name, version }, registry: token.domain },
    );
  }
  if (token.domain.status !== "confirmed" && !options.allowUnconfirmedDomains) {
    throw new X402Error(
      "DOMAIN_MISMATCH",
      `the EIP-712 domain of ${token.symbol} on ${chain.name} is ${token.domain.status}`,
      {
        network: requirements.network,
        asset: token.address,
        status: token.domain.status,
      },
    );
  }
  return { chain, token, domain: { name, version, chainId, verifyingContract: token.address } };
}

/**
 * The acceptance check shared by x402 selection and the direct-payment builder: scheme 'exact', a
 * registry network and asset signed with the registry's domain, a chain the policy allows, a payee
 * address, a validity no longer than the policy's, and an amount within the policy's cap (and
 * equal to `expectedAmount` when given). Returns what is needed to sign it.
 *
 * @throws {X402Error} `SCHEME_UNSUPPORTED`, `DOMAIN_MISMATCH`, `POLICY_REFUSED`, `PAYLOAD_INVALID`,
 * `AMOUNT_UNEXPECTED`, `AMOUNT_ABOVE_CAP`; {ChainRegistryError} for a network outside the registry.
 */
export function acceptRequirements(
  requirements: PaymentRequirements,
  policy: PaymentPolicy,
  options: { expectedAmount?: bigint } = {},
): SelectedPayment {
  if (requirements.scheme !== "exact") {
    throw new X402Error("SCHEME_UNSUPPORTED", `scheme ${requirements.scheme} is not supported`, {
      scheme: requirements.scheme,
    });
  }
  const { chain, token, domain } = domainFromRequirements(requirements, policy);
  if (policy.chainIds && !policy.chainIds.includes(chain.chainId)) {
    throw new X402Error("POLICY_REFUSED", `chain ${chain.chainId} is not allowed by the policy`, {
      rule: "chainIds",
      value: chain.chainId,
      allowed: policy.chainIds,
    });
  }
  if (!isAddress(requirements.payTo, { strict: false })) {
    throw new X402Error("PAYLOAD_INVALID", `payTo ${requirements.payTo} is not an address`, {
      path: "payTo",
      value: requirements.payTo,
    });
  }
  const maxTimeout = policy.maxTimeoutSeconds ?? DEFAULT_MAX_TIMEOUT_SECONDS;
  if (
    !Number.isSafeInteger(requirements.maxTimeoutSeconds) ||
    requirements.maxTimeoutSeconds <= 0 ||
    requirements.maxTimeoutSeconds > maxTimeout
  ) {
    throw new X402Error(
      "POLICY_REFUSED",
      `maxTimeoutSeconds ${String(requirements.maxTimeoutSeconds)} is not within 1..${maxTimeout}`,
      { rule: "maxTimeoutSeconds", value: requirements.maxTimeoutSeconds, allowed: maxTimeout },
    );
  }
  let amount: bigint;
  try {
    amount = parseDecimal(requirements.amount, "amount");
  } catch (cause) {
    throw new X402Error(
      "PAYLOAD_INVALID",
      `amount ${String(requirements.amount)} is not a decimal string`,
      { path: "amount", value: requirements.amount },
      { cause },
    );
  }
  if (options.expectedAmount !== undefined && amount !== options.expectedAmount) {
    throw new X402Error("AMOUNT_UNEXPECTED", `amount ${amount} is not the expected ${options.expectedAmount}`, {
      amount,
      expected: options.expectedAmount,
    });
  }
  const cap = policy.maxAmount[token.symbol];
  if (cap === undefined || amount > cap) {
    throw new X402Error("AMOUNT_ABOVE_CAP", `amount ${amount} ${token.symbol} is above the cap ${cap ?? 0n}`, {
      amount,
      cap,
    });
  }
  return { requirements, chain, token, amount, payTo: getAddress(requirements.payTo), domain };
}

/**
 * Choose the first acceptance this wallet can pay ({@link acceptRequirements}). Throws
 * `NO_ACCEPTABLE_REQUIREMENTS` with the reason each acceptance was refused.
 */
export function selectPayment(
  required: PaymentRequired,
  policy: PaymentPolicy,
  options: { expectedAmount?: bigint } = {},
): SelectedPayment {
  const refusals: { index: number; code: string; reason: string }[] = [];
  for (const [index, requirements] of required.accepts.entries()) {
    try {
      return acceptRequirements(requirements, policy, options);
    } catch (error) {
      // A non-EVM or malformed network is a refusal of that acceptance, not of the whole challenge.
      if (!(error instanceof X402Error) && !(error instanceof ChainRegistryError)) throw error;
      refusals.push({ index, code: error.code, reason: error.message });
    }
  }
  throw new X402Error(
    "NO_ACCEPTABLE_REQUIREMENTS",
    `no acceptance can be paid: ${refusals.map((r) => r.reason).join("; ")}`,
    {
      refusals,
    },
  );
}
