/**
 * The relayer (Node): a durable, idempotent transaction pipeline for backend services. Jobs are
 * recorded before anything is sent; each is checked and simulated before it takes a nonce; nonces
 * are claimed in a store transaction; signed bytes and their hash are stored before the
 * broadcast; receipts are watched to the confirmation depth, reorgs included. The store is
 * PostgreSQL: embedded (PGlite, `pgliteStore`) or a server (`postgresStore`) for several
 * instances.
 * @packageDocumentation
 */
export { AgentEscrowError, type ErrorDetails, isAgentEscrowError } from "../errors.ts";
export { type BroadcastOutcome, bumped, classifyBroadcastError } from "./broadcast.ts";
export type { JobKind } from "./calls.ts";
export { RelayerError, type RelayerErrorCode, type RelayerErrorDetails } from "./errors.ts";
export {
  createFacilitator,
  type Facilitator,
  type FacilitatorSettleResponse,
  type FacilitatorSupportedResponse,
  type FacilitatorVerifyResponse,
} from "./facilitator.ts";
export { type Job, type JobStatus, RETRYABLE_REASONS } from "./jobs.ts";
export type { PromClientLike, RelayerMetricsOptions } from "./metrics.ts";
export type { BuyerPolicy, Purchase } from "./policies.ts";
export { createRelayer, type Relayer, type RelayerOptions } from "./relayer.ts";
export { applyMigrations, MIGRATIONS, type Migration, migrate } from "./store/migrations.ts";
export { pgliteStore } from "./store/pglite.ts";
export { postgresStore } from "./store/postgres.ts";
export type { Row, Sql, Store } from "./store/sql.ts";
export type { UsageEntry, UsageEntryStatus, UsageOutcome } from "./usage.ts";
export {
  type PipelineStep,
  permanentReason,
  type RelayerChain,
  type RelayerLogger,
  type StepHook,
} from "./worker.ts";
