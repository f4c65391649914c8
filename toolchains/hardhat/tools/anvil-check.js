#!/usr/bin/env node
// Small Anvil helpers for verify.sh (Node 20, no dependencies):
//   anvil-check.js free-port          print a free TCP port on 127.0.0.1
//   anvil-check.js wait URL [MS]      wait until the node answers eth_chainId
//   anvil-check.js reset URL          anvil_reset, then check the chain is fresh:
//                                     block 0, chain id 31337, automine on, block
//                                     gas limit 30000000, the first dev account
//                                     holding 10000 ETH
// Exit status 0 on success, 1 with a one-line reason on stderr otherwise.
// The same checks the grader's pool makes after each job (see README.md).

"use strict";

const net = require("net");

const CHAIN_ID = 31337n;
const DEV_ACCOUNT_0 = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
const DEV_BALANCE = 10000n * 10n ** 18n;
const GAS_LIMIT = 30000000n;

async function rpc(url, method, params = []) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(2000),
  });
  const body = await response.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(url, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await rpc(url, "eth_chainId");
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`no answer from ${url} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function resetAndCheck(url) {
  await rpc(url, "anvil_reset", []);
  const block = BigInt(await rpc(url, "eth_blockNumber"));
  const chainId = BigInt(await rpc(url, "eth_chainId"));
  const automine = await rpc(url, "anvil_getAutomine");
  const balance = BigInt(await rpc(url, "eth_getBalance", [DEV_ACCOUNT_0, "latest"]));
  const latest = await rpc(url, "eth_getBlockByNumber", ["latest", false]);
  const problems = [];
  if (block !== 0n) problems.push(`block number ${block}`);
  if (chainId !== CHAIN_ID) problems.push(`chain id ${chainId}`);
  if (automine !== true) problems.push("automine off");
  if (BigInt(latest.gasLimit) !== GAS_LIMIT) problems.push(`block gas limit ${BigInt(latest.gasLimit)}`);
  if (balance !== DEV_BALANCE) problems.push(`dev account 0 holds ${balance} wei`);
  if (problems.length > 0) throw new Error(`chain not fresh after anvil_reset: ${problems.join(", ")}`);
}

async function main() {
  const [command, url, ms] = process.argv.slice(2);
  switch (command) {
    case "free-port":
      console.log(await freePort());
      return;
    case "wait":
      await waitReady(url, Number(ms ?? 5000));
      return;
    case "reset":
      await resetAndCheck(url);
      return;
    default:
      throw new Error("usage: anvil-check.js free-port | wait URL [MS] | reset URL");
  }
}

main().catch((error) => {
  console.error(`anvil-check: ${error.message}`);
  process.exit(1);
});
