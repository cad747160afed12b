// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Fee arithmetic shared by the escrow and the direct-payment contract.
/// @notice Every division rounds down (in the payer's favour). The TypeScript functions in
/// `src/fees` compute the same values; `test/vectors/fees.json` holds the shared test vectors.
library Fees {
    uint256 internal constant BPS = 10_000;

    /// @notice Settlement fee on `usage`: `usage * bps / 10_000 + fixedFee`, at most `cap`, and
    /// never more than `usage` itself (so zero usage carries no fee).
    function settlementFee(uint256 usage, uint256 bps, uint256 fixedFee, uint256 cap) internal pure returns (uint256) {
        uint256 fee = (usage * bps) / BPS + fixedFee;
        if (fee > cap) fee = cap;
        return fee > usage ? usage : fee;
    }

    /// @notice Platform fee of a direct payment: `amount * bps / 10_000 + fixedFee`, at least `minFee`.
    function directPaymentFee(
        uint256 amount,
        uint256 bps,
        uint256 fixedFee,
        uint256 minFee
    ) internal pure returns (uint256) {
        uint256 fee = (amount * bps) / BPS + fixedFee;
        return fee < minFee ? minFee : fee;
    }

    /// @notice The seller's share of disputed usage when the arbiter did not resolve in time:
    /// `acknowledged + (recorded - acknowledged) * sellerBps / 10_000`.
    function fallbackUsage(uint256 acknowledged, uint256 recorded, uint256 sellerBps) internal pure returns (uint256) {
        return acknowledged + ((recorded - acknowledged) * sellerBps) / BPS;
    }
}
