// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Hostile token for reentrancy tests only (never a stand-in for USDC): on every transfer
/// out of `target` it calls `target` back with `payload` and records whether that call succeeded.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool public attempted;
    bool public reentered;
    bytes public reentryError;

    constructor() ERC20("Reentrant", "RNT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    /// @dev EIP-3009 stand-in without signatures, so the escrow can be funded in the test.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256,
        uint256,
        bytes32,
        bytes calldata
    ) external {
        _transfer(from, to, value);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from == target && target != address(0) && !attempted) {
            attempted = true;
            // solhint-disable-next-line avoid-low-level-calls
            (bool ok, bytes memory err) = target.call(payload);
            reentered = ok;
            reentryError = err;
        }
    }
}
