#!/usr/bin/env bash
# Proof that the offline Hardhat toolchain works, end to end, on this machine:
#
#   1. installs the toolchain into PREFIX (npm ci --ignore-scripts, from the
#      committed lockfile, then tools/prepare-solc.js; skipped when PREFIX already
#      holds this lockfile's install);
#   2. starts one Anvil on a free 127.0.0.1 port, with the runtime's flags;
#   3. for every exercise with `runtime: hardhat`: lays out a scratch workspace as
#      the grader does (README.md), resets the chain (and checks it is fresh), and
#      runs the default test command: the solution must pass every test, the
#      starter must fail at least one;
#   4. checks that a contract that does not compile (a syntax error; an import of a
#      test file) gives a message naming the file, the compile_error marker, exit 1
#      and no TAP;
#   5. times a warm edit+test with and without the compile cache, and the same
#      files under a plain local `hardhat test` (the peer the benchmark compares to).
#
# The test runs happen inside bwrap with the sandbox's layout (toolchain read-only
# at /opt/gauntlet/hardhat, workspace at /workspace, HOME on a tmpfs, environment
# RPC_URL, RUN_OVERRIDES, PATH, HOME, LANG only). Without a usable bwrap the script
# stops, unless --no-bwrap asks for runs without it (same commands, host paths).
#
# Usage: toolchains/hardhat/verify.sh [--prefix DIR] [--exercises DIR] [--repeat N]
#                                     [--timing-runs N] [--no-timings] [--no-bwrap] [--keep]
# --repeat N runs every solution and starter N times, each on a freshly reset chain,
# and fails unless every run gives the same per-test results (a flakiness check).
# Exit status: 0 when every check passed, 1 when one failed, 2 on bad usage.

set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

prefix="${TMPDIR:-/tmp}/gauntlet-hardhat-toolchain"
exercises="$repo/exercises"
timing_runs=5
repeat=1
timings=1
use_bwrap=1
keep=0

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --exercises) exercises="$2"; shift 2 ;;
    --timing-runs) timing_runs="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --no-timings) timings=0; shift ;;
    --no-bwrap) use_bwrap=0; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "verify.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

# Inside the sandbox (see README.md).
TOOLCHAIN_IN=/opt/gauntlet/hardhat
CACHE_IN=/opt/gauntlet/compile-cache
WORKSPACE_IN=/workspace
# The Anvil command line of the runtime, less host and port.
ANVIL_FLAGS=(--silent --chain-id 31337 --hardfork prague --gas-limit 30000000
  --accounts 10 --balance 10000
  --mnemonic "test test test test test test test test test test test junk")

scratch="$(mktemp -d "${TMPDIR:-/tmp}/gauntlet-hardhat-verify.XXXXXX")"
anvil_pid=""
cleanup() {
  if [ -n "$anvil_pid" ]; then kill "$anvil_pid" 2>/dev/null || true; wait "$anvil_pid" 2>/dev/null || true; fi
  if [ "$keep" = 1 ]; then echo "scratch kept: $scratch"; else rm -rf "$scratch"; fi
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# --- 1. install ---------------------------------------------------------------
echo "== install into $prefix"
mkdir -p "$prefix"
cp "$here/package.json" "$here/package-lock.json" "$here/hardhat.config.js" "$prefix/"
rm -rf "$prefix/lib" "$prefix/workspace" "$prefix/tools"
cp -r "$here/lib" "$here/workspace" "$here/tools" "$prefix/"
lock_sum="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [ -f "$prefix/node_modules/.gauntlet-lock-sha256" ] &&
  [ "$(cat "$prefix/node_modules/.gauntlet-lock-sha256")" = "$lock_sum" ]; then
  echo "node_modules already installed from this lockfile"
else
  t0=$(now_ms)
  (cd "$prefix" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$prefix/node_modules/.gauntlet-lock-sha256"
  echo "npm ci --ignore-scripts: $(( $(now_ms) - t0 )) ms, $(du -sh "$prefix/node_modules" | cut -f1)"
  rm -rf "$prefix/prepared"
fi
if [ ! -f "$prefix/prepared/soljson.wasm" ]; then
  t0=$(now_ms)
  node "$prefix/tools/prepare-solc.js" "$prefix" || fail "tools/prepare-solc.js"
  echo "prepare-solc: $(( $(now_ms) - t0 )) ms"
fi
anvil_bin="$prefix/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
hardhat_cli="node_modules/hardhat/internal/cli/cli.js"
echo "node $(node --version), hardhat $(node -p "require('$prefix/node_modules/hardhat/package.json').version"), $("$anvil_bin" --version | head -1)"

# The config names solc's long version instead of loading the compiler to ask it.
solc_long="$(cd "$prefix" && node -p 'require("solc").version()')"
config_long="$(sed -n 's/^const SOLC_LONG_VERSION = "\(.*\)";$/\1/p' "$prefix/hardhat.config.js")"
case "$solc_long" in
  "$config_long".*) echo "solc $solc_long matches the config" ;;
  *) fail "solc reports $solc_long, hardhat.config.js says $config_long" ;;
esac

# --- 2. anvil -----------------------------------------------------------------
port="$(node "$prefix/tools/anvil-check.js" free-port)"
rpc_url="http://127.0.0.1:$port"
start_anvil() {
  "$anvil_bin" --host 127.0.0.1 --port "$port" "${ANVIL_FLAGS[@]}" >"$scratch/anvil.log" 2>&1 &
  anvil_pid=$!
  node "$prefix/tools/anvil-check.js" wait "$rpc_url" 5000
}
t0=$(now_ms)
start_anvil
echo "== anvil on $rpc_url (pid $anvil_pid), ready in $(( $(now_ms) - t0 )) ms"
fresh_chain() {
  if ! node "$prefix/tools/anvil-check.js" reset "$rpc_url"; then
    echo "restarting anvil"
    kill "$anvil_pid"; wait "$anvil_pid" 2>/dev/null || true
    start_anvil
  fi
}

# --- the sandboxed run --------------------------------------------------------
if [ "$use_bwrap" = 1 ]; then
  if ! bwrap --ro-bind / / --dev /dev true 2>/dev/null; then
    echo "verify.sh: bwrap is missing or unusable here; rerun with --no-bwrap" >&2
    exit 1
  fi
  toolchain_path="$TOOLCHAIN_IN"
else
  toolchain_path="$prefix"
fi
test_command=(node "$toolchain_path/$hardhat_cli" test --config "$toolchain_path/hardhat.config.js")
echo "== test command: ${test_command[*]}"

# make_workspace DIR EXERCISE VARIANT: starter + tests (+ solution laid over them),
# the runtime's package.json, and node_modules pointing into the toolchain.
make_workspace() {
  local ws="$1" ex="$2" variant="$3"
  rm -rf "$ws"
  mkdir -p "$ws"
  cp -r "$ex/starter/." "$ws/"
  cp -r "$ex/tests" "$ws/tests"
  if [ "$variant" = solution ]; then cp -r "$ex/solution/." "$ws/"; fi
  cp "$prefix/workspace/package.json" "$ws/package.json"
  ln -s "$toolchain_path/node_modules" "$ws/node_modules"
}

# run_tests WORKSPACE CACHE_DIR OUT_PREFIX: the default test command in the
# sandbox layout; sets $rc and $elapsed_ms, writes OUT_PREFIX.stdout/.stderr.
run_tests() {
  local ws="$1" cache="$2" out="$3" t0
  mkdir -p "$cache"
  t0=$(now_ms)
  set +e
  if [ "$use_bwrap" = 1 ]; then
    bwrap --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
      --symlink usr/bin /bin --symlink usr/sbin /sbin --ro-bind /etc /etc \
      --ro-bind "$prefix" "$TOOLCHAIN_IN" --bind "$cache" "$CACHE_IN" --bind "$ws" "$WORKSPACE_IN" \
      --tmpfs /tmp --dev /dev --proc /proc --unshare-pid --unshare-ipc --unshare-uts \
      --new-session --die-with-parent --chdir "$WORKSPACE_IN" --clearenv \
      --setenv RPC_URL "$rpc_url" --setenv RUN_OVERRIDES '{}' \
      --setenv PATH /usr/local/bin:/usr/bin:/bin --setenv HOME /tmp --setenv LANG C.UTF-8 \
      -- "${test_command[@]}" >"$out.stdout" 2>"$out.stderr"
  else
    (cd "$ws" && env -i RPC_URL="$rpc_url" RUN_OVERRIDES='{}' PATH=/usr/local/bin:/usr/bin:/bin \
      HOME="$scratch/home" LANG=C.UTF-8 HARDHAT_COMPILE_CACHE="$cache" \
      "${test_command[@]}") >"$out.stdout" 2>"$out.stderr"
  fi
  rc=$?
  set -e
  elapsed_ms=$(( $(now_ms) - t0 ))
}

# tap_counts FILE: sets $tap_ok, $tap_not_ok, $tap_plan (0 when absent).
tap_counts() {
  tap_ok=$(grep -c '^ok ' "$1" || true)
  tap_not_ok=$(grep -c '^not ok ' "$1" || true)
  tap_plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$1" | tail -1)
  tap_plan=${tap_plan:-0}
}

# --- 3. exercises -------------------------------------------------------------
mkdir -p "$scratch/home"
shared_cache="$scratch/compile-cache"
summary="$scratch/summary.txt"
printf '%-22s %-9s %-6s %5s %5s %5s %4s %7s\n' exercise variant result tests pass fail rc ms >"$summary"
found=0
for yaml in "$exercises"/*/exercise.yaml; do
  grep -q '^runtime: *hardhat *$' "$yaml" || continue
  ex="$(dirname "$yaml")"
  id="$(basename "$ex")"
  found=$((found + 1))
  for variant in solution starter; do
    ws="$scratch/ws/$id-$variant"
    out="$scratch/out/$id-$variant"
    mkdir -p "$scratch/out"
    first_results=""
    flaky=0
    for attempt in $(seq "$repeat"); do
      make_workspace "$ws" "$ex" "$variant"
      fresh_chain
      run_tests "$ws" "$shared_cache" "$out"
      results="$(grep -E '^(not )?ok [0-9]+' "$out.stdout" | sed -E 's/^((not )?ok [0-9]+).*/\1/' | tr '\n' ' ')"
      if [ "$attempt" = 1 ]; then
        first_results="$results"
      elif [ "$results" != "$first_results" ]; then
        flaky=1
        echo "run $attempt of $id $variant differs: [$results] vs [$first_results]"
      fi
    done
    tap_counts "$out.stdout"
    result=OK
    if [ "$variant" = solution ]; then
      if [ "$rc" != 0 ] || [ "$tap_not_ok" != 0 ] || [ "$tap_plan" = 0 ] || [ "$tap_ok" != "$tap_plan" ]; then
        result=FAIL
      fi
    else
      if [ "$rc" = 0 ] || [ "$tap_not_ok" = 0 ] || [ "$tap_plan" = 0 ] ||
        [ $((tap_ok + tap_not_ok)) != "$tap_plan" ] || grep -q 'compile_error' "$out.stderr"; then
        result=FAIL
      fi
    fi
    if [ "$flaky" = 1 ]; then result=FLAKY; fi
    printf '%-22s %-9s %-6s %5s %5s %5s %4s %7s\n' "$id" "$variant" "$result" "$tap_plan" "$tap_ok" "$tap_not_ok" "$rc" "$elapsed_ms" >>"$summary"
    if [ "$result" != OK ]; then
      fail "$id $variant (rc $rc, $tap_ok ok, $tap_not_ok not ok, plan $tap_plan)"
      sed 's/^/    | /' "$out.stdout" "$out.stderr" | head -60
    fi
  done
done
[ "$found" -gt 0 ] || fail "no exercise with runtime: hardhat under $exercises"

# --- 4. compile errors -----------------------------------------------------------
# check_compile_error LABEL PATTERN: the last run must be a compile error: exit 1,
# nothing on stdout, the marker line, and PATTERN (naming the file) on stderr.
check_compile_error() {
  local label="$1" pattern="$2" out="$scratch/out/compile-error"
  if [ "$rc" = 1 ] && [ ! -s "$out.stdout" ] &&
    grep -q "^gauntlet-hardhat: compile_error$" "$out.stderr" &&
    grep -q -- "$pattern" "$out.stderr"; then
    printf '%-22s %-9s %-6s %5s %5s %5s %4s %7s\n' "$label" compile OK - - - "$rc" "$elapsed_ms" >>"$summary"
  else
    printf '%-22s %-9s %-6s %5s %5s %5s %4s %7s\n' "$label" compile FAIL - - - "$rc" "$elapsed_ms" >>"$summary"
    fail "$label: compile error not reported as expected"
    sed 's/^/    | /' "$out.stdout" "$out.stderr" | head -40
  fi
}
first_ex="$( (grep -l "^runtime: *hardhat *$" "$exercises"/*/exercise.yaml || true) | head -1 | xargs -r dirname)"
if [ -n "$first_ex" ]; then
  ws="$scratch/ws/compile-error"
  # A syntax error: solc's message names the file and line.
  make_workspace "$ws" "$first_ex" starter
  contract="$(cd "$ws" && ls contracts/*.sol | head -1)"
  printf '\ncontract Broken { function f() public { uint x = ; } }\n' >>"$ws/$contract"
  fresh_chain
  run_tests "$ws" "$shared_cache" "$scratch/out/compile-error"
  check_compile_error "(syntax error)" "--> $contract:"
  # An import of a test file: refused before solc could quote it.
  make_workspace "$ws" "$first_ex" starter
  test_file="$(cd "$ws" && ls tests/*.js | head -1)"
  sed -i "0,/^pragma solidity/s||import \"../$test_file\";\n&|" "$ws/$contract"
  fresh_chain
  run_tests "$ws" "$shared_cache" "$scratch/out/compile-error"
  check_compile_error "(import of tests/)" "^$contract imports $test_file$"
fi

echo
echo "== results"
cat "$summary"

# --- 5. timings -----------------------------------------------------------------
# Four kinds of run, interleaved (the machine's load drifts; side by side in each
# round keeps the ratios honest), each on a freshly reset chain:
#   miss     sandboxed, fresh workspace, a source no run has seen (a new edit)
#   hit      sandboxed, fresh workspace, the same source again (compile cache hit)
#   peer     a plain local project, warm, after an edit: `hardhat test`, no sandbox,
#            no compile cache, stock solcjs loading (no prepared wasm)
#   peer_nc  the same project without an edit (Hardhat's own cache: no compile)
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
time_peer() {
  fresh_chain
  local t0
  t0=$(now_ms)
  set +e
  (cd "$peer_dir" && env -u HARDHAT_COMPILE_CACHE RPC_URL="$rpc_url" node "$hardhat_cli" test >/dev/null 2>&1)
  rc=$?
  set -e
  elapsed_ms=$(( $(now_ms) - t0 ))
}
if [ "$timings" = 1 ] && [ -n "$first_ex" ]; then
  id="$(basename "$first_ex")"
  echo
  echo "== timings: edit + test of $id's solution, $timing_runs rounds, median"
  contract="$(cd "$first_ex/solution" && ls contracts/*.sol | head -1)"
  peer_dir="$scratch/peer"
  rm -rf "$peer_dir"; mkdir -p "$peer_dir"
  cp -r "$first_ex/tests" "$first_ex/solution/contracts" "$peer_dir/"
  cp "$prefix/workspace/package.json" "$prefix/hardhat.config.js" "$peer_dir/"
  cp -r "$prefix/lib" "$peer_dir/"
  ln -s "$prefix/node_modules" "$peer_dir/node_modules"
  (cd "$peer_dir" && env -u HARDHAT_COMPILE_CACHE RPC_URL="$rpc_url" node "$hardhat_cli" compile >/dev/null 2>&1)
  miss=(); hit=(); peer=(); peer_nc=()
  ws="$scratch/ws/time"
  for i in $(seq "$timing_runs"); do
    make_workspace "$ws" "$first_ex" solution
    echo "// edit $i $RANDOM$RANDOM" >>"$ws/$contract"
    rm -rf "$scratch/cache-time"
    fresh_chain
    run_tests "$ws" "$scratch/cache-time" "$scratch/out/time-miss"
    [ "$rc" = 0 ] || fail "timing run (cache miss) failed, rc $rc"
    miss+=("$elapsed_ms")

    rm -rf "$ws/cache" "$ws/artifacts"
    fresh_chain
    run_tests "$ws" "$scratch/cache-time" "$scratch/out/time-hit"
    [ "$rc" = 0 ] || fail "timing run (cache hit) failed, rc $rc"
    grep -q '^Compiled 1 Solidity file' "$scratch/out/time-hit.stderr" || fail "cache-hit run did not go through compile"
    hit+=("$elapsed_ms")

    echo "// peer edit $i $RANDOM$RANDOM" >>"$peer_dir/$contract"
    time_peer
    [ "$rc" = 0 ] || fail "peer timing run failed, rc $rc"
    peer+=("$elapsed_ms")

    time_peer
    [ "$rc" = 0 ] || fail "peer timing run (no edit) failed, rc $rc"
    peer_nc+=("$elapsed_ms")
  done
  m_miss=$(printf '%s\n' "${miss[@]}" | median)
  m_hit=$(printf '%s\n' "${hit[@]}" | median)
  m_peer=$(printf '%s\n' "${peer[@]}" | median)
  m_peer_nc=$(printf '%s\n' "${peer_nc[@]}" | median)
  printf '  sandboxed, new source (compile cache miss): %5s ms   (runs: %s)\n' "$m_miss" "${miss[*]}"
  printf '  sandboxed, source seen (compile cache hit): %5s ms   (runs: %s)\n' "$m_hit" "${hit[*]}"
  printf '  local warm `hardhat test` after an edit:    %5s ms   (runs: %s)\n' "$m_peer" "${peer[*]}"
  printf '  local `hardhat test`, no edit (no compile): %5s ms   (runs: %s)\n' "$m_peer_nc" "${peer_nc[*]}"
  awk -v m="$m_miss" -v h="$m_hit" -v p="$m_peer" -v q="$m_peer_nc" 'BEGIN {
    printf "  miss/peer %.2fx, hit/peer %.2fx, hit/no-edit peer %.2fx; the cache saves %d ms a run\n",
      m / p, h / p, h / q, m - h }'
fi

echo
if [ "$failures" -gt 0 ]; then
  echo "verify.sh: $failures check(s) failed"
  exit 1
fi
echo "verify.sh: all checks passed"
