import type { Context, Hono } from "hono";
import type { Facilitator } from "../relayer/index.ts";
import { type PaymentRequirements, parseRequirements } from "../wire/index.ts";
import type { FacilitatorPaymentPayload } from "../x402/index.ts";
import { jsonBody } from "./app.ts";
import { ServiceError } from "./errors.ts";

type Refusal = { status: 400; invalidMessage: string };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

/**
 * The body of `POST /verify` and `POST /settle` (x402 v2: `{ x402Version, paymentPayload,
 * paymentRequirements }`), or why it does not parse. The fields of the payment itself are the
 * verification's to judge.
 */
function facilitatorBody(
  body: unknown,
): { payload: FacilitatorPaymentPayload; requirements: PaymentRequirements } | Refusal {
  if (!isRecord(body)) return { status: 400, invalidMessage: "the body must be a JSON object" };
  const p = body.paymentPayload;
  if (!isRecord(p) || typeof p.x402Version !== "number" || !isRecord(p.payload)) {
    return { status: 400, invalidMessage: "paymentPayload must be an x402 PaymentPayload" };
  }
  let requirements: PaymentRequirements;
  let accepted: PaymentRequirements;
  try {
    requirements = parseRequirements(body.paymentRequirements, "paymentRequirements");
    accepted = parseRequirements(p.accepted, "paymentPayload.accepted");
  } catch (error) {
    return { status: 400, invalidMessage: error instanceof Error ? error.message : String(error) };
  }
  const payload: FacilitatorPaymentPayload = {
    x402Version: p.x402Version,
    accepted,
    payload: p.payload,
    ...(p.resource !== undefined ? { resource: p.resource } : {}),
    ...(p.extensions !== undefined ? { extensions: p.extensions } : {}),
  };
  return { payload, requirements };
}

/**
 * Mount an x402 v2 facilitator's HTTP endpoints: `POST /verify`, `POST /settle`, `GET /supported`.
 * A verdict is answered with 200 (`isValid: false` / `success: false` with the reference reason
 * strings), as the x402 HTTP facilitator client expects; a body that does not parse with 400 and
 * `invalid_payload`; an unreachable chain or store with 503.
 *
 * @example
 * const app = createRelayerService({ relayer, mount: (app) => mountFacilitator(app, createFacilitator({ relayer })) });
 */
export function mountFacilitator(
  app: Hono,
  facilitator: Facilitator,
  options: { readonly prefix?: string } = {},
): void {
  const prefix = options.prefix ?? "";
  // A body that is not JSON is a payload that does not parse: 400 `invalid_payload` in the
  // facilitator protocol's shape, not the service's BODY_NOT_JSON error.
  const parsed = async (c: Context) => {
    let body: unknown;
    try {
      body = await jsonBody(c);
    } catch (error) {
      if (!(error instanceof ServiceError && error.is("BODY_NOT_JSON"))) throw error;
      return { status: 400, invalidMessage: error.message } satisfies Refusal;
    }
    return facilitatorBody(body);
  };

  app.post(`${prefix}/verify`, async (c) => {
    const body = await parsed(c);
    if ("status" in body)
      return c.json({ isValid: false, invalidReason: "invalid_payload", invalidMessage: body.invalidMessage }, 400);
    return c.json(await facilitator.verify(body.payload, body.requirements));
  });

  app.post(`${prefix}/settle`, async (c) => {
    const body = await parsed(c);
    if ("status" in body) {
      return c.json(
        {
          success: false,
          errorReason: "invalid_payload",
          errorMessage: body.invalidMessage,
          transaction: "",
          network: "",
        },
        400,
      );
    }
    return c.json(await facilitator.settle(body.payload, body.requirements));
  });

  app.get(`${prefix}/supported`, (c) => c.json(facilitator.supported()));
}
