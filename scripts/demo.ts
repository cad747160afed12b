// The main job on an embedded chain: boots an in-process chain that reports Base's chain id
// (8453) with Circle's real USDC at its canonical address, then runs a gasless x402-style payment:
// the agent wallet signs an EIP-3009 TransferWithAuthorization locally, and a relayer account
// submits it and pays the gas.
import { formatUnits, type Hex, keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { fiatTokenAbi } from "../src/abi/index.ts";
import { getChainByKey, getToken, tokenDomain } from "../src/chains/index.ts";
import { signAuthorization } from "../src/eip712/index.ts";
import { startFaithfulChain } from "../src/testing/faithful-chain.ts";

const base = getChainByKey("base");
const usdc = getToken(base.chainId, "USDC");
const fmt = (v: bigint) => `${formatUnits(v, usdc.decimals)} ${usdc.symbol}`;

const local = await startFaithfulChain(base.chainId);
try {
  const { publicClient } = local.dev;
  const [relayer] = await local.wallets();
  if (!relayer?.account) throw new Error("no relayer account");
  const agent = privateKeyToAccount(generatePrivateKey());
  const seller = privateKeyToAccount(generatePrivateKey()).address;
  const token = local.token("USDC");

  console.log(`chain        ${base.name}, chain id ${await publicClient.getChainId()} (${base.caip2}), in-process`);
  console.log(
    `token        ${usdc.symbol} at ${usdc.address} (Circle FiatToken v2.2, "${usdc.domain.name}" v${usdc.domain.version})`,
  );
  await token.mint(agent.address, 10_000_000n);
  console.log(`agent        ${agent.address}  ${fmt(await token.balanceOf(agent.address))}, no ETH`);
  console.log(`seller       ${seller}  ${fmt(await token.balanceOf(seller))}`);
  console.log(`relayer      ${relayer.account.address}`);

  const price = 5_000_000n;
  const nowSeconds = BigInt(Math.floor(Date.now() / 1000));
  const authorization = {
    from: agent.address,
    to: seller,
    value: price,
    validAfter: 0n,
    validBefore: nowSeconds + 300n,
    nonce: keccak256(toHex(`demo-${agent.address}`)) as Hex,
  };
  const signature = await signAuthorization(agent, tokenDomain(base.chainId, "USDC"), authorization);
  console.log(`\nagent signs  TransferWithAuthorization ${fmt(price)} -> seller, nonce ${authorization.nonce}`);

  const hash = await relayer.writeContract({
    address: usdc.address,
    abi: fiatTokenAbi,
    functionName: "transferWithAuthorization",
    args: [
      authorization.from,
      authorization.to,
      authorization.value,
      authorization.validAfter,
      authorization.validBefore,
      authorization.nonce,
      signature,
    ],
    account: relayer.account,
    chain: relayer.chain,
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  const tx = await publicClient.getTransaction({ hash });
  console.log(`relayer sent ${hash}`);
  console.log(
    `             status ${receipt.status}, block ${receipt.blockNumber}, gas used ${receipt.gasUsed}, calldata ${(tx.input.length - 2) / 2} bytes`,
  );
  console.log(`\nagent        ${fmt(await token.balanceOf(agent.address))}`);
  console.log(`seller       ${fmt(await token.balanceOf(seller))}`);
  const used = await publicClient.readContract({
    address: usdc.address,
    abi: fiatTokenAbi,
    functionName: "authorizationState",
    args: [agent.address, authorization.nonce],
  });
  console.log(`nonce used   ${used} (a replay would revert)`);
} finally {
  await local.close();
}
