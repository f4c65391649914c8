'use strict';
// The warm preamble of Gauntlet's hardhat runtime: a jail started ahead of its job,
// with node, Hardhat's modules and the Solidity compiler already loaded.
//
// The hardhat runtime ships this file (source: crates/grader/runners/) at
// .gauntlet/runner/warm-hardhat.js of its prepared layer, beside warm-job.js. The host
// starts it as the jail's command, every isolation layer already on, cwd /workspace,
// the Anvil chain lent to the jail already named by RPC_URL, before any job exists:
//
//   node /workspace/.gauntlet/runner/warm-hardhat.js -- node TOOLCHAIN/node_modules/hardhat/internal/cli/cli.js test --config TOOLCHAIN/hardhat.config.js
//
// where everything after `--` is the runtime's test command, as a cold run starts it.
//
// 1. Warm-up, printing nothing (any output before the job stops the jail):
//    - load the modules of Hardhat's CLI, ethers, chai and mocha that need no
//      Hardhat context (the plugins and the config do, and load later, as in a cold
//      run: they register themselves with the context the CLI creates);
//    - load the compiler (TOOLCHAIN/lib/solcjs-runner.js preload()), so that
//      hardhat.config.js compiles in-process rather than in a child that would load
//      it again, and compile the exercise's starter contracts with it twice (read
//      from the workspace, not written), so that its WebAssembly is optimised where
//      the learner's contract will run it;
//    - rehearse: run `test` once, in this process, on a probe project of ours in a
//      fresh folder under /tmp (a contract and a test that deploy, send, call,
//      revert, emit and snapshot, as exercises' tests do), with the same config
//      and the chain lent to this jail. A first run in a process spends most of its
//      time compiling JavaScript and WebAssembly that a second one finds optimised
//      (measured: `test` 513 ms, then 229 ms). Then Hardhat forgets the rehearsal
//      as its own plugin tests make it (hardhat/internal/reset: the context, the
//      config and every file loaded with it, reloaded by the job's run), the probe
//      folder is removed, and the chain is reset to its genesis and checked (block
//      0, automine on): the job's run meets a fresh chain, as a cold run does. A
//      chain that cannot be reset ends the preamble (status 125, one line on
//      stderr) before it says it is ready; a rehearsal that fails otherwise is
//      only less warm.
//    The workspace, the compile cache and the network beyond the lent chain are
//    not touched.
// 2. Serve the job (warm-job.js: write `R` to fd 4, read the job, write its files).
// 3. Apply the header's environment, then run Hardhat's CLI in this process as node
//    runs a main module (process.argv = [execPath, cli.js, ...ARGS], require.main,
//    exit status), exactly as the cold command would: the CLI parses the same
//    arguments, loads the same config and runs the same `test` task.
//
// The command runs as a child instead (warm-job.js's spawnCommand, status passed on)
// when it is not `node <a cli.js of Hardhat> ...` with this node, or when the
// header's environment sets PATH or a NODE_* or UV_* variable (node read those at its
// start). A warm-up step that fails is skipped: the run then loads what it needs
// itself, as a cold one does.
//
// Why it is trusted: it is the runtime's file in the protected .gauntlet/ folder of
// the read-only layer; it runs before anything of the learner's exists, and then the
// runtime's own test command, whose test files are the exercise's hidden tests. The
// learner's contract only ever reaches the compiler, as source, and the chain.
//
// Why it is single-use: it serves one job, then becomes that job's test process; the
// jail is torn down after it, like any other.

const fs = require('node:fs');
const path = require('node:path');
const { die, jobFdFromEnv, sameNode, serveJob, spawnCommand } = require('./warm-job.js');

const CLI_TAIL = path.join('node_modules', 'hardhat', 'internal', 'cli', 'cli.js');

// Modules a `hardhat test` run loads that register nothing with Hardhat's context, so
// they can load before the CLI creates it (ids resolved from the toolchain).
const CONTEXT_FREE = [
  // the CLI's own modules, but not cli.js (which runs on load)
  'source-map-support/source-map-support.js',
  'hardhat/internal/context',
  'hardhat/internal/cli/ArgumentsParser',
  'hardhat/internal/cli/analytics',
  'hardhat/internal/cli/banner-manager',
  'hardhat/internal/cli/project-creation',
  'hardhat/internal/cli/vars',
  'hardhat/internal/core/config/config-env',
  'hardhat/internal/core/config/config-loading',
  'hardhat/internal/core/config/config-validation',
  'hardhat/internal/core/flamegraph',
  'hardhat/internal/core/params/env-variables',
  'hardhat/internal/core/runtime-environment',
  'hardhat/internal/core/typescript-support',
  'hardhat/internal/sentry/reporter',
  'hardhat/builtin-tasks/task-names',
  // what the builtin compile and test tasks use
  'hardhat/builtin-tasks/utils/solidity-files-cache',
  'hardhat/builtin-tasks/utils/watch',
  'hardhat/internal/artifacts',
  'hardhat/internal/hardhat-network/jsonrpc/server',
  'hardhat/internal/hardhat-network/provider/utils/disk-cache',
  'hardhat/internal/hardhat-network/provider/utils/fork-recommendations-banner',
  'hardhat/internal/solidity/compilation-job',
  'hardhat/internal/solidity/compiler',
  'hardhat/internal/solidity/compiler/compiler-input',
  'hardhat/internal/solidity/compiler/downloader',
  'hardhat/internal/solidity/dependencyGraph',
  'hardhat/internal/solidity/parse',
  'hardhat/internal/solidity/resolver',
  'hardhat/internal/util/scripts-runner',
  '@nomicfoundation/solidity-analyzer',
  'p-map',
  // the network: Hardhat's HTTP provider and its wrappers
  'hardhat/internal/core/providers/construction',
  'hardhat/internal/core/providers/http',
  'hardhat/internal/core/providers/accounts',
  'hardhat/internal/core/providers/chainId',
  'hardhat/internal/core/providers/gas-providers',
  'hardhat/internal/core/providers/backwards-compatibility',
  'hardhat/internal/core/jsonrpc/types/input/transactionRequest',
  'undici',
  '@ethereumjs/util',
  // what the tests use
  'ethers',
  'chai',
  'mocha',
  'mocha/lib/interfaces/common',
  '@nomicfoundation/hardhat-ethers/internal/helpers',
  '@nomicfoundation/hardhat-ethers/internal/hardhat-ethers-provider',
  '@nomicfoundation/hardhat-chai-matchers/internal/add-chai-matchers',
  '@nomicfoundation/hardhat-network-helpers',
];

// The probe project's contract: what learners' contracts use most (storage,
// mappings, events, modifiers, custom errors, arithmetic).
const PROBE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract GauntletWarmProbe {
    error NotOwner(address who);
    event Stored(address indexed by, uint256 value);
    address public owner = msg.sender;
    mapping(address => uint256) public balances;
    uint256[] private history;
    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }
    function store(uint256 value) external onlyOwner returns (uint256) {
        require(value > 0, "zero");
        balances[msg.sender] += value;
        history.push(value);
        emit Stored(msg.sender, value);
        return history.length;
    }
}
`;

// The probe project's test: what exercises' tests do, through the same plugins.
const PROBE_TEST = `const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");

async function deploy() {
  const [owner, other] = await ethers.getSigners();
  const probe = await ethers.deployContract("GauntletWarmProbe");
  await probe.waitForDeployment();
  return { probe, owner, other };
}

describe("GauntletWarmProbe", function () {
  it("stores, emits and counts", async function () {
    const { probe, owner } = await loadFixture(deploy);
    await expect(probe.store(7n)).to.emit(probe, "Stored").withArgs(owner.address, 7n);
    await (await probe.store(5n)).wait();
    expect(await probe.balances(owner.address)).to.equal(12n);
    expect(await probe.owner()).to.equal(owner.address);
  });

  it("reverts with errors and reasons", async function () {
    const { probe, other } = await loadFixture(deploy);
    await expect(probe.connect(other).store(1n))
      .to.be.revertedWithCustomError(probe, "NotOwner")
      .withArgs(other.address);
    await expect(probe.store(0n)).to.be.revertedWith("zero");
  });

  it("starts again from the fixture", async function () {
    const { probe, owner } = await loadFixture(deploy);
    expect(await probe.balances(owner.address)).to.equal(0n);
    await expect(probe.store(3n)).to.changeEtherBalance(owner, 0n);
  });
});
`;

// Where `node <toolchain>/node_modules/hardhat/internal/cli/cli.js ...` has its
// toolchain, or null when the command is anything else.
function toolchainOf(cmd) {
  if (cmd.length < 2 || !sameNode(cmd[0])) return null;
  const cli = cmd[1];
  if (!path.isAbsolute(cli) || !cli.endsWith(path.sep + CLI_TAIL)) return null;
  try {
    if (!fs.statSync(cli).isFile()) return null;
  } catch {
    return null;
  }
  return cli.slice(0, cli.length - CLI_TAIL.length - 1);
}

// Runs `test` on the probe project, silently, then makes Hardhat forget it and
// resets the lent chain. Throws only when the chain could not be reset and checked.
async function rehearse(toolchain) {
  const resolve = (id) => require.resolve(id, { paths: [toolchain] });
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gauntlet-warm-'));
  const saved = {
    cwd: process.cwd(),
    env: { ...process.env },
    stdout: process.stdout.write,
    stderr: process.stderr.write,
    exit: process.exit,
  };
  const quiet = (_chunk, encoding, done) => {
    const callback = typeof encoding === 'function' ? encoding : done;
    if (typeof callback === 'function') process.nextTick(callback);
    return true;
  };
  let hre;
  try {
    fs.mkdirSync(path.join(dir, 'contracts'));
    fs.mkdirSync(path.join(dir, 'tests'));
    fs.writeFileSync(path.join(dir, 'contracts', 'GauntletWarmProbe.sol'), PROBE);
    fs.writeFileSync(path.join(dir, 'tests', 'probe.js'), PROBE_TEST);
    fs.copyFileSync(path.join(toolchain, 'workspace', 'package.json'), path.join(dir, 'package.json'));
    fs.symlinkSync(path.join(toolchain, 'node_modules'), path.join(dir, 'node_modules'));
    process.stdout.write = quiet;
    process.stderr.write = quiet;
    // The config ends a run with process.exit on a compile error or a chain that does
    // not answer: here that ends the rehearsal, not the preamble.
    process.exit = (code) => {
      throw new Error(`the rehearsal's run ended with status ${code}`);
    };
    process.chdir(dir);
    process.env.HARDHAT_CONFIG = path.join(toolchain, 'hardhat.config.js');
    // No compile cache (not a folder): the probe's output stays out of the exercise's.
    process.env.HARDHAT_COMPILE_CACHE = path.join(dir, 'no-compile-cache');
    delete process.env.GAUNTLET_RESULTS_FD;
    // Hardhat's CLI installs it first thing; installed now, the rehearsal's errors
    // (reverts) leave the source maps they needed parsed for the job's.
    require(resolve('source-map-support/register'));
    hre = require(resolve('hardhat'));
    hre.config.mocha.reporter = require(resolve('mocha')).reporters.Base; // prints nothing
    await hre.run('test');
  } catch {
    // less warm, still correct: the chain is reset below all the same
  } finally {
    process.exitCode = undefined; // the test task sets it to its failure count
    process.exit = saved.exit;
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
    process.chdir(saved.cwd);
    for (const name of Object.keys(process.env)) {
      if (!(name in saved.env)) delete process.env[name];
    }
    Object.assign(process.env, saved.env);
  }
  const provider = hre?.network?.provider;
  try {
    require(resolve('hardhat/internal/reset')).resetHardhatContext();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (provider === undefined) throw new Error('no Hardhat network to reset the chain with');
  await provider.request({ method: 'anvil_reset', params: [] });
  const block = await provider.request({ method: 'eth_blockNumber', params: [] });
  const automine = await provider.request({ method: 'anvil_getAutomine', params: [] });
  if (BigInt(block) !== 0n || automine !== true) {
    throw new Error(`the chain is not fresh after its reset: block ${block}, automine ${automine}`);
  }
}

function warmUp(toolchain) {
  for (const id of CONTEXT_FREE) {
    try {
      require(require.resolve(id, { paths: [toolchain] }));
    } catch {
      // not in this toolchain: the run loads what it needs itself
    }
  }
  try {
    const runner = require(path.join(toolchain, 'lib', 'solcjs-runner.js'));
    if (typeof runner.preload !== 'function') return; // a toolchain without it
    const soljson = require.resolve('solc/soljson.js', { paths: [toolchain] });
    const solc = runner.preload(soljson, path.join(toolchain, 'prepared', 'soljson.wasm'));
    compileStarter(solc);
  } catch {
    // compiled in a child, as in a cold run
  }
}

// Compiles the exercise's starter contracts (read from the workspace, never written)
// twice, as Hardhat would: the learner's contract is most like them, and the compiler's
// WebAssembly is optimised where it runs hot (V8 tiers it up as it runs: a first
// compile in a process takes ~3x as long as a third).
function compileStarter(solc) {
  const sources = {};
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith('.sol')) {
        sources[path.relative(process.cwd(), full)] = { content: fs.readFileSync(full, 'utf8') };
      }
    }
  };
  walk(path.join(process.cwd(), 'contracts'));
  if (Object.keys(sources).length === 0) return;
  const input = JSON.stringify({
    language: 'Solidity',
    sources,
    settings: {
      evmVersion: 'prague',
      optimizer: { enabled: false },
      outputSelection: {
        '*': {
          '*': ['abi', 'evm.bytecode', 'evm.deployedBytecode', 'evm.methodIdentifiers', 'metadata'],
          '': ['ast'],
        },
      },
    },
  });
  for (let i = 0; i < 2; i++) solc.compile(input);
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] !== '--' || argv.length < 2) {
    die('gauntlet-warm: usage: warm-hardhat.js -- CMD [ARG]...');
  }
  const cmd = argv.slice(1);
  const jobFd = jobFdFromEnv();
  const toolchain = toolchainOf(cmd);
  if (toolchain !== null) {
    warmUp(toolchain);
    try {
      await rehearse(toolchain);
    } catch (e) {
      die(`gauntlet-warm: the rehearsal left the chain unusable: ${e.message}`);
    }
  }
  serveJob(jobFd, (env) => {
    Object.assign(process.env, env);
    const restarts = Object.keys(env).some(
      (k) => k === 'PATH' || k.startsWith('NODE_') || k.startsWith('UV_'),
    );
    if (toolchain === null || restarts) {
      spawnCommand(cmd);
      return;
    }
    const Module = require('node:module');
    process.argv = [process.execPath, cmd[1], ...cmd.slice(2)];
    Module.runMain();
  });
}

main();
