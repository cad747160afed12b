// Deployment through Ignition's create2 strategy: in-process chains reporting every listed chain's
// real id, and an anvil over JSON-RPC; identical addresses everywhere, post-deploy checks, no-op
// re-runs, refusal of a mismatched chain id, and the deployment record and its loader.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { type Address, getAddress } from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { agentEscrowAbi } from "../src/abi/index.ts";
import { CHAINS, ChainRegistryError } from "../src/chains/index.ts";
import { CREATEX_ADDRESS, CREATEX_CODE_HASH } from "../src/deploy/createx.ts";
import { deployAgentEscrow, predictAddresses, verifyDeployment, writeDeploymentRecord } from "../src/deploy/deploy.ts";
import { DeploymentError } from "../src/deploy/errors.ts";
import { loadEconomicParameters } from "../src/deploy/parameters.ts";
import { getDeployment, parseDeploymentRecord } from "../src/deployments/index.ts";
import { startAnvil } from "./support/anvil.ts";

const OWNER = getAddress("0x5afe000000000000000000000000000000005afe");
const FEE_RECIPIENT = getAddress("0xfee0000000000000000000000000000000000fee");
const economics = loadEconomicParameters("base");
const addresses = new Map<string, { escrow: Address; direct: Address }>();
const tmp = mkdtempSync(join(tmpdir(), "deployments-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each(CHAINS.map((c) => [c.name, c] as const))("in-process %s", (_name, chain) => {
  it("deploys to the predicted addresses, passes the on-chain checks, and a second run sends nothing", async () => {
    const connection = await network.create(`sim-${chain.key}`);
    try {
      const options = {
        owner: OWNER,
        feeRecipient: FEE_RECIPIENT,
        economics,
        network: `sim-${chain.key}`,
        placeCreateX: true,
      };
      const { record, unchanged } = await deployAgentEscrow(connection, options);
      expect(unchanged).toBe(false);
      expect(record.chainId).toBe(chain.chainId);
      expect(record.tokens).toEqual(chain.tokens.map((t) => t.address));
      const predicted = await predictAddresses(record.deployer);
      expect(record.contracts.AgentEscrow.address).toBe(predicted.AgentEscrow);
      expect(record.contracts.DirectPayment.address).toBe(predicted.DirectPayment);
      addresses.set(chain.key, {
        escrow: record.contracts.AgentEscrow.address,
        direct: record.contracts.DirectPayment.address,
      });

      // Ownership is on its way to the multisig (it must accept: Ownable2Step).
      const publicClient = await connection.viem.getPublicClient();
      expect(
        await publicClient.readContract({
          address: predicted.AgentEscrow,
          abi: agentEscrowAbi,
          functionName: "pendingOwner",
        }),
      ).toBe(OWNER);
      const blockBefore = await publicClient.getBlockNumber();
      const again = await deployAgentEscrow(connection, options);
      expect(again.unchanged).toBe(true);
      expect(await publicClient.getBlockNumber()).toBe(blockBefore);
      expect(again.record).toEqual(record);

      const path = writeDeploymentRecord(record, tmp);
      expect(parseDeploymentRecord(JSON.parse(readFileSync(path, "utf8")))).toEqual(record);
    } finally {
      await connection.close();
    }
  });
});

describe("deterministic addresses", () => {
  it("are identical on every listed chain", () => {
    expect(addresses.size).toBe(CHAINS.length);
    const distinct = new Set([...addresses.values()].map((a) => `${a.escrow}/${a.direct}`));
    expect(distinct.size).toBe(1);
  });
});

describe("over JSON-RPC to anvil", () => {
  it("deploys at the same addresses, places CreateX, and a second run is a no-op", async () => {
    const anvil = await startAnvil(8453);
    const deploymentId = `test-anvil-${process.pid}`;
    try {
      const connection = await network.create({ network: "local", override: { url: anvil.url } });
      try {
        const options = {
          owner: OWNER,
          feeRecipient: FEE_RECIPIENT,
          economics,
          network: "local",
          placeCreateX: true,
          deploymentId,
        };
        const first = await deployAgentEscrow(connection, options);
        const publicClient = await connection.viem.getPublicClient();
        expect(await publicClient.getCode({ address: CREATEX_ADDRESS })).toBeDefined();
        expect(first.unchanged).toBe(false);
        expect(first.record.contracts.AgentEscrow.address).toBe(addresses.get("base")?.escrow);
        expect(first.record.contracts.DirectPayment.address).toBe(addresses.get("base")?.direct);
        const again = await deployAgentEscrow(connection, options);
        expect(again.unchanged).toBe(true);
        // A check that fails is reported, not ignored: expect another owner.
        const failures = await verifyDeployment(publicClient, CHAINS[0] as (typeof CHAINS)[number], {
          escrow: first.record.contracts.AgentEscrow.address,
          direct: first.record.contracts.DirectPayment.address,
          owner: FEE_RECIPIENT,
          deployer: first.record.deployer,
          feeRecipient: FEE_RECIPIENT,
          economics,
        });
        expect(failures.map((f) => f.check)).toEqual(["AgentEscrow owner", "DirectPayment owner"]);
      } finally {
        await connection.close();
      }
    } finally {
      await anvil.stop();
      rmSync(join("ignition", "deployments", deploymentId), { recursive: true, force: true });
    }
  });

  it("refuses a node whose chain id differs from the network's, before sending anything", async () => {
    const anvil = await startAnvil(10);
    try {
      const connection = await network.create({ network: "local", override: { url: anvil.url } });
      try {
        const publicClient = await connection.viem.getPublicClient();
        const [wallet] = await connection.viem.getWalletClients();
        const nonce = await publicClient.getTransactionCount({ address: wallet?.account.address as Address });
        const error = await deployAgentEscrow(connection, {
          owner: OWNER,
          feeRecipient: FEE_RECIPIENT,
          economics,
          network: "base",
          expectedChainId: 8453,
          placeCreateX: true,
        }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DeploymentError);
        expect((error as DeploymentError).code).toBe("CHAIN_ID_MISMATCH");
        expect((error as DeploymentError).details).toMatchObject({ expected: 8453, actual: 10 });
        expect(await publicClient.getTransactionCount({ address: wallet?.account.address as Address })).toBe(nonce);
        expect(await publicClient.getCode({ address: CREATEX_ADDRESS })).toBeUndefined();
      } finally {
        await connection.close();
      }
    } finally {
      await anvil.stop();
    }
  });

  it("refuses a live network without CreateX instead of placing it", async () => {
    const connection = await network.create("sim-base");
    try {
      const error = await deployAgentEscrow(connection, {
        owner: OWNER,
        feeRecipient: FEE_RECIPIENT,
        economics,
        network: "sim-base",
      }).catch((e: unknown) => e);
      expect((error as DeploymentError).code).toBe("CREATEX_MISSING");
    } finally {
      await connection.close();
    }
    expect(CREATEX_CODE_HASH).toMatch(/^0x[0-9a-f]{64}$/);
  });
});

describe("deployment loader", () => {
  it("gives addresses for a recorded chain and typed errors otherwise", () => {
    const record = parseDeploymentRecord(JSON.parse(readFileSync(join(tmp, "8453.json"), "utf8")));
    expect(getDeployment(8453, [record]).escrow).toBe(addresses.get("base")?.escrow);
    const missing = (() => {
      try {
        getDeployment(10, [record]);
      } catch (e) {
        return e;
      }
    })();
    expect(missing).toBeInstanceOf(DeploymentError);
    expect((missing as DeploymentError).code).toBe("DEPLOYMENT_MISSING");
    expect(() => getDeployment(1, [record])).toThrow(ChainRegistryError);
    expect(() => parseDeploymentRecord({ ...record, deployer: "0x123" })).toThrow(/deployer is invalid/);
  });
});

describe("network configuration", () => {
  it("has a live network per listed chain with the registry's chain id, URL and key from configuration variables", async () => {
    const hre = await import("hardhat");
    for (const chain of CHAINS) {
      const config = hre.config.networks[chain.key];
      expect(config?.type).toBe("http");
      expect(config?.chainId).toBe(chain.chainId);
      expect(config?.chainType).toBe(chain.chainType);
      const simulated = hre.config.networks[`sim-${chain.key}`];
      expect(simulated?.chainId).toBe(chain.chainId);
    }
  });

  it("knows an Etherscan-family explorer for every listed chain (for `hardhat verify`)", async () => {
    const hre = await import("hardhat");
    const descriptors = (
      hre.config as unknown as { chainDescriptors: Map<bigint, { blockExplorers: { etherscan?: { url: string } } }> }
    ).chainDescriptors;
    for (const chain of CHAINS) {
      expect(descriptors.get(BigInt(chain.chainId))?.blockExplorers.etherscan?.url, chain.name).toMatch(/^https:\/\//);
    }
  });

  it("reads fee caps and schedules from the defaults, overridable per network", () => {
    const dir = mkdtempSync(join(tmpdir(), "params-"));
    try {
      const defaults = {
        escrowCaps: { maxFeeBps: 500, maxFeeFixed: "1", maxUpfrontFee: "2" },
        directFeeSchedule: { bps: 200, fixedFee: "3000", minFee: "100000" },
      };
      writeFileSync(join(dir, "defaults.json"), JSON.stringify(defaults));
      writeFileSync(join(dir, "polygon.json"), JSON.stringify({ directFeeSchedule: { minFee: "50000" } }));
      expect(loadEconomicParameters("base", dir).directFeeSchedule).toEqual({
        bps: 200,
        fixedFee: 3000n,
        minFee: 100000n,
      });
      expect(loadEconomicParameters("polygon", dir).directFeeSchedule).toEqual({
        bps: 200,
        fixedFee: 3000n,
        minFee: 50000n,
      });
      writeFileSync(join(dir, "bad.json"), JSON.stringify({ escrowCaps: { maxFeeFixed: "-1" } }));
      expect(() => loadEconomicParameters("bad", dir)).toThrow(/escrowCaps.maxFeeFixed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
