/**
 * The one error base class of this package. Every public function throws an `AgentEscrowError`
 * (one of its subclasses, each with its own codes), never a bare `Error`, `TypeError` or a
 * library's error: those are kept as `cause`.
 *
 * - `code` is stable across releases and safe to switch on;
 * - `details` carries the offending values, typed per code by each subclass.
 * @packageDocumentation
 */

/** Details of an error, read-only. */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/**
 * Base class of every error this package throws. `code` is stable across releases and safe to
 * switch on; `details` carries the offending values (its shape is fixed per code by each subclass).
 */
export class AgentEscrowError<Code extends string = string, Details extends object = ErrorDetails> extends Error {
  readonly code: Code;
  readonly details: Readonly<Details>;

  constructor(code: Code, message: string, details?: Details, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    // A code whose details are all optional may be thrown without them.
    this.details = Object.freeze({ ...(details ?? ({} as Details)) });
  }
}

/** Whether `error` is an error of this package (optionally with this code). */
export function isAgentEscrowError(error: unknown, code?: string): error is AgentEscrowError {
  return error instanceof AgentEscrowError && (code === undefined || error.code === code);
}
