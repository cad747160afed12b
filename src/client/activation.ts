import { type Address, getAddress, type Hex, isAddress, type PublicClient } from "viem";
import { agentEscrowAbi, fiatTokenAbi } from "../abi/index.ts";
import { type ChainInfo, getChain, getToken, type TokenInfo, tokenDomain } from "../chains/index.ts";
import {
  agreementId,
  encodeTerms,
  signAuthorization,
  signPermit,
  type Terms,
  type TokenDomainFields,
  type TypedDataSigner,
} from "../eip712/index.ts";
import { ClientError } from "./errors.ts";

/**
 * The terms the backend returns for an accepted agreement (`GET .../activation-package`), with
 * amounts as decimal strings so the package survives JSON.
 */
export type ActivationPackage = {
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

/** What the buyer accepts to sign. */
export type BuyerPolicy = {
  /** The buyer's own address: the package's buyer must be it. */
  readonly buyer: Address;
  /** Largest deposit, per token symbol (atomic units). */
  readonly maxDeposit: Partial<Record<TokenInfo["symbol"], bigint>>;
  /** Largest upfront fee, per token symbol (default 0: refuse any). */
  readonly maxUpfrontFee?: Partial<Record<TokenInfo["symbol"], bigint>>;
  /** Largest settlement fee rate in bps (default 1,000). */
  readonly maxFeeBps?: number;
  /** The escrow address expected on this chain (e.g. from `getDeployment`). */
  readonly escrow: Address;
  /** The chain the buyer expects the agreement on. */
  readonly chainId?: number;
  /** Parties the buyer proposed: the package must name exactly these. `seller` is required. */
  readonly parties: {
    readonly seller: Address;
    readonly recorder?: Address;
    readonly arbiter?: Address;
    readonly feeRecipient?: Address;
  };
  /** Shortest challenge window the buyer accepts, in seconds (default 300). */
  readonly minChallengeWindow?: number;
  /** Sign with a testnet token domain the registry has not confirmed (default false). */
  readonly allowUnconfirmedDomains?: boolean;
};

/** A package that passed every check: the terms, its id, and the domains to sign with. */
export type VerifiedActivation = {
  readonly chain: ChainInfo;
  readonly token: TokenInfo;
  readonly terms: Terms;
  readonly id: Hex;
  readonly escrow: Address;
  readonly tokenDomain: TokenDomainFields;
  readonly upfrontFeePending: boolean;
};

function reject(
  code: ConstructorParameters<typeof ClientError>[0],
  message: string,
  details: Record<string, unknown>,
): never {
  throw new ClientError(code, message, details);
}

function domainOf(chainId: number, token: Address, allowUnconfirmed: boolean): TokenDomainFields {
  try {
    return tokenDomain(chainId, token, { allowUnconfirmed });
  } catch (cause) {
    throw new ClientError("TOKEN_NOT_ALLOWED", (cause as Error).message, { chainId, token }, { cause });
  }
}

function toTerms(raw: ActivationPackage["terms"]): Terms {
  const addr = (v: unknown, field: string) =>
    typeof v === "string" && isAddress(v, { strict: false })
      ? getAddress(v)
      : reject("PACKAGE_INVALID", `terms.${field} is not an address`, { field, value: v });
  const amount = (v: unknown, field: string) =>
    typeof v === "string" && /^(0|[1-9][0-9]*)$/.test(v)
      ? BigInt(v)
      : reject("PACKAGE_INVALID", `terms.${field} is not a decimal amount`, { field, value: v });
  const int = (v: unknown, field: string) =>
    Number.isSafeInteger(v) && (v as number) >= 0
      ? (v as number)
      : reject("PACKAGE_INVALID", `terms.${field} is not a non-negative integer`, { field, value: v });
  if (typeof raw.salt !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(raw.salt)) {
    reject("PACKAGE_INVALID", "terms.salt is not 32 bytes of hex", { value: raw.salt });
  }
  return {
    buyer: addr(raw.buyer, "buyer"),
    seller: addr(raw.seller, "seller"),
    token: addr(raw.token, "token"),
    feeRecipient: addr(raw.feeRecipient, "feeRecipient"),
    recorder: addr(raw.recorder, "recorder"),
    arbiter: addr(raw.arbiter, "arbiter"),
    deposit: amount(raw.deposit, "deposit"),
    upfrontFee: amount(raw.upfrontFee, "upfrontFee"),
    feeFixed: amount(raw.feeFixed, "feeFixed"),
    feeCap: amount(raw.feeCap, "feeCap"),
    feeBps: int(raw.feeBps, "feeBps"),
    fallbackBps: int(raw.fallbackBps, "fallbackBps"),
    challengeWindow: int(raw.challengeWindow, "challengeWindow"),
    resolutionWindow: int(raw.resolutionWindow, "resolutionWindow"),
    serviceExpiry: int(raw.serviceExpiry, "serviceExpiry"),
    salt: raw.salt,
  };
}

/**
 * Check an activation package against the chain registry, the buyer's policy and (with
 * `publicClient`) the deployed escrow: chain and token supported, escrow as expected, id equal to
 * the hash of the terms for this chain and escrow, buyer = this wallet, amounts within the
 * policy, token allowlisted and not paused, fees within the escrow's caps, agreement not yet
 * active. Nothing is signed here; every refusal is a {@link ClientError}.
 */
export async function verifyActivationPackage(
  pkg: ActivationPackage,
  policy: BuyerPolicy,
  publicClient?: PublicClient,
): Promise<VerifiedActivation> {
  if (typeof pkg !== "object" || pkg === null || typeof pkg.agreementId !== "string" || typeof pkg.terms !== "object") {
    reject("PACKAGE_INVALID", "the activation package is not an object with agreementId and terms", {});
  }
  if (policy.chainId !== undefined && pkg.chainId !== policy.chainId) {
    reject("CHAIN_MISMATCH", `the package is for chain ${pkg.chainId}, expected ${policy.chainId}`, {
      chainId: pkg.chainId,
    });
  }
  const chain = getChain(pkg.chainId);
  const terms = toTerms(pkg.terms);
  const token = getToken(chain.chainId, terms.token);
  if (!isAddress(pkg.escrow, { strict: false }) || getAddress(pkg.escrow) !== getAddress(policy.escrow)) {
    reject("PACKAGE_MISMATCH", `escrow ${pkg.escrow} is not the expected ${policy.escrow}`, {
      escrow: pkg.escrow,
      expected: policy.escrow,
    });
  }
  const escrow = getAddress(policy.escrow);
  if (terms.buyer !== getAddress(policy.buyer)) {
    reject("SIGNER_MISMATCH", `the package's buyer ${terms.buyer} is not this wallet ${policy.buyer}`, {
      buyer: terms.buyer,
    });
  }
  for (const role of ["seller", "recorder", "arbiter", "feeRecipient"] as const) {
    const expected = policy.parties[role];
    if (expected !== undefined && getAddress(expected) !== terms[role]) {
      reject("PACKAGE_MISMATCH", `the package's ${role} ${terms[role]} is not the proposed ${expected}`, {
        role,
        actual: terms[role],
        expected,
      });
    }
  }
  const minWindow = policy.minChallengeWindow ?? 300;
  if (terms.challengeWindow < minWindow) {
    reject("PACKAGE_INVALID", `challenge window ${terms.challengeWindow}s is shorter than ${minWindow}s`, {
      challengeWindow: terms.challengeWindow,
    });
  }
  const id = agreementId(terms, { chainId: chain.chainId, escrow });
  if (id !== pkg.agreementId.toLowerCase()) {
    reject("PACKAGE_MISMATCH", `agreement id ${pkg.agreementId} is not the hash of these terms (${id})`, {
      claimed: pkg.agreementId,
      computed: id,
    });
  }
  const maxDeposit = policy.maxDeposit[token.symbol];
  if (terms.deposit === 0n || maxDeposit === undefined || terms.deposit > maxDeposit) {
    reject(
      "AMOUNT_ABOVE_CAP",
      `deposit ${terms.deposit} ${token.symbol} is zero or above the cap ${maxDeposit ?? 0n}`,
      { deposit: terms.deposit, cap: maxDeposit },
    );
  }
  const maxUpfront = policy.maxUpfrontFee?.[token.symbol] ?? 0n;
  if (terms.upfrontFee > maxUpfront) {
    reject("AMOUNT_ABOVE_CAP", `upfront fee ${terms.upfrontFee} is above the cap ${maxUpfront}`, {
      upfrontFee: terms.upfrontFee,
      cap: maxUpfront,
    });
  }
  if (pkg.upfrontFeePending !== terms.upfrontFee > 0n) {
    reject("PACKAGE_INVALID", "upfrontFeePending disagrees with the terms' upfront fee", {
      upfrontFeePending: pkg.upfrontFeePending,
      upfrontFee: terms.upfrontFee,
    });
  }
  if (terms.feeBps > (policy.maxFeeBps ?? 1_000)) {
    reject("AMOUNT_ABOVE_CAP", `settlement fee ${terms.feeBps} bps is above the cap`, { feeBps: terms.feeBps });
  }
  if (terms.fallbackBps > 10_000)
    reject("PACKAGE_INVALID", "fallbackBps is above 100%", { fallbackBps: terms.fallbackBps });
  if (terms.serviceExpiry <= Math.floor(Date.now() / 1000) && !publicClient) {
    reject("PACKAGE_INVALID", "the service expiry has passed", { serviceExpiry: terms.serviceExpiry });
  }

  if (publicClient) {
    const chainId = await publicClient.getChainId();
    if (chainId !== chain.chainId)
      reject("CHAIN_MISMATCH", `the client is on chain ${chainId}, the package on ${chain.chainId}`, { chainId });
    const [onChainId, config, view, block] = await Promise.all([
      publicClient.readContract({
        address: escrow,
        abi: agentEscrowAbi,
        functionName: "agreementId",
        args: [encodeTerms(terms)],
      }),
      publicClient.readContract({
        address: escrow,
        abi: agentEscrowAbi,
        functionName: "tokenConfig",
        args: [token.address],
      }),
      publicClient.readContract({
        address: escrow,
        abi: agentEscrowAbi,
        functionName: "getAgreement",
        args: [encodeTerms(terms)],
      }),
      publicClient.getBlock(),
    ]);
    if (onChainId !== id)
      reject("PACKAGE_MISMATCH", "the escrow computes another id for these terms", { onChainId, id });
    if (!config.allowed || config.paused) {
      reject("TOKEN_NOT_ALLOWED", `${token.symbol} is ${config.allowed ? "paused" : "not allowlisted"} at the escrow`, {
        token: token.address,
      });
    }
    if (
      terms.feeBps > config.maxFeeBps ||
      terms.feeFixed > config.maxFeeFixed ||
      terms.upfrontFee > config.maxUpfrontFee
    ) {
      reject("AMOUNT_ABOVE_CAP", "the terms' fees exceed the escrow's caps", { caps: config });
    }
    if (view.status !== 0) reject("PACKAGE_INVALID", `agreement ${id} is already activated`, { status: view.status });
    if (BigInt(terms.serviceExpiry) <= block.timestamp) {
      reject("PACKAGE_INVALID", "the service expiry has passed", { serviceExpiry: terms.serviceExpiry });
    }
  }
  return {
    chain,
    token,
    terms,
    id,
    escrow,
    tokenDomain: domainOf(chain.chainId, token.address, policy.allowUnconfirmedDomains ?? false),
    upfrontFeePending: pkg.upfrontFeePending,
  };
}

/** The signatures the buyer sends with `POST .../activate-escrow`. */
export type ActivationSignatures = {
  agreementId: Hex;
  terms: Hex;
  /** The buyer's `ReceiveWithAuthorization` to the escrow (the only form the escrow accepts). */
  fundingAuthorization: { validAfter: string; validBefore: string; signature: Hex };
  feePermit?: { value: string; deadline: string; nonce: string; signature: Hex };
};

/**
 * Sign, locally, the deposit authorization (nonce = agreement id, to = escrow) and, when the
 * package says an upfront fee is pending, the fee permit for the escrow. `permitNonce` is the
 * token's `nonces(buyer)`; pass `publicClient` to read it.
 */
export async function signActivation(
  signer: TypedDataSigner,
  verified: VerifiedActivation,
  options: {
    validBefore: bigint;
    permitNonce?: bigint;
    publicClient?: PublicClient;
    permitDeadline?: bigint;
  },
): Promise<ActivationSignatures> {
  if (getAddress(signer.address) !== verified.terms.buyer) {
    reject("SIGNER_MISMATCH", `signer ${signer.address} is not the buyer ${verified.terms.buyer}`, {
      signer: signer.address,
    });
  }
  // Always the receive form: only the escrow can execute it, so nobody can submit it to the token
  // directly and leave the deposit in the escrow without an agreement.
  const signature = await signAuthorization(
    signer,
    verified.tokenDomain,
    {
      from: verified.terms.buyer,
      to: verified.escrow,
      value: verified.terms.deposit,
      validAfter: 0n,
      validBefore: options.validBefore,
      nonce: verified.id,
    },
    "receive",
  );
  const result: ActivationSignatures = {
    agreementId: verified.id,
    terms: encodeTerms(verified.terms),
    fundingAuthorization: { validAfter: "0", validBefore: options.validBefore.toString(), signature },
  };
  if (verified.upfrontFeePending) {
    const nonce =
      options.permitNonce ??
      (options.publicClient
        ? await options.publicClient.readContract({
            address: verified.token.address,
            abi: fiatTokenAbi,
            functionName: "nonces",
            args: [verified.terms.buyer],
          })
        : reject("PACKAGE_INVALID", "an upfront fee is pending: pass permitNonce or publicClient", {}));
    const deadline = options.permitDeadline ?? options.validBefore;
    const permitSignature = await signPermit(signer, verified.tokenDomain, {
      owner: verified.terms.buyer,
      spender: verified.escrow,
      value: verified.terms.upfrontFee,
      nonce,
      deadline,
    });
    result.feePermit = {
      value: verified.terms.upfrontFee.toString(),
      deadline: deadline.toString(),
      nonce: nonce.toString(),
      signature: permitSignature,
    };
  }
  return result;
}
