// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A vault of time-locked ether deposits: see the statement.
contract TimelockVault {
    uint256 public constant MAX_DELAY = 365 days;

    struct Lock {
        address owner;
        uint256 amount;
        uint256 unlockTime;
        bool withdrawn;
    }

    Lock[] private _locks;

    event Deposited(uint256 indexed lockId, address indexed owner, uint256 amount, uint256 unlockTime);
    event Extended(uint256 indexed lockId, uint256 unlockTime);
    event Withdrawn(uint256 indexed lockId, address indexed owner, uint256 amount);

    error ZeroDeposit();
    error InvalidDelay(uint256 delay);
    error UnknownLock(uint256 lockId);
    error NotLockOwner(uint256 lockId, address caller);
    error StillLocked(uint256 lockId, uint256 unlockTime);
    error AlreadyWithdrawn(uint256 lockId);
    error NotLater(uint256 current, uint256 requested);
    error TransferFailed();

    /// Locks msg.value until `delay` seconds after this block; returns the lock's id.
    function deposit(uint256 delay) external payable returns (uint256 lockId) {
        if (msg.value == 0) revert ZeroDeposit();
        if (delay == 0 || delay > MAX_DELAY) revert InvalidDelay(delay);
        uint256 unlockTime = block.timestamp + delay;
        lockId = _locks.length;
        _locks.push(Lock({owner: msg.sender, amount: msg.value, unlockTime: unlockTime, withdrawn: false}));
        emit Deposited(lockId, msg.sender, msg.value, unlockTime);
    }

    /// Moves a lock's unlock time to `unlockTime`, which must be later than the
    /// current one (else NotLater(current, requested)) and at most MAX_DELAY
    /// from now (else InvalidDelay(unlockTime - now)); only the lock's owner may
    /// (else NotLockOwner), and not after a withdrawal (AlreadyWithdrawn).
    /// Emits Extended.
    function extend(uint256 lockId, uint256 unlockTime) external {
        // TODO
        Lock storage lock = _ownedLock(lockId);
        lock.unlockTime = unlockTime;
    }

    /// Pays a lock's amount to its owner, once (else AlreadyWithdrawn), from its
    /// unlock time on (else StillLocked(lockId, unlockTime)). Emits Withdrawn.
    function withdraw(uint256 lockId) external {
        // TODO: the time lock, and paying only once.
        Lock storage lock = _ownedLock(lockId);
        uint256 amount = lock.amount;
        emit Withdrawn(lockId, msg.sender, amount);
        (bool ok, ) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    function lockCount() external view returns (uint256) {
        return _locks.length;
    }

    function getLock(uint256 lockId) external view returns (Lock memory) {
        if (lockId >= _locks.length) revert UnknownLock(lockId);
        return _locks[lockId];
    }

    function _ownedLock(uint256 lockId) private view returns (Lock storage lock) {
        if (lockId >= _locks.length) revert UnknownLock(lockId);
        lock = _locks[lockId];
        if (lock.owner != msg.sender) revert NotLockOwner(lockId, msg.sender);
    }
}
