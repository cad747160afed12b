// The main job on an embedded chain: an in-process chain reporting Base's id (8453) with Circle's
// real USDC at its canonical address. It deploys the contracts with the Ignition module (CREATE2),
// then runs
//   1. a gasless x402 payment: the agent signs a TransferWithAuthorization, a relayer submits it;
//   2. a bilateral escrow: package verified and signed by the buyer, activation by the relayer,
//      metered usage in a batch with completion, challenge window, settlement;
//   3. a cooperative close: the buyer signs its final usage, the recorder closes and settles at
//      once, with no challenge window;
//   4. a direct stablecoin payment with the platform fee collected by permit.
import { type Address, formatUnits, type Hex, keccak256, type PublicClient, toHex, type WalletClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { directPaymentAbi } from "../src/abi/index.ts";
import { getChainByKey, getToken } from "../src/chains/index.ts";
import {
  buildDirectStablecoinAgreement,
  closeWithFinalVoucher,
  directPaymentCall,
  previewSettlement,
  readEscrowStatus,
  recordUsageBatch,
  settleAgreement,
  signActivation,
  signFinalVoucher,
  submitActivation,
  verifyActivationPackage,
  waitForActive,
} from "../src/client/index.ts";
import { deployAgentEscrow } from "../src/deploy/deploy.ts";
import { loadEconomicParameters } from "../src/deploy/parameters.ts";
import { agreementId, type Terms } from "../src/eip712/index.ts";
import { directPaymentFee } from "../src/fees.ts";
import { startFaithfulChain } from "../src/testing/faithful-chain.ts";
import { encodeJsonHeader, submitExactPayment, x402Payer } from "../src/x402/index.ts";

const base = getChainByKey("base");
const usdc = getToken(base.chainId, "USDC");
const fmt = (v: bigint) => `${formatUnits(v, usdc.decimals)} ${usdc.symbol}`;
const line = (label: string, text: string) => console.log(`${label.padEnd(14)}${text}`);

async function sent(client: PublicClient, hash: Hex, what: string) {
  const receipt = await client.waitForTransactionReceipt({ hash });
  const tx = await client.getTransaction({ hash });
  line("", `${what}: tx ${hash.slice(0, 18)}…, gas ${receipt.gasUsed}, calldata ${(tx.input.length - 2) / 2} bytes`);
}

const local = await startFaithfulChain(base.chainId);
try {
  const client = local.dev.publicClient;
  const [relayer, recorder, platform] = (await local.wallets()) as [WalletClient, WalletClient, WalletClient];
  const agent = privateKeyToAccount(generatePrivateKey());
  const seller = privateKeyToAccount(generatePrivateKey()).address;
  const token = local.token("USDC");
  await token.mint(agent.address, 200_000_000n);

  line("chain", `${base.name}, chain id ${await client.getChainId()} (${base.caip2}), in-process`);
  line(
    "token",
    `${usdc.symbol} at ${usdc.address}: Circle's FiatToken v2.2, "${usdc.domain.name}" v${usdc.domain.version}`,
  );
  const { record } = await deployAgentEscrow(local.connection, {
    owner: platform.account?.address as Address,
    feeRecipient: platform.account?.address as Address,
    economics: loadEconomicParameters("base"),
    network: "sim-base",
    placeCreateX: true,
  });
  const escrow = record.contracts.AgentEscrow.address;
  const direct = record.contracts.DirectPayment.address;
  line("deployed", `AgentEscrow ${escrow}, DirectPayment ${direct} (CREATE2, same on every chain)`);
  line("agent", `${agent.address}  ${fmt(await token.balanceOf(agent.address))}, no ETH`);

  // 1. x402 payment -------------------------------------------------------------------------
  console.log("\n1. x402 'exact' payment, gasless for the agent");
  const challenge = encodeJsonHeader({
    x402Version: 2,
    error: "Payment required",
    resource: { url: "https://seller.example/api/report", description: "Market report", mimeType: "application/json" },
    accepts: [
      {
        scheme: "exact",
        network: base.caip2,
        amount: "5000000",
        asset: usdc.address,
        payTo: seller,
        maxTimeoutSeconds: 300,
        extra: { name: "USD Coin", version: "2" },
      },
    ],
  });
  const pay = x402Payer(agent, { maxAmount: { USDC: 10_000_000n } });
  const { headerName, payment } = await pay(challenge, { nowSeconds: Number((await client.getBlock()).timestamp) });
  line("", `agent signed ${fmt(5_000_000n)} to the seller, sent as ${headerName}`);
  await sent(client, await submitExactPayment(relayer, usdc.address, payment), "relayer executed it");
  line("", `seller ${fmt(await token.balanceOf(seller))}, agent ${fmt(await token.balanceOf(agent.address))}`);

  // 2. escrow ---------------------------------------------------------------------------------
  console.log("\n2. bilateral escrow: deposit 100, usage 60, settle");
  const now = Number((await client.getBlock()).timestamp);
  const terms: Terms = {
    buyer: agent.address,
    seller,
    token: usdc.address,
    feeRecipient: platform.account?.address as Address,
    recorder: recorder.account?.address as Address,
    arbiter: platform.account?.address as Address,
    deposit: 100_000_000n,
    upfrontFee: 0n,
    feeFixed: 10_000n,
    feeCap: 1_000_000n,
    feeBps: 100,
    fallbackBps: 5_000,
    challengeWindow: 3_600,
    resolutionWindow: 3_600,
    serviceExpiry: now + 86_400,
    salt: keccak256(toHex(`demo-agreement-${now}`)),
  };
  const pkg = {
    agreementId: agreementId(terms, { chainId: base.chainId, escrow }),
    chainId: base.chainId,
    escrow,
    upfrontFeePending: false,
    terms: { ...terms, deposit: "100000000", upfrontFee: "0", feeFixed: "10000", feeCap: "1000000" },
  };
  const verified = await verifyActivationPackage(
    pkg,
    {
      buyer: agent.address,
      escrow,
      chainId: base.chainId,
      parties: { seller, recorder: terms.recorder, arbiter: terms.arbiter },
      maxDeposit: { USDC: 100_000_000n },
    },
    client,
  );
  const signed = await signActivation(agent, verified, { validBefore: BigInt(now + 600) });
  line(
    "",
    `buyer verified the package and signed a ReceiveWithAuthorization (nonce = agreement id ${verified.id.slice(0, 12)}…)`,
  );
  await sent(client, await submitActivation(relayer, client, escrow, signed), "relayer activated");
  const active = await waitForActive({ client, escrow, terms, timeoutMs: 5_000, pollMs: 100 });
  line("", `status ${active.outcome}, escrow holds ${fmt(await token.balanceOf(escrow))}`);
  await sent(
    client,
    await recordUsageBatch(recorder, client, escrow, [
      { agreementId: verified.id, cumulativeUsage: 60_000_000n, logRef: keccak256(toHex("usage-log")), complete: true },
    ]),
    "recorder recorded 60 and completed",
  );
  await local.dev.testClient.increaseTime({ seconds: terms.challengeWindow });
  await local.dev.testClient.mine({ blocks: 1 });
  const preview = await previewSettlement(client, escrow, terms);
  line(
    "",
    `after the challenge window: seller ${fmt(preview.toSeller)}, fee ${fmt(preview.fee)}, refund ${fmt(preview.refund)}`,
  );
  await sent(client, await settleAgreement(relayer, client, escrow, terms), "settled");
  line(
    "",
    `status ${(await readEscrowStatus(client, escrow, terms)).status}; seller ${fmt(await token.balanceOf(seller))}, agent ${fmt(await token.balanceOf(agent.address))}`,
  );

  // 3. cooperative close ----------------------------------------------------------------------
  console.log("\n3. cooperative close: deposit 20, the buyer signs its final usage of 12, one transaction settles");
  const later = Number((await client.getBlock()).timestamp);
  const closing: Terms = { ...terms, deposit: 20_000_000n, salt: keccak256(toHex(`demo-close-${later}`)) };
  const closingVerified = await verifyActivationPackage(
    {
      ...pkg,
      agreementId: agreementId(closing, { chainId: base.chainId, escrow }),
      terms: { ...pkg.terms, deposit: "20000000", salt: closing.salt },
    },
    {
      buyer: agent.address,
      escrow,
      chainId: base.chainId,
      parties: { seller, recorder: closing.recorder, arbiter: closing.arbiter },
      maxDeposit: { USDC: 100_000_000n },
    },
    client,
  );
  const closingSigned = await signActivation(agent, closingVerified, { validBefore: BigInt(later + 600) });
  await sent(client, await submitActivation(relayer, client, escrow, closingSigned), "relayer activated");
  const deadline = later + 600;
  const finalVoucher = await signFinalVoucher(
    agent,
    { chainId: base.chainId, escrow },
    closingVerified.id,
    12_000_000n,
    deadline,
  );
  line("", "buyer signed its final usage voucher for 12 USDC");
  const before = { seller: await token.balanceOf(seller), agent: await token.balanceOf(agent.address) };
  await sent(
    client,
    await closeWithFinalVoucher(recorder, client, escrow, closing, {
      usage: 12_000_000n,
      deadline,
      signature: finalVoucher,
    }),
    "recorder closed and settled",
  );
  line(
    "",
    `status ${(await readEscrowStatus(client, escrow, closing)).status}; seller +${fmt((await token.balanceOf(seller)) - before.seller)}, agent refunded ${fmt((await token.balanceOf(agent.address)) - before.agent)}`,
  );

  // 4. direct payment ---------------------------------------------------------------------------
  console.log("\n4. direct stablecoin payment, fee 2% + $0.003 (min $0.10) by permit");
  const amount = 20_000_000n;
  const built = await buildDirectStablecoinAgreement(
    agent,
    {
      accept: {
        scheme: "exact",
        network: base.caip2,
        amount: amount.toString(),
        asset: usdc.address,
        payTo: seller,
        maxTimeoutSeconds: 300,
        extra: { name: "USD Coin", version: "2" },
      },
      fee: {
        amount: directPaymentFee(amount).toString(),
        bps: 200,
        fixedFee: "3000",
        minFee: "100000",
        spender: direct,
      },
    },
    {
      maxAmount: 50_000_000n,
      directPayment: direct,
      publicClient: client,
      nowSeconds: Number((await client.getBlock()).timestamp),
    },
  );
  line("", `agent signed the x402 payment and a fee permit of ${fmt(built.fee)} in one call`);
  await sent(
    client,
    await relayer.writeContract({
      address: direct,
      abi: directPaymentAbi,
      functionName: "pay",
      args: directPaymentCall(built),
      account: relayer.account ?? null,
      chain: relayer.chain,
    }),
    "platform executed it",
  );
  line("", `seller ${fmt(await token.balanceOf(seller))}, agent ${fmt(await token.balanceOf(agent.address))}`);
} finally {
  await local.close();
}
