import { applyMigrations, type Migration, type Sql } from "../relayer/index.ts";

/**
 * The reference platform's tables, beside the relayer's in the same store, versioned and applied
 * once each under an advisory lock (several instances may start together).
 */
export const PLATFORM_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "sessions, signed requests, catalog, usage agreements",
    sql: `
      -- Session nonces agents sign their requests with (POST /api/external/auth/session).
      CREATE TABLE platform_sessions (
        nonce       text PRIMARY KEY,
        wallet      text NOT NULL,
        expires_at  timestamptz NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      -- Every signed request id, once: a replayed request is refused.
      CREATE TABLE platform_requests (
        wallet      text NOT NULL,
        request_id  text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (wallet, request_id)
      );
      CREATE TABLE platform_services (
        id           text PRIMARY KEY,
        seller       text NOT NULL,
        name         text NOT NULL,
        description  text NOT NULL,
        tags         text[] NOT NULL,
        unit_price   numeric NOT NULL,
        unit         text NOT NULL,
        chains       integer[] NOT NULL,
        tokens       text[] NOT NULL,
        upstream_url text NOT NULL,
        -- Name, description and tags, for full-text search (written with the row).
        search       tsvector NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX platform_services_search ON platform_services USING gin (search);
      CREATE TABLE platform_agreements (
        id            text PRIMARY KEY,
        service_id    text NOT NULL REFERENCES platform_services (id),
        buyer         text NOT NULL,
        seller        text NOT NULL,
        chain_id      integer NOT NULL,
        packed_terms  text NOT NULL,
        -- proposed -> accepted | rejected; then the relayer's job tells submitting -> active | failed
        status        text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 2,
    name: "direct stablecoin purchases",
    sql: `
      -- escrow (a bilateral escrow) or direct_payment (flow 4: executed when the seller accepts).
      ALTER TABLE platform_agreements ADD COLUMN settlement_model text NOT NULL DEFAULT 'escrow';
      -- The buyer's signed direct-payment body, and the relayer's job once the seller accepted.
      ALTER TABLE platform_agreements ADD COLUMN direct_body jsonb;
      ALTER TABLE platform_agreements ADD COLUMN job_id text;
      ALTER TABLE platform_agreements ALTER COLUMN packed_terms DROP NOT NULL;
    `,
  },
  {
    version: 3,
    name: "metered proxy",
    sql: `
      -- The service's price per call when the agreement was proposed, and the usage metered so far
      -- (raised before a call is forwarded, never above the deposit; given back if the call fails).
      ALTER TABLE platform_agreements ADD COLUMN unit_price numeric;
      ALTER TABLE platform_agreements ADD COLUMN deposit numeric;
      ALTER TABLE platform_agreements ADD COLUMN used numeric NOT NULL DEFAULT 0;
      ALTER TABLE platform_agreements ADD COLUMN usage_ended boolean NOT NULL DEFAULT false;
    `,
  },
  {
    version: 4,
    name: "credit purchases and balances",
    sql: `
      -- A purchase per request id (or per payment, or per self-broadcast transaction): credited once.
      CREATE TABLE platform_credit_purchases (
        request_id  text PRIMARY KEY,
        wallet      text NOT NULL,
        credits     integer NOT NULL,
        -- pending -> credited
        status      text NOT NULL,
        tx_hash     text,
        job_id      text,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE platform_credit_balances (
        wallet   text PRIMARY KEY,
        credits  bigint NOT NULL
      );
    `,
  },
];

/** Apply the platform migrations this database has not seen. Returns the versions applied now. */
export function migratePlatform(sql: Sql): Promise<number[]> {
  return applyMigrations(sql, { table: "platform_migrations", lockKey: 72_657_301, migrations: PLATFORM_MIGRATIONS });
}
