// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice The terms of one escrow agreement, fixed at activation.
struct Terms {
    address buyer;
    address seller;
    address token;
    address feeRecipient;
    /// Who may record usage (the platform's relayer or the seller).
    address recorder;
    /// Who resolves a challenge.
    address arbiter;
    /// Initial deposit: the cap on usage (top-ups raise it).
    uint64 deposit;
    /// Paid at activation from the buyer to `feeRecipient` by EIP-2612 permit; 0 for none.
    uint64 upfrontFee;
    /// Settlement fee: `usage * feeBps / 10_000 + feeFixed`, at most `feeCap`.
    uint64 feeFixed;
    uint64 feeCap;
    uint16 feeBps;
    /// Seller's share (bps) of the disputed usage when the arbiter does not resolve in time.
    uint16 fallbackBps;
    /// Seconds after completion during which the buyer may challenge.
    uint32 challengeWindow;
    /// Seconds after a challenge during which the arbiter may resolve.
    uint32 resolutionWindow;
    /// After this time any party may complete the agreement.
    uint40 serviceExpiry;
    bytes32 salt;
}

/// @title Compact calldata encoding of {Terms}.
/// @notice Terms travel as 201 packed bytes (no ABI padding), because L2 fees are dominated by
/// calldata. Layout (byte offsets):
///
/// | offset | size | field            |
/// | ------ | ---- | ---------------- |
/// | 0      | 20   | buyer            |
/// | 20     | 20   | seller           |
/// | 40     | 20   | token            |
/// | 60     | 20   | feeRecipient     |
/// | 80     | 20   | recorder         |
/// | 100    | 20   | arbiter          |
/// | 120    | 8    | deposit          |
/// | 128    | 8    | upfrontFee       |
/// | 136    | 8    | feeFixed         |
/// | 144    | 8    | feeCap           |
/// | 152    | 2    | feeBps           |
/// | 154    | 2    | fallbackBps      |
/// | 156    | 4    | challengeWindow  |
/// | 160    | 4    | resolutionWindow |
/// | 164    | 5    | serviceExpiry    |
/// | 169    | 32   | salt             |
///
/// This is `abi.encodePacked` of the fields in declaration order; `src/eip712/escrow.ts` encodes it.
library TermsCodec {
    /// @notice Length of packed terms.
    uint256 internal constant ENCODED_LENGTH = 201;
    /// @notice Length of packed terms plus the authorization's validity window (two uint40).
    uint256 internal constant ACTIVATION_HEADER_LENGTH = 211;

    /// @notice Packed terms are not exactly {ENCODED_LENGTH} bytes.
    error TermsLengthInvalid(uint256 length);
    /// @notice A packed activation is too short to hold terms, a validity window and a signature.
    error ActivationLengthInvalid(uint256 length);

    /// @notice Decode packed terms. Reverts unless exactly {ENCODED_LENGTH} bytes.
    /// @dev Each field is read with one `calldataload` and a right shift that keeps exactly its
    /// width, so no field can carry bits of its neighbour. After the length check every read stays
    /// inside `data` (the salt, the last field, ends exactly at its end).
    function decode(bytes calldata data) internal pure returns (Terms memory t) {
        if (data.length != ENCODED_LENGTH) revert TermsLengthInvalid(data.length);
        // One load and shift per field: about 1,000 gas less than slicing, on every call.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let p := data.offset
            mstore(t, shr(96, calldataload(p))) // buyer
            mstore(add(t, 0x20), shr(96, calldataload(add(p, 20)))) // seller
            mstore(add(t, 0x40), shr(96, calldataload(add(p, 40)))) // token
            mstore(add(t, 0x60), shr(96, calldataload(add(p, 60)))) // feeRecipient
            mstore(add(t, 0x80), shr(96, calldataload(add(p, 80)))) // recorder
            mstore(add(t, 0xa0), shr(96, calldataload(add(p, 100)))) // arbiter
            mstore(add(t, 0xc0), shr(192, calldataload(add(p, 120)))) // deposit
            mstore(add(t, 0xe0), shr(192, calldataload(add(p, 128)))) // upfrontFee
            mstore(add(t, 0x100), shr(192, calldataload(add(p, 136)))) // feeFixed
            mstore(add(t, 0x120), shr(192, calldataload(add(p, 144)))) // feeCap
            mstore(add(t, 0x140), shr(240, calldataload(add(p, 152)))) // feeBps
            mstore(add(t, 0x160), shr(240, calldataload(add(p, 154)))) // fallbackBps
            mstore(add(t, 0x180), shr(224, calldataload(add(p, 156)))) // challengeWindow
            mstore(add(t, 0x1a0), shr(224, calldataload(add(p, 160)))) // resolutionWindow
            mstore(add(t, 0x1c0), shr(216, calldataload(add(p, 164)))) // serviceExpiry
            mstore(add(t, 0x1e0), calldataload(add(p, 169))) // salt
        }
    }

    /// @notice Decode a packed activation: `terms (201 bytes) ‖ uint40 validAfter ‖ uint40
    /// validBefore ‖ signature (the rest)`. The validity window is the buyer's EIP-3009
    /// authorization's, which the buyer signed as uint256: any value below 2^40 (a time before the
    /// year 36812) round-trips exactly. The signature is 65 bytes of ECDSA, or ERC-1271 data of
    /// any length for a contract wallet.
    function decodeActivation(
        bytes calldata data
    ) internal pure returns (Terms memory t, uint256 validAfter, uint256 validBefore, bytes calldata signature) {
        if (data.length <= ACTIVATION_HEADER_LENGTH) revert ActivationLengthInvalid(data.length);
        t = decode(data[:ENCODED_LENGTH]);
        validAfter = uint40(bytes5(data[ENCODED_LENGTH:ENCODED_LENGTH + 5]));
        validBefore = uint40(bytes5(data[ENCODED_LENGTH + 5:ACTIVATION_HEADER_LENGTH]));
        signature = data[ACTIVATION_HEADER_LENGTH:];
    }

    /// @notice The EIP-712 struct hash of `t` under `typehash`: `keccak256(abi.encode(typehash, t))`.
    /// @dev A memory {Terms} is 16 words, one per field in declaration order, exactly the EIP-712
    /// encoding of its fields (every field is a value type). The word before it is borrowed for the
    /// type hash and restored.
    function structHash(Terms memory t, bytes32 typehash) internal pure returns (bytes32 h) {
        // Hashing in place saves copying 17 words for `abi.encode`.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let before := sub(t, 0x20)
            let saved := mload(before)
            mstore(before, typehash)
            h := keccak256(before, 0x220)
            mstore(before, saved)
        }
    }
}
