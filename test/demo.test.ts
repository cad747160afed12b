// The main job end to end (scripts/demo.ts, what `npm run demo` runs): two agents trading over HTTP
// through the reference platform, on the embedded store and the in-process Base-faithful chain.
import { describe, expect, it } from "vitest";
import { runScript } from "./support/run-script.ts";

describe("demo", () => {
  it("runs every flow between two agents through the platform and exits 0", async () => {
    const run = runScript("demo.ts");
    const code = await run.exited;
    const out = run.output();
    expect(code, out).toBe(0);
    for (const step of [
      "seller        registered: status 201",
      "buyer         found: service_id",
      "buyer         active: agreement_id",
      "http 202, activation_tx_hash 0x",
      "buyer         proxied: status 200, usage 400000",
      "buyer         proxied: status 409",
      "buyer         direct purchase: agreement_id",
      "buyer         awaiting approval",
      "owner         approved 3 USDC",
      "buyer         approved and active",
      "buyer         credits: status 200, balance 500",
      "settled: seller 2.782 USDC",
      "settlement success tx 0x",
    ]) {
      expect(out).toContain(step);
    }
  }, 180_000);
});
