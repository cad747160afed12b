// Path A end to end: the agent buys credits through the x402 handshake against a local HTTP server
// that implements the documented contract and settles the payment on a Base-faithful chain with
// Circle's real USDC (the server reads the payment header in the documented alias order).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { WalletClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, expect, it } from "vitest";
import { purchaseCredits, sponsorMessage } from "../src/credits/index.ts";
import { type FaithfulChain, startFaithfulChain } from "../src/testing/faithful-chain.ts";
import {
  decodePaymentPayload,
  decodePaymentResponse,
  encodeJsonHeader,
  readPayment,
  submitExactPayment,
  x402Payer,
} from "../src/x402/index.ts";

const agent = privateKeyToAccount("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a");
const COLLECTOR = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
let local: FaithfulChain;
let server: Server;
let endpoint: string;
const requestIds: string[] = [];

beforeAll(async () => {
  local = await startFaithfulChain("base");
  await local.token("USDC").mint(agent.address, 20_000_000n);
  const [facilitator] = (await local.wallets()) as [WalletClient];
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
      wallet_address: string;
      credits: number;
      request_id: string;
    };
    requestIds.push(body.request_id);
    const payment = readPayment(req.headers);
    if (!payment) {
      const required = {
        x402Version: 2,
        error: "Payment required",
        resource: { url: endpoint, description: "Purchase AgentPMT Credits", mimeType: "application/json" },
        accepts: [
          {
            scheme: "exact",
            network: "eip155:8453",
            amount: String(body.credits * 10_000),
            asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
            payTo: COLLECTOR,
            maxTimeoutSeconds: 300,
            extra: { name: "USD Coin", version: "2", resourceUrl: endpoint },
          },
        ],
      };
      res.writeHead(402, { "content-type": "application/json", "PAYMENT-REQUIRED": encodeJsonHeader(required) });
      res.end(JSON.stringify({ error: "Payment required" }));
      return;
    }
    const a = payment.authorization;
    try {
      const { hash } = await submitExactPayment(facilitator, payment.asset, payment);
      const settlement = { success: true, transaction: hash, network: payment.network, payer: a.from };
      res.writeHead(200, { "content-type": "application/json", "PAYMENT-RESPONSE": encodeJsonHeader(settlement) });
      res.end(
        JSON.stringify({
          message: "Credits purchased successfully",
          wallet_address: body.wallet_address,
          balance_credits: body.credits,
          balance_usd: body.credits / 100,
        }),
      );
    } catch (error) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: (error as Error).message.split("\n")[0] }));
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/external/credits/purchase`;
});
afterAll(async () => {
  await new Promise<void>((r) => server?.close(() => r()));
  await local?.close();
});

it("buys 500 credits: 402, signed X-PAYMENT, on-chain settlement, PAYMENT-RESPONSE", async () => {
  const pay = x402Payer(agent, { maxAmount: { USDC: 5_000_000n } });
  const before = await local.token("USDC").balanceOf(COLLECTOR);
  const result = await purchaseCredits({
    endpoint,
    walletAddress: agent.address,
    credits: 500,
    pay: async (header) => {
      const { headerName, headerValue } = await pay(header, {
        nowSeconds: Number((await local.dev.publicClient.getBlock()).timestamp),
      });
      return { headerName, headerValue };
    },
  });
  expect(result.status).toBe(200);
  expect(result.body).toMatchObject({ balance_credits: 500 });
  expect((await local.token("USDC").balanceOf(COLLECTOR)) - before).toBe(5_000_000n);
  const settlement = decodePaymentResponse(result.paymentResponse as string);
  expect(settlement).toMatchObject({ success: true, network: "eip155:8453", payer: agent.address });
  expect(new Set(requestIds).size).toBe(1);
  expect(requestIds).toHaveLength(2);
});

it("a human sponsor's nonce: message equals the X-PAYMENT authorization nonce byte for byte", async () => {
  const human = privateKeyToAccount("0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6");
  await local.token("USDC").mint(human.address, 5_000_000n);
  const pay = x402Payer(human, { maxAmount: { USDC: 5_000_000n } });
  let message = "";
  let sentHeader = "";
  await purchaseCredits({
    endpoint,
    walletAddress: agent.address,
    credits: 500,
    payerWalletAddress: human.address,
    pay: async (header) => {
      const signed = await pay(header, { nowSeconds: Number((await local.dev.publicClient.getBlock()).timestamp) });
      message = sponsorMessage({
        payer: human.address,
        recipient: agent.address,
        credits: 500,
        reference: { kind: "nonce", nonce: signed.payment.authorization.nonce },
      });
      sentHeader = signed.headerValue;
      return { headerName: signed.headerName, headerValue: signed.headerValue };
    },
  });
  const sentNonce = decodePaymentPayload(sentHeader).authorization.nonce;
  expect(message.split("\n").at(-1)).toBe(`nonce:${sentNonce}`);
  expect(message.split("\n").slice(0, 4)).toEqual([
    "agentpmt-external-sponsor",
    `payer:${human.address.toLowerCase()}`,
    `recipient:${agent.address.toLowerCase()}`,
    "credits:500",
  ]);
});
