import {
  type Account,
  type Address,
  type Chain,
  type Client,
  getAddress,
  type Hex,
  isAddress,
  isAddressEqual,
  isErc6492Signature,
  parseErc6492Signature,
  recoverTypedDataAddress,
  size,
  type Transport,
} from "viem";
import { getChainId, getCode, simulateContract, verifyTypedData } from "viem/actions";
import { fiatTokenAbi } from "../../abi/index.ts";
import { ActionError, readAuthorizationState, readBalance, toActionError } from "../../actions/index.ts";
import { type ChainInfo, findChain, findToken, parseCaip2, type TokenInfo } from "../../chains/index.ts";
import { type Authorization, transferWithAuthorizationTypes } from "../../eip712/index.ts";
import { AgentEscrowError } from "../../errors.ts";
import {
  parseAddress,
  parseBytes32,
  parseDecimal,
  parseHexBytes,
  parseObject,
  parseRequirements,
} from "../../wire/index.ts";
import { FacilitatorError } from "./errors.ts";
import {
  DEFAULT_VALID_BEFORE_MARGIN_SECONDS,
  type ExactVerifyInvalidReason,
  type VerifyExactPaymentParameters,
  type VerifyExactPaymentResult,
} from "./types.ts";

type Refusal = Extract<VerifyExactPaymentResult, { isValid: false }>;

/** What the checks without the chain established, for the checks on it. */
type Checked = {
  readonly payer: Address;
  readonly chain: ChainInfo;
  readonly token: TokenInfo;
  readonly authorization: Authorization;
  /** The signature to verify and settle with (unwrapped when it came ERC-6492-wrapped). */
  readonly signature: Hex;
  readonly erc6492: boolean;
  /** Whether the signature recovers to `from` by ECDSA: an EOA's valid signature. */
  readonly recovers: boolean;
};

function refuse(invalidReason: ExactVerifyInvalidReason, message: string, payer: Address | undefined): Refusal {
  return { isValid: false, invalidReason, ...(payer !== undefined ? { payer } : {}), message };
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Run a parser of the wire layer; its refusal becomes a message. */
function attempt<T>(parse: () => T): { ok: true; value: T } | { ok: false; message: string } {
  try {
    return { ok: true, value: parse() };
  } catch (error) {
    if (error instanceof AgentEscrowError) return { ok: false, message: error.message };
    throw error;
  }
}

/** Run a chain read made with viem directly; its failure becomes an `ActionError`. */
async function read<T>(functionName: string, address: Address, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toActionError(error, functionName, address);
  }
}

function parseAuthorization(value: unknown): Authorization {
  const a = parseObject(value, "payload.authorization");
  return {
    from: parseAddress(a.from, "payload.authorization.from"),
    to: parseAddress(a.to, "payload.authorization.to"),
    value: parseDecimal(a.value, "payload.authorization.value"),
    validAfter: parseDecimal(a.validAfter, "payload.authorization.validAfter"),
    validBefore: parseDecimal(a.validBefore, "payload.authorization.validBefore"),
    nonce: parseBytes32(a.nonce, "payload.authorization.nonce"),
  };
}

function eip155ChainId(network: string): number | undefined {
  try {
    return parseCaip2(network);
  } catch {
    return undefined;
  }
}

/** The EIP-712 typed data of the authorization under the registry's domain of `token`. */
function typedData(chain: ChainInfo, token: TokenInfo, authorization: Authorization) {
  return {
    domain: {
      name: token.domain.name,
      version: token.domain.version,
      chainId: chain.chainId,
      verifyingContract: token.address,
    },
    types: transferWithAuthorizationTypes,
    primaryType: "TransferWithAuthorization",
    message: authorization,
  } as const;
}

/** The refusal a reverted `transferWithAuthorization` simulation means, from FiatToken's reason. */
function simulationReason(reason: string): ExactVerifyInvalidReason {
  if (/signature/i.test(reason)) return "invalid_exact_evm_signature";
  if (/not yet valid/i.test(reason)) return "invalid_exact_evm_payload_authorization_valid_after";
  if (/expired/i.test(reason)) return "invalid_exact_evm_payload_authorization_valid_before";
  if (/used or canceled/i.test(reason)) return "invalid_exact_evm_nonce_already_used";
  if (/exceeds balance/i.test(reason)) return "invalid_exact_evm_insufficient_balance";
  return "invalid_exact_evm_transaction_simulation_failed";
}

/**
 * Every check that needs no chain: the envelope, the requirements, the `accepted` block against
 * them, the authorization against both, the validity window and the ECDSA recovery.
 */
async function checkOffChain(parameters: VerifyExactPaymentParameters): Promise<Checked | Refusal> {
  const { payload, requirements } = parameters;
  if (!isRecord(payload)) return refuse("invalid_payload", "the payment payload is not an object", undefined);
  const raw = isRecord(payload.payload) ? payload.payload : undefined;
  // The payer as the reference reports it: the authorization's `from` (a Permit2 payload's too).
  const signed = raw?.authorization ?? raw?.permit2Authorization;
  const from = isRecord(signed) ? signed.from : undefined;
  let payer = typeof from === "string" && isAddress(from, { strict: false }) ? getAddress(from) : undefined;

  if (payload.x402Version !== 2) {
    return refuse("invalid_x402_version", `x402Version ${String(payload.x402Version)} is not supported (2 is)`, payer);
  }
  if (raw && "permit2Authorization" in raw) {
    return refuse("unsupported_payload_type", "only EIP-3009 authorizations are settled, not Permit2", payer);
  }
  const exact = attempt(() => ({
    authorization: parseAuthorization(raw?.authorization),
    signature: parseHexBytes(raw?.signature, "payload.signature"),
  }));
  if (!exact.ok) return refuse("invalid_payload", exact.message, payer);
  const { authorization: auth, signature: sent } = exact.value;
  payer = auth.from;
  const acceptedParsed = attempt(() => parseRequirements(payload.accepted, "payload.accepted"));
  if (!acceptedParsed.ok) return refuse("invalid_payload", acceptedParsed.message, payer);
  const accepted = acceptedParsed.value;
  const required = attempt(() => {
    const r = parseRequirements(requirements, "requirements");
    return {
      r,
      asset: parseAddress(r.asset, "requirements.asset"),
      payTo: parseAddress(r.payTo, "requirements.payTo"),
      amount: parseDecimal(r.amount, "requirements.amount"),
    };
  });
  if (!required.ok) return refuse("invalid_payment_requirements", required.message, payer);
  const { r, asset, payTo, amount } = required.value;

  if (r.scheme !== "exact" || accepted.scheme !== "exact") {
    return refuse(
      "invalid_exact_evm_scheme",
      `scheme '${accepted.scheme}' paid for '${r.scheme}': only 'exact' is supported`,
      payer,
    );
  }
  if (accepted.network !== r.network) {
    return refuse(
      "invalid_exact_evm_network_mismatch",
      `the payment is for ${accepted.network}, the requirements for ${r.network}`,
      payer,
    );
  }
  const chainId = eip155ChainId(r.network);
  const chain = chainId === undefined ? undefined : findChain(chainId);
  if (!chain) return refuse("invalid_exact_evm_network_mismatch", `${r.network} is not a supported EVM network`, payer);

  const name = r.extra?.name;
  const version = r.extra?.version;
  if (typeof name !== "string" || name === "" || typeof version !== "string" || version === "") {
    return refuse(
      "invalid_exact_evm_missing_eip712_domain",
      "the requirements carry no EIP-712 domain (extra.name and extra.version)",
      payer,
    );
  }
  const token = findToken(chain.chainId, asset);
  if (!token) {
    return refuse(
      "invalid_exact_evm_eip3009_not_supported",
      `asset ${asset} is not a token settled on ${chain.name}`,
      payer,
    );
  }
  // The asset is the domain's verifying contract: a payment accepted for another asset is signed
  // for another token, which is what the reference facilitator reports.
  if (!isAddress(accepted.asset, { strict: false }) || !isAddressEqual(accepted.asset, token.address)) {
    return refuse(
      "invalid_exact_evm_signature",
      `the payment is for asset ${accepted.asset}, the requirements for ${token.symbol} ${token.address}`,
      payer,
    );
  }
  for (const [where, extra] of [
    ["requirements", r.extra],
    ["payload.accepted", accepted.extra],
  ] as const) {
    if (extra?.name !== token.domain.name) {
      return refuse(
        "invalid_exact_evm_token_name_mismatch",
        `${where}.extra.name ${JSON.stringify(extra?.name)} is not the EIP-712 name of ${token.symbol} on ${chain.name} ("${token.domain.name}")`,
        payer,
      );
    }
    if (extra?.version !== token.domain.version) {
      return refuse(
        "invalid_exact_evm_token_version_mismatch",
        `${where}.extra.version ${JSON.stringify(extra?.version)} is not the EIP-712 version of ${token.symbol} on ${chain.name} ("${token.domain.version}")`,
        payer,
      );
    }
  }

  if (!isAddress(accepted.payTo, { strict: false }) || !isAddressEqual(accepted.payTo, payTo)) {
    return refuse(
      "invalid_exact_evm_recipient_mismatch",
      `the payment was accepted for payTo ${accepted.payTo}, the requirements pay ${payTo}`,
      payer,
    );
  }
  if (!isAddressEqual(auth.to, payTo)) {
    return refuse(
      "invalid_exact_evm_recipient_mismatch",
      `the authorization pays ${auth.to}, the requirements pay ${payTo}`,
      payer,
    );
  }
  if (BigInt(accepted.amount) !== amount) {
    return refuse(
      "invalid_exact_evm_payload_authorization_value_mismatch",
      `the payment was accepted for ${accepted.amount}, the requirements ask exactly ${amount}`,
      payer,
    );
  }
  if (auth.value !== amount) {
    return refuse(
      "invalid_exact_evm_payload_authorization_value_mismatch",
      `the authorization transfers ${auth.value}, the requirements ask exactly ${amount}`,
      payer,
    );
  }

  const now = BigInt(Math.floor(parameters.nowSeconds ?? Date.now() / 1000));
  const margin = BigInt(
    Math.max(0, Math.ceil(parameters.validBeforeMarginSeconds ?? DEFAULT_VALID_BEFORE_MARGIN_SECONDS)),
  );
  if (auth.validBefore < now + margin) {
    return refuse(
      "invalid_exact_evm_payload_authorization_valid_before",
      `the authorization expires at ${auth.validBefore}, before ${now} + ${margin}s`,
      payer,
    );
  }
  if (auth.validAfter > now) {
    return refuse(
      "invalid_exact_evm_payload_authorization_valid_after",
      `the authorization is valid only after ${auth.validAfter} (now ${now})`,
      payer,
    );
  }

  const erc6492 = isErc6492Signature(sent);
  let signature = sent;
  if (erc6492) {
    try {
      signature = parseErc6492Signature(sent).signature;
    } catch {
      return refuse("invalid_exact_evm_signature", "the ERC-6492 signature cannot be unwrapped", payer);
    }
  }
  let recovers = false;
  if (!erc6492 && size(signature) === 65) {
    try {
      const signer = await recoverTypedDataAddress({ ...typedData(chain, token, auth), signature });
      recovers = isAddressEqual(signer, auth.from);
    } catch {
      recovers = false;
    }
  }
  return { payer, chain, token, authorization: auth, signature, erc6492, recovers };
}

/**
 * Verify an x402 'exact' payment (an EIP-3009 `TransferWithAuthorization` of USDC or EURC) against
 * the requirements the server advertised, as the x402 facilitator's `POST /verify` does, with the
 * reference facilitator's reason strings. Nothing is sent: a valid payment is one whose settlement
 * would succeed now.
 *
 * Checks that need no chain come first, so a tampered payment costs no RPC: x402 version 2; an
 * EIP-3009 payload; scheme 'exact'; the `accepted` block on the requirements' network, an `eip155`
 * chain of the registry; the asset a registry token there, `accepted` for the same asset; the
 * EIP-712 name and version of `requirements.extra` and `accepted.extra` the registry's for that
 * token; `accepted.payTo` and the authorization's `to` equal to `payTo` (any case); the accepted
 * amount and the authorization's `value` exactly the required `amount`; `validBefore` no earlier
 * than now + the margin (6 s), `validAfter` not after now; and the signature recovered to `from`.
 *
 * Then on the chain (the client must be on the payment's network): when the signature does not
 * recover to `from`, `from`'s code (an ERC-6492-wrapped signature of an undeployed wallet is
 * refused, as the reference does by default) and ERC-1271 through viem's `verifyTypedData`; that
 * the asset has code, the nonce is unused and the balance covers the amount; and an `eth_call` of
 * `transferWithAuthorization(…, bytes signature)` from the facilitator's address.
 *
 * @example
 * const verdict = await verifyExactPayment(publicClient, { payload, requirements });
 * if (!verdict.isValid) return Response.json({ isValid: false, invalidReason: verdict.invalidReason });
 * @returns `{ isValid: true, payer }`, or `{ isValid: false, invalidReason, payer?, message }`.
 * @throws {FacilitatorError} `CHAIN_MISMATCH` when the client is on another chain;
 * {ActionError} `RPC_FAILED` when a chain read fails (transient).
 */
export async function verifyExactPayment(
  client: Client<Transport, Chain | undefined, Account | undefined>,
  parameters: VerifyExactPaymentParameters,
): Promise<VerifyExactPaymentResult> {
  const checked = await checkOffChain(parameters);
  if ("isValid" in checked) return checked;
  const { payer, chain, token, authorization: auth, signature } = checked;

  const clientChainId = client.chain?.id ?? (await read("getChainId", token.address, () => getChainId(client)));
  if (clientChainId !== chain.chainId) {
    throw new FacilitatorError(
      "CHAIN_MISMATCH",
      `the client is on chain ${clientChainId}, the payment on ${chain.caip2}`,
      { network: chain.caip2, chainId: chain.chainId, clientChainId },
    );
  }

  if (!checked.recovers) {
    const code = await read("getCode", auth.from, () => getCode(client, { address: auth.from }));
    if (code === undefined || code === "0x") {
      return checked.erc6492
        ? refuse("eip6492_factory_not_allowed", `${auth.from} is not deployed and no wallet factory is allowed`, payer)
        : refuse("invalid_exact_evm_signature", `the signature is not ${auth.from}'s`, payer);
    }
    const valid = await read("verifyTypedData", auth.from, () =>
      verifyTypedData(client, { address: auth.from, ...typedData(chain, token, auth), signature }),
    );
    if (!valid) return refuse("invalid_exact_evm_signature", `the wallet ${auth.from} refuses the signature`, payer);
  }

  const [assetCode, used, balance] = await Promise.allSettled([
    read("getCode", token.address, () => getCode(client, { address: token.address })),
    readAuthorizationState(client, token.address, auth.from, auth.nonce),
    readBalance(client, token.address, auth.from),
  ]);
  if (assetCode.status === "rejected") throw assetCode.reason;
  if (assetCode.value === undefined || assetCode.value === "0x") {
    return refuse("asset_not_deployed_contract", `${token.symbol} has no code at ${token.address}`, payer);
  }
  if (used.status === "rejected") {
    if (used.reason instanceof ActionError && used.reason.is("CONTRACT_REVERTED")) {
      return refuse("invalid_exact_evm_eip3009_not_supported", `${token.address} has no authorizationState`, payer);
    }
    throw used.reason;
  }
  if (used.value) return refuse("invalid_exact_evm_nonce_already_used", `nonce ${auth.nonce} is used`, payer);
  if (balance.status === "rejected") throw balance.reason;
  if (balance.value < auth.value) {
    return refuse(
      "invalid_exact_evm_insufficient_balance",
      `${auth.from} holds ${balance.value}, the payment is ${auth.value}`,
      payer,
    );
  }

  if (parameters.simulate !== false) {
    const account = parameters.facilitator ?? client.account;
    try {
      await simulateContract(client, {
        address: token.address,
        abi: fiatTokenAbi,
        functionName: "transferWithAuthorization",
        args: [auth.from, auth.to, auth.value, auth.validAfter, auth.validBefore, auth.nonce, signature],
        ...(account !== undefined ? { account } : {}),
      });
    } catch (error) {
      const failure = toActionError(error, "transferWithAuthorization", token.address);
      if (!(failure instanceof ActionError && failure.is("CONTRACT_REVERTED"))) throw failure;
      const why = String(failure.details.args?.[0] ?? failure.details.errorName ?? "reverted");
      return refuse(simulationReason(why), `transferWithAuthorization would revert: ${why}`, payer);
    }
  }
  return { isValid: true, payer };
}
