// Hardhat configuration of Gauntlet's `hardhat` runtime.
//
// One file for every exercise: it lives in the prepared toolchain (read-only inside
// the sandbox, at /opt/gauntlet/hardhat) and is named with `--config`; the project
// root is the working directory, the exercise workspace. See README.md beside it.
//
// What it pins:
// - the compiler: solc 0.8.30 from the npm `solc` package (solcjs), never a download,
//   started from the WebAssembly decoded at prepare time when present;
// - compile output cached by content hash (lib/compile-cache.js), shared across runs
//   through a directory the runtime binds writable;
// - the chain: one HTTP network, `gauntlet`, whose url is $RPC_URL (an Anvil node),
//   used by default, with Anvil's unlocked dev accounts; a sent transaction is
//   mined before the call returns (lib/sync-mining.js), as on Hardhat's network;
// - the results: TAP 13 on the results channel (GAUNTLET_RESULTS_FD; on stdout when
//   run by hand), one line for every test mocha found (lib/tap-reporter.js); stdout
//   gets a line per test for the learner, logs go to stderr. A submission that
//   does not compile ends with the line `gauntlet-hardhat: compile_error` on
//   stderr and exit status 1; a chain that does not answer (or has another chain
//   id) with `gauntlet-hardhat: chain_unavailable`, exit status 1, before any test.

"use strict";

const { spawn } = require("child_process");
const path = require("path");
const { extendProvider, subtask } = require("hardhat/config");
const {
  TASK_COMPILE_SOLIDITY,
  TASK_COMPILE_SOLIDITY_GET_DEPENDENCY_GRAPH,
  TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD,
  TASK_COMPILE_SOLIDITY_LOG_COMPILATION_RESULT,
  TASK_COMPILE_SOLIDITY_RUN_SOLCJS,
  TASK_TEST_RUN_MOCHA_TESTS,
  TASK_TEST_SETUP_TEST_ENVIRONMENT,
} = require("hardhat/builtin-tasks/task-names");

require("@nomicfoundation/hardhat-ethers");
require("@nomicfoundation/hardhat-chai-matchers");

const compileCache = require("./lib/compile-cache");
const { SyncMiningProvider } = require("./lib/sync-mining");
const GauntletTap = require("./lib/tap-reporter");

// The one compiler. LONG_VERSION is what `require("solc").version()` reports
// (verify.sh checks it), written out so that no run pays for loading soljson.js
// just to learn its name.
const SOLC_VERSION = "0.8.30";
const SOLC_LONG_VERSION = "0.8.30+commit.73712a01";
const SOLC_JS_PATH = require.resolve("solc/soljson.js");
const EVM_VERSION = "prague"; // Anvil runs with `--hardfork prague` to match
// solcjs runs in a child process, as in Hardhat, but through lib/solcjs-runner.js,
// which loads the compiler from the WebAssembly decoded at prepare time
// (tools/prepare-solc.js) when it is there, and from soljson.js as is otherwise.
// When this process preloaded the compiler (the runtime's warm preamble does, while
// its jail waits for a job), it compiles in-process instead: same compiler, same
// output, without a child's start-up and the compiler's load.
const SOLCJS_RUNNER = path.join(__dirname, "lib", "solcjs-runner.js");
const solcjsRunner = require("./lib/solcjs-runner");
const SOLC_WASM = path.join(__dirname, "prepared", "soljson.wasm");

// Where compile outputs are shared between runs: $HARDHAT_COMPILE_CACHE when set
// (local use, verify.sh, benchmarks), else the fixed path the runtime binds
// writable into the sandbox, so the sandbox's environment stays minimal. No usable
// directory means no cache, never a failure.
const DEFAULT_COMPILE_CACHE = "/opt/gauntlet/compile-cache";
const COMPILE_CACHE_DIR = process.env.HARDHAT_COMPILE_CACHE || DEFAULT_COMPILE_CACHE;

const COMPILE_ERROR_MARKER = "gauntlet-hardhat: compile_error";
const CHAIN_ERROR_MARKER = "gauntlet-hardhat: chain_unavailable";

// HardhatError numbers that mean "the submitted sources do not compile": the
// resolver's (imports: HH4xx), the compile tasks' (HH6xx, HH600 is solc's own
// errors), and source names (HH10xx, e.g. an import with the wrong casing).
function isCompileError(error) {
  const number = error?.errorDescriptor?.number;
  if (typeof number !== "number") return false;
  return (
    (number >= 400 && number < 500) ||
    (number >= 600 && number < 700) ||
    (number >= 1000 && number < 1100)
  );
}

// What a contract may import: the exercise's own contracts and Hardhat's
// console.sol. Anything else in reach (the tests, package.json, other packages'
// files) would reach solc, whose parse errors quote the imported file: a way to
// read the tests a line at a time. Refused before solc sees it, as a compile error.
function isImportable(sourceName) {
  return (
    (sourceName.startsWith("contracts/") && sourceName.endsWith(".sol")) ||
    sourceName === "hardhat/console.sol"
  );
}

subtask(TASK_COMPILE_SOLIDITY_GET_DEPENDENCY_GRAPH, async (args, _hre, runSuper) => {
  const graph = await runSuper(args);
  const refused = [];
  for (const file of graph.getResolvedFiles()) {
    for (const dependency of graph.getDependencies(file)) {
      if (!isImportable(dependency.sourceName)) {
        refused.push(`${file.sourceName} imports ${dependency.sourceName}`);
      }
    }
  }
  if (refused.length > 0) {
    process.stderr.write(
      `${refused.join("\n")}\n` +
        "Only files under contracts/ (ending in .sol) and hardhat/console.sol can be imported.\n" +
        `${COMPILE_ERROR_MARKER}\n`,
    );
    process.exit(1);
  }
  return graph;
});

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async ({ solcVersion }) => {
  if (solcVersion !== SOLC_VERSION) {
    throw new Error(
      `this toolchain ships only solc ${SOLC_VERSION}, not ${solcVersion}`,
    );
  }
  return {
    version: SOLC_VERSION,
    longVersion: SOLC_LONG_VERSION,
    compilerPath: SOLC_JS_PATH,
    isSolcJs: true,
  };
});

function runSolcjs(solcJsPath, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SOLCJS_RUNNER, solcJsPath, SOLC_WASM], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const chunks = [];
    child.stdout.on("data", (chunk) => chunks.push(chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0) {
        reject(new Error(`solcjs failed (${signal ?? `exit status ${code}`})`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (error) {
        reject(new Error(`solcjs printed no JSON: ${error.message}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

subtask(TASK_COMPILE_SOLIDITY_RUN_SOLCJS, async ({ input, solcJsPath }) => {
  const cacheable = compileCache.isUsableDir(COMPILE_CACHE_DIR);
  const key = compileCache.cacheKey(SOLC_LONG_VERSION, input);
  if (cacheable) {
    const cached = compileCache.read(COMPILE_CACHE_DIR, key);
    if (cached !== undefined) return cached;
  }
  const solc = solcjsRunner.preloaded(solcJsPath);
  const output =
    solc !== undefined
      ? JSON.parse(solc.compile(JSON.stringify(input)))
      : await runSolcjs(solcJsPath, input);
  if (cacheable) compileCache.write(COMPILE_CACHE_DIR, key, output);
  return output;
});

// Keep stdout for the TAP stream: the "compiled N files" line goes to stderr.
subtask(TASK_COMPILE_SOLIDITY_LOG_COMPILATION_RESULT, async ({ compilationJobs }) => {
  let count = 0;
  for (const job of compilationJobs) {
    count += job.getResolvedFiles().filter((file) => job.emitsArtifacts(file)).length;
  }
  if (count > 0) {
    process.stderr.write(
      `Compiled ${count} Solidity file${count === 1 ? "" : "s"} with solc ${SOLC_VERSION} (evm ${EVM_VERSION})\n`,
    );
  }
});

// A submission that does not compile ends the run here: the compiler's messages
// (already on stderr, naming the files), Hardhat's summary, then the marker line
// the grader looks for; exit status 1 and nothing on stdout. Any other failure
// propagates as usual (exit 1, no marker).
subtask(TASK_COMPILE_SOLIDITY, async (args, _hre, runSuper) => {
  try {
    return await runSuper(args);
  } catch (error) {
    if (!isCompileError(error)) throw error;
    process.stderr.write(`${error.message}\n${COMPILE_ERROR_MARKER}\n`);
    process.exit(1);
  }
});

// Before any test: the chain must answer with the expected chain id. When it does
// not, the run is not the submission's fault: say so with a marker line on stderr
// and exit 1 before mocha starts (no TAP), rather than fail every test with HH108.
subtask(TASK_TEST_SETUP_TEST_ENVIRONMENT, async (args, hre, runSuper) => {
  await runSuper(args);
  try {
    await hre.network.provider.request({ method: "eth_chainId", params: [] });
  } catch (error) {
    process.stderr.write(`${error.message}\n${CHAIN_ERROR_MARKER}\n`);
    process.exit(1);
  }
});

// stdout belongs to the reporter (which writes TAP there when run by hand): what
// tests print with console.log/info/debug goes to stderr, so no stray line can
// pass for a TAP result.
subtask(TASK_TEST_RUN_MOCHA_TESTS, async (args, _hre, runSuper) => {
  const saved = { log: console.log, info: console.info, debug: console.debug };
  console.log = console.info = console.debug = (...items) => console.error(...items);
  try {
    return await runSuper(args);
  } finally {
    Object.assign(console, saved);
  }
});

// A sent transaction is mined before the call returns, as on Hardhat's own network
// (lib/sync-mining.js): no receipt race, no transaction mined after a revert.
extendProvider(async (provider) => new SyncMiningProvider(provider));

const root = process.cwd();

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  defaultNetwork: "gauntlet",
  networks: {
    gauntlet: {
      url: process.env.RPC_URL || "http://127.0.0.1:8545",
      chainId: 31337,
      accounts: "remote",
      timeout: 20000,
    },
  },
  solidity: {
    version: SOLC_VERSION,
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: false },
    },
  },
  paths: {
    root,
    sources: path.join(root, "contracts"),
    tests: path.join(root, "tests"),
    cache: path.join(root, "cache"),
    artifacts: path.join(root, "artifacts"),
  },
  mocha: {
    reporter: GauntletTap,
    timeout: 10000,
  },
};
