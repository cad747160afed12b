import { createHmac, timingSafeEqual } from "node:crypto";
import type { Job, RelayerLogger } from "../relayer/index.ts";
import { jobJson } from "./app.ts";

/** Header carrying the send time (Unix seconds) of a webhook. */
export const WEBHOOK_TIMESTAMP_HEADER = "x-agent-escrow-timestamp";
/** Header carrying `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export const WEBHOOK_SIGNATURE_HEADER = "x-agent-escrow-signature";

const sign = (secret: string, timestamp: string, body: string) =>
  `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;

/**
 * A status hook for `createRelayer({ onStatusChange })` that POSTs each change to `url` as
 * `{ type: "job.status_changed", job }`, signed with HMAC-SHA256 over `"<timestamp>.<body>"`
 * (headers {@link WEBHOOK_TIMESTAMP_HEADER} and {@link WEBHOOK_SIGNATURE_HEADER}). A failed
 * delivery is retried with backoff (`retries`, default 3); the job's state is always in the
 * store, so a receiver that missed one reads it with `GET /jobs/{id}`.
 *
 * @example
 * const relayer = createRelayer({ ..., onStatusChange: webhookNotifier({ url, secret }) });
 */
export function webhookNotifier(options: {
  readonly url: string;
  readonly secret: string;
  readonly retries?: number;
  readonly logger?: RelayerLogger;
  readonly fetch?: typeof fetch;
}): (job: Job) => void {
  const send = options.fetch ?? fetch;
  const retries = options.retries ?? 3;
  return (job) => {
    const body = JSON.stringify({ type: "job.status_changed", job: jobJson(job) });
    void (async () => {
      for (let attempt = 0; attempt <= retries; attempt++) {
        const timestamp = Math.floor(Date.now() / 1000).toString();
        try {
          const res = await send(options.url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
              [WEBHOOK_SIGNATURE_HEADER]: sign(options.secret, timestamp, body),
            },
            body,
          });
          if (res.ok) return;
          options.logger?.warn({ job: job.id, status: res.status }, "webhook refused");
        } catch (error) {
          options.logger?.warn({ job: job.id, error: String(error) }, "webhook not delivered");
        }
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      }
    })();
  };
}

/**
 * Check a webhook's signature (receiver side): the HMAC over `"<timestamp>.<body>"` with the
 * shared secret, and a timestamp within `toleranceSeconds` (default 300) of now.
 */
export function verifyWebhookSignature(options: {
  readonly secret: string;
  readonly body: string;
  readonly timestamp: string | null | undefined;
  readonly signature: string | null | undefined;
  readonly toleranceSeconds?: number;
  readonly now?: number;
}): boolean {
  const { timestamp, signature } = options;
  if (!timestamp || !signature || !/^[0-9]{1,12}$/.test(timestamp)) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(sign(options.secret, timestamp, options.body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
