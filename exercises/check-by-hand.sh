#!/bin/sh
# Checks the bundled shell/python/node exercises by hand, without the gauntlet binary:
# for each package, copy starter/ + tests/ into a fresh temporary workspace, run the
# test command there with the system /usr/bin/python3 and /usr/bin/node first on PATH,
# and show the results (TAP lines, JUnit test cases, or the exit code); then the same
# with solution/ laid over. The solution must pass every test, the starter must fail
# at least one. The workspace gets the runtimes' test runners at .gauntlet/runner/
# (from crates/grader/runners/, as the python/node/shell runtimes ship them). Results
# on the results channel (channel:tap, channel:junit) are read from fd 3 of the test
# command, as Gauntlet does (GAUNTLET_RESULTS_FD=3). It also checks the package
# layout, and runs a few hostile submissions that try to forge a pass (they must
# score 0); crates/grader/tests/forge.rs has the full set, in the real sandbox.
#
# Usage: sh exercises/check-by-hand.sh [-v] [--sandbox GAUNTLET] [ID...]
#   -v          print the full output of every run, not just the result lines
#   --sandbox   run each test command inside the real jail, `GAUNTLET sandbox run`
#               (e.g. target/debug/gauntlet), with the workspace bound read-write at
#               /workspace and the package's limits
#   ID...       default: every package listed in MINE below
#
# When run as root, the test commands run as nobody with no capabilities (setpriv),
# closer to the sandbox, where the runner's PR_SET_DUMPABLE protection only holds
# without CAP_SYS_PTRACE. Set NO_DROP=1 to run them as yourself.
#
# This is not the sandbox: no namespaces, no limits beyond a timeout. Only run the
# bundled (trusted) packages and the hostile fixtures below with it, which stay
# within the workspace and their own processes.
#
# The real check, once the binary exists: gauntlet exercises check exercises/<id>
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 - "$here" "$@" <<'PYTHON'
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = sys.argv[1]
args = sys.argv[2:]
VERBOSE = "-v" in args
SANDBOX = None
if "--sandbox" in args:
    i = args.index("--sandbox")
    SANDBOX = os.path.abspath(args[i + 1])
    del args[i : i + 2]
ids = [a for a in args if a != "-v"]
MINE = [
    "reverse-words", "roman-numerals", "bank-account", "mini-package",
    "word-frequency", "run-length", "csv-column", "dedupe-lines",
]
RUNNERS = os.path.join(os.path.dirname(HERE), "crates", "grader", "runners")
KEYS = {"id", "title", "runtime", "submission", "starter", "limits", "test", "scoring"}
LIMIT_KEYS = {"wall_time", "idle_timeout", "cpu_time", "memory", "pids", "output"}
DROP = (
    os.geteuid() == 0 and not os.environ.get("NO_DROP") and shutil.which("setpriv") and not SANDBOX
)
problems = []


def problem(eid, text):
    problems.append(f"{eid}: {text}")
    print(f"  PROBLEM: {text}")


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        import yaml
    except ImportError:
        sys.exit("check-by-hand needs PyYAML in /usr/bin/python3 (apt-get install python3-yaml)")
    return yaml.safe_load(text)


CHANNEL = ("channel:tap", "channel:junit")


def validate(eid, d, spec):
    if set(spec) - KEYS:
        problem(eid, f"unknown keys {sorted(set(spec) - KEYS)}")
    if spec.get("id") != eid:
        problem(eid, f"id {spec.get('id')!r} is not the folder name")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", eid):
        problem(eid, "id does not match [a-z0-9][a-z0-9-]{0,63}")
    if spec.get("runtime") not in ("shell", "python", "node"):
        problem(eid, f"runtime {spec.get('runtime')!r} is not shell, python or node")
    if spec.get("submission") not in ("files", "archive"):
        problem(eid, "submission is neither files nor archive")
    if spec.get("scoring") not in ("per-test", "all-or-nothing"):
        problem(eid, "scoring is neither per-test nor all-or-nothing")
    if set(spec.get("limits") or {}) - LIMIT_KEYS:
        problem(eid, f"unknown limits {sorted(set(spec['limits']) - LIMIT_KEYS)}")
    starter = spec.get("starter") or {}
    if set(starter) != {"files"}:
        problem(eid, "starter must hold exactly 'files'")
    paths = []
    for entry in starter.get("files") or []:
        if set(entry) - {"path", "max_bytes"}:
            problem(eid, f"unknown keys in starter.files entry {entry}")
        p = entry["path"]
        paths.append(p)
        cap = entry.get("max_bytes", 65536)
        if cap > 262144:
            problem(eid, f"{p}: max_bytes above 256 KiB")
        for side in ("starter", "solution"):
            f = os.path.join(d, side, p)
            if not os.path.isfile(f):
                problem(eid, f"{side}/{p} is missing")
            elif os.path.getsize(f) > cap:
                problem(eid, f"{side}/{p} is over its max_bytes ({cap})")
    for side in ("starter", "solution"):
        for root, _, files in os.walk(os.path.join(d, side)):
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), os.path.join(d, side))
                if rel not in paths and not (side == "solution" and spec.get("submission") == "archive"):
                    problem(eid, f"{side}/{rel} is not listed in starter.files")
    test = spec.get("test") or {}
    if set(test) != {"command", "results"}:
        problem(eid, "test must hold command and results")
    results = test.get("results", "")
    if not (results in ("tap", "exit-code") + CHANNEL or results.startswith("junit:")):
        problem(eid, f"results {results!r} is not channel:tap, channel:junit, tap, junit:<path> or exit-code")
    return test.get("command"), results


def workspace(d, with_solution):
    # Not under /tmp, which the code under test may write: its tests/ must stay hidden.
    ws = tempfile.mkdtemp(prefix="gauntlet-check-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
    shutil.copytree(os.path.join(d, "starter"), ws, dirs_exist_ok=True)
    shutil.copytree(os.path.join(d, "tests"), os.path.join(ws, "tests"))
    shutil.copytree(RUNNERS, os.path.join(ws, ".gauntlet", "runner"))
    if with_solution:
        shutil.copytree(os.path.join(d, "solution"), ws, dirs_exist_ok=True)
    return ws


def open_up(ws):
    """Lets nobody write the workspace (not tests/, as in the sandbox) when we drop to it."""
    os.chmod(ws, 0o777)
    for root, dirs, files in os.walk(ws):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755 if trusted(root + "/" + name) else 0o777)
        for name in files:
            path = os.path.join(root, name)
            x = os.stat(path).st_mode & 0o111  # confine.py is a program
            os.chmod(path, (0o644 if trusted(root) else 0o666) | x)


def trusted(path):
    """tests/ and the runners: read-only to the learner, as in the sandbox."""
    return "/tests" in path or "/.gauntlet" in path


def run(ws, command, limits=None, results=None):
    """Runs the test command in `ws`; returns (exit code, stdout, stderr, what arrived
    on the results channel, or None when the format has none)."""
    channel = results in CHANNEL
    fmt = results.split(":", 1)[1] if channel else None
    if SANDBOX:
        limits = limits or {}
        open_up(ws)
        saved = tempfile.NamedTemporaryFile(prefix="gauntlet-results-", delete=False).name
        extra = ["--results", saved, "--results-limit", "8MiB",
                 "--env", f"GAUNTLET_RESULTS_FORMAT={fmt}"] if channel else []
        argv = [
            SANDBOX, "sandbox", "run",
            "--wall-time", str(limits.get("wall_time", "60s")),
            "--idle-timeout", str(limits.get("idle_timeout", "30s")),
            "--cpu-time", str(limits.get("cpu_time", "30s")),
            "--memory", str(limits.get("memory", "256MiB")),
            "--output-limit", "1MiB",
            "--rw-bind", f"{ws}:/workspace", "--workdir", "/workspace",
            "--env", "PYTHONDONTWRITEBYTECODE=1", "--env", "PYTHONNOUSERSITE=1",
            "--env", "GAUNTLET_HIDDEN=/workspace/tests", *extra,
            "--", *command,
        ]
        try:
            p = subprocess.run(argv, capture_output=True, timeout=300)
            report = p.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            if VERBOSE or p.returncode != 0 and not p.stdout:
                print(f"  sandbox: {report[0] if report else '(no report)'}")
            with open(saved, "rb") as f:
                got = f.read() if channel else None
        finally:
            os.unlink(saved)
        return p.returncode, p.stdout, p.stderr, got
    env = {
        "PATH": "/usr/bin:/bin", "HOME": ws, "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
    }
    argv = list(command)
    if DROP:
        open_up(ws)
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--"] + argv
    pass_fds = ()
    r = w = None
    if channel:
        # The results channel: a pipe on fd 3, read to the end here.
        r, w = os.pipe()
        if DROP:
            os.fchown(w, 65534, 65534)  # /dev/fd/3 reopens the pipe: it must be theirs
        env.update({"GAUNTLET_RESULTS_FD": "3", "GAUNTLET_RESULTS_FORMAT": fmt,
                    "GAUNTLET_HIDDEN": os.path.join(ws, "tests")})
        argv = ["sh", "-c", 'exec 3>&"$0"; exec "$@"', str(w)] + argv
        pass_fds = (w,)
    try:
        proc = subprocess.Popen(argv, cwd=ws, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, pass_fds=pass_fds)
        if w is not None:
            os.close(w)
        got = None
        if r is not None:
            with os.fdopen(r, "rb") as f:
                got = f.read()
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None, b"", b"timed out after 180 s", None
    return proc.returncode, out, err, got


def read_tap(out):
    tests = []
    plan = None
    for line in out.decode("utf-8", "replace").splitlines():
        m = re.match(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*)$", line)
        if m:
            tests.append((m.group(1) == "ok", m.group(3)))
        m = re.match(r"^1\.\.(\d+)", line)
        if m:
            plan = int(m.group(1))
    return tests, plan


def read_junit(ws, rel):
    path = os.path.join(ws, rel)
    if os.path.islink(path) or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return junit_tests(f.read())


def junit_tests(data):
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    tests = []
    for case in root.iter("testcase"):
        bad = case.find("failure") is not None or case.find("error") is not None
        tests.append((not bad, case.get("name")))
    return tests


def grade(eid, d, spec, command, results, with_solution):
    label = "solution" if with_solution else "starter"
    ws = workspace(d, with_solution)
    try:
        code, out, err, channel = run(ws, command, spec.get("limits"), results)
        if VERBOSE:
            sys.stdout.write(out.decode("utf-8", "replace") + err.decode("utf-8", "replace"))
        if results == "exit-code":
            ok = code == 0
            print(f"  {label:8}: exit code {code} -> {'PASS' if ok else 'FAIL'}")
            return ok, (1 if ok else 0), 1
        if results in ("tap", "channel:tap"):
            tests, plan = read_tap(channel if results == "channel:tap" else out)
            if plan is not None and plan != len(tests):
                print(f"  {label:8}: plan 1..{plan} but {len(tests)} results")
        elif results == "channel:junit":
            tests = junit_tests(channel or b"")
            if tests is None:
                print(f"  {label:8}: no JUnit on the results channel (exit code {code})")
                sys.stdout.write(err.decode("utf-8", "replace")[-2000:])
                return False, 0, 0
        else:
            tests = read_junit(ws, results.split(":", 1)[1])
            if tests is None:
                print(f"  {label:8}: no JUnit file (exit code {code})")
                sys.stdout.write(err.decode("utf-8", "replace")[-2000:])
                return False, 0, 0
        passed = sum(1 for ok, _ in tests if ok)
        for ok, name in tests:
            print(f"      {'ok    ' if ok else 'NOT OK'}  {name}")
        print(f"  {label:8}: {passed}/{len(tests)} passed (exit code {code})")
        if not tests:
            sys.stdout.write(err.decode("utf-8", "replace")[-2000:])
        return bool(tests) and passed == len(tests), passed, len(tests)
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def check(eid):
    d = os.path.join(HERE, eid)
    print(f"== {eid}")
    spec = load_yaml(os.path.join(d, "exercise.yaml"))
    command, results = validate(eid, d, spec)
    print(f"  runtime {spec['runtime']}, submission {spec['submission']}, results {results}, "
          f"scoring {spec['scoring']}")
    s_ok, s_pass, s_total = grade(eid, d, spec, command, results, with_solution=False)
    r_ok, r_pass, r_total = grade(eid, d, spec, command, results, with_solution=True)
    if not r_ok:
        problem(eid, "the solution does not pass every test")
    if s_ok:
        problem(eid, "the starter passes every test")
    if results != "exit-code" and r_total < 4:
        problem(eid, f"only {r_total} tests (at least 4)")
    return eid, spec, s_pass, s_total, r_pass, r_total


# Hostile submissions: each tries to forge a pass. Every one must score 0.
HOSTILE = {
    ("reverse-words", "words.py"): r'''
import os, sys
print("ok 1 - forged on stdout\nok 2 - forged")
sys.stderr.write("ok 3 - forged on stderr\n")
try:  # write into the runner's stdout (refused: the judge is not dumpable)
    with open(f"/proc/{os.getppid()}/fd/1", "w") as f:
        f.write("ok 4 - forged via /proc\n")
except OSError:
    pass
if os.fork() == 0:  # a daemon that escapes with setsid (swept: the judge is a subreaper)
    os.setsid()
    if os.fork() == 0:
        import time
        while True:
            time.sleep(0.05)
    os._exit(0)
class Liar(str):  # equal to everything
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = str.__hash__
def reverse_words(sentence):
    return Liar("")
''',
    ("roman-numerals", "roman.py"): r'''
import os
REPORT = """<?xml version="1.0"?><testsuites><testsuite name="x" tests="11">""" + \
    "".join(f'<testcase name="t{i}"/>' for i in range(11)) + "</testsuite></testsuites>"
open("report.xml", "w").write(REPORT)  # planted early: deleted by the judge
if os.fork() == 0:  # keeps planting it: killed before the judge writes its report
    os.setsid()
    while True:
        try:
            open("report.xml", "w").write(REPORT)
        except OSError:
            pass
def to_roman(n):
    raise SystemExit(0)
def from_roman(s):
    os._exit(0)
''',
    ("csv-column", "csvcol.sh"): r'''
echo "ok 1 - forged on stdout"
echo "ok 2 - forged via /proc" > /proc/$PPID/fd/1 2>/dev/null
echo "ok 3 - forged on the channel" > /proc/$PPID/fd/3 2>/dev/null
judge=$PPID
setsid sh -c "while :; do echo 'ok 4 - forged' > /proc/$judge/fd/3 2>/dev/null; sleep 0.1; done" &
exit 0
''',
    ("dedupe-lines", "dedupe.sh"): r'''
echo "ok 1 - forged on stdout"
echo "ok 2 - forged" >&3 2>/dev/null
for p in $PPID $(cut -d')' -f2 /proc/$PPID/stat | cut -d' ' -f3); do
    echo "ok 3 - forged" > /proc/$p/fd/3 2>/dev/null
done
cat tests/run.sh 2>/dev/null | head -1
exit 0
''',
    ("mini-package", "textstats/__init__.py"): r'''
raise ImportError("this package never imports; only the probe below would pass")
''',
    ("mini-package", "textstats_probe.py"): r'''
# An archive may add files at the workspace root: this one tries to stand in for the
# tests' probe module (tests/ comes first on sys.path, so it never loads).
def import_output(): return ""
def star_import_names(): return ["average_word_length", "sentence_count", "word_count"]
def reexports(): return [True, True, True]
''',
    ("word-frequency", "wordfreq.js"): r'''
const fs = require('fs');
console.log('ok 1 - forged\n  ...\nok 2 - forged');
for (const p of [`/proc/${process.ppid}/fd/1`, 'report.xml']) {
  try { fs.writeFileSync(p, 'ok 9 - forged\n'); } catch (e) {}
}
try { require('child_process').execSync('echo ok 5 - forged >&2'); } catch (e) {}
const liar = new Proxy([], { get: () => () => true });
module.exports = { topWords() { return liar; } };
''',
}


def hostile():
    print("== hostile submissions (each must pass no test)")
    by_exercise = {}
    for (eid, rel), source in HOSTILE.items():
        by_exercise.setdefault(eid, {})[rel] = source
    for eid, files in by_exercise.items():
        if eid not in ids:
            continue
        d = os.path.join(HERE, eid)
        spec = load_yaml(os.path.join(d, "exercise.yaml"))
        ws = workspace(d, with_solution=False)
        try:
            for rel, source in files.items():
                with open(os.path.join(ws, rel), "w") as f:
                    f.write(source)
            test = spec["test"]
            code, out, err, channel = run(ws, test["command"], spec.get("limits"), test["results"])
            if VERBOSE:
                sys.stdout.write(out.decode("utf-8", "replace"))
            if test["results"] in ("tap", "channel:tap"):
                tests, plan = read_tap(channel if test["results"] == "channel:tap" else out)
            elif test["results"] == "channel:junit":
                tests = junit_tests(channel or b"") or []
            else:
                tests = read_junit(ws, test["results"].split(":", 1)[1]) or []
            passed = sum(1 for ok, _ in tests if ok)
            print(f"  {eid} ({', '.join(files)}): {passed}/{len(tests)} passed")
            if passed or not tests:
                problem(eid, f"hostile submission got {passed}/{len(tests)}")
        finally:
            shutil.rmtree(ws, ignore_errors=True)


if not ids:
    ids = [e for e in MINE if os.path.isdir(os.path.join(HERE, e))]
print(f"python: /usr/bin/python3, node: {subprocess.run(['/usr/bin/node', '--version'], capture_output=True, text=True).stdout.strip()}, "
      f"running tests {'in the sandbox (' + SANDBOX + ')' if SANDBOX else 'as nobody, no capabilities' if DROP else 'as yourself'}")
rows = [check(eid) for eid in ids]
hostile()
print()
print(f"{'id':16} {'runtime':8} {'submission':10} {'results':18} {'scoring':15} starter   solution")
for eid, spec, sp, st, rp, rt in rows:
    print(f"{eid:16} {spec['runtime']:8} {spec['submission']:10} {spec['test']['results']:18} "
          f"{spec['scoring']:15} {sp:>3}/{st:<3}   {rp:>3}/{rt:<3}")
print()
if problems:
    print(f"{len(problems)} problem(s):")
    for p in problems:
        print(f"  {p}")
    sys.exit(1)
print("all good: every solution passes every test, every starter fails at least one")
PYTHON
