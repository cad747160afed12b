// Shared fixture: a mainnet-faithful chain with the escrow and direct-payment contracts deployed
// and configured, plus funded, named accounts (Hardhat's default mnemonic, so every account can both
// sign locally and send transactions).
import { type Address, type Hex, keccak256, type PublicClient, toHex, type WalletClient } from "viem";
import { type HDAccount, mnemonicToAccount } from "viem/accounts";
import { agentEscrowAbi, directPaymentAbi } from "../../src/abi/index.ts";
import { activate, readPermitNonce } from "../../src/actions/index.ts";
import {
  type ChainInfo,
  getChainByKey,
  tokenDomain as registryTokenDomain,
  type TokenInfo,
  type TokenSymbol,
} from "../../src/chains/index.ts";
import {
  type Authorization,
  agreementId,
  agreementRef,
  signAuthorization,
  signPermit,
  type Terms,
  type TokenDomainFields,
} from "../../src/eip712/index.ts";
import { DEFAULT_DIRECT_FEE_SCHEDULE } from "../../src/fees.ts";
import { type FaithfulChain, startFaithfulChain } from "../../src/testing/faithful-chain.ts";
import type { FiatTokenHandle } from "../../src/testing/fiat-token.ts";

const MNEMONIC = "test test test test test test test test test test test junk";
const ROLE_INDEX = {
  relayer: 0,
  owner: 1,
  feeRecipient: 2,
  recorder: 3,
  arbiter: 4,
  seller: 5,
  buyer: 6,
  other: 7,
} as const;
export type Role = keyof typeof ROLE_INDEX;

export const FAR_FUTURE = 2n ** 40n - 1n;

export interface EscrowFixture {
  readonly local: FaithfulChain;
  readonly chain: ChainInfo;
  readonly publicClient: PublicClient;
  readonly escrow: Address;
  readonly direct: Address;
  readonly accounts: Readonly<Record<Role, HDAccount>>;
  wallet(role: Role): WalletClient;
  token(symbol?: TokenSymbol): FiatTokenHandle;
  tokenInfo(symbol?: TokenSymbol): TokenInfo;
  tokenDomain(symbol?: TokenSymbol): TokenDomainFields;
  escrowDomain(): { chainId: number; escrow: Address };
  now(): Promise<number>;
  /** Terms with sensible defaults: 100 tokens, 1% + 0.01 fee capped at 5, 1 h windows, 1 day of service. */
  terms(overrides?: Partial<Terms>, symbol?: TokenSymbol): Promise<Terms>;
  /**
   * The buyer's signed deposit authorization for `terms` (nonce = agreement id): a
   * `ReceiveWithAuthorization` unless `form` says otherwise (the escrow accepts only that form).
   */
  fundingAuth(
    terms: Terms,
    options?: {
      form?: "receive" | "transfer";
      signer?: HDAccount;
      nonce?: Hex;
      value?: bigint;
      validBefore?: bigint;
    },
  ): Promise<{ validAfter: bigint; validBefore: bigint; signature: Hex }>;
  /** The buyer's signed permit for `spender` (default the escrow) of `value`. */
  feePermit(
    owner: HDAccount,
    value: bigint,
    options?: { spender?: Address; symbol?: TokenSymbol; deadline?: bigint },
  ): Promise<{ value: bigint; deadline: bigint; signature: Hex }>;
  /**
   * Send a raw contract call from `role` and wait for it; rejects with the revert. For what the
   * typed actions cannot express on purpose: malformed calldata, calls by the wrong party, owner
   * configuration. Everything else goes through `src/actions`.
   */
  write(role: Role | WalletClient, call: WriteCall): Promise<{ hash: Hex; gasUsed: bigint; calldataBytes: number }>;
  activate(terms: Terms): Promise<Hex>;
  increaseTime(seconds: number): Promise<void>;
  close(): Promise<void>;
}

type WriteCall = {
  address: Address;
  abi: readonly unknown[];
  functionName: string;
  args?: readonly unknown[];
};

/** Start a faithful chain for `chainKey` and deploy and configure the contracts on it. */
export async function escrowFixture(chainKey = "base"): Promise<EscrowFixture> {
  const chain = getChainByKey(chainKey);
  const local = await startFaithfulChain(chain.chainId);
  const { publicClient } = local.dev;
  const accounts = Object.fromEntries(
    Object.entries(ROLE_INDEX).map(([role, index]) => [role, mnemonicToAccount(MNEMONIC, { addressIndex: index })]),
  ) as Record<Role, HDAccount>;
  const wallets = await local.wallets();
  const walletOf = (role: Role): WalletClient => {
    const w = wallets.find((x) => x.account?.address.toLowerCase() === accounts[role].address.toLowerCase());
    if (!w) throw new Error(`no wallet for ${role}`);
    return w;
  };

  const write: EscrowFixture["write"] = async (from, call) => {
    const wallet = typeof from === "string" ? walletOf(from) : from;
    const hash = await wallet.writeContract({
      ...call,
      account: wallet.account as NonNullable<WalletClient["account"]>,
      chain: wallet.chain,
    } as Parameters<WalletClient["writeContract"]>[0]);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
    const tx = await publicClient.getTransaction({ hash });
    return { hash, gasUsed: receipt.gasUsed, calldataBytes: (tx.input.length - 2) / 2 };
  };

  const viem = local.connection.viem;
  const escrowContract = await viem.deployContract("AgentEscrow", [accounts.owner.address]);
  const directContract = await viem.deployContract("DirectPayment", [
    accounts.owner.address,
    accounts.feeRecipient.address,
  ]);
  const escrow = escrowContract.address;
  const direct = directContract.address;
  for (const t of chain.tokens) {
    await write("owner", {
      address: escrow,
      abi: agentEscrowAbi,
      functionName: "configureToken",
      args: [t.address, true, 1_000, 10_000_000n, 1_000_000_000n],
    });
    await write("owner", {
      address: direct,
      abi: directPaymentAbi,
      functionName: "setFeeSchedule",
      args: [
        t.address,
        true,
        DEFAULT_DIRECT_FEE_SCHEDULE.bps,
        DEFAULT_DIRECT_FEE_SCHEDULE.fixedFee,
        DEFAULT_DIRECT_FEE_SCHEDULE.minFee,
      ],
    });
  }

  const tokenInfo = (symbol: TokenSymbol = "USDC") => {
    const t = chain.tokens.find((x) => x.symbol === symbol);
    if (!t) throw new Error(`${chain.name} has no ${symbol}`);
    return t;
  };
  const tokenDomain = (symbol: TokenSymbol = "USDC"): TokenDomainFields =>
    registryTokenDomain(chain.chainId, tokenInfo(symbol).address, { allowUnconfirmed: true });
  const now = async () => Number((await publicClient.getBlock()).timestamp);
  let saltCounter = 0;

  const fixture: EscrowFixture = {
    local,
    chain,
    publicClient,
    escrow,
    direct,
    accounts,
    wallet: walletOf,
    token: (symbol = "USDC") => local.token(symbol),
    tokenInfo,
    tokenDomain,
    escrowDomain: () => ({ chainId: chain.chainId, escrow }),
    now,
    async terms(overrides = {}, symbol = "USDC") {
      return {
        buyer: accounts.buyer.address,
        seller: accounts.seller.address,
        token: tokenInfo(symbol).address,
        feeRecipient: accounts.feeRecipient.address,
        recorder: accounts.recorder.address,
        arbiter: accounts.arbiter.address,
        deposit: 100_000_000n,
        upfrontFee: 0n,
        feeFixed: 10_000n,
        feeCap: 5_000_000n,
        feeBps: 100,
        fallbackBps: 5_000,
        challengeWindow: 3_600,
        resolutionWindow: 3_600,
        serviceExpiry: (await now()) + 86_400,
        salt: keccak256(toHex(`salt-${saltCounter++}-${Math.random()}`)),
        ...overrides,
      };
    },
    async fundingAuth(terms, options = {}) {
      const message: Authorization = {
        from: terms.buyer,
        to: escrow,
        value: options.value ?? terms.deposit,
        validAfter: 0n,
        validBefore: options.validBefore ?? FAR_FUTURE,
        nonce: options.nonce ?? agreementId(terms, { chainId: chain.chainId, escrow }),
      };
      const symbol = chain.tokens.find((t) => t.address === terms.token)?.symbol ?? "USDC";
      const signature = await signAuthorization(
        options.signer ?? accounts.buyer,
        tokenDomain(symbol),
        message,
        options.form ?? "receive",
      );
      return { validAfter: message.validAfter, validBefore: message.validBefore, signature };
    },
    async feePermit(owner, value, options = {}) {
      const t = tokenInfo(options.symbol);
      const nonce = await readPermitNonce(publicClient, t.address, owner.address);
      const deadline = options.deadline ?? FAR_FUTURE;
      const signature = await signPermit(owner, tokenDomain(options.symbol), {
        owner: owner.address,
        spender: options.spender ?? escrow,
        value,
        nonce,
        deadline,
      });
      return { value, deadline, signature };
    },
    write,
    async activate(terms) {
      const agreement = agreementRef(terms, { chainId: chain.chainId, escrow });
      await activate(walletOf("relayer"), agreement, await fixture.fundingAuth(terms));
      return agreement.id;
    },
    async increaseTime(seconds) {
      await local.dev.testClient.increaseTime({ seconds });
      await local.dev.testClient.mine({ blocks: 1 });
    },
    close: () => local.close(),
  };
  return fixture;
}

/** Decode the custom error name out of a viem contract error (for `rejects` assertions). */
export function revertName(error: unknown): string | undefined {
  let e = error as { name?: string; data?: { errorName?: string }; cause?: unknown } | undefined;
  while (e) {
    if (e.data?.errorName) return e.data.errorName;
    e = e.cause as typeof e;
  }
  return undefined;
}
