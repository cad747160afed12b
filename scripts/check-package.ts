// Consumer check: install the packed package the way a user does, in a fresh project outside this
// repository, and use it from there. `npm run check:package` (CI runs it after the library build).
//
// 1. `npm pack`: the tarball's manifest and contents (no install-time scripts, no test contracts,
//    every file the "exports" map names).
// 2. Library project, on the machine's own Node (the library's floor) and without the optional
//    peers: install the tarball; import every subpath of "exports" except the Node and Hardhat
//    ones; type-check README.md's ```ts examples under strict `nodenext`, once per viem chain of
//    every chain in `agent-escrow/chains`; bundle those subpaths for the browser with esbuild,
//    failing on any Node built-in.
// 3. The same project with the optional peers installed, on Node >= 22.13 (Hardhat 3): import
//    every subpath; from a plain Hardhat config, deploy with `agent-escrow/deploy` on an in-process
//    chain and compare the addresses with the prediction and with this repository's compiled
//    contracts; start a chain with `agent-escrow/testing` and mint on it.
//
// Prints every check; exits non-zero when one fails. Needs the registry (npm install) and, for the
// address comparison, the compiled contracts (`npm run build`).
import { spawnSync } from "node:child_process";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve, sep } from "node:path";
import { build, type Plugin } from "esbuild";
import { type Address, encodeDeployData, type Hex } from "viem";
import { agentEscrowAbi, directPaymentAbi } from "../src/abi/index.ts";
import { create2Address } from "../src/deploy/createx.ts";
import { DEPLOYMENT_SALT } from "../src/deploy/salt.ts";

/** Subpaths that need Node and Hardhat (the optional peers); every other subpath must be browser-safe. */
const NODE_ONLY = ["./deploy", "./testing", "./relayer", "./service", "./platform"];
/** The deployer whose addresses the deploy check compares (Hardhat's first local account). */
const LOCAL_DEPLOYER: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

const repo = resolve(import.meta.dirname, "..");
const started = Date.now();
const failures: string[] = [];
const keep = process.env.KEEP_CONSUMER_PROJECT === "1";

type Manifest = {
  name: string;
  version: string;
  exports: Record<string, { types?: string; default?: string } | string>;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  devDependencies?: Record<string, string>;
  engines?: { node?: string };
};

function section(title: string): void {
  console.log(`\n-- ${title} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

function check(ok: boolean, what: string, detail = ""): boolean {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail ? `: ${detail}` : ""}`);
  if (!ok) failures.push(detail ? `${what}: ${detail}` : what);
  return ok;
}

function finish(): never {
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (failures.length > 0) {
    console.log(`\nconsumer check: ${failures.length} failed (${seconds} s)`);
    for (const f of failures) console.log(`  - ${f.split("\n")[0]}`);
    process.exit(1);
  }
  console.log(`\nconsumer check: all passed (${seconds} s)`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Toolchain: the machine's Node for the library, Node >= 22.13 for Hardhat.

/** PATH without any node_modules directory (neither this repository's nor npm's helpers). */
const basePath = (process.env.PATH ?? "").split(delimiter).filter((p) => p && !p.split(sep).includes("node_modules"));

function onPath(name: string, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return undefined;
}

function nodeVersion(node: string): [number, number] {
  const out = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
  const [major = 0, minor = 0] = out.replace(/^v/, "").split(".").map(Number);
  return [major, minor];
}

/** Environment in which `node` (and npm, through its `#!/usr/bin/env node`) is `nodeBinary`. */
function envFor(nodeBinary: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith("npm_") && k !== "INIT_CWD" && k !== "NODE_OPTIONS") env[k] = v;
  }
  env.PATH = [dirname(nodeBinary), ...basePath].join(delimiter);
  return env;
}

type Result = { status: number; stdout: string; stderr: string };

function run(cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 180_000): Result {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs });
  return {
    status: r.status ?? 1,
    stdout: r.stdout ?? "",
    stderr: `${r.stderr ?? ""}${r.error ? String(r.error) : ""}`,
  };
}

const tail = (text: string, lines = 15) =>
  text
    .split("\n")
    .filter((l) => l.trim() && !/^npm warn Unknown (user|env) config/.test(l))
    .slice(-lines)
    .join("\n");

const userNode = onPath("node", basePath) ?? process.execPath;
const hardhatNode = [process.execPath, join(repo, "node_modules/.bin/node"), userNode].find((n) => {
  if (!existsSync(n)) return false;
  const [major, minor] = nodeVersion(n);
  return major > 22 || (major === 22 && minor >= 13);
});
const npm = onPath("npm", basePath) ?? "npm";
const userEnv = envFor(userNode);
const toolchain = (node: string, env: NodeJS.ProcessEnv) =>
  `Node ${nodeVersion(node).join(".")}.x (${node}), npm ${run(npm, ["--version"], repo, env).stdout.trim()}`;

section("toolchain");
console.log(`library checks:  ${toolchain(userNode, userEnv)}`);
check(nodeVersion(userNode)[0] >= 20, "the machine's Node satisfies the library's engines (>= 20)");
if (!hardhatNode) {
  check(false, "Node >= 22.13 for the deploy and testing entry points", "none found (run npm install first)");
  finish();
}
const hardhatEnv = envFor(hardhatNode);
console.log(`Hardhat checks:  ${toolchain(hardhatNode, hardhatEnv)}`);

// ---------------------------------------------------------------------------------------------
section("npm pack");

const work = mkdtempSync(join(tmpdir(), "agent-escrow-consumer-"));
process.on("exit", () => {
  if (keep) console.log(`consumer project kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
});
const packed = run(npm, ["pack", "--json", "--pack-destination", work], repo, hardhatEnv);
if (!check(packed.status === 0, "npm pack", packed.status === 0 ? "" : tail(packed.stderr))) finish();
const pack = (
  JSON.parse(packed.stdout) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[]
)[0];
if (!pack) {
  check(false, "npm pack", "no tarball reported");
  finish();
}
const tarball = join(work, pack.filename);
const shipped = new Set(pack.files.map((f) => f.path));
console.log(
  `${pack.filename}: ${(pack.size / 1000).toFixed(1)} kB packed, ${(pack.unpackedSize / 1000).toFixed(1)} kB unpacked, ${shipped.size} files`,
);
const manifest = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as Manifest;

const installScripts = ["preinstall", "install", "postinstall"].filter((s) => manifest.scripts?.[s]);
check(installScripts.length === 0, "no install-time scripts run in a user's project", installScripts.join(", "));
check(
  Object.keys(manifest.optionalDependencies ?? {}).length === 0,
  "no optional dependencies installed into a user's project",
  Object.keys(manifest.optionalDependencies ?? {}).join(", "),
);
console.log(`     dependencies: ${JSON.stringify(manifest.dependencies ?? {})}`);
const testContracts = [...shipped].filter((p) => p.startsWith("contracts/test/"));
check(testContracts.length === 0, "no test contracts shipped", testContracts.join(", "));
const devOnly = [...shipped].filter((p) => /^(scripts|test|bench|src)\//.test(p));
check(devOnly.length === 0, "no repository-only files shipped", devOnly.join(", "));
const peers = Object.keys(manifest.peerDependencies ?? {});
const requiredPeers = peers.filter((p) => manifest.peerDependenciesMeta?.[p]?.optional !== true);
check(requiredPeers.length === 0, `optional peers: ${peers.join(", ") || "none"}`, requiredPeers.join(", "));

const subpaths = Object.keys(manifest.exports);
for (const sub of NODE_ONLY) check(subpaths.includes(sub), `"exports" lists ${sub}`);
for (const [sub, target] of Object.entries(manifest.exports)) {
  const files = typeof target === "string" ? [target] : Object.values(target);
  const missing = files.filter((f): f is string => typeof f === "string" && !shipped.has(f.replace(/^\.\//, "")));
  check(missing.length === 0, `${sub}: ${files.join(", ")} shipped`, missing.join(", "));
}
const browserSafe = subpaths.filter((s) => !NODE_ONLY.includes(s));

// ---------------------------------------------------------------------------------------------
section("library project: install without the optional peers");

const project = join(work, "project");
mkdirSync(project);
writeFileSync(
  join(project, "package.json"),
  `${JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
);
const typesNode = `@types/node@${manifest.devDependencies?.["@types/node"] ?? "latest"}`;
const installA = run(
  npm,
  ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball, typesNode],
  project,
  userEnv,
);
if (
  !check(
    installA.status === 0,
    `npm install ${pack.filename} ${typesNode}`,
    installA.status === 0 ? "" : tail(installA.stderr),
  )
)
  finish();
console.log(`     ${tail(installA.stdout, 1)}`);
const nodeShim = existsSync(join(project, "node_modules/.bin/node"));
check(!nodeShim, "the project's npm scripts keep the user's node", nodeShim ? "node_modules/.bin/node exists" : "");
const notInstalled = peers.filter((p) => existsSync(join(project, "node_modules", p)));
check(notInstalled.length === 0, "optional peers not installed", notInstalled.join(", "));
const du = run("du", ["-sk", join(project, "node_modules")], project, userEnv).stdout.split("\t")[0];
console.log(`     node_modules: ${(Number(du) / 1024).toFixed(1)} MB`);

function importSubpath(sub: string, node: string, env: NodeJS.ProcessEnv): void {
  const specifier = `${manifest.name}${sub.slice(1)}`;
  const code = `const m = await import(${JSON.stringify(specifier)}); console.log(Object.keys(m).length);`;
  const r = run(node, ["--input-type=module", "-e", code], project, env);
  check(
    r.status === 0,
    `import "${specifier}" on Node ${nodeVersion(node)[0]}`,
    r.status === 0 ? `${r.stdout.trim()} exports` : tail(r.stderr, 6),
  );
}

section("library project: imports");
for (const sub of browserSafe) importSubpath(sub, userNode, userEnv);

// ---------------------------------------------------------------------------------------------
section("library project: README.md examples, strict nodenext, one viem client per listed chain");

type Block = { index: number; line: number; title: string; code: string };

/** The ```ts blocks of README.md, with the line of their first code line and their bold lead-in. */
function readmeBlocks(): Block[] {
  const lines = readFileSync(join(repo, "README.md"), "utf8").split("\n");
  const blocks: Block[] = [];
  let title = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const bold = /^\*\*(.+?)\*\*/.exec(line);
    if (bold?.[1]) title = bold[1];
    if (/^```(ts|typescript)\s*$/.test(line)) {
      const start = i + 1;
      let end = start;
      while (end < lines.length && !/^```\s*$/.test(lines[end] ?? "")) end++;
      blocks.push({ index: blocks.length + 1, line: start + 1, title, code: lines.slice(start, end).join("\n") });
      i = end;
    }
  }
  return blocks;
}

/** Names an import statement binds. */
function importedNames(statement: string): string[] {
  const names: string[] = [];
  const clause = /^import\s+(?:type\s+)?([\s\S]*?)\s+from\s/.exec(statement)?.[1] ?? "";
  const braces = /\{([\s\S]*)\}/.exec(clause)?.[1];
  if (braces) {
    for (const part of braces.split(",")) {
      const name = part
        .trim()
        .replace(/^type\s+/, "")
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) names.push(name);
    }
  }
  const outside = clause.replace(/\{[\s\S]*\}/, "").replace(/,/g, " ");
  const namespace = /\*\s+as\s+(\w+)/.exec(outside)?.[1];
  if (namespace) names.push(namespace);
  const defaultName = /^\s*(\w+)/.exec(outside.replace(/\*\s+as\s+\w+/, ""))?.[1];
  if (defaultName) names.push(defaultName);
  return names;
}

/**
 * The free variables the examples use, with concrete types: what a reader's surrounding code has.
 * `publicClient` and `walletClient` are created per chain; values produced by an earlier example
 * (`terms`, `finalVoucher`) have the type the library gives them there.
 */
const CONTEXT: Record<string, { declare: string; imports?: string[] }> = {
  account: {
    declare:
      'const account = __privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");',
  },
  publicClient: { declare: "const publicClient = __createPublicClient({ chain: __chain, transport: __http() });" },
  walletClient: {
    declare: "const walletClient = __createWalletClient({ account, chain: __chain, transport: __http() });",
  },
  relayerWallet: {
    declare:
      'const relayerWallet = __createWalletClient({ account: __privateKeyToAccount("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"), chain: __chain, transport: __http() });',
  },
  platformWallet: {
    declare:
      'const platformWallet = __createWalletClient({ account: __privateKeyToAccount("0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"), chain: __chain, transport: __http() });',
  },
  api: { declare: 'const api: string = "https://api.example.com";' },
  id: { declare: "declare const id: string;" },
  escrow: { declare: "declare const escrow: __Address;" },
  seller: { declare: "declare const seller: __Address;" },
  recorder: { declare: "declare const recorder: __Address;" },
  arbiter: { declare: "declare const arbiter: __Address;" },
  payoutAddress: { declare: "declare const payoutAddress: __Address;" },
  payer: { declare: "declare const payer: __Address;" },
  agreementId: { declare: "declare const agreementId: __Hex;" },
  usageLog: { declare: "declare const usageLog: __Hex;" },
  deadline: { declare: "declare const deadline: number;" },
  transaction: { declare: "declare const transaction: __Hex;" },
  transactionHash: { declare: "declare const transactionHash: __Hex;" },
  human: {
    declare:
      'const human = __privateKeyToAccount("0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a");',
  },
  network: { declare: "declare const network: string;" },
  service_id: { declare: "declare const service_id: string;" },
  sessionNonce: { declare: "declare const sessionNonce: string;" },
  productId: { declare: "declare const productId: string;" },
  parameters: { declare: "declare const parameters: Record<string, unknown>;" },
  // A Fetch API request (route handlers, workers), and a Node response.
  request: { declare: "declare const request: Request;" },
  response: { declare: 'declare const response: import("node:http").ServerResponse;' },
  terms: {
    declare: "declare const terms: __Terms;",
    imports: ['import type { Terms as __Terms } from "agent-escrow/eip712";'],
  },
  finalVoucher: {
    declare: "declare const finalVoucher: Awaited<ReturnType<typeof __signFinalVoucher>>;",
    imports: ['import type { signFinalVoucher as __signFinalVoucher } from "agent-escrow/client";'],
  },
  keccak256: { declare: "", imports: ['import { keccak256 } from "viem";'] },
  getDeployment: { declare: "", imports: ['import { getDeployment } from "agent-escrow/deployments";'] },
};
// Every context entry's own dependencies (walletClient needs account).
const CONTEXT_NEEDS: Record<string, string[]> = { walletClient: ["account"] };

function exampleModule(block: Block, viemChain: string, chainLabel: string): { text: string; bodyStart: number } {
  const importRe = /^import\s[\s\S]*?\sfrom\s+["'][^"']+["'];?[ \t]*$/gm;
  const statements = block.code.match(importRe) ?? [];
  const bound = new Set(statements.flatMap(importedNames));
  // Keep the body's lines where they are in README.md: imports become blank lines.
  const body = block.code.replace(importRe, (s) => "\n".repeat(s.split("\n").length - 1));
  const uses = (name: string) => new RegExp(`(?<![.\\w$])${name}\\b`).test(body);
  const wanted = new Set(Object.keys(CONTEXT).filter((n) => !bound.has(n) && uses(n)));
  for (const n of [...wanted]) for (const dep of CONTEXT_NEEDS[n] ?? []) if (!bound.has(dep)) wanted.add(dep);
  const ordered = Object.keys(CONTEXT).filter((n) => wanted.has(n));
  const header = [
    `// README.md example ${block.index} (line ${block.line}, "${block.title}") with ${chainLabel}.`,
    'import { type Address as __Address, type Hex as __Hex, createPublicClient as __createPublicClient, createWalletClient as __createWalletClient, http as __http } from "viem";',
    'import { privateKeyToAccount as __privateKeyToAccount } from "viem/accounts";',
    `import { ${viemChain} as __chain } from "viem/chains";`,
    ...statements,
    ...ordered.flatMap((n) => CONTEXT[n]?.imports ?? []),
    ...ordered.map((n) => CONTEXT[n]?.declare ?? "").filter(Boolean),
    "export async function example(): Promise<void> {",
  ];
  return { text: `${header.join("\n")}\n${body}\n}\n`, bodyStart: header.length + 1 };
}

const blocks = readmeBlocks();
check(blocks.length > 0, `README.md has TypeScript examples`, `${blocks.length} found`);
const listedChains = JSON.parse(
  run(
    userNode,
    [
      "--input-type=module",
      "-e",
      `const { CHAINS } = await import("${manifest.name}/chains"); const v = await import("viem/chains");
       console.log(JSON.stringify(CHAINS.map((c) => ({ key: c.key, name: c.name, chainId: c.chainId, chainType: c.chainType,
         viem: Object.entries(v).filter(([, x]) => x && typeof x === "object" && x.id === c.chainId).map(([k]) => k) }))));`,
    ],
    project,
    userEnv,
  ).stdout || "[]",
) as { key: string; name: string; chainId: number; chainType: string; viem: string[] }[];
check(listedChains.length > 0, `${manifest.name}/chains lists ${listedChains.length} chains`);
for (const c of listedChains)
  check(c.viem.length > 0, `viem/chains defines ${c.name} (${c.chainId})`, c.viem.join(", "));

const usesNodeOnly = (b: Block) => NODE_ONLY.some((s) => b.code.includes(`"${manifest.name}${s.slice(1)}"`));
type Generated = { file: string; block: Block; chain: string; bodyStart: number };

function writeExamples(dir: string, selected: readonly Block[]): Generated[] {
  mkdirSync(join(project, dir), { recursive: true });
  const generated: Generated[] = [];
  for (const block of selected) {
    for (const c of listedChains) {
      for (const viemChain of c.viem) {
        const label = `viem/chains ${viemChain} (${c.name}, ${c.chainId})`;
        const { text, bodyStart } = exampleModule(block, viemChain, label);
        const file = `${dir}/example${block.index}-${viemChain}.ts`;
        writeFileSync(join(project, file), text);
        generated.push({ file, block, chain: viemChain, bodyStart });
      }
    }
  }
  writeFileSync(
    join(project, `tsconfig.${dir}.json`),
    `${JSON.stringify(
      {
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          lib: ["es2023", "dom"],
          types: ["node"],
          noEmit: true,
          skipLibCheck: false,
        },
        include: [`${dir}/*.ts`],
      },
      null,
      2,
    )}\n`,
  );
  return generated;
}

/** Run tsc on the generated examples; report each error once, at its README.md line, with the chains it fails on. */
function typeCheck(dir: string, generated: readonly Generated[], node: string, env: NodeJS.ProcessEnv): void {
  if (generated.length === 0) return;
  const tsc = join(repo, "node_modules/typescript/bin/tsc");
  const r = run(node, [tsc, "-p", `tsconfig.${dir}.json`, "--pretty", "false"], project, env);
  const byFile = new Map(generated.map((g) => [g.file, g]));
  const grouped = new Map<string, { block: number; where: string; message: string; chains: Set<string> }>();
  const other: string[] = [];
  // One diagnostic: "file(line,col): error TSnnnn: first line" followed by indented detail lines.
  const diagnostics = r.stdout.split(/\n(?=\S)/).filter((d) => d.trim());
  for (const d of diagnostics) {
    const m = /^(.+?)\((\d+),(\d+)\): error (TS\d+): ([\s\S]*)$/.exec(d.trim());
    const g = m?.[1] ? byFile.get(m[1].split(sep).join("/")) : undefined;
    if (!m || !g) {
      other.push(d.trim());
      continue;
    }
    const line = Number(m[2]);
    const where =
      line >= g.bodyStart
        ? `README.md:${g.block.line + line - g.bodyStart} (example ${g.block.index}, "${g.block.title}")`
        : `example ${g.block.index} header line ${line}`;
    // The first line, shortened, and the elaboration lines that name what differs.
    const [first = "", ...elaboration] = (m[5] ?? "").split("\n");
    const why = elaboration
      .map((l) => l.trim())
      .filter((l) => /^(The types returned by|Types of property|Property|Argument of type)/.test(l))
      .slice(0, 2);
    const message = [first.length > 160 ? `${first.slice(0, 160)}...` : first, ...why].join(" / ");
    const key = `${where} ${m[4]}`;
    const entry = grouped.get(key) ?? {
      block: g.block.index,
      where,
      message: `${m[4]}: ${message}`,
      chains: new Set<string>(),
    };
    entry.chains.add(g.chain);
    grouped.set(key, entry);
  }
  const checkedChains = new Set(generated.map((g) => g.chain));
  const failingBlocks = new Set([...grouped.values()].map((e) => e.block));
  for (const block of new Set(generated.map((g) => g.block))) {
    const failing = failingBlocks.has(block.index);
    console.log(
      `${failing ? "FAIL" : "ok  "} example ${block.index} (README.md:${block.line}, "${block.title}") on ${checkedChains.size} viem chains`,
    );
  }
  for (const e of grouped.values()) {
    const chains = e.chains.size === checkedChains.size ? "every chain" : [...e.chains].join(", ");
    console.log(`       ${e.where}\n         ${e.message}\n         on: ${chains}`);
  }
  for (const o of other) console.log(`       ${o.split("\n").slice(0, 4).join("\n       ")}`);
  check(
    r.status === 0 && grouped.size === 0 && other.length === 0,
    `README.md examples type-check (${generated.length} modules: ${blocks.length} examples x ${checkedChains.size} viem chains)`,
    r.status === 0 ? "" : `${grouped.size + other.length} distinct errors`,
  );
}

const libraryExamples = writeExamples(
  "readme",
  blocks.filter((b) => !usesNodeOnly(b)),
);
console.log(
  `chains: ${listedChains.map((c) => `${c.name} -> ${c.viem.join("/")}`).join("; ")}\nfree variables typed in ${project}/readme/*.ts`,
);
typeCheck("readme", libraryExamples, userNode, userEnv);

// ---------------------------------------------------------------------------------------------
section("library project: browser bundles (esbuild, platform browser)");

/** Fails the bundle on `node:*` imports, and on bare built-in names no installed package provides. */
const noNodeBuiltins: Plugin = {
  name: "no-node-builtins",
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === "no-node-builtins") return undefined;
      const prefixed = args.path.startsWith("node:");
      if (!prefixed && !builtinModules.includes(args.path.split("/")[0] ?? "")) return undefined;
      if (!prefixed) {
        // A package of that name in node_modules (a browser polyfill) is not a Node built-in.
        const { resolveDir, kind, importer } = args;
        const found = await b.resolve(args.path, { resolveDir, kind, importer, pluginData: "no-node-builtins" });
        if (found.errors.length === 0 && found.path && !found.external) return found;
      }
      return {
        errors: [
          { text: `Node built-in "${args.path}" imported by ${relative(project, args.importer) || "the entry"}` },
        ],
      };
    });
  },
};
for (const sub of browserSafe) {
  const specifier = `${manifest.name}${sub.slice(1)}`;
  try {
    const out = await build({
      stdin: { contents: `export * from ${JSON.stringify(specifier)};`, resolveDir: project, loader: "js" },
      absWorkingDir: project,
      bundle: true,
      platform: "browser",
      format: "esm",
      minify: true,
      write: false,
      logLevel: "silent",
      plugins: [noNodeBuiltins],
    });
    const bytes = out.outputFiles.reduce((n, f) => n + f.contents.length, 0);
    check(true, `bundle "${specifier}" for the browser`, `${(bytes / 1000).toFixed(1)} kB minified`);
  } catch (error) {
    const errors = (error as { errors?: { text: string }[] }).errors?.map((e) => e.text) ?? [String(error)];
    check(false, `bundle "${specifier}" for the browser`, [...new Set(errors)].slice(0, 5).join("; "));
  }
}

// ---------------------------------------------------------------------------------------------
section("Hardhat project: install the optional peers");

const peerSpecs = peers.map((p) => `${p}@${manifest.devDependencies?.[p] ?? manifest.peerDependencies?.[p]}`);
const installB = run(
  npm,
  ["install", "--no-audit", "--no-fund", "--prefer-offline", ...peerSpecs],
  project,
  hardhatEnv,
);
if (
  !check(
    installB.status === 0,
    `npm install ${peerSpecs.join(" ")}`,
    installB.status === 0 ? "" : tail(installB.stderr),
  )
)
  finish();
console.log(`     ${tail(installB.stdout, 1)}`);

const [simChain] = listedChains;
if (!simChain) finish();
writeFileSync(
  join(project, "hardhat.config.js"),
  `import hardhatIgnitionViem from "@nomicfoundation/hardhat-ignition-viem";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import { defineConfig } from "hardhat/config";

export default defineConfig({
  plugins: [hardhatViem, hardhatIgnitionViem],
  networks: {
    "sim-${simChain.key}": { type: "edr-simulated", chainType: "${simChain.chainType}", chainId: ${simChain.chainId} },
  },
});
`,
);

section("Hardhat project: imports");
for (const sub of subpaths) importSubpath(sub, hardhatNode, hardhatEnv);

const nodeOnlyExamples = writeExamples("readme-hardhat", blocks.filter(usesNodeOnly));
if (nodeOnlyExamples.length > 0) typeCheck("readme-hardhat", nodeOnlyExamples, hardhatNode, hardhatEnv);

section(`Hardhat project: deploy and a faithful chain (sim-${simChain.key})`);

const defaults = JSON.parse(readFileSync(join(repo, "ignition/parameters/defaults.json"), "utf8"));
writeFileSync(
  join(project, "use-hardhat-entry-points.js"),
  `import { network } from "hardhat";
import { deployAgentEscrow, predictAddresses } from "${manifest.name}/deploy";
import { startFaithfulChain } from "${manifest.name}/testing";

const key = ${JSON.stringify(simChain.key)};
const defaults = ${JSON.stringify(defaults)};
const economics = {
  escrowCaps: { maxFeeBps: defaults.escrowCaps.maxFeeBps, maxFeeFixed: BigInt(defaults.escrowCaps.maxFeeFixed), maxUpfrontFee: BigInt(defaults.escrowCaps.maxUpfrontFee) },
  directFeeSchedule: { bps: defaults.directFeeSchedule.bps, fixedFee: BigInt(defaults.directFeeSchedule.fixedFee), minFee: BigInt(defaults.directFeeSchedule.minFee) },
};
const connection = await network.create("sim-" + key);
const { record } = await deployAgentEscrow(connection, {
  owner: "0x5afe000000000000000000000000000000005afe",
  feeRecipient: "0xfee0000000000000000000000000000000000fee",
  economics,
  network: "sim-" + key,
  placeCreateX: true,
});
await connection.close();
const predicted = await predictAddresses(record.deployer);

const chain = await startFaithfulChain(key);
const [wallet] = await chain.wallets();
const usdc = chain.token("USDC");
await usdc.mint(wallet.account.address, 1_000_000n);
const balance = await usdc.balanceOf(wallet.account.address);
await chain.close();

console.log(JSON.stringify({
  deployer: record.deployer,
  deployed: { AgentEscrow: record.contracts.AgentEscrow.address, DirectPayment: record.contracts.DirectPayment.address },
  predicted,
  usdcBalance: String(balance),
}));
`,
);
const used = run(hardhatNode, ["use-hardhat-entry-points.js"], project, hardhatEnv);
if (
  check(
    used.status === 0,
    "deploy and start a chain from a user's Hardhat project",
    used.status === 0 ? "" : tail(used.stderr, 10),
  )
) {
  const out = JSON.parse(used.stdout.trim().split("\n").pop() ?? "{}") as {
    deployer: Address;
    deployed: Record<"AgentEscrow" | "DirectPayment", Address>;
    predicted: Record<"AgentEscrow" | "DirectPayment", Address>;
    usdcBalance: string;
  };
  check(
    out.deployed.AgentEscrow === out.predicted.AgentEscrow &&
      out.deployed.DirectPayment === out.predicted.DirectPayment,
    "deployed at the predicted addresses",
    `AgentEscrow ${out.deployed.AgentEscrow}, DirectPayment ${out.deployed.DirectPayment} (deployer ${out.deployer})`,
  );
  check(out.deployer === LOCAL_DEPLOYER, "deployer is Hardhat's first local account", out.deployer);
  // The same addresses from this repository's compiled contracts (`npm run build`).
  const compiled = (name: string) =>
    (JSON.parse(readFileSync(join(repo, `artifacts/contracts/${name}.sol/${name}.json`), "utf8")) as { bytecode: Hex })
      .bytecode;
  if (existsSync(join(repo, "artifacts/contracts/AgentEscrow.sol/AgentEscrow.json"))) {
    const fromRepo = {
      AgentEscrow: create2Address(
        DEPLOYMENT_SALT,
        encodeDeployData({ abi: agentEscrowAbi, bytecode: compiled("AgentEscrow"), args: [out.deployer] }),
      ),
      DirectPayment: create2Address(
        DEPLOYMENT_SALT,
        encodeDeployData({
          abi: directPaymentAbi,
          bytecode: compiled("DirectPayment"),
          args: [out.deployer, out.deployer],
        }),
      ),
    };
    check(
      fromRepo.AgentEscrow === out.deployed.AgentEscrow && fromRepo.DirectPayment === out.deployed.DirectPayment,
      "the shipped bytecode is this repository's compiled contracts (same CREATE2 addresses)",
      `from artifacts/: ${fromRepo.AgentEscrow}, ${fromRepo.DirectPayment}`,
    );
  } else {
    check(false, "the shipped bytecode is this repository's compiled contracts", "no artifacts/: run npm run build");
  }
  check(out.usdcBalance === "1000000", `startFaithfulChain("${simChain.key}"): Circle's USDC minted`, out.usdcBalance);
}

finish();
