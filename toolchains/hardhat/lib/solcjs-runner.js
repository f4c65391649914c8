// Runs solcjs once: standard-JSON input on stdin, solc's JSON output on stdout.
// The same protocol as Hardhat's own solcjs runner, but faster to start when the
// toolchain was prepared with tools/prepare-solc.js:
//
//   node solcjs-runner.js SOLJSON_JS [DECODED_WASM]
//
// soljson.js carries the compiler's WebAssembly as base64 of LZ4 (9.5 MB of text)
// and decodes it in plain JavaScript on every load (~0.25–0.4 s here). When
// DECODED_WASM holds those bytes, decoded once at prepare time, the runner hands
// them to the Emscripten glue directly and skips the decoding; the glue and
// the compiler are otherwise untouched. Any mismatch (another soljson layout, a
// wasm file of the wrong size, a missing file) falls back to loading soljson.js as
// it is: slower, never wrong.
//
// In a process that compiles many times, or that can load the compiler before its
// input exists (the hardhat runtime's warm preamble, which loads it while the jail
// waits for a job), preload() loads it here once; hardhat.config.js then compiles
// in-process with preloaded() instead of starting this runner as a child. Same
// compiler, same input, same output.

"use strict";

const fs = require("fs");
const path = require("path");
const NodeModule = require("module");

const HEAD = 'var Module = Module || {};\nModule["wasmBinary"] = ';
const GLUE_START = ');\nvar Module = typeof Module != "undefined" ? Module : {};';

// Splits soljson.js into the wasm decoder expression, the expected wasm size and
// the Emscripten glue; undefined when the file is not laid out as expected.
function splitSoljson(source) {
  if (!source.startsWith(HEAD)) return undefined;
  const end = source.indexOf(GLUE_START, HEAD.length);
  if (end < 0) return undefined;
  const size = /, (\d+)$/.exec(source.slice(end - 24, end));
  if (size === null) return undefined;
  return {
    decoder: source.slice(HEAD.length, end + 1),
    wasmSize: Number(size[1]),
    glue: source.slice(end + 3),
  };
}

function readWasm(file, size) {
  if (!file) return undefined;
  try {
    const bytes = fs.readFileSync(file);
    return bytes.length === size ? bytes : undefined;
  } catch {
    return undefined;
  }
}

// Loads the compiler module; `wasm` (optional) is the decoded WebAssembly.
function loadSoljson(soljsonPath, wasm) {
  if (wasm === undefined) return require(soljsonPath);
  const source = fs.readFileSync(soljsonPath, "utf8");
  const parts = splitSoljson(source);
  if (parts === undefined) return require(soljsonPath);
  const bytes = readWasm(wasm, parts.wasmSize);
  if (bytes === undefined) return require(soljsonPath);
  const key = "__gauntletSolcWasm";
  globalThis[key] = bytes;
  const compiled = new NodeModule(soljsonPath, null);
  compiled.filename = soljsonPath;
  compiled.paths = NodeModule._nodeModulePaths(path.dirname(soljsonPath));
  try {
    compiled._compile(`var Module = { wasmBinary: globalThis.${key} };\n${parts.glue}`, soljsonPath);
  } finally {
    delete globalThis[key];
  }
  return compiled.exports;
}

// The compiler preload() loaded, with the soljson.js it came from.
let preloadedCompiler;

// Loads the compiler of SOLJSON_JS into this process (from the decoded WebAssembly
// when `wasm` names it) and keeps it for preloaded(); returns it.
function preload(soljsonPath, wasm) {
  const wrapper = require(path.join(path.dirname(soljsonPath), "wrapper.js"));
  const solc = wrapper(loadSoljson(soljsonPath, wasm));
  preloadedCompiler = { soljsonPath, solc };
  return solc;
}

// The compiler preload() loaded from this very soljson.js, or undefined.
function preloaded(soljsonPath) {
  if (preloadedCompiler === undefined || preloadedCompiler.soljsonPath !== soljsonPath) {
    return undefined;
  }
  return preloadedCompiler.solc;
}

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on("data", (chunk) => chunks.push(chunk));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

async function main() {
  const [soljsonPath, wasm] = process.argv.slice(2);
  // The compiler loads before the input arrives, so a runner started early has it
  // ready by the time its input is written.
  const wrapper = require(path.join(path.dirname(soljsonPath), "wrapper.js"));
  const solc = wrapper(loadSoljson(soljsonPath, wasm));
  const input = await readStdin();
  if (input.length === 0) return; // started early, then not needed
  process.stdout.write(solc.compile(input));
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}

module.exports = { splitSoljson, loadSoljson, preload, preloaded };
