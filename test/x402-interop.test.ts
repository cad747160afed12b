// Interoperability with the x402 reference implementation (@x402/core and @x402/evm, used here
// only as a peer to talk to): its headers are accepted by this codec, and this codec's by it.
import { x402Client } from "@x402/core/client";
import {
  decodePaymentRequiredHeader,
  decodePaymentResponseHeader,
  decodePaymentSignatureHeader,
  encodePaymentRequiredHeader,
  encodePaymentResponseHeader,
  encodePaymentSignatureHeader,
} from "@x402/core/http";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { signAuthorization } from "../src/eip712/index.ts";
import {
  decodePaymentPayload,
  decodePaymentRequired,
  decodePaymentResponse,
  encodeJsonHeader,
  type PaymentRequired,
  x402Payer,
} from "../src/x402/index.ts";

const account = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const required: PaymentRequired = {
  x402Version: 2,
  error: "Payment required",
  resource: {
    url: "https://api.example.com/premium-data",
    description: "Access to premium market data",
    mimeType: "application/json",
  },
  accepts: [
    {
      scheme: "exact",
      network: "eip155:8453",
      amount: "250000",
      asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
      payTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
      maxTimeoutSeconds: 120,
      extra: { name: "USD Coin", version: "2" },
    },
  ],
};

describe("x402 reference implementation interop", () => {
  it("PAYMENT-REQUIRED: each side decodes the other's header to the same object", () => {
    expect(decodePaymentRequired(encodePaymentRequiredHeader(required as never))).toEqual(required);
    expect(decodePaymentRequiredHeader(encodeJsonHeader(required))).toEqual(required);
    expect(encodeJsonHeader(required)).toBe(encodePaymentRequiredHeader(required as never));
  });

  it("PAYMENT-SIGNATURE from the reference client is read, and its signature checks out", async () => {
    const client = new x402Client().register("eip155:*", new ExactEvmScheme(account));
    const payload = await client.createPaymentPayload(decodePaymentRequiredHeader(encodeJsonHeader(required)));
    const inbound = decodePaymentPayload(encodePaymentSignatureHeader(payload));
    expect(inbound).toMatchObject({
      shape: "v2",
      scheme: "exact",
      network: "eip155:8453",
      asset: required.accepts[0]?.asset,
    });
    const a = inbound.authorization;
    const expected = await signAuthorization(
      account,
      { name: "USD Coin", version: "2", chainId: 8453, verifyingContract: inbound.asset },
      {
        from: a.from,
        to: a.to,
        value: BigInt(a.value),
        validAfter: BigInt(a.validAfter),
        validBefore: BigInt(a.validBefore),
        nonce: a.nonce,
      },
    );
    expect(inbound.signature).toBe(expected);
  });

  it("PAYMENT-SIGNATURE made here is decoded by the reference implementation", async () => {
    const pay = x402Payer(account, { maxAmount: { USDC: 1_000_000n } }, { style: "v2" });
    const { headerName, headerValue } = await pay(encodeJsonHeader(required));
    expect(headerName).toBe("PAYMENT-SIGNATURE");
    const theirs = decodePaymentSignatureHeader(headerValue) as unknown as {
      x402Version: number;
      accepted: unknown;
      payload: { authorization: { from: string; value: string } };
    };
    expect(theirs.x402Version).toBe(2);
    expect(theirs.accepted).toEqual(required.accepts[0]);
    expect(theirs.payload.authorization).toMatchObject({ from: account.address, value: "250000" });
  });

  it("PAYMENT-RESPONSE: each side decodes the other's header", () => {
    const settlement = {
      success: true,
      transaction: "0xaa37bd14ff0f17d20ef9988b86c369e2615a20ed2948dd74b8423378f93ff267",
      network: "eip155:8453",
      payer: account.address,
    };
    expect(decodePaymentResponse(encodePaymentResponseHeader(settlement as never))).toEqual(settlement);
    expect(decodePaymentResponseHeader(encodeJsonHeader(settlement))).toEqual(settlement);
  });
});
