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
    uint256 internal constant ENCODED_LENGTH = 201;

    error TermsLengthInvalid(uint256 length);

    function decode(bytes calldata data) internal pure returns (Terms memory t) {
        if (data.length != ENCODED_LENGTH) revert TermsLengthInvalid(data.length);
        t.buyer = address(bytes20(data[0:20]));
        t.seller = address(bytes20(data[20:40]));
        t.token = address(bytes20(data[40:60]));
        t.feeRecipient = address(bytes20(data[60:80]));
        t.recorder = address(bytes20(data[80:100]));
        t.arbiter = address(bytes20(data[100:120]));
        t.deposit = uint64(bytes8(data[120:128]));
        t.upfrontFee = uint64(bytes8(data[128:136]));
        t.feeFixed = uint64(bytes8(data[136:144]));
        t.feeCap = uint64(bytes8(data[144:152]));
        t.feeBps = uint16(bytes2(data[152:154]));
        t.fallbackBps = uint16(bytes2(data[154:156]));
        t.challengeWindow = uint32(bytes4(data[156:160]));
        t.resolutionWindow = uint32(bytes4(data[160:164]));
        t.serviceExpiry = uint40(bytes5(data[164:169]));
        t.salt = bytes32(data[169:201]);
    }
}
