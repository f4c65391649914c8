// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/*
 * {{title}}
 *
 * Write {{contract}}, a counter that anyone may increase and only its owner may reset.
 *
 * - `owner()` is the account that deployed the contract.
 * - `count()` starts at 0; `increment()` adds 1 and emits `Incremented(by, newCount)`,
 *   where `by` is the caller.
 * - `reset()` sets the count back to 0. Anyone else than the owner calling it is
 *   refused with the custom error `NotOwner(caller)`.
 */
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
