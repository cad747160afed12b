/**
 * The relayer's HTTP service (Node, Hono): the seeds' chain-facing endpoints (activate-escrow
 * answering 202, escrow-status, payment-requirements), direct payments, jobs, health, metrics, and
 * signed webhooks. Mount it inside a backend, or serve it on its own with
 * {@link serveRelayerService}.
 * @packageDocumentation
 */
export { AgentEscrowError, type ErrorDetails, isAgentEscrowError } from "../errors.ts";
export {
  createRelayerService,
  type EscrowStatusJson,
  type JobJson,
  jobJson,
  jsonBody,
  type RelayerServiceOptions,
  requireOperator,
} from "./app.ts";
export { errorBody, httpStatusOf, ServiceError, type ServiceErrorCode, type ServiceErrorDetails } from "./errors.ts";
export { mountFacilitator } from "./facilitator-routes.ts";
export { type PaywallOptions, x402Paywall } from "./paywall.ts";
export { type ServedService, serveRelayerService } from "./serve.ts";
export {
  verifyWebhookSignature,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  webhookNotifier,
} from "./webhooks.ts";
