import { BaseError, ContractFunctionRevertedError } from "viem";
import { expect } from "vitest";
import { ActionError } from "../../src/actions/index.ts";

/**
 * Assert that `promise` rejects with the custom error `name` (decoded from the contract's ABI) and,
 * when given, exactly these arguments.
 */
export async function expectRevert(promise: Promise<unknown>, name: string, args?: readonly unknown[]): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  // Through the typed actions: the decoded revert is in the ActionError's details.
  if (caught instanceof ActionError && caught.is("CONTRACT_REVERTED")) {
    expect(caught.details.errorName).toBe(name);
    if (args) expect(caught.details.args ?? []).toEqual(args);
    return;
  }
  expect(caught, `expected revert ${name}`).toBeInstanceOf(BaseError);
  const reverted = (caught as BaseError).walk((e) => e instanceof ContractFunctionRevertedError);
  expect(reverted, `expected a decoded revert ${name}, got: ${(caught as Error).message}`).toBeInstanceOf(
    ContractFunctionRevertedError,
  );
  const data = (reverted as ContractFunctionRevertedError).data;
  expect(data?.errorName).toBe(name);
  if (args) expect(data?.args ?? []).toEqual(args);
}

/** Assert that `promise` rejects with a revert reason string matching `reason` (FiatToken's require messages). */
export async function expectRevertReason(promise: Promise<unknown>, reason: RegExp): Promise<void> {
  await expect(promise).rejects.toThrow(reason);
}
