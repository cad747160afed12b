// The escrow path through the reference platform, for tests and benchmarks: from a proposal to
// the activation request, with the agents of scripts/agents.
import type { Hex } from "viem";
import { agreementStatus, type PlatformAgent, platformAgent } from "../../scripts/agents/platform-agent.ts";
import { signActivation, type VerifiedActivation, verifyActivationPackage } from "../../src/client/index.ts";
import { base, type RelayerChainFixture } from "./relayer-chain.ts";

export { agreementStatus, type PlatformAgent, platformAgent };

/**
 * The escrow path up to the activation request: the buyer proposes, the seller accepts, the buyer
 * verifies the package against its own policy and signs, and posts activate-escrow.
 */
export async function proposeAndActivate(options: {
  readonly url: string;
  readonly chain: RelayerChainFixture;
  readonly seller: PlatformAgent;
  readonly buyer: PlatformAgent;
  readonly serviceId: string;
  readonly deposit: bigint;
}): Promise<{ id: Hex; verified: VerifiedActivation; response: Response }> {
  const { url, chain, seller, buyer, serviceId, deposit } = options;
  const proposed = await buyer.call("POST", "/usage-agreements", "propose", serviceId, {
    service_id: serviceId,
    buyer_wallet: buyer.address,
    deposit: deposit.toString(),
  });
  const { agreement_id: id } = (await proposed.json()) as { agreement_id: Hex };
  await seller.call("PUT", `/usage-agreements/${id}/accept`, "accept", id);
  const pkg: unknown = await (await fetch(`${url}/usage-agreements/${id}/activation-package`)).json();
  const verified = await verifyActivationPackage(
    pkg,
    {
      buyer: buyer.address,
      escrow: chain.escrow,
      chainId: base.chainId,
      parties: { seller: seller.address },
      maxDeposit: { USDC: deposit },
    },
    chain.dev.publicClient,
  );
  const now = Number((await chain.dev.publicClient.getBlock()).timestamp);
  const body = await signActivation(buyer.account, verified, { validBefore: BigInt(now + 3_600) });
  const response = await fetch(`${url}/usage-agreements/${id}/activate-escrow`, {
    method: "POST",
    body: JSON.stringify(body),
  });
  return { id, verified, response };
}
