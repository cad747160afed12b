// Reentrancy attempts through a hostile token (allowlisted on purpose in this test only), and
// the smoke run of the whole lifecycle on every (chain, token) in the registry.
import { encodeFunctionData, type Hex, keccak256, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentEscrowAbi } from "../src/abi/index.ts";
import { allTokens } from "../src/chains/index.ts";
import { agreementId, encodeActivation, encodeTerms } from "../src/eip712/index.ts";
import { settlementFee } from "../src/fees.ts";
import { type EscrowFixture, escrowFixture } from "./support/escrow-fixture.ts";

describe("reentrancy", () => {
  let f: EscrowFixture;
  beforeAll(async () => {
    f = await escrowFixture("base");
  });
  afterAll(async () => f?.close());

  it("a token calling back into settle or withdraw during a payout is stopped by the guard", async () => {
    const viem = f.local.connection.viem;
    const hostile = await viem.deployContract("ReentrantToken");
    await f.write("owner", {
      address: f.escrow,
      abi: agentEscrowAbi,
      functionName: "configureToken",
      args: [hostile.address, true, 1_000, 10_000_000n, 0n],
    });
    await hostile.write.mint([f.accounts.buyer.address, 1_000_000_000n]);
    const terms = await f.terms({ token: hostile.address, challengeWindow: 0 });
    const id = agreementId(terms, f.escrowDomain());
    await f.write("relayer", {
      address: f.escrow,
      abi: agentEscrowAbi,
      functionName: "activate",
      args: [encodeActivation(terms, { validAfter: 0n, validBefore: 0n, signature: "0x00" })],
    });
    await f.write("recorder", {
      address: f.escrow,
      abi: agentEscrowAbi,
      functionName: "recordUsage",
      args: [{ id, cumulativeUsage: 10_000_000n, complete: true, logRef: keccak256(toHex("log")) }],
    });
    // On the first payout out of the escrow, the token calls settle() again.
    await hostile.write.arm([
      f.escrow,
      encodeFunctionData({ abi: agentEscrowAbi, functionName: "settle", args: [encodeTerms(terms)] }),
    ]);
    await f.write("other", {
      address: f.escrow,
      abi: agentEscrowAbi,
      functionName: "settle",
      args: [encodeTerms(terms)],
    });
    expect(await hostile.read.attempted()).toBe(true);
    expect(await hostile.read.reentered()).toBe(false);
    // ReentrancyGuardReentrantCall()
    expect(((await hostile.read.reentryError()) as Hex).slice(0, 10)).toBe("0x3ee5aeb5");
    // Paid exactly once: seller got usage less fee, buyer the rest.
    const fee = settlementFee(10_000_000n, terms);
    expect(await hostile.read.balanceOf([terms.seller])).toBe(10_000_000n - fee);
    expect(await hostile.read.balanceOf([terms.buyer])).toBe(1_000_000_000n - 10_000_000n);
    expect(await hostile.read.balanceOf([f.escrow])).toBe(fee);
  });
});

describe.each(
  allTokens().map(({ chain, token }) => [`${chain.name} ${token.symbol}`, chain.key, token.symbol] as const),
)("lifecycle smoke run on %s", (_label, chainKey, symbol) => {
  let f: EscrowFixture;
  beforeAll(async () => {
    f = await escrowFixture(chainKey);
    await f.token(symbol).mint(f.accounts.buyer.address, 1_000_000_000n);
  });
  afterAll(async () => f?.close());

  it("activates 100, records 60 in a batch with completion, settles 60 less fee to the seller and 40 back", async () => {
    const terms = await f.terms({}, symbol);
    const id = await f.activate(terms);
    await f.write("recorder", {
      address: f.escrow,
      abi: agentEscrowAbi,
      functionName: "recordUsageBatch",
      args: [[{ id, cumulativeUsage: 60_000_000n, complete: true, logRef: keccak256(toHex("log")) }]],
    });
    await f.increaseTime(terms.challengeWindow);
    const seller = await f.token(symbol).balanceOf(terms.seller);
    const buyer = await f.token(symbol).balanceOf(terms.buyer);
    await f.write("other", {
      address: f.escrow,
      abi: agentEscrowAbi,
      functionName: "settle",
      args: [encodeTerms(terms)],
    });
    const fee = settlementFee(60_000_000n, terms);
    expect((await f.token(symbol).balanceOf(terms.seller)) - seller).toBe(60_000_000n - fee);
    expect((await f.token(symbol).balanceOf(terms.buyer)) - buyer).toBe(40_000_000n);
    expect(await f.token(symbol).balanceOf(f.escrow)).toBe(fee);
  });
});
