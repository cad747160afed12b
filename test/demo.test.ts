// The main job end to end (scripts/demo.ts, what `npm run demo` runs): the whole lifecycle through
// the relayer service over HTTP, on the embedded store and the in-process Base-faithful chain.
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

describe("demo", () => {
  it("runs every flow through the relayer service and exits 0", async () => {
    const child = spawn(process.execPath, [resolve(import.meta.dirname, "../scripts/demo.ts")], {
      cwd: resolve(import.meta.dirname, ".."),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
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
