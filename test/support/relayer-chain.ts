// An anvil chain reporting Base's id with Circle's real FiatToken at Base's USDC address and the
// escrow deployed from the package's shipped bytecode, for the relayer's tests over JSON-RPC.
import {
  type Address,
  createPublicClient,
  createWalletClient,
  type EIP1193Provider,
  type Hex,
  http,
  keccak256,
  type LocalAccount,
  toHex,
} from "viem";
import { generatePrivateKey, mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { deployContract, waitForTransactionReceipt, writeContract } from "viem/actions";
import { agentEscrowAbi, directPaymentAbi } from "../../src/abi/index.ts";
import { getChainByKey, getToken } from "../../src/chains/index.ts";
import { checkActivationPolicy, parsePackage, signActivation } from "../../src/client/index.ts";
import { agentEscrowArtifact, directPaymentArtifact } from "../../src/deploy/artifacts.ts";
import { agreementRef, type Terms } from "../../src/eip712/index.ts";
import { type DevChain, devChainFromProvider } from "../../src/testing/dev-chain.ts";
import { type FiatTokenHandle, installFiatToken } from "../../src/testing/fiat-token.ts";
import { serializeActivationPackage } from "../../src/wire/index.ts";
import { type Anvil, startAnvil } from "./anvil.ts";

const MNEMONIC = "test test test test test test test test test test test junk";
export const base = getChainByKey("base");
export const usdc = getToken(base.chainId, "USDC");

export interface RelayerChainFixture {
  readonly anvil: Anvil;
  readonly url: string;
  readonly dev: DevChain;
  readonly token: FiatTokenHandle;
  readonly escrow: Address;
  /** DirectPayment, with the platform's USDC fee schedule. */
  readonly directPayment: Address;
  /** A funded account of anvil's mnemonic (index 5 and up are free for relayer signers). */
  account(index: number): LocalAccount;
  /** Terms with a fresh buyer holding `deposit` USDC; returns the body the buyer POSTs. */
  activationBody(options?: {
    deposit?: bigint;
    validBefore?: bigint;
    /** The buyer (default: a fresh key). */
    buyer?: LocalAccount;
  }): Promise<{ terms: Terms; id: Hex; body: unknown }>;
  rpc<T>(method: string, params?: unknown[]): Promise<T>;
  stop(): Promise<void>;
}

export async function startRelayerChain(): Promise<RelayerChainFixture> {
  const anvil = await startAnvil(base.chainId);
  const client = createPublicClient({ transport: http(anvil.url) });
  const provider = {
    request: (args: { method: string; params?: unknown }) => client.request(args as never),
  } as EIP1193Provider;
  const dev = await devChainFromProvider(provider, "anvil");
  const token = await installFiatToken(dev, usdc);
  const account = (index: number) => mnemonicToAccount(MNEMONIC, { addressIndex: index });
  const owner = account(1);
  const ownerWallet = createWalletClient({ chain: dev.publicClient.chain, transport: http(anvil.url), account: owner });
  const deployHash = await deployContract(ownerWallet, {
    abi: agentEscrowAbi,
    bytecode: agentEscrowArtifact.bytecode,
    args: [owner.address],
    account: owner,
    chain: ownerWallet.chain,
  });
  const escrow = (await waitForTransactionReceipt(dev.publicClient, { hash: deployHash })).contractAddress;
  if (!escrow) throw new Error("escrow deployment failed");
  await waitForTransactionReceipt(dev.publicClient, {
    hash: await writeContract(ownerWallet, {
      address: escrow,
      abi: agentEscrowAbi,
      functionName: "configureToken",
      args: [usdc.address, true, 1_000, 10_000_000n, 1_000_000_000n],
      account: owner,
      chain: ownerWallet.chain,
    }),
  });
  const directHash = await deployContract(ownerWallet, {
    abi: directPaymentAbi,
    bytecode: directPaymentArtifact.bytecode,
    args: [owner.address, owner.address],
    account: owner,
    chain: ownerWallet.chain,
  });
  const directPayment = (await waitForTransactionReceipt(dev.publicClient, { hash: directHash })).contractAddress;
  if (!directPayment) throw new Error("DirectPayment deployment failed");
  await waitForTransactionReceipt(dev.publicClient, {
    hash: await writeContract(ownerWallet, {
      address: directPayment,
      abi: directPaymentAbi,
      functionName: "setFeeSchedule",
      args: [usdc.address, true, 200, 3_000n, 100_000n],
      account: owner,
      chain: ownerWallet.chain,
    }),
  });
  let n = 0;
  return {
    anvil,
    directPayment,
    url: anvil.url,
    dev,
    token,
    escrow,
    account,
    async activationBody(options = {}) {
      const buyer = options.buyer ?? privateKeyToAccount(generatePrivateKey());
      const deposit = options.deposit ?? 10_000_000n;
      await token.mint(buyer.address, deposit);
      const now = Number((await dev.publicClient.getBlock()).timestamp);
      const terms: Terms = {
        buyer: buyer.address,
        seller: account(2).address,
        token: usdc.address,
        feeRecipient: account(3).address,
        recorder: account(4).address,
        arbiter: account(3).address,
        deposit,
        upfrontFee: 0n,
        feeFixed: 10_000n,
        feeCap: 1_000_000n,
        feeBps: 100,
        fallbackBps: 5_000,
        challengeWindow: 3_600,
        resolutionWindow: 3_600,
        serviceExpiry: now + 86_400,
        salt: keccak256(toHex(`relayer-${n++}-${Math.random()}`)),
      };
      const agreement = agreementRef(terms, { chainId: base.chainId, escrow });
      const verified = checkActivationPolicy(
        parsePackage(serializeActivationPackage({ agreement, upfrontFeePending: false })),
        {
          buyer: buyer.address,
          escrow,
          parties: { seller: terms.seller },
          maxDeposit: { USDC: deposit },
        },
        now,
      );
      const body = await signActivation(buyer, verified, { validBefore: options.validBefore ?? BigInt(now + 3_600) });
      return { terms, id: agreement.id, body };
    },
    rpc: <T>(method: string, params: unknown[] = []) => client.request({ method, params } as never) as Promise<T>,
    stop: () => anvil.stop(),
  };
}
