/**
 * Wire formats, parsed and serialized in one place: the activation package, the buyer's
 * activation signatures, the direct-payment body, and the x402 headers and payloads. Parsers take
 * `unknown` (an HTTP body, a decoded header), check every field with one set of primitives, and
 * throw {@link WireError} (or `X402Error` for x402 payloads) naming the field; serializers give the
 * JSON form back. No policy, no chain. Browser-safe.
 * @packageDocumentation
 */

export { AgentEscrowError, type ErrorDetails, isAgentEscrowError } from "../errors.ts";
export {
  type ActivationPackage,
  type ActivationPackageJson,
  parseActivationPackage,
  parseTermsJson,
  serializeActivationPackage,
  serializeTerms,
} from "./activation-package.ts";
export {
  type ActivationSignatures,
  type ActivationSignaturesJson,
  type FeePermitSignature,
  parseActivationSignatures,
  serializeActivationSignatures,
} from "./activation-signatures.ts";
export {
  type DirectPaymentBody,
  type DirectPaymentBodyJson,
  parseDirectPaymentBody,
  serializeDirectPaymentBody,
} from "./direct-payment.ts";
export { WireError, type WireErrorCode, type WireErrorDetails } from "./errors.ts";
export {
  parseAddress,
  parseBoolean,
  parseBytes32,
  parseDecimal,
  parseHexBytes,
  parseInteger,
  parseObject,
  parseUintString,
} from "./primitives.ts";
export { decodeJsonHeader, encodeJsonHeader } from "./x402/base64.ts";
export {
  decodePaymentPayload,
  decodePaymentRequired,
  decodePaymentResponse,
  parseRequirements,
} from "./x402/decode.ts";
export { X402Error, type X402ErrorCode, type X402ErrorDetails } from "./x402/errors.ts";
export type * from "./x402/types.ts";
