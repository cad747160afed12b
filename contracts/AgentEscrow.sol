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

    /// @notice How the buyer's deposit authorization is executed on the token.
    /// `receiveWithAuthorization` can only be submitted by this contract, so it cannot be
    /// front-run; `transferWithAuthorization` is the x402 'exact' form.
    struct FundingAuthorization {
        bool useReceive;
        uint256 validAfter;
        uint256 validBefore;
        bytes signature;
    }

    /// @notice The buyer's EIP-2612 permit letting this contract pay the upfront fee.
    struct FeePermit {
        uint256 value;
        uint256 deadline;
        bytes signature;
    }

    /// @notice One entry of a usage batch. `complete` also ends usage after recording it.
    struct UsageEntry {
        bytes32 id;
        uint64 cumulativeUsage;
        bool complete;
        bytes32 logRef;
    }

    /// @dev One storage slot, written at activation.
    struct Agreement {
        Status status;
        uint32 recorderId;
        uint40 completedAt;
        uint64 deposit;
        uint64 usage;
        /// Set once the recorder used its one late record after a completion by someone else.
        bool lateUsageRecorded;
    }

    /// @dev Written only by usage vouchers and challenges.
    struct Dispute {
        uint64 acknowledged;
        uint40 challengedAt;
    }

    /// @dev One storage slot per token: read and written once per activation.
    struct TokenConfig {
        bool allowed;
        bool paused;
        uint16 maxFeeBps;
        uint64 maxFeeFixed;
        uint64 maxUpfrontFee;
        /// Everything this contract owes in this token: open deposits and withdrawable balances.
        uint96 held;
    }

    /// @notice Everything the status endpoint and the relayer need about one agreement.
    struct AgreementView {
        Status status;
        address recorder;
        uint256 deposit;
        uint256 recordedUsage;
        uint256 acknowledgedUsage;
        uint256 completedAt;
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
        bool settleableNow;
        bool byFallback;
        uint256 usage;
        uint256 toSeller;
        uint256 fee;
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
    bytes32 public constant USAGE_VOUCHER_TYPEHASH = keccak256(
        "UsageVoucher(bytes32 agreementId,uint64 cumulativeUsage)"
    );

    mapping(bytes32 id => Agreement) internal _agreements;
    mapping(bytes32 id => Dispute) internal _disputes;
    mapping(address token => TokenConfig) internal _tokens;
    mapping(address token => mapping(address owner => uint256)) public withdrawable;
    /// @notice Recorders are interned to a 32-bit id so an agreement's slot can name its recorder.
    mapping(address recorder => uint32) public recorderIds;
    address[] internal _recorders;

    event AgreementActivated(
        bytes32 indexed id,
        address indexed buyer,
        address indexed seller,
        address token,
        uint256 deposit
    );
    event UpfrontFeePaid(bytes32 indexed id, address indexed feeRecipient, uint256 amount);
    event DepositIncreased(bytes32 indexed id, uint256 amount, uint256 newDeposit);
    event UsageRecorded(bytes32 indexed id, uint256 cumulativeUsage, bytes32 logRef);
    event UsageEntrySkipped(bytes32 indexed id, Status status);
    event UsageAcknowledged(bytes32 indexed id, uint256 cumulativeUsage);
    event AgreementCompleted(bytes32 indexed id, address indexed by, uint256 usage);
    event UsageChallenged(bytes32 indexed id, uint256 recordedUsage, uint256 acknowledgedUsage);
    event ChallengeResolved(bytes32 indexed id, uint256 usage);
    event AgreementSettled(
        bytes32 indexed id,
        uint256 usage,
        uint256 toSeller,
        uint256 fee,
        uint256 refund,
        bool byFallback
    );
    event PayoutDeferred(bytes32 indexed id, address indexed token, address indexed owner, uint256 amount);
    event Withdrawn(address indexed token, address indexed owner, address to, uint256 amount);
    event RecorderRegistered(address indexed recorder, uint32 recorderId);
    event TokenConfigured(
        address indexed token,
        bool allowed,
        bool paused,
        uint16 maxFeeBps,
        uint64 maxFeeFixed,
        uint64 maxUpfrontFee
    );
    event UnaccountedRecovered(address indexed token, address indexed to, uint256 amount);

    error TokenNotAllowed(address token);
    error ActivationsPaused(address token);
    error AgreementExists(bytes32 id, Status status);
    error WrongStatus(bytes32 id, Status status);
    error ZeroAddress(string field);
    error ZeroDeposit();
    error FeeAboveCap(string field, uint256 value, uint256 cap);
    error BpsAboveMax(string field, uint256 value);
    error WindowTooLong(string field, uint256 value, uint256 max);
    error ServiceExpiryInvalid(uint256 serviceExpiry, uint256 nowTime, uint256 latest);
    error UpfrontFeeUnexpected(uint64 upfrontFee);
    error UpfrontFeePermitTooLow(uint256 permitted, uint256 upfrontFee);
    error NotRecorder(bytes32 id, address caller);
    error NotParty(bytes32 id, address caller);
    error UnknownRecorder(address caller);
    error UsageDecreased(bytes32 id, uint256 current, uint256 proposed);
    error UsageAboveDeposit(bytes32 id, uint256 proposed, uint256 deposit);
    error VoucherNotHigher(bytes32 id, uint256 acknowledged, uint256 proposed);
    error InvalidVoucherSignature(bytes32 id, address buyer);
    error ChallengeWindowClosed(bytes32 id, uint256 deadline);
    error NothingToDispute(bytes32 id, uint256 recorded, uint256 acknowledged);
    error NotArbiter(bytes32 id, address caller);
    error ResolutionWindowClosed(bytes32 id, uint256 deadline);
    error ResolutionOutOfBounds(bytes32 id, uint256 usage, uint256 minUsage, uint256 maxUsage);
    error NotSettleable(bytes32 id, Status status, uint256 settleableAt);
    error DepositOverflow(bytes32 id, uint256 deposit, uint256 amount);
    error NothingToWithdraw(address token, address owner);
    error NotUnaccounted(address token, uint256 requested, uint256 unaccounted);
    error EmptyBatch();
    error TopUpNeedsReceiveAuthorization();
    error PartyIsEscrow(string field);

    /// @param initialOwner The owner (a multisig). Passed explicitly: under CREATE2 deployment the
    /// constructor's `msg.sender` is a factory.
    constructor(address initialOwner) EIP712("AgentEscrow", "1") Ownable(initialOwner) {}

    // ----------------------------------------------------------------------------------------
    // Activation and top-ups
    // ----------------------------------------------------------------------------------------

    /// @notice Activate an agreement: pull the deposit from the buyer with its EIP-3009
    /// authorization (nonce = agreement id, recipient = this contract). For terms with no upfront fee.
    /// @param terms The packed terms ({TermsCodec}).
    /// @param auth The buyer's deposit authorization.
    /// @return id The agreement id.
    function activate(
        bytes calldata terms,
        FundingAuthorization calldata auth
    ) external nonReentrant returns (bytes32 id) {
        Terms memory t = terms.decode();
        if (t.upfrontFee != 0) revert UpfrontFeeUnexpected(t.upfrontFee);
        id = _activate(t, auth);
    }

    /// @notice Activate an agreement whose terms carry an upfront fee: also pays the fee from the
    /// buyer to the fee recipient under the buyer's EIP-2612 permit. If the permit was already used
    /// (front-run), the existing allowance is used instead.
    /// @param terms The packed terms ({TermsCodec}).
    /// @param auth The buyer's deposit authorization.
    /// @param feePermit The buyer's permit for this contract, of at least the upfront fee.
    /// @return id The agreement id.
    function activateWithFeePermit(
        bytes calldata terms,
        FundingAuthorization calldata auth,
        FeePermit calldata feePermit
    ) external nonReentrant returns (bytes32 id) {
        Terms memory t = terms.decode();
        id = _activate(t, auth);
        if (t.upfrontFee != 0) {
            if (feePermit.value < t.upfrontFee) revert UpfrontFeePermitTooLow(feePermit.value, t.upfrontFee);
            _tryPermit(t.token, t.buyer, feePermit);
            IERC20(t.token).safeTransferFrom(t.buyer, t.feeRecipient, t.upfrontFee);
            emit UpfrontFeePaid(id, t.feeRecipient, t.upfrontFee);
        }
    }

    /// @notice Add to an active agreement's deposit with another buyer authorization, whose nonce
    /// must be {topUpNonce}(id, topUpSalt). Only `ReceiveWithAuthorization`: a top-up that could be
    /// submitted to the token directly, or after the agreement ended, would strand the funds.
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
        Agreement storage a = _agreements[id];
        if (a.status != Status.Active) revert WrongStatus(id, a.status);
        if (amount == 0) revert ZeroDeposit();
        if (!auth.useReceive) revert TopUpNeedsReceiveAuthorization();
        TokenConfig memory cfg = _tokens[t.token];
        if (!cfg.allowed) revert TokenNotAllowed(t.token);
        if (cfg.paused) revert ActivationsPaused(t.token);
        uint256 newDeposit = uint256(a.deposit) + amount;
        if (newDeposit > type(uint64).max) revert DepositOverflow(id, a.deposit, amount);

        a.deposit = uint64(newDeposit);
        _tokens[t.token].held = cfg.held + amount;
        _pullDeposit(t.token, t.buyer, amount, topUpNonce(id, topUpSalt), auth);
        emit DepositIncreased(id, amount, newDeposit);
    }

    // ----------------------------------------------------------------------------------------
    // Usage
    // ----------------------------------------------------------------------------------------

    /// @notice Record cumulative usage of one agreement; only its recorder. Usage never decreases
    /// and never exceeds the deposit. With `entry.complete`, usage also ends.
    /// @param entry The agreement id, cumulative usage, completion flag and usage-log reference.
    function recordUsage(UsageEntry calldata entry) external {
        _recordUsage(entry, _callerRecorderId(), false);
    }

    /// @notice Record usage of many agreements in one transaction; the caller must be the
    /// recorder of every one. An entry whose agreement is no longer active (someone completed it
    /// meanwhile) is skipped with `UsageEntrySkipped`, so one completion cannot spoil a batch;
    /// any other refusal reverts the whole batch.
    /// @param entries The entries, applied in order.
    function recordUsageBatch(UsageEntry[] calldata entries) external {
        if (entries.length == 0) revert EmptyBatch();
        uint32 recorderId = _callerRecorderId();
        for (uint256 i = 0; i < entries.length; ++i) {
            _recordUsage(entries[i], recorderId, true);
        }
    }

    /// @notice The recorder's one late record: after the buyer, the seller or anyone else
    /// completed the agreement, and inside the challenge window, the recorder may still raise
    /// usage it metered before the completion (never lower, never above the deposit). The challenge
    /// window restarts, so the buyer can dispute the late usage.
    /// @param terms The agreement's packed terms.
    /// @param cumulativeUsage The cumulative usage.
    /// @param logRef Hash of the usage log.
    function recordLateUsage(bytes calldata terms, uint64 cumulativeUsage, bytes32 logRef) external {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        if (msg.sender != t.recorder) revert NotRecorder(id, msg.sender);
        Agreement storage a = _agreements[id];
        if (a.status != Status.Completed || a.lateUsageRecorded) revert WrongStatus(id, a.status);
        uint256 deadline = uint256(a.completedAt) + t.challengeWindow;
        if (block.timestamp >= deadline) revert ChallengeWindowClosed(id, deadline);
        if (cumulativeUsage < a.usage) revert UsageDecreased(id, a.usage, cumulativeUsage);
        if (cumulativeUsage > a.deposit) revert UsageAboveDeposit(id, cumulativeUsage, a.deposit);

        a.usage = cumulativeUsage;
        a.lateUsageRecorded = true;
        a.completedAt = uint40(block.timestamp);
        emit UsageRecorded(id, cumulativeUsage, logRef);
        emit AgreementCompleted(id, msg.sender, cumulativeUsage);
    }

    /// @notice Submit a buyer-signed EIP-712 usage voucher (anyone may). Raises the acknowledged
    /// usage (which the buyer can no longer dispute) and, if higher, the recorded usage.
    /// @param terms The agreement's packed terms.
    /// @param cumulativeUsage The cumulative usage the buyer acknowledges.
    /// @param signature The buyer's signature (ECDSA, or ERC-1271 for a contract wallet).
    function submitUsageVoucher(bytes calldata terms, uint64 cumulativeUsage, bytes calldata signature) external {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        Agreement storage a = _agreements[id];
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
        Agreement storage a = _agreements[id];
        if (a.status != Status.Active) revert WrongStatus(id, a.status);
        _complete(id, a);
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
        Agreement storage a = _agreements[id];
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
        Agreement storage a = _agreements[id];
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

    /// @notice Settle (anyone, once): after the challenge window, after a resolution, or after
    /// the resolution deadline (then the terms' fallback split applies). Pays the seller usage
    /// less the settlement fee and refunds the rest of the deposit to the buyer; the fee is
    /// credited to the fee recipient's withdrawable balance. A transfer that fails becomes a
    /// balance its owner can {withdraw}.
    /// @param terms The agreement's packed terms.
    function settle(bytes calldata terms) external nonReentrant {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        Agreement storage a = _agreements[id];
        (bool settleable, bool byFallback, uint256 usage, ) = _settlementState(a, _disputes[id], t);
        if (!settleable) revert NotSettleable(id, a.status, _settleableAt(a, _disputes[id], t));

        uint256 deposit = a.deposit;
        uint256 fee = Fees.settlementFee(usage, t.feeBps, t.feeFixed, t.feeCap);
        a.status = Status.Settled;
        a.usage = uint64(usage);
        emit AgreementSettled(id, usage, usage - fee, fee, deposit - usage, byFallback);

        // The fee accrues to the fee recipient's withdrawable balance (one storage write instead of
        // a token transfer per agreement); seller and buyer are paid directly.
        if (fee != 0) withdrawable[t.token][t.feeRecipient] += fee;
        uint256 deferred =
            _payOrDefer(id, t.token, t.seller, usage - fee) + _payOrDefer(id, t.token, t.buyer, deposit - usage);
        _tokens[t.token].held -= uint96(deposit - fee - deferred);
    }

    /// @notice Withdraw the caller's deferred payouts in `token` to `to` (which may differ from
    /// the caller, e.g. when the caller's own address cannot receive the token).
    /// @param token The token.
    /// @param to The recipient.
    function withdraw(address token, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress("to");
        uint256 amount = withdrawable[token][msg.sender];
        if (amount == 0) revert NothingToWithdraw(token, msg.sender);
        withdrawable[token][msg.sender] = 0;
        _tokens[token].held -= uint96(amount);
        IERC20(token).safeTransfer(to, amount);
        emit Withdrawn(token, msg.sender, to, amount);
    }

    // ----------------------------------------------------------------------------------------
    // Recorders
    // ----------------------------------------------------------------------------------------

    /// @notice Give `recorder` its 32-bit id (idempotent; anyone may call). Activation does this
    /// on first use; calling it beforehand moves that cost out of the activation.
    /// @param recorder The recorder address.
    /// @return recorderId Its id.
    function registerRecorder(address recorder) public returns (uint32 recorderId) {
        if (recorder == address(0)) revert ZeroAddress("recorder");
        recorderId = recorderIds[recorder];
        if (recorderId == 0) {
            _recorders.push(recorder);
            recorderId = uint32(_recorders.length);
            recorderIds[recorder] = recorderId;
            emit RecorderRegistered(recorder, recorderId);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Owner
    // ----------------------------------------------------------------------------------------

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
        return _hashTypedDataV4(keccak256(abi.encode(TERMS_TYPEHASH, t)));
    }

    /// @notice The EIP-3009 nonce a top-up authorization must carry.
    function topUpNonce(bytes32 id, bytes32 topUpSalt) public pure returns (bytes32) {
        return keccak256(abi.encode(id, topUpSalt));
    }

    /// @notice State, amounts and deadlines of an agreement.
    function getAgreement(bytes calldata terms) external view returns (AgreementView memory v) {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        Agreement memory a = _agreements[id];
        Dispute memory d = _disputes[id];
        v.status = a.status;
        v.recorder = a.recorderId == 0 ? address(0) : _recorders[a.recorderId - 1];
        v.deposit = a.deposit;
        v.recordedUsage = a.usage;
        v.acknowledgedUsage = d.acknowledged;
        v.completedAt = a.completedAt;
        v.challengedAt = d.challengedAt;
        if (a.completedAt != 0) v.challengeDeadline = uint256(a.completedAt) + t.challengeWindow;
        if (d.challengedAt != 0) v.resolutionDeadline = uint256(d.challengedAt) + t.resolutionWindow;
        v.settleableAt = _settleableAt(_agreements[id], _disputes[id], t);
    }

    /// @notice What {settle} would pay now (or, if not yet settleable, under the current usage).
    function previewSettlement(bytes calldata terms) external view returns (SettlementPreview memory p) {
        Terms memory t = terms.decode();
        bytes32 id = agreementIdOf(t);
        Agreement storage a = _agreements[id];
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

    /// @notice The address behind a recorder id (0 for none).
    function recorderOf(uint32 recorderId) external view returns (address) {
        return recorderId == 0 || recorderId > _recorders.length ? address(0) : _recorders[recorderId - 1];
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    function _activate(Terms memory t, FundingAuthorization calldata auth) internal returns (bytes32 id) {
        id = agreementIdOf(t);
        Agreement storage a = _agreements[id];
        if (a.status != Status.None) revert AgreementExists(id, a.status);
        TokenConfig memory cfg = _tokens[t.token];
        _validateTerms(t, cfg);
        uint32 recorderId = registerRecorder(t.recorder);

        a.status = Status.Active;
        a.recorderId = recorderId;
        a.deposit = t.deposit;
        _tokens[t.token].held = cfg.held + t.deposit;
        _pullDeposit(t.token, t.buyer, t.deposit, id, auth);
        emit AgreementActivated(id, t.buyer, t.seller, t.token, t.deposit);
    }

    function _validateTerms(Terms memory t, TokenConfig memory cfg) internal view {
        if (!cfg.allowed) revert TokenNotAllowed(t.token);
        if (cfg.paused) revert ActivationsPaused(t.token);
        if (t.buyer == address(0)) revert ZeroAddress("buyer");
        if (t.seller == address(0)) revert ZeroAddress("seller");
        if (t.feeRecipient == address(0)) revert ZeroAddress("feeRecipient");
        if (t.arbiter == address(0)) revert ZeroAddress("arbiter");
        if (t.seller == address(this)) revert PartyIsEscrow("seller");
        if (t.feeRecipient == address(this)) revert PartyIsEscrow("feeRecipient");
        if (t.buyer == address(this)) revert PartyIsEscrow("buyer");
        if (t.deposit == 0) revert ZeroDeposit();
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

    /// @dev Executes the buyer's EIP-3009 authorization moving `amount` to this contract.
    function _pullDeposit(
        address token,
        address buyer,
        uint256 amount,
        bytes32 nonce,
        FundingAuthorization calldata auth
    ) internal {
        if (auth.useReceive) {
            IFiatToken(token).receiveWithAuthorization(
                buyer,
                address(this),
                amount,
                auth.validAfter,
                auth.validBefore,
                nonce,
                auth.signature
            );
        } else {
            IFiatToken(token).transferWithAuthorization(
                buyer,
                address(this),
                amount,
                auth.validAfter,
                auth.validBefore,
                nonce,
                auth.signature
            );
        }
    }

    /// @dev Uses the permit; if that fails (e.g. someone submitted it first), relies on the
    /// allowance that is already there. `safeTransferFrom` then fails if it is not enough.
    function _tryPermit(address token, address owner, FeePermit calldata p) internal {
        try IFiatToken(token).permit(owner, address(this), p.value, p.deadline, p.signature) {} catch {}
    }

    function _callerRecorderId() internal view returns (uint32 recorderId) {
        recorderId = recorderIds[msg.sender];
        if (recorderId == 0) revert UnknownRecorder(msg.sender);
    }

    /// @dev With `skipInactive`, an agreement that is no longer active is skipped (batch); without, it reverts.
    function _recordUsage(UsageEntry calldata e, uint32 recorderId, bool skipInactive) internal {
        Agreement storage a = _agreements[e.id];
        Status status = a.status;
        if (status != Status.Active) {
            if (!skipInactive) revert WrongStatus(e.id, status);
            emit UsageEntrySkipped(e.id, status);
            return;
        }
        if (a.recorderId != recorderId) revert NotRecorder(e.id, msg.sender);
        if (e.cumulativeUsage < a.usage) revert UsageDecreased(e.id, a.usage, e.cumulativeUsage);
        if (e.cumulativeUsage > a.deposit) revert UsageAboveDeposit(e.id, e.cumulativeUsage, a.deposit);
        a.usage = e.cumulativeUsage;
        emit UsageRecorded(e.id, e.cumulativeUsage, e.logRef);
        if (e.complete) _complete(e.id, a);
    }

    function _complete(bytes32 id, Agreement storage a) internal {
        a.status = Status.Completed;
        a.completedAt = uint40(block.timestamp);
        // The recorder completing has nothing left to record late.
        if (recorderIds[msg.sender] == a.recorderId) a.lateUsageRecorded = true;
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

    /// @dev Transfers `amount` to `to`; if the token refuses (e.g. `to` is blacklisted or the
    /// token is paused), credits it to `to`'s withdrawable balance instead. Returns the amount deferred.
    function _payOrDefer(bytes32 id, address token, address to, uint256 amount) internal returns (uint256) {
        if (amount == 0 || IERC20(token).trySafeTransfer(to, amount)) return 0;
        withdrawable[token][to] += amount;
        emit PayoutDeferred(id, token, to, amount);
        return amount;
    }
}
