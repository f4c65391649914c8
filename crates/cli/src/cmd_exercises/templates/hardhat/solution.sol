// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// The reference solution of {{id}}: `gauntlet exercises check` grades it (it must
// score 100).
contract {{contract}} {
    address public owner;
    uint256 public count;

    event Incremented(address indexed by, uint256 newCount);

    error NotOwner(address caller);

    constructor() {
        owner = msg.sender;
    }

    function increment() external {
        count += 1;
        emit Incremented(msg.sender, count);
    }

    function reset() external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        count = 0;
    }
}
