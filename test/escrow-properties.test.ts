// Property tests over random action sequences against the real FiatToken: after every step the
// escrow's accounting holds, and at the end every agreement can be driven to settlement and every
// balance withdrawn (nothing is ever stuck).
import fc from "fast-check";
import { type Hex, keccak256, parseEventLogs, toHex } from "viem";
import { afterAll, beforeAll, expect, it } from "vitest";
import { agentEscrowAbi } from "../src/abi/index.ts";
import {
  agreementId,
  encodeActivation,
  encodeTerms,
  signFinalUsage,
  signUsageVoucher,
  type Terms,
  topUpNonce,
} from "../src/eip712/index.ts";
import { type EscrowFixture, escrowFixture, type Role } from "./support/escrow-fixture.ts";

/** Sequences run in CI. Raise with PROPERTY_RUNS for a longer soak. */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 1_000);
/**
 * A fixed seed keeps CI reproducible; `PROPERTY_SEED=random` explores new sequences (the run
 * prints its seed), `PROPERTY_SEED=<n>` replays one.
 */
const SEED =
  process.env.PROPERTY_SEED === "random"
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(process.env.PROPERTY_SEED ?? 20_261_122);
const AGREEMENTS = 2;

type Action =
  | { kind: "activate"; a: number; deposit: bigint }
  | { kind: "topUp"; a: number; amount: bigint }
  | { kind: "record"; a: number; permille: number; complete: boolean }
  | { kind: "lateRecord"; a: number; permille: number }
  | { kind: "voucher"; a: number; permille: number }
  | { kind: "close"; a: number; permille: number; by: Role }
  | { kind: "complete"; a: number; by: Role }
  | { kind: "challenge"; a: number }
  | { kind: "resolve"; a: number; permille: number }
  | { kind: "time"; seconds: number }
  | { kind: "settle"; a: number }
  | { kind: "blacklistSeller"; on: boolean }
  | { kind: "withdraw"; who: Role };

const idx = fc.integer({ min: 0, max: AGREEMENTS - 1 });
const permille = fc.integer({ min: 0, max: 1_100 });
const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const action: fc.Arbitrary<Action> = fc.oneof(
  weighted(
    4,
    fc.record({ kind: fc.constant("activate" as const), a: idx, deposit: fc.bigInt({ min: 1n, max: 200_000_000n }) }),
  ),
  weighted(
    1,
    fc.record({ kind: fc.constant("topUp" as const), a: idx, amount: fc.bigInt({ min: 1n, max: 50_000_000n }) }),
  ),
  weighted(4, fc.record({ kind: fc.constant("record" as const), a: idx, permille, complete: fc.boolean() })),
  weighted(2, fc.record({ kind: fc.constant("voucher" as const), a: idx, permille })),
  weighted(2, fc.record({ kind: fc.constant("lateRecord" as const), a: idx, permille })),
  weighted(
    2,
    fc.record({
      kind: fc.constant("close" as const),
      a: idx,
      permille,
      by: fc.constantFrom<Role>("seller", "recorder", "buyer"),
    }),
  ),
  weighted(
    2,
    fc.record({
      kind: fc.constant("complete" as const),
      a: idx,
      by: fc.constantFrom<Role>("buyer", "seller", "recorder", "other"),
    }),
  ),
  weighted(3, fc.record({ kind: fc.constant("challenge" as const), a: idx })),
  weighted(3, fc.record({ kind: fc.constant("resolve" as const), a: idx, permille })),
  weighted(2, fc.record({ kind: fc.constant("time" as const), seconds: fc.integer({ min: 1, max: 2_500 }) })),
  weighted(2, fc.record({ kind: fc.constant("settle" as const), a: idx })),
  weighted(1, fc.record({ kind: fc.constant("blacklistSeller" as const), on: fc.boolean() })),
  weighted(
    1,
    fc.record({
      kind: fc.constant("withdraw" as const),
      who: fc.constantFrom<Role>("buyer", "seller", "feeRecipient"),
    }),
  ),
);

let f: EscrowFixture;
let baseline: Hex;
let templates: Terms[];
beforeAll(async () => {
  f = await escrowFixture("base");
  await f.token().mint(f.accounts.buyer.address, 10_000_000_000n);
  templates = [];
  for (let i = 0; i < AGREEMENTS; i++)
    templates.push(await f.terms({ challengeWindow: 1_800, resolutionWindow: 1_800 }));
  baseline = await f.local.dev.testClient.snapshot();
});
afterAll(async () => f?.close());

const escrowCall = (functionName: string, args: readonly unknown[]) => ({
  address: f.escrow,
  abi: agentEscrowAbi,
  functionName,
  args,
});
const read = <T>(functionName: string, args: readonly unknown[]) =>
  f.publicClient.readContract({ address: f.escrow, abi: agentEscrowAbi, functionName, args } as never) as Promise<T>;
type View = { status: number; deposit: bigint; recordedUsage: bigint; acknowledgedUsage: bigint };

interface Ledger {
  deposits: bigint[];
  settledOut: bigint[]; // toSeller + fee + refund reported at settlement
  lastUsage: bigint[];
}

/** Successful and refused calls per function, reported at the end so a run shows what it exercised. */
const tally = new Map<string, { ok: number; refused: number }>();
/** Events and situations the run must have reached (late records per status, skipped entries, ...). */
const reached = new Map<string, number>();
const reach = (what: string) => reached.set(what, (reached.get(what) ?? 0) + 1);
/** Whether the token currently blacklists the seller. */
let sellerBlacklisted = false;

async function attempt(
  from: Role,
  call: ReturnType<typeof escrowCall>,
  ledger: Ledger,
  terms: Terms[],
): Promise<boolean> {
  const count = tally.get(call.functionName) ?? { ok: 0, refused: 0 };
  tally.set(call.functionName, count);
  let hash: Hex;
  try {
    hash = (await f.write(from, call)).hash;
  } catch (error) {
    if (process.env.PROPERTY_DEBUG)
      process.stderr.write(`${call.functionName}: ${(error as Error).message.split("\n").slice(0, 3).join(" | ")}\n`);
    count.refused++;
    return false; // a refusal; the invariants check that it changed nothing
  }
  count.ok++;
  // A frozen balance never leaves the escrow, and no agreement starts with a frozen seller.
  if (sellerBlacklisted) {
    expect(call.functionName === "withdraw" && from === "seller").toBe(false);
    expect(call.functionName === "activate").toBe(false);
  }
  const logs = parseEventLogs({
    abi: agentEscrowAbi,
    logs: (await f.publicClient.getTransactionReceipt({ hash })).logs,
  });
  for (const log of logs) {
    const i = terms.findIndex((t) => agreementId(t, f.escrowDomain()) === (log.args as { id?: Hex }).id);
    if (log.eventName === "AgreementActivated" && i >= 0)
      ledger.deposits[i] = (ledger.deposits[i] ?? 0n) + log.args.deposit;
    if (log.eventName === "DepositIncreased" && i >= 0)
      ledger.deposits[i] = (ledger.deposits[i] ?? 0n) + log.args.amount;
    if (log.eventName === "AgreementSettled" && i >= 0) {
      ledger.settledOut[i] = log.args.toSeller + log.args.fee + log.args.refund;
    }
    if (log.eventName === "LateUsageRecorded")
      reach(`late record while ${log.args.status === 3 ? "challenged" : "completed"}`);
    if (log.eventName === "UsageEntrySkipped") reach(`batch entry skipped (status ${log.args.status})`);
    if (log.eventName === "AgreementClosed") reach(`closed from status ${log.args.previousStatus}`);
  }
  return true;
}

async function apply(step: Action, ledger: Ledger, terms: Terms[]): Promise<void> {
  const t = terms[("a" in step ? step.a : 0) as number] as Terms;
  const id = agreementId(t, f.escrowDomain());
  const packed = encodeTerms(t);
  const deposit = async () => (await read<View>("getAgreement", [packed])).deposit;
  switch (step.kind) {
    case "activate": {
      // The deposit is part of the terms: vary it by re-deriving the agreement's terms before activation.
      const v = await read<View>("getAgreement", [packed]);
      if (v.status === 0) terms[step.a] = { ...t, deposit: step.deposit };
      const next = terms[step.a] as Terms;
      const activated = await attempt(
        "relayer",
        escrowCall("activate", [encodeActivation(next, await f.fundingAuth(next))]),
        ledger,
        terms,
      );
      if (sellerBlacklisted && !activated && v.status === 0) reach("activation refused: seller blacklisted");
      return;
    }
    case "topUp": {
      const salt = keccak256(toHex(`${id}-${step.amount}-${Math.random()}`));
      const auth = await f.fundingAuth(t, { value: step.amount, nonce: topUpNonce(id, salt) });
      await attempt("relayer", escrowCall("topUp", [packed, step.amount, salt, auth]), ledger, terms);
      return;
    }
    case "record": {
      const usage = ((await deposit()) * BigInt(step.permille)) / 1_000n;
      const e = { id, cumulativeUsage: usage, complete: step.complete, logRef: keccak256(toHex(step.permille)) };
      await attempt("recorder", escrowCall("recordUsageBatch", [[e]]), ledger, terms);
      return;
    }
    case "lateRecord": {
      const usage = ((await deposit()) * BigInt(step.permille)) / 1_000n;
      await attempt(
        "recorder",
        escrowCall("recordLateUsage", [packed, usage, keccak256(toHex(step.permille))]),
        ledger,
        terms,
      );
      return;
    }
    case "voucher": {
      const usage = ((await deposit()) * BigInt(step.permille)) / 1_000n;
      const sig = await signUsageVoucher(f.accounts.buyer, f.escrowDomain(), {
        agreementId: id,
        cumulativeUsage: usage,
      });
      await attempt("other", escrowCall("submitUsageVoucher", [packed, usage, sig]), ledger, terms);
      return;
    }
    case "close": {
      const usage = ((await deposit()) * BigInt(step.permille)) / 1_000n;
      const deadline = (await f.now()) + 3_600;
      const sig = await signFinalUsage(f.accounts.buyer, f.escrowDomain(), { agreementId: id, usage, deadline });
      await attempt(step.by, escrowCall("closeWithFinalVoucher", [packed, usage, deadline, sig]), ledger, terms);
      return;
    }
    case "complete":
      await attempt(step.by, escrowCall("complete", [packed]), ledger, terms);
      return;
    case "challenge":
      await attempt("buyer", escrowCall("challenge", [packed]), ledger, terms);
      return;
    case "resolve": {
      const v = await read<View>("getAgreement", [packed]);
      const usage = v.acknowledgedUsage + ((v.recordedUsage - v.acknowledgedUsage) * BigInt(step.permille)) / 1_000n;
      await attempt("arbiter", escrowCall("resolve", [packed, usage]), ledger, terms);
      return;
    }
    case "time":
      await f.increaseTime(step.seconds);
      return;
    case "settle":
      await attempt("other", escrowCall("settle", [packed]), ledger, terms);
      return;
    case "blacklistSeller":
      await (step.on
        ? f.token().blacklist(f.accounts.seller.address)
        : f.token().unBlacklist(f.accounts.seller.address));
      sellerBlacklisted = step.on;
      return;
    case "withdraw":
      await attempt(
        step.who,
        escrowCall("withdraw", [f.tokenInfo().address, f.accounts[step.who].address]),
        ledger,
        terms,
      );
      return;
  }
}

async function checkInvariants(ledger: Ledger, terms: Terms[]): Promise<void> {
  const token = f.tokenInfo().address;
  const views = await Promise.all(terms.map((t) => read<View>("getAgreement", [encodeTerms(t)])));
  let open = 0n;
  for (const [i, v] of views.entries()) {
    const deposits = ledger.deposits[i] ?? 0n;
    // The escrow's view of the deposit matches everything that was paid in.
    expect(v.deposit).toBe(deposits);
    expect(v.acknowledgedUsage <= v.recordedUsage || v.status >= 4).toBe(true);
    expect(v.recordedUsage <= v.deposit).toBe(true);
    // Usage is monotonic until a resolution fixes it.
    if (v.status >= 1 && v.status <= 3) expect(v.recordedUsage >= (ledger.lastUsage[i] ?? 0n)).toBe(true);
    // Active, completed, challenged and resolved agreements still hold their deposit.
    if (v.status >= 1 && v.status <= 4) open += v.deposit;
    ledger.lastUsage[i] = v.recordedUsage;
    // Paid to seller + fees + refunded (incl. deferred payouts) = deposits.
    if (v.status === 5) expect(ledger.settledOut[i]).toBe(deposits);
  }
  const roles: Role[] = ["buyer", "seller", "feeRecipient"];
  const withdrawable = (
    await Promise.all(roles.map((r) => read<bigint>("withdrawable", [token, f.accounts[r].address])))
  ).reduce((s, x) => s + x, 0n);
  const held = (await read<{ held: bigint }>("tokenConfig", [token])).held;
  expect(held).toBe(open + withdrawable);
  // The token balance covers every open obligation, exactly (no stray funds in these runs).
  expect(await f.token().balanceOf(f.escrow)).toBe(held);
}

/** Drive everything to the end: complete, wait out every window, settle, withdraw. */
async function drain(ledger: Ledger, terms: Terms[]): Promise<void> {
  await f.token().unBlacklist(f.accounts.seller.address);
  sellerBlacklisted = false;
  await f.increaseTime(2 * 86_400);
  for (const t of terms) {
    const v = await read<View>("getAgreement", [encodeTerms(t)]);
    if (v.status === 1) await attempt("other", escrowCall("complete", [encodeTerms(t)]), ledger, terms);
  }
  await f.increaseTime(3_601);
  for (const t of terms) {
    const v = await read<View>("getAgreement", [encodeTerms(t)]);
    if (v.status >= 2 && v.status <= 4) {
      expect(await attempt("other", escrowCall("settle", [encodeTerms(t)]), ledger, terms)).toBe(true);
    }
  }
  for (const who of ["buyer", "seller", "feeRecipient"] as Role[]) {
    const amount = await read<bigint>("withdrawable", [f.tokenInfo().address, f.accounts[who].address]);
    if (amount > 0n) {
      expect(
        await attempt(who, escrowCall("withdraw", [f.tokenInfo().address, f.accounts[who].address]), ledger, terms),
      ).toBe(true);
    }
  }
  await checkInvariants(ledger, terms);
  expect(await f.token().balanceOf(f.escrow)).toBe(0n);
}

it(
  `holds the accounting invariants over ${RUNS} random action sequences and never strands funds`,
  async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("none", "active", "disputed", "cut off"),
        fc.array(action, { minLength: 1, maxLength: 20 }),
        async (opening, random) => {
          // Openings put agreements in states the random steps would rarely reach by themselves:
          // "disputed" after the recorder completed, "cut off" after the buyer completed and
          // challenged at once with usage still unrecorded.
          const openings: Record<string, Action[]> = {
            none: [],
            active: [],
            disputed: [
              { kind: "record", a: 0, permille: 600, complete: true },
              { kind: "challenge", a: 0 },
            ],
            "cut off": [
              { kind: "record", a: 0, permille: 400, complete: false },
              { kind: "complete", a: 0, by: "buyer" },
              { kind: "challenge", a: 0 },
            ],
          };
          const prefix: Action[] =
            opening === "none"
              ? []
              : [
                  { kind: "activate", a: 0, deposit: 100_000_000n },
                  { kind: "activate", a: 1, deposit: 7n },
                  ...(openings[opening] ?? []),
                ];
          const steps = [...prefix, ...random];
          runs++;
          await f.local.dev.testClient.revert({ id: baseline });
          sellerBlacklisted = false;
          baseline = await f.local.dev.testClient.snapshot();
          const terms = templates.map((t) => ({ ...t }));
          const ledger: Ledger = { deposits: [], settledOut: [], lastUsage: [] };
          for (const step of steps) {
            await apply(step, ledger, terms);
            await checkInvariants(ledger, terms);
          }
          await drain(ledger, terms);
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    expect(runs).toBe(RUNS);
    process.stderr.write(
      `[properties] ${RUNS} sequences, seed ${SEED}; calls (ok/refused): ${JSON.stringify(Object.fromEntries(tally))}\n`,
    );
    // Every kind of step must have succeeded at least once, or the run did not exercise it.
    for (const fn of [
      "activate",
      "topUp",
      "recordUsageBatch",
      "submitUsageVoucher",
      "complete",
      "challenge",
      "resolve",
      "recordLateUsage",
      "closeWithFinalVoucher",
      "settle",
      "withdraw",
    ]) {
      expect(tally.get(fn)?.ok ?? 0, fn).toBeGreaterThan(0);
    }
    process.stderr.write(`[properties] reached: ${JSON.stringify(Object.fromEntries(reached))}\n`);
    for (const what of [
      "late record while completed",
      "late record while challenged",
      "batch entry skipped (status 1)",
      "closed from status 1",
      "activation refused: seller blacklisted",
    ]) {
      expect(reached.get(what) ?? 0, what).toBeGreaterThan(0);
    }
  },
  Math.max(900_000, RUNS * 500),
);
