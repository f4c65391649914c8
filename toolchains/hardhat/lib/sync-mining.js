// Makes an automining Anvil behave like Hardhat's in-process network, where a
// transaction is mined by the time eth_sendTransaction returns.
//
// Anvil answers eth_sendTransaction before its automine has sealed the block.
// Measured here: an eth_getTransactionReceipt sent right after returned null in 96
// of 500 tries. Two kinds of test failures follow, both intermittent:
// - hardhat-chai-matchers reads the receipt at once (`await expect(tx).to.emit(…)`)
//   and fails with "receipt should not be null";
// - a transaction still pending when the next test reverts to a snapshot
//   (loadFixture's evm_revert) is mined after the revert, leaking one test's state
//   into the next (seen: a starter's test failing 1 run in 8 on another's balance).
//
// This provider wrapper closes both: while automine is on, a sent transaction's
// hash is returned only once its receipt exists (polled every few ms, at most
// WAIT_MS), and a null receipt for a transaction the node knows is asked again the
// same way. With automine off (a test that mines by hand), nothing changes.

"use strict";

const { ProviderWrapper } = require("hardhat/plugins");

const WAIT_MS = 5000;
const POLL_MS = 2;

const SEND_METHODS = new Set(["eth_sendTransaction", "eth_sendRawTransaction"]);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class SyncMiningProvider extends ProviderWrapper {
  async request(args) {
    const result = await this._wrappedProvider.request(args);
    if (SEND_METHODS.has(args.method) && typeof result === "string") {
      if (await this._automine()) await this._receipt(result);
      return result;
    }
    if (args.method === "eth_getTransactionReceipt" && result === null) {
      const [hash] = this._getParams(args);
      const known = await this._wrappedProvider.request({
        method: "eth_getTransactionByHash",
        params: [hash],
      });
      if (known !== null && (await this._automine())) return this._receipt(hash);
    }
    return result;
  }

  // The receipt of `hash`, polled until it exists or WAIT_MS has passed (null).
  async _receipt(hash) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const receipt = await this._wrappedProvider.request({
        method: "eth_getTransactionReceipt",
        params: [hash],
      });
      if (receipt !== null || Date.now() > deadline) return receipt;
      await sleep(POLL_MS);
    }
  }

  async _automine() {
    try {
      const on = await this._wrappedProvider.request({ method: "anvil_getAutomine", params: [] });
      return on === true;
    } catch {
      return false; // not an Anvil node: leave its answers alone
    }
  }
}

module.exports = { SyncMiningProvider };
