import { type Address, getAddress, type Hex, isAddress, isHex, size } from "viem";
import { WireError } from "./errors.ts";

/**
 * The one set of parsers for the values that travel in JSON: decimal amounts (strings, so that
 * 64-bit values survive JSON), addresses, 32-byte hex, hex bytes and small integers. Each throws
 * {@link WireError} `FIELD_INVALID` naming the field.
 */

const DECIMAL = /^(0|[1-9][0-9]*)$/;

function invalid(field: string, value: unknown, expected: string): never {
  throw new WireError("FIELD_INVALID", `${field} is not ${expected}`, { field, value, expected });
}

/** A non-negative decimal integer string (no sign, no leading zeros), at most `max`. */
export function parseDecimal(value: unknown, field: string, max: bigint = 2n ** 256n - 1n): bigint {
  if (typeof value !== "string" || !DECIMAL.test(value)) invalid(field, value, "a decimal amount string");
  const n = BigInt(value);
  if (n > max) invalid(field, value, `at most ${max}`);
  return n;
}

/** An unsigned integer of `bits` bits, as a decimal string. */
export function parseUintString(value: unknown, field: string, bits: number): bigint {
  return parseDecimal(value, field, (1n << BigInt(bits)) - 1n);
}

/** A non-negative safe integer (a JSON number), at most `max`. */
export function parseInteger(value: unknown, field: string, max: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > max) {
    invalid(field, value, `an integer from 0 to ${max}`);
  }
  return value;
}

/** A 20-byte address (any case), returned checksummed. */
export function parseAddress(value: unknown, field: string): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) invalid(field, value, "an address");
  return getAddress(value);
}

/** Exactly 32 bytes of 0x-hex, returned lower-case. */
export function parseBytes32(value: unknown, field: string): Hex {
  if (typeof value !== "string" || !isHex(value, { strict: true }) || size(value) !== 32) {
    invalid(field, value, "32 bytes of 0x-prefixed hex");
  }
  return `0x${value.slice(2).toLowerCase()}`;
}

/** Non-empty 0x-hex bytes (a signature, packed data), returned lower-case. */
export function parseHexBytes(value: unknown, field: string, options: { size?: number } = {}): Hex {
  if (typeof value !== "string" || !isHex(value, { strict: true }) || value.length % 2 !== 0 || value.length < 4) {
    invalid(field, value, "0x-prefixed hex bytes");
  }
  if (options.size !== undefined && size(value) !== options.size) invalid(field, value, `${options.size} bytes of hex`);
  return `0x${value.slice(2).toLowerCase()}`;
}

/** A boolean. */
export function parseBoolean(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") invalid(field, value, "true or false");
  return value;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A plain object (not null, not an array), to read fields from. */
export function parseObject(value: unknown, field: string): Readonly<Record<string, unknown>> {
  if (!isRecord(value)) invalid(field, value, "an object");
  return value;
}
