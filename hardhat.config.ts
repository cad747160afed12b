import { createRequire } from "node:module";
import hardhatIgnitionViem from "@nomicfoundation/hardhat-ignition-viem";
import hardhatKeystore from "@nomicfoundation/hardhat-keystore";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatVerify from "@nomicfoundation/hardhat-verify";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import { configVariable, defineConfig } from "hardhat/config";
import { CHAINS } from "./src/chains/index.ts";
import { DEPLOYMENT_SALT } from "./src/deploy/salt.ts";

const require = createRequire(import.meta.url);

// Solidity compiles offline: the compiler is the npm package `solc` (solc-js), and its version is
// read from that package so the two cannot drift.
const solcPackage = require("solc/package.json") as { version: string };

/**
 * EVM target: `cancun`. Every listed chain executes Cancun opcodes (PUSH0, MCOPY, transient
 * storage): Base and OP Mainnet since Ecotone, Arbitrum since ArbOS 20, Polygon PoS since Napoli,
 * Avalanche C-Chain since Etna; and their testnets before them.
 */
const EVM_VERSION = "cancun";

const compiler = {
  version: solcPackage.version,
  path: require.resolve("solc/soljson.js"),
  settings: {
    evmVersion: EVM_VERSION,
    optimizer: { enabled: true, runs: 10_000 },
    viaIR: true,
    metadata: { bytecodeHash: "none" },
  },
};

// One in-process network per listed chain, reporting that chain's real id: `sim-base`,
// `sim-arbitrum-sepolia`, ... Tests create them by name.
const simulatedNetworks = Object.fromEntries(
  CHAINS.map((chain) => [
    `sim-${chain.key}`,
    { type: "edr-simulated" as const, chainType: chain.chainType, chainId: chain.chainId },
  ]),
);

// One live network per listed chain (`base`, `base-sepolia`, ...). The RPC URL and the deployer
// key are configuration variables: environment variables or the encrypted keystore
// (`npx hardhat keystore set RPC_URL_BASE`), never committed files.
const liveNetworks = Object.fromEntries(
  CHAINS.map((chain) => {
    const variable = chain.key.toUpperCase().replaceAll("-", "_");
    return [
      chain.key,
      {
        type: "http" as const,
        chainType: chain.chainType,
        chainId: chain.chainId,
        url: configVariable(`RPC_URL_${variable}`),
        accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
      },
    ];
  }),
);

// Hardhat has no hardfork history for these chains, and a fork must know which rules the blocks
// it replays use. Forked runs (FORK_URL_*) fork a recent block, so every block is executed with
// the rules in force now: Isthmus on OP-stack chains, Cancun (the contracts' target) elsewhere.
const chainDescriptors = Object.fromEntries(
  CHAINS.map((chain) => [
    chain.chainId,
    {
      name: chain.name,
      chainType: chain.chainType,
      hardforkHistory: { [chain.chainType === "op" ? "isthmus" : "cancun"]: { timestamp: 0 } },
    },
  ]),
);

export default defineConfig({
  chainDescriptors,
  plugins: [hardhatViem, hardhatNetworkHelpers, hardhatIgnitionViem, hardhatKeystore, hardhatVerify],
  solidity: {
    // Both profiles compile identically: the bytecode, and so every CREATE2 address, is the same
    // whether a deployment runs from a script (default profile) or the Ignition CLI (production).
    profiles: {
      default: { compilers: [compiler] },
      production: { compilers: [compiler] },
    },
  },
  networks: {
    ...simulatedNetworks,
    ...liveNetworks,
    // A JSON-RPC node on this machine (anvil, a Hardhat node); tests override its URL.
    local: { type: "http", url: "http://127.0.0.1:8545" },
  },
  ignition: {
    strategyConfig: { create2: { salt: DEPLOYMENT_SALT } },
  },
  verify: {
    // Etherscan's v2 API serves every listed chain (and its testnet) with one key.
    etherscan: { apiKey: configVariable("ETHERSCAN_API_KEY") },
  },
});
