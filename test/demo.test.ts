// The main job end to end (scripts/demo.ts, what `npm run demo` runs): the whole lifecycle through
// the relayer service over HTTP, on the embedded store and the in-process Base-faithful chain.
import { describe, expect, it } from "vitest";
import { runScript } from "./support/run-script.ts";

describe("demo", () => {
  it("runs every flow through the relayer service and exits 0", async () => {
    const run = runScript("demo.ts");
    const code = await run.exited;
    const out = run.output();
    expect(code, out).toBe(0);
    for (const step of [
      "POST activate-escrow -> 202 submitting",
      "escrow-status -> active, activation_tx_hash 0x",
      "record-usage 45 USDC -> 202 coalesced",
      "one recordUsageBatch",
      "usage 60 USDC, completed",
      "settled: seller 59.39 USDC",
      "POST /direct-payments -> 202; sent twice, one job: true",
      "confirmed: seller",
      "GET /report -> 402",
      "settlement success tx 0x",
    ]) {
      expect(out).toContain(step);
    }
  }, 180_000);
});
