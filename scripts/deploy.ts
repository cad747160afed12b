// Deploy the escrow stack to the network given with --network, verify it on-chain, and write
// deployments/<chainId>.json (then re-index src/deployments/known.ts).
//
//   ESCROW_OWNER=0x<multisig> FEE_RECIPIENT=0x<address> DEPLOY_CONFIRM=1 \
//     npx hardhat run scripts/deploy.ts --network base-sepolia
//
// RPC_URL_<CHAIN> and DEPLOYER_PRIVATE_KEY come from the environment or the encrypted keystore
// (`npx hardhat keystore set DEPLOYER_PRIVATE_KEY`). Live networks need DEPLOY_CONFIRM=1.
import { execFileSync } from "node:child_process";
import { network } from "hardhat";
import { getChain } from "../src/chains/index.ts";
import { deployAgentEscrow, predictAddresses, writeDeploymentRecord } from "../src/deploy/deploy.ts";
import { loadEconomicParameters, requireAddress } from "../src/deploy/parameters.ts";

const connection = await network.create();
try {
  const name = connection.networkName;
  const simulated = connection.networkConfig.type === "edr-simulated";
  const chainId = await (await connection.viem.getPublicClient()).getChainId();
  const chain = getChain(chainId);
  const owner = requireAddress(process.env.ESCROW_OWNER, "ESCROW_OWNER");
  const feeRecipient = requireAddress(process.env.FEE_RECIPIENT, "FEE_RECIPIENT");
  const economics = loadEconomicParameters(chain.key);
  const [wallet] = await connection.viem.getWalletClients();
  const predicted = await predictAddresses(wallet?.account.address ?? "0x");
  console.log(`network ${name} -> ${chain.name} (${chainId})`);
  console.log(`deployer ${wallet?.account.address}, owner ${owner}, fee recipient ${feeRecipient}`);
  console.log(`AgentEscrow   -> ${predicted.AgentEscrow}\nDirectPayment -> ${predicted.DirectPayment}`);
  if (!simulated && process.env.DEPLOY_CONFIRM !== "1") {
    console.log("\nnothing sent: set DEPLOY_CONFIRM=1 to deploy to a live network");
    process.exitCode = 1;
  } else {
    const { record, unchanged } = await deployAgentEscrow(connection, {
      owner,
      feeRecipient,
      economics,
      network: name,
      placeCreateX: simulated,
    });
    console.log(unchanged ? "\nalready deployed and verified: nothing sent" : "\ndeployed and verified");
    if (!simulated) {
      console.log(`wrote ${writeDeploymentRecord(record)}`);
      execFileSync("node", ["scripts/index-deployments.ts"], { stdio: "inherit" });
    } else {
      console.log(JSON.stringify(record, null, 2));
    }
  }
} finally {
  await connection.close();
}
