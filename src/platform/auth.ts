import { randomBytes } from "node:crypto";
import { type Address, getAddress, type Hex, isAddress, isHex, verifyMessage } from "viem";
import { runtimeMessage } from "../credits/index.ts";
import type { Sql } from "../relayer/index.ts";
import { PlatformError } from "./errors.ts";

/** Headers of a signed agent request: the seeds' runtime message, carried beside the body. */
export const SIGNED_HEADERS = {
  wallet: "x-wallet-address",
  session: "x-session-nonce",
  requestId: "x-request-id",
  signature: "x-signature",
} as const;

/** How long a session nonce is valid. */
const SESSION_SECONDS = 3_600;

/** Create a session nonce for `wallet` (`POST /api/external/auth/session`). */
export async function createSession(sql: Sql, wallet: Address): Promise<{ nonce: string; expiresAt: Date }> {
  const nonce = randomBytes(24).toString("hex");
  const { rows } = await sql.query<{ expires_at: Date | string }>(
    `INSERT INTO platform_sessions (nonce, wallet, expires_at)
     VALUES ($1, $2, now() + ($3::integer * interval '1 second')) RETURNING expires_at`,
    [nonce, wallet.toLowerCase(), SESSION_SECONDS],
  );
  return { nonce, expiresAt: new Date(rows[0]?.expires_at ?? Date.now()) };
}

/**
 * Verify a signed agent request: the EIP-191 signature of the seeds' runtime message
 * (`agentpmt-external`, wallet, session, request, action, product, payload = sha256 of the
 * canonical JSON of the body) by the wallet, a live session nonce of that wallet, and a request id
 * never used before by it (recorded now: a replay is refused). Returns the wallet.
 */
export async function verifySignedRequest(
  sql: Sql,
  request: {
    readonly headers: (name: string) => string | undefined;
    readonly action: string;
    readonly productId: string;
    readonly body: unknown;
  },
): Promise<Address> {
  const wallet = request.headers(SIGNED_HEADERS.wallet);
  const session = request.headers(SIGNED_HEADERS.session);
  const requestId = request.headers(SIGNED_HEADERS.requestId);
  const signature = request.headers(SIGNED_HEADERS.signature);
  if (!wallet || !isAddress(wallet, { strict: false }) || !session || !requestId || !signature || !isHex(signature)) {
    throw new PlatformError(
      "SIGNATURE_INVALID",
      "this endpoint needs a signed request (x-wallet-address, x-session-nonce, x-request-id, x-signature)",
      {
        wallet: wallet ?? null,
        reason: "headers missing",
      },
    );
  }
  let message: string;
  try {
    message = runtimeMessage({
      wallet,
      sessionNonce: session,
      requestId,
      action: request.action,
      productId: request.productId,
      parameters: request.body ?? {},
    });
  } catch (cause) {
    throw new PlatformError(
      "SIGNATURE_INVALID",
      "the signed fields are malformed",
      { wallet, reason: "fields" },
      { cause },
    );
  }
  const valid = await verifyMessage({ address: wallet, message, signature: signature as Hex }).catch(() => false);
  if (!valid)
    throw new PlatformError("SIGNATURE_INVALID", "the signature is not the wallet's", { wallet, reason: "signature" });
  const use = await useRequest(sql, wallet, session, requestId);
  if (use === "session") {
    throw new PlatformError("SESSION_INVALID", "the session nonce is unknown or expired", { wallet, session });
  }
  if (use === "replayed") {
    throw new PlatformError("REQUEST_REPLAYED", `request ${requestId} was used before`, { wallet, requestId });
  }
  return getAddress(wallet);
}

/**
 * Use a signed request's id, in one statement: the session must be live and the wallet's, and the
 * request id unused by that wallet (it is recorded now, so a replay is refused).
 */
export async function useRequest(
  sql: Sql,
  wallet: string,
  session: string,
  requestId: string,
): Promise<"ok" | "session" | "replayed"> {
  const { rows } = await sql.query<{ live: boolean; fresh: boolean }>(
    `WITH live AS (
       SELECT 1 FROM platform_sessions WHERE nonce = $1 AND wallet = $2 AND expires_at > now()
     ), fresh AS (
       INSERT INTO platform_requests (wallet, request_id) SELECT $2, $3 WHERE EXISTS (SELECT 1 FROM live)
       ON CONFLICT DO NOTHING RETURNING 1
     )
     SELECT EXISTS (SELECT 1 FROM live) AS live, EXISTS (SELECT 1 FROM fresh) AS fresh`,
    [session, wallet.toLowerCase(), requestId],
  );
  if (!rows[0]?.live) return "session";
  return rows[0]?.fresh ? "ok" : "replayed";
}
