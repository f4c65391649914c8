// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A registry of names with two roles: see the statement.
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

    // TODO: only the owner may appoint registrars.
    function addRegistrar(address account) external {
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
        // TODO: only the pending owner may accept.
        address previous = owner;
        owner = pendingOwner;
        pendingOwner = address(0);
        emit OwnershipTransferred(previous, owner);
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
        // TODO: a registrar may change only the records it registered.
        if (!isRegistrar[msg.sender] && msg.sender != owner) revert Unauthorized(msg.sender);
    }
}
