import type { Context, MiddlewareHandler } from "hono";
import type { Facilitator } from "../relayer/index.ts";
import { encodeJsonHeader, type PaymentRequired, type PaymentRequirements, type ResourceInfo } from "../wire/index.ts";
import { type FacilitatorPaymentPayload, HEADERS, readPayment } from "../x402/index.ts";

/** Options of {@link x402Paywall}. */
export type PaywallOptions = {
  /** Verifies and settles (this package's facilitator, in process or over HTTP). */
  readonly facilitator: Pick<Facilitator, "verify" | "settle">;
  /** The ways to pay for this resource, as advertised in `PAYMENT-REQUIRED`. */
  readonly accepts: (c: Context) => readonly PaymentRequirements[] | Promise<readonly PaymentRequirements[]>;
  /** The resource described in the 402 (default: the request's URL). */
  readonly resource?: (c: Context) => ResourceInfo;
};

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Hono middleware for a paid resource (x402 v2, 'exact'). Without a payment it answers 402 with
 * `PAYMENT-REQUIRED`. With one (read from the headers in the documented alias order:
 * `PAYMENT-SIGNATURE`, `PAYMENT`, `X-PAYMENT`), it verifies the payment against the requirements
 * it advertised (never against what the payer claims to have accepted), serves the request, then
 * settles and answers with `PAYMENT-RESPONSE` and `X-PAYMENT-RESPONSE`. A refused payment or a
 * failed settlement answers 402 and the resource is not delivered; a settlement still pending
 * (broadcast, not yet confirmed) delivers it with the pending response; one not yet broadcast
 * answers 402.
 *
 * @example
 * app.get("/premium", x402Paywall({ facilitator, accepts: () => [requirements] }), (c) => c.json(data));
 */
export function x402Paywall(options: PaywallOptions): MiddlewareHandler {
  return async (c, next) => {
    const accepts = [...(await options.accepts(c))];
    const resource = options.resource?.(c) ?? { url: c.req.url };
    const required = (error: string, extra: Record<string, unknown> = {}) => {
      const body: PaymentRequired = { x402Version: 2, error, resource, accepts };
      return c.json({ ...body, ...extra }, 402, {
        [HEADERS.paymentRequired]: encodeJsonHeader(body),
        "cache-control": "no-store",
      });
    };
    let inbound: ReturnType<typeof readPayment>;
    try {
      inbound = readPayment(c.req.raw.headers);
    } catch (error) {
      return required("invalid_payload", { message: error instanceof Error ? error.message : String(error) });
    }
    if (!inbound) return required("Payment required");

    // The requirement this payment answers: the advertised one it claims to accept, else the
    // first on its network and asset. The verification compares the payment with it.
    const claimed = inbound.accepted;
    const requirement =
      (claimed &&
        accepts.find(
          (r) =>
            r.scheme === claimed.scheme &&
            r.network === claimed.network &&
            sameAddress(r.asset, claimed.asset) &&
            sameAddress(r.payTo, claimed.payTo) &&
            r.amount === claimed.amount,
        )) ??
      accepts.find((r) => r.network === inbound.network && sameAddress(r.asset, inbound.asset)) ??
      accepts[0];
    if (!requirement) return required("no payment requirements");
    const payload: FacilitatorPaymentPayload = {
      x402Version: inbound.x402Version,
      accepted: claimed ?? requirement,
      payload: { authorization: inbound.authorization, signature: inbound.signature },
    };
    const verdict = await options.facilitator.verify(payload, requirement);
    if (!verdict.isValid) {
      return required(verdict.invalidReason ?? "invalid_payment", {
        ...(verdict.invalidMessage ? { message: verdict.invalidMessage } : {}),
      });
    }

    await next();
    if (c.res.status >= 400) return; // nothing delivered, nothing settled

    const settled = await options.facilitator.settle(payload, requirement);
    const header = encodeJsonHeader(settled);
    // Delivered once settled, or once its transaction is broadcast (the facilitator tells one
    // caller of a payment "pending", with the hash): never for a settlement not yet sent.
    if (settled.success || (settled.errorReason === "settlement_pending" && settled.transaction !== "")) {
      c.res.headers.set(HEADERS.paymentResponse, header);
      c.res.headers.set(HEADERS.xPaymentResponse, header);
      return;
    }
    c.res = required(settled.errorReason ?? "settlement_failed", { settlement: settled });
    c.res.headers.set(HEADERS.paymentResponse, header);
    c.res.headers.set(HEADERS.xPaymentResponse, header);
  };
}
