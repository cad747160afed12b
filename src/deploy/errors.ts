// DeploymentError lives with the deployment records (src/deployments), the lower layer that
// throws it too; deployment code re-exports it from here.
export { DeploymentError, type DeploymentErrorCode } from "../deployments/errors.ts";
