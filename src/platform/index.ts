/**
 * The reference platform service (Node, Hono): the seeds' catalog and usage-agreement endpoints,
 * built on the relayer and its store. Agents sign their requests with the seeds' runtime message.
 * @packageDocumentation
 */
export { AgentEscrowError, type ErrorDetails, isAgentEscrowError } from "../errors.ts";
export { createPlatformService, type PlatformServiceOptions, type PlatformTerms } from "./app.ts";
export { createSession, SIGNED_HEADERS, verifySignedRequest } from "./auth.ts";
export { type CreditsOptions, mountCredits } from "./credits.ts";
export { PlatformError, type PlatformErrorCode, type PlatformErrorDetails } from "./errors.ts";
export { migratePlatform, PLATFORM_MIGRATIONS } from "./store.ts";
