// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IFiatToken} from "./interfaces/IFiatToken.sol";
import {Fees} from "./libraries/Fees.sol";
import {Terms, TermsCodec} from "./libraries/TermsCodec.sol";

/// @title Bilateral escrow for metered agent-to-agent services, funded by EIP-3009 authorizations.
/// @notice One contract per chain holds many agreements. An agreement's id is the EIP-712 hash of
/// its {Terms} under this contract's domain (name "AgentEscrow", version "1", chain id, address);
/// the buyer's funding authorization uses that id as its EIP-3009 nonce, so a signature binds to
/// exactly one set of terms on one chain and one escrow. Lifecycle:
/// Active -> (usage recorded) -> Completed -> [Challenged -> Resolved] -> Settled.
/// The contract is not upgradeable. The owner manages the token allowlist, pauses new activations
/// and sets fee caps within hard-coded maxima; nobody can move escrowed funds or change terms.
contract AgentEscrow is EIP712, Ownable2Step, ReentrancyGuardTransient {
    using TermsCodec for bytes;
    using SafeERC20 for IERC20;

    enum Status {
        None,
        Active,
        Completed,
        Challenged,
        Resolved,
        Settled
    }

    /// @notice The buyer's EIP-3009 `ReceiveWithAuthorization` that moves a top-up to this
    /// contract (activation carries the same fields packed, see {activate}). Only the receive form
    /// is accepted: the token executes it only when this contract is the caller, so nobody can
    /// submit the signature to the token directly and leave the tokens here without an agreement.
    /// Its value and nonce are implied by the call (the amount and {topUpNonce}).
    struct FundingAuthorization {
        /// The authorization is valid after this time (usually 0).
        uint256 validAfter;
        /// The authorization is valid before this time.
        uint256 validBefore;
        /// The buyer's signature: 65-byte ECDSA, or ERC-1271 data for a contract wallet.
        bytes signature;
    }

    /// @notice The buyer's EIP-2612 permit letting this contract pay the upfront fee.
    struct FeePermit {
        /// The allowance the permit grants; at least the upfront fee.
        uint256 value;
        /// The permit's deadline.
        uint256 deadline;
        /// The buyer's signature: 65-byte ECDSA, or ERC-1271 data for a contract wallet.
        bytes signature;
    }

    /// @notice One entry of a usage batch.
    struct UsageEntry {
        /// The agreement id.
        bytes32 id;
        /// Cumulative usage so far, in token units.
        uint64 cumulativeUsage;
        /// Also end usage after recording it (starts the challenge window).
        bool complete;
        /// Hash of the usage log this figure comes from.
        bytes32 logRef;
    }

    /// @dev One storage slot, written at activation, stored under its recorder and id.
    struct Agreement {
        /// Where the agreement is in its lifecycle.
        Status status;
        /// When usage ended (restarted by the recorder's late record while Completed).
        uint40 completedAt;
        /// The deposit, including top-ups: the cap on usage.
        uint64 deposit;
        /// Recorded usage; after a resolution or a settlement, the usage that was paid.
        uint64 usage;
        /// Set once the recorder can no longer make its late record (it used it, or completed itself).
        bool lateUsageRecorded;
    }

    /// @dev Written only by usage vouchers and challenges.
    struct Dispute {
        /// The highest usage the buyer acknowledged by voucher.
        uint64 acknowledged;
        /// When the resolution window started: the buyer's challenge, or the recorder's late record
        /// made while Challenged (`LateUsageRecorded`), which restarts it.
        uint40 challengedAt;
    }

    /// @dev One storage slot per token: read and written once per activation.
    struct TokenConfig {
        /// New activations and top-ups may use this token.
        bool allowed;
        /// New activations and top-ups are paused.
        bool paused;
        /// Highest settlement fee rate new terms may carry.
        uint16 maxFeeBps;
        /// Highest fixed settlement fee new terms may carry.
        uint64 maxFeeFixed;
        /// Highest upfront fee new terms may carry.
        uint64 maxUpfrontFee;
        /// Everything this contract owes in this token: open deposits and withdrawable balances.
        uint96 held;
    }

    /// @notice Everything the status endpoint and the relayer need about one agreement.
    struct AgreementView {
        /// Where the agreement is in its lifecycle.
        Status status;
        /// Who may record usage.
        address recorder;
        /// Whether the recorder can still make its one late record.
        bool lateRecordAvailable;
        /// The deposit, including top-ups.
        uint256 deposit;
        /// Recorded usage (after resolution or settlement: the usage paid).
        uint256 recordedUsage;
        /// The highest usage the buyer acknowledged by voucher.
        uint256 acknowledgedUsage;
        /// When usage ended (0 while active).
        uint256 completedAt;
        /// When the resolution window started (the challenge, or a late record after it; 0 unless challenged).
        uint256 challengedAt;
        /// End of the challenge window (0 before completion).
        uint256 challengeDeadline;
        /// End of the arbiter's resolution window (0 unless challenged).
        uint256 resolutionDeadline;
        /// Earliest time `settle` succeeds (0 while usage is still open).
        uint256 settleableAt;
    }

    /// @notice What `settle` would pay if called now.
    struct SettlementPreview {
        /// `settle` would succeed now.
        bool settleableNow;
        /// The fallback split applies (the arbiter did not resolve in time).
        bool byFallback;
        /// The usage that would be paid.
        uint256 usage;
        /// Paid to the seller: usage less fee.
        uint256 toSeller;
        /// Credited to the fee recipient.
        uint256 fee;
        /// Refunded to the buyer: deposit less usage.
        uint256 refund;
    }

    /// @notice Hard ceilings on the owner-set caps: the settlement fee (10% + 10 tokens) and the
    /// upfront fee (1,000 tokens), in units of a 6-decimal token.
    uint16 public constant MAX_FEE_BPS = 1_000;
    uint64 public constant MAX_FEE_FIXED = 10e6;
    uint64 public constant MAX_UPFRONT_FEE = 1_000e6;
    /// @notice Bounds on timing terms so that no agreement can lock funds for long.
    uint32 public constant MAX_WINDOW = 30 days;
    uint40 public constant MAX_SERVICE_DURATION = 366 days;
    uint16 internal constant BPS = 10_000;

    bytes32 public constant TERMS_TYPEHASH = keccak256(
        "Terms(address buyer,address seller,address token,address feeRecipient,address recorder,address arbiter,"
        "uint64 deposit,uint64 upfrontFee,uint64 feeFixed,uint64 feeCap,uint16 feeBps,uint16 fallbackBps,"
        "uint32 challengeWindow,uint32 resolutionWindow,uint40 serviceExpiry,bytes32 salt)"
    );
    /// @notice EIP-712 type of a usage voucher: the buyer acknowledges usage so far.
    bytes32 public constant USAGE_VOUCHER_TYPEHASH = keccak256(
        "UsageVoucher(bytes32 agreementId,uint64 cumulativeUsage)"
    );
    /// @notice EIP-712 type of a final usage voucher: the buyer agrees that the agreement ends
    /// at exactly `usage`, if closed before `deadline`. Distinct from {USAGE_VOUCHER_TYPEHASH}, so
    /// an acknowledgement made during the service can never be used to close the agreement.
    bytes32 public constant FINAL_USAGE_TYPEHASH = keccak256(
        "FinalUsage(bytes32 agreementId,uint64 usage,uint40 deadline)"
    );

    /// @dev Selector of FiatToken's `isBlacklisted(address)`.
    bytes4 internal constant IS_BLACKLISTED_SELECTOR = 0xfe575a87;

    /// @dev Agreements are stored under their recorder: a recorder's batch can only reach agreements
    /// that name it, with no recorder registry to read at activation or per batch.
    mapping(address recorder => mapping(bytes32 id => Agreement)) internal _agreements;
    mapping(bytes32 id => Dispute) internal _disputes;
    mapping(address token => TokenConfig) internal _tokens;
    /// @notice Deferred payouts and accrued settlement fees, per token and owner.
    mapping(address token => mapping(address owner => uint256)) public withdrawable;

    /// @notice An agreement was activated and its deposit pulled from the buyer.
    /// @param id The agreement id.
    /// @param buyer The buyer.
    /// @param seller The seller.
    /// @param token The token of the deposit.
    /// @param deposit The deposit.
    event AgreementActivated(
        bytes32 indexed id,
        address indexed buyer,
        address indexed seller,
        address token,
        uint256 deposit
    );
    /// @notice The upfront fee was paid from the buyer to the fee recipient at activation.
    /// @param id The agreement id.
    /// @param feeRecipient Who received it.
    /// @param amount The fee.
    event UpfrontFeePaid(bytes32 indexed id, address indexed feeRecipient, uint256 amount);
    /// @notice A top-up raised an active agreement's deposit.
    /// @param id The agreement id.
    /// @param amount The amount added.
    /// @param newDeposit The deposit after the top-up.
    event DepositIncreased(bytes32 indexed id, uint256 amount, uint256 newDeposit);
    /// @notice Recorded usage was set (by the recorder, or raised by a buyer's voucher).
    /// @param id The agreement id.
    /// @param cumulativeUsage The recorded usage.
    /// @param logRef Hash of the usage log (for a voucher: the voucher's EIP-712 digest).
    event UsageRecorded(bytes32 indexed id, uint256 cumulativeUsage, bytes32 logRef);
    /// @notice A batch entry was skipped and changed nothing: its agreement is not active, or
    /// its usage is below the recorded usage (a buyer's voucher raised it meanwhile).
    /// @param id The agreement id.
    /// @param status The agreement's status.
    /// @param recordedUsage The agreement's recorded usage.
    /// @param proposedUsage The entry's usage.
    event UsageEntrySkipped(bytes32 indexed id, Status status, uint256 recordedUsage, uint256 proposedUsage);
    /// @notice A buyer's voucher raised the usage it acknowledges (and can no longer dispute).
    /// @param id The agreement id.
    /// @param cumulativeUsage The acknowledged usage.
    event UsageAcknowledged(bytes32 indexed id, uint256 cumulativeUsage);
    /// @notice Usage ended and the challenge window started (a late record restarts it:
    /// `LateUsageRecorded`).
    /// @param id The agreement id.
    /// @param by Who completed (or the recorder, for a late record).
    /// @param usage The recorded usage.
    event AgreementCompleted(bytes32 indexed id, address indexed by, uint256 usage);
    /// @notice The recorder made its one late record, raising the recorded usage after a
    /// completion by someone else.
    /// @param id The agreement id.
    /// @param previousUsage The recorded usage before.
    /// @param usage The recorded usage now.
    /// @param status The status it was made in (Completed restarts the challenge window,
    /// Challenged restarts the resolution window and raises the arbiter's upper bound).
    event LateUsageRecorded(bytes32 indexed id, uint256 previousUsage, uint256 usage, Status status);
    /// @notice The buyer disputed the recorded usage above what it acknowledged.
    /// @param id The agreement id.
    /// @param recordedUsage The recorded usage.
    /// @param acknowledgedUsage The acknowledged usage.
    event UsageChallenged(bytes32 indexed id, uint256 recordedUsage, uint256 acknowledgedUsage);
    /// @notice The arbiter fixed the usage of a challenged agreement.
    /// @param id The agreement id.
    /// @param usage The usage that will be paid.
    event ChallengeResolved(bytes32 indexed id, uint256 usage);
    /// @notice The seller or the recorder closed the agreement with the buyer's final usage
    /// voucher; `AgreementSettled` follows in the same transaction.
    /// @param id The agreement id.
    /// @param by Who submitted the voucher.
    /// @param usage The final usage the buyer signed.
    /// @param previousStatus The status the agreement was closed from.
    event AgreementClosed(bytes32 indexed id, address indexed by, uint256 usage, Status previousStatus);
    /// @notice The agreement was settled: `toSeller + fee + refund` equals the deposit.
    /// @param id The agreement id.
    /// @param usage The usage paid.
    /// @param toSeller Paid to the seller (usage less fee).
    /// @param fee Credited to the fee recipient's withdrawable balance.
    /// @param refund Refunded to the buyer (deposit less usage).
    /// @param byFallback Whether the terms' fallback split decided the usage.
    event AgreementSettled(
        bytes32 indexed id,
        uint256 usage,
        uint256 toSeller,
        uint256 fee,
        uint256 refund,
        bool byFallback
    );
    /// @notice A payout the token refused (blacklisted recipient, paused token) was credited to
    /// its owner's withdrawable balance instead.
    /// @param id The agreement id.
    /// @param token The token.
    /// @param owner Whose balance it is.
    /// @param amount The amount.
    event PayoutDeferred(bytes32 indexed id, address indexed token, address indexed owner, uint256 amount);
    /// @notice A withdrawable balance was paid out.
    /// @param token The token.
    /// @param owner Whose balance it was.
    /// @param to Where it went.
    /// @param amount The amount.
    event Withdrawn(address indexed token, address indexed owner, address to, uint256 amount);
    /// @notice The owner changed a token's allowlisting, pause flag or fee caps.
    /// @param token The token.
    /// @param allowed Allowed for new activations and top-ups.
    /// @param paused New activations and top-ups paused.
    /// @param maxFeeBps Cap on the terms' settlement fee rate.
    /// @param maxFeeFixed Cap on the terms' fixed settlement fee.
    /// @param maxUpfrontFee Cap on the terms' upfront fee.
    event TokenConfigured(
        address indexed token,
        bool allowed,
        bool paused,
        uint16 maxFeeBps,
        uint64 maxFeeFixed,
        uint64 maxUpfrontFee
    );
    /// @notice The owner returned tokens this contract held beyond everything it owes.
    /// @param token The token.
    /// @param to Where they went.
    /// @param amount The amount.
    event UnaccountedRecovered(address indexed token, address indexed to, uint256 amount);

    /// @notice The token is not allowlisted for new activations and top-ups.
    error TokenNotAllowed(address token);
    /// @notice New activations and top-ups in this token are paused.
    error ActivationsPaused(address token);
    /// @notice An agreement with these terms was already activated.
    error AgreementExists(bytes32 id, Status status);
    /// @notice The call is not possible in the agreement's current status.
    error WrongStatus(bytes32 id, Status status);
    /// @notice A required address (named by `field`) is zero.
    error ZeroAddress(string field);
    /// @notice A deposit or top-up of zero.
    error ZeroDeposit();
    /// @notice A fee term (`field`) is above its cap.
    error FeeAboveCap(string field, uint256 value, uint256 cap);
    /// @notice A basis-point term (`field`) is above 10,000.
    error BpsAboveMax(string field, uint256 value);
    /// @notice A window term (`field`) is longer than {MAX_WINDOW}.
    error WindowTooLong(string field, uint256 value, uint256 max);
    /// @notice The service expiry is in the past or more than {MAX_SERVICE_DURATION} away.
    error ServiceExpiryInvalid(uint256 serviceExpiry, uint256 nowTime, uint256 latest);
    /// @notice `activate` was called for terms with an upfront fee (use `activateWithFeePermit`).
    error UpfrontFeeUnexpected(uint64 upfrontFee);
    /// @notice The fee permit's value is below the upfront fee.
    error UpfrontFeePermitTooLow(uint256 permitted, uint256 upfrontFee);
    /// @notice The caller is not the agreement's recorder.
    error NotRecorder(bytes32 id, address caller);
    /// @notice The caller may not do this (for example complete before the service expiry
    /// without being a party, or close without being the seller or the recorder).
    error NotParty(bytes32 id, address caller);
    /// @notice A record would lower the recorded usage.
    error UsageDecreased(bytes32 id, uint256 current, uint256 proposed);
    /// @notice A late record must strictly raise the recorded usage.
    error UsageNotRaised(bytes32 id, uint256 current, uint256 proposed);
    /// @notice Usage above the deposit.
    error UsageAboveDeposit(bytes32 id, uint256 proposed, uint256 deposit);
    /// @notice A voucher must raise the acknowledged usage.
    error VoucherNotHigher(bytes32 id, uint256 acknowledged, uint256 proposed);
    /// @notice The voucher (or final voucher) is not signed by the buyer.
    error InvalidVoucherSignature(bytes32 id, address buyer);
    /// @notice The final voucher's deadline has passed.
    error VoucherExpired(bytes32 id, uint256 deadline);
    /// @notice The recorder may not close below the recorded (or resolved) or acknowledged usage.
    error UsageBelowRecorded(bytes32 id, uint256 usage, uint256 floor);
    /// @notice The terms name the buyer in a role it cannot hold (`field`).
    error BuyerCannotBe(string field);
    /// @notice The challenge window is over.
    error ChallengeWindowClosed(bytes32 id, uint256 deadline);
    /// @notice The recorded usage is not above the acknowledged usage.
    error NothingToDispute(bytes32 id, uint256 recorded, uint256 acknowledged);
    /// @notice The caller is not the agreement's arbiter.
    error NotArbiter(bytes32 id, address caller);
    /// @notice The resolution window is over.
    error ResolutionWindowClosed(bytes32 id, uint256 deadline);
    /// @notice The resolved usage is outside [acknowledged, recorded].
    error ResolutionOutOfBounds(bytes32 id, uint256 usage, uint256 minUsage, uint256 maxUsage);
    /// @notice The agreement cannot be settled yet; `settleableAt` is when it can (0: not before completion).
    error NotSettleable(bytes32 id, Status status, uint256 settleableAt);
    /// @notice A top-up would overflow the 64-bit deposit.
    error DepositOverflow(bytes32 id, uint256 deposit, uint256 amount);
    /// @notice The caller has no withdrawable balance in this token.
    error NothingToWithdraw(address token, address owner);
    /// @notice The token has blacklisted the owner of this balance: it cannot be withdrawn, to
    /// any address, until the token's issuer lifts the blacklisting.
    error BalanceOwnerBlacklisted(address token, address owner);
    /// @notice The token has blacklisted a party (`field`) of the terms.
    error PartyBlacklisted(string field, address account);
    /// @notice The owner asked to recover more than the unaccounted balance.
    error NotUnaccounted(address token, uint256 requested, uint256 unaccounted);
    /// @notice An empty usage batch.
    error EmptyBatch();
    /// @notice The terms name this contract as a party (`field`).
    error PartyIsEscrow(string field);
    /// @notice Ownership cannot be renounced: the owner's duties (returning unaccounted tokens,
    /// token configuration) must always have someone to perform them.
    error RenounceDisabled();

    /// @param initialOwner The owner (a multisig). Passed explicitly: under CREATE2 deployment the
    /// constructor's `msg.sender` is a factory.
    constructor(address initialOwner) EIP712("AgentEscrow", "1") Ownable(initialOwner) {}

    // ----------------------------------------------------------------------------------------
    // Activation and top-ups
    // ----------------------------------------------------------------------------------------

    /// @notice Activate an agreement: pull the deposit from the buyer with its EIP-3009
    /// `ReceiveWithAuthorization` (value = deposit, nonce = agreement id, recipient = this
    /// contract). For terms with no upfront fee. Anyone may submit it (a relayer pays the gas).
    /// @param activation The packed terms followed by the buyer's authorization:
    /// `terms ‖ uint40 validAfter ‖ uint40 validBefore ‖ signature` ({TermsCodec.decodeActivation}).
    /// @return id The agreement id.
    function activate(bytes calldata activation) external nonReentrant returns (bytes32 id) {
        (Terms memory t, uint256 validAfter, uint256 validBefore, bytes calldata signature) = activation
            .decodeActivation();
        if (t.upfrontFee != 0) revert UpfrontFeeUnexpected(t.upfrontFee);
        id = _activate(t, validAfter, validBefore, signature);
    }

    /// @notice Activate an agreement whose terms carry an upfront fee: also pays the fee from the
    /// buyer to the fee recipient under the buyer's EIP-2612 permit. If the permit was already used
    /// (front-run), the existing allowance is used instead.
    /// @param activation The packed terms and the buyer's authorization, as for {activate}.
    /// @param feePermit The buyer's permit for this contract, of at least the upfront fee.
    /// @return id The agreement id.
    function activateWithFeePermit(
        bytes calldata activation,
        FeePermit calldata feePermit
    ) external nonReentrant returns (bytes32 id) {
        (Terms memory t, uint256 validAfter, uint256 validBefore, bytes calldata signature) = activation
            .decodeActivation();
        id = _activate(t, validAfter, validBefore, signature);
        if (t.upfrontFee != 0) {
            if (feePermit.value < t.upfrontFee) revert UpfrontFeePermitTooLow(feePermit.value, t.upfrontFee);
            _tryPermit(t.token, t.buyer, feePermit);
            IERC20(t.token).safeTransferFrom(t.buyer, t.feeRecipient, t.upfrontFee);
            emit UpfrontFeePaid(id, t.feeRecipient, t.upfrontFee);
        }
    }

    /// @notice Add to an active agreement's deposit with another buyer authorization, whose nonce
    /// must be {topUpNonce}(id, topUpSalt). Like activation, only `ReceiveWithAuthorization`: a
    /// top-up that could be submitted to the token directly, or after the agreement ended, would
    /// strand the funds.
    /// @param terms The agreement's packed terms.
    /// @param amount The amount the authorization moves.
    /// @param topUpSalt Any value that makes the authorization nonce unique.
    /// @param auth The buyer's authorization.
    function topUp(
        bytes calldata terms,
        uint64 amount,
        bytes32 topUpSalt,
        FundingAuthorization calldata auth
    ) external nonReentrant {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        Agreement storage a = _agreements[t.recorder][id];
        if (a.status != Status.Active) revert WrongStatus(id, a.status);
        if (amount == 0) revert ZeroDeposit();
        TokenConfig memory cfg = _tokens[t.token];
        if (!cfg.allowed) revert TokenNotAllowed(t.token);
        if (cfg.paused) revert ActivationsPaused(t.token);
        uint256 newDeposit = uint256(a.deposit) + amount;
        if (newDeposit > type(uint64).max) revert DepositOverflow(id, a.deposit, amount);

        a.deposit = uint64(newDeposit);
        _tokens[t.token].held = cfg.held + amount;
        _pullDeposit(t, amount, topUpNonce(id, topUpSalt), auth.validAfter, auth.validBefore, auth.signature);
        emit DepositIncreased(id, amount, newDeposit);
    }

    // ----------------------------------------------------------------------------------------
    // Usage
    // ----------------------------------------------------------------------------------------

    /// @notice Record cumulative usage of one agreement; only its recorder. Usage never decreases
    /// and never exceeds the deposit. With `entry.complete`, usage also ends.
    /// @param entry The agreement id, cumulative usage, completion flag and usage-log reference.
    function recordUsage(UsageEntry calldata entry) external {
        _recordUsage(entry, false);
    }

    /// @notice Record usage of many agreements in one transaction; the caller must be the
    /// recorder of every one. What others can cause between signing and mining the batch never
    /// reverts it: an entry whose agreement is no longer active (someone completed it meanwhile),
    /// or whose usage is below the recorded usage (a buyer's voucher raised it meanwhile), is
    /// skipped with `UsageEntrySkipped` and changes nothing (its completion flag included). Only
    /// the recorder's own mistakes revert the whole batch: an agreement that does not exist for
    /// the caller (never activated, or naming another recorder), usage above the deposit.
    /// @param entries The entries, applied in order.
    function recordUsageBatch(UsageEntry[] calldata entries) external {
        if (entries.length == 0) revert EmptyBatch();
        for (uint256 i = 0; i < entries.length; ++i) {
            _recordUsage(entries[i], true);
        }
    }

    /// @notice The recorder's one late record: after the buyer, the seller or anyone else
    /// completed the agreement, the recorder may still raise the usage it metered before the
    /// completion, strictly (never equal or lower) and never above the deposit. Usage recorded
    /// late stays disputable:
    /// - while Completed (inside the challenge window), the challenge window restarts;
    /// - while Challenged (inside the resolution window, before any resolution), the arbiter's
    ///   upper bound and the fallback split's base rise to the new usage, and the resolution
    ///   window restarts so the arbiter can weigh it.
    /// A buyer who completes and challenges at once therefore cannot cut off metered usage.
    /// @param terms The agreement's packed terms.
    /// @param cumulativeUsage The cumulative usage.
    /// @param logRef Hash of the usage log.
    function recordLateUsage(bytes calldata terms, uint64 cumulativeUsage, bytes32 logRef) external {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        // 1. Only the recorder, and only once.
        if (msg.sender != t.recorder) revert NotRecorder(id, msg.sender);
        Agreement storage a = _agreements[t.recorder][id];
        Status status = a.status;
        if (a.lateUsageRecorded) revert WrongStatus(id, status);
        // 2. While the usage can still be disputed: inside the challenge window, or while a
        //    challenge awaits the arbiter.
        if (status == Status.Completed) {
            uint256 deadline = uint256(a.completedAt) + t.challengeWindow;
            if (block.timestamp >= deadline) revert ChallengeWindowClosed(id, deadline);
        } else if (status == Status.Challenged) {
            uint256 deadline = uint256(_disputes[id].challengedAt) + t.resolutionWindow;
            if (block.timestamp >= deadline) revert ResolutionWindowClosed(id, deadline);
        } else {
            revert WrongStatus(id, status);
        }
        // 3. Strictly more, within the deposit: a late record that adds nothing cannot restart a window.
        uint64 previous = a.usage;
        if (cumulativeUsage <= previous) revert UsageNotRaised(id, previous, cumulativeUsage);
        if (cumulativeUsage > a.deposit) revert UsageAboveDeposit(id, cumulativeUsage, a.deposit);

        a.usage = cumulativeUsage;
        a.lateUsageRecorded = true;
        if (status == Status.Completed) a.completedAt = uint40(block.timestamp);
        else _disputes[id].challengedAt = uint40(block.timestamp);
        emit UsageRecorded(id, cumulativeUsage, logRef);
        emit LateUsageRecorded(id, previous, cumulativeUsage, status);
    }

    /// @notice Submit a buyer-signed EIP-712 usage voucher (anyone may). Raises the acknowledged
    /// usage (which the buyer can no longer dispute) and, if higher, the recorded usage.
    /// @param terms The agreement's packed terms.
    /// @param cumulativeUsage The cumulative usage the buyer acknowledges.
    /// @param signature The buyer's signature (ECDSA, or ERC-1271 for a contract wallet).
    function submitUsageVoucher(bytes calldata terms, uint64 cumulativeUsage, bytes calldata signature) external {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        Agreement storage a = _agreements[t.recorder][id];
        if (a.status != Status.Active && a.status != Status.Completed) revert WrongStatus(id, a.status);
        Dispute storage d = _disputes[id];
        if (cumulativeUsage <= d.acknowledged) revert VoucherNotHigher(id, d.acknowledged, cumulativeUsage);
        if (cumulativeUsage > a.deposit) revert UsageAboveDeposit(id, cumulativeUsage, a.deposit);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(USAGE_VOUCHER_TYPEHASH, id, cumulativeUsage)));
        if (!SignatureChecker.isValidSignatureNowCalldata(t.buyer, digest, signature)) {
            revert InvalidVoucherSignature(id, t.buyer);
        }

        d.acknowledged = cumulativeUsage;
        emit UsageAcknowledged(id, cumulativeUsage);
        if (cumulativeUsage > a.usage) {
            a.usage = cumulativeUsage;
            emit UsageRecorded(id, cumulativeUsage, digest);
        }
    }

    /// @notice End usage: the buyer, the seller or the recorder at any time, anyone after the
    /// service expiry. Starts the challenge window.
    /// @param terms The agreement's packed terms.
    function complete(bytes calldata terms) external {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        if (
            msg.sender != t.buyer &&
            msg.sender != t.seller &&
            msg.sender != t.recorder &&
            block.timestamp < t.serviceExpiry
        ) revert NotParty(id, msg.sender);
        Agreement storage a = _agreements[t.recorder][id];
        if (a.status != Status.Active) revert WrongStatus(id, a.status);
        _complete(id, a, msg.sender == t.recorder);
    }

    // ----------------------------------------------------------------------------------------
    // Disputes
    // ----------------------------------------------------------------------------------------

    /// @notice The buyer disputes the recorded usage above what it acknowledged; only inside the
    /// challenge window.
    /// @param terms The agreement's packed terms.
    function challenge(bytes calldata terms) external {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        if (msg.sender != t.buyer) revert NotParty(id, msg.sender);
        Agreement storage a = _agreements[t.recorder][id];
        if (a.status != Status.Completed) revert WrongStatus(id, a.status);
        uint256 deadline = uint256(a.completedAt) + t.challengeWindow;
        if (block.timestamp >= deadline) revert ChallengeWindowClosed(id, deadline);
        Dispute storage d = _disputes[id];
        if (a.usage <= d.acknowledged) revert NothingToDispute(id, a.usage, d.acknowledged);

        a.status = Status.Challenged;
        d.challengedAt = uint40(block.timestamp);
        emit UsageChallenged(id, a.usage, d.acknowledged);
    }

    /// @notice The arbiter fixes the usage of a challenged agreement, between the acknowledged
    /// and the recorded usage, before the resolution deadline.
    /// @param terms The agreement's packed terms.
    /// @param usage The resolved usage.
    function resolve(bytes calldata terms, uint64 usage) external {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        if (msg.sender != t.arbiter) revert NotArbiter(id, msg.sender);
        Agreement storage a = _agreements[t.recorder][id];
        if (a.status != Status.Challenged) revert WrongStatus(id, a.status);
        Dispute storage d = _disputes[id];
        uint256 deadline = uint256(d.challengedAt) + t.resolutionWindow;
        if (block.timestamp >= deadline) revert ResolutionWindowClosed(id, deadline);
        if (usage < d.acknowledged || usage > a.usage) {
            revert ResolutionOutOfBounds(id, usage, d.acknowledged, a.usage);
        }

        a.usage = usage;
        a.status = Status.Resolved;
        emit ChallengeResolved(id, usage);
    }

    // ----------------------------------------------------------------------------------------
    // Settlement and withdrawals
    // ----------------------------------------------------------------------------------------

    /// @notice Cooperative close: the seller or the recorder submits the buyer's final usage
    /// voucher, and the agreement ends and settles in this one transaction at exactly that usage,
    /// with no challenge window: the seller is paid usage less fee, the fee is credited, and the
    /// buyer is refunded the rest. Possible from any status before settlement (Active, Completed,
    /// Challenged, Resolved) and before the voucher's deadline.
    /// - The seller may close at any usage the buyer signed: it is the seller's own payment.
    /// - The recorder (when it is not the seller) may close only at or above both the recorded
    ///   (or resolved) and the acknowledged usage, so it can never cut the seller's pay below what
    ///   was recorded, acknowledged or ruled.
    /// - The buyer cannot submit it (that would let it set usage alone); terms where the buyer is
    ///   the recorder are refused at activation.
    /// @param terms The agreement's packed terms.
    /// @param usage The final usage the buyer signed (at most the deposit).
    /// @param deadline The voucher's deadline (it is valid before this time).
    /// @param signature The buyer's EIP-712 `FinalUsage` signature (ECDSA, or ERC-1271).
    function closeWithFinalVoucher(
        bytes calldata terms,
        uint64 usage,
        uint40 deadline,
        bytes calldata signature
    ) external nonReentrant {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        // 1. Only the seller's side submits: the seller or the recorder.
        if (msg.sender != t.seller && msg.sender != t.recorder) revert NotParty(id, msg.sender);
        // 2. Activated and not yet settled; the voucher still valid.
        Agreement storage a = _agreements[t.recorder][id];
        Status status = a.status;
        if (status == Status.None || status == Status.Settled) revert WrongStatus(id, status);
        if (block.timestamp >= deadline) revert VoucherExpired(id, deadline);
        // 3. Within the deposit; from the recorder, never below what was recorded or acknowledged.
        uint256 deposit = a.deposit;
        if (usage > deposit) revert UsageAboveDeposit(id, usage, deposit);
        if (msg.sender != t.seller) {
            uint256 floor = a.usage;
            uint256 acknowledged = _disputes[id].acknowledged;
            if (acknowledged > floor) floor = acknowledged;
            if (usage < floor) revert UsageBelowRecorded(id, usage, floor);
        }
        // 4. Signed by the buyer for this agreement, this usage and this deadline.
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(FINAL_USAGE_TYPEHASH, id, usage, deadline)));
        if (!SignatureChecker.isValidSignatureNowCalldata(t.buyer, digest, signature)) {
            revert InvalidVoucherSignature(id, t.buyer);
        }

        emit AgreementClosed(id, msg.sender, usage, status);
        _settle(id, t, a, usage, deposit, false);
    }

    /// @notice Settle (anyone, once): after the challenge window, after a resolution, or after
    /// the resolution deadline (then the terms' fallback split applies). Pays the seller usage
    /// less the settlement fee and refunds the rest of the deposit to the buyer; the fee is
    /// credited to the fee recipient's withdrawable balance. A transfer that fails becomes a
    /// balance its owner can {withdraw}.
    /// @param terms The agreement's packed terms.
    function settle(bytes calldata terms) external nonReentrant {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        Agreement storage a = _agreements[t.recorder][id];
        (bool settleable, bool byFallback, uint256 usage, uint256 deposit) = _settlementState(a, _disputes[id], t);
        if (!settleable) revert NotSettleable(id, a.status, _settleableAt(a, _disputes[id], t));
        _settle(id, t, a, usage, deposit, byFallback);
    }

    /// @notice Withdraw the caller's deferred payouts in `token` to `to` (which may differ from
    /// the caller, e.g. when the caller's own address cannot receive the token). Refused while the
    /// token blacklists the caller.
    /// @param token The token.
    /// @param to The recipient.
    function withdraw(address token, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress("to");
        uint256 amount = withdrawable[token][msg.sender];
        if (amount == 0) revert NothingToWithdraw(token, msg.sender);
        // A balance frozen by the issuer stays frozen: paying it to a fresh address would
        // sidestep the blacklisting.
        if (_isBlacklisted(token, msg.sender)) revert BalanceOwnerBlacklisted(token, msg.sender);
        withdrawable[token][msg.sender] = 0;
        _tokens[token].held -= uint96(amount);
        IERC20(token).safeTransfer(to, amount);
        emit Withdrawn(token, msg.sender, to, amount);
    }

    // ----------------------------------------------------------------------------------------
    // Owner
    // ----------------------------------------------------------------------------------------

    /// @notice Always reverts: without an owner, tokens sent here by mistake could never be
    /// returned. Ownership can only be transferred (two steps).
    function renounceOwnership() public pure override {
        revert RenounceDisabled();
    }

    /// @notice Allow or disallow a token for new activations and top-ups and set its fee caps.
    /// Agreements already active are unaffected.
    function configureToken(
        address token,
        bool allowed,
        uint16 maxFeeBps,
        uint64 maxFeeFixed,
        uint64 maxUpfrontFee
    ) external onlyOwner {
        if (token == address(0)) revert ZeroAddress("token");
        if (maxFeeBps > MAX_FEE_BPS) revert FeeAboveCap("maxFeeBps", maxFeeBps, MAX_FEE_BPS);
        if (maxFeeFixed > MAX_FEE_FIXED) revert FeeAboveCap("maxFeeFixed", maxFeeFixed, MAX_FEE_FIXED);
        if (maxUpfrontFee > MAX_UPFRONT_FEE) revert FeeAboveCap("maxUpfrontFee", maxUpfrontFee, MAX_UPFRONT_FEE);
        TokenConfig storage cfg = _tokens[token];
        cfg.allowed = allowed;
        cfg.maxFeeBps = maxFeeBps;
        cfg.maxFeeFixed = maxFeeFixed;
        cfg.maxUpfrontFee = maxUpfrontFee;
        emit TokenConfigured(token, allowed, cfg.paused, maxFeeBps, maxFeeFixed, maxUpfrontFee);
    }

    /// @notice Pause or resume new activations and top-ups in `token`. Recording, completion,
    /// challenges, settlement and withdrawals are never paused.
    function setPaused(address token, bool paused) external onlyOwner {
        TokenConfig storage cfg = _tokens[token];
        cfg.paused = paused;
        emit TokenConfigured(token, cfg.allowed, paused, cfg.maxFeeBps, cfg.maxFeeFixed, cfg.maxUpfrontFee);
    }

    /// @notice Return tokens this contract holds beyond everything it owes (for example a
    /// deposit authorization submitted directly to the token instead of through {activate}).
    /// Escrowed deposits and withdrawable balances can never be moved this way.
    function recoverUnaccounted(address token, address to, uint256 amount) external onlyOwner {
        if (to == address(0)) revert ZeroAddress("to");
        uint256 unaccounted = unaccountedBalance(token);
        if (amount > unaccounted) revert NotUnaccounted(token, amount, unaccounted);
        IERC20(token).safeTransfer(to, amount);
        emit UnaccountedRecovered(token, to, amount);
    }

    // ----------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------

    /// @notice The id of an agreement with these packed terms on this chain and escrow.
    function agreementId(bytes calldata terms) external view returns (bytes32) {
        return agreementIdOf(terms.decode());
    }

    /// @notice The id of an agreement: the EIP-712 digest of its terms under this contract's domain.
    function agreementIdOf(Terms memory t) public view returns (bytes32) {
        return _hashTypedDataV4(TermsCodec.structHash(t, TERMS_TYPEHASH));
    }

    /// @notice The EIP-3009 nonce a top-up authorization must carry.
    function topUpNonce(bytes32 id, bytes32 topUpSalt) public pure returns (bytes32) {
        return keccak256(abi.encode(id, topUpSalt));
    }

    /// @notice State, amounts and deadlines of an agreement.
    function getAgreement(bytes calldata terms) external view returns (AgreementView memory v) {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        Agreement memory a = _agreements[t.recorder][id];
        Dispute memory d = _disputes[id];
        v.status = a.status;
        v.recorder = t.recorder;
        v.deposit = a.deposit;
        v.recordedUsage = a.usage;
        v.acknowledgedUsage = d.acknowledged;
        v.completedAt = a.completedAt;
        v.challengedAt = d.challengedAt;
        if (a.completedAt != 0) v.challengeDeadline = uint256(a.completedAt) + t.challengeWindow;
        if (d.challengedAt != 0) v.resolutionDeadline = uint256(d.challengedAt) + t.resolutionWindow;
        v.settleableAt = _settleableAt(_agreements[t.recorder][id], _disputes[id], t);
        v.lateRecordAvailable =
            !a.lateUsageRecorded &&
            ((a.status == Status.Completed && block.timestamp < v.challengeDeadline) ||
                (a.status == Status.Challenged && block.timestamp < v.resolutionDeadline));
    }

    /// @notice What {settle} would pay now (or, if not yet settleable, under the current usage).
    function previewSettlement(bytes calldata terms) external view returns (SettlementPreview memory p) {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        Agreement storage a = _agreements[t.recorder][id];
        uint256 deposit;
        (p.settleableNow, p.byFallback, p.usage, deposit) = _settlementState(a, _disputes[id], t);
        p.fee = Fees.settlementFee(p.usage, t.feeBps, t.feeFixed, t.feeCap);
        p.toSeller = p.usage - p.fee;
        p.refund = deposit - p.usage;
    }

    /// @notice Allowlist status, pause flag, fee caps and the total owed in `token`.
    function tokenConfig(address token) external view returns (TokenConfig memory) {
        return _tokens[token];
    }

    /// @notice Token balance beyond everything this contract owes.
    function unaccountedBalance(address token) public view returns (uint256) {
        uint256 balance = IERC20(token).balanceOf(address(this));
        uint256 held = _tokens[token].held;
        return balance > held ? balance - held : 0;
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    function _activate(
        Terms memory t,
        uint256 validAfter,
        uint256 validBefore,
        bytes calldata signature
    ) internal returns (bytes32 id) {
        id = agreementIdOf(t);
        Agreement storage a = _agreements[t.recorder][id];
        if (a.status != Status.None) revert AgreementExists(id, a.status);
        TokenConfig memory cfg = _tokens[t.token];
        _validateTerms(t, cfg);

        a.status = Status.Active;
        a.deposit = t.deposit;
        _tokens[t.token].held = cfg.held + t.deposit;
        _pullDeposit(t, t.deposit, id, validAfter, validBefore, signature);
        emit AgreementActivated(id, t.buyer, t.seller, t.token, t.deposit);
    }

    function _validateTerms(Terms memory t, TokenConfig memory cfg) internal view {
        if (!cfg.allowed) revert TokenNotAllowed(t.token);
        if (cfg.paused) revert ActivationsPaused(t.token);
        if (t.buyer == address(0)) revert ZeroAddress("buyer");
        if (t.seller == address(0)) revert ZeroAddress("seller");
        if (t.feeRecipient == address(0)) revert ZeroAddress("feeRecipient");
        if (t.arbiter == address(0)) revert ZeroAddress("arbiter");
        if (t.recorder == address(0)) revert ZeroAddress("recorder");
        // A buyer that records its own usage could also close on its own final voucher.
        if (t.recorder == t.buyer) revert BuyerCannotBe("recorder");
        if (t.seller == address(this)) revert PartyIsEscrow("seller");
        if (t.feeRecipient == address(this)) revert PartyIsEscrow("feeRecipient");
        if (t.buyer == address(this)) revert PartyIsEscrow("buyer");
        if (t.deposit == 0) revert ZeroDeposit();
        // A party the token's issuer froze cannot start receiving funds through an agreement:
        // - the buyer: the token itself refuses its deposit authorization;
        // - the seller: checked here;
        // - the fee recipient (the platform): the token refuses its upfront fee, and its
        //   settlement fees are credited, never transferred, so they stay frozen by {withdraw}.
        if (_isBlacklisted(t.token, t.seller)) revert PartyBlacklisted("seller", t.seller);
        if (t.feeBps > cfg.maxFeeBps) revert FeeAboveCap("feeBps", t.feeBps, cfg.maxFeeBps);
        if (t.feeFixed > cfg.maxFeeFixed) revert FeeAboveCap("feeFixed", t.feeFixed, cfg.maxFeeFixed);
        if (t.upfrontFee > cfg.maxUpfrontFee) revert FeeAboveCap("upfrontFee", t.upfrontFee, cfg.maxUpfrontFee);
        if (t.fallbackBps > BPS) revert BpsAboveMax("fallbackBps", t.fallbackBps);
        if (t.challengeWindow > MAX_WINDOW) revert WindowTooLong("challengeWindow", t.challengeWindow, MAX_WINDOW);
        if (t.resolutionWindow > MAX_WINDOW) {
            revert WindowTooLong("resolutionWindow", t.resolutionWindow, MAX_WINDOW);
        }
        uint256 latest = block.timestamp + MAX_SERVICE_DURATION;
        if (t.serviceExpiry <= block.timestamp || t.serviceExpiry > latest) {
            revert ServiceExpiryInvalid(t.serviceExpiry, block.timestamp, latest);
        }
    }

    /// @dev Executes the buyer's EIP-3009 `ReceiveWithAuthorization` moving `amount` to this contract.
    function _pullDeposit(
        Terms memory t,
        uint256 amount,
        bytes32 nonce,
        uint256 validAfter,
        uint256 validBefore,
        bytes calldata signature
    ) internal {
        IFiatToken(t.token).receiveWithAuthorization(
            t.buyer,
            address(this),
            amount,
            validAfter,
            validBefore,
            nonce,
            signature
        );
    }

    /// @dev Whether `token` blacklists `account` (FiatToken's `isBlacklisted`). A token without
    /// that function blacklists nobody, so a non-FiatToken can never block withdrawals.
    function _isBlacklisted(address token, address account) internal view returns (bool blocked) {
        bytes4 selector = IS_BLACKLISTED_SELECTOR;
        // A plain high-level call would revert on a token without the function (or with a short
        // return), which would block withdrawals forever.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 0x04), account)
            let ok := staticcall(gas(), token, ptr, 0x24, 0x00, 0x20)
            blocked := and(and(ok, gt(returndatasize(), 0x1f)), iszero(iszero(mload(0x00))))
        }
    }

    /// @dev Uses the permit; if that fails (e.g. someone submitted it first), relies on the
    /// allowance that is already there. `safeTransferFrom` then fails if it is not enough.
    function _tryPermit(address token, address owner, FeePermit calldata p) internal {
        try IFiatToken(token).permit(owner, address(this), p.value, p.deadline, p.signature) {} catch {}
    }

    /// @dev With `inBatch`, what others can cause (the agreement is no longer active, or a voucher
    /// raised its usage above the entry) skips the entry; without, it reverts.
    function _recordUsage(UsageEntry calldata e, bool inBatch) internal {
        // Only agreements that name the caller as recorder are found; to anyone else an agreement
        // does not exist (status None).
        Agreement storage a = _agreements[msg.sender][e.id];
        Status status = a.status;
        if (status != Status.Active) {
            // Nobody else can make an agreement not exist: that is always the caller's mistake.
            if (!inBatch || status == Status.None) revert WrongStatus(e.id, status);
            emit UsageEntrySkipped(e.id, status, a.usage, e.cumulativeUsage);
            return;
        }
        if (e.cumulativeUsage < a.usage) {
            if (!inBatch) revert UsageDecreased(e.id, a.usage, e.cumulativeUsage);
            emit UsageEntrySkipped(e.id, status, a.usage, e.cumulativeUsage);
            return;
        }
        if (e.cumulativeUsage > a.deposit) revert UsageAboveDeposit(e.id, e.cumulativeUsage, a.deposit);
        a.usage = e.cumulativeUsage;
        emit UsageRecorded(e.id, e.cumulativeUsage, e.logRef);
        if (e.complete) _complete(e.id, a, true);
    }

    function _complete(bytes32 id, Agreement storage a, bool byRecorder) internal {
        a.status = Status.Completed;
        a.completedAt = uint40(block.timestamp);
        // The recorder completing has nothing left to record late.
        if (byRecorder) a.lateUsageRecorded = true;
        emit AgreementCompleted(id, msg.sender, a.usage);
    }

    /// @dev Whether settlement is possible now, whether the fallback split applies, the usage it
    /// would pay, and the deposit.
    function _settlementState(
        Agreement storage a,
        Dispute storage d,
        Terms memory t
    ) internal view returns (bool settleable, bool byFallback, uint256 usage, uint256 deposit) {
        Status status = a.status;
        usage = a.usage;
        deposit = a.deposit;
        if (status == Status.Completed) {
            settleable = block.timestamp >= uint256(a.completedAt) + t.challengeWindow;
        } else if (status == Status.Resolved) {
            settleable = true;
        } else if (status == Status.Challenged) {
            settleable = block.timestamp >= uint256(d.challengedAt) + t.resolutionWindow;
            byFallback = settleable;
            if (settleable) usage = Fees.fallbackUsage(d.acknowledged, usage, t.fallbackBps);
        }
    }

    function _settleableAt(Agreement storage a, Dispute storage d, Terms memory t) internal view returns (uint256) {
        Status status = a.status;
        if (status == Status.Completed) return uint256(a.completedAt) + t.challengeWindow;
        if (status == Status.Challenged) return uint256(d.challengedAt) + t.resolutionWindow;
        if (status == Status.Resolved) return block.timestamp;
        return 0;
    }

    /// @dev Pays out a settled agreement: marks it Settled at `usage`, credits the fee, pays the
    /// seller and refunds the buyer (deferring what the token refuses), and releases what left.
    function _settle(
        bytes32 id,
        Terms memory t,
        Agreement storage a,
        uint256 usage,
        uint256 deposit,
        bool byFallback
    ) internal {
        uint256 fee = Fees.settlementFee(usage, t.feeBps, t.feeFixed, t.feeCap);
        a.status = Status.Settled;
        a.usage = uint64(usage);
        emit AgreementSettled(id, usage, usage - fee, fee, deposit - usage, byFallback);

        // The fee accrues to the fee recipient's withdrawable balance (one storage write instead of
        // a token transfer per agreement); seller and buyer are paid directly.
        if (fee != 0) withdrawable[t.token][t.feeRecipient] += fee;
        uint256 deferred =
            _payOrDefer(id, t.token, t.seller, usage - fee) + _payOrDefer(id, t.token, t.buyer, deposit - usage);
        // What stays owed: the fee and the deferred payouts, now withdrawable balances.
        _tokens[t.token].held -= uint96(deposit - fee - deferred);
    }

    /// @dev Transfers `amount` to `to`; if the token refuses (e.g. `to` is blacklisted or the
    /// token is paused), credits it to `to`'s withdrawable balance instead. Returns the amount deferred.
    function _payOrDefer(bytes32 id, address token, address to, uint256 amount) internal returns (uint256) {
        if (amount == 0 || IERC20(token).trySafeTransfer(to, amount)) return 0;
        withdrawable[token][to] += amount;
        emit PayoutDeferred(id, token, to, amount);
        return amount;
    }
}
