import { type Account, type Address, type Chain, type Client, getAddress, type Transport } from "viem";
import { getBlock } from "viem/actions";
import { readAgreement } from "../actions/escrow/readAgreement.ts";
import { readAgreementId } from "../actions/escrow/readAgreementId.ts";
import { readTokenConfig } from "../actions/escrow/readTokenConfig.ts";
import { guarded } from "../actions/execute.ts";
import { readAuthorizationState, readIsBlacklisted, readPermitNonce } from "../actions/token/reads.ts";
import {
  type ChainInfo,
  ChainRegistryError,
  findChain,
  findToken,
  type TokenInfo,
  tokenDomain,
} from "../chains/index.ts";
import {
  type AgreementRef,
  signAuthorization,
  signPermit,
  type TokenDomainFields,
  type TypedDataSigner,
} from "../eip712/index.ts";
import {
  type ActivationPackage,
  type ActivationSignaturesJson,
  parseActivationPackage,
  serializeActivationSignatures,
  WireError,
} from "../wire/index.ts";
import { ClientError } from "./errors.ts";

type AnyClient = Client<Transport, Chain | undefined, Account | undefined>;

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

/** A package that passed every check: the agreement, and the domain to sign its deposit with. */
export type VerifiedActivation = {
  readonly agreement: AgreementRef;
  readonly chain: ChainInfo;
  readonly token: TokenInfo;
  readonly tokenDomain: TokenDomainFields;
  readonly upfrontFeePending: boolean;
};

/**
 * Step 1, parse: the package's fields and its id against its terms (no policy, no chain).
 * @throws {ClientError} `PACKAGE_INVALID`, `PACKAGE_MISMATCH` (the id is not the hash of the terms).
 */
export function parsePackage(json: unknown): ActivationPackage {
  try {
    return parseActivationPackage(json);
  } catch (cause) {
    if (cause instanceof WireError) {
      const d = cause.details;
      if ("claimed" in d) {
        throw new ClientError(
          "PACKAGE_MISMATCH",
          cause.message,
          { field: d.field, actual: d.claimed, expected: d.computed },
          { cause },
        );
      }
      const field = "field" in d ? d.field : "package";
      throw new ClientError("PACKAGE_INVALID", cause.message, { field, value: json }, { cause });
    }
    throw cause;
  }
}

function refuse(field: string, actual: unknown, expected: unknown): never {
  throw new ClientError("PACKAGE_MISMATCH", `the package's ${field} ${String(actual)} is not ${String(expected)}`, {
    field,
    actual,
    expected,
  });
}

function capped(field: string, amount: bigint, cap: bigint | undefined): void {
  if (cap === undefined || amount > cap) {
    throw new ClientError("AMOUNT_ABOVE_CAP", `${field} ${amount} is above the cap ${cap ?? 0n}`, {
      field,
      amount,
      cap,
    });
  }
}

/**
 * Step 2, policy: the buyer's own rules, with no chain access. Chain and token in the registry
 * (with a confirmed EIP-712 domain unless allowed), the escrow, buyer and parties the buyer
 * expects, deposit, upfront fee and fee rate within the buyer's caps, a long enough challenge
 * window, a service expiry in the future.
 *
 * @throws {ClientError} `CHAIN_UNSUPPORTED`, `CHAIN_MISMATCH`, `TOKEN_NOT_ALLOWED`, `PACKAGE_MISMATCH`,
 * `SIGNER_MISMATCH`, `AMOUNT_ABOVE_CAP`, `TERMS_REFUSED`, `PACKAGE_INVALID`.
 */
export function checkActivationPolicy(
  pkg: ActivationPackage,
  policy: BuyerPolicy,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): VerifiedActivation {
  const { agreement } = pkg;
  const terms = agreement.terms;
  if (policy.chainId !== undefined && agreement.chainId !== policy.chainId) {
    throw new ClientError(
      "CHAIN_MISMATCH",
      `the package is for chain ${agreement.chainId}, expected ${policy.chainId}`,
      {
        chainId: agreement.chainId,
        expected: policy.chainId,
      },
    );
  }
  const chain = findChain(agreement.chainId);
  if (!chain) {
    throw new ClientError("CHAIN_UNSUPPORTED", `chain ${agreement.chainId} is not in the registry`, {
      chainId: agreement.chainId,
    });
  }
  const token = findToken(chain.chainId, terms.token);
  if (!token) {
    throw new ClientError("TOKEN_NOT_ALLOWED", `${terms.token} is not a registry token on ${chain.name}`, {
      chainId: chain.chainId,
      token: terms.token,
      reason: "not in the registry",
    });
  }
  let domain: TokenDomainFields;
  try {
    domain = tokenDomain(chain.chainId, token.address, { allowUnconfirmed: policy.allowUnconfirmedDomains ?? false });
  } catch (cause) {
    if (!(cause instanceof ChainRegistryError)) throw cause;
    throw new ClientError(
      "TOKEN_NOT_ALLOWED",
      cause.message,
      { chainId: chain.chainId, token: token.address, reason: cause.code },
      { cause },
    );
  }
  if (agreement.escrow !== getAddress(policy.escrow)) refuse("escrow", agreement.escrow, policy.escrow);
  if (terms.buyer !== getAddress(policy.buyer)) {
    throw new ClientError("SIGNER_MISMATCH", `the package's buyer ${terms.buyer} is not this wallet ${policy.buyer}`, {
      signer: policy.buyer,
      expected: terms.buyer,
    });
  }
  for (const role of ["seller", "recorder", "arbiter", "feeRecipient"] as const) {
    const expected = policy.parties[role];
    if (expected !== undefined && getAddress(expected) !== terms[role]) refuse(role, terms[role], expected);
  }
  if (terms.recorder === terms.buyer) refuse("recorder", terms.recorder, "another address than the buyer's");
  if (terms.deposit === 0n)
    throw new ClientError("PACKAGE_INVALID", "the deposit is zero", { field: "deposit", value: 0n });
  capped("deposit", terms.deposit, policy.maxDeposit[token.symbol]);
  capped("upfrontFee", terms.upfrontFee, policy.maxUpfrontFee?.[token.symbol] ?? 0n);
  capped("feeBps", BigInt(terms.feeBps), BigInt(policy.maxFeeBps ?? 1_000));
  if (pkg.upfrontFeePending !== terms.upfrontFee > 0n) {
    throw new ClientError("PACKAGE_INVALID", "upfrontFeePending disagrees with the terms' upfront fee", {
      field: "upfrontFeePending",
      value: pkg.upfrontFeePending,
    });
  }
  if (terms.fallbackBps > 10_000) {
    throw new ClientError("PACKAGE_INVALID", "fallbackBps is above 100%", {
      field: "fallbackBps",
      value: terms.fallbackBps,
    });
  }
  const minWindow = policy.minChallengeWindow ?? 300;
  if (terms.challengeWindow < minWindow) {
    throw new ClientError("TERMS_REFUSED", `challenge window ${terms.challengeWindow}s is shorter than ${minWindow}s`, {
      field: "challengeWindow",
      value: terms.challengeWindow,
      limit: minWindow,
    });
  }
  if (terms.serviceExpiry <= nowSeconds) {
    throw new ClientError("TERMS_REFUSED", "the service expiry has passed", {
      field: "serviceExpiry",
      value: terms.serviceExpiry,
      limit: nowSeconds,
    });
  }
  return { agreement, chain, token, tokenDomain: domain, upfrontFeePending: pkg.upfrontFeePending };
}

/**
 * Step 3, chain: what the escrow and the token say now. The client is on the package's chain;
 * the escrow computes the same id (it is the contract the id was made for); the token is
 * allowlisted, not paused, and the terms' fees within the escrow's caps; the agreement is not
 * activated and its authorization nonce unused; neither buyer nor seller is blacklisted by the
 * token; the service expiry is ahead of the chain's clock.
 *
 * @throws {ClientError} `CHAIN_MISMATCH`, `PACKAGE_MISMATCH`, `TOKEN_NOT_ALLOWED`, `AMOUNT_ABOVE_CAP`,
 * `AGREEMENT_EXISTS`, `PARTY_BLACKLISTED`, `TERMS_REFUSED`; {ActionError} `RPC_FAILED`.
 */
export async function checkActivationOnChain(client: AnyClient, verified: VerifiedActivation): Promise<void> {
  const { agreement, token } = verified;
  const { terms } = agreement;
  const chainId = await guarded("getChainId", agreement.escrow, () => client.request({ method: "eth_chainId" }));
  if (Number(chainId) !== agreement.chainId) {
    throw new ClientError(
      "CHAIN_MISMATCH",
      `the client is on chain ${Number(chainId)}, the package on ${agreement.chainId}`,
      {
        chainId: Number(chainId),
        expected: agreement.chainId,
      },
    );
  }
  const [onChainId, config, view, used, buyerFrozen, sellerFrozen, block] = await Promise.all([
    readAgreementId(client, agreement),
    readTokenConfig(client, agreement.escrow, token.address),
    readAgreement(client, agreement),
    readAuthorizationState(client, token.address, terms.buyer, agreement.id),
    readIsBlacklisted(client, token.address, terms.buyer),
    readIsBlacklisted(client, token.address, terms.seller),
    guarded("getBlock", agreement.escrow, () => getBlock(client)),
  ]);
  if (onChainId !== agreement.id) refuse("agreementId", agreement.id, `the escrow's id ${onChainId}`);
  if (!config.allowed || config.paused) {
    throw new ClientError(
      "TOKEN_NOT_ALLOWED",
      `${token.symbol} is ${config.allowed ? "paused" : "not allowlisted"} at the escrow`,
      {
        chainId: agreement.chainId,
        token: token.address,
        reason: config.allowed ? "paused" : "not allowlisted",
      },
    );
  }
  capped("feeBps", BigInt(terms.feeBps), BigInt(config.maxFeeBps));
  capped("feeFixed", terms.feeFixed, config.maxFeeFixed);
  capped("upfrontFee", terms.upfrontFee, config.maxUpfrontFee);
  if (view.status !== "none" || used) {
    throw new ClientError("AGREEMENT_EXISTS", `agreement ${agreement.id} is already ${used ? "funded" : view.status}`, {
      id: agreement.id,
      status: view.status,
    });
  }
  for (const [role, frozen, account] of [
    ["buyer", buyerFrozen, terms.buyer],
    ["seller", sellerFrozen, terms.seller],
  ] as const) {
    if (frozen) {
      throw new ClientError("PARTY_BLACKLISTED", `the token has blacklisted the ${role} ${account}`, { role, account });
    }
  }
  if (BigInt(terms.serviceExpiry) <= block.timestamp) {
    throw new ClientError("TERMS_REFUSED", "the service expiry has passed on chain", {
      field: "serviceExpiry",
      value: terms.serviceExpiry,
      limit: Number(block.timestamp),
    });
  }
}

/**
 * Check an activation package before signing it, in three steps: parse ({@link parsePackage}),
 * the buyer's policy ({@link checkActivationPolicy}) and, with `client`, the chain
 * ({@link checkActivationOnChain}). Nothing is signed here.
 *
 * @example
 * const verified = await verifyActivationPackage(await res.json(), policy, publicClient);
 * @throws {ClientError} for every refusal (codes above); {ActionError} `RPC_FAILED` when the chain cannot be read.
 */
export async function verifyActivationPackage(
  json: unknown,
  policy: BuyerPolicy,
  client?: AnyClient,
): Promise<VerifiedActivation> {
  const verified = checkActivationPolicy(parsePackage(json), policy);
  if (client) await checkActivationOnChain(client, verified);
  return verified;
}

/**
 * Sign, locally, the deposit authorization (a `ReceiveWithAuthorization`: nonce = agreement id,
 * to = escrow, value = deposit) and, when an upfront fee is pending, the fee permit for the escrow.
 * Returns the body of `POST .../activate-escrow`. `permitNonce` is the token's `nonces(buyer)`;
 * pass `publicClient` to read it.
 *
 * @example
 * const body = await signActivation(account, verified, { validBefore: BigInt(now + 600), publicClient });
 * @throws {ClientError} `SIGNER_MISMATCH`, `INPUT_MISSING`, `OPTION_INVALID`; {ActionError} `RPC_FAILED`.
 */
export async function signActivation(
  signer: TypedDataSigner,
  verified: VerifiedActivation,
  options: {
    validBefore: bigint;
    validAfter?: bigint;
    permitNonce?: bigint;
    publicClient?: AnyClient;
    permitDeadline?: bigint;
  },
): Promise<ActivationSignaturesJson> {
  const { agreement } = verified;
  const { terms } = agreement;
  if (getAddress(signer.address) !== terms.buyer) {
    throw new ClientError("SIGNER_MISMATCH", `signer ${signer.address} is not the buyer ${terms.buyer}`, {
      signer: signer.address,
      expected: terms.buyer,
    });
  }
  const validAfter = options.validAfter ?? 0n;
  if (options.validBefore <= validAfter || options.validBefore >= 2n ** 40n) {
    throw new ClientError("OPTION_INVALID", "validBefore must be after validAfter and below 2^40", {
      option: "validBefore",
      value: options.validBefore,
    });
  }
  // The receive form: only the escrow can execute it, so nobody can submit it to the token
  // directly and leave the deposit in the escrow without an agreement.
  const signature = await signAuthorization(
    signer,
    verified.tokenDomain,
    {
      from: terms.buyer,
      to: agreement.escrow,
      value: terms.deposit,
      validAfter,
      validBefore: options.validBefore,
      nonce: agreement.id,
    },
    "receive",
  );
  const authorization = { validAfter, validBefore: options.validBefore, signature };
  if (!verified.upfrontFeePending) return serializeActivationSignatures({ agreement, authorization });

  let nonce = options.permitNonce;
  if (nonce === undefined) {
    if (!options.publicClient) {
      throw new ClientError("INPUT_MISSING", "an upfront fee is pending: pass permitNonce or publicClient", {
        input: "permitNonce",
      });
    }
    nonce = await readPermitNonce(options.publicClient, verified.token.address, terms.buyer);
  }
  const deadline = options.permitDeadline ?? options.validBefore;
  const permitSignature = await signPermit(signer, verified.tokenDomain, {
    owner: terms.buyer,
    spender: agreement.escrow,
    value: terms.upfrontFee,
    nonce,
    deadline,
  });
  return serializeActivationSignatures({
    agreement,
    authorization,
    feePermit: { value: terms.upfrontFee, deadline, nonce, signature: permitSignature },
  });
}
