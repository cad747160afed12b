import { RelayerError } from "../errors.ts";
import { migrate } from "./migrations.ts";
import type { Row, Sql, Store } from "./sql.ts";

/**
 * The server store: PostgreSQL through `pg`, for several relayer instances sharing one database.
 * Takes a connection string or an existing `pg.Pool`; migrations run on open (once, whatever
 * the number of instances starting together).
 *
 * @example
 * const store = await postgresStore({ connectionString: "postgres://127.0.0.1:5432/relayer" });
 */
export async function postgresStore(options: { connectionString: string; max?: number }): Promise<Store> {
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.max ?? 10 });
  const query = async <R extends Row = Row>(text: string, params: readonly unknown[] = []) => {
    const result = await pool.query(text, [...params]);
    return { rows: result.rows as R[] };
  };
  const transaction: Sql["transaction"] = async (work) => {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      const tx: Sql = {
        query: async <R extends Row = Row>(text: string, params: readonly unknown[] = []) => {
          const result = await client.query(text, [...params]);
          return { rows: result.rows as R[] };
        },
        exec: async (script) => {
          await client.query(script);
        },
        transaction: () =>
          Promise.reject(new RelayerError("STORE_NESTED_TRANSACTION", "nested transactions are not supported", {})),
      };
      const value = await work(tx);
      await client.query("COMMIT");
      return value;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
  const store: Store = {
    kind: "postgres",
    query,
    exec: async (script) => {
      await pool.query(script);
    },
    transaction,
    close: () => pool.end(),
  };
  await migrate(store);
  return store;
}
