// A JSON-RPC proxy on 127.0.0.1 in front of a node, for fault tests: it can answer 429 or 503,
// drop the reply after forwarding, delay, and enforce the replacement rule of geth and reth (a
// transaction replacing a pending one must raise both fee fields by more than 10%), which anvil
// does not enforce.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Hex, parseTransaction, recoverTransactionAddress } from "viem";

export type ProxyFaults = {
  /** Answer this HTTP status (429, 503) to the next `count` calls of `method`. */
  status?: { method: string | RegExp; code: number; count: number };
  /** Forward the next `count` calls of `method`, then drop the reply (close the connection). */
  dropReply?: { method: string; count: number };
  /** Delay every reply by this many ms. */
  delayMs?: number;
};

export interface RpcProxy {
  readonly url: string;
  faults: ProxyFaults;
  /** Replacements refused for raising a fee by 10% or less. */
  readonly refusedReplacements: number;
  close(): Promise<void>;
}

type Pending = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };

export async function startRpcProxy(target: string): Promise<RpcProxy> {
  const pending = new Map<string, Pending>();
  let refused = 0;
  const proxy: { faults: ProxyFaults } = { faults: {} };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const call = JSON.parse(body) as { id: number; method: string; params?: unknown[] };
    if (process.env.PROXY_DEBUG) process.stderr.write(`proxy ${call.method}\n`);
    const { status, dropReply, delayMs } = proxy.faults;
    const matches = (m: string | RegExp) => (typeof m === "string" ? m === call.method : m.test(call.method));
    if (status && matches(status.method) && status.count > 0) {
      status.count--;
      res.writeHead(status.code, { "content-type": "text/plain" }).end("unavailable");
      return;
    }
    if (call.method === "eth_sendRawTransaction") {
      const raw = call.params?.[0] as Hex;
      const tx = parseTransaction(raw);
      const from = (await recoverTransactionAddress({ serializedTransaction: raw as never })).toLowerCase();
      const key = `${from}:${tx.nonce}`;
      const before = pending.get(key);
      const fees = { maxFeePerGas: tx.maxFeePerGas ?? 0n, maxPriorityFeePerGas: tx.maxPriorityFeePerGas ?? 0n };
      const raisesEnough = (now: bigint, old: bigint) => now * 10n > old * 11n;
      if (
        before &&
        (fees.maxFeePerGas !== before.maxFeePerGas || fees.maxPriorityFeePerGas !== before.maxPriorityFeePerGas) &&
        !(
          raisesEnough(fees.maxFeePerGas, before.maxFeePerGas) &&
          raisesEnough(fees.maxPriorityFeePerGas, before.maxPriorityFeePerGas)
        )
      ) {
        refused++;
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            jsonrpc: "2.0",
            id: call.id,
            error: { code: -32000, message: "replacement transaction underpriced" },
          }),
        );
        return;
      }
      pending.set(key, fees);
    }
    const upstream = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
    const text = await upstream.text();
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    if (dropReply && dropReply.method === call.method && dropReply.count > 0) {
      dropReply.count--;
      req.socket.destroy();
      return;
    }
    res.writeHead(upstream.status, { "content-type": "application/json" }).end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get faults() {
      return proxy.faults;
    },
    set faults(f: ProxyFaults) {
      proxy.faults = f;
    },
    get refusedReplacements() {
      return refused;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
