// `npm run relayer` (scripts/relayer.ts): one command starts the relayer and its service on the
// embedded store and an in-process Base chain, and stops cleanly on SIGINT.
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

describe("relayer command", () => {
  it("starts on the embedded store and an in-process chain, serves, and exits 0 on SIGINT", async () => {
    const child = spawn(process.execPath, [resolve(import.meta.dirname, "../scripts/relayer.ts"), "--port", "0"], {
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
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      for (let i = 0; i < 600 && !out.includes("operator API key"); i++) await new Promise((r) => setTimeout(r, 100));
      const url = /relayer service (http:\/\/\S+)/.exec(out)?.[1];
      const key = /operator API key (\S+)/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: "ok", chains: [8453] });
      const supported = (await (await fetch(`${url}/supported`)).json()) as { kinds: { network: string }[] };
      expect(supported.kinds.map((k) => k.network)).toEqual(["eip155:8453"]);
      expect((await fetch(`${url}/jobs`)).status).toBe(401);
      expect((await fetch(`${url}/jobs`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
      child.kill("SIGINT");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  }, 120_000);
});
