// Direct stablecoin payment: fee by EIP-2612 permit, then the buyer's x402 'exact'
// TransferWithAuthorization to the seller, against Circle's real FiatToken on Base-faithful chains.
import { type Hex, keccak256, parseEventLogs, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directPaymentAbi, fiatTokenAbi } from "../src/abi/index.ts";
import { type Authorization, directPaymentFeePermitDeadline, signAuthorization } from "../src/eip712/index.ts";
import { directPaymentFee } from "../src/fees.ts";
import { type EscrowFixture, escrowFixture, FAR_FUTURE } from "./support/escrow-fixture.ts";
import { expectRevert, expectRevertReason } from "./support/revert.ts";

let f: EscrowFixture;
let n = 0;
const pay = (args: readonly unknown[], from: "relayer" | "other" = "relayer") =>
  f.write(from, { address: f.direct, abi: directPaymentAbi, functionName: "pay", args });

async function signed(
  amount: bigint,
  options: { permitValue?: bigint; symbol?: "USDC" | "EURC"; to?: `0x${string}` } = {},
) {
  const t = f.tokenInfo(options.symbol);
  const message: Authorization = {
    from: f.accounts.buyer.address,
    to: options.to ?? f.accounts.seller.address,
    value: amount,
    validAfter: 0n,
    validBefore: FAR_FUTURE,
    nonce: keccak256(toHex(`direct-${n++}`)),
  };
  const signature = await signAuthorization(f.accounts.buyer, f.tokenDomain(options.symbol), message);
  const fee = directPaymentFee(amount);
  const signedPermit = await f.feePermit(f.accounts.buyer, options.permitValue ?? fee, {
    spender: f.direct,
    symbol: options.symbol,
    deadline: directPaymentFeePermitDeadline(message.nonce),
  });
  const permit = { value: signedPermit.value, signature: signedPermit.signature };
  const payment = {
    token: t.address,
    buyer: message.from,
    seller: message.to,
    amount,
    validAfter: message.validAfter,
    validBefore: message.validBefore,
    nonce: message.nonce,
    signature,
  };
  return { payment, permit, fee, message, deadline: signedPermit.deadline };
}

beforeAll(async () => {
  f = await escrowFixture("base");
  await f.token().mint(f.accounts.buyer.address, 1_000_000_000n);
  await f.token("EURC").mint(f.accounts.buyer.address, 1_000_000_000n);
});
afterAll(async () => f?.close());

describe("pay", () => {
  it("collects 2% + $0.003 by permit and pays the seller exactly the signed amount, in one event", async () => {
    const { payment, permit, fee } = await signed(5_000_000n);
    expect(fee).toBe(103_000n);
    const seller = await f.token().balanceOf(payment.seller);
    const feeRecipient = await f.token().balanceOf(f.accounts.feeRecipient.address);
    const buyer = await f.token().balanceOf(payment.buyer);
    const { hash } = await pay([payment, permit]);
    expect((await f.token().balanceOf(payment.seller)) - seller).toBe(5_000_000n);
    expect((await f.token().balanceOf(f.accounts.feeRecipient.address)) - feeRecipient).toBe(fee);
    expect(buyer - (await f.token().balanceOf(payment.buyer))).toBe(5_000_000n + fee);
    const events = parseEventLogs({
      abi: directPaymentAbi,
      logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
    });
    expect(events.map((e) => e.eventName)).toEqual(["DirectPaymentExecuted"]);
    expect(events[0]?.args).toEqual({
      nonce: payment.nonce,
      buyer: payment.buyer,
      seller: payment.seller,
      token: payment.token,
      amount: 5_000_000n,
      fee,
    });
  });

  it("charges the $0.10 minimum on small payments, and the same fee on EURC", async () => {
    const small = await signed(1_000_000n);
    const before = await f.token().balanceOf(f.accounts.feeRecipient.address);
    await pay([small.payment, small.permit]);
    expect((await f.token().balanceOf(f.accounts.feeRecipient.address)) - before).toBe(100_000n);
    const eurc = await signed(20_000_000n, { symbol: "EURC" });
    await pay([eurc.payment, eurc.permit]);
    expect(eurc.fee).toBe(403_000n);
  });

  it("never takes more than the fee the buyer signed", async () => {
    const { payment, permit, fee } = await signed(5_000_000n, { permitValue: 102_999n });
    await expectRevert(pay([payment, permit]), "FeeAboveSigned", [fee, 102_999n]);
  });

  it("a front-run permit does not make the payment fail", async () => {
    const { payment, permit, deadline } = await signed(7_000_000n);
    await f.write("other", {
      address: payment.token,
      abi: fiatTokenAbi,
      functionName: "permit",
      args: [payment.buyer, f.direct, permit.value, deadline, permit.signature],
    });
    const seller = await f.token().balanceOf(payment.seller);
    await pay([payment, permit]);
    expect((await f.token().balanceOf(payment.seller)) - seller).toBe(7_000_000n);
  });

  it("a front-run x402 transfer leaves the seller paid and charges no fee (the whole call reverts)", async () => {
    const { payment, permit } = await signed(3_000_000n);
    await f.write("other", {
      address: payment.token,
      abi: fiatTokenAbi,
      functionName: "transferWithAuthorization",
      args: [
        payment.buyer,
        payment.seller,
        payment.amount,
        payment.validAfter,
        payment.validBefore,
        payment.nonce,
        payment.signature,
      ],
    });
    const feeRecipient = await f.token().balanceOf(f.accounts.feeRecipient.address);
    await expectRevertReason(pay([payment, permit]), /authorization is used or canceled/);
    expect(await f.token().balanceOf(f.accounts.feeRecipient.address)).toBe(feeRecipient);
  });

  it("refuses a tampered payment (amount or payee) at the token, and replays", async () => {
    const { payment, permit } = await signed(2_000_000n);
    await expectRevertReason(pay([{ ...payment, amount: 2_000_001n }, permit]), /invalid signature/);
    await expectRevertReason(pay([{ ...payment, seller: f.accounts.other.address }, permit]), /invalid signature/);
    await pay([payment, permit]);
    // A replay finds the permit used and its allowance spent, so it fails before the transfer.
    await expectRevertReason(pay([payment, permit]), /transfer amount exceeds allowance/);
  });

  it("a leftover allowance cannot pay the fee of another payment (the permit is bound to its payment)", async () => {
    // Payment A's permit and x402 transfer are both submitted directly: its allowance is left over.
    const a = await signed(5_000_000n);
    await f.write("other", {
      address: a.payment.token,
      abi: fiatTokenAbi,
      functionName: "permit",
      args: [a.payment.buyer, f.direct, a.permit.value, a.deadline, a.permit.signature],
    });
    const c = await signed(1_000_000n);
    const feeRecipient = await f.token().balanceOf(f.accounts.feeRecipient.address);
    // Neither an unsigned "permit" of any value nor A's real permit signature charges a fee for C.
    await expectRevert(pay([c.payment, { value: 2n ** 256n - 1n, signature: "0x" }]), "FeePermitInvalid", [
      c.payment.nonce,
    ]);
    await expectRevert(pay([c.payment, a.permit]), "FeePermitInvalid", [c.payment.nonce]);
    expect(await f.token().balanceOf(f.accounts.feeRecipient.address)).toBe(feeRecipient);
    // C's own permit still works.
    await pay([c.payment, c.permit]);
  });

  it("a permit sharing its nonce with one that executed draws this payment's fee, at most as signed, from allowance already given", async () => {
    // The buyer signs payments A and C before either executes: both fee permits carry the same
    // EIP-2612 nonce. A's permit allows more than A's fee.
    const cFee = directPaymentFee(4_000_000n);
    const a = await signed(6_000_000n, { permitValue: directPaymentFee(6_000_000n) + cFee });
    const c = await signed(4_000_000n);
    const e = await signed(8_000_000n);
    const allowance = () =>
      f.publicClient.readContract({
        address: a.payment.token,
        abi: fiatTokenAbi,
        functionName: "allowance",
        args: [a.payment.buyer, f.direct],
      });
    await pay([a.payment, a.permit]);
    expect(await allowance()).toBe(cFee);
    // C's permit can no longer execute, but it is a valid signature for the nonce the token
    // consumed last, so C goes through: its fee (never above the value the buyer signed for C)
    // comes from what was left of A's permit.
    const buyer = await f.token().balanceOf(c.payment.buyer);
    const feeRecipient = await f.token().balanceOf(f.accounts.feeRecipient.address);
    await pay([c.payment, c.permit]);
    expect(buyer - (await f.token().balanceOf(c.payment.buyer))).toBe(4_000_000n + cFee);
    expect((await f.token().balanceOf(f.accounts.feeRecipient.address)) - feeRecipient).toBe(cFee);
    expect(await allowance()).toBe(0n);
    // E (same nonce again) finds no allowance left: it reverts and nothing moves.
    await expectRevertReason(pay([e.payment, e.permit]), /transfer amount exceeds allowance/);
    expect(buyer - (await f.token().balanceOf(c.payment.buyer))).toBe(4_000_000n + cFee);
  });

  it("refuses a token without a fee schedule", async () => {
    const { payment, permit } = await signed(2_000_000n);
    const other = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
    await expectRevert(pay([{ ...payment, token: other }, permit]), "TokenNotSupported", [other]);
  });
});

describe("fee schedule administration", () => {
  const admin = (from: "owner" | "other", functionName: string, args: readonly unknown[]) =>
    f.write(from, { address: f.direct, abi: directPaymentAbi, functionName, args });

  it("only the owner changes schedules, within the hard caps, with events", async () => {
    const usdc = f.tokenInfo().address;
    await expectRevert(admin("other", "setFeeSchedule", [usdc, true, 100, 0n, 0n]), "OwnableUnauthorizedAccount");
    await expectRevert(admin("owner", "setFeeSchedule", [usdc, true, 501, 0n, 0n]), "FeeAboveCap", ["bps", 501n, 500n]);
    await expectRevert(admin("owner", "setFeeSchedule", [usdc, true, 0, 1_000_001n, 0n]), "FeeAboveCap", [
      "fixedFee",
      1_000_001n,
      1_000_000n,
    ]);
    await expectRevert(admin("owner", "setFeeSchedule", [usdc, true, 0, 0n, 1_000_001n]), "FeeAboveCap", [
      "minFee",
      1_000_001n,
      1_000_000n,
    ]);
    await expectRevert(
      admin("owner", "setFeeSchedule", ["0x0000000000000000000000000000000000000000", true, 0, 0n, 0n]),
      "ZeroAddress",
      ["token"],
    );
    await admin("owner", "setFeeSchedule", [usdc, true, 100, 0n, 50_000n]);
    const quote = (amount: bigint) =>
      f.publicClient.readContract({
        address: f.direct,
        abi: directPaymentAbi,
        functionName: "quoteFee",
        args: [usdc, amount],
      });
    expect(await quote(10_000_000n)).toBe(100_000n);
    await admin("owner", "setFeeSchedule", [usdc, true, 200, 3_000n, 100_000n]);
    expect(await quote(5_000_000n)).toBe(103_000n);
  });

  it("only the owner changes the fee recipient, never to zero", async () => {
    await expectRevert(admin("other", "setFeeRecipient", [f.accounts.other.address]), "OwnableUnauthorizedAccount");
    await expectRevert(
      admin("owner", "setFeeRecipient", ["0x0000000000000000000000000000000000000000"]),
      "ZeroAddress",
      ["feeRecipient"],
    );
    await admin("owner", "setFeeRecipient", [f.accounts.other.address]);
    await admin("owner", "setFeeRecipient", [f.accounts.feeRecipient.address]);
    expect(
      await f.publicClient.readContract({ address: f.direct, abi: directPaymentAbi, functionName: "feeRecipient" }),
    ).toBe(f.accounts.feeRecipient.address);
  });

  it("ownership cannot be renounced", async () => {
    await expectRevert(
      f.write("owner", { address: f.direct, abi: directPaymentAbi, functionName: "renounceOwnership", args: [] }),
      "RenounceDisabled",
    );
  });

  it("the payment id is the authorization nonce", async () => {
    const { payment, permit } = await signed(1_500_000n);
    const { hash } = await pay([payment, permit]);
    const [event] = parseEventLogs({
      abi: directPaymentAbi,
      logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
      eventName: "DirectPaymentExecuted",
    });
    expect(event?.args.nonce as Hex).toBe(payment.nonce);
  });
});
