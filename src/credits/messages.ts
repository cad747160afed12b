import { type Address, type Hex, isAddress, type LocalAccount } from "viem";
import { payloadHash } from "./canonical-json.ts";
import { CreditsError } from "./errors.ts";
import { validateCreditPack } from "./packs.ts";

/** A 32-byte value as `0x` followed by 64 hex characters (an EIP-3009 nonce or a transaction hash). */
export type Hex32 = Hex;

/**
 * What a sponsor message is bound to: the `authorization.nonce` of the X-PAYMENT envelope on the
 * x402 header-handshake path, or the transaction hash on the self-broadcast path.
 */
export type SponsorReference =
  | { readonly kind: "nonce"; readonly nonce: Hex32 }
  | { readonly kind: "tx"; readonly transactionHash: Hex32 };

/** Fields of the human sponsor's message authorizing payer -> recipient credit allocation. */
export interface SponsorMessageInput {
  /** The human wallet paying the USDC (and signing this message). */
  readonly payer: Address;
  /** The agent wallet receiving the credits. */
  readonly recipient: Address;
  /** The pack size, a positive multiple of 500. */
  readonly credits: number;
  readonly reference: SponsorReference;
}

/** Fields of a signed runtime call (tool invocation, workflow or job operation). */
export interface RuntimeMessageInput {
  /** The agent wallet signing the call. */
  readonly wallet: Address;
  /** The nonce from `POST /api/external/auth/session`. */
  readonly sessionNonce: string;
  /** A request id unique per signed call. */
  readonly requestId: string;
  /** The action, for example `invoke`. */
  readonly action: string;
  /** The product id the call targets. */
  readonly productId: string;
  /** The call's parameters, hashed into the `payload:` line via canonical JSON. */
  readonly parameters: unknown;
}

/** Fields of a signed balance query. */
export interface BalanceMessageInput {
  readonly wallet: Address;
  readonly sessionNonce: string;
  readonly requestId: string;
}

/** Anything that EIP-191 personal-signs for an address, such as a viem `LocalAccount`. */
export type MessageSigner = Pick<LocalAccount, "address" | "signMessage">;

/** An EIP-191 message and its signature. */
export interface SignedMessage {
  readonly message: string;
  readonly signature: Hex;
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/;

function invalid(message: string, details: Record<string, unknown>, cause?: unknown): never {
  throw new CreditsError("SIGNED_MESSAGE_INVALID", message, details, cause === undefined ? undefined : { cause });
}

function lowerAddress(field: string, value: unknown): string {
  if (typeof value !== "string" || !isAddress(value)) invalid(`${field} is not a valid address`, { field, value });
  return value.toLowerCase();
}

function lowerHex32(field: string, value: unknown): string {
  if (typeof value !== "string" || !HEX32.test(value)) {
    invalid(`${field} must be 0x followed by 64 hex characters`, { field, value });
  }
  return value.toLowerCase();
}

/** A free-text field: non-empty, and no CR or LF that would forge extra message lines. */
function lineField(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || /[\r\n]/.test(value)) {
    invalid(`${field} must be a non-empty string without line breaks`, { field, value });
  }
  return value;
}

function validCredits(credits: number): number {
  try {
    return validateCreditPack(credits).credits;
  } catch (error) {
    if (!(error instanceof CreditsError)) throw error;
    return invalid(error.message, { field: "credits", ...error.details }, error);
  }
}

function sponsorReferenceLine(reference: SponsorReference): string {
  switch (reference?.kind) {
    case "nonce":
      return `nonce:${lowerHex32("nonce", reference.nonce)}`;
    case "tx":
      return `tx:${lowerHex32("transactionHash", reference.transactionHash)}`;
    default:
      return invalid('sponsor reference kind must be "nonce" or "tx"', { field: "reference", value: reference });
  }
}

/**
 * The sponsor message a human payer signs to allocate purchased credits to an agent wallet:
 * addresses and the reference lowercased; the nonce must be the X-PAYMENT authorization nonce.
 * Throws {@link CreditsError} `SIGNED_MESSAGE_INVALID` on any invalid field.
 */
export function sponsorMessage(input: SponsorMessageInput): string {
  return [
    "agentpmt-external-sponsor",
    `payer:${lowerAddress("payer", input.payer)}`,
    `recipient:${lowerAddress("recipient", input.recipient)}`,
    `credits:${validCredits(input.credits)}`,
    sponsorReferenceLine(input.reference),
  ].join("\n");
}

function signedCallMessage(
  wallet: Address,
  sessionNonce: string,
  requestId: string,
  action: string,
  product: string,
  payload: string,
): string {
  return [
    "agentpmt-external",
    `wallet:${lowerAddress("wallet", wallet)}`,
    `session:${lineField("sessionNonce", sessionNonce)}`,
    `request:${lineField("requestId", requestId)}`,
    `action:${lineField("action", action)}`,
    `product:${lineField("productId", product)}`,
    `payload:${payload}`,
  ].join("\n");
}

/**
 * The message signed for a runtime call; its `payload:` line is {@link payloadHash} of the
 * parameters. Throws {@link CreditsError} `SIGNED_MESSAGE_INVALID` on any invalid field.
 */
export function runtimeMessage(input: RuntimeMessageInput): string {
  return signedCallMessage(
    input.wallet,
    input.sessionNonce,
    input.requestId,
    input.action,
    input.productId,
    payloadHash(input.parameters),
  );
}

/**
 * The message signed for a balance query: action `balance`, product `-`, and an empty
 * `payload:` line. Throws {@link CreditsError} `SIGNED_MESSAGE_INVALID` on any invalid field.
 */
export function balanceMessage(input: BalanceMessageInput): string {
  return signedCallMessage(input.wallet, input.sessionNonce, input.requestId, "balance", "-", "");
}

function requireSigner(account: MessageSigner, field: string, expected: Address): void {
  if (account.address.toLowerCase() !== expected.toLowerCase()) {
    invalid(`the signing account is not the ${field}`, { field, expected, signer: account.address });
  }
}

async function sign(account: MessageSigner, message: string): Promise<SignedMessage> {
  return { message, signature: await account.signMessage({ message }) };
}

/** Build and EIP-191 sign {@link sponsorMessage}; the account must be the payer. */
export async function signSponsorMessage(account: MessageSigner, input: SponsorMessageInput): Promise<SignedMessage> {
  const message = sponsorMessage(input);
  requireSigner(account, "payer", input.payer);
  return sign(account, message);
}

/** Build and EIP-191 sign {@link runtimeMessage}; the account must be the wallet. */
export async function signRuntimeCall(account: MessageSigner, input: RuntimeMessageInput): Promise<SignedMessage> {
  const message = runtimeMessage(input);
  requireSigner(account, "wallet", input.wallet);
  return sign(account, message);
}

/** Build and EIP-191 sign {@link balanceMessage}; the account must be the wallet. */
export async function signBalanceCall(account: MessageSigner, input: BalanceMessageInput): Promise<SignedMessage> {
  const message = balanceMessage(input);
  requireSigner(account, "wallet", input.wallet);
  return sign(account, message);
}
