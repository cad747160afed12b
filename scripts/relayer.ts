// Start the relayer and its HTTP service (with the x402 facilitator) in one command, or with
// --platform the reference platform service on top of them:
//
//   npm run relayer                      # embedded store in memory, in-process Base chain
//   npm run serve                        # the same with the platform (npm run relayer -- --platform)
//   npm run relayer -- --data-dir ./relayer-data --port 8787
//   npm run relayer -- --rpc https://mainnet.base.org --pg postgres://... (key in RELAYER_PRIVATE_KEY)
//
// Without --rpc it starts an in-process chain reporting Base's id with Circle's real USDC, deploys
// the contracts and funds a fresh signer. It prints the service's URL and the operator API key,
// then runs until interrupted (SIGINT or SIGTERM), finishing its current pass before it exits.

import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import type { Hono } from "hono";
import { createPublicClient, type Hex, http, isAddress, isHex, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { getChain, getChainByKey } from "../src/chains/index.ts";
import { getDeployment } from "../src/deployments/index.ts";
import { createFacilitator, createRelayer, pgliteStore, postgresStore, type Store } from "../src/relayer/index.ts";
import { createRelayerService, mountFacilitator, serveRelayerService } from "../src/service/index.ts";

const { values } = parseArgs({
  options: {
    rpc: { type: "string" },
    chain: { type: "string", default: "base" },
    port: { type: "string", default: "8787" },
    host: { type: "string", default: "127.0.0.1" },
    pg: { type: "string" },
    "data-dir": { type: "string" },
    "api-key": { type: "string" },
    confirmations: { type: "string", default: "1" },
    platform: { type: "boolean", default: false },
    escrow: { type: "string" },
    "direct-payment": { type: "string" },
  },
});

const chainInfo = /^[0-9]+$/.test(values.chain) ? getChain(Number(values.chain)) : getChainByKey(values.chain);
const store: Store = values.pg
  ? await postgresStore({ connectionString: values.pg })
  : await pgliteStore(values["data-dir"] ? { dataDir: values["data-dir"] } : {});
const cleanup: (() => Promise<void>)[] = [() => store.close()];

try {
  let client: ReturnType<typeof createPublicClient>;
  let escrow: Hex;
  let directPayment: Hex;
  let key: Hex;
  if (values.rpc) {
    const fromEnv = process.env.RELAYER_PRIVATE_KEY;
    if (!fromEnv || !isHex(fromEnv) || fromEnv.length !== 66) {
      throw new Error("with --rpc, set RELAYER_PRIVATE_KEY to the signer's private key (0x and 64 hex digits)");
    }
    key = fromEnv;
    client = createPublicClient({ transport: http(values.rpc) });
    const chainId = await client.getChainId();
    if (chainId !== chainInfo.chainId) throw new Error(`--rpc serves chain ${chainId}, not ${chainInfo.name}`);
    if (values.escrow && values["direct-payment"] && isAddress(values.escrow) && isAddress(values["direct-payment"])) {
      // Contracts deployed elsewhere than the recorded deployments (a local node, say).
      escrow = values.escrow;
      directPayment = values["direct-payment"];
    } else {
      ({ escrow, directPayment } = getDeployment(chainId));
    }
  } else {
    const [{ startFaithfulChain }, { deployAgentEscrow }, { loadEconomicParameters }] = await Promise.all([
      import("../src/testing/faithful-chain.ts"),
      import("../src/deploy/deploy.ts"),
      import("../src/deploy/parameters.ts"),
    ]);
    const local = await startFaithfulChain(chainInfo.chainId);
    cleanup.push(() => local.close());
    const [owner] = await local.wallets();
    const platform = owner?.account?.address;
    if (!platform) throw new Error("the in-process chain has no funded account");
    const { record } = await deployAgentEscrow(local.connection, {
      owner: platform,
      feeRecipient: platform,
      economics: loadEconomicParameters(chainInfo.key),
      network: `sim-${chainInfo.key}`,
      placeCreateX: true,
    });
    escrow = record.contracts.AgentEscrow.address;
    directPayment = record.contracts.DirectPayment.address;
    key = generatePrivateKey();
    await local.dev.testClient.setBalance({ address: privateKeyToAccount(key).address, value: parseEther("100") });
    client = local.dev.publicClient;
  }
  const signer = privateKeyToAccount(key);
  const platformAddress = signer.address; // fee recipient and arbiter of the platform's agreements
  const apiKey = values["api-key"] ?? randomBytes(24).toString("base64url");
  const relayer = createRelayer({
    chains: [
      { chainId: chainInfo.chainId, client, escrow, directPayment, confirmations: Number(values.confirmations) },
    ],
    signers: { [chainInfo.chainId]: [signer] },
    store,
    settlement: {},
  });
  relayer.start();
  cleanup.unshift(() => relayer.stop());
  const mount = (a: Hono) => mountFacilitator(a, createFacilitator({ relayer }));
  const app = values.platform
    ? await (async () => {
        const { createPlatformService, migratePlatform } = await import("../src/platform/index.ts");
        await migratePlatform(store);
        const terms = { feeRecipient: platformAddress, arbiter: platformAddress };
        return createPlatformService({ relayer, store, apiKey, terms, mount });
      })()
    : createRelayerService({ relayer, apiKey, mount });
  const served = await serveRelayerService(app, { port: Number(values.port), hostname: values.host });
  cleanup.unshift(() => served.close());
  console.log(`${values.platform ? "platform" : "relayer"} service ${served.url}`);
  console.log(`chain ${chainInfo.name} (${chainInfo.chainId}) ${values.rpc ?? "in-process"}; escrow ${escrow}`);
  console.log(
    `signer ${signer.address}; store ${values.pg ? "PostgreSQL" : (values["data-dir"] ?? "embedded, in memory")}`,
  );
  console.log(`operator API key ${apiKey}`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
} finally {
  for (const step of cleanup) await step().catch((error: unknown) => console.error(String(error)));
}
