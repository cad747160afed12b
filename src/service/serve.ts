import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";

/** A service listening on a port. */
export type ServedService = {
  /** `http://host:port`. */
  readonly url: string;
  close(): Promise<void>;
};

/**
 * Serve a Hono app (the relayer service) on Node's HTTP server. Port 0 picks a free one.
 *
 * @example
 * const served = await serveRelayerService(createRelayerService({ relayer }), { port: 8787 });
 */
export function serveRelayerService(
  app: Hono,
  options: { readonly port?: number; readonly hostname?: string } = {},
): Promise<ServedService> {
  const hostname = options.hostname ?? "127.0.0.1";
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname }, (info: AddressInfo) => {
      resolve({
        url: `http://${hostname}:${info.port}`,
        close: () => new Promise<void>((done, fail) => server.close((error) => (error ? fail(error) : done()))),
      });
    });
  });
}
