// `npm run relayer` (scripts/relayer.ts): one command starts the relayer and its service on the
// embedded store and an in-process Base chain, and stops cleanly on SIGINT.
import { describe, expect, it } from "vitest";
import { runScript } from "./support/run-script.ts";

describe("relayer command", () => {
  it("starts on the embedded store and an in-process chain, serves, and exits 0 on SIGINT", async () => {
    const run = runScript("relayer.ts", ["--port", "0"]);
    try {
      for (let i = 0; i < 600 && !run.output().includes("operator API key"); i++)
        await new Promise((r) => setTimeout(r, 100));
      const out = run.output();
      const url = /relayer service (http:\/\/\S+)/.exec(out)?.[1];
      const key = /operator API key (\S+)/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: "ok", chains: [8453] });
      const supported = (await (await fetch(`${url}/supported`)).json()) as { kinds: { network: string }[] };
      expect(supported.kinds.map((k) => k.network)).toEqual(["eip155:8453"]);
      expect((await fetch(`${url}/jobs`)).status).toBe(401);
      expect((await fetch(`${url}/jobs`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
      run.child.kill("SIGINT");
      expect(await run.exited).toBe(0);
    } finally {
      run.child.kill("SIGKILL");
    }
  }, 120_000);

  it("with --platform, serves the reference platform beside the relayer", async () => {
    const run = runScript("relayer.ts", ["--port", "0", "--platform"]);
    try {
      for (let i = 0; i < 600 && !run.output().includes("operator API key"); i++)
        await new Promise((r) => setTimeout(r, 100));
      const url = /platform service (http:\/\/\S+)/.exec(run.output())?.[1];
      expect(url, run.output()).toBeDefined();
      const search = await fetch(`${url}/catalog/search`, {
        method: "POST",
        body: JSON.stringify({ query: "anything" }),
      });
      expect(await search.json()).toMatchObject({ results: [], total: 0 });
      expect((await fetch(`${url}/health`)).status).toBe(200);
      run.child.kill("SIGINT");
      expect(await run.exited).toBe(0);
    } finally {
      run.child.kill("SIGKILL");
    }
  }, 120_000);
});
