import { AgentEscrowError } from "../errors.ts";

/** Stable codes of {@link DeploymentError}. */
export type DeploymentErrorCode =
  | "CHAIN_ID_MISMATCH"
  | "CREATEX_MISSING"
  | "CREATEX_MISMATCH"
  | "PARAMETERS_INVALID"
  | "DEPLOYER_MISMATCH"
  | "VERIFICATION_FAILED"
  | "DEPLOYMENT_MISSING";

/** A deployment that cannot go ahead, failed its on-chain checks, or is not recorded. */
export class DeploymentError extends AgentEscrowError<DeploymentErrorCode> {}
