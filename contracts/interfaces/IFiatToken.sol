// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title The parts of Circle's FiatToken v2.2 (USDC, EURC) that this project calls.
/// @notice EIP-3009 and EIP-2612 entry points taking `bytes signature`: they accept a 65-byte ECDSA
/// signature from an EOA and, through ERC-1271, a signature from a smart-contract wallet.
interface IFiatToken is IERC20 {
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;

    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;

    function permit(address owner, address spender, uint256 value, uint256 deadline, bytes calldata signature) external;

    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);
}
