// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// {{title_line}}: see the statement.
contract {{contract}} {
    address public owner;
    uint256 public count;

    event Incremented(address indexed by, uint256 newCount);

    error NotOwner(address caller);

    constructor() {
        owner = msg.sender;
    }

    function increment() external {
        // TODO: emit Incremented.
        count += 1;
    }

    function reset() external {
        // TODO: only the owner may reset.
        count = 0;
    }
}
