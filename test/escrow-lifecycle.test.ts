// Usage recording, vouchers, completion, challenges, settlement and withdrawals against Circle's
// real FiatToken on the Base-faithful chain.
import { type Hex, keccak256, parseEventLogs, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentEscrowAbi } from "../src/abi/index.ts";
import { agreementId, encodeTerms, signFinalUsage, signUsageVoucher, type Terms } from "../src/eip712/index.ts";
import { settlementFee } from "../src/fees.ts";
import { type EscrowFixture, escrowFixture, FAR_FUTURE, type Role } from "./support/escrow-fixture.ts";
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
  lateRecordAvailable: boolean;
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

  it("an agreement exists only for its recorder: anyone else, another agreement's recorder included, finds none", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await expectRevert(record(id, 1n, false, "other"), "WrongStatus", [id, 0]);
    // `seller` records another agreement: still not this agreement's recorder.
    await f.activate(await f.terms({ recorder: f.accounts.seller.address }));
    await expectRevert(record(id, 1n, false, "seller"), "WrongStatus", [id, 0]);
    // In a batch too: nobody else can make an agreement not exist, so it is the caller's mistake
    // and the batch reverts (no event can be forged for another recorder's agreement).
    await expectRevert(f.write("seller", call("recordUsageBatch", [[entry(id, 9_000_000n, true)]])), "WrongStatus", [
      id,
      0,
    ]);
    const v = await view(terms);
    expect([v.status, v.recordedUsage]).toEqual([1, 0n]);
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
    // The recorder's own mistake (usage above the deposit) rejects the whole batch.
    await expectRevert(
      f.write(
        "recorder",
        call("recordUsageBatch", [[entry(ids[0] as Hex, 5_000_000n), entry(ids[1] as Hex, 200_000_000n)]]),
      ),
      "UsageAboveDeposit",
      [ids[1], 200_000_000n, 100_000_000n],
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
    expect(logs[0]?.args).toEqual({ id: ids[0], status: 2, recordedUsage: 0n, proposedUsage: 3_000_000n });
    expect((await view(b)).recordedUsage).toBe(3_000_000n);
    expect((await view(a)).recordedUsage).toBe(0n);
  });

  it("a voucher submitted ahead of a batch skips only the entry it overtook, never the batch", async () => {
    const [a, b] = [await f.terms(), await f.terms()];
    const ids = [await f.activate(a), await f.activate(b)];
    // The recorder signs a batch with 4 on agreement a; before it is mined, someone submits the
    // buyer's voucher for 5 on a (anyone may).
    await f.write(
      "other",
      call("submitUsageVoucher", [encodeTerms(a), 5_000_000n, await voucher(ids[0] as Hex, 5_000_000n)]),
    );
    const { hash } = await f.write(
      "recorder",
      call("recordUsageBatch", [[entry(ids[0] as Hex, 4_000_000n, true), entry(ids[1] as Hex, 7_000_000n)]]),
    );
    const logs = parseEventLogs({
      abi: agentEscrowAbi,
      logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
    });
    expect(logs.map((l) => l.eventName)).toEqual(["UsageEntrySkipped", "UsageRecorded"]);
    expect(logs[0]?.args).toEqual({ id: ids[0], status: 1, recordedUsage: 5_000_000n, proposedUsage: 4_000_000n });
    // The skipped entry changed nothing (not even its completion flag); the other one applied.
    expect((await view(a)).recordedUsage).toBe(5_000_000n);
    expect((await view(a)).status).toBe(1);
    expect((await view(b)).recordedUsage).toBe(7_000_000n);
    // A single record still reports the decrease as an error.
    await expectRevert(record(ids[0] as Hex, 4_000_000n), "UsageDecreased", [ids[0], 5_000_000n, 4_000_000n]);
  });
});

describe("late usage after a completion by someone else", () => {
  it("the recorder records once more inside the window, which restarts; never twice, never lower or equal", async () => {
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
      "UsageNotRaised",
      [id, 10_000_000n, 9_000_000n],
    );
    // A late record that adds nothing cannot restart the window (it would only delay the refund).
    await expectRevert(
      f.write("recorder", call("recordLateUsage", [encodeTerms(terms), 10_000_000n, LOG])),
      "UsageNotRaised",
      [id, 10_000_000n, 10_000_000n],
    );
    expect((await view(terms)).completedAt).toBe(completedAt);
    const { hash } = await f.write("recorder", call("recordLateUsage", [encodeTerms(terms), 12_000_000n, LOG]));
    const events = parseEventLogs({
      abi: agentEscrowAbi,
      logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
    });
    expect(events.map((e) => e.eventName)).toEqual(["UsageRecorded", "LateUsageRecorded"]);
    expect(events[1]?.args).toEqual({ id, previousUsage: 10_000_000n, usage: 12_000_000n, status: 2 });
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
    expect((await view(terms)).lateRecordAvailable).toBe(false);
    await expectRevert(
      f.write("recorder", call("recordLateUsage", [encodeTerms(terms), 2_000_000n, LOG])),
      "WrongStatus",
      [id, 2],
    );
    const late = await f.terms();
    await f.activate(late);
    expect((await view(late)).lateRecordAvailable).toBe(false);
    await f.write("seller", call("complete", [encodeTerms(late)]));
    expect((await view(late)).lateRecordAvailable).toBe(true);
    await f.increaseTime(late.challengeWindow);
    // The view says what the call would do: the window is over.
    expect((await view(late)).lateRecordAvailable).toBe(false);
    await expectRevert(
      f.write("recorder", call("recordLateUsage", [encodeTerms(late), 2_000_000n, LOG])),
      "ChallengeWindowClosed",
    );
  });
});

describe("a buyer who completes and challenges at once", () => {
  it("cannot cut off usage metered before its completion: the late record reaches the arbiter", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await record(id, 10_000_000n);
    await f.write("other", call("submitUsageVoucher", [encodeTerms(terms), 4_000_000n, await voucher(id, 4_000_000n)]));
    // Usage metered up to 30 since; before the recorder's next record lands, the buyer completes
    // and challenges in the same block.
    const test = f.local.dev.testClient;
    await test.setAutomine(false);
    const hashes: Hex[] = [];
    try {
      // Explicit gas: estimating the challenge against the mined state would see an active agreement.
      for (const functionName of ["complete", "challenge"] as const) {
        hashes.push(
          await f.wallet("buyer").writeContract({
            address: f.escrow,
            abi: agentEscrowAbi,
            functionName,
            args: [encodeTerms(terms)],
            account: f.accounts.buyer.address,
            chain: null,
            gas: 200_000n,
          }),
        );
      }
      await test.mine({ blocks: 1 });
    } finally {
      await test.setAutomine(true);
    }
    const receipts = await Promise.all(hashes.map((hash) => f.publicClient.waitForTransactionReceipt({ hash })));
    expect(receipts.map((r) => r.status)).toEqual(["success", "success"]);
    expect(receipts[0]?.blockNumber).toBe(receipts[1]?.blockNumber);
    const challenged = await view(terms);
    expect(challenged.status).toBe(3);

    // The recorder's late record still lands while Challenged, raising the arbiter's upper bound
    // and restarting the resolution window.
    await f.increaseTime(600);
    await f.write("recorder", call("recordLateUsage", [encodeTerms(terms), 30_000_000n, LOG]));
    const late = await view(terms);
    expect(late.status).toBe(3);
    expect(late.recordedUsage).toBe(30_000_000n);
    expect(late.resolutionDeadline).toBeGreaterThan(challenged.resolutionDeadline);
    // Only once.
    await expectRevert(
      f.write("recorder", call("recordLateUsage", [encodeTerms(terms), 31_000_000n, LOG])),
      "WrongStatus",
      [id, 3],
    );
    // The buyer keeps its right to dispute everything it did not acknowledge: the arbiter decides
    // between 4 and 30.
    await expectRevert(
      f.write("arbiter", call("resolve", [encodeTerms(terms), 30_000_001n])),
      "ResolutionOutOfBounds",
      [id, 30_000_001n, 4_000_000n, 30_000_000n],
    );
    await f.write("arbiter", call("resolve", [encodeTerms(terms), 30_000_000n]));
    const before = await balances(terms);
    await f.write("other", call("settle", [encodeTerms(terms)]));
    const after = await balances(terms);
    expect(after.seller - before.seller).toBe(30_000_000n - settlementFee(30_000_000n, terms));
    expect(after.buyer - before.buyer).toBe(70_000_000n);
  });

  it("without an arbiter, the fallback split is taken over the late-recorded usage", async () => {
    const terms = await f.terms({ fallbackBps: 5_000 });
    const id = await f.activate(terms);
    await record(id, 10_000_000n);
    await f.write("buyer", call("complete", [encodeTerms(terms)]));
    await f.write("buyer", call("challenge", [encodeTerms(terms)]));
    await f.write("recorder", call("recordLateUsage", [encodeTerms(terms), 20_000_000n, LOG]));
    await f.increaseTime(terms.resolutionWindow);
    const preview = await read<{ usage: bigint; byFallback: boolean }>("previewSettlement", [encodeTerms(terms)]);
    // acknowledged 0 + (20 - 0) * 50%
    expect(preview).toMatchObject({ usage: 10_000_000n, byFallback: true });
  });

  it("the late record is refused after the resolution deadline and after a resolution", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await record(id, 10_000_000n);
    await f.write("buyer", call("complete", [encodeTerms(terms)]));
    await f.write("buyer", call("challenge", [encodeTerms(terms)]));
    await f.increaseTime(terms.resolutionWindow);
    await expectRevert(
      f.write("recorder", call("recordLateUsage", [encodeTerms(terms), 20_000_000n, LOG])),
      "ResolutionWindowClosed",
    );
    const other = await f.terms();
    const otherId = await f.activate(other);
    await record(otherId, 10_000_000n);
    await f.write("buyer", call("complete", [encodeTerms(other)]));
    await f.write("buyer", call("challenge", [encodeTerms(other)]));
    await f.write("arbiter", call("resolve", [encodeTerms(other), 5_000_000n]));
    await expectRevert(
      f.write("recorder", call("recordLateUsage", [encodeTerms(other), 20_000_000n, LOG])),
      "WrongStatus",
      [otherId, 4],
    );
    expect(id).not.toBe(otherId);
  });
});

describe("cooperative close with the buyer's final voucher", () => {
  const DEADLINE = Number(FAR_FUTURE);
  const finalVoucher = (id: Hex, usage: bigint, deadline = DEADLINE) =>
    signFinalUsage(f.accounts.buyer, f.escrowDomain(), { agreementId: id, usage, deadline });
  const close = (from: Role, terms: Terms, usage: bigint, signature: Hex, deadline = DEADLINE) =>
    f.write(from, call("closeWithFinalVoucher", [encodeTerms(terms), usage, deadline, signature]));

  it("the seller closes and settles in one transaction at the voucher's usage: no challenge window", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await record(id, 50_000_000n);
    const before = await balances(terms);
    const { hash } = await close("seller", terms, 60_000_000n, await finalVoucher(id, 60_000_000n));
    const after = await balances(terms);
    const fee = settlementFee(60_000_000n, terms);
    expect(after.seller - before.seller).toBe(60_000_000n - fee);
    expect(after.buyer - before.buyer).toBe(40_000_000n);
    expect(after.feeCredit - before.feeCredit).toBe(fee);
    expect(before.escrow - after.escrow).toBe(100_000_000n - fee);
    const logs = parseEventLogs({
      abi: agentEscrowAbi,
      logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
    }).filter((l) => l.address.toLowerCase() === f.escrow.toLowerCase());
    expect(logs.map((l) => l.eventName)).toEqual(["AgreementClosed", "AgreementSettled"]);
    expect(logs[0]?.args).toEqual({ id, by: terms.seller, usage: 60_000_000n, previousStatus: 1 });
    expect(logs[1]?.args).toEqual({
      id,
      usage: 60_000_000n,
      toSeller: 60_000_000n - fee,
      fee,
      refund: 40_000_000n,
      byFallback: false,
    });
    expect((await view(terms)).status).toBe(5);
    // Once settled, the voucher is spent.
    await expectRevert(close("seller", terms, 60_000_000n, await finalVoucher(id, 60_000_000n)), "WrongStatus", [
      id,
      5,
    ]);
  });

  it("the seller may settle a dispute below the recorded usage; the recorder never can", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await record(id, 30_000_000n);
    await f.write(
      "other",
      call("submitUsageVoucher", [encodeTerms(terms), 10_000_000n, await voucher(id, 10_000_000n)]),
    );
    await f.write("buyer", call("complete", [encodeTerms(terms)]));
    await f.write("buyer", call("challenge", [encodeTerms(terms)]));
    const at20 = await finalVoucher(id, 20_000_000n);
    // The recorder cannot cut the seller's pay below what was recorded (nor acknowledged).
    await expectRevert(close("recorder", terms, 20_000_000n, at20), "UsageBelowRecorded", [
      id,
      20_000_000n,
      30_000_000n,
    ]);
    // The seller can: it is its own payment.
    await close("seller", terms, 20_000_000n, at20);
    const v = await view(terms);
    expect(v.status).toBe(5);
    expect(v.recordedUsage).toBe(20_000_000n);
  });

  it("the recorder closes at or above the recorded usage, from a completed or resolved agreement", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await record(id, 30_000_000n, true);
    await close("recorder", terms, 30_000_000n, await finalVoucher(id, 30_000_000n));
    expect((await view(terms)).status).toBe(5);
    // After an arbiter's ruling, the recorder cannot go below it either.
    const ruled = await f.terms();
    const ruledId = await f.activate(ruled);
    await record(ruledId, 50_000_000n);
    await f.write("buyer", call("complete", [encodeTerms(ruled)]));
    await f.write("buyer", call("challenge", [encodeTerms(ruled)]));
    await f.write("arbiter", call("resolve", [encodeTerms(ruled), 40_000_000n]));
    await expectRevert(
      close("recorder", ruled, 1_000_000n, await finalVoucher(ruledId, 1_000_000n)),
      "UsageBelowRecorded",
      [ruledId, 1_000_000n, 40_000_000n],
    );
    await close("recorder", ruled, 40_000_000n, await finalVoucher(ruledId, 40_000_000n));
    expect((await view(ruled)).status).toBe(5);
  });

  it("a final voucher expires at its deadline, which is signed", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    const deadline = (await f.now()) + 100;
    const signature = await finalVoucher(id, 5_000_000n, deadline);
    await f.increaseTime(100);
    await expectRevert(close("seller", terms, 5_000_000n, signature, deadline), "VoucherExpired", [
      id,
      BigInt(deadline),
    ]);
    await expectRevert(close("seller", terms, 5_000_000n, signature, deadline + 1_000), "InvalidVoucherSignature", [
      id,
      terms.buyer,
    ]);
  });
  it("refuses the buyer, strangers, plain usage vouchers, forged or foreign signatures, and usage above the deposit", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    const signature = await finalVoucher(id, 10_000_000n);
    for (const who of ["buyer", "other", "arbiter"] as const) {
      await expectRevert(close(who, terms, 10_000_000n, signature), "NotParty", [id, f.accounts[who].address]);
    }
    // An acknowledgement made during the service is not a final voucher.
    await expectRevert(close("seller", terms, 10_000_000n, await voucher(id, 10_000_000n)), "InvalidVoucherSignature", [
      id,
      terms.buyer,
    ]);
    // The signature binds the usage and the agreement.
    await expectRevert(close("seller", terms, 11_000_000n, signature), "InvalidVoucherSignature", [id, terms.buyer]);
    const other = await f.terms();
    await f.activate(other);
    await expectRevert(close("seller", other, 10_000_000n, signature), "InvalidVoucherSignature", [
      agreementId(other, f.escrowDomain()),
      other.buyer,
    ]);
    const seller = await signFinalUsage(f.accounts.seller, f.escrowDomain(), {
      agreementId: id,
      usage: 10_000_000n,
      deadline: DEADLINE,
    });
    await expectRevert(close("seller", terms, 10_000_000n, seller), "InvalidVoucherSignature", [id, terms.buyer]);
    await expectRevert(
      close("seller", terms, 100_000_001n, await finalVoucher(id, 100_000_001n)),
      "UsageAboveDeposit",
      [id, 100_000_001n, 100_000_000n],
    );
    const never = await f.terms();
    const neverId = agreementId(never, f.escrowDomain());
    await expectRevert(close("seller", never, 1n, await finalVoucher(neverId, 1n)), "WrongStatus", [neverId, 0]);
    expect((await view(terms)).status).toBe(1);
  });

  it("terms where the buyer is its own recorder are refused: it could close on its own voucher", async () => {
    const terms = await f.terms({ recorder: f.accounts.buyer.address });
    await expectRevert(f.activate(terms), "BuyerCannotBe", ["recorder"]);
  });

  it("a blacklisted seller's payout is deferred, the buyer is still refunded", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    const signature = await finalVoucher(id, 70_000_000n);
    await f.token().blacklist(terms.seller);
    try {
      const before = await balances(terms);
      await close("recorder", terms, 70_000_000n, signature);
      const fee = settlementFee(70_000_000n, terms);
      expect((await balances(terms)).buyer - before.buyer).toBe(30_000_000n);
      expect(await read<bigint>("withdrawable", [terms.token, terms.seller])).toBe(70_000_000n - fee);
    } finally {
      await f.token().unBlacklist(terms.seller);
    }
    await f.write("seller", call("withdraw", [terms.token, terms.seller]));
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

  it("a blacklisted seller does not block the buyer's refund; its balance stays frozen until unblacklisted", async () => {
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
      // While blacklisted, the balance cannot be withdrawn to any address (that would sidestep the
      // issuer's freeze), and nothing is lost.
      const other = f.accounts.other.address;
      for (const to of [terms.seller, other]) {
        await expectRevert(f.write("seller", call("withdraw", [terms.token, to])), "BalanceOwnerBlacklisted", [
          terms.token,
          terms.seller,
        ]);
      }
      expect(await read<bigint>("withdrawable", [terms.token, terms.seller])).toBe(60_000_000n - fee);
      // Once the issuer lifts the blacklisting, the seller withdraws, to any address it names.
      await f.token().unBlacklist(terms.seller);
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
      await f
        .token()
        .unBlacklist(terms.seller)
        .catch(() => undefined);
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
