// The token conformance suite: on a chain reporting a listed chain's real id, the registry's
// tokens (Circle's real FiatToken) accept EIP-3009 and EIP-2612 signatures made with the registry's
// domain, refuse replays, and refuse any other domain. Runs on in-process chains and on live forks.

import { type Address, type Hex, keccak256, toHex, type WalletClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fiatTokenAbi } from "../../src/abi/index.ts";
import { type ChainInfo, tokenDomain } from "../../src/chains/index.ts";
import { signAuthorization, signPermit, type TokenDomainFields } from "../../src/eip712/index.ts";
import type { FaithfulChain } from "../../src/testing/faithful-chain.ts";

const nonceOf = (label: string): Hex => keccak256(toHex(`${label}-${Date.now()}-${Math.random()}`));

/** Define the token conformance tests for `chain` on the chain that `start` returns. */
export function tokenConformanceSuite(chain: ChainInfo, start: () => Promise<FaithfulChain>): void {
  const payer = privateKeyToAccount(keccak256(toHex(`test payer ${Math.random()}`)));
  let local: FaithfulChain;
  let relayer: WalletClient;
  let recipient: Address;

  beforeAll(async () => {
    local = await start();
    const wallets = await local.wallets();
    relayer = wallets[0] as WalletClient;
    recipient = (wallets[1] as WalletClient).account?.address as Address;
  });
  afterAll(async () => local?.close());

  it("reports the real chain id", async () => {
    expect(await local.dev.publicClient.getChainId()).toBe(chain.chainId);
  });

  describe.each(chain.tokens.map((t) => [t.symbol, t] as const))("%s", (_symbol, token) => {
    const domain = (): TokenDomainFields => tokenDomain(chain.chainId, token.symbol, { allowUnconfirmed: true });
    const read = <const F extends "name" | "version" | "symbol" | "decimals" | "DOMAIN_SEPARATOR">(functionName: F) =>
      local.dev.publicClient.readContract({ address: token.address, abi: fiatTokenAbi, functionName });
    const submit = async (
      functionName: "transferWithAuthorization" | "receiveWithAuthorization",
      args: readonly [Address, Address, bigint, bigint, bigint, Hex, Hex],
      from: WalletClient = relayer,
    ) => {
      const hash = await from.writeContract({
        address: token.address,
        abi: fiatTokenAbi,
        functionName,
        args,
        account: from.account as NonNullable<WalletClient["account"]>,
        chain: from.chain,
      });
      return local.dev.publicClient.waitForTransactionReceipt({ hash });
    };

    it("is the real FiatToken v2.2 with the registry's metadata", async () => {
      expect(await local.dev.publicClient.getCode({ address: token.address })).toMatch(/^0x[0-9a-f]{100,}/);
      expect(await read("name")).toBe(token.domain.name);
      expect(await read("version")).toBe(token.domain.version);
      expect(await read("symbol")).toBe(token.onChainSymbol);
      expect(await read("decimals")).toBe(token.decimals);
    });

    it("executes TransferWithAuthorization signed with the registry domain, once", async () => {
      await local.token(token.symbol).mint(payer.address, 5_000_000n);
      const message = {
        from: payer.address,
        to: recipient,
        value: 1_250_000n,
        validAfter: 0n,
        validBefore: 2n ** 40n,
        nonce: nonceOf(`${chain.key}-${token.symbol}-twa`),
      };
      const signature = await signAuthorization(payer, domain(), message);
      const before = await local.token(token.symbol).balanceOf(recipient);
      const args = [
        message.from,
        message.to,
        message.value,
        message.validAfter,
        message.validBefore,
        message.nonce,
        signature,
      ] as const;
      expect((await submit("transferWithAuthorization", args)).status).toBe("success");
      expect(await local.token(token.symbol).balanceOf(recipient)).toBe(before + 1_250_000n);
      await expect(submit("transferWithAuthorization", args)).rejects.toThrow(/authorization is used or canceled/);
    });

    it("executes ReceiveWithAuthorization only when the payee submits it, once", async () => {
      await local.token(token.symbol).mint(payer.address, 2_000_000n);
      const payee = relayer.account?.address as Address;
      const message = {
        from: payer.address,
        to: payee,
        value: 700_000n,
        validAfter: 0n,
        validBefore: 2n ** 40n,
        nonce: nonceOf(`${chain.key}-${token.symbol}-rwa`),
      };
      const signature = await signAuthorization(payer, domain(), message, "receive");
      const args = [
        message.from,
        message.to,
        message.value,
        message.validAfter,
        message.validBefore,
        message.nonce,
        signature,
      ] as const;
      const [, other] = await local.wallets();
      await expect(submit("receiveWithAuthorization", args, other)).rejects.toThrow(/caller must be the payee/);
      const before = await local.token(token.symbol).balanceOf(payee);
      expect((await submit("receiveWithAuthorization", args)).status).toBe("success");
      expect(await local.token(token.symbol).balanceOf(payee)).toBe(before + 700_000n);
      await expect(submit("receiveWithAuthorization", args)).rejects.toThrow(/authorization is used or canceled/);
    });

    it("accepts an EIP-2612 permit signed with the registry domain, once", async () => {
      const spender = recipient;
      const nonce = await local.dev.publicClient.readContract({
        address: token.address,
        abi: fiatTokenAbi,
        functionName: "nonces",
        args: [payer.address],
      });
      const permit = { owner: payer.address, spender, value: 3_000_000n, nonce, deadline: 2n ** 40n };
      const signature = await signPermit(payer, domain(), permit);
      const write = () =>
        relayer.writeContract({
          address: token.address,
          abi: fiatTokenAbi,
          functionName: "permit",
          args: [permit.owner, permit.spender, permit.value, permit.deadline, signature],
          account: relayer.account as NonNullable<WalletClient["account"]>,
          chain: relayer.chain,
        });
      await local.dev.publicClient.waitForTransactionReceipt({ hash: await write() });
      const allowance = await local.dev.publicClient.readContract({
        address: token.address,
        abi: fiatTokenAbi,
        functionName: "allowance",
        args: [payer.address, spender],
      });
      expect(allowance).toBe(3_000_000n);
      await expect(write()).rejects.toThrow(/EIP2612: invalid signature/);
    });

    const wrongDomains: [string, (d: TokenDomainFields) => TokenDomainFields][] = [
      ["name", (d) => ({ ...d, name: `${d.name} ` })],
      ["version", (d) => ({ ...d, version: "1" })],
      ["chain id", (d) => ({ ...d, chainId: d.chainId === 1 ? 2 : 1 })],
    ];
    it.each(wrongDomains)("rejects an authorization signed with a wrong %s", async (_field, mutate) => {
      await local.token(token.symbol).mint(payer.address, 1_000_000n);
      const message = {
        from: payer.address,
        to: recipient,
        value: 1_000n,
        validAfter: 0n,
        validBefore: 2n ** 40n,
        nonce: nonceOf(`${chain.key}-${token.symbol}-wrong-${_field}`),
      };
      const signature = await signAuthorization(payer, mutate(domain()), message);
      const args = [
        message.from,
        message.to,
        message.value,
        message.validAfter,
        message.validBefore,
        message.nonce,
        signature,
      ] as const;
      await expect(submit("transferWithAuthorization", args)).rejects.toThrow(/FiatTokenV2: invalid signature/);
    });
  });
}
