import { AgentEscrowError } from "../errors.ts";

/** Details of each {@link ServiceError} code. */
export type ServiceErrorDetails = {
  /** The body is not JSON. */
  BODY_NOT_JSON: Record<string, never>;
  /** The body is larger than the service accepts. */
  BODY_TOO_LARGE: { readonly limitBytes: number };
  /** A query parameter is missing or malformed. */
  QUERY_INVALID: { readonly param: string; readonly value: string | null; readonly expected: string };
  /** An operator endpoint without the right API key. */
  UNAUTHORIZED: Record<string, never>;
  /** No such route, agreement or job. */
  NOT_FOUND: { readonly path: string };
  /** The job failed for good (the seed's 400): `reason` is the relayer's typed reason. */
  JOB_FAILED: { readonly jobId: string; readonly reason: string | null };
  /** The agent in the path is not the purchase's buyer. */
  NOT_BUYER: { readonly agent: string; readonly buyer: string | null };
  /** The store or the chain could not be reached: retry with the same request id. */
  UNAVAILABLE: { readonly cause: string };
};

/** Stable codes of {@link ServiceError}. */
export type ServiceErrorCode = keyof ServiceErrorDetails;

/** A request the relayer service refuses, or could not serve now. */
export class ServiceError<C extends ServiceErrorCode = ServiceErrorCode> extends AgentEscrowError<
  C,
  ServiceErrorDetails[C]
> {
  /** Whether this error has `code`; narrows `details` to that code's. */
  is<K extends ServiceErrorCode>(code: K): this is ServiceError<K> {
    const own: string = this.code;
    return own === code;
  }
}

/**
 * The HTTP status of an error: 400 for a request that will never succeed as it is, 401, 404,
 * 409 for a conflict, 413, 503 for what a retry may fix (store or chain unreachable), 500 for
 * the rest.
 */
export function httpStatusOf(error: unknown): 400 | 401 | 403 | 404 | 409 | 413 | 500 | 503 | 504 {
  if (!(error instanceof AgentEscrowError)) return 503;
  switch (error.code) {
    case "BODY_NOT_JSON":
    case "QUERY_INVALID":
    case "JOB_FAILED":
    case "JOB_INVALID":
    case "CHAIN_NOT_CONFIGURED":
      return 400;
    case "UNAUTHORIZED":
    case "SIGNATURE_INVALID":
    case "SESSION_INVALID":
      return 401;
    case "POLICY_REFUSED":
    case "NOT_BUYER":
    case "NOT_PARTY":
      return 403;
    case "NOT_FOUND":
    case "JOB_NOT_FOUND":
      return 404;
    case "AGREEMENT_MISMATCH":
    case "APPROVAL_NOT_PENDING":
    case "REQUEST_ID_CONFLICT":
    case "REQUEST_REPLAYED":
    case "WRONG_STATUS":
    case "DEPOSIT_EXCEEDED":
      return 409;
    case "BODY_TOO_LARGE":
      return 413;
    case "UNAVAILABLE":
    case "RPC_FAILED":
      return 503;
    case "JOB_KIND_UNKNOWN":
    case "STORE_NESTED_TRANSACTION":
    case "MIGRATION_TABLE_INVALID":
      return 500;
    case "WAIT_TIMEOUT":
      return 504;
    default:
      // A refusal of a lower layer (a field that does not parse, a contract's revert): the input.
      return 400;
  }
}

/** JSON-safe details (bigints as decimal strings). */
function jsonSafe(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value ?? {}, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
}

/** The JSON body of an error: `{ error: { code, message, details } }`, the codes those the library throws. */
export function errorBody(error: unknown): { error: { code: string; message: string; details: unknown } } {
  if (error instanceof AgentEscrowError) {
    return { error: { code: error.code, message: error.message, details: jsonSafe(error.details) } };
  }
  const cause = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
  return {
    error: { code: "UNAVAILABLE", message: "the service could not complete the request; retry", details: { cause } },
  };
}
