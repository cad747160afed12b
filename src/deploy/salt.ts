import { keccak256, stringToHex } from "viem";

/**
 * The CREATE2 salt of every deployment: `keccak256("agent-escrow/deployment/v1")`. Its first 20
 * bytes are neither zero nor a deployer address, so CreateX derives the same guarded salt
 * (`keccak256(abi.encode(salt))`) on every chain, and with the same init code (same deployer
 * address as the bootstrap owner) every contract lands at the same address everywhere.
 */
export const DEPLOYMENT_SALT = keccak256(stringToHex("agent-escrow/deployment/v1"));
