import type { ChainInfo } from "../chains/index.ts";

/** Which URL: `RPC_URL_<KEY>` for deployments and checks, `FORK_URL_<KEY>` for forked test runs. */
export type UrlKind = "RPC_URL" | "FORK_URL";

/** The variable that holds a chain's URL: `RPC_URL_BASE`, `FORK_URL_BASE_SEPOLIA`, ... */
export function urlVariable(chain: Pick<ChainInfo, "key">, kind: UrlKind = "RPC_URL"): string {
  return `${kind}_${chain.key.toUpperCase().replaceAll("-", "_")}`;
}

/** The URL configured for a chain in the environment, if any (Node only). */
export function urlFor(
  chain: Pick<ChainInfo, "key">,
  kind: UrlKind = "RPC_URL",
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  const value = env[urlVariable(chain, kind)]?.trim();
  return value ? value : undefined;
}
