// An agent talking to the reference platform over HTTP, as the client binding lets any agent do:
// a session, then requests signed with the seeds' runtime message.
import type { Hex, LocalAccount } from "viem";
import { signRuntimeCall } from "../../src/credits/index.ts";
import { SIGNED_HEADERS } from "../../src/platform/index.ts";

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
