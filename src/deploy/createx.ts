import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import {
  type Address,
  encodeAbiParameters,
  getContractAddress,
  type Hex,
  keccak256,
  type PublicClient,
  parseEther,
  type TestClient,
} from "viem";
import { DeploymentError } from "./errors.ts";

/** CreateX, the CREATE2 factory Ignition's create2 strategy uses; same address on every chain. */
export const CREATEX_ADDRESS: Address = "0xba5Ed099633D3B313e4D5F7bdc1305d3c28ba5Ed";
/** keccak256 of CreateX's runtime code, as Ignition checks it. */
export const CREATEX_CODE_HASH: Hex = "0xbd8a7ea8cfca7b4e5f5041d7d4b17bc317c5ce42cfbc42066a00cf26b43eb53f";
const CREATEX_PRESIGNED_DEPLOYER: Address = "0xeD456e05CaAb11d66C4c797dD6c1D6f9A7F352b5";

/**
 * The address CreateX gives init code deployed with `salt`, for salts whose first 20 bytes are
 * neither zero nor the sender (CreateX then guards the salt as `keccak256(abi.encode(salt))`).
 */
export function create2Address(salt: Hex, initCode: Hex): Address {
  const guarded = keccak256(encodeAbiParameters([{ type: "bytes32" }], [salt]));
  return getContractAddress({ opcode: "CREATE2", from: CREATEX_ADDRESS, salt: guarded, bytecode: initCode });
}

/**
 * The directory of `@nomicfoundation/ignition-core`: next to this package (npm hoists it), or as
 * the dependency of `@nomicfoundation/hardhat-ignition` (layouts that do not hoist, such as pnpm).
 */
function ignitionCoreRoot(): string {
  const require = createRequire(import.meta.url);
  const manifest = "@nomicfoundation/ignition-core/package.json";
  try {
    return dirname(require.resolve(manifest));
  } catch {
    try {
      const ignition = require.resolve("@nomicfoundation/hardhat-ignition/package.json");
      return dirname(createRequire(ignition).resolve(manifest));
    } catch (cause) {
      throw new DeploymentError(
        "CREATEX_MISSING",
        "cannot find @nomicfoundation/ignition-core: install @nomicfoundation/hardhat-ignition",
        {},
        { cause },
      );
    }
  }
}

/** CreateX's keyless, chain-independent deployment transaction, as shipped with Ignition. */
function presignedCreateXTransaction(): Hex {
  const root = ignitionCoreRoot();
  const source = readFileSync(join(root, "dist/src/internal/execution/strategy/createx-artifact.js"), "utf8");
  const match = /presignedTx\s*=\s*"(0x[0-9a-fA-F]+)"/.exec(source);
  if (!match?.[1])
    throw new DeploymentError("CREATEX_MISSING", "cannot find CreateX's presigned transaction in ignition-core");
  return match[1] as Hex;
}

/**
 * Make sure CreateX is at its canonical address. When it is missing and `testClient` is given (a
 * development chain), place it the way every public chain got it: fund the keyless deployer and
 * replay the presigned transaction. Without a test client a missing factory is an error.
 */
export async function ensureCreateX(
  publicClient: PublicClient,
  testClient?: TestClient,
): Promise<"present" | "placed"> {
  const code = await publicClient.getCode({ address: CREATEX_ADDRESS });
  if (code && code !== "0x") {
    if (keccak256(code) !== CREATEX_CODE_HASH) {
      throw new DeploymentError("CREATEX_MISMATCH", `unexpected code at the CreateX address ${CREATEX_ADDRESS}`, {
        codeHash: keccak256(code),
      });
    }
    return "present";
  }
  if (!testClient) {
    throw new DeploymentError(
      "CREATEX_MISSING",
      `CreateX is not deployed on chain ${await publicClient.getChainId()}`,
      {
        address: CREATEX_ADDRESS,
      },
    );
  }
  await testClient.setBalance({ address: CREATEX_PRESIGNED_DEPLOYER, value: parseEther("0.4") });
  const hash = await publicClient.sendRawTransaction({ serializedTransaction: presignedCreateXTransaction() });
  await publicClient.waitForTransactionReceipt({ hash });
  const placed = await publicClient.getCode({ address: CREATEX_ADDRESS });
  if (!placed || keccak256(placed) !== CREATEX_CODE_HASH) {
    throw new DeploymentError("CREATEX_MISSING", "replaying CreateX's deployment did not produce the expected code");
  }
  return "placed";
}
