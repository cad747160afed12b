import { existsSync, readFileSync } from "node:fs";
import { type Address, getAddress, isAddress } from "viem";
import { DeploymentError } from "./errors.ts";

/** Fee caps and schedules a deployment configures (token units, 6 decimals). */
export type EconomicParameters = {
  readonly escrowCaps: { readonly maxFeeBps: number; readonly maxFeeFixed: bigint; readonly maxUpfrontFee: bigint };
  readonly directFeeSchedule: { readonly bps: number; readonly fixedFee: bigint; readonly minFee: bigint };
};

type Raw = { escrowCaps?: Record<string, unknown>; directFeeSchedule?: Record<string, unknown> };

function readJson(path: string): Raw {
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Raw) : {};
}

/**
 * `ignition/parameters/defaults.json`, overridden field by field by
 * `ignition/parameters/<network>.json` when that file exists.
 */
export function loadEconomicParameters(network: string, dir = "ignition/parameters"): EconomicParameters {
  const defaults = readJson(`${dir}/defaults.json`);
  const override = readJson(`${dir}/${network}.json`);
  const caps = { ...defaults.escrowCaps, ...override.escrowCaps };
  const schedule = { ...defaults.directFeeSchedule, ...override.directFeeSchedule };
  const int = (value: unknown, path: string): bigint => {
    try {
      const v = BigInt(value as string);
      if (v < 0n) throw new Error("negative");
      return v;
    } catch {
      throw new DeploymentError("PARAMETERS_INVALID", `parameter ${path} must be a non-negative integer`, {
        path,
        value,
      });
    }
  };
  return {
    escrowCaps: {
      maxFeeBps: Number(int(caps.maxFeeBps, "escrowCaps.maxFeeBps")),
      maxFeeFixed: int(caps.maxFeeFixed, "escrowCaps.maxFeeFixed"),
      maxUpfrontFee: int(caps.maxUpfrontFee, "escrowCaps.maxUpfrontFee"),
    },
    directFeeSchedule: {
      bps: Number(int(schedule.bps, "directFeeSchedule.bps")),
      fixedFee: int(schedule.fixedFee, "directFeeSchedule.fixedFee"),
      minFee: int(schedule.minFee, "directFeeSchedule.minFee"),
    },
  };
}

/** A required address parameter (owner, fee recipient), checksummed. */
export function requireAddress(value: string | undefined, name: string): Address {
  if (!value || !isAddress(value, { strict: false })) {
    throw new DeploymentError("PARAMETERS_INVALID", `${name} must be an address, got ${JSON.stringify(value)}`, {
      name,
      value,
    });
  }
  return getAddress(value);
}
