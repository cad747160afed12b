import { createRequire } from "node:module";
import hardhatIgnitionViem from "@nomicfoundation/hardhat-ignition-viem";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import { defineConfig } from "hardhat/config";
import { CHAINS } from "./src/chains/index.ts";

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

// One in-process network per listed chain, reporting that chain's real id: `sim-base`,
// `sim-arbitrum-sepolia`, ... Tests create them by name or override the default one.
const simulatedNetworks = Object.fromEntries(
  CHAINS.map((chain) => [
    `sim-${chain.key}`,
    { type: "edr-simulated" as const, chainType: chain.chainType, chainId: chain.chainId },
  ]),
);

export default defineConfig({
  plugins: [hardhatViem, hardhatNetworkHelpers, hardhatIgnitionViem],
  solidity: {
    compilers: [
      {
        version: solcPackage.version,
        path: require.resolve("solc/soljson.js"),
        settings: {
          evmVersion: EVM_VERSION,
          optimizer: { enabled: true, runs: 10_000 },
          viaIR: true,
          metadata: { bytecodeHash: "none" },
        },
      },
    ],
  },
  networks: {
    ...simulatedNetworks,
  },
});
