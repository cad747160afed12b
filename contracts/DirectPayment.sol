// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IFiatToken} from "./interfaces/IFiatToken.sol";
import {Fees} from "./libraries/Fees.sol";

/// @title Direct stablecoin payment with a platform fee, in one atomic transaction.
/// @notice Collects the platform fee from the buyer under its EIP-2612 permit, then executes the
/// buyer's x402 'exact' EIP-3009 TransferWithAuthorization to the seller exactly as it was signed.
/// Fee = max(minFee, amount * bps / 10_000 + fixedFee), rounded down, per token; the owner may
/// change a schedule only within the hard caps. The buyer never pays more than the permit value it
/// signed for this very payment: the permit's deadline is derived from the payment's nonce. Not
/// upgradeable; holds no funds between transactions.
contract DirectPayment is Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    struct FeeSchedule {
        bool enabled;
        uint16 bps;
        uint64 fixedFee;
        uint64 minFee;
    }

    /// @notice The buyer's signed x402 'exact' payment: an EIP-3009 TransferWithAuthorization.
    struct Payment {
        address token;
        address buyer;
        address seller;
        uint256 amount;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
        bytes signature;
    }

    /// @notice The buyer's EIP-2612 permit for this contract; `value` is the most it agrees to pay.
    /// Its deadline is not free: it must be {feePermitDeadline}(payment nonce), which binds the
    /// permit to exactly one payment.
    struct FeePermit {
        uint256 value;
        bytes signature;
    }

    /// @notice Hard caps on any schedule: 5% + 1.00 token, minimum at most 1.00 token (6 decimals).
    uint16 public constant MAX_BPS = 500;
    uint64 public constant MAX_FIXED_FEE = 1e6;
    uint64 public constant MAX_MIN_FEE = 1e6;

    address public feeRecipient;
    mapping(address token => FeeSchedule) public feeSchedules;

    /// @notice One per payment; `nonce` is the authorization nonce, i.e. the payment id.
    /// @param nonce The payment's EIP-3009 nonce (its id).
    /// @param buyer Who paid.
    /// @param seller Who was paid `amount`.
    /// @param token The token.
    /// @param amount Paid to the seller, exactly as signed.
    /// @param fee Paid to the fee recipient.
    event DirectPaymentExecuted(
        bytes32 indexed nonce,
        address indexed buyer,
        address indexed seller,
        address token,
        uint256 amount,
        uint256 fee
    );
    /// @notice The owner enabled, changed or disabled a token's fee schedule.
    /// @param token The token.
    /// @param enabled Whether payments in it are accepted.
    /// @param bps Rate, in basis points.
    /// @param fixedFee Fixed part, in token units.
    /// @param minFee Minimum fee, in token units.
    event FeeScheduleSet(address indexed token, bool enabled, uint16 bps, uint64 fixedFee, uint64 minFee);
    /// @notice The owner changed where fees go.
    /// @param feeRecipient The new fee recipient.
    event FeeRecipientSet(address indexed feeRecipient);

    /// @notice A required address (named by `field`) is zero.
    error ZeroAddress(string field);
    /// @notice The token has no enabled fee schedule.
    error TokenNotSupported(address token);
    /// @notice The fee is above the value of the permit the buyer signed.
    error FeeAboveSigned(uint256 fee, uint256 signedMax);
    /// @notice A schedule field (`field`) is above its hard cap.
    error FeeAboveCap(string field, uint256 value, uint256 cap);
    /// @notice The fee permit could not be used and is not the permit the token consumed last.
    error FeePermitInvalid(bytes32 paymentNonce);
    /// @notice Ownership cannot be renounced: fee schedules and the fee recipient must always
    /// have someone to maintain them.
    error RenounceDisabled();

    bytes32 internal constant PERMIT_TYPEHASH = keccak256(
        "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant FEE_DEADLINE_TAG = keccak256("agent-escrow/direct-payment-fee");

    /// @param initialOwner The owner (a multisig), explicit because CREATE2 deployers are factories.
    /// @param initialFeeRecipient Where platform fees go.
    constructor(address initialOwner, address initialFeeRecipient) Ownable(initialOwner) {
        _setFeeRecipient(initialFeeRecipient);
    }

    /// @notice Collect the fee under `feePermit`, then execute `payment`. The permit's deadline is
    /// {feePermitDeadline}(payment.nonce), so the buyer's permit covers this payment and no other.
    /// If the permit was already submitted (front-run), the payment still goes through provided the
    /// permit consumed last was exactly this payment's.
    /// @param payment The buyer's signed TransferWithAuthorization to the seller.
    /// @param feePermit The buyer's permit for this contract covering the fee.
    /// @return fee The fee collected.
    function pay(Payment calldata payment, FeePermit calldata feePermit) external nonReentrant returns (uint256 fee) {
        fee = quoteFee(payment.token, payment.amount);
        if (fee > feePermit.value) revert FeeAboveSigned(fee, feePermit.value);

        uint256 deadline = feePermitDeadline(payment.nonce);
        try
            IFiatToken(payment.token).permit(
                payment.buyer,
                address(this),
                feePermit.value,
                deadline,
                feePermit.signature
            )
        {} catch {
            if (!_wasLastPermit(payment, feePermit, deadline)) revert FeePermitInvalid(payment.nonce);
        }
        IERC20(payment.token).safeTransferFrom(payment.buyer, feeRecipient, fee);
        IFiatToken(payment.token).transferWithAuthorization(
            payment.buyer,
            payment.seller,
            payment.amount,
            payment.validAfter,
            payment.validBefore,
            payment.nonce,
            payment.signature
        );
        emit DirectPaymentExecuted(payment.nonce, payment.buyer, payment.seller, payment.token, payment.amount, fee);
    }

    /// @notice The deadline the buyer's fee permit must carry for the payment with `paymentNonce`:
    /// far in the future (the top bit is set) and unique to the payment.
    function feePermitDeadline(bytes32 paymentNonce) public pure returns (uint256) {
        return uint256(keccak256(abi.encode(FEE_DEADLINE_TAG, paymentNonce))) | (1 << 255);
    }

    /// @notice The fee for paying `amount` of `token`. Reverts for a token without a schedule.
    function quoteFee(address token, uint256 amount) public view returns (uint256) {
        FeeSchedule memory s = feeSchedules[token];
        if (!s.enabled) revert TokenNotSupported(token);
        return Fees.directPaymentFee(amount, s.bps, s.fixedFee, s.minFee);
    }

    /// @notice Enable, change or disable the fee schedule of `token`, within the hard caps.
    function setFeeSchedule(
        address token,
        bool enabled,
        uint16 bps,
        uint64 fixedFee,
        uint64 minFee
    ) external onlyOwner {
        if (token == address(0)) revert ZeroAddress("token");
        if (bps > MAX_BPS) revert FeeAboveCap("bps", bps, MAX_BPS);
        if (fixedFee > MAX_FIXED_FEE) revert FeeAboveCap("fixedFee", fixedFee, MAX_FIXED_FEE);
        if (minFee > MAX_MIN_FEE) revert FeeAboveCap("minFee", minFee, MAX_MIN_FEE);
        feeSchedules[token] = FeeSchedule(enabled, bps, fixedFee, minFee);
        emit FeeScheduleSet(token, enabled, bps, fixedFee, minFee);
    }

    /// @notice Always reverts; ownership can only be transferred (two steps).
    function renounceOwnership() public pure override {
        revert RenounceDisabled();
    }

    /// @notice Change where fees go.
    function setFeeRecipient(address newFeeRecipient) external onlyOwner {
        _setFeeRecipient(newFeeRecipient);
    }

    /// @dev Whether the permit the token consumed last (nonce - 1) is this payment's fee permit:
    /// its signature is valid for exactly these values under the token's domain.
    function _wasLastPermit(
        Payment calldata payment,
        FeePermit calldata p,
        uint256 deadline
    ) internal view returns (bool) {
        uint256 nonce = IERC20Permit(payment.token).nonces(payment.buyer);
        if (nonce == 0) return false;
        bytes32 structHash = keccak256(
            abi.encode(PERMIT_TYPEHASH, payment.buyer, address(this), p.value, nonce - 1, deadline)
        );
        bytes32 digest = MessageHashUtils.toTypedDataHash(IERC20Permit(payment.token).DOMAIN_SEPARATOR(), structHash);
        return SignatureChecker.isValidSignatureNowCalldata(payment.buyer, digest, p.signature);
    }

    function _setFeeRecipient(address newFeeRecipient) internal {
        if (newFeeRecipient == address(0)) revert ZeroAddress("feeRecipient");
        feeRecipient = newFeeRecipient;
        emit FeeRecipientSet(newFeeRecipient);
    }
}
