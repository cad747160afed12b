import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { ChainInfo } from "../chains/index.ts";
import { agentEscrowArtifact, directPaymentArtifact } from "./artifacts.ts";

/** Module id, recorded in deployments/<chainId>.json. */
export const MODULE_ID = "AgentEscrowStack";

/**
 * Deploys AgentEscrow and DirectPayment (the creation bytecode shipped in src/deploy/artifacts.ts,
 * never the host project's build) for one chain and configures them from the chain registry. Under
 * CREATE2 the constructors' `msg.sender` is the factory, so both contracts are constructed with the
 * deployer as explicit bootstrap owner (the same address on every chain keeps the addresses
 * identical); the module then allowlists the chain's tokens, sets the fee caps and schedules and
 * the fee recipient, and hands ownership to `owner` (which must accept it: Ownable2Step), unless
 * the deployer is the owner.
 *
 * Parameters (module `AgentEscrowStack`): deployer, owner, feeRecipient, maxFeeBps, maxFeeFixed,
 * maxUpfrontFee, feeBps, fixedFee, minFee.
 */
export function agentEscrowStackModule(chain: ChainInfo, options: { transferOwnership: boolean }) {
  return buildModule(MODULE_ID, (m) => {
    const deployer = m.getParameter<string>("deployer");
    const owner = m.getParameter<string>("owner");
    const feeRecipient = m.getParameter<string>("feeRecipient");
    const maxFeeBps = m.getParameter<number>("maxFeeBps");
    const maxFeeFixed = m.getParameter<bigint>("maxFeeFixed");
    const maxUpfrontFee = m.getParameter<bigint>("maxUpfrontFee");
    const feeBps = m.getParameter<number>("feeBps");
    const fixedFee = m.getParameter<bigint>("fixedFee");
    const minFee = m.getParameter<bigint>("minFee");

    const escrow = m.contract("AgentEscrow", agentEscrowArtifact, [deployer]);
    const direct = m.contract("DirectPayment", directPaymentArtifact, [deployer, deployer]);

    const configured = chain.tokens.flatMap((token) => [
      m.call(escrow, "configureToken", [token.address, true, maxFeeBps, maxFeeFixed, maxUpfrontFee], {
        id: `configureToken_${token.symbol}`,
      }),
      m.call(direct, "setFeeSchedule", [token.address, true, feeBps, fixedFee, minFee], {
        id: `setFeeSchedule_${token.symbol}`,
      }),
    ]);
    const recipient = m.call(direct, "setFeeRecipient", [feeRecipient], { after: configured });
    if (options.transferOwnership) {
      m.call(escrow, "transferOwnership", [owner], {
        id: "AgentEscrow_transferOwnership",
        after: [...configured, recipient],
      });
      m.call(direct, "transferOwnership", [owner], {
        id: "DirectPayment_transferOwnership",
        after: [...configured, recipient],
      });
    }
    return { escrow, direct };
  });
}
