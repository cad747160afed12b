import { X402Error } from "./errors.ts";

const STANDARD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]*={0,2}$/;

/** Standard, padded base64 of the UTF-8 bytes of `JSON.stringify(value)` (what x402 sends). */
export function encodeJsonHeader(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Decode a base64 JSON header. Tolerant of what peers do differently (surrounding whitespace,
 * the URL-safe alphabet, missing padding); strict about the result being UTF-8 JSON.
 */
export function decodeJsonHeader(header: string, name = "header"): unknown {
  let text = header.trim();
  if (!STANDARD.test(text)) {
    if (!URL_SAFE.test(text)) {
      throw new X402Error("HEADER_MALFORMED", `${name} is not base64`, { name, header: header.slice(0, 64) });
    }
    text = text.replaceAll("-", "+").replaceAll("_", "/");
  }
  text = text.replace(/=+$/, "");
  if (text.length % 4 === 1)
    throw new X402Error("HEADER_MALFORMED", `${name} has an impossible base64 length`, { name });
  text += "=".repeat((4 - (text.length % 4)) % 4);
  let json: string;
  try {
    const binary = atob(text);
    json = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch (cause) {
    throw new X402Error("HEADER_MALFORMED", `${name} is not base64 of UTF-8 text`, { name }, { cause });
  }
  try {
    return JSON.parse(json) as unknown;
  } catch (cause) {
    throw new X402Error("HEADER_MALFORMED", `${name} does not hold JSON`, { name }, { cause });
  }
}
