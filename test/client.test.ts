// The client binding against the deployed escrow and direct-payment contracts on the Base-faithful
// chain with Circle's real USDC: the buyer verifies and signs an activation package locally, a
// relayer submits it, and every refusal happens before anything is signed.
import { createPublicClient, createWalletClient, custom, keccak256, toHex, verifyTypedData } from "viem";
import { base, optimism } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  challenge,
  complete,
  pay,
  previewSettlement,
  readAgreement,
  recordUsageBatch,
  settle,
  submitUsageVoucher,
  withdraw,
} from "../src/actions/index.ts";
import {
  buildDirectStablecoinAgreement,
  ClientError,
  type DirectPaymentRequirements,
  signActivation,
  signVoucher,
  submitActivation,
  verifyActivationPackage,
  waitForActive,
} from "../src/client/index.ts";
import { agreementRef, receiveWithAuthorizationTypes, type Terms } from "../src/eip712/index.ts";
import { directPaymentFee } from "../src/fees.ts";
import { type ActivationPackageJson, serializeActivationPackage } from "../src/wire/index.ts";
import { type EscrowFixture, escrowFixture } from "./support/escrow-fixture.ts";

let f: EscrowFixture;
beforeAll(async () => {
  f = await escrowFixture("base");
  await f.token().mint(f.accounts.buyer.address, 1_000_000_000n);
});
afterAll(async () => f?.close());

const ref = (terms: Terms) => agreementRef(terms, f.escrowDomain());
const toPackage = (terms: Terms, overrides: Partial<ActivationPackageJson> = {}): ActivationPackageJson => ({
  ...serializeActivationPackage({ agreement: ref(terms), upfrontFeePending: terms.upfrontFee > 0n }),
  ...overrides,
});
/** The package of `terms` on another chain (its id recomputed for that chain). */
const onChain = (terms: Terms, chainId: number): ActivationPackageJson =>
  serializeActivationPackage({
    agreement: agreementRef(terms, { chainId, escrow: f.escrow }),
    upfrontFeePending: false,
  });
const policy = () => ({
  buyer: f.accounts.buyer.address,
  escrow: f.escrow,
  chainId: f.chain.chainId,
  parties: {
    seller: f.accounts.seller.address,
    recorder: f.accounts.recorder.address,
    arbiter: f.accounts.arbiter.address,
  },
  maxDeposit: { USDC: 500_000_000n },
  maxUpfrontFee: { USDC: 5_000_000n },
});

describe("buyer: activation package", () => {
  it("verifies against registry and escrow, signs locally, and a relayer activates it", async () => {
    const terms = await f.terms({ upfrontFee: 2_000_000n });
    const verified = await verifyActivationPackage(toPackage(terms), policy(), f.publicClient);
    const signed = await signActivation(f.accounts.buyer, verified, {
      validBefore: BigInt((await f.now()) + 3_600),
      publicClient: f.publicClient,
    });
    expect(signed.feePermit?.value).toBe("2000000");
    // The receive form, which only the escrow can execute.
    expect(
      await verifyTypedData({
        address: terms.buyer,
        domain: { ...verified.tokenDomain },
        types: receiveWithAuthorizationTypes,
        primaryType: "ReceiveWithAuthorization",
        message: {
          from: terms.buyer,
          to: f.escrow,
          value: terms.deposit,
          validAfter: 0n,
          validBefore: BigInt(signed.fundingAuthorization.validBefore),
          nonce: verified.agreement.id,
        },
        signature: signed.fundingAuthorization.signature,
      }),
    ).toBe(true);
    // Outcome before the relayer acts: the backend still submitting without a transaction hash.
    let clock = 0;
    const stuck = await waitForActive({
      client: f.publicClient,
      agreement: verified.agreement,
      backendStatus: async () => ({ status: "submitting", activation_tx_hash: null }),
      timeoutMs: 3_000,
      pollMs: 1_000,
      sleep: async (ms) => {
        clock += ms;
      },
      now: () => clock,
    });
    expect(stuck).toEqual({ outcome: "stuck_submitting", waitedMs: 3_000 });
    const { events } = await submitActivation(f.wallet("relayer"), signed, f.escrowDomain());
    expect(events.map((e) => e.eventName)).toEqual(["AgreementActivated", "UpfrontFeePaid"]);
    const outcome = await waitForActive({ client: f.publicClient, agreement: verified.agreement, timeoutMs: 1_000 });
    expect(outcome.outcome).toBe("active");
    expect((await readAgreement(f.publicClient, verified.agreement)).deposit).toBe(terms.deposit);
    // The same body again: the token refuses the used authorization, with its reason.
    await expect(submitActivation(f.wallet("relayer"), signed, f.escrowDomain())).rejects.toMatchObject({
      code: "CONTRACT_REVERTED",
    });
  });

  it("reports a backend failure and a plain time-out distinctly", async () => {
    const terms = await f.terms();
    const base = { client: f.publicClient, agreement: ref(terms), sleep: async () => {} };
    expect(
      await waitForActive({ ...base, backendStatus: async () => ({ status: "failed", error: "relayer out of gas" }) }),
    ).toEqual({
      outcome: "failed",
      reason: "relayer out of gas",
    });
    let t = 0;
    const timedOut = await waitForActive({
      ...base,
      timeoutMs: 10,
      pollMs: 5,
      now: () => (t += 5),
      backendStatus: async () => ({ status: "submitting", activation_tx_hash: "0xabc" }),
    });
    expect(timedOut.outcome).toBe("timed_out");
  });

  const tampered: [string, (t: Terms) => Partial<ActivationPackageJson>, string][] = [
    ["another escrow", () => ({ escrow: "0x000000000000000000000000000000000000dEaD" }), "PACKAGE_MISMATCH"],
    ["an id that is not the hash of the terms", () => ({ agreementId: keccak256(toHex("other")) }), "PACKAGE_MISMATCH"],
    ["another buyer", (t) => toPackage({ ...t, buyer: f.accounts.other.address }), "SIGNER_MISMATCH"],
    ["a deposit above the cap", (t) => toPackage({ ...t, deposit: 500_000_001n }), "AMOUNT_ABOVE_CAP"],
    ["an upfront fee above the cap", (t) => toPackage({ ...t, upfrontFee: 5_000_001n }), "AMOUNT_ABOVE_CAP"],
    ["a pending fee the terms do not carry", () => ({ upfrontFeePending: true }), "PACKAGE_INVALID"],
    ["another seller", (t) => toPackage({ ...t, seller: f.accounts.other.address }), "PACKAGE_MISMATCH"],
    ["another recorder", (t) => toPackage({ ...t, recorder: f.accounts.other.address }), "PACKAGE_MISMATCH"],
    ["another arbiter", (t) => toPackage({ ...t, arbiter: f.accounts.other.address }), "PACKAGE_MISMATCH"],
    ["a challenge window too short to challenge", (t) => toPackage({ ...t, challengeWindow: 0 }), "TERMS_REFUSED"],
    ["the buyer as its own recorder", (t) => toPackage({ ...t, recorder: t.buyer }), "PACKAGE_MISMATCH"],
    ["another chain than the buyer expects", (t) => onChain(t, 10), "CHAIN_MISMATCH"],
    [
      "an id that is not the hash of the terms on its chain",
      (t) => ({ ...toPackage(t), chainId: 10 }),
      "PACKAGE_MISMATCH",
    ],
    [
      "a deposit that is not a decimal string",
      (t) => ({ terms: { ...toPackage(t).terms, deposit: "1e8" } }),
      "PACKAGE_INVALID",
    ],
  ];
  it.each(tampered)("refuses %s before signing", async (_label, change, code) => {
    const terms = await f.terms();
    const pkg = { ...toPackage(terms), ...change(terms) };
    const error = await verifyActivationPackage(pkg, policy(), f.publicClient).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).code).toBe(code);
  });

  it("refuses a service expiry that has passed", async () => {
    const terms = await f.terms({ serviceExpiry: (await f.now()) - 1 });
    await expect(verifyActivationPackage(toPackage(terms), policy(), f.publicClient)).rejects.toMatchObject({
      code: "TERMS_REFUSED",
    });
  });

  it("refuses a seller the token has blacklisted, before signing (the escrow would refuse it)", async () => {
    const terms = await f.terms();
    await f.token().blacklist(terms.seller);
    try {
      await expect(verifyActivationPackage(toPackage(terms), policy(), f.publicClient)).rejects.toMatchObject({
        code: "PARTY_BLACKLISTED",
        details: { role: "seller", account: terms.seller },
      });
    } finally {
      await f.token().unBlacklist(terms.seller);
    }
  });

  it("refuses a token outside the registry, an unknown chain and a wrong client chain", async () => {
    const terms = await f.terms();
    await expect(
      verifyActivationPackage(onChain(terms, 1), { ...policy(), chainId: 1 }, f.publicClient),
    ).rejects.toMatchObject({ code: "CHAIN_UNSUPPORTED" });
    await expect(
      verifyActivationPackage(
        toPackage({ ...terms, token: "0x0000000000000000000000000000000000000001" }),
        policy(),
        f.publicClient,
      ),
    ).rejects.toMatchObject({ code: "TOKEN_NOT_ALLOWED" });
  });

  it("refuses an agreement that is already active and a signer that is not the buyer", async () => {
    const terms = await f.terms();
    const verified = await verifyActivationPackage(toPackage(terms), policy(), f.publicClient);
    await expect(signActivation(f.accounts.other, verified, { validBefore: 2n ** 40n })).rejects.toMatchObject({
      code: "SIGNER_MISMATCH",
    });
    await f.activate(terms);
    await expect(verifyActivationPackage(toPackage(terms), policy(), f.publicClient)).rejects.toMatchObject({
      code: "AGREEMENT_EXISTS",
    });
  });
});

describe("recorder, seller and buyer operations", () => {
  it("records a batch, completes, challenges with a voucher below, settles and withdraws fees", async () => {
    const terms = await f.terms({ challengeWindow: 600 });
    const agreement = ref(terms);
    await f.activate(terms);
    const voucher = await signVoucher(f.accounts.buyer, agreement, 20_000_000n);
    await submitUsageVoucher(f.wallet("relayer"), agreement, 20_000_000n, voucher);
    await recordUsageBatch(f.wallet("recorder"), f.escrow, [
      { agreementId: agreement.id, cumulativeUsage: 30_000_000n, logRef: keccak256(toHex("log")) },
    ]);
    await complete(f.wallet("seller"), agreement);
    await challenge(f.wallet("buyer"), agreement);
    expect((await readAgreement(f.publicClient, agreement)).status).toBe("challenged");
    await f.increaseTime(terms.resolutionWindow);
    const preview = await previewSettlement(f.publicClient, agreement);
    expect(preview).toMatchObject({ settleableNow: true, byFallback: true, usage: 25_000_000n });
    const { events } = await settle(f.wallet("other"), agreement);
    expect(events.find((e) => e.eventName === "AgreementSettled")?.args).toMatchObject({
      usage: 25_000_000n,
      fee: preview.fee,
      byFallback: true,
    });
    expect((await readAgreement(f.publicClient, agreement)).status).toBe("settled");
    const before = await f.token().balanceOf(terms.feeRecipient);
    await withdraw(f.wallet("feeRecipient"), f.escrow, terms.token, terms.feeRecipient);
    expect((await f.token().balanceOf(terms.feeRecipient)) - before).toBeGreaterThanOrEqual(preview.fee);
  });
});

describe("direct payment builder", () => {
  const requirements = (amount: bigint, feeOverride?: string): DirectPaymentRequirements => ({
    accept: {
      scheme: "exact",
      network: "eip155:8453",
      amount: amount.toString(),
      asset: f.tokenInfo().address,
      payTo: f.accounts.seller.address,
      maxTimeoutSeconds: 300,
      extra: { name: "USD Coin", version: "2" },
    },
    fee: {
      amount: feeOverride ?? directPaymentFee(amount).toString(),
      bps: 200,
      fixedFee: "3000",
      minFee: "100000",
      spender: f.direct,
    },
  });

  it("signs the x402 payment and the fee permit in one call; the platform executes them", async () => {
    const agreement = await buildDirectStablecoinAgreement(f.accounts.buyer, requirements(5_000_000n), {
      maxAmount: 10_000_000n,
      directPayment: f.direct,
      publicClient: f.publicClient,
      nowSeconds: await f.now(),
    });
    expect(agreement.fee).toBe(103_000n);
    expect(agreement.body).toMatchObject({
      settlement_model: "direct_payment",
      amount: "5000000",
      pay_to: f.accounts.seller.address,
    });
    const seller = await f.token().balanceOf(f.accounts.seller.address);
    const fees = await f.token().balanceOf(f.accounts.feeRecipient.address);
    const { events } = await pay(f.wallet("relayer"), f.direct, agreement.order);
    expect(events.map((e) => e.eventName)).toEqual(["DirectPaymentExecuted"]);
    expect((await f.token().balanceOf(f.accounts.seller.address)) - seller).toBe(5_000_000n);
    expect((await f.token().balanceOf(f.accounts.feeRecipient.address)) - fees).toBe(103_000n);
  });

  it.each([
    ["a stated fee that is not the schedule's", () => requirements(5_000_000n, "1"), "FEE_MISMATCH"],
    ["an amount above the cap", () => requirements(10_000_001n), "AMOUNT_ABOVE_CAP"],
  ])("refuses %s before signing", async (_label, build, code) => {
    await expect(
      buildDirectStablecoinAgreement(f.accounts.buyer, build(), {
        maxAmount: 10_000_000n,
        directPayment: f.direct,
        permitNonce: 0n,
      }),
    ).rejects.toMatchObject({ code });
  });

  it("refuses a fee spender other than the DirectPayment contract, and a fee above the published schedule", async () => {
    const r = requirements(5_000_000n);
    const opts = { maxAmount: 10_000_000n, directPayment: f.direct, permitNonce: 0n };
    await expect(
      buildDirectStablecoinAgreement(
        f.accounts.buyer,
        { ...r, fee: { ...r.fee, spender: f.accounts.other.address } },
        opts,
      ),
    ).rejects.toMatchObject({ code: "PACKAGE_MISMATCH" });
    // A self-consistent but inflated schedule (3%) is refused against the published 2% + $0.003.
    const inflated = {
      ...r.fee,
      bps: 300,
      amount: directPaymentFee(5_000_000n, { bps: 300, fixedFee: 3_000n, minFee: 100_000n }).toString(),
    };
    await expect(buildDirectStablecoinAgreement(f.accounts.buyer, { ...r, fee: inflated }, opts)).rejects.toMatchObject(
      {
        code: "AMOUNT_ABOVE_CAP",
      },
    );
    // A schedule beyond the contract's hard caps is refused outright.
    const huge = { ...r.fee, bps: 0, fixedFee: "1000000000000", minFee: "0", amount: "1000000000000" };
    await expect(buildDirectStablecoinAgreement(f.accounts.buyer, { ...r, fee: huge }, opts)).rejects.toMatchObject({
      code: "PACKAGE_INVALID",
    });
    // A timeout given as a string, or above the limit, is refused (it would set validBefore wrongly).
    await expect(
      buildDirectStablecoinAgreement(
        f.accounts.buyer,
        { ...r, accept: { ...r.accept, maxTimeoutSeconds: "300" as unknown as number } },
        opts,
      ),
    ).rejects.toMatchObject({ code: "PACKAGE_INVALID" });
    await expect(
      buildDirectStablecoinAgreement(
        f.accounts.buyer,
        { ...r, accept: { ...r.accept, maxTimeoutSeconds: 86_400 } },
        opts,
      ),
    ).rejects.toMatchObject({ code: "POLICY_REFUSED" });
  });

  it("refuses a payee or fee spender that is not an address", async () => {
    const r = requirements(1_000_000n);
    await expect(
      buildDirectStablecoinAgreement(
        f.accounts.buyer,
        { ...r, accept: { ...r.accept, payTo: "0xseller" } },
        {
          maxAmount: 10_000_000n,
          directPayment: f.direct,
          permitNonce: 0n,
        },
      ),
    ).rejects.toMatchObject({ code: "PAYLOAD_INVALID" });
  });

  it("refuses a network or domain that disagrees with the registry", async () => {
    const r = requirements(1_000_000n);
    await expect(
      buildDirectStablecoinAgreement(
        f.accounts.buyer,
        { ...r, accept: { ...r.accept, extra: { name: "USDC", version: "2" } } },
        {
          maxAmount: 10_000_000n,
          directPayment: f.direct,
          permitNonce: 0n,
        },
      ),
    ).rejects.toMatchObject({ code: "DOMAIN_MISMATCH" });
    await expect(
      buildDirectStablecoinAgreement(
        f.accounts.buyer,
        { ...r, accept: { ...r.accept, network: "eip155:10" } },
        {
          maxAmount: 10_000_000n,
          directPayment: f.direct,
          permitNonce: 0n,
        },
      ),
    ).rejects.toMatchObject({ code: "DOMAIN_MISMATCH" });
  });
});

describe("clients for any listed chain", () => {
  it("takes viem's own Base and OP Mainnet clients (OP-stack formatters), public and wallet", async () => {
    const transport = custom(f.local.connection.provider);
    const publicClient = createPublicClient({ chain: base, transport });
    // Typed for OP Mainnet: the OP-stack formatters type-check the same way.
    const typedForOptimism: Parameters<typeof readAgreement>[0] = createPublicClient({ chain: optimism, transport });
    expect(typedForOptimism.chain?.id).toBe(10);
    const terms = await f.terms();
    const verified = await verifyActivationPackage(toPackage(terms), policy(), publicClient);
    const body = await signActivation(f.accounts.buyer, verified, {
      validBefore: BigInt((await f.now()) + 600),
      publicClient,
    });
    const relayer = createWalletClient({ chain: base, transport, account: f.accounts.relayer });
    const { events } = await submitActivation(relayer, body, f.escrowDomain());
    expect(events.map((e) => e.eventName)).toEqual(["AgreementActivated"]);
    expect((await readAgreement(publicClient, verified.agreement)).status).toBe("active");
  });
});
