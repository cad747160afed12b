// Runs after `npm install`. npm itself may run on an older Node than the project needs, and then
// silently skips Hardhat's native EVM package (its `engines` asks for Node >= 22). On linux-x64,
// install exactly the version that the installed @nomicfoundation/edr declares, without saving it.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const platformPackage = "@nomicfoundation/edr-linux-x64-gnu";
if (process.platform === "linux" && process.arch === "x64" && !existsSync(`node_modules/${platformPackage}`)) {
  const edr = JSON.parse(readFileSync("node_modules/@nomicfoundation/edr/package.json", "utf8"));
  const version = edr.optionalDependencies?.[platformPackage] ?? edr.version;
  console.log(`installing ${platformPackage}@${version} (npm skipped it: its engines field asks for Node >= 22)`);
  execFileSync(
    "npm",
    ["install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", `${platformPackage}@${version}`],
    {
      stdio: "inherit",
    },
  );
}
