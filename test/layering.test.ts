// The package is layered by role: a module may import only from its own layer or below, and a
// module of another folder only through that folder's index. Read from the sources themselves.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../src");

/** Layer of each top-level module of src/ (lower imports nothing higher). */
const LAYER: Record<string, number> = {
  "errors.ts": 0,
  abi: 1,
  chains: 1,
  "fees.ts": 1,
  eip712: 2,
  deployments: 2,
  wire: 3,
  actions: 4,
  client: 5,
  x402: 5,
  credits: 5,
  relayer: 6,
  deploy: 6,
  testing: 6,
  service: 7,
  platform: 8,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** `abi` for src/abi/index.ts, `fees.ts` for src/fees.ts. */
const moduleOf = (path: string) => relative(SRC, path).split("/")[0] ?? "";

const imports = files(SRC).flatMap((file) =>
  [...readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)].map((m) => ({
    file: relative(SRC, file),
    from: moduleOf(file),
    target: resolve(dirname(file), m[1] ?? ""),
  })),
);

describe("layering of src/", () => {
  it("knows the layer of every module", () => {
    const unknown = [...new Set(files(SRC).map(moduleOf))].filter((m) => LAYER[m] === undefined);
    expect(unknown).toEqual([]);
  });

  it("no module imports a higher layer", () => {
    const upward = imports
      .filter(({ from, target }) => (LAYER[moduleOf(target)] ?? 99) > (LAYER[from] ?? -1))
      .map(({ file, target }) => `${file} -> ${relative(SRC, target)}`);
    expect(upward).toEqual([]);
  });

  it("another module of the same layer is reached only through its index", () => {
    const internal = imports
      .filter(({ from, target }) => {
        const to = moduleOf(target);
        return to !== from && LAYER[to] === LAYER[from] && !/\/index\.ts$/.test(target) && !to.endsWith(".ts");
      })
      .map(({ file, target }) => `${file} -> ${relative(SRC, target)}`);
    expect(internal).toEqual([]);
  });
});
