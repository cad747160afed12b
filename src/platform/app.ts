import { randomUUID } from "node:crypto";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type Address, getAddress, type Hex, isAddress, keccak256, toHex } from "viem";
import { getBlock } from "viem/actions";
import { findToken } from "../chains/index.ts";
import { agreementRef, decodeTerms, type Terms } from "../eip712/index.ts";
import type { Job, Relayer, Sql } from "../relayer/index.ts";
import {
  createRelayerService,
  errorBody,
  httpStatusOf,
  jobJson,
  jsonBody,
  requireOperator,
  ServiceError,
} from "../service/index.ts";
import { parseDirectPaymentBody, serializeActivationPackage } from "../wire/index.ts";
import { createSession, verifySignedRequest } from "./auth.ts";
import { mountCredits } from "./credits.ts";
import { PlatformError } from "./errors.ts";
import { OWNER_PAGE } from "./owner-page.ts";

/** The platform's side of every agreement's terms: who records, arbitrates and collects fees, and at what rates. */
export type PlatformTerms = {
  readonly feeRecipient: Address;
  readonly arbiter: Address;
  /** Settlement fee: `usage * feeBps / 10_000 + feeFixed`, at most `feeCap` (token units). */
  readonly feeBps?: number;
  readonly feeFixed?: bigint;
  readonly feeCap?: bigint;
  /** Seller's share of disputed usage when the arbiter does not rule (default 5,000 = half). */
  readonly fallbackBps?: number;
  readonly challengeWindow?: number;
  readonly resolutionWindow?: number;
};

/** Options of {@link createPlatformService}. */
export type PlatformServiceOptions = {
  readonly relayer: Relayer;
  /** The relayer's store, which also holds the platform's tables (`migratePlatform`). */
  readonly store: Sql;
  /** The chain agreements are made on (default: the relayer's first). */
  readonly chainId?: number;
  readonly terms: PlatformTerms;
  /** Largest request body accepted, in bytes (default 64 KiB). */
  readonly maxBodyBytes?: number;
  /**
   * The operator's API key. The relayer service's endpoints are mounted beside the platform's
   * (payment requirements, policies and approvals, jobs, the x402 facilitator, health, metrics),
   * its operator endpoints behind this key.
   */
  readonly apiKey?: string;
  /** More routes on the relayer service (the facilitator's). */
  readonly mount?: (app: Hono) => void;
};

type ServiceRow = {
  id: string;
  seller: Address;
  name: string;
  description: string;
  tags: string[];
  unit_price: string;
  unit: string;
  chains: number[];
  tokens: string[];
  upstream_url: string;
};

type AgreementRow = {
  id: Hex;
  unit_price: string | null;
  deposit: string | null;
  used: string;
  usage_ended: boolean;
  service_id: string;
  buyer: Address;
  seller: Address;
  chain_id: number;
  /** The escrow's terms (null for a direct payment). */
  packed_terms: Hex | null;
  status: string;
  settlement_model: "escrow" | "direct_payment";
  direct_body: unknown;
  job_id: string | null;
};

const serviceJson = (s: ServiceRow) => ({
  service_id: s.id,
  seller_wallet: getAddress(s.seller),
  name: s.name,
  description: s.description,
  tags: s.tags,
  unit_price: String(s.unit_price),
  unit: s.unit,
  chains: s.chains.map(Number),
  tokens: s.tokens,
});

function field<T>(body: unknown, name: string, expected: string, check: (v: unknown) => v is T): T {
  const value =
    typeof body === "object" && body !== null ? Object.getOwnPropertyDescriptor(body, name)?.value : undefined;
  if (!check(value))
    throw new PlatformError("FIELD_INVALID", `${name} must be ${expected}`, { field: name, value, expected });
  return value;
}
const isText = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 2_000;
const isAmount = (v: unknown): v is string => typeof v === "string" && /^[1-9][0-9]{0,19}$/.test(v);
const isWallet = (v: unknown): v is string => typeof v === "string" && isAddress(v, { strict: false });
const isTextList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.length <= 50 && v.every((x) => typeof x === "string" && x.length > 0 && x.length <= 100);
const isChainList = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => Number.isSafeInteger(x) && x > 0);
const optional =
  <T>(check: (v: unknown) => v is T) =>
  (v: unknown): v is T | undefined =>
    v === undefined || check(v);

/**
 * The reference platform service: the seeds' catalog and usage-agreement endpoints, on the relayer
 * and its store. Agents sign their requests with the seeds' runtime message (`POST
 * /api/external/auth/session` gives the session nonce; see {@link SIGNED_HEADERS}); only a
 * service's seller accepts or rejects its agreements, only the buyer proposes for itself.
 *
 * - `POST /agents/services`: a seller registers a service (signed by the seller).
 * - `POST /catalog/search`: full-text search with chain, token and price filters, paginated.
 * - `POST /usage-agreements`: the buyer proposes (signed); the platform completes the terms.
 * - `PUT /usage-agreements/{id}/accept`, `/reject`: the seller decides (signed).
 * - `GET /usage-agreements/{id}/activation-package`, `POST /usage-agreements/{id}/activate-escrow` (202).
 * - `GET /usage-agreements/{id}`, `GET /usage-agreements/{id}/escrow-status`.
 *
 * @example
 * await migratePlatform(store);
 * const app = createPlatformService({ relayer, store, terms: { feeRecipient, arbiter } });
 */
export function createPlatformService(options: PlatformServiceOptions): Hono {
  const { relayer, store: sql } = options;
  const chainId = options.chainId ?? relayer.chains[0]?.chainId;
  const chain = relayer.chains.find((c) => c.chainId === chainId);
  const recorder = chainId === undefined ? undefined : relayer.senders(chainId)[0];
  if (chainId === undefined || !chain || !recorder) {
    throw new PlatformError("FIELD_INVALID", "the relayer serves no chain with a signer for the platform", {
      field: "chainId",
      value: chainId,
      expected: "a chain the relayer serves, with a signer (the recorder)",
    });
  }
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const app = new Hono();
  app.onError((error, c) => c.json(errorBody(error), httpStatusOf(error)));
  app.notFound((c) =>
    c.json(
      errorBody(new ServiceError("NOT_FOUND", `no route ${c.req.method} ${c.req.path}`, { path: c.req.path })),
      404,
    ),
  );
  app.use(
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) =>
        c.json(
          errorBody(
            new ServiceError("BODY_TOO_LARGE", `the body exceeds ${maxBodyBytes} bytes`, { limitBytes: maxBodyBytes }),
          ),
          413,
        ),
    }),
  );

  /** Agreements seen active (they stay so for the proxy until usage ends, which the store records). */
  const activeAgreements = new Set<string>();

  /** The signer of a request, verified (signature, live session, unused request id). */
  const signer = (c: Context, action: string, productId: string, body: unknown) =>
    verifySignedRequest(sql, { headers: (name) => c.req.header(name), action, productId, body });

  const agreementOf = async (id: string): Promise<AgreementRow> => {
    const { rows } = await sql.query<AgreementRow>("SELECT * FROM platform_agreements WHERE id = $1", [
      id.toLowerCase(),
    ]);
    const row = rows[0];
    if (!row) throw new PlatformError("NOT_FOUND", `no agreement ${id}`, { kind: "agreement", id });
    return row;
  };

  /**
   * The agreement's status: the platform's until it is accepted, then the relayer's job's (a
   * direct payment is `completed` once its transaction is confirmed).
   */
  const statusOf = async (row: AgreementRow): Promise<{ status: string; job?: Job }> => {
    if (row.status !== "accepted") return { status: row.status };
    const job = row.job_id ? await relayer.getJob(row.job_id) : await relayer.getActivation(row.chain_id, row.id);
    if (!job) return { status: "accepted" };
    if (row.settlement_model === "direct_payment") {
      return { status: job.status === "confirmed" ? "completed" : job.status, job };
    }
    return { status: job.status === "confirmed" ? "active" : job.status, job };
  };

  const agreementJson = async (row: AgreementRow) => {
    const { status, job } = await statusOf(row);
    if (row.settlement_model === "direct_payment" || row.packed_terms === null) {
      return {
        agreement_id: row.id,
        service_id: row.service_id,
        settlement_model: "direct_payment" as const,
        status,
        transaction_hash: job?.txHash ?? null,
        error: job?.status === "failed" ? job.reason : null,
        buyer_wallet: getAddress(row.buyer),
        seller_wallet: getAddress(row.seller),
        chain_id: Number(row.chain_id),
      };
    }
    const terms = decodeTerms(row.packed_terms);
    return {
      settlement_model: "escrow" as const,
      agreement_id: row.id,
      service_id: row.service_id,
      status,
      activation_tx_hash: job?.txHash ?? null,
      error: job?.status === "failed" ? job.reason : null,
      buyer_wallet: getAddress(row.buyer),
      seller_wallet: getAddress(row.seller),
      chain_id: Number(row.chain_id),
      escrow: chain.escrow,
      token: terms.token,
      deposit: terms.deposit.toString(),
      service_expiry: terms.serviceExpiry,
    };
  };

  app.post("/api/external/auth/session", async (c) => {
    const body = await jsonBody(c);
    const wallet = field(body, "wallet_address", "an address", isWallet);
    const session = await createSession(sql, getAddress(wallet));
    return c.json({ session_nonce: session.nonce, expires_at: session.expiresAt.toISOString() }, 201);
  });

  app.post("/agents/services", async (c) => {
    const body = await jsonBody(c);
    const wallet = await signer(c, "register_service", "-", body);
    const seller = getAddress(field(body, "seller_wallet", "the seller's address", isWallet));
    if (seller !== wallet) {
      throw new PlatformError("NOT_PARTY", "a seller registers its own services", {
        wallet,
        role: "seller",
        expected: seller,
      });
    }
    const id = randomUUID();
    const tokens = field(body, "tokens", "a list of token symbols", isTextList);
    const chains = field(body, "chains", "a list of chain ids", isChainList);
    for (const symbol of tokens) {
      if (!chains.some((cid) => findToken(cid, symbol))) {
        throw new PlatformError("FIELD_INVALID", `token ${symbol} is not on the listed chains`, {
          field: "tokens",
          value: symbol,
          expected: "USDC or EURC on a listed chain",
        });
      }
    }
    await sql.query(
      `INSERT INTO platform_services (id, seller, name, description, tags, unit_price, unit, chains, tokens, upstream_url, search)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
               to_tsvector('english', $3 || ' ' || $4 || ' ' || array_to_string($5::text[], ' ')))`,
      [
        id,
        seller.toLowerCase(),
        field(body, "name", "a name", isText),
        field(body, "description", "a description", isText),
        field(body, "tags", "a list of tags", isTextList),
        field(body, "unit_price", "a price per unit in token units", isAmount),
        field(body, "unit", "the unit", isText),
        chains,
        tokens.map((t) => t.toUpperCase()),
        field(body, "upstream_url", "the upstream URL", isText),
      ],
    );
    const { rows } = await sql.query<ServiceRow>("SELECT * FROM platform_services WHERE id = $1", [id]);
    const row = rows[0];
    if (!row) throw new PlatformError("NOT_FOUND", `service ${id} vanished`, { kind: "service", id });
    return c.json(serviceJson(row), 201);
  });

  app.post("/catalog/search", async (c) => {
    const body = await jsonBody(c);
    const query = field(body, "query", "a text", optional(isText));
    const chainFilter = field(
      body,
      "chain_id",
      "a chain id",
      optional((v): v is number => Number.isSafeInteger(v)),
    );
    const token = field(body, "token", "a token symbol", optional(isText));
    const maxPrice = field(body, "max_price", "a price in token units", optional(isAmount));
    const limit = Math.min(
      Number(
        field(
          body,
          "limit",
          "1 to 100",
          optional((v): v is number => Number.isSafeInteger(v) && Number(v) > 0),
        ),
      ) || 20,
      100,
    );
    const offset =
      Number(
        field(
          body,
          "offset",
          "0 or more",
          optional((v): v is number => Number.isSafeInteger(v) && Number(v) >= 0),
        ),
      ) || 0;
    const { rows } = await sql.query<ServiceRow & { total: string }>(
      `SELECT *, count(*) OVER () AS total FROM platform_services
       WHERE ($1::text IS NULL OR search @@ plainto_tsquery('english', $1))
         AND ($2::integer IS NULL OR $2 = ANY(chains))
         AND ($3::text IS NULL OR upper($3) = ANY(tokens))
         AND ($4::numeric IS NULL OR unit_price <= $4)
       ORDER BY CASE WHEN $1::text IS NULL THEN 0 ELSE ts_rank(search, plainto_tsquery('english', $1)) END DESC, created_at
       LIMIT $5 OFFSET $6`,
      [query ?? null, chainFilter ?? null, token ?? null, maxPrice ?? null, limit, offset],
    );
    return c.json({ results: rows.map(serviceJson), total: Number(rows[0]?.total ?? 0), limit, offset });
  });

  app.post("/usage-agreements", async (c) => {
    const body = await jsonBody(c);
    const serviceId = field(body, "service_id", "a service id", isText);
    const wallet = await signer(c, "propose", serviceId, body);
    const model = field(
      body,
      "settlement_model",
      '"escrow" or "direct_payment"',
      optional((v): v is string => v === "escrow" || v === "direct_payment"),
    );
    if (model === "direct_payment") return proposeDirect(c, body, serviceId, wallet);
    const buyer = getAddress(field(body, "buyer_wallet", "the buyer's address", isWallet));
    if (buyer !== wallet)
      throw new PlatformError("NOT_PARTY", "a buyer proposes for itself", { wallet, role: "buyer", expected: buyer });
    const { rows: services } = await sql.query<ServiceRow>("SELECT * FROM platform_services WHERE id = $1", [
      serviceId,
    ]);
    const service = services[0];
    if (!service) throw new PlatformError("NOT_FOUND", `no service ${serviceId}`, { kind: "service", id: serviceId });
    const symbol =
      field(body, "token", "a token symbol", optional(isText))?.toUpperCase() ?? service.tokens[0] ?? "USDC";
    const token = service.tokens.includes(symbol) ? findToken(chainId, symbol) : undefined;
    if (!token) {
      throw new PlatformError("FIELD_INVALID", `the service does not take ${symbol} on chain ${chainId}`, {
        field: "token",
        value: symbol,
        expected: service.tokens.join(" | "),
      });
    }
    const deposit = BigInt(field(body, "deposit", "the deposit in token units", isAmount));
    const days = Number(
      field(
        body,
        "service_days",
        "1 to 365",
        optional((v): v is number => Number.isSafeInteger(v) && Number(v) >= 1 && Number(v) <= 365),
      ) ?? 30,
    );
    const now = Number((await getBlock(chain.client)).timestamp);
    const t = options.terms;
    const terms: Terms = {
      buyer,
      seller: getAddress(service.seller),
      token: token.address,
      feeRecipient: t.feeRecipient,
      recorder,
      arbiter: t.arbiter,
      deposit,
      upfrontFee: 0n,
      feeFixed: t.feeFixed ?? 10_000n,
      feeCap: t.feeCap ?? 1_000_000n,
      feeBps: t.feeBps ?? 100,
      fallbackBps: t.fallbackBps ?? 5_000,
      challengeWindow: t.challengeWindow ?? 3_600,
      resolutionWindow: t.resolutionWindow ?? 3_600,
      serviceExpiry: now + days * 86_400,
      salt: keccak256(toHex(randomUUID())),
    };
    const agreement = agreementRef(terms, { chainId, escrow: chain.escrow });
    await sql.query(
      `INSERT INTO platform_agreements (id, service_id, buyer, seller, chain_id, packed_terms, status, unit_price, deposit)
       VALUES ($1, $2, $3, $4, $5, $6, 'proposed', $7, $8)`,
      [
        agreement.id.toLowerCase(),
        serviceId,
        buyer.toLowerCase(),
        service.seller.toLowerCase(),
        chainId,
        agreement.packed,
        service.unit_price,
        deposit.toString(),
      ],
    );
    return c.json(await agreementJson(await agreementOf(agreement.id)), 201);
  });

  /** Flow 4: the body `buildDirectStablecoinAgreement()` returns, checked now, executed when the seller accepts. */
  const proposeDirect = async (c: Context, body: unknown, serviceId: string, wallet: Address) => {
    const { rows: services } = await sql.query<ServiceRow>("SELECT * FROM platform_services WHERE id = $1", [
      serviceId,
    ]);
    const service = services[0];
    if (!service) throw new PlatformError("NOT_FOUND", `no service ${serviceId}`, { kind: "service", id: serviceId });
    const payment = parseDirectPaymentBody(body);
    if (payment.buyer !== wallet) {
      throw new PlatformError("NOT_PARTY", "a buyer proposes for itself", {
        wallet,
        role: "buyer",
        expected: payment.buyer,
      });
    }
    if (payment.seller.toLowerCase() !== service.seller.toLowerCase()) {
      throw new PlatformError("FIELD_INVALID", "the payment is not to the service's seller", {
        field: "pay_to",
        value: payment.seller,
        expected: getAddress(service.seller),
      });
    }
    const token = findToken(chainId, payment.token);
    if (!token || !service.tokens.includes(token.symbol) || payment.network !== `eip155:${chainId}`) {
      throw new PlatformError("FIELD_INVALID", "the service does not take this token on this chain", {
        field: "asset",
        value: payment.token,
        expected: service.tokens.join(" | "),
      });
    }
    const id = payment.payment.authorization.nonce.toLowerCase();
    await sql.query(
      `INSERT INTO platform_agreements (id, service_id, buyer, seller, chain_id, packed_terms, status, settlement_model, direct_body)
       VALUES ($1, $2, $3, $4, $5, NULL, 'proposed', 'direct_payment', $6)`,
      [id, serviceId, payment.buyer.toLowerCase(), payment.seller.toLowerCase(), chainId, JSON.stringify(body)],
    );
    return c.json(await agreementJson(await agreementOf(id)), 201);
  };

  // An agent's own agreements, as buyer or seller (signed): what a seller polls for proposals.
  app.post("/agents/agreements", async (c) => {
    const body = await jsonBody(c);
    const wallet = await signer(c, "list_agreements", "-", body);
    const status = field(body, "status", "a status", optional(isText));
    const { rows } = await sql.query<AgreementRow>(
      `SELECT * FROM platform_agreements WHERE (buyer = $1 OR seller = $1) AND ($2::text IS NULL OR status = $2)
       ORDER BY created_at DESC LIMIT 200`,
      [wallet.toLowerCase(), status ?? null],
    );
    return c.json({ agreements: await Promise.all(rows.map(agreementJson)) });
  });

  // Metered usage, recorded by the seller's side (signed by the seller) through the relayer's batching.
  app.post("/usage-agreements/:id/record-usage", async (c) => {
    const id = c.req.param("id");
    const body = await jsonBody(c);
    const wallet = await signer(c, "record_usage", id, body);
    const row = await agreementOf(id);
    if (wallet.toLowerCase() !== row.seller.toLowerCase()) {
      throw new PlatformError("NOT_PARTY", "only the seller records usage", {
        wallet,
        role: "seller",
        expected: getAddress(row.seller),
      });
    }
    const { status } = await statusOf(row);
    if (status !== "active") {
      throw new PlatformError("WRONG_STATUS", `agreement ${row.id} is ${status}`, {
        id: row.id,
        status,
        expected: "active",
      });
    }
    const isUsage = (v: unknown): v is string => typeof v === "string" && /^[0-9]{1,20}$/.test(v);
    const isLogRef = (v: unknown): v is Hex => typeof v === "string" && /^0x[0-9a-fA-F]{64}$/.test(v);
    const usage = field(body, "cumulative_usage", "a whole number of token units", isUsage);
    const logRef = field(body, "log_ref", "32 bytes of hex", isLogRef);
    const complete = field(
      body,
      "complete",
      "a boolean",
      optional((v): v is boolean => typeof v === "boolean"),
    );
    const { outcome, entry } = await relayer.recordUsage({
      chainId: Number(row.chain_id),
      agreementId: row.id,
      cumulativeUsage: BigInt(usage),
      logRef,
      complete: complete ?? false,
    });
    return c.json(
      {
        agreement_id: row.id,
        outcome,
        usage_id: entry.id,
        status: entry.status,
        cumulative_usage: entry.cumulativeUsage.toString(),
      },
      202,
    );
  });

  for (const decision of ["accept", "reject"] as const) {
    app.put(`/usage-agreements/:id/${decision}`, async (c) => {
      const id = c.req.param("id") ?? "";
      const body = await jsonBody(c).catch(() => ({}));
      const wallet = await signer(c, decision, id, body);
      const row = await agreementOf(id);
      if (wallet.toLowerCase() !== row.seller.toLowerCase()) {
        throw new PlatformError("NOT_PARTY", "only the service's seller decides", {
          wallet,
          role: "seller",
          expected: getAddress(row.seller),
        });
      }
      // Flow 4: the seller's acceptance collects the fee and executes the payment (the relayer's
      // job, idempotent by the payment's nonce); refused there, the agreement stays proposed.
      const job =
        decision === "accept" && row.status === "proposed" && row.settlement_model === "direct_payment"
          ? await relayer.submitDirectPayment(row.direct_body, {
              requestId: `direct-payment:${row.id}`,
              chainId: Number(row.chain_id),
            })
          : undefined;
      const { rows } = await sql.query(
        `UPDATE platform_agreements SET status = $2, job_id = COALESCE($3, job_id), updated_at = now()
         WHERE id = $1 AND status = 'proposed' RETURNING id`,
        [row.id, decision === "accept" ? "accepted" : "rejected", job?.id ?? null],
      );
      if (rows.length === 0) {
        throw new PlatformError("WRONG_STATUS", `agreement ${row.id} is ${row.status}`, {
          id: row.id,
          status: row.status,
          expected: "proposed",
        });
      }
      return c.json(await agreementJson(await agreementOf(row.id)));
    });
  }

  app.get("/usage-agreements/:id/activation-package", async (c) => {
    const row = await agreementOf(c.req.param("id"));
    if (row.status !== "accepted" || row.packed_terms === null) {
      throw new PlatformError("WRONG_STATUS", `agreement ${row.id} is ${row.status}`, {
        id: row.id,
        status: row.status,
        expected: "accepted",
      });
    }
    const agreement = agreementRef(decodeTerms(row.packed_terms), {
      chainId: Number(row.chain_id),
      escrow: chain.escrow,
    });
    return c.json(serializeActivationPackage({ agreement, upfrontFeePending: false }));
  });

  app.post("/usage-agreements/:id/activate-escrow", async (c) => {
    const row = await agreementOf(c.req.param("id"));
    if (row.status !== "accepted" || row.settlement_model !== "escrow") {
      throw new PlatformError("WRONG_STATUS", `agreement ${row.id} is ${row.status}`, {
        id: row.id,
        status: row.status,
        expected: "accepted",
      });
    }
    const body = await jsonBody(c);
    const requestId = c.req.header("idempotency-key") ?? `activate-escrow:${row.chain_id}:${row.id}`;
    // The body must activate this agreement, with the terms the platform recorded.
    const job = await relayer.submitActivation(body, { requestId, chainId: Number(row.chain_id), agreementId: row.id });
    const json = await agreementJson(row);
    return c.json(json, job.status === "active" ? 200 : 202);
  });

  /**
   * Flow 3, the metered proxy: only the agreement's buyer, with a signed request, while it is
   * active. The call's price (the service's price per unit, one unit per call) is added to the
   * agreement's usage before the call is forwarded, in one statement that refuses to go past the
   * deposit (`DEPOSIT_EXCEEDED`, nothing forwarded); a call the upstream fails gives it back. The
   * usage is then recorded through the relayer's batching (coalesced per agreement).
   */
  app.all("/metered-proxy/:id/*", async (c) => {
    const id = c.req.param("id");
    const raw = c.req.method === "GET" || c.req.method === "HEAD" ? "" : await c.req.text();
    let body: unknown = {};
    if (raw !== "") {
      try {
        body = JSON.parse(raw);
      } catch (cause) {
        throw new ServiceError("BODY_NOT_JSON", "the request body is not JSON", {}, { cause });
      }
    }
    const wallet = await signer(c, "proxy", id, body);
    // The agreement with its service's upstream, in one read.
    const { rows: found } = await sql.query<AgreementRow & { upstream_url: string }>(
      `SELECT a.*, s.upstream_url FROM platform_agreements a JOIN platform_services s ON s.id = a.service_id
       WHERE a.id = $1`,
      [id.toLowerCase()],
    );
    const row = found[0];
    if (!row) throw new PlatformError("NOT_FOUND", `no agreement ${id}`, { kind: "agreement", id });
    if (wallet.toLowerCase() !== row.buyer.toLowerCase()) {
      throw new PlatformError("NOT_PARTY", "only the agreement's buyer calls through it", {
        wallet,
        role: "buyer",
        expected: getAddress(row.buyer),
      });
    }
    // Active once is active until usage ends (recorded below): the relayer's job is read until then.
    const status = activeAgreements.has(row.id) ? "active" : (await statusOf(row)).status;
    if (status === "active") activeAgreements.add(row.id);
    if (status !== "active" || row.usage_ended) {
      throw new PlatformError("WRONG_STATUS", `agreement ${row.id} is ${row.usage_ended ? "ended" : status}`, {
        id: row.id,
        status,
        expected: "active",
      });
    }
    const { rows: metered } = await sql.query<{ used: string; deposit: string; unit_price: string }>(
      `UPDATE platform_agreements SET used = used + unit_price, updated_at = now()
       WHERE id = $1 AND used + unit_price <= deposit AND NOT usage_ended RETURNING used, deposit, unit_price`,
      [row.id],
    );
    const after = metered[0];
    if (!after) {
      throw new PlatformError("DEPOSIT_EXCEEDED", "this call would take usage past the deposit", {
        id: row.id,
        used: String(row.used),
        price: String(row.unit_price),
        deposit: String(row.deposit),
      });
    }
    const upstream = row.upstream_url;
    const rest = c.req.path.slice(`/metered-proxy/${id}`.length);
    const query = new URL(c.req.url).search;
    let response: Response;
    try {
      response = await fetch(`${upstream.replace(/\/$/, "")}${rest}${query}`, {
        method: c.req.method,
        headers: { "content-type": c.req.header("content-type") ?? "application/json" },
        ...(raw !== "" ? { body: raw } : {}),
      });
      if (response.status >= 500) throw new Error(`upstream answered ${response.status}`);
    } catch (error) {
      // Not served: the call's price is given back.
      await sql.query("UPDATE platform_agreements SET used = used - unit_price, updated_at = now() WHERE id = $1", [
        row.id,
      ]);
      throw new ServiceError("UNAVAILABLE", "the seller's service did not answer", { cause: String(error) });
    }
    const used = BigInt(after.used);
    await relayer.recordUsage({
      chainId: Number(row.chain_id),
      agreementId: row.id,
      cumulativeUsage: used,
      logRef: keccak256(toHex(`${row.id}:${used}`)),
      ...(row.packed_terms ? { recorder: decodeTerms(row.packed_terms).recorder } : {}),
    });
    const headers = new Headers(response.headers);
    headers.set("x-usage-cumulative", used.toString());
    headers.set("x-usage-remaining", (BigInt(after.deposit) - used).toString());
    headers.delete("content-encoding");
    headers.delete("content-length");
    return new Response(await response.arrayBuffer(), { status: response.status, headers });
  });

  // Usage ends (the buyer or the seller): the final usage is recorded with completion, and the
  // challenge window runs; the relayer's scanner settles after it.
  app.post("/usage-agreements/:id/end-usage", async (c) => {
    const id = c.req.param("id");
    const body = await jsonBody(c).catch(() => ({}));
    const wallet = await signer(c, "end_usage", id, body);
    const row = await agreementOf(id);
    const party = [row.buyer, row.seller].some((p) => p.toLowerCase() === wallet.toLowerCase());
    if (!party) {
      throw new PlatformError("NOT_PARTY", "only the buyer or the seller ends usage", {
        wallet,
        role: "seller",
        expected: getAddress(row.seller),
      });
    }
    const { rows } = await sql.query<{ used: string }>(
      "UPDATE platform_agreements SET usage_ended = true, updated_at = now() WHERE id = $1 AND NOT usage_ended RETURNING used",
      [row.id],
    );
    const ended = rows[0];
    if (!ended)
      throw new PlatformError("WRONG_STATUS", `usage of ${row.id} has ended`, {
        id: row.id,
        status: "ended",
        expected: "active",
      });
    const used = BigInt(ended.used);
    const { entry } = await relayer.recordUsage({
      chainId: Number(row.chain_id),
      agreementId: row.id,
      cumulativeUsage: used,
      logRef: keccak256(toHex(`${row.id}:${used}:final`)),
      complete: true,
    });
    return c.json({ agreement_id: row.id, cumulative_usage: used.toString(), usage_id: entry.id }, 202);
  });

  const status = async (c: Context) => c.json(await agreementJson(await agreementOf(c.req.param("id") ?? "")));
  app.get("/usage-agreements/:id/escrow-status", status);
  app.get("/usage-agreements/:id", status);
  mountCredits(app, { relayer, store: sql, chainId, collector: options.terms.feeRecipient });

  // The owner's page, and what it shows (operator only).
  app.get("/owner", (c) => c.html(OWNER_PAGE));
  app.get("/owner/overview", async (c) => {
    requireOperator(c, options.apiKey);
    const { rows } = await sql.query<AgreementRow>(
      "SELECT * FROM platform_agreements ORDER BY created_at DESC LIMIT 200",
    );
    const agreements = await Promise.all(rows.map(agreementJson));
    const agents = new Map<string, { wallet: string; buying: number; selling: number }>();
    const tally = (wallet: string, side: "buying" | "selling") => {
      const entry = agents.get(wallet) ?? { wallet, buying: 0, selling: 0 };
      entry[side] += 1;
      agents.set(wallet, entry);
    };
    for (const a of agreements) {
      tally(a.buyer_wallet, "buying");
      tally(a.seller_wallet, "selling");
    }
    const approvals = await relayer.listJobs({ status: "awaiting_approval", limit: 200 });
    const jobs = await relayer.listJobs({ limit: 50 });
    return c.json({
      agents: [...agents.values()],
      agreements,
      approvals: approvals.map(jobJson),
      jobs: jobs.map(jobJson),
    });
  });
  // The relayer service beside: payment requirements, policies and approvals, jobs, health, metrics.
  app.route(
    "/",
    createRelayerService({
      relayer,
      defaultChainId: chainId,
      ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
      maxBodyBytes,
      ...(options.mount ? { mount: options.mount } : {}),
    }),
  );
  return app;
}
