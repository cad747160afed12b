import type { Address, Hex } from "viem";

/** One deployed contract as recorded in `deployments/<chainId>.json`. */
export type DeployedContract = {
  readonly address: Address;
  /** Transaction that created it (the CreateX call), and its block. */
  readonly transactionHash: Hex;
  readonly blockNumber: number;
  /** keccak256 of the runtime code at `address`. */
  readonly codeHash: Hex;
  readonly constructorArgs: readonly string[];
};

/** What `deployments/<chainId>.json` holds for one chain. */
export type DeploymentRecord = {
  readonly chainId: number;
  readonly network: string;
  readonly module: string;
  /** Version of this package that deployed it. */
  readonly version: string;
  readonly salt: Hex;
  readonly deployer: Address;
  readonly owner: Address;
  readonly feeRecipient: Address;
  readonly tokens: readonly Address[];
  readonly escrowCaps: { readonly maxFeeBps: number; readonly maxFeeFixed: string; readonly maxUpfrontFee: string };
  readonly directFeeSchedule: { readonly bps: number; readonly fixedFee: string; readonly minFee: string };
  readonly contracts: { readonly AgentEscrow: DeployedContract; readonly DirectPayment: DeployedContract };
};
