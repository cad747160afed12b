// The Ignition module of this project is built per chain from the registry (the tokens it
// allowlists differ by chain); its definition lives in src/deploy/module.ts and deployments go
// through scripts/deploy.ts, which selects the chain's module.
export { agentEscrowStackModule, MODULE_ID } from "../../src/deploy/module.ts";
