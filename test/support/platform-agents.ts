// Agents talking to the reference platform over HTTP, as the client binding lets any agent do:
// a session, then requests signed with the seeds' runtime message; and the escrow path from a
// proposal to the activation request.
import type { Hex, LocalAccount } from "viem";
import { signActivation, type VerifiedActivation, verifyActivationPackage } from "../../src/client/index.ts";
import { signRuntimeCall } from "../../src/credits/index.ts";
import { SIGNED_HEADERS } from "../../src/platform/index.ts";
import { base, type RelayerChainFixture } from "./relayer-chain.ts";

export type PlatformAgent = {
  readonly address: Hex;
  readonly account: LocalAccount;
  /** The headers of a request signed over `body`, with a fresh request id unless one is given. */
  headersFor(action: string, productId: string, body: unknown, requestId?: string): Promise<Record<string, string>>;
  /** Send a signed request. */
  call(method: string, path: string, action: string, productId: string, body?: unknown): Promise<Response>;
};

export function platformAgent(url: string, account: LocalAccount): PlatformAgent {
  let session: string | undefined;
  let n = 0;
  const headersFor = async (action: string, productId: string, body: unknown, requestId?: string) => {
    if (!session) {
      const res = await fetch(`${url}/api/external/auth/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ wallet_address: account.address }),
      });
      session = ((await res.json()) as { session_nonce: string }).session_nonce;
    }
    const id = requestId ?? `req-${account.address}-${n++}-${Math.random()}`;
    const { signature } = await signRuntimeCall(account, {
      wallet: account.address,
      sessionNonce: session,
      requestId: id,
      action,
      productId,
      parameters: body,
    });
    return {
      "content-type": "application/json",
      [SIGNED_HEADERS.wallet]: account.address,
      [SIGNED_HEADERS.session]: session,
      [SIGNED_HEADERS.requestId]: id,
      [SIGNED_HEADERS.signature]: signature,
    };
  };
  return {
    address: account.address,
    account,
    headersFor,
    async call(method, path, action, productId, body = {}) {
      return fetch(`${url}${path}`, {
        method,
        headers: await headersFor(action, productId, body),
        body: JSON.stringify(body),
      });
    },
  };
}

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

/** Poll `GET /usage-agreements/{id}` until `done` holds (10 s at most). */
export async function agreementStatus(
  url: string,
  id: string,
  done: (status: string) => boolean,
): Promise<{ status: string; [field: string]: unknown }> {
  let last = { status: "" };
  for (let i = 0; i < 200; i++) {
    last = (await (await fetch(`${url}/usage-agreements/${id}`)).json()) as { status: string };
    if (done(last.status)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}
