// Usage recording, vouchers, completion, challenges, settlement and withdrawals against Circle's
// real FiatToken on the Base-faithful chain.
import { type Hex, keccak256, parseEventLogs, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentEscrowAbi } from "../src/abi/index.ts";
import { agreementId, encodeTerms, signUsageVoucher, type Terms } from "../src/eip712/index.ts";
import { settlementFee } from "../src/fees.ts";
import { type EscrowFixture, escrowFixture, type Role } from "./support/escrow-fixture.ts";
import { expectRevert } from "./support/revert.ts";

let f: EscrowFixture;
const call = (functionName: string, args: readonly unknown[]) => ({
  address: f.escrow,
  abi: agentEscrowAbi,
  functionName,
  args,
});
const read = <T>(functionName: string, args: readonly unknown[]) =>
  f.publicClient.readContract({ address: f.escrow, abi: agentEscrowAbi, functionName, args } as never) as Promise<T>;
type View = {
  status: number;
  deposit: bigint;
  recordedUsage: bigint;
  acknowledgedUsage: bigint;
  completedAt: bigint;
  challengeDeadline: bigint;
  resolutionDeadline: bigint;
  settleableAt: bigint;
};
const view = (terms: Terms) => read<View>("getAgreement", [encodeTerms(terms)]);
const LOG = keccak256(toHex("usage log"));
const entry = (id: Hex, cumulativeUsage: bigint, complete = false, logRef: Hex = LOG) => ({
  id,
  cumulativeUsage,
  complete,
  logRef,
});
const record = (id: Hex, usage: bigint, complete = false, from: Role = "recorder") =>
  f.write(from, call("recordUsage", [entry(id, usage, complete)]));
const voucher = async (id: Hex, usage: bigint) =>
  signUsageVoucher(f.accounts.buyer, f.escrowDomain(), { agreementId: id, cumulativeUsage: usage });
const balances = async (terms: Terms) => ({
  seller: await f.token().balanceOf(terms.seller),
  buyer: await f.token().balanceOf(terms.buyer),
  escrow: await f.token().balanceOf(f.escrow),
  feeCredit: await read<bigint>("withdrawable", [terms.token, terms.feeRecipient]),
});

beforeAll(async () => {
  f = await escrowFixture("base");
  await f.token().mint(f.accounts.buyer.address, 100_000_000_000n);
});
afterAll(async () => f?.close());

describe("recordUsage", () => {
  it("records cumulative usage with its log reference", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    const { hash } = await record(id, 10_000_000n);
    const logs = parseEventLogs({
      abi: agentEscrowAbi,
      logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
    });
    expect(logs.map((l) => l.eventName)).toEqual(["UsageRecorded"]);
    expect(logs[0]?.args).toEqual({ id, cumulativeUsage: 10_000_000n, logRef: LOG });
    expect((await view(terms)).recordedUsage).toBe(10_000_000n);
  });

  it("refuses a caller that is not a registered recorder, and a recorder of another agreement", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await expectRevert(record(id, 1n, false, "other"), "UnknownRecorder", [f.accounts.other.address]);
    // Register `seller` as a recorder through another agreement: still not this agreement's recorder.
    await f.activate(await f.terms({ recorder: f.accounts.seller.address }));
    await expectRevert(record(id, 1n, false, "seller"), "NotRecorder", [id, f.accounts.seller.address]);
  });

  it("a hostile recorder can neither decrease usage nor exceed the deposit", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await record(id, 50_000_000n);
    await expectRevert(record(id, 49_999_999n), "UsageDecreased", [id, 50_000_000n, 49_999_999n]);
    await expectRevert(record(id, terms.deposit + 1n), "UsageAboveDeposit", [id, terms.deposit + 1n, terms.deposit]);
    await record(id, terms.deposit);
    expect((await view(terms)).recordedUsage).toBe(terms.deposit);
  });

  it("refuses usage for an agreement that is not active", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await record(id, 1n, true);
    await expectRevert(record(id, 2n), "WrongStatus", [id, 2]);
    const unknown = keccak256(toHex("no such agreement"));
    await expectRevert(record(unknown, 2n), "WrongStatus", [unknown, 0]);
  });

  it("records a batch of agreements all-or-nothing", async () => {
    const terms = await Promise.all([f.terms(), f.terms(), f.terms()]);
    const ids: Hex[] = [];
    for (const t of terms) ids.push(await f.activate(t));
    await f.write(
      "recorder",
      call("recordUsageBatch", [ids.map((id, i) => entry(id, BigInt(i + 1) * 1_000_000n, i === 2))]),
    );
    expect((await view(terms[0] as Terms)).recordedUsage).toBe(1_000_000n);
    expect((await view(terms[2] as Terms)).status).toBe(2);
    // One bad entry (decreasing usage) rejects the whole batch.
    await expectRevert(
      f.write("recorder", call("recordUsageBatch", [[entry(ids[0] as Hex, 5_000_000n), entry(ids[1] as Hex, 1n)]])),
      "UsageDecreased",
      [ids[1], 2_000_000n, 1n],
    );
    expect((await view(terms[0] as Terms)).recordedUsage).toBe(1_000_000n);
    await expectRevert(f.write("recorder", call("recordUsageBatch", [[]])), "EmptyBatch");
  });

  it("skips, rather than reverts on, an entry whose agreement someone completed meanwhile", async () => {
    const [a, b] = [await f.terms(), await f.terms()];
    const ids = [await f.activate(a), await f.activate(b)];
    await f.write("buyer", call("complete", [encodeTerms(a)]));
    const { hash } = await f.write("recorder", call("recordUsageBatch", [ids.map((id) => entry(id, 3_000_000n))]));
    const logs = parseEventLogs({
      abi: agentEscrowAbi,
      logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
    });
    expect(logs.map((l) => l.eventName)).toEqual(["UsageEntrySkipped", "UsageRecorded"]);
    expect(logs[0]?.args).toEqual({ id: ids[0], status: 2 });
    expect((await view(b)).recordedUsage).toBe(3_000_000n);
    expect((await view(a)).recordedUsage).toBe(0n);
  });

  it("registerRecorder is idempotent and rejects the zero address", async () => {
    await f.write("other", call("registerRecorder", [f.accounts.arbiter.address]));
    const id = await read<number>("recorderIds", [f.accounts.arbiter.address]);
    await f.write("other", call("registerRecorder", [f.accounts.arbiter.address]));
    expect(await read<number>("recorderIds", [f.accounts.arbiter.address])).toBe(id);
    expect(await read<string>("recorderOf", [id])).toBe(f.accounts.arbiter.address);
    await expectRevert(
      f.write("other", call("registerRecorder", ["0x0000000000000000000000000000000000000000"])),
      "ZeroAddress",
      ["recorder"],
    );
  });
});

describe("late usage after a completion by someone else", () => {
  it("the recorder records once more inside the window, which restarts; never twice, never lower", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await record(id, 10_000_000n);
    // The buyer completes before the recorder's next record lands.
    await f.write("buyer", call("complete", [encodeTerms(terms)]));
    const completedAt = (await view(terms)).completedAt;
    await f.increaseTime(100);
    await expectRevert(
      f.write("other", call("recordLateUsage", [encodeTerms(terms), 12_000_000n, LOG])),
      "NotRecorder",
      [id, f.accounts.other.address],
    );
    await expectRevert(
      f.write("recorder", call("recordLateUsage", [encodeTerms(terms), 9_000_000n, LOG])),
      "UsageDecreased",
      [id, 10_000_000n, 9_000_000n],
    );
    await f.write("recorder", call("recordLateUsage", [encodeTerms(terms), 12_000_000n, LOG]));
    const v = await view(terms);
    expect(v.recordedUsage).toBe(12_000_000n);
    expect(v.completedAt).toBeGreaterThan(completedAt);
    await expectRevert(
      f.write("recorder", call("recordLateUsage", [encodeTerms(terms), 13_000_000n, LOG])),
      "WrongStatus",
      [id, 2],
    );
    // The buyer can still dispute it.
    await f.write("buyer", call("challenge", [encodeTerms(terms)]));
  });

  it("is not available when the recorder completed, nor after the window", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await record(id, 1_000_000n, true);
    await expectRevert(
      f.write("recorder", call("recordLateUsage", [encodeTerms(terms), 2_000_000n, LOG])),
      "WrongStatus",
      [id, 2],
    );
    const late = await f.terms();
    const lateId = await f.activate(late);
    await f.write("seller", call("complete", [encodeTerms(late)]));
    await f.increaseTime(late.challengeWindow);
    await expectRevert(
      f.write("recorder", call("recordLateUsage", [encodeTerms(late), 2_000_000n, LOG])),
      "ChallengeWindowClosed",
    );
    expect(lateId).toMatch(/^0x/);
  });
});

describe("usage vouchers", () => {
  it("anyone submits the buyer's voucher; it raises acknowledged and recorded usage", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await record(id, 10_000_000n);
    const sig = await voucher(id, 30_000_000n);
    const { hash } = await f.write("other", call("submitUsageVoucher", [encodeTerms(terms), 30_000_000n, sig]));
    const names = parseEventLogs({
      abi: agentEscrowAbi,
      logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
    }).map((l) => l.eventName);
    expect(names).toEqual(["UsageAcknowledged", "UsageRecorded"]);
    const v = await view(terms);
    expect(v.acknowledgedUsage).toBe(30_000_000n);
    expect(v.recordedUsage).toBe(30_000_000n);
  });

  it("refuses a voucher that is not higher, above the deposit, or not signed by the buyer", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await f.write("other", call("submitUsageVoucher", [encodeTerms(terms), 5n, await voucher(id, 5n)]));
    await expectRevert(
      f.write("other", call("submitUsageVoucher", [encodeTerms(terms), 5n, await voucher(id, 5n)])),
      "VoucherNotHigher",
      [id, 5n, 5n],
    );
    const over = terms.deposit + 1n;
    await expectRevert(
      f.write("other", call("submitUsageVoucher", [encodeTerms(terms), over, await voucher(id, over)])),
      "UsageAboveDeposit",
      [id, over, terms.deposit],
    );
    const forged = await signUsageVoucher(f.accounts.seller, f.escrowDomain(), {
      agreementId: id,
      cumulativeUsage: 9n,
    });
    await expectRevert(
      f.write("other", call("submitUsageVoucher", [encodeTerms(terms), 9n, forged])),
      "InvalidVoucherSignature",
      [id, terms.buyer],
    );
    // A voucher for 9 signed for another amount does not verify either.
    await expectRevert(
      f.write("other", call("submitUsageVoucher", [encodeTerms(terms), 9n, await voucher(id, 10n)])),
      "InvalidVoucherSignature",
    );
  });

  it("a voucher signed for another escrow or chain does not verify", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    for (const domain of [
      { chainId: 10, escrow: f.escrow },
      { chainId: f.chain.chainId, escrow: "0x000000000000000000000000000000000000dEaD" as const },
    ]) {
      const sig = await signUsageVoucher(f.accounts.buyer, domain, { agreementId: id, cumulativeUsage: 3n });
      await expectRevert(
        f.write("other", call("submitUsageVoucher", [encodeTerms(terms), 3n, sig])),
        "InvalidVoucherSignature",
      );
    }
  });
});

describe("complete", () => {
  it("the buyer, the seller or the recorder may complete; others only after the service expiry", async () => {
    for (const who of ["buyer", "seller", "recorder"] as const) {
      const terms = await f.terms();
      await f.activate(terms);
      await f.write(who, call("complete", [encodeTerms(terms)]));
      const v = await view(terms);
      expect(v.status).toBe(2);
      expect(v.challengeDeadline).toBe(v.completedAt + BigInt(terms.challengeWindow));
    }
    const terms = await f.terms({ serviceExpiry: (await f.now()) + 100 });
    const id = await f.activate(terms);
    await expectRevert(f.write("other", call("complete", [encodeTerms(terms)])), "NotParty", [
      id,
      f.accounts.other.address,
    ]);
    await f.increaseTime(100);
    await f.write("other", call("complete", [encodeTerms(terms)]));
    expect((await view(terms)).status).toBe(2);
    await expectRevert(f.write("other", call("complete", [encodeTerms(terms)])), "WrongStatus", [id, 2]);
  });
});

describe("challenge and resolution", () => {
  async function completed(recorded: bigint, acknowledged: bigint, overrides: Partial<Terms> = {}) {
    const terms = await f.terms(overrides);
    const id = await f.activate(terms);
    if (acknowledged > 0n) {
      await f.write(
        "other",
        call("submitUsageVoucher", [encodeTerms(terms), acknowledged, await voucher(id, acknowledged)]),
      );
    }
    await record(id, recorded, true);
    return { terms, id };
  }

  it("only the buyer challenges, only inside the window, only above the acknowledged usage", async () => {
    const { terms, id } = await completed(60_000_000n, 20_000_000n);
    await expectRevert(f.write("seller", call("challenge", [encodeTerms(terms)])), "NotParty", [id, terms.seller]);
    await f.write("buyer", call("challenge", [encodeTerms(terms)]));
    const v = await view(terms);
    expect(v.status).toBe(3);
    expect(v.resolutionDeadline).toBeGreaterThan(0n);
    await expectRevert(f.write("buyer", call("challenge", [encodeTerms(terms)])), "WrongStatus", [id, 3]);

    const late = await completed(60_000_000n, 0n);
    await f.increaseTime(late.terms.challengeWindow);
    const deadline = (await view(late.terms)).challengeDeadline;
    await expectRevert(f.write("buyer", call("challenge", [encodeTerms(late.terms)])), "ChallengeWindowClosed", [
      late.id,
      deadline,
    ]);

    const acknowledged = await completed(20_000_000n, 20_000_000n);
    await expectRevert(f.write("buyer", call("challenge", [encodeTerms(acknowledged.terms)])), "NothingToDispute", [
      acknowledged.id,
      20_000_000n,
      20_000_000n,
    ]);
  });

  it("the arbiter resolves between acknowledged and recorded usage, before the deadline", async () => {
    const { terms, id } = await completed(60_000_000n, 20_000_000n);
    await f.write("buyer", call("challenge", [encodeTerms(terms)]));
    await expectRevert(f.write("seller", call("resolve", [encodeTerms(terms), 30_000_000n])), "NotArbiter", [
      id,
      terms.seller,
    ]);
    await expectRevert(
      f.write("arbiter", call("resolve", [encodeTerms(terms), 19_999_999n])),
      "ResolutionOutOfBounds",
      [id, 19_999_999n, 20_000_000n, 60_000_000n],
    );
    await expectRevert(f.write("arbiter", call("resolve", [encodeTerms(terms), 60_000_001n])), "ResolutionOutOfBounds");
    await f.write("arbiter", call("resolve", [encodeTerms(terms), 35_000_000n]));
    expect(await view(terms)).toMatchObject({ status: 4, recordedUsage: 35_000_000n });
    await expectRevert(f.write("arbiter", call("resolve", [encodeTerms(terms), 35_000_000n])), "WrongStatus", [id, 4]);

    const late = await completed(60_000_000n, 0n);
    await f.write("buyer", call("challenge", [encodeTerms(late.terms)]));
    await f.increaseTime(late.terms.resolutionWindow);
    await expectRevert(f.write("arbiter", call("resolve", [encodeTerms(late.terms), 1n])), "ResolutionWindowClosed");
  });

  it("an absent arbiter: after the resolution deadline the terms' fallback split settles", async () => {
    const { terms } = await completed(60_000_000n, 20_000_000n, { fallbackBps: 2_500 });
    await f.write("buyer", call("challenge", [encodeTerms(terms)]));
    await expectRevert(f.write("other", call("settle", [encodeTerms(terms)])), "NotSettleable");
    await f.increaseTime(terms.resolutionWindow);
    const usage = 20_000_000n + (40_000_000n * 2_500n) / 10_000n;
    const preview = await read<{ settleableNow: boolean; byFallback: boolean; usage: bigint }>("previewSettlement", [
      encodeTerms(terms),
    ]);
    expect(preview).toMatchObject({ settleableNow: true, byFallback: true, usage });
    const before = await balances(terms);
    const { hash } = await f.write("other", call("settle", [encodeTerms(terms)]));
    const fee = settlementFee(usage, terms);
    const after = await balances(terms);
    expect(after.seller - before.seller).toBe(usage - fee);
    expect(after.buyer - before.buyer).toBe(terms.deposit - usage);
    const [settled] = parseEventLogs({
      abi: agentEscrowAbi,
      logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
      eventName: "AgreementSettled",
    });
    expect(settled?.args.byFallback).toBe(true);
  });
});

describe("settle", () => {
  it("after the window pays the seller usage less fee, credits the fee, refunds the buyer, once", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await f.write("recorder", call("recordUsageBatch", [[entry(id, 60_000_000n, true)]]));
    await expectRevert(f.write("other", call("settle", [encodeTerms(terms)])), "NotSettleable", [
      id,
      2,
      (await view(terms)).settleableAt,
    ]);
    await f.increaseTime(terms.challengeWindow);
    const preview = await read<{ toSeller: bigint; fee: bigint; refund: bigint }>("previewSettlement", [
      encodeTerms(terms),
    ]);
    const before = await balances(terms);
    await f.write("other", call("settle", [encodeTerms(terms)]));
    const after = await balances(terms);
    const fee = settlementFee(60_000_000n, terms);
    expect(fee).toBe(610_000n);
    expect(preview).toMatchObject({ toSeller: 60_000_000n - fee, fee, refund: 40_000_000n });
    expect(after.seller - before.seller).toBe(60_000_000n - fee);
    expect(after.buyer - before.buyer).toBe(40_000_000n);
    expect(after.feeCredit - before.feeCredit).toBe(fee);
    expect(before.escrow - after.escrow).toBe(terms.deposit - fee);
    expect((await view(terms)).status).toBe(5);
    await expectRevert(f.write("other", call("settle", [encodeTerms(terms)])), "NotSettleable", [id, 5, 0n]);
  });

  it("zero usage refunds the whole deposit and charges no fee", async () => {
    const terms = await f.terms({ challengeWindow: 0 });
    const id = await f.activate(terms);
    await record(id, 0n, true);
    const before = await balances(terms);
    await f.write("other", call("settle", [encodeTerms(terms)]));
    const after = await balances(terms);
    expect(after.buyer - before.buyer).toBe(terms.deposit);
    expect(after.feeCredit).toBe(before.feeCredit);
  });

  it("usage equal to the deposit refunds nothing and the fee is capped", async () => {
    const terms = await f.terms({ challengeWindow: 0, feeCap: 500_000n });
    const id = await f.activate(terms);
    await record(id, terms.deposit, true);
    const before = await balances(terms);
    await f.write("other", call("settle", [encodeTerms(terms)]));
    const after = await balances(terms);
    expect(after.seller - before.seller).toBe(terms.deposit - 500_000n);
    expect(after.buyer).toBe(before.buyer);
  });

  it("refuses to settle an active agreement or one never activated", async () => {
    const terms = await f.terms();
    const id = agreementId(terms, f.escrowDomain());
    await expectRevert(f.write("other", call("settle", [encodeTerms(terms)])), "NotSettleable", [id, 0, 0n]);
    await f.activate(terms);
    await expectRevert(f.write("other", call("settle", [encodeTerms(terms)])), "NotSettleable", [id, 1, 0n]);
  });

  it("a blacklisted seller does not block the buyer's refund; the seller withdraws to another address", async () => {
    const terms = await f.terms({ challengeWindow: 0 });
    const id = await f.activate(terms);
    await record(id, 60_000_000n, true);
    await f.token().blacklist(terms.seller);
    try {
      const before = await balances(terms);
      const { hash } = await f.write("other", call("settle", [encodeTerms(terms)]));
      const after = await balances(terms);
      const fee = settlementFee(60_000_000n, terms);
      expect(after.buyer - before.buyer).toBe(40_000_000n);
      expect(after.seller).toBe(before.seller);
      const deferred = parseEventLogs({
        abi: agentEscrowAbi,
        logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
        eventName: "PayoutDeferred",
      });
      expect(deferred.map((d) => d.args)).toEqual([
        { id, token: terms.token, owner: terms.seller, amount: 60_000_000n - fee },
      ]);
      expect(await read<bigint>("withdrawable", [terms.token, terms.seller])).toBe(60_000_000n - fee);
      // Withdrawing to itself fails while blacklisted and loses nothing; to another address works.
      await expect(f.write("seller", call("withdraw", [terms.token, terms.seller]))).rejects.toThrow(/blacklisted/);
      expect(await read<bigint>("withdrawable", [terms.token, terms.seller])).toBe(60_000_000n - fee);
      const other = f.accounts.other.address;
      const otherBefore = await f.token().balanceOf(other);
      await f.write("seller", call("withdraw", [terms.token, other]));
      expect((await f.token().balanceOf(other)) - otherBefore).toBe(60_000_000n - fee);
      expect(await read<bigint>("withdrawable", [terms.token, terms.seller])).toBe(0n);
      await expectRevert(f.write("seller", call("withdraw", [terms.token, other])), "NothingToWithdraw", [
        terms.token,
        terms.seller,
      ]);
      await expectRevert(
        f.write("seller", call("withdraw", [terms.token, "0x0000000000000000000000000000000000000000"])),
        "ZeroAddress",
        ["to"],
      );
    } finally {
      await f.token().unBlacklist(terms.seller);
    }
  });

  it("a paused token defers every payout; all of it is withdrawable after unpause", async () => {
    const terms = await f.terms({ challengeWindow: 0 });
    const id = await f.activate(terms);
    await record(id, 25_000_000n, true);
    await f.token().pause();
    try {
      await f.write("other", call("settle", [encodeTerms(terms)]));
    } finally {
      await f.token().unpause();
    }
    const fee = settlementFee(25_000_000n, terms);
    expect(await read<bigint>("withdrawable", [terms.token, terms.seller])).toBe(25_000_000n - fee);
    expect(await read<bigint>("withdrawable", [terms.token, terms.buyer])).toBe(75_000_000n);
    const buyerBefore = await f.token().balanceOf(terms.buyer);
    await f.write("buyer", call("withdraw", [terms.token, terms.buyer]));
    expect((await f.token().balanceOf(terms.buyer)) - buyerBefore).toBe(75_000_000n);
  });

  it("the fee recipient withdraws accrued fees", async () => {
    const credit = await read<bigint>("withdrawable", [f.tokenInfo().address, f.accounts.feeRecipient.address]);
    expect(credit).toBeGreaterThan(0n);
    const before = await f.token().balanceOf(f.accounts.feeRecipient.address);
    const { hash } = await f.write(
      "feeRecipient",
      call("withdraw", [f.tokenInfo().address, f.accounts.feeRecipient.address]),
    );
    expect((await f.token().balanceOf(f.accounts.feeRecipient.address)) - before).toBe(credit);
    const [withdrawn] = parseEventLogs({
      abi: agentEscrowAbi,
      logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
      eventName: "Withdrawn",
    });
    expect(withdrawn?.args.amount).toBe(credit);
  });
});
