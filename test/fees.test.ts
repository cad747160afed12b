// The fee functions in TypeScript and Solidity against the same vectors.

import { network } from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DirectFeeSchedule, directPaymentFee, FeeError, fallbackUsage, settlementFee } from "../src/fees.ts";
import vectors from "./vectors/fees.json" with { type: "json" };

type Harness = Awaited<ReturnType<typeof deployHarness>>;
async function deployHarness() {
  const connection = await network.create();
  return { connection, harness: await connection.viem.deployContract("FeesHarness") };
}
let h: Harness;
beforeAll(async () => {
  h = await deployHarness();
});
afterAll(async () => h?.connection.close());

describe("directPaymentFee", () => {
  it("is 2% + $0.003 with a $0.10 minimum by default", () => {
    expect(directPaymentFee(5_000_000n)).toBe(103_000n);
    expect(directPaymentFee(1_000_000n)).toBe(100_000n);
    expect(directPaymentFee(4_850_000n)).toBe(100_000n);
    expect(directPaymentFee(4_850_050n)).toBe(100_001n);
  });
  it.each(vectors.directPaymentFee)("vector amount=$amount bps=$bps -> $fee (TS and Solidity)", async (v) => {
    const schedule: DirectFeeSchedule = { bps: v.bps, fixedFee: BigInt(v.fixedFee), minFee: BigInt(v.minFee) };
    expect(directPaymentFee(BigInt(v.amount), schedule)).toBe(BigInt(v.fee));
    expect(
      await h.harness.read.directPaymentFee([BigInt(v.amount), BigInt(v.bps), schedule.fixedFee, schedule.minFee]),
    ).toBe(BigInt(v.fee));
  });
  it("rejects a negative amount", () => {
    expect(() => directPaymentFee(-1n)).toThrow(FeeError);
    expect(() => settlementFee(-1n, { feeBps: 100, feeFixed: 0n, feeCap: 10n })).toThrow(
      expect.objectContaining({ code: "AMOUNT_NEGATIVE", details: { field: "usage", value: -1n } }),
    );
  });
});

describe("settlementFee", () => {
  it.each(vectors.settlementFee)("vector usage=$usage bps=$bps -> $fee (TS and Solidity)", async (v) => {
    const terms = { feeBps: v.bps, feeFixed: BigInt(v.fixedFee), feeCap: BigInt(v.cap) };
    expect(settlementFee(BigInt(v.usage), terms)).toBe(BigInt(v.fee));
    expect(await h.harness.read.settlementFee([BigInt(v.usage), BigInt(v.bps), terms.feeFixed, terms.feeCap])).toBe(
      BigInt(v.fee),
    );
  });
});

describe("fallbackUsage", () => {
  it.each(vectors.fallbackUsage)("vector ack=$acknowledged rec=$recorded bps=$sellerBps -> $usage", async (v) => {
    expect(fallbackUsage(BigInt(v.acknowledged), BigInt(v.recorded), v.sellerBps)).toBe(BigInt(v.usage));
    expect(await h.harness.read.fallbackUsage([BigInt(v.acknowledged), BigInt(v.recorded), BigInt(v.sellerBps)])).toBe(
      BigInt(v.usage),
    );
  });
});
