// A relayer in a process of its own, for crash tests: it serves one chain from a PostgreSQL store
// and kills itself (SIGKILL, no clean-up of any kind) right after the pipeline step named by
// KILL_AT has been committed. Environment: ANVIL_URL, PG_URL, ESCROW, SIGNER_INDEX, BODY_FILE,
// REQUEST_ID, KILL_AT.
import { readFileSync } from "node:fs";
import { createPublicClient, type Hex, http } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { createRelayer, postgresStore } from "../../src/relayer/index.ts";

const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const store = await postgresStore({ connectionString: env("PG_URL") });
const relayer = createRelayer({
  chains: [
    {
      chainId: 8453,
      client: createPublicClient({ transport: http(env("ANVIL_URL")), cacheTime: 0 }),
      escrow: env("ESCROW") as Hex,
      rebroadcastMs: 0,
    },
  ],
  signers: {
    8453: [
      mnemonicToAccount("test test test test test test test test test test test junk", {
        addressIndex: Number(env("SIGNER_INDEX")),
      }),
    ],
  },
  store,
  instanceId: `child-${process.pid}`,
  leaseMs: 300,
  pollMs: 20,
  onStep: (step) => {
    if (step === env("KILL_AT")) process.kill(process.pid, "SIGKILL");
  },
});
await relayer.submitActivation(JSON.parse(readFileSync(env("BODY_FILE"), "utf8")), {
  requestId: env("REQUEST_ID"),
  chainId: 8453,
});
relayer.start();
setTimeout(() => process.exit(3), 60_000); // never reached when the kill happens
