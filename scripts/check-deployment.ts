// Re-run the post-deploy checks of deployments/<chainId>.json against the chain of --network.
//   npx hardhat run scripts/check-deployment.ts --network base
import { readFileSync } from "node:fs";
import { network } from "hardhat";
import { getChain } from "../src/chains/index.ts";
import { verifyDeployment } from "../src/deploy/deploy.ts";
import { parseDeploymentRecord } from "../src/deployments/index.ts";

const connection = await network.create();
try {
  const client = await connection.viem.getPublicClient();
  const chainId = await client.getChainId();
  const record = parseDeploymentRecord(JSON.parse(readFileSync(`deployments/${chainId}.json`, "utf8")));
  const failures = await verifyDeployment(client, getChain(chainId), {
    escrow: record.contracts.AgentEscrow.address,
    direct: record.contracts.DirectPayment.address,
    owner: record.owner,
    deployer: record.deployer,
    feeRecipient: record.feeRecipient,
    economics: {
      escrowCaps: {
        maxFeeBps: record.escrowCaps.maxFeeBps,
        maxFeeFixed: BigInt(record.escrowCaps.maxFeeFixed),
        maxUpfrontFee: BigInt(record.escrowCaps.maxUpfrontFee),
      },
      directFeeSchedule: {
        bps: record.directFeeSchedule.bps,
        fixedFee: BigInt(record.directFeeSchedule.fixedFee),
        minFee: BigInt(record.directFeeSchedule.minFee),
      },
    },
  });
  for (const [name, c] of Object.entries(record.contracts)) {
    const code = await client.getCode({ address: c.address });
    console.log(`${name} ${c.address} code ${code ? "present" : "MISSING"}`);
  }
  if (failures.length === 0) console.log(`all checks passed on chain ${chainId}`);
  for (const f of failures) console.log(`FAILED ${f.check}: expected ${f.expected}, got ${f.actual}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
} finally {
  await connection.close();
}
