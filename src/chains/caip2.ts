import { ChainRegistryError } from "./errors.ts";
import type { Caip2Id } from "./types.ts";

// CAIP-2: namespace [-a-z0-9]{3,8}, reference [-_a-zA-Z0-9]{1,32}. For eip155 the reference is a
// decimal chain id without leading zeros.
const CAIP2 = /^([-a-z0-9]{3,8}):([-_a-zA-Z0-9]{1,32})$/;
const EIP155_REFERENCE = /^[1-9][0-9]*$/;

/** Parse `eip155:<chainId>` into its chain id. Throws {@link ChainRegistryError} when malformed. */
export function parseCaip2(id: string): number {
  const match = CAIP2.exec(id);
  if (!match) {
    throw new ChainRegistryError("CAIP2_MALFORMED", `not a CAIP-2 chain id: ${JSON.stringify(id)}`, { id });
  }
  const [, namespace, reference] = match as unknown as [string, string, string];
  if (namespace !== "eip155") {
    throw new ChainRegistryError("CAIP2_UNSUPPORTED_NAMESPACE", `only eip155 chains are supported, got ${id}`, {
      id,
      namespace,
    });
  }
  const chainId = Number(reference);
  if (!EIP155_REFERENCE.test(reference) || !Number.isSafeInteger(chainId)) {
    throw new ChainRegistryError("CAIP2_MALFORMED", `eip155 reference must be a decimal chain id, got ${id}`, {
      id,
      reference,
    });
  }
  return chainId;
}

/** Format a chain id as a CAIP-2 id. */
export function formatCaip2(chainId: number): Caip2Id {
  if (!Number.isSafeInteger(chainId) || chainId <= 0) {
    throw new ChainRegistryError("CAIP2_MALFORMED", `chain id must be a positive integer, got ${chainId}`, {
      chainId,
    });
  }
  return `eip155:${chainId}`;
}
