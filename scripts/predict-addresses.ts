// Print the addresses a deployment from DEPLOYER (default: the configured deployer account of
// --network) would get on every listed chain. Sends nothing.
//   DEPLOYER=0x... npx hardhat run scripts/predict-addresses.ts
import { network } from "hardhat";
import { CHAINS } from "../src/chains/index.ts";
import { predictAddresses } from "../src/deploy/deploy.ts";
import { requireAddress } from "../src/deploy/parameters.ts";
import { DEPLOYMENT_SALT } from "../src/deploy/salt.ts";

let deployer = process.env.DEPLOYER;
if (!deployer) {
  const connection = await network.create();
  const [wallet] = await connection.viem.getWalletClients();
  deployer = wallet?.account.address;
  await connection.close();
}
const predicted = await predictAddresses(requireAddress(deployer, "DEPLOYER"));
console.log(`deployer ${deployer}, salt ${DEPLOYMENT_SALT} (CreateX, guarded salt keccak256(abi.encode(salt)))`);
console.log(`AgentEscrow   ${predicted.AgentEscrow}`);
console.log(`DirectPayment ${predicted.DirectPayment}`);
console.log(`the same on: ${CHAINS.map((c) => `${c.name} (${c.chainId})`).join(", ")}`);
