import { RelayerError } from "../errors.ts";
import { migrate } from "./migrations.ts";
import type { Row, Sql, Store } from "./sql.ts";

/** The parts of a PGlite instance (or transaction) the store uses. */
type PgliteLike = {
  query<T>(text: string, params?: unknown[]): Promise<{ rows: T[] }>;
  exec(script: string): Promise<unknown>;
};

function wrap(db: PgliteLike, transaction: Sql["transaction"]): Sql {
  return {
    query: <R extends Row = Row>(text: string, params: readonly unknown[] = []) =>
      db.query<R>(text, [...params]).then((r) => ({ rows: r.rows })),
    exec: async (script) => {
      await db.exec(script);
    },
    transaction,
  };
}

/**
 * The embedded store: PostgreSQL compiled to WebAssembly (PGlite), in memory or, with `dataDir`,
 * in a directory that survives restarts. Needs no server; one process at a time (for several
 * relayer instances use {@link postgresStore}). Migrations run on open.
 *
 * @example
 * const store = await pgliteStore({ dataDir: "./relayer-data" });
 */
export async function pgliteStore(options: { dataDir?: string } = {}): Promise<Store> {
  const { PGlite } = await import("@electric-sql/pglite");
  const db = options.dataDir === undefined ? await PGlite.create() : await PGlite.create(options.dataDir);
  // PGlite is one session: a transaction's statements must go through its own handle, and
  // statements outside it wait until it ends.
  const transaction: Sql["transaction"] = (work) =>
    db.transaction((tx) =>
      work(
        wrap(tx, () =>
          Promise.reject(new RelayerError("STORE_NESTED_TRANSACTION", "nested transactions are not supported", {})),
        ),
      ),
    );
  const store: Store = { ...wrap(db, transaction), kind: "pglite", close: () => db.close() };
  await migrate(store);
  return store;
}
