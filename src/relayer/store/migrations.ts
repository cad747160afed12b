import { RelayerError } from "../errors.ts";
import type { Sql } from "./sql.ts";

/**
 * Versioned migrations, applied in order, each once, in its own transaction, under an advisory
 * lock so that several relayer instances starting together apply each exactly once.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "jobs, transactions, attempts, signer leases",
    sql: `
      CREATE TABLE relayer_jobs (
        id            text PRIMARY KEY,
        request_id    text NOT NULL UNIQUE,
        -- One job per payload (for an activation: chain, escrow and agreement id), whatever the request id.
        dedupe_key    text NOT NULL UNIQUE,
        kind          text NOT NULL,
        chain_id      integer NOT NULL,
        status        text NOT NULL,
        reason        text,
        detail        jsonb,
        payload       jsonb NOT NULL,
        attempts      integer NOT NULL DEFAULT 0,
        next_run_at   timestamptz NOT NULL DEFAULT now(),
        tx_id         bigint,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX relayer_jobs_runnable ON relayer_jobs (chain_id, status, next_run_at);

      CREATE TABLE relayer_txs (
        id            bigserial PRIMARY KEY,
        job_id        text NOT NULL REFERENCES relayer_jobs (id),
        chain_id      integer NOT NULL,
        signer        text NOT NULL,
        nonce         bigint NOT NULL,
        to_address    text NOT NULL,
        data          text NOT NULL,
        gas_limit     bigint NOT NULL,
        status        text NOT NULL,
        mined_hash    text,
        mined_block   bigint,
        mined_block_hash text,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        -- One nonce never carries two payloads.
        UNIQUE (chain_id, signer, nonce),
        -- One payload never gets two nonces.
        UNIQUE (job_id)
      );

      CREATE TABLE relayer_attempts (
        hash          text PRIMARY KEY,
        tx_id         bigint NOT NULL REFERENCES relayer_txs (id),
        raw           text NOT NULL,
        max_fee_per_gas          numeric NOT NULL,
        max_priority_fee_per_gas numeric NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        broadcast_at  timestamptz
      );
      CREATE INDEX relayer_attempts_tx ON relayer_attempts (tx_id);

      CREATE TABLE relayer_signers (
        chain_id      integer NOT NULL,
        signer        text NOT NULL,
        -- The next nonce to assign; never below a recorded nonce + 1.
        next_nonce    bigint NOT NULL,
        lease_owner   text,
        lease_until   timestamptz,
        fence         bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (chain_id, signer)
      );
    `,
  },
  {
    version: 2,
    name: "every request id of a job",
    sql: `
      CREATE TABLE relayer_job_requests (
        request_id  text PRIMARY KEY,
        job_id      text NOT NULL REFERENCES relayer_jobs (id),
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO relayer_job_requests (request_id, job_id) SELECT request_id, id FROM relayer_jobs;
    `,
  },
  {
    version: 3,
    name: "gap fillers: transactions without a job",
    sql: `
      -- A no-op self-send that fills a nonce gap belongs to no job.
      ALTER TABLE relayer_txs ALTER COLUMN job_id DROP NOT NULL;
    `,
  },
  {
    version: 4,
    name: "cancellations: no-op self-sends that replace an activation near its deadline",
    sql: `
      -- An attempt that replaces the transaction's call with a no-op self-send at the same nonce.
      ALTER TABLE relayer_attempts ADD COLUMN cancel boolean NOT NULL DEFAULT false;
    `,
  },
  {
    version: 5,
    name: "usage queue, batched per (chain, recorder)",
    sql: `
      -- A job only this signer may send (a recorder's usage batch); NULL: any signer of the chain.
      ALTER TABLE relayer_jobs ADD COLUMN signer text;
      CREATE TABLE relayer_usage (
        id               bigserial PRIMARY KEY,
        chain_id         integer NOT NULL,
        escrow           text NOT NULL,
        recorder         text NOT NULL,
        agreement_id     text NOT NULL,
        cumulative_usage numeric NOT NULL,
        log_ref          text NOT NULL,
        complete         boolean NOT NULL DEFAULT false,
        -- queued -> batched -> recorded | skipped (the chain skipped it) | failed
        status           text NOT NULL,
        -- Sent alone: its batch was refused, so each entry is tried on its own.
        solo             boolean NOT NULL DEFAULT false,
        job_id           text REFERENCES relayer_jobs (id),
        reason           text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now()
      );
      -- Later entries for one agreement coalesce into its one queued entry.
      CREATE UNIQUE INDEX relayer_usage_queued ON relayer_usage (chain_id, escrow, recorder, agreement_id)
        WHERE status = 'queued';
      CREATE INDEX relayer_usage_flush ON relayer_usage (chain_id, recorder, status, created_at);
      CREATE INDEX relayer_usage_job ON relayer_usage (job_id);
    `,
  },
  {
    version: 6,
    name: "agreements watched until settled",
    sql: `
      CREATE TABLE relayer_agreements (
        chain_id      integer NOT NULL,
        escrow        text NOT NULL,
        agreement_id  text NOT NULL,
        packed_terms  text NOT NULL,
        -- watching -> settled
        status        text NOT NULL,
        next_check_at timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (chain_id, escrow, agreement_id)
      );
      CREATE INDEX relayer_agreements_due ON relayer_agreements (chain_id, status, next_check_at);
    `,
  },
  {
    version: 7,
    name: "buyer policies and approvals",
    sql: `
      CREATE TABLE relayer_policies (
        buyer              text PRIMARY KEY,
        max_per_agreement  numeric,
        max_per_day        numeric,
        sellers            text[],
        approval_threshold numeric,
        updated_at         timestamptz NOT NULL DEFAULT now()
      );
      -- A purchase's buyer and amount (escrow deposit or payment), for the daily limit.
      ALTER TABLE relayer_jobs ADD COLUMN buyer text;
      ALTER TABLE relayer_jobs ADD COLUMN amount numeric;
      CREATE INDEX relayer_jobs_buyer ON relayer_jobs (buyer, created_at);
    `,
  },
];

/** A versioned schema change, applied once. */
export type Migration = { readonly version: number; readonly name: string; readonly sql: string };

/**
 * Apply the `migrations` a database has not seen, recorded in `table`, each once, in one
 * transaction under the advisory lock `lockKey` (instances starting together apply each exactly
 * once). Returns the versions applied now.
 */
export async function applyMigrations(
  sql: Sql,
  set: { readonly table: string; readonly lockKey: number; readonly migrations: readonly Migration[] },
): Promise<number[]> {
  if (!/^[a-z_]+$/.test(set.table)) {
    throw new RelayerError("MIGRATION_TABLE_INVALID", `migration table ${set.table} is not a plain identifier`, {
      table: set.table,
    });
  }
  return sql.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [set.lockKey]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${set.table} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await tx.query<{ version: number }>(`SELECT version FROM ${set.table}`);
    const seen = new Set(rows.map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of set.migrations) {
      if (seen.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query(`INSERT INTO ${set.table} (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}

/** Apply the relayer's migrations this database has not seen. Returns the versions applied now. */
export function migrate(sql: Sql): Promise<number[]> {
  return applyMigrations(sql, { table: "relayer_migrations", lockKey: 72_657_300, migrations: MIGRATIONS });
}
