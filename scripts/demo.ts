// The main job on an embedded chain: an in-process chain reporting Base's id (8453) with Circle's
// real USDC at its canonical address. It deploys the contracts with the Ignition module (CREATE2),
// then runs
//   1. a gasless x402 payment: the agent signs a TransferWithAuthorization, a relayer submits it;
//   2. a bilateral escrow: package verified and signed by the buyer, activation by the relayer,
//      metered usage in a batch with completion, challenge window, settlement;
//   3. a cooperative close: the buyer signs its final usage, the recorder closes and settles at
//      once, with no challenge window;
//   4. a direct stablecoin payment with the platform fee collected by permit.
import {
  type Address,
  formatUnits,
  type Hex,
  keccak256,
  type PublicClient,
  type TransactionReceipt,
  toHex,
  type WalletClient,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  closeWithFinalVoucher,
  pay,
  previewSettlement,
  readAgreement,
  recordUsageBatch,
  settle,
} from "../src/actions/index.ts";
import { getChainByKey, getToken } from "../src/chains/index.ts";
import {
  buildDirectStablecoinAgreement,
  signActivation,
  signFinalVoucher,
  submitActivation,
  verifyActivationPackage,
  waitForActive,
} from "../src/client/index.ts";
import { deployAgentEscrow } from "../src/deploy/deploy.ts";
import { loadEconomicParameters } from "../src/deploy/parameters.ts";
import { agreementRef, type Terms } from "../src/eip712/index.ts";
import { directPaymentFee } from "../src/fees.ts";
import { startFaithfulChain } from "../src/testing/faithful-chain.ts";
import { serializeActivationPackage } from "../src/wire/index.ts";
import { encodeJsonHeader, submitExactPayment, x402Payer } from "../src/x402/index.ts";

const base = getChainByKey("base");
const usdc = getToken(base.chainId, "USDC");
const fmt = (v: bigint) => `${formatUnits(v, usdc.decimals)} ${usdc.symbol}`;
const line = (label: string, text: string) => console.log(`${label.padEnd(14)}${text}`);

/** Print what a write cost: its hash, gas and calldata bytes. */
async function sent(
  client: PublicClient,
  result: Promise<{ hash: Hex; receipt: TransactionReceipt }>,
  what: string,
): Promise<void> {
  const { hash, receipt } = await result;
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
  const x402Pay = x402Payer(agent, { maxAmount: { USDC: 10_000_000n } });
  const { headerName, payment } = await x402Pay(challenge, { nowSeconds: Number((await client.getBlock()).timestamp) });
  line("", `agent signed ${fmt(5_000_000n)} to the seller, sent as ${headerName}`);
  await sent(client, submitExactPayment(relayer, usdc.address, payment), "relayer executed it");
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
  // The seller's backend hands the buyer the activation package (here, built from the accepted terms).
  const escrowDomain = { chainId: base.chainId, escrow };
  const pkg = serializeActivationPackage({ agreement: agreementRef(terms, escrowDomain), upfrontFeePending: false });
  const policy = {
    buyer: agent.address,
    escrow,
    chainId: base.chainId,
    parties: { seller, recorder: terms.recorder, arbiter: terms.arbiter },
    maxDeposit: { USDC: 100_000_000n },
  };
  const verified = await verifyActivationPackage(pkg, policy, client);
  const { agreement } = verified;
  const body = await signActivation(agent, verified, { validBefore: BigInt(now + 600) });
  line(
    "",
    `buyer verified the package and signed a ReceiveWithAuthorization (nonce = agreement id ${agreement.id.slice(0, 12)}…)`,
  );
  await sent(client, submitActivation(relayer, body, escrowDomain), "relayer activated");
  const active = await waitForActive({ client, agreement, timeoutMs: 5_000, pollMs: 100 });
  line("", `status ${active.outcome}, escrow holds ${fmt(await token.balanceOf(escrow))}`);
  await sent(
    client,
    recordUsageBatch(recorder, escrow, [
      {
        agreementId: agreement.id,
        cumulativeUsage: 60_000_000n,
        logRef: keccak256(toHex("usage-log")),
        complete: true,
      },
    ]),
    "recorder recorded 60 and completed",
  );
  await local.dev.testClient.increaseTime({ seconds: terms.challengeWindow });
  await local.dev.testClient.mine({ blocks: 1 });
  const preview = await previewSettlement(client, agreement);
  line(
    "",
    `after the challenge window: seller ${fmt(preview.toSeller)}, fee ${fmt(preview.fee)}, refund ${fmt(preview.refund)}`,
  );
  await sent(client, settle(relayer, agreement), "settled");
  line(
    "",
    `status ${(await readAgreement(client, agreement)).status}; seller ${fmt(await token.balanceOf(seller))}, agent ${fmt(await token.balanceOf(agent.address))}`,
  );

  // 3. cooperative close ----------------------------------------------------------------------
  console.log("\n3. cooperative close: deposit 20, the buyer signs its final usage of 12, one transaction settles");
  const later = Number((await client.getBlock()).timestamp);
  const closingTerms: Terms = { ...terms, deposit: 20_000_000n, salt: keccak256(toHex(`demo-close-${later}`)) };
  const closingPkg = serializeActivationPackage({
    agreement: agreementRef(closingTerms, escrowDomain),
    upfrontFeePending: false,
  });
  const closingVerified = await verifyActivationPackage(closingPkg, policy, client);
  const closing = closingVerified.agreement;
  const closingBody = await signActivation(agent, closingVerified, { validBefore: BigInt(later + 600) });
  await sent(client, submitActivation(relayer, closingBody, escrowDomain), "relayer activated");
  const deadline = later + 600;
  const finalVoucher = await signFinalVoucher(agent, closing, 12_000_000n, deadline);
  line("", "buyer signed its final usage voucher for 12 USDC");
  const before = { seller: await token.balanceOf(seller), agent: await token.balanceOf(agent.address) };
  await sent(
    client,
    closeWithFinalVoucher(recorder, closing, { usage: 12_000_000n, deadline, signature: finalVoucher }),
    "recorder closed and settled",
  );
  line(
    "",
    `status ${(await readAgreement(client, closing)).status}; seller +${fmt((await token.balanceOf(seller)) - before.seller)}, agent refunded ${fmt((await token.balanceOf(agent.address)) - before.agent)}`,
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
  await sent(client, pay(relayer, direct, built.order), "platform executed it");
  line("", `seller ${fmt(await token.balanceOf(seller))}, agent ${fmt(await token.balanceOf(agent.address))}`);
} finally {
  await local.close();
}
