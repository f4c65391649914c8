#!/usr/bin/env node
// Prepare-time step of the toolchain (after `npm ci --ignore-scripts`):
//
//   node tools/prepare-solc.js PREFIX
//
// decodes the WebAssembly compiler that node_modules/solc/soljson.js carries as
// base64 of LZ4 into PREFIX/prepared/soljson.wasm, so that each compile skips the
// decoding (lib/solcjs-runner.js), then proves the shortcut changes nothing: the
// same input compiled with and without it must give byte-identical output.
// Exit status 0 on success, 1 with a reason otherwise (the toolchain then still
// works, only slower: the runner falls back when the file is absent).

"use strict";

const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");

async function main() {
  const prefix = path.resolve(process.argv[2] ?? ".");
  const soljson = path.join(prefix, "node_modules", "solc", "soljson.js");
  const runner = path.join(prefix, "lib", "solcjs-runner.js");
  const { splitSoljson } = require(runner);
  const parts = splitSoljson(fs.readFileSync(soljson, "utf8"));
  if (parts === undefined) throw new Error(`${soljson} is not laid out as expected`);

  const bytes = (0, eval)(parts.decoder);
  if (bytes.length !== parts.wasmSize) {
    throw new Error(`decoded ${bytes.length} bytes, expected ${parts.wasmSize}`);
  }
  const outDir = path.join(prefix, "prepared");
  const out = path.join(outDir, "soljson.wasm");
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(`${out}.tmp`, bytes);
  fs.renameSync(`${out}.tmp`, out);

  const input = JSON.stringify({
    language: "Solidity",
    sources: {
      "contracts/Probe.sol": {
        content:
          "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n" +
          "contract Probe { uint256 public x; event Set(uint256 v);\n" +
          "  function set(uint256 v) external { x = v; emit Set(v); } }\n",
      },
    },
    settings: {
      evmVersion: "prague",
      outputSelection: { "*": { "*": ["abi", "evm.bytecode", "evm.deployedBytecode"], "": ["ast"] } },
    },
  });
  const run = (...wasm) =>
    execFileSync(process.execPath, [runner, soljson, ...wasm], { input, maxBuffer: 64 << 20 });
  const stock = run();
  const fast = run(out);
  if (!stock.equals(fast)) {
    fs.rmSync(out, { force: true });
    throw new Error("the decoded compiler's output differs from soljson.js's; removed it");
  }
  const parsed = JSON.parse(stock.toString("utf8"));
  if (!parsed.contracts?.["contracts/Probe.sol"]?.Probe?.evm?.bytecode?.object) {
    throw new Error("the probe contract did not compile");
  }
  console.log(`${out}: ${bytes.length} bytes, output identical to soljson.js`);
}

main().catch((error) => {
  console.error(`prepare-solc: ${error.message}`);
  process.exit(1);
});
