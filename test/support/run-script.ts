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

/** Start `scripts/<name>` with `args`, from the repository's root. */
export function runScript(name: string, args: readonly string[] = []): ScriptRun {
  const root = resolve(import.meta.dirname, "../..");
  const child = spawn(process.execPath, [resolve(root, "scripts", name), ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
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
