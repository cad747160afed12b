// Gas and calldata benchmark (not a test): runs every escrow step and the direct payment against
// Circle's real FiatToken on the in-process Base chain (chain id 8453) and prints, per step, the
// transaction's total gas and calldata bytes, next to the floor of a bare USDC transfer. Writes
// the figures to gas-report.json so changes can be compared.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Hex } from "viem";
import { agentEscrowAbi, directPaymentAbi, fiatTokenAbi } from "../src/abi/index.ts";
import {
  type Authorization,
  agreementId,
  directPaymentFeePermitDeadline,
  encodeActivation,
  encodeTerms,
  signAuthorization,
  signFinalUsage,
  signUsageVoucher,
} from "../src/eip712/index.ts";
import { escrowFixture, FAR_FUTURE } from "../test/support/escrow-fixture.ts";

type Row = { step: string; gas: number; calldataBytes: number; note?: string };
const rows: Row[] = [];
const record = (step: string, r: { gasUsed: bigint; calldataBytes: number }, note?: string) => {
  rows.push({ step, gas: Number(r.gasUsed), calldataBytes: r.calldataBytes, ...(note ? { note } : {}) });
};

const f = await escrowFixture("base");
try {
  const { accounts, escrow } = f;
  const usdc = f.tokenInfo("USDC");
  const token = f.token("USDC");
  // Steady state: every party already holds USDC, the escrow holds other agreements' deposits,
  // and the recorder has been seen before.
  for (const who of [accounts.buyer, accounts.seller, accounts.feeRecipient, accounts.other]) {
    await token.mint(who.address, 1_000_000_000_000n);
  }
  await f.activate(await f.terms());

  const escrowCall = (functionName: string, args: readonly unknown[]) => ({
    address: escrow,
    abi: agentEscrowAbi,
    functionName,
    args,
  });

  // --- floor: bare token operations -------------------------------------------------------
  {
    const message: Authorization = {
      from: accounts.buyer.address,
      to: accounts.seller.address,
      value: 100_000_000n,
      validAfter: 0n,
      validBefore: FAR_FUTURE,
      nonce: `0x${"11".repeat(32)}` as Hex,
    };
    const signature = await signAuthorization(accounts.buyer, f.tokenDomain(), message);
    record(
      "floor: USDC transferWithAuthorization",
      await f.write("relayer", {
        address: usdc.address,
        abi: fiatTokenAbi,
        functionName: "transferWithAuthorization",
        args: [
          message.from,
          message.to,
          message.value,
          message.validAfter,
          message.validBefore,
          message.nonce,
          signature,
        ],
      }),
    );
    const permit = await f.feePermit(accounts.buyer, 100_000_000n, { spender: accounts.other.address });
    const p = await f.write("relayer", {
      address: usdc.address,
      abi: fiatTokenAbi,
      functionName: "permit",
      args: [accounts.buyer.address, accounts.other.address, permit.value, permit.deadline, permit.signature],
    });
    const t = await f.write("other", {
      address: usdc.address,
      abi: fiatTokenAbi,
      functionName: "transferFrom",
      args: [accounts.buyer.address, accounts.seller.address, 100_000_000n],
    });
    record("floor: USDC permit + transferFrom (2 tx)", {
      gasUsed: p.gasUsed + t.gasUsed,
      calldataBytes: p.calldataBytes + t.calldataBytes,
    });
  }

  // --- activation ------------------------------------------------------------------------
  {
    const terms = await f.terms();
    const auth = await f.fundingAuth(terms);
    record(
      "activate (ReceiveWithAuthorization)",
      await f.write("relayer", escrowCall("activate", [encodeActivation(terms, auth)])),
    );
  }
  {
    const terms = await f.terms({ upfrontFee: 2_000_000n });
    const auth = await f.fundingAuth(terms);
    const permit = await f.feePermit(accounts.buyer, terms.upfrontFee);
    record(
      "activateWithFeePermit (deposit + upfront fee)",
      await f.write("relayer", escrowCall("activateWithFeePermit", [encodeActivation(terms, auth), permit])),
    );
  }

  // --- usage -------------------------------------------------------------------------------
  const entry = (id: Hex, usage: bigint, complete = false) => ({
    id,
    cumulativeUsage: usage,
    complete,
    logRef: `0x${"ab".repeat(32)}` as Hex,
  });
  {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await f.write("recorder", escrowCall("recordUsage", [entry(id, 1_000_000n)]));
    record("recordUsage (single)", await f.write("recorder", escrowCall("recordUsage", [entry(id, 2_000_000n)])));
  }
  const batchGas = new Map<number, number>();
  for (const n of [10, 100]) {
    const ids: Hex[] = [];
    for (let i = 0; i < n; i++) ids.push(await f.activate(await f.terms()));
    // First record on each agreement, so the measured batch updates existing usage (steady state).
    await f.write("recorder", escrowCall("recordUsageBatch", [ids.map((id) => entry(id, 1_000_000n))]));
    const r = await f.write("recorder", escrowCall("recordUsageBatch", [ids.map((id) => entry(id, 2_000_000n))]));
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
    const terms = await f.terms();
    const id = await f.activate(terms);
    await f.write("recorder", escrowCall("recordUsage", [entry(id, 50_000_000n)]));
    const signature = await signUsageVoucher(accounts.buyer, f.escrowDomain(), {
      agreementId: id,
      cumulativeUsage: 40_000_000n,
    });
    record(
      "submitUsageVoucher",
      await f.write("relayer", escrowCall("submitUsageVoucher", [encodeTerms(terms), 40_000_000n, signature])),
    );
    record("complete (by seller)", await f.write("seller", escrowCall("complete", [encodeTerms(terms)])));
    const c = await f.write("buyer", escrowCall("challenge", [encodeTerms(terms)]));
    const r = await f.write("arbiter", escrowCall("resolve", [encodeTerms(terms), 45_000_000n]));
    record("challenge", c);
    record("resolve", r);
    record(
      "settle (after resolution; fee credit starts at zero)",
      await f.write("other", escrowCall("settle", [encodeTerms(terms)])),
    );
  }
  {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await f.write("recorder", escrowCall("recordUsage", [entry(id, 60_000_000n, true)]));
    await f.increaseTime(terms.challengeWindow);
    record(
      "settle (seller, fee recipient, buyer paid)",
      await f.write("other", escrowCall("settle", [encodeTerms(terms)])),
    );
  }
  {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await f.write("recorder", escrowCall("recordUsage", [entry(id, 60_000_000n, true)]));
    await f.increaseTime(terms.challengeWindow);
    await token.blacklist(accounts.seller.address);
    record(
      "settle (seller blacklisted: payout deferred)",
      await f.write("other", escrowCall("settle", [encodeTerms(terms)])),
    );
    // A frozen balance stays frozen until the issuer lifts the blacklisting.
    await token.unBlacklist(accounts.seller.address);
    record(
      "withdraw (deferred payout to another address)",
      await f.write("seller", escrowCall("withdraw", [usdc.address, accounts.other.address])),
    );
  }

  // --- direct payment -------------------------------------------------------------------------
  {
    const amount = 5_000_000n;
    const fee = await f.publicClient.readContract({
      address: f.direct,
      abi: directPaymentAbi,
      functionName: "quoteFee",
      args: [usdc.address, amount],
    });
    const message: Authorization = {
      from: accounts.buyer.address,
      to: accounts.seller.address,
      value: amount,
      validAfter: 0n,
      validBefore: FAR_FUTURE,
      nonce: `0x${"22".repeat(32)}` as Hex,
    };
    const signature = await signAuthorization(accounts.buyer, f.tokenDomain(), message);
    const signedPermit = await f.feePermit(accounts.buyer, fee, {
      spender: f.direct,
      deadline: directPaymentFeePermitDeadline(message.nonce),
    });
    const permit = { value: signedPermit.value, signature: signedPermit.signature };
    record(
      "direct payment (fee permit + x402 transfer)",
      await f.write("relayer", {
        address: f.direct,
        abi: directPaymentAbi,
        functionName: "pay",
        args: [
          {
            token: usdc.address,
            buyer: message.from,
            seller: message.to,
            amount,
            validAfter: message.validAfter,
            validBefore: message.validBefore,
            nonce: message.nonce,
            signature,
          },
          permit,
        ],
      }),
    );
  }

  // --- one whole lifecycle: deposit 100, usage 60 recorded in a batch, complete, settle -------
  const lifecycle = async (separateComplete: boolean) => {
    const terms = await f.terms();
    const auth = await f.fundingAuth(terms);
    const steps = [await f.write("relayer", escrowCall("activate", [encodeActivation(terms, auth)]))];
    const id = (await f.publicClient.readContract({
      address: escrow,
      abi: agentEscrowAbi,
      functionName: "agreementId",
      args: [encodeTerms(terms)],
    })) as Hex;
    steps.push(
      await f.write("recorder", escrowCall("recordUsageBatch", [[entry(id, 60_000_000n, !separateComplete)]])),
    );
    if (separateComplete) steps.push(await f.write("recorder", escrowCall("complete", [encodeTerms(terms)])));
    await f.increaseTime(terms.challengeWindow);
    const sellerBefore = await token.balanceOf(accounts.seller.address);
    steps.push(await f.write("other", escrowCall("settle", [encodeTerms(terms)])));
    const sellerGot = (await token.balanceOf(accounts.seller.address)) - sellerBefore;
    return {
      gas: steps.reduce((s, x) => s + Number(x.gasUsed), 0),
      calldataBytes: steps.reduce((s, x) => s + x.calldataBytes, 0),
      transactions: steps.length,
      sellerGot,
    };
  };
  // The cooperative close: activate, then the seller submits the buyer's final voucher for 60.
  const cooperative = async () => {
    const terms = await f.terms();
    const auth = await f.fundingAuth(terms);
    const activation = await f.write("relayer", escrowCall("activate", [encodeActivation(terms, auth)]));
    const id = agreementId(terms, f.escrowDomain());
    const deadline = (await f.now()) + 3_600;
    const signature = await signFinalUsage(accounts.buyer, f.escrowDomain(), {
      agreementId: id,
      usage: 60_000_000n,
      deadline,
    });
    const sellerBefore = await token.balanceOf(accounts.seller.address);
    const buyerBefore = await token.balanceOf(accounts.buyer.address);
    const close = await f.write(
      "seller",
      escrowCall("closeWithFinalVoucher", [encodeTerms(terms), 60_000_000n, deadline, signature]),
    );
    return {
      close,
      gas: Number(activation.gasUsed + close.gasUsed),
      calldataBytes: activation.calldataBytes + close.calldataBytes,
      sellerGot: (await token.balanceOf(accounts.seller.address)) - sellerBefore,
      buyerGot: (await token.balanceOf(accounts.buyer.address)) - buyerBefore,
    };
  };
  const coop = await cooperative();
  record("closeWithFinalVoucher (seller paid, fee credited, buyer refunded)", coop.close);

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
  const out = process.env.GAS_REPORT ?? "gas-report.json";
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
  const targets: { what: string; value: number | undefined; below: number }[] = [
    {
      what: "cooperative lifecycle gas",
      value: row("lifecycle: activate 100 + cooperative close at 60 (final voucher)")?.gas,
      below: 227_000,
    },
    {
      what: "cooperative lifecycle calldata bytes",
      value: row("lifecycle: activate 100 + cooperative close at 60 (final voucher)")?.calldataBytes,
      below: 1_100,
    },
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
