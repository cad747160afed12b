/**
 * Where the contracts are, per chain: the records in `deployments/<chainId>.json`, bundled at
 * build time into `known.ts`, with a validating parser for records read at run time.
 * @packageDocumentation
 */
import { type Address, getAddress, isAddress, isHex } from "viem";
import { getChain } from "../chains/index.ts";
import { DeploymentError } from "./errors.ts";
import { KNOWN_DEPLOYMENTS } from "./known.ts";
import type { DeployedContract, DeploymentRecord } from "./types.ts";

export { DeploymentError, type DeploymentErrorCode } from "./errors.ts";
export type { DeployedContract, DeploymentRecord } from "./types.ts";

/** Every recorded deployment. */
export function knownDeployments(): readonly DeploymentRecord[] {
  return KNOWN_DEPLOYMENTS;
}

/** The recorded deployment on `chainId`, or `undefined`. */
export function findDeployment(chainId: number, records: readonly DeploymentRecord[] = KNOWN_DEPLOYMENTS) {
  return records.find((r) => r.chainId === chainId);
}

/**
 * The escrow and direct-payment addresses on `chainId`. Throws `CHAIN_UNKNOWN` (from the
 * registry) for an unsupported chain and `DEPLOYMENT_MISSING` for a supported chain without a
 * recorded deployment.
 */
export function getDeployment(
  chainId: number,
  records: readonly DeploymentRecord[] = KNOWN_DEPLOYMENTS,
): { escrow: Address; directPayment: Address; record: DeploymentRecord } {
  const chain = getChain(chainId);
  const record = findDeployment(chainId, records);
  if (!record) {
    throw new DeploymentError("DEPLOYMENT_MISSING", `no deployment is recorded for ${chain.name} (${chainId})`, {
      chainId,
      recorded: records.map((r) => r.chainId),
    });
  }
  return {
    escrow: record.contracts.AgentEscrow.address,
    directPayment: record.contracts.DirectPayment.address,
    record,
  };
}

function invalid(path: string, value: unknown): never {
  throw new DeploymentError("PARAMETERS_INVALID", `deployment record: ${path} is invalid (${JSON.stringify(value)})`, {
    path,
    value,
  });
}

function address(value: unknown, path: string): Address {
  return typeof value === "string" && isAddress(value, { strict: false }) ? getAddress(value) : invalid(path, value);
}

function contract(value: unknown, path: string): DeployedContract {
  const v = (value ?? {}) as Record<string, unknown>;
  if (!isHex(v.transactionHash) || (v.transactionHash as string).length !== 66)
    invalid(`${path}.transactionHash`, v.transactionHash);
  if (!isHex(v.codeHash) || (v.codeHash as string).length !== 66) invalid(`${path}.codeHash`, v.codeHash);
  if (!Number.isSafeInteger(v.blockNumber)) invalid(`${path}.blockNumber`, v.blockNumber);
  if (!Array.isArray(v.constructorArgs)) invalid(`${path}.constructorArgs`, v.constructorArgs);
  return {
    address: address(v.address, `${path}.address`),
    transactionHash: v.transactionHash as DeployedContract["transactionHash"],
    blockNumber: v.blockNumber as number,
    codeHash: v.codeHash as DeployedContract["codeHash"],
    constructorArgs: (v.constructorArgs as unknown[]).map(String),
  };
}

/** Validate a parsed `deployments/<chainId>.json`. Throws `PARAMETERS_INVALID` naming the bad field. */
export function parseDeploymentRecord(json: unknown): DeploymentRecord {
  const v = (json ?? {}) as Record<string, unknown>;
  if (!Number.isSafeInteger(v.chainId)) invalid("chainId", v.chainId);
  getChain(v.chainId as number);
  const contracts = (v.contracts ?? {}) as Record<string, unknown>;
  for (const key of ["network", "module", "version"] as const) if (typeof v[key] !== "string") invalid(key, v[key]);
  if (!isHex(v.salt)) invalid("salt", v.salt);
  if (!Array.isArray(v.tokens)) invalid("tokens", v.tokens);
  return {
    chainId: v.chainId as number,
    network: v.network as string,
    module: v.module as string,
    version: v.version as string,
    salt: v.salt as DeploymentRecord["salt"],
    deployer: address(v.deployer, "deployer"),
    owner: address(v.owner, "owner"),
    feeRecipient: address(v.feeRecipient, "feeRecipient"),
    tokens: (v.tokens as unknown[]).map((t, i) => address(t, `tokens[${i}]`)),
    escrowCaps: v.escrowCaps as DeploymentRecord["escrowCaps"],
    directFeeSchedule: v.directFeeSchedule as DeploymentRecord["directFeeSchedule"],
    contracts: {
      AgentEscrow: contract(contracts.AgentEscrow, "contracts.AgentEscrow"),
      DirectPayment: contract(contracts.DirectPayment, "contracts.DirectPayment"),
    },
  };
}
export { AgentEscrowError, type ErrorDetails, isAgentEscrowError } from "../errors.ts";
