// The facilitator's verification of x402 'exact' payments against the advertised requirements, on
// a Base-faithful chain with Circle's real FiatToken: a valid payment verifies, each tampered one is
// refused with the x402 reference facilitator's reason (the ones a field comparison can judge
// without a single RPC), nothing is ever sent, and the reference implementation (@x402/core and
// @x402/evm 2.27, used only as a peer) agrees: its client's payloads verify, and its facilitator
// reaches the same verdicts.
import { x402Client } from "@x402/core/client";
import type {
  PaymentPayload as TheirPayload,
  PaymentRequired as TheirRequired,
  PaymentRequirements as TheirRequirements,
} from "@x402/core/types";
import { toFacilitatorEvmSigner } from "@x402/evm";
import { ExactEvmScheme as ExactEvmClient } from "@x402/evm/exact/client";
import { ExactEvmScheme as ExactEvmFacilitator } from "@x402/evm/exact/facilitator";
import {
  type Address,
  createPublicClient,
  custom,
  getAddress,
  type Hex,
  keccak256,
  publicActions,
  serializeErc6492Signature,
  toHex,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { arbitrum } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getToken, type TokenSymbol } from "../src/chains/index.ts";
import { signAuthorization, type TypedDataSigner } from "../src/eip712/index.ts";
import { type FaithfulChain, startFaithfulChain } from "../src/testing/faithful-chain.ts";
import {
  type ExactPayload,
  type ExactVerifyInvalidReason,
  FacilitatorError,
  randomNonce,
  submitExactPayment,
  type VerifyExactPaymentParameters,
  verifyExactPayment,
} from "../src/x402/index.ts";

const payer = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const other = privateKeyToAccount("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a");
const PAY_TO = getAddress("0x209693Bc6afc0C5328bA36FaF03C514EF312287C");
const THIRD = getAddress("0x00000000000000000000000000000000000bad01");
const USDC = getToken(8453, "USDC");
const EURC = getToken(8453, "EURC");
const SENDS = ["eth_sendTransaction", "eth_sendRawTransaction"];

/** What the server advertises: 0.25 USDC on Base. */
const REQ: TheirRequirements = {
  scheme: "exact",
  network: "eip155:8453",
  amount: "250000",
  asset: USDC.address,
  payTo: PAY_TO,
  maxTimeoutSeconds: 120,
  extra: { name: "USD Coin", version: "2" },
};

const clock = () => Math.floor(Date.now() / 1000);

type Signing = {
  signer?: TypedDataSigner;
  from?: Address;
  to?: Address;
  value?: bigint;
  validAfter?: bigint;
  validBefore?: bigint;
  nonce?: Hex;
  token?: TokenSymbol;
  name?: string;
};

/** An EIP-3009 authorization signed under a Base token's domain (by default: the payer pays 250,000 USDC to PAY_TO). */
async function sign(s: Signing = {}): Promise<ExactPayload> {
  const signer = s.signer ?? payer;
  const token = getToken(8453, s.token ?? "USDC");
  const message = {
    from: s.from ?? signer.address,
    to: s.to ?? PAY_TO,
    value: s.value ?? 250_000n,
    validAfter: s.validAfter ?? 0n,
    validBefore: s.validBefore ?? BigInt(clock() + 120),
    nonce: s.nonce ?? randomNonce(),
  };
  const signature = await signAuthorization(
    signer,
    {
      name: s.name ?? token.domain.name,
      version: token.domain.version,
      chainId: 8453,
      verifyingContract: token.address,
    },
    message,
  );
  return {
    authorization: {
      from: message.from,
      to: message.to,
      value: String(message.value),
      validAfter: String(message.validAfter),
      validBefore: String(message.validBefore),
      nonce: message.nonce,
    },
    signature,
  };
}

/** A payment of a smart wallet not deployed yet: its owner's signature, ERC-6492-wrapped with a factory call. */
async function counterfactual(): Promise<ExactPayload> {
  const from = getAddress("0x00000000000000000000000000000000000c0de1");
  const exact = await sign({ signer: other, from });
  const signature = serializeErc6492Signature({ address: THIRD, data: "0xdeadbeef", signature: exact.signature });
  return { ...exact, signature };
}

/** The x402 v2 payload of a signed payment, accepted for `accepted` (default: what was advertised). */
function v2(exact: ExactPayload, accepted: TheirRequirements = REQ): TheirPayload {
  return { x402Version: 2, resource: { url: "https://api.example.com/premium" }, accepted, payload: exact };
}

describe("verifyExactPayment on a Base-faithful chain with Circle's USDC and EURC", () => {
  let local: FaithfulChain;
  let relayer: WalletClient;
  /** JSON-RPC methods the verification sent, in order. */
  const calls: string[] = [];
  let verify: (
    payload: TheirPayload,
    requirements?: TheirRequirements,
    options?: Omit<VerifyExactPaymentParameters, "payload" | "requirements">,
  ) => ReturnType<typeof verifyExactPayment>;

  beforeAll(async () => {
    local = await startFaithfulChain("base");
    [relayer] = (await local.wallets()) as [WalletClient];
    await local.token("USDC").mint(payer.address, 10_000_000n);
    await local.token("EURC").mint(payer.address, 10_000_000n);
    const provider = local.connection.provider;
    const client = createPublicClient({
      chain: local.dev.publicClient.chain,
      transport: custom({
        request: ({ method, params }: { method: string; params?: unknown[] | object }) => {
          calls.push(method);
          return provider.request({ method, ...(params !== undefined ? { params } : {}) });
        },
      }),
    });
    verify = (payload, requirements = REQ, options = {}) => {
      calls.length = 0;
      return verifyExactPayment(client, { payload, requirements, ...options });
    };
  });
  afterAll(async () => local?.close());

  it("verifies a valid payment, with its payer, after simulating it; nothing is sent", async () => {
    const before = await local.token("USDC").balanceOf(PAY_TO);
    expect(await verify(v2(await sign()))).toEqual({ isValid: true, payer: payer.address });
    expect(calls).toContain("eth_call");
    expect(calls.filter((m) => SENDS.includes(m))).toEqual([]);
    expect(await local.token("USDC").balanceOf(PAY_TO)).toBe(before);
  });

  describe("refuses a tampered payment before any RPC", () => {
    const cases: {
      name: string;
      make: () => Promise<{ payload: TheirPayload; requirements?: TheirRequirements }>;
      reason: ExactVerifyInvalidReason;
    }[] = [
      {
        name: "amount too low: the payer accepts and signs 1,000 units instead of the advertised 250,000",
        make: async () => ({ payload: v2(await sign({ value: 1_000n }), { ...REQ, amount: "1000" }) }),
        reason: "invalid_exact_evm_payload_authorization_value_mismatch",
      },
      {
        name: "an authorization of 1,000 units under an accepted block of the advertised 250,000",
        make: async () => ({ payload: v2(await sign({ value: 1_000n })) }),
        reason: "invalid_exact_evm_payload_authorization_value_mismatch",
      },
      {
        name: "an authorization of more than the amount (exact means exact)",
        make: async () => ({ payload: v2(await sign({ value: 250_001n })) }),
        reason: "invalid_exact_evm_payload_authorization_value_mismatch",
      },
      {
        name: "payTo: accepted for and paid to a third address",
        make: async () => ({ payload: v2(await sign({ to: THIRD }), { ...REQ, payTo: THIRD }) }),
        reason: "invalid_exact_evm_recipient_mismatch",
      },
      {
        name: "an authorization to a third address under an accepted block for the advertised payTo",
        make: async () => ({ payload: v2(await sign({ to: THIRD })) }),
        reason: "invalid_exact_evm_recipient_mismatch",
      },
      {
        name: "wrong asset: an honest EURC payment against USDC requirements",
        make: async () => ({
          payload: v2(await sign({ token: "EURC" }), {
            ...REQ,
            asset: EURC.address,
            extra: { name: "EURC", version: "2" },
          }),
        }),
        reason: "invalid_exact_evm_signature",
      },
      {
        name: "requirements for an asset outside the registry",
        make: async () => ({
          payload: v2(await sign(), { ...REQ, asset: THIRD }),
          requirements: { ...REQ, asset: THIRD },
        }),
        reason: "invalid_exact_evm_eip3009_not_supported",
      },
      {
        name: "wrong network: accepted on Base Sepolia",
        make: async () => ({ payload: v2(await sign(), { ...REQ, network: "eip155:84532" }) }),
        reason: "invalid_exact_evm_network_mismatch",
      },
      {
        name: "a network outside the registry (Ethereum mainnet)",
        make: async () => ({
          payload: v2(await sign(), { ...REQ, network: "eip155:1" }),
          requirements: { ...REQ, network: "eip155:1" },
        }),
        reason: "invalid_exact_evm_network_mismatch",
      },
      {
        name: "a network that is not EVM",
        make: async () => {
          const solana = { ...REQ, network: "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp" } as const;
          return { payload: v2(await sign(), solana), requirements: solana };
        },
        reason: "invalid_exact_evm_network_mismatch",
      },
      {
        name: "wrong domain name in accepted.extra (signed as Base Sepolia's 'USDC')",
        make: async () => ({
          payload: v2(await sign({ name: "USDC" }), { ...REQ, extra: { name: "USDC", version: "2" } }),
        }),
        reason: "invalid_exact_evm_token_name_mismatch",
      },
      {
        name: "wrong domain version in accepted.extra",
        make: async () => ({ payload: v2(await sign(), { ...REQ, extra: { name: "USD Coin", version: "1" } }) }),
        reason: "invalid_exact_evm_token_version_mismatch",
      },
      {
        name: "requirements whose domain name is not the registry's",
        make: async () => {
          const wrong = { ...REQ, extra: { name: "USDC", version: "2" } };
          return { payload: v2(await sign({ name: "USDC" }), wrong), requirements: wrong };
        },
        reason: "invalid_exact_evm_token_name_mismatch",
      },
      {
        name: "requirements without an EIP-712 domain",
        make: async () => ({ payload: v2(await sign(), { ...REQ, extra: {} }), requirements: { ...REQ, extra: {} } }),
        reason: "invalid_exact_evm_missing_eip712_domain",
      },
      {
        name: "expired",
        make: async () => ({ payload: v2(await sign({ validBefore: BigInt(clock() - 1) })) }),
        reason: "invalid_exact_evm_payload_authorization_valid_before",
      },
      {
        name: "expiring within the 6 s margin",
        make: async () => ({ payload: v2(await sign({ validBefore: BigInt(clock() + 3) })) }),
        reason: "invalid_exact_evm_payload_authorization_valid_before",
      },
      {
        name: "not yet valid",
        make: async () => ({ payload: v2(await sign({ validAfter: BigInt(clock() + 60) })) }),
        reason: "invalid_exact_evm_payload_authorization_valid_after",
      },
      {
        name: "a scheme other than 'exact'",
        make: async () => ({
          payload: v2(await sign(), { ...REQ, scheme: "upto" }),
          requirements: { ...REQ, scheme: "upto" },
        }),
        reason: "invalid_exact_evm_scheme",
      },
      {
        name: "x402 version 1",
        make: async () => ({ payload: { ...v2(await sign()), x402Version: 1 } }),
        reason: "invalid_x402_version",
      },
      {
        name: "a Permit2 payload",
        make: async () => ({
          payload: { ...v2(await sign()), payload: { permit2Authorization: { from: payer.address }, signature: "0x" } },
        }),
        reason: "unsupported_payload_type",
      },
      {
        name: "a malformed authorization (16-byte nonce)",
        make: async () => {
          const exact = await sign();
          return {
            payload: v2({ ...exact, authorization: { ...exact.authorization, nonce: `0x${"11".repeat(16)}` } }),
          };
        },
        reason: "invalid_payload",
      },
      {
        name: "malformed requirements (amount not a decimal string)",
        make: async () => ({ payload: v2(await sign()), requirements: { ...REQ, amount: "0.25" } }),
        reason: "invalid_payment_requirements",
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const { payload, requirements } = await c.make();
        expect(await verify(payload, requirements)).toMatchObject({
          isValid: false,
          invalidReason: c.reason,
          payer: payer.address,
        });
        expect(calls).toEqual([]);
      });
    }

    it("the expiry margin is configurable", async () => {
      const payload = v2(await sign({ validBefore: BigInt(clock() + 20) }));
      expect(await verify(payload, REQ, { validBeforeMarginSeconds: 30 })).toMatchObject({
        invalidReason: "invalid_exact_evm_payload_authorization_valid_before",
      });
      expect(calls).toEqual([]);
      expect(await verify(payload)).toEqual({ isValid: true, payer: payer.address });
    });
  });

  describe("refuses on the chain's word, with reads only", () => {
    const onlyReads = () => expect(calls.filter((m) => SENDS.includes(m))).toEqual([]);

    it("a reused nonce (the payment was executed first)", async () => {
      const exact = await sign();
      await submitExactPayment(relayer, USDC.address, exact);
      expect(await verify(v2(exact))).toMatchObject({
        isValid: false,
        invalidReason: "invalid_exact_evm_nonce_already_used",
        payer: payer.address,
      });
      onlyReads();
    });

    it("a balance too low", async () => {
      const poor = privateKeyToAccount(keccak256(toHex("x402 facilitator: poor payer")));
      await local.token("USDC").mint(poor.address, 1_000n);
      expect(await verify(v2(await sign({ signer: poor })))).toMatchObject({
        isValid: false,
        invalidReason: "invalid_exact_evm_insufficient_balance",
        payer: poor.address,
      });
      onlyReads();
    });

    it("a bad signature (signed by another key): one eth_getCode rules out a smart wallet", async () => {
      expect(await verify(v2(await sign({ signer: other, from: payer.address })))).toMatchObject({
        isValid: false,
        invalidReason: "invalid_exact_evm_signature",
        payer: payer.address,
      });
      expect(calls).toEqual(["eth_getCode"]);
    });

    it("an ERC-6492 signature of a wallet not deployed (no factory is allowed)", async () => {
      expect(await verify(v2(await counterfactual()))).toMatchObject({
        isValid: false,
        invalidReason: "eip6492_factory_not_allowed",
      });
      expect(calls).toEqual(["eth_getCode"]);
    });

    it("a payer the token has blacklisted: only the simulation knows", async () => {
      const frozen = privateKeyToAccount(keccak256(toHex("x402 facilitator: frozen payer")));
      await local.token("USDC").mint(frozen.address, 1_000_000n);
      await local.token("USDC").blacklist(frozen.address);
      try {
        const verdict = await verify(v2(await sign({ signer: frozen })));
        expect(verdict).toMatchObject({
          isValid: false,
          invalidReason: "invalid_exact_evm_transaction_simulation_failed",
          payer: frozen.address,
        });
        expect(verdict.isValid ? "" : verdict.message).toMatch(/blacklisted/);
        onlyReads();
      } finally {
        await local.token("USDC").unBlacklist(frozen.address);
      }
    });
  });

  it("throws, rather than judge, when the client is on another chain than the payment", async () => {
    const provider = local.connection.provider;
    const onArbitrum = createPublicClient({ chain: arbitrum, transport: custom(provider) });
    const failure = await verifyExactPayment(onArbitrum, { payload: v2(await sign()), requirements: REQ }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(FacilitatorError);
    expect(failure).toMatchObject({ code: "CHAIN_MISMATCH", details: { chainId: 8453, clientChainId: 42161 } });
  });

  describe("a smart-wallet (ERC-1271) payer", () => {
    it("verifies when the wallet accepts the signature, and is refused when it does not", async () => {
      const wallet = await local.connection.viem.deployContract("SmartWallet", [other.address]);
      await local.token("USDC").mint(wallet.address, 1_000_000n);
      const from = getAddress(wallet.address);
      expect(await verify(v2(await sign({ signer: other, from })))).toEqual({ isValid: true, payer: from });
      expect(await verify(v2(await sign({ signer: payer, from })))).toMatchObject({
        isValid: false,
        invalidReason: "invalid_exact_evm_signature",
        payer: from,
      });
    });
  });

  describe("the x402 reference implementation", () => {
    it("a payload signed by the official client verifies", async () => {
      const required: TheirRequired = {
        x402Version: 2,
        resource: { url: "https://api.example.com/premium" },
        accepts: [REQ],
      };
      const theirs = await new x402Client()
        .register("eip155:*", new ExactEvmClient(payer))
        .createPaymentPayload(required);
      expect(theirs.accepted).toEqual(REQ);
      expect(await verify(theirs)).toEqual({ isValid: true, payer: payer.address });
    });

    it("the official facilitator reaches the same verdicts", async () => {
      const wallet = relayer.extend(publicActions);
      const address = wallet.account?.address;
      if (!address) throw new Error("the relayer wallet has no account");
      // @x402/evm 2.27 declares the signer's verifyTypedData narrower than viem 2.57's overloads.
      const official = new ExactEvmFacilitator(toFacilitatorEvmSigner(Object.assign(wallet, { address }) as never));
      const payloads = [
        v2(await sign()),
        v2(await sign({ value: 1_000n }), { ...REQ, amount: "1000" }),
        v2(await sign({ to: THIRD })),
        v2(await sign({ token: "EURC" }), { ...REQ, asset: EURC.address, extra: { name: "EURC", version: "2" } }),
        v2(await sign({ signer: other, from: payer.address })),
        v2(await sign({ validBefore: BigInt(clock() + 3) })),
        v2(await counterfactual()),
      ];
      const verdicts = [];
      for (const payload of payloads) {
        const ours = await verify(payload);
        const theirs = await official.verify(payload, REQ);
        verdicts.push({
          ours: ours.isValid ? "valid" : ours.invalidReason,
          theirs: theirs.isValid ? "valid" : theirs.invalidReason,
        });
        expect(theirs.payer).toBe(ours.payer);
      }
      expect(verdicts.map((v) => v.theirs)).toEqual(verdicts.map((v) => v.ours));
      expect(verdicts.map((v) => v.ours)).toEqual([
        "valid",
        "invalid_exact_evm_payload_authorization_value_mismatch",
        "invalid_exact_evm_recipient_mismatch",
        "invalid_exact_evm_signature",
        "invalid_exact_evm_signature",
        "invalid_exact_evm_payload_authorization_valid_before",
        "eip6492_factory_not_allowed",
      ]);
    });
  });
});
