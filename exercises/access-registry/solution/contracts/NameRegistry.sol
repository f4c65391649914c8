// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A registry of names to addresses with two roles. The owner appoints and
/// dismisses registrars and hands ownership over in two steps (offer, then
/// accept). Registrars register names; a record can be changed or removed by the
/// registrar who created it, or by the owner. Anyone can resolve a name.
contract NameRegistry {
    struct Record {
        address target;
        address registrar;
    }

    address public owner;
    address public pendingOwner;
    mapping(address => bool) public isRegistrar;
    mapping(bytes32 => Record) private _records;

    event RegistrarAdded(address indexed account);
    event RegistrarRemoved(address indexed account);
    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event NameRegistered(bytes32 indexed name, address indexed target, address indexed registrar);
    event NameUpdated(bytes32 indexed name, address indexed target);
    event NameRemoved(bytes32 indexed name);

    error Unauthorized(address account);
    error ZeroAddress();
    error AlreadyRegistered(bytes32 name);
    error NotRegistered(bytes32 name);

    modifier onlyOwner() {
        if (msg.sender != owner) revert Unauthorized(msg.sender);
        _;
    }

    constructor() {
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    function addRegistrar(address account) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        if (!isRegistrar[account]) {
            isRegistrar[account] = true;
            emit RegistrarAdded(account);
        }
    }

    function removeRegistrar(address account) external onlyOwner {
        if (isRegistrar[account]) {
            isRegistrar[account] = false;
            emit RegistrarRemoved(account);
        }
    }

    /// Offers ownership to `newOwner`, who becomes owner on `acceptOwnership`.
    /// A later offer replaces an earlier one.
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        pendingOwner = newOwner;
        emit OwnershipTransferStarted(owner, newOwner);
    }

    function acceptOwnership() external {
        if (msg.sender != pendingOwner) revert Unauthorized(msg.sender);
        address previous = owner;
        owner = msg.sender;
        pendingOwner = address(0);
        emit OwnershipTransferred(previous, msg.sender);
    }

    function register(bytes32 name, address target) external {
        if (!isRegistrar[msg.sender]) revert Unauthorized(msg.sender);
        if (target == address(0)) revert ZeroAddress();
        if (_records[name].target != address(0)) revert AlreadyRegistered(name);
        _records[name] = Record({target: target, registrar: msg.sender});
        emit NameRegistered(name, target, msg.sender);
    }

    function update(bytes32 name, address target) external {
        Record storage record = _managedRecord(name);
        if (target == address(0)) revert ZeroAddress();
        record.target = target;
        emit NameUpdated(name, target);
    }

    function remove(bytes32 name) external {
        _managedRecord(name);
        delete _records[name];
        emit NameRemoved(name);
    }

    /// The address `name` points to, or the zero address for an unknown name.
    function resolve(bytes32 name) external view returns (address) {
        return _records[name].target;
    }

    function registrarOf(bytes32 name) external view returns (address) {
        return _records[name].registrar;
    }

    /// A record that exists and that the caller may change: its own registrar
    /// (while still a registrar) or the owner.
    function _managedRecord(bytes32 name) private view returns (Record storage record) {
        record = _records[name];
        if (record.target == address(0)) revert NotRegistered(name);
        bool isItsRegistrar = record.registrar == msg.sender && isRegistrar[msg.sender];
        if (!isItsRegistrar && msg.sender != owner) revert Unauthorized(msg.sender);
    }
}
