// Run one of the repository's scripts as a child process (the same Node), collecting its output.
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";

export type ScriptRun = {
  readonly child: ChildProcess;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  /** The exit code, once the process ends. */
  readonly exited: Promise<number | null>;
};

/**
 * Start a script with `args`, from the repository's root: `name` is a file of `scripts/`, or a
 * path from the root. `env` adds to the environment.
 */
export function runScript(name: string, args: readonly string[] = [], env: Record<string, string> = {}): ScriptRun {
  const root = resolve(import.meta.dirname, "../..");
  const path = name.includes("/") ? resolve(root, name) : resolve(root, "scripts", name);
  const child = spawn(process.execPath, [path, ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
  const collect = (chunk: Buffer) => {
    out += chunk.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, output: () => out, exited };
}
