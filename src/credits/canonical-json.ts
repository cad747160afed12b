import { sha256, stringToBytes } from "viem";
import { CreditsError } from "./errors.ts";

function refuse(path: string, reason: string, cause?: unknown): never {
  throw new CreditsError(
    "SIGNED_MESSAGE_INVALID",
    `canonical JSON: ${reason} at ${path}`,
    { path, reason },
    cause === undefined ? undefined : { cause },
  );
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Apply a `toJSON` method the way `JSON.stringify` does (so a `Date` becomes its ISO string). */
function resolveToJson(value: unknown, key: string, path: string): unknown {
  if (typeof value !== "object" || value === null) return value;
  const toJSON: unknown = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON !== "function") return value;
  try {
    return toJSON.call(value, key);
  } catch (error) {
    return refuse(path, "toJSON threw", error);
  }
}

/** Serialize a value whose `toJSON` has already been applied. */
function serialize(value: unknown, path: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) refuse(path, `non-finite number ${String(value)}`);
      return JSON.stringify(value);
    case "bigint":
      return refuse(path, "bigint is not representable in JSON");
    case "function":
      return refuse(path, "functions are not representable in JSON");
    case "symbol":
      return refuse(path, "symbols are not representable in JSON");
    case "undefined":
      return refuse(path, "undefined is not representable in JSON");
  }
  if (value === null) return "null";
  if (typeof value !== "object") return refuse(path, `unsupported ${typeof value}`);
  if (ancestors.has(value)) refuse(path, "cycle");
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      // Like JSON.stringify: `undefined` array elements (and holes) become null.
      const items = Array.from(value, (raw: unknown, index) => {
        const itemPath = `${path}[${index}]`;
        const item = resolveToJson(raw, String(index), itemPath);
        return item === undefined ? "null" : serialize(item, itemPath, ancestors);
      });
      return `[${items.join(",")}]`;
    }
    if (!isPlainObject(value)) {
      refuse(path, `unsupported object ${Object.prototype.toString.call(value)} (use plain objects and arrays)`);
    }
    const members: string[] = [];
    // Default sort order compares UTF-16 code units, as required.
    for (const name of Object.keys(value).sort()) {
      const memberPath = `${path}.${name}`;
      const member = resolveToJson(value[name], name, memberPath);
      if (member === undefined) continue;
      members.push(`${JSON.stringify(name)}:${serialize(member, memberPath, ancestors)}`);
    }
    return `{${members.join(",")}}`;
  } finally {
    ancestors.delete(value);
  }
}

/**
 * Deterministic JSON: object keys sorted by UTF-16 code units, no whitespace, array order kept,
 * strings and numbers written exactly as `JSON.stringify` writes them (non-ASCII characters stay
 * raw), `undefined` object members dropped, `toJSON` honoured. Refuses, with {@link CreditsError}
 * `SIGNED_MESSAGE_INVALID`, non-finite numbers, bigints, functions, symbols, a top-level
 * `undefined`, cycles, and objects other than plain objects and arrays (Map, Set, class instances).
 */
export function canonicalJson(value: unknown): string {
  try {
    return serialize(resolveToJson(value, "", "$"), "$", new Set());
  } catch (error) {
    // Stack or string-length exhaustion: absurdly deep nesting, or a cycle through `toJSON`.
    if (error instanceof RangeError) refuse("$", "value too deep or too large", error);
    throw error;
  }
}

/**
 * The `payload:` line of a runtime message: SHA-256 of the UTF-8 bytes of
 * {@link canonicalJson}(`parameters`), as 64 lowercase hex characters without a `0x` prefix.
 */
export function payloadHash(parameters: unknown): string {
  return sha256(stringToBytes(canonicalJson(parameters))).slice(2);
}
