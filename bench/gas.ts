// Gas and calldata benchmark (not a test): runs every escrow step and the direct payment against
// Circle's real FiatToken on the in-process Base chain (chain id 8453) through the package's typed
// actions, and prints, per step, the transaction's total gas and calldata bytes next to the floor
// of a bare USDC transfer and to the previous report. Writes bench/gas-report.json so runs can be
// compared row by row.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Hex } from "viem";
import { writeContract } from "viem/actions";
import { fiatTokenAbi } from "../src/abi/index.ts";
import {
  activate,
  activateWithFeePermit,
  challenge,
  closeWithFinalVoucher,
  complete,
  pay,
  recordUsage,
  recordUsageBatch,
  resolve,
  settle,
  submitUsageVoucher,
  transferWithAuthorization,
  type UsageRecord,
  withdraw,
} from "../src/actions/index.ts";
import {
  type AgreementRef,
  type Authorization,
  agreementRef,
  directPaymentFeePermitDeadline,
  signAuthorization,
  signFinalUsage,
  signUsageVoucher,
  type Terms,
} from "../src/eip712/index.ts";
import { directPaymentFee } from "../src/fees.ts";
import { escrowFixture, FAR_FUTURE } from "../test/support/escrow-fixture.ts";

type Row = { step: string; gas: number; calldataBytes: number; note?: string };
type Measured = { gasUsed: bigint; calldataBytes: number };
const rows: Row[] = [];
const record = (step: string, r: Measured, note?: string) => {
  rows.push({ step, gas: Number(r.gasUsed), calldataBytes: r.calldataBytes, ...(note ? { note } : {}) });
};

const f = await escrowFixture("base");
/** Gas and calldata bytes of a write. */
const measure = async (write: Promise<{ hash: Hex; receipt: { gasUsed: bigint } }>): Promise<Measured> => {
  const { hash, receipt } = await write;
  const tx = await f.publicClient.getTransaction({ hash });
  return { gasUsed: receipt.gasUsed, calldataBytes: (tx.input.length - 2) / 2 };
};
const sum = (parts: readonly Measured[]) => ({
  gas: parts.reduce((s, x) => s + Number(x.gasUsed), 0),
  calldataBytes: parts.reduce((s, x) => s + x.calldataBytes, 0),
});

try {
  const { accounts, escrow } = f;
  const usdc = f.tokenInfo("USDC");
  const token = f.token("USDC");
  const relayer = f.wallet("relayer");
  const recorder = f.wallet("recorder");
  // Steady state: every party already holds USDC and the escrow holds other agreements' deposits.
  for (const who of [accounts.buyer, accounts.seller, accounts.feeRecipient, accounts.other]) {
    await token.mint(who.address, 1_000_000_000_000n);
  }
  await f.activate(await f.terms());
  const ref = (terms: Terms): AgreementRef => agreementRef(terms, f.escrowDomain());
  /** A new active agreement with default terms (100 USDC). */
  const activeAgreement = async (overrides: Partial<Terms> = {}) => {
    const terms = await f.terms(overrides);
    await f.activate(terms);
    return ref(terms);
  };
  const usage = (agreement: AgreementRef, cumulativeUsage: bigint, complete = false): UsageRecord => ({
    agreementId: agreement.id,
    cumulativeUsage,
    complete,
    logRef: `0x${"ab".repeat(32)}`,
  });

  // --- floor: bare token operations -------------------------------------------------------
  {
    const message: Authorization = {
      from: accounts.buyer.address,
      to: accounts.seller.address,
      value: 100_000_000n,
      validAfter: 0n,
      validBefore: FAR_FUTURE,
      nonce: `0x${"11".repeat(32)}`,
    };
    const signature = await signAuthorization(accounts.buyer, f.tokenDomain(), message);
    record(
      "floor: USDC transferWithAuthorization",
      await measure(transferWithAuthorization(relayer, usdc.address, message, signature)),
    );
    // permit + transferFrom: the two-transaction baseline (a spender other than our contracts).
    const permit = await f.feePermit(accounts.buyer, 100_000_000n, { spender: accounts.other.address });
    const other = f.wallet("other");
    const p = await measure(
      (async () => {
        const hash = await writeContract(relayer, {
          address: usdc.address,
          abi: fiatTokenAbi,
          functionName: "permit",
          args: [accounts.buyer.address, accounts.other.address, permit.value, permit.deadline, permit.signature],
          account: accounts.relayer.address,
          chain: relayer.chain,
        });
        return { hash, receipt: await f.publicClient.waitForTransactionReceipt({ hash }) };
      })(),
    );
    const t = await measure(
      (async () => {
        const hash = await writeContract(other, {
          address: usdc.address,
          abi: fiatTokenAbi,
          functionName: "transferFrom",
          args: [accounts.buyer.address, accounts.seller.address, 100_000_000n],
          account: accounts.other.address,
          chain: other.chain,
        });
        return { hash, receipt: await f.publicClient.waitForTransactionReceipt({ hash }) };
      })(),
    );
    const both = sum([p, t]);
    rows.push({ step: "floor: USDC permit + transferFrom (2 tx)", ...both });
  }

  // --- activation ------------------------------------------------------------------------
  {
    const terms = await f.terms();
    record(
      "activate (ReceiveWithAuthorization)",
      await measure(activate(relayer, ref(terms), await f.fundingAuth(terms))),
    );
  }
  {
    const terms = await f.terms({ upfrontFee: 2_000_000n });
    const permit = await f.feePermit(accounts.buyer, terms.upfrontFee);
    record(
      "activateWithFeePermit (deposit + upfront fee)",
      await measure(activateWithFeePermit(relayer, ref(terms), await f.fundingAuth(terms), permit)),
    );
  }

  // --- usage -------------------------------------------------------------------------------
  {
    const agreement = await activeAgreement();
    await recordUsage(recorder, escrow, usage(agreement, 1_000_000n));
    record("recordUsage (single)", await measure(recordUsage(recorder, escrow, usage(agreement, 2_000_000n))));
  }
  const batchGas = new Map<number, number>();
  for (const n of [10, 100]) {
    const agreements: AgreementRef[] = [];
    for (let i = 0; i < n; i++) agreements.push(await activeAgreement());
    // First record on each agreement, so the measured batch updates existing usage (steady state).
    await recordUsageBatch(
      recorder,
      escrow,
      agreements.map((a) => usage(a, 1_000_000n)),
    );
    const r = await measure(
      recordUsageBatch(
        recorder,
        escrow,
        agreements.map((a) => usage(a, 2_000_000n)),
      ),
    );
    record(`recordUsageBatch (${n} entries)`, r);
    batchGas.set(n, Number(r.gasUsed));
    rows.push({
      step: `recordUsageBatch: per entry of ${n}`,
      gas: Math.round(Number(r.gasUsed) / n),
      calldataBytes: Math.round(r.calldataBytes / n),
      note: "total / n",
    });
  }
  rows.push({
    step: "recordUsageBatch: marginal entry (100 vs 10)",
    gas: Math.round(((batchGas.get(100) ?? 0) - (batchGas.get(10) ?? 0)) / 90),
    calldataBytes: 128,
    note: "(gas(100) - gas(10)) / 90",
  });

  // --- voucher, complete, challenge + resolve, settle, withdraw ------------------------------
  {
    const agreement = await activeAgreement();
    await recordUsage(recorder, escrow, usage(agreement, 50_000_000n));
    const signature = await signUsageVoucher(accounts.buyer, agreement, {
      agreementId: agreement.id,
      cumulativeUsage: 40_000_000n,
    });
    record("submitUsageVoucher", await measure(submitUsageVoucher(relayer, agreement, 40_000_000n, signature)));
    record("complete (by seller)", await measure(complete(f.wallet("seller"), agreement)));
    const c = await measure(challenge(f.wallet("buyer"), agreement));
    const r = await measure(resolve(f.wallet("arbiter"), agreement, 45_000_000n));
    record("challenge", c);
    record("resolve", r);
    record("settle (after resolution; fee credit starts at zero)", await measure(settle(f.wallet("other"), agreement)));
  }
  {
    const agreement = await activeAgreement();
    await recordUsage(recorder, escrow, usage(agreement, 60_000_000n, true));
    await f.increaseTime(agreement.terms.challengeWindow);
    record("settle (seller, fee recipient, buyer paid)", await measure(settle(f.wallet("other"), agreement)));
  }
  {
    const agreement = await activeAgreement();
    await recordUsage(recorder, escrow, usage(agreement, 60_000_000n, true));
    await f.increaseTime(agreement.terms.challengeWindow);
    await token.blacklist(accounts.seller.address);
    record("settle (seller blacklisted: payout deferred)", await measure(settle(f.wallet("other"), agreement)));
    // A frozen balance stays frozen until the issuer lifts the blacklisting.
    await token.unBlacklist(accounts.seller.address);
    record(
      "withdraw (deferred payout to another address)",
      await measure(withdraw(f.wallet("seller"), escrow, usdc.address, accounts.other.address)),
    );
  }

  // --- direct payment -------------------------------------------------------------------------
  {
    const amount = 5_000_000n;
    const fee = directPaymentFee(amount);
    const message: Authorization = {
      from: accounts.buyer.address,
      to: accounts.seller.address,
      value: amount,
      validAfter: 0n,
      validBefore: FAR_FUTURE,
      nonce: `0x${"22".repeat(32)}`,
    };
    const signature = await signAuthorization(accounts.buyer, f.tokenDomain(), message);
    const permit = await f.feePermit(accounts.buyer, fee, {
      spender: f.direct,
      deadline: directPaymentFeePermitDeadline(message.nonce),
    });
    record(
      "direct payment (fee permit + x402 transfer)",
      await measure(
        pay(relayer, f.direct, {
          token: usdc.address,
          buyer: message.from,
          seller: message.to,
          amount,
          validAfter: message.validAfter,
          validBefore: message.validBefore,
          nonce: message.nonce,
          signature,
          feePermit: { value: permit.value, signature: permit.signature },
        }),
      ),
    );
  }

  // --- the cooperative close: activate, then the seller submits the buyer's final voucher -----
  const cooperative = async () => {
    const terms = await f.terms();
    const agreement = ref(terms);
    const activation = await measure(activate(relayer, agreement, await f.fundingAuth(terms)));
    const deadline = (await f.now()) + 3_600;
    const signature = await signFinalUsage(accounts.buyer, agreement, {
      agreementId: agreement.id,
      usage: 60_000_000n,
      deadline,
    });
    const sellerBefore = await token.balanceOf(accounts.seller.address);
    const buyerBefore = await token.balanceOf(accounts.buyer.address);
    const close = await measure(
      closeWithFinalVoucher(f.wallet("seller"), agreement, { usage: 60_000_000n, deadline, signature }),
    );
    return {
      close,
      ...sum([activation, close]),
      sellerGot: (await token.balanceOf(accounts.seller.address)) - sellerBefore,
      buyerGot: (await token.balanceOf(accounts.buyer.address)) - buyerBefore,
    };
  };
  const coop = await cooperative();
  record("closeWithFinalVoucher (seller paid, fee credited, buyer refunded)", coop.close);

  // --- one whole lifecycle: deposit 100, usage 60 recorded in a batch, complete, settle -------
  const lifecycle = async (separateComplete: boolean) => {
    const terms = await f.terms();
    const agreement = ref(terms);
    const steps = [await measure(activate(relayer, agreement, await f.fundingAuth(terms)))];
    steps.push(await measure(recordUsageBatch(recorder, escrow, [usage(agreement, 60_000_000n, !separateComplete)])));
    if (separateComplete) steps.push(await measure(complete(recorder, agreement)));
    await f.increaseTime(terms.challengeWindow);
    const sellerBefore = await token.balanceOf(accounts.seller.address);
    steps.push(await measure(settle(f.wallet("other"), agreement)));
    const sellerGot = (await token.balanceOf(accounts.seller.address)) - sellerBefore;
    return { ...sum(steps), transactions: steps.length, sellerGot };
  };
  const merged = await lifecycle(false);
  const separate = await lifecycle(true);
  rows.push({
    step: "lifecycle: activate 100 + batch record 60 with complete + settle",
    gas: merged.gas,
    calldataBytes: merged.calldataBytes,
    note: `${merged.transactions} tx; seller received ${merged.sellerGot}`,
  });
  rows.push({
    step: "lifecycle: activate 100 + batch record 60 + complete + settle",
    gas: separate.gas,
    calldataBytes: separate.calldataBytes,
    note: `${separate.transactions} tx`,
  });
  rows.push({
    step: "lifecycle: activate 100 + cooperative close at 60 (final voucher)",
    gas: coop.gas,
    calldataBytes: coop.calldataBytes,
    note: `2 tx; seller received ${coop.sellerGot}, buyer refunded ${coop.buyerGot}`,
  });

  // Compare row by row with the report this run replaces (rows are matched by name).
  const out = process.env.GAS_REPORT ?? "bench/gas-report.json";
  const previous = new Map<string, Row>();
  if (existsSync(out)) {
    for (const r of (JSON.parse(readFileSync(out, "utf8")) as { rows: Row[] }).rows) previous.set(r.step, r);
  }
  const delta = (now: number, before: number | undefined) =>
    before === undefined ? "new" : now === before ? "=" : `${now > before ? "+" : ""}${now - before}`;
  const width = Math.max(...rows.map((r) => r.step.length));
  console.log(
    `\n${"step".padEnd(width)}  ${"gas".padStart(9)}  ${"Δgas".padStart(7)}  ${"calldata".padStart(8)}  ${"Δbytes".padStart(6)}`,
  );
  for (const r of rows) {
    const p = previous.get(r.step);
    console.log(
      `${r.step.padEnd(width)}  ${String(r.gas).padStart(9)}  ${delta(r.gas, p?.gas).padStart(7)}  ${String(r.calldataBytes).padStart(8)}  ${delta(r.calldataBytes, p?.calldataBytes).padStart(6)}${r.note ? `  ${r.note}` : ""}`,
    );
  }
  const gone = [...previous.keys()].filter((step) => !rows.some((r) => r.step === step));
  if (gone.length > 0) console.log(`\nrows no longer measured: ${gone.join("; ")}`);

  // Targets (docs/gas.md).
  const row = (step: string) => rows.find((r) => r.step === step);
  const cooperativeRow = row("lifecycle: activate 100 + cooperative close at 60 (final voucher)");
  const targets: { what: string; value: number | undefined; below: number }[] = [
    { what: "cooperative lifecycle gas", value: cooperativeRow?.gas, below: 227_000 },
    { what: "cooperative lifecycle calldata bytes", value: cooperativeRow?.calldataBytes, below: 1_100 },
    { what: "activation gas", value: row("activate (ReceiveWithAuthorization)")?.gas, below: 120_000 },
    { what: "settle gas", value: row("settle (seller, fee recipient, buyer paid)")?.gas, below: 100_000 },
    { what: "batched usage entry gas (of 100)", value: row("recordUsageBatch: per entry of 100")?.gas, below: 10_000 },
  ];
  console.log("\ntargets:");
  for (const t of targets) {
    const met = t.value !== undefined && t.value < t.below;
    console.log(`  ${t.what}: ${t.value} < ${t.below}: ${met ? "met" : `missed by ${(t.value ?? 0) - t.below + 1}`}`);
  }
  writeFileSync(
    out,
    `${JSON.stringify({ chain: "base (in-process, chain id 8453)", token: "USDC (FiatToken v2.2)", rows }, null, 2)}\n`,
  );
  console.log(`\nwrote ${out}`);
} finally {
  await f.close();
}
