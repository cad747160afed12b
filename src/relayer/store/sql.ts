/**
 * The one SQL dialect the relayer speaks: PostgreSQL, either embedded (PGlite, Postgres compiled
 * to WebAssembly, in memory or in a data directory) or a server through `pg`. Both are reached
 * through this interface, so every query and every test runs the same against both.
 */

/** A result row: column name to value (numbers of type bigint arrive as strings). */
export type Row = Record<string, unknown>;

/** A connection (or a transaction) that runs parameterized SQL. */
export interface Sql {
  /** Run one statement with `$1`-style parameters. */
  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<{ rows: R[] }>;
  /** Run a script of several statements, without parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * Run `work` in one transaction (`BEGIN` ... `COMMIT`, or `ROLLBACK` if it throws). Inside,
   * `tx` is the transaction's own connection.
   */
  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
}

/** A store the relayer owns: its SQL, and how to release it. */
export interface Store extends Sql {
  /** Which engine: `pglite` (embedded) or `postgres` (server). */
  readonly kind: "pglite" | "postgres";
  /** Release connections (and, for PGlite, flush and close the data directory). */
  close(): Promise<void>;
}
