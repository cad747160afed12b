// Activation and top-ups against Circle's real FiatToken on the Base-faithful chain, including
// front-running, replay and smart-wallet buyers.
import { type Address, type Hex, keccak256, parseEventLogs, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentEscrowAbi, fiatTokenAbi } from "../src/abi/index.ts";
import { agreementId, encodeActivation, encodeTerms, type Terms, topUpNonce } from "../src/eip712/index.ts";
import { type EscrowFixture, escrowFixture } from "./support/escrow-fixture.ts";
import { expectRevert, expectRevertReason } from "./support/revert.ts";

let f: EscrowFixture;
const call = (functionName: string, args: readonly unknown[]) => ({
  address: f.escrow,
  abi: agentEscrowAbi,
  functionName,
  args,
});
const view = (terms: Terms) =>
  f.publicClient.readContract({
    address: f.escrow,
    abi: agentEscrowAbi,
    functionName: "getAgreement",
    args: [encodeTerms(terms)],
  });
const held = async (token: Address) =>
  (
    await f.publicClient.readContract({
      address: f.escrow,
      abi: agentEscrowAbi,
      functionName: "tokenConfig",
      args: [token],
    })
  ).held;

beforeAll(async () => {
  f = await escrowFixture("base");
  await f.token().mint(f.accounts.buyer.address, 100_000_000_000n);
  await f.token("EURC").mint(f.accounts.buyer.address, 100_000_000_000n);
});
afterAll(async () => f?.close());

describe("activate", () => {
  it("pulls the deposit with TransferWithAuthorization, records it and emits AgreementActivated", async () => {
    const terms = await f.terms();
    const balance = await f.token().balanceOf(f.escrow);
    const heldBefore = await held(terms.token);
    const auth = await f.fundingAuth(terms);
    const { hash } = await f.write("relayer", call("activate", [encodeActivation(terms, auth)]));
    const id = agreementId(terms, f.escrowDomain());
    expect(await f.token().balanceOf(f.escrow)).toBe(balance + terms.deposit);
    expect(await held(terms.token)).toBe(heldBefore + terms.deposit);
    const v = await view(terms);
    expect(v).toMatchObject({
      status: 1,
      deposit: terms.deposit,
      recordedUsage: 0n,
      recorder: f.accounts.recorder.address,
    });
    const receipt = await f.publicClient.getTransactionReceipt({ hash });
    const [activated] = parseEventLogs({ abi: agentEscrowAbi, logs: receipt.logs, eventName: "AgreementActivated" });
    expect(activated?.args).toEqual({
      id,
      buyer: terms.buyer,
      seller: terms.seller,
      token: terms.token,
      deposit: terms.deposit,
    });
    // The token saw the agreement id as the authorization nonce.
    expect(
      await f.publicClient.readContract({
        address: terms.token,
        abi: fiatTokenAbi,
        functionName: "authorizationState",
        args: [terms.buyer, id],
      }),
    ).toBe(true);
  });

  it("computes the same agreement id on-chain as the TypeScript helper", async () => {
    const terms = await f.terms();
    const onChain = await f.publicClient.readContract({
      address: f.escrow,
      abi: agentEscrowAbi,
      functionName: "agreementId",
      args: [encodeTerms(terms)],
    });
    expect(onChain).toBe(agreementId(terms, f.escrowDomain()));
  });

  it("refuses a deposit signed as TransferWithAuthorization: only the receive form activates", async () => {
    const terms = await f.terms();
    const transferForm = await f.fundingAuth(terms, { form: "transfer" });
    await expectRevertReason(
      f.write("relayer", call("activate", [encodeActivation(terms, transferForm)])),
      /FiatTokenV2: invalid signature/,
    );
    expect((await view(terms)).status).toBe(0);
    await f.activate(terms);
    expect((await view(terms)).status).toBe(1);
  });

  it("activates EURC agreements", async () => {
    const terms = await f.terms({}, "EURC");
    await f.activate(terms);
    expect((await view(terms)).deposit).toBe(terms.deposit);
  });

  it("refuses a second activation with AgreementExists", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    const auth = await f.fundingAuth(terms);
    await expectRevert(f.write("relayer", call("activate", [encodeActivation(terms, auth)])), "AgreementExists", [
      id,
      1,
    ]);
  });

  it("refuses terms whose upfront fee needs a permit through activate()", async () => {
    const terms = await f.terms({ upfrontFee: 1_000_000n });
    const auth = await f.fundingAuth(terms);
    await expectRevert(f.write("relayer", call("activate", [encodeActivation(terms, auth)])), "UpfrontFeeUnexpected", [
      1_000_000n,
    ]);
  });

  it("refuses packed terms of the wrong length, and an activation with no signature", async () => {
    const terms = await f.terms();
    const packed = encodeActivation(terms, await f.fundingAuth(terms));
    // Terms, the validity window (2 x 5 bytes) and not a single signature byte.
    const header = packed.slice(0, 2 + 2 * 211) as Hex;
    await expectRevert(f.write("relayer", call("activate", [header])), "ActivationLengthInvalid", [211n]);
    await expectRevert(f.write("other", call("settle", [`${encodeTerms(terms)}00`])), "TermsLengthInvalid", [202n]);
    await expectRevert(f.write("other", call("settle", [encodeTerms(terms).slice(0, -2)])), "TermsLengthInvalid", [
      200n,
    ]);
  });

  it("carries the authorization's validity window exactly, and the token enforces it", async () => {
    const terms = await f.terms();
    const now = BigInt(await f.now());
    // Expired: the token refuses the window the buyer signed.
    const expired = await f.fundingAuth(terms, { validBefore: now - 1n });
    await expectRevertReason(
      f.write("relayer", call("activate", [encodeActivation(terms, expired)])),
      /authorization is expired/,
    );
    // A window narrowed in transit no longer matches the signature.
    const auth = await f.fundingAuth(terms, { validBefore: now + 3_600n });
    await expectRevertReason(
      f.write("relayer", call("activate", [encodeActivation(terms, { ...auth, validBefore: now + 3_599n })])),
      /invalid signature/,
    );
    await f.write("relayer", call("activate", [encodeActivation(terms, auth)]));
    expect((await view(terms)).status).toBe(1);
  });

  const invalid: [string, (t: Terms) => Partial<Terms>, string, (t: Terms) => readonly unknown[]][] = [
    ["zero buyer", () => ({ buyer: "0x0000000000000000000000000000000000000000" }), "ZeroAddress", () => ["buyer"]],
    ["zero seller", () => ({ seller: "0x0000000000000000000000000000000000000000" }), "ZeroAddress", () => ["seller"]],
    [
      "zero fee recipient",
      () => ({ feeRecipient: "0x0000000000000000000000000000000000000000" }),
      "ZeroAddress",
      () => ["feeRecipient"],
    ],
    [
      "zero arbiter",
      () => ({ arbiter: "0x0000000000000000000000000000000000000000" }),
      "ZeroAddress",
      () => ["arbiter"],
    ],
    [
      "zero recorder",
      () => ({ recorder: "0x0000000000000000000000000000000000000000" }),
      "ZeroAddress",
      () => ["recorder"],
    ],
    ["zero deposit", () => ({ deposit: 0n }), "ZeroDeposit", () => []],
    ["the escrow as seller", () => ({ seller: f.escrow }), "PartyIsEscrow", () => ["seller"]],
    ["the escrow as fee recipient", () => ({ feeRecipient: f.escrow }), "PartyIsEscrow", () => ["feeRecipient"]],
    ["fee bps above cap", () => ({ feeBps: 1_001 }), "FeeAboveCap", () => ["feeBps", 1_001n, 1_000n]],
    [
      "fixed fee above cap",
      () => ({ feeFixed: 10_000_001n }),
      "FeeAboveCap",
      () => ["feeFixed", 10_000_001n, 10_000_000n],
    ],
    ["fallback share above 100%", () => ({ fallbackBps: 10_001 }), "BpsAboveMax", () => ["fallbackBps", 10_001n]],
    [
      "challenge window above 30 days",
      () => ({ challengeWindow: 30 * 86_400 + 1 }),
      "WindowTooLong",
      () => ["challengeWindow", BigInt(30 * 86_400 + 1), BigInt(30 * 86_400)],
    ],
    [
      "resolution window above 30 days",
      () => ({ resolutionWindow: 30 * 86_400 + 1 }),
      "WindowTooLong",
      () => ["resolutionWindow", BigInt(30 * 86_400 + 1), BigInt(30 * 86_400)],
    ],
  ];
  it.each(invalid)("refuses %s", async (_label, change, error, args) => {
    const base = await f.terms();
    const terms = { ...base, ...change(base) };
    const auth = await f.fundingAuth(terms);
    await expectRevert(f.write("relayer", call("activate", [encodeActivation(terms, auth)])), error, args(terms));
  });

  it("refuses a service expiry in the past or more than 366 days ahead", async () => {
    for (const offset of [-1, 366 * 86_400 + 60]) {
      const now = await f.now();
      const terms = await f.terms({ serviceExpiry: now + offset });
      const auth = await f.fundingAuth(terms);
      await expectRevert(f.write("relayer", call("activate", [encodeActivation(terms, auth)])), "ServiceExpiryInvalid");
    }
  });

  it("refuses a token that is not allowlisted", async () => {
    const terms = await f.terms({ token: "0x036CbD53842c5426634e7929541eC2318f3dCF7e" });
    const auth = await f.fundingAuth(terms);
    await expectRevert(f.write("relayer", call("activate", [encodeActivation(terms, auth)])), "TokenNotAllowed", [
      terms.token,
    ]);
  });

  it("zero and maximum amounts: a 1-unit deposit works, uint64 max fails at the token for lack of funds", async () => {
    const tiny = await f.terms({ deposit: 1n });
    await f.activate(tiny);
    expect((await view(tiny)).deposit).toBe(1n);
    const huge = await f.terms({ deposit: 2n ** 64n - 1n });
    const auth = await f.fundingAuth(huge);
    await expectRevertReason(
      f.write("relayer", call("activate", [encodeActivation(huge, auth)])),
      /transfer amount exceeds balance/,
    );
    expect((await view(huge)).status).toBe(0);
  });
});

describe("signatures bind to exactly one agreement, chain and escrow", () => {
  it("an authorization for other terms (different salt) is refused by the token", async () => {
    const terms = await f.terms();
    const other = { ...terms, salt: keccak256(toHex("other")) };
    const auth = await f.fundingAuth(other);
    await expectRevertReason(
      f.write("relayer", call("activate", [encodeActivation(terms, auth)])),
      /FiatTokenV2: invalid signature/,
    );
  });

  it("an authorization whose nonce is the id on another chain is refused", async () => {
    const terms = await f.terms();
    const nonce = agreementId(terms, { chainId: 10, escrow: f.escrow });
    const auth = await f.fundingAuth(terms, { nonce });
    await expectRevertReason(
      f.write("relayer", call("activate", [encodeActivation(terms, auth)])),
      /FiatTokenV2: invalid signature/,
    );
  });

  it("an authorization whose nonce is the id at another escrow is refused", async () => {
    const terms = await f.terms();
    const nonce = agreementId(terms, {
      chainId: f.chain.chainId,
      escrow: "0x000000000000000000000000000000000000dEaD",
    });
    const auth = await f.fundingAuth(terms, { nonce });
    await expectRevertReason(
      f.write("relayer", call("activate", [encodeActivation(terms, auth)])),
      /FiatTokenV2: invalid signature/,
    );
  });

  it("an authorization signed by someone else than the buyer is refused", async () => {
    const terms = await f.terms();
    const auth = await f.fundingAuth(terms, { signer: f.accounts.other });
    await expectRevertReason(
      f.write("relayer", call("activate", [encodeActivation(terms, auth)])),
      /FiatTokenV2: invalid signature/,
    );
  });

  it("an expired authorization is refused", async () => {
    const terms = await f.terms();
    const auth = await f.fundingAuth(terms, { validBefore: BigInt(await f.now()) });
    await expectRevertReason(
      f.write("relayer", call("activate", [encodeActivation(terms, auth)])),
      /authorization is expired/,
    );
  });
});

describe("front-running", () => {
  it("a permit used before activation does not stop activation (the allowance is used)", async () => {
    const terms = await f.terms({ upfrontFee: 2_000_000n });
    const auth = await f.fundingAuth(terms);
    const permit = await f.feePermit(f.accounts.buyer, terms.upfrontFee);
    // Someone submits the buyer's permit directly to the token first.
    await f.write("other", {
      address: terms.token,
      abi: fiatTokenAbi,
      functionName: "permit",
      args: [terms.buyer, f.escrow, permit.value, permit.deadline, permit.signature],
    });
    const feeBefore = await f.token().balanceOf(terms.feeRecipient);
    await f.write("relayer", call("activateWithFeePermit", [encodeActivation(terms, auth), permit]));
    expect((await view(terms)).status).toBe(1);
    expect(await f.token().balanceOf(terms.feeRecipient)).toBe(feeBefore + terms.upfrontFee);
  });

  it("tokens sent to the escrow by mistake are unaccounted, and only those can be returned", async () => {
    const terms = await f.terms();
    await f.activate(terms);
    const unaccounted = () =>
      f.publicClient.readContract({
        address: f.escrow,
        abi: agentEscrowAbi,
        functionName: "unaccountedBalance",
        args: [terms.token],
      });
    const before = await unaccounted();
    await f.write("buyer", {
      address: terms.token,
      abi: fiatTokenAbi,
      functionName: "transfer",
      args: [f.escrow, 5_000_000n],
    });
    expect(await unaccounted()).toBe(before + 5_000_000n);
    // Escrowed funds cannot be moved this way, by the owner or anyone.
    await expectRevert(
      f.write("owner", call("recoverUnaccounted", [terms.token, terms.buyer, before + 5_000_001n])),
      "NotUnaccounted",
      [terms.token, before + 5_000_001n, before + 5_000_000n],
    );
    await expectRevert(
      f.write("other", call("recoverUnaccounted", [terms.token, terms.buyer, 5_000_000n])),
      "OwnableUnauthorizedAccount",
    );
    const buyerBefore = await f.token().balanceOf(terms.buyer);
    await f.write("owner", call("recoverUnaccounted", [terms.token, terms.buyer, 5_000_000n]));
    expect(await f.token().balanceOf(terms.buyer)).toBe(buyerBefore + 5_000_000n);
    expect(await unaccounted()).toBe(before);
  });

  it("a deposit signature cannot be front-run: only the escrow may submit it, so nothing is stranded", async () => {
    const terms = await f.terms();
    const auth = await f.fundingAuth(terms);
    const id = agreementId(terms, f.escrowDomain());
    await expectRevertReason(
      f.write("other", {
        address: terms.token,
        abi: fiatTokenAbi,
        functionName: "receiveWithAuthorization",
        args: [terms.buyer, f.escrow, terms.deposit, auth.validAfter, auth.validBefore, id, auth.signature],
      }),
      /caller must be the payee/,
    );
    await f.write("relayer", call("activate", [encodeActivation(terms, auth)]));
    expect((await view(terms)).status).toBe(1);
  });
});

describe("activateWithFeePermit", () => {
  it("pays the upfront fee to the fee recipient and the deposit to the escrow", async () => {
    const terms = await f.terms({ upfrontFee: 3_000_000n });
    const auth = await f.fundingAuth(terms);
    const permit = await f.feePermit(f.accounts.buyer, terms.upfrontFee);
    const buyer = await f.token().balanceOf(terms.buyer);
    const fee = await f.token().balanceOf(terms.feeRecipient);
    await f.write("relayer", call("activateWithFeePermit", [encodeActivation(terms, auth), permit]));
    expect(await f.token().balanceOf(terms.buyer)).toBe(buyer - terms.deposit - terms.upfrontFee);
    expect(await f.token().balanceOf(terms.feeRecipient)).toBe(fee + terms.upfrontFee);
  });

  it("refuses a permit below the upfront fee", async () => {
    const terms = await f.terms({ upfrontFee: 3_000_000n });
    const auth = await f.fundingAuth(terms);
    const permit = await f.feePermit(f.accounts.buyer, 2_999_999n);
    await expectRevert(
      f.write("relayer", call("activateWithFeePermit", [encodeActivation(terms, auth), permit])),
      "UpfrontFeePermitTooLow",
      [2_999_999n, 3_000_000n],
    );
  });

  it("refuses an upfront fee above the cap", async () => {
    const terms = await f.terms({ upfrontFee: 1_000_000_001n });
    const auth = await f.fundingAuth(terms);
    const permit = await f.feePermit(f.accounts.buyer, terms.upfrontFee);
    await expectRevert(
      f.write("relayer", call("activateWithFeePermit", [encodeActivation(terms, auth), permit])),
      "FeeAboveCap",
      ["upfrontFee", 1_000_000_001n, 1_000_000_000n],
    );
  });

  it("fails as a whole when there is neither a valid permit nor an allowance", async () => {
    const terms = await f.terms({ upfrontFee: 3_000_000n });
    const auth = await f.fundingAuth(terms);
    const permit = { ...(await f.feePermit(f.accounts.other, terms.upfrontFee)) };
    await expectRevertReason(
      f.write("relayer", call("activateWithFeePermit", [encodeActivation(terms, auth), permit])),
      /transfer amount exceeds allowance/,
    );
    expect((await view(terms)).status).toBe(0);
  });
});

describe("smart-wallet (ERC-1271) buyer", () => {
  it("activates with a deposit authorization validated by the wallet contract", async () => {
    const wallet = await f.local.connection.viem.deployContract("SmartWallet", [f.accounts.other.address]);
    await f.token().mint(wallet.address, 500_000_000n);
    const terms = await f.terms({ buyer: wallet.address });
    const auth = await f.fundingAuth(terms, { signer: f.accounts.other });
    await f.write("relayer", call("activate", [encodeActivation(terms, auth)]));
    expect((await view(terms)).status).toBe(1);
    expect(await f.token().balanceOf(wallet.address)).toBe(500_000_000n - terms.deposit);
  });
});

describe("topUp", () => {
  const topUpAuth = async (terms: Terms, amount: bigint, salt: Hex, form: "receive" | "transfer" = "receive") =>
    f.fundingAuth(terms, { value: amount, nonce: topUpNonce(agreementId(terms, f.escrowDomain()), salt), form });

  it("adds to the deposit with a second authorization bound to the agreement", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    const salt = keccak256(toHex("top-up 1"));
    const auth = await topUpAuth(terms, 25_000_000n, salt);
    await f.write("relayer", call("topUp", [encodeTerms(terms), 25_000_000n, salt, auth]));
    expect((await view(terms)).deposit).toBe(terms.deposit + 25_000_000n);
    expect(
      await f.publicClient.readContract({
        address: f.escrow,
        abi: agentEscrowAbi,
        functionName: "topUpNonce",
        args: [id, salt],
      }),
    ).toBe(topUpNonce(id, salt));
    // The same authorization cannot be replayed.
    await expectRevertReason(
      f.write("relayer", call("topUp", [encodeTerms(terms), 25_000_000n, salt, auth])),
      /authorization is used or canceled/,
    );
  });

  it("refuses a top-up by TransferWithAuthorization (it could be submitted to the token directly)", async () => {
    const terms = await f.terms();
    await f.activate(terms);
    const salt = keccak256(toHex("top-up twa"));
    const auth = await topUpAuth(terms, 5n, salt, "transfer");
    await expectRevertReason(
      f.write("relayer", call("topUp", [encodeTerms(terms), 5n, salt, auth])),
      /FiatTokenV2: invalid signature/,
    );
  });

  it("refuses a top-up of an agreement that is not active, and a zero top-up", async () => {
    const terms = await f.terms();
    const salt = keccak256(toHex("top-up 2"));
    const auth = await topUpAuth(terms, 1n, salt);
    await expectRevert(f.write("relayer", call("topUp", [encodeTerms(terms), 1n, salt, auth])), "WrongStatus", [
      agreementId(terms, f.escrowDomain()),
      0,
    ]);
    await f.activate(terms);
    await expectRevert(f.write("relayer", call("topUp", [encodeTerms(terms), 0n, salt, auth])), "ZeroDeposit");
  });

  it("refuses a top-up that would overflow the 64-bit deposit", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    const salt = keccak256(toHex("top-up overflow"));
    const amount = 2n ** 64n - 1n;
    const auth = await topUpAuth(terms, amount, salt);
    await expectRevert(f.write("relayer", call("topUp", [encodeTerms(terms), amount, salt, auth])), "DepositOverflow", [
      id,
      terms.deposit,
      amount,
    ]);
  });
});

describe("pause and allowlist", () => {
  it("pausing a token stops activations and top-ups only, and unpausing resumes them", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    await f.write(
      "recorder",
      call("recordUsage", [{ id, cumulativeUsage: 1n, complete: false, logRef: toHex(0, { size: 32 }) }]),
    );
    await f.write("owner", call("setPaused", [terms.token, true]));
    try {
      const next = await f.terms();
      const auth = await f.fundingAuth(next);
      await expectRevert(f.write("relayer", call("activate", [encodeActivation(next, auth)])), "ActivationsPaused", [
        terms.token,
      ]);
      // Usage and completion go on while paused.
      await f.write(
        "recorder",
        call("recordUsage", [{ id, cumulativeUsage: 2n, complete: true, logRef: toHex(0, { size: 32 }) }]),
      );
      expect((await view(terms)).status).toBe(2);
    } finally {
      await f.write("owner", call("setPaused", [terms.token, false]));
    }
    await f.activate(await f.terms());
  });

  it("only the owner configures tokens, within the hard caps", async () => {
    const usdc = f.tokenInfo().address;
    await expectRevert(f.write("other", call("setPaused", [usdc, true])), "OwnableUnauthorizedAccount", [
      f.accounts.other.address,
    ]);
    await expectRevert(
      f.write("other", call("configureToken", [usdc, true, 100, 0n, 0n])),
      "OwnableUnauthorizedAccount",
    );
    await expectRevert(f.write("owner", call("configureToken", [usdc, true, 1_001, 0n, 0n])), "FeeAboveCap", [
      "maxFeeBps",
      1_001n,
      1_000n,
    ]);
    await expectRevert(f.write("owner", call("configureToken", [usdc, true, 0, 10_000_001n, 0n])), "FeeAboveCap", [
      "maxFeeFixed",
      10_000_001n,
      10_000_000n,
    ]);
    await expectRevert(f.write("owner", call("configureToken", [usdc, true, 0, 0n, 1_000_000_001n])), "FeeAboveCap", [
      "maxUpfrontFee",
      1_000_000_001n,
      1_000_000_000n,
    ]);
    await expectRevert(
      f.write("owner", call("configureToken", ["0x0000000000000000000000000000000000000000", true, 0, 0n, 0n])),
      "ZeroAddress",
      ["token"],
    );
  });

  it("removing a token stops new activations; active agreements still settle", async () => {
    const eurc = f.tokenInfo("EURC").address;
    const terms = await f.terms({ challengeWindow: 0 }, "EURC");
    const id = await f.activate(terms);
    await f.write("owner", call("configureToken", [eurc, false, 1_000, 10_000_000n, 1_000_000_000n]));
    try {
      const next = await f.terms({}, "EURC");
      const auth = await f.fundingAuth(next);
      await expectRevert(f.write("relayer", call("activate", [encodeActivation(next, auth)])), "TokenNotAllowed", [
        eurc,
      ]);
      await f.write(
        "recorder",
        call("recordUsage", [{ id, cumulativeUsage: 5n, complete: true, logRef: toHex(0, { size: 32 }) }]),
      );
      await f.write("other", call("settle", [encodeTerms(terms)]));
      expect((await view(terms)).status).toBe(5);
    } finally {
      await f.write("owner", call("configureToken", [eurc, true, 1_000, 10_000_000n, 1_000_000_000n]));
    }
  });
});

describe("blacklisted parties", () => {
  it("refuses an agreement whose seller or buyer the token has blacklisted", async () => {
    const token = f.token();
    const frozen = f.accounts.other.address;
    await token.blacklist(frozen);
    try {
      const terms = await f.terms({ seller: frozen });
      await expectRevert(
        f.write("relayer", call("activate", [encodeActivation(terms, await f.fundingAuth(terms))])),
        "PartyBlacklisted",
        ["seller", frozen],
      );
      expect((await view(terms)).status).toBe(0);
    } finally {
      await token.unBlacklist(frozen);
    }
    // The token itself refuses a blacklisted buyer's deposit authorization.
    await token.blacklist(f.accounts.buyer.address);
    try {
      const terms = await f.terms();
      await expectRevertReason(
        f.write("relayer", call("activate", [encodeActivation(terms, await f.fundingAuth(terms))])),
        /Blacklistable: account is blacklisted/,
      );
    } finally {
      await token.unBlacklist(f.accounts.buyer.address);
    }
  });

  it("a blacklisted fee recipient gets no upfront fee and cannot withdraw its settlement fees", async () => {
    const token = f.token();
    const frozen = f.accounts.other.address;
    await token.blacklist(frozen);
    try {
      const withFee = await f.terms({ feeRecipient: frozen, upfrontFee: 1_000_000n });
      const permit = await f.feePermit(f.accounts.buyer, withFee.upfrontFee);
      await expectRevertReason(
        f.write(
          "relayer",
          call("activateWithFeePermit", [encodeActivation(withFee, await f.fundingAuth(withFee)), permit]),
        ),
        /Blacklistable: account is blacklisted/,
      );
      const terms = await f.terms({ feeRecipient: frozen, challengeWindow: 0 });
      const id = await f.activate(terms);
      await f.write(
        "recorder",
        call("recordUsage", [{ id, cumulativeUsage: 50_000_000n, complete: true, logRef: id }]),
      );
      await f.write("relayer", call("settle", [encodeTerms(terms)]));
      await expectRevert(
        f.write("other", call("withdraw", [terms.token, f.accounts.buyer.address])),
        "BalanceOwnerBlacklisted",
        [terms.token, frozen],
      );
    } finally {
      await token.unBlacklist(frozen);
    }
  });
});

describe("ownership", () => {
  it("cannot be renounced, so nothing can be locked by a missing owner", async () => {
    await expectRevert(f.write("owner", call("renounceOwnership", [])), "RenounceDisabled");
    expect(await f.publicClient.readContract({ address: f.escrow, abi: agentEscrowAbi, functionName: "owner" })).toBe(
      f.accounts.owner.address,
    );
  });

  it("transfers in two steps", async () => {
    const owner = () => f.publicClient.readContract({ address: f.escrow, abi: agentEscrowAbi, functionName: "owner" });
    await f.write("owner", call("transferOwnership", [f.accounts.other.address]));
    expect(await owner()).toBe(f.accounts.owner.address);
    await f.write("other", call("acceptOwnership", []));
    expect(await owner()).toBe(f.accounts.other.address);
    await f.write("other", call("transferOwnership", [f.accounts.owner.address]));
    await f.write("owner", call("acceptOwnership", []));
    expect(await owner()).toBe(f.accounts.owner.address);
  });
});
