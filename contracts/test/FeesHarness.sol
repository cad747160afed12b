// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Fees} from "../libraries/Fees.sol";

/// @notice Exposes the {Fees} library so the shared fee vectors can be checked against Solidity.
contract FeesHarness {
    function settlementFee(uint256 usage, uint256 bps, uint256 fixedFee, uint256 cap) external pure returns (uint256) {
        return Fees.settlementFee(usage, bps, fixedFee, cap);
    }

    function directPaymentFee(
        uint256 amount,
        uint256 bps,
        uint256 fixedFee,
        uint256 minFee
    ) external pure returns (uint256) {
        return Fees.directPaymentFee(amount, bps, fixedFee, minFee);
    }

    function fallbackUsage(uint256 acknowledged, uint256 recorded, uint256 sellerBps) external pure returns (uint256) {
        return Fees.fallbackUsage(acknowledged, recorded, sellerBps);
    }
}
