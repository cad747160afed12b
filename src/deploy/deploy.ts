// Loads the type extensions of the Hardhat plugins this module uses (connection.viem, connection.ignition).

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type {} from "@nomicfoundation/hardhat-ignition-viem";
import type {} from "@nomicfoundation/hardhat-viem";
import type { NetworkConnection } from "hardhat/types/network";
import {
  type Address,
  type EIP1193Provider,
  encodeDeployData,
  getAddress,
  keccak256,
  type PublicClient,
  parseAbiItem,
} from "viem";
import { agentEscrowAbi, directPaymentAbi } from "../abi/index.ts";
import { type ChainInfo, getChain } from "../chains/index.ts";
import type { DeployedContract, DeploymentRecord } from "../deployments/types.ts";
import { agentEscrowArtifact, directPaymentArtifact } from "./artifacts.ts";
import { CREATEX_ADDRESS, create2Address, ensureCreateX } from "./createx.ts";
import { clientsFromProvider } from "./dev-clients.ts";
import { DeploymentError } from "./errors.ts";
import { agentEscrowStackModule, MODULE_ID } from "./module.ts";
import type { EconomicParameters } from "./parameters.ts";
import { DEPLOYMENT_SALT } from "./salt.ts";

type Connection = NetworkConnection;
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

export type DeployOptions = {
  /** Final owner of both contracts (a multisig). */
  readonly owner: Address;
  readonly feeRecipient: Address;
  readonly economics: EconomicParameters;
  /** Network name, for the record (`base`, `sim-base`, ...). */
  readonly network: string;
  /** Refuse unless the node reports this chain id (defaults to the network config's chainId). */
  readonly expectedChainId?: number;
  /** On a development chain, place CreateX when it is missing (never on a live network). */
  readonly placeCreateX?: boolean;
  readonly deploymentId?: string;
};

export type DeployResult = { readonly record: DeploymentRecord; readonly unchanged: boolean };

/**
 * The init code of both contracts for `deployer`: the creation bytecode shipped with this package
 * (src/deploy/artifacts.ts, generated from the compiled contracts) and the constructor arguments.
 * The artifacts of the Hardhat project this runs in play no part, so every project deploys the
 * same code to the same addresses.
 */
function initCodes(deployer: Address) {
  return {
    AgentEscrow: encodeDeployData({ abi: agentEscrowAbi, bytecode: agentEscrowArtifact.bytecode, args: [deployer] }),
    DirectPayment: encodeDeployData({
      abi: directPaymentAbi,
      bytecode: directPaymentArtifact.bytecode,
      args: [deployer, deployer],
    }),
  };
}

/** The addresses a deployment from `deployer` gets, on any chain, before anything is sent. */
export async function predictAddresses(deployer: Address) {
  const codes = initCodes(deployer);
  return {
    AgentEscrow: create2Address(DEPLOYMENT_SALT, codes.AgentEscrow),
    DirectPayment: create2Address(DEPLOYMENT_SALT, codes.DirectPayment),
  };
}

/** One failed post-deploy check. */
export type CheckFailure = { readonly check: string; readonly expected: string; readonly actual: string };

/**
 * Check a deployment on-chain: code present, owner (or pending owner) as expected, every registry
 * token allowlisted with the expected caps and not paused, fee schedules and fee recipient set.
 */
export async function verifyDeployment(
  client: PublicClient,
  chain: ChainInfo,
  expected: {
    escrow: Address;
    direct: Address;
    owner: Address;
    deployer: Address;
    feeRecipient: Address;
    economics: EconomicParameters;
  },
): Promise<CheckFailure[]> {
  const failures: CheckFailure[] = [];
  const check = (name: string, want: unknown, got: unknown) => {
    if (String(want).toLowerCase() !== String(got).toLowerCase()) {
      failures.push({ check: name, expected: String(want), actual: String(got) });
    }
  };
  for (const [name, address] of [
    ["AgentEscrow", expected.escrow],
    ["DirectPayment", expected.direct],
  ] as const) {
    const code = await client.getCode({ address });
    if (!code || code === "0x") {
      failures.push({ check: `${name} code`, expected: "deployed", actual: "no code" });
      return failures;
    }
  }
  for (const [name, address, abi] of [
    ["AgentEscrow", expected.escrow, agentEscrowAbi],
    ["DirectPayment", expected.direct, directPaymentAbi],
  ] as const) {
    const owner = await client.readContract({ address, abi, functionName: "owner" });
    const pending = await client.readContract({ address, abi, functionName: "pendingOwner" });
    // Either the owner accepted, or ownership is on its way to it (Ownable2Step).
    const is = (a: Address, b: Address) => a.toLowerCase() === b.toLowerCase();
    const handedOver = is(owner, expected.owner) || (is(owner, expected.deployer) && is(pending, expected.owner));
    check(`${name} owner`, expected.owner, handedOver ? expected.owner : `${owner} (pending ${pending})`);
  }
  const { escrowCaps, directFeeSchedule } = expected.economics;
  for (const token of chain.tokens) {
    const cfg = await client.readContract({
      address: expected.escrow,
      abi: agentEscrowAbi,
      functionName: "tokenConfig",
      args: [token.address],
    });
    check(`AgentEscrow ${token.symbol} allowed`, true, cfg.allowed);
    check(`AgentEscrow ${token.symbol} paused`, false, cfg.paused);
    check(`AgentEscrow ${token.symbol} maxFeeBps`, escrowCaps.maxFeeBps, cfg.maxFeeBps);
    check(`AgentEscrow ${token.symbol} maxFeeFixed`, escrowCaps.maxFeeFixed, cfg.maxFeeFixed);
    check(`AgentEscrow ${token.symbol} maxUpfrontFee`, escrowCaps.maxUpfrontFee, cfg.maxUpfrontFee);
    const [enabled, bps, fixedFee, minFee] = await client.readContract({
      address: expected.direct,
      abi: directPaymentAbi,
      functionName: "feeSchedules",
      args: [token.address],
    });
    check(
      `DirectPayment ${token.symbol} schedule`,
      `true/${directFeeSchedule.bps}/${directFeeSchedule.fixedFee}/${directFeeSchedule.minFee}`,
      `${enabled}/${bps}/${fixedFee}/${minFee}`,
    );
  }
  check(
    "DirectPayment feeRecipient",
    expected.feeRecipient,
    await client.readContract({ address: expected.direct, abi: directPaymentAbi, functionName: "feeRecipient" }),
  );
  return failures;
}

const CONTRACT_CREATION = parseAbiItem("event ContractCreation(address indexed newContract, bytes32 indexed salt)");

async function creation(client: PublicClient, address: Address, args: readonly string[]): Promise<DeployedContract> {
  const [log] = await client.getLogs({
    address: CREATEX_ADDRESS,
    event: CONTRACT_CREATION,
    args: { newContract: address },
    fromBlock: 0n,
  });
  const code = await client.getCode({ address });
  if (!log?.transactionHash || log.blockNumber === null || !code) {
    throw new DeploymentError("VERIFICATION_FAILED", `cannot find the creation of ${address}`, { address });
  }
  return {
    address,
    transactionHash: log.transactionHash,
    blockNumber: Number(log.blockNumber),
    codeHash: keccak256(code),
    constructorArgs: args,
  };
}

/**
 * Deploy (or confirm) the escrow stack on the connection's chain with Ignition's create2
 * strategy, verify it on-chain, and return the record for `deployments/<chainId>.json`. A second
 * run against a complete deployment sends nothing and reports `unchanged`.
 */
export async function deployAgentEscrow(connection: Connection, options: DeployOptions): Promise<DeployResult> {
  const dev = await clientsFromProvider(connection.provider as unknown as EIP1193Provider);
  const chainId = dev.chainId;
  const expectedChainId = options.expectedChainId ?? connection.networkConfig.chainId;
  if (expectedChainId !== undefined && expectedChainId !== chainId) {
    throw new DeploymentError(
      "CHAIN_ID_MISMATCH",
      `network ${options.network} expects chain ${expectedChainId} but its node reports ${chainId}; nothing was sent`,
      { expected: expectedChainId, actual: chainId },
    );
  }
  const chain = getChain(chainId);
  const [wallet] = await connection.viem.getWalletClients();
  if (!wallet) throw new DeploymentError("DEPLOYER_MISMATCH", "the network has no deployer account");
  const deployer = getAddress(wallet.account.address);

  const predicted = await predictAddresses(deployer);
  const expected = {
    escrow: predicted.AgentEscrow,
    direct: predicted.DirectPayment,
    owner: options.owner,
    deployer,
    feeRecipient: options.feeRecipient,
    economics: options.economics,
  };
  await ensureCreateX(dev.publicClient, options.placeCreateX ? dev.testClient : undefined);

  const alreadyThere = (await verifyDeployment(dev.publicClient, chain, expected)).length === 0;
  if (!alreadyThere) {
    const { escrowCaps: caps, directFeeSchedule: fees } = options.economics;
    const module = agentEscrowStackModule(chain, { transferOwnership: options.owner !== deployer });
    const deployed = await connection.ignition.deploy(module, {
      strategy: "create2",
      strategyConfig: { salt: DEPLOYMENT_SALT },
      deploymentId: options.deploymentId ?? `chain-${chainId}`,
      parameters: {
        [MODULE_ID]: {
          deployer,
          owner: options.owner,
          feeRecipient: options.feeRecipient,
          maxFeeBps: caps.maxFeeBps,
          maxFeeFixed: caps.maxFeeFixed,
          maxUpfrontFee: caps.maxUpfrontFee,
          feeBps: fees.bps,
          fixedFee: fees.fixedFee,
          minFee: fees.minFee,
        },
      },
    });
    const landed = { escrow: deployed.escrow.address, direct: deployed.direct.address };
    if (landed.escrow !== predicted.AgentEscrow || landed.direct !== predicted.DirectPayment) {
      throw new DeploymentError("VERIFICATION_FAILED", "contracts landed at unexpected addresses", {
        predicted,
        ...landed,
      });
    }
    const failures = await verifyDeployment(dev.publicClient, chain, expected);
    if (failures.length > 0) {
      throw new DeploymentError(
        "VERIFICATION_FAILED",
        `post-deploy checks failed: ${failures.map((f) => f.check).join(", ")}`,
        {
          failures,
        },
      );
    }
  }

  const { escrowCaps, directFeeSchedule } = options.economics;
  const record: DeploymentRecord = {
    chainId,
    network: options.network,
    module: MODULE_ID,
    version: PACKAGE_VERSION,
    salt: DEPLOYMENT_SALT,
    deployer,
    owner: options.owner,
    feeRecipient: options.feeRecipient,
    tokens: chain.tokens.map((t) => t.address),
    escrowCaps: {
      maxFeeBps: escrowCaps.maxFeeBps,
      maxFeeFixed: String(escrowCaps.maxFeeFixed),
      maxUpfrontFee: String(escrowCaps.maxUpfrontFee),
    },
    directFeeSchedule: {
      bps: directFeeSchedule.bps,
      fixedFee: String(directFeeSchedule.fixedFee),
      minFee: String(directFeeSchedule.minFee),
    },
    contracts: {
      AgentEscrow: await creation(dev.publicClient, predicted.AgentEscrow, [deployer]),
      DirectPayment: await creation(dev.publicClient, predicted.DirectPayment, [deployer, deployer]),
    },
  };
  return { record, unchanged: alreadyThere };
}

/** Write `<dir>/<chainId>.json`. */
export function writeDeploymentRecord(record: DeploymentRecord, dir = "deployments"): string {
  mkdirSync(dir, { recursive: true });
  const path = `${dir}/${record.chainId}.json`;
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}
