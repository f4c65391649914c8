#!/usr/bin/env python3
"""Tests of the warm preambles crates/grader/runners/warm.py, warm.js and (its job side
and its fallback; the rest needs a chain, see warm_pool.rs) warm-hardhat.js (stdlib only).

    python3 crates/grader/tests/warm_preambles.py [--timings N] [--keep]

For each preamble: a temporary workspace with the runners at .gauntlet/runner/, the
preamble started as the jail would start it (cwd the workspace, GAUNTLET_JOB_FD=4 a
socketpair end, fd 3 the results channel when a case wants one), checked to print
nothing and send `R`, then handed a job built here (the `Job` encoder below, the
protocol of warm.py's docstring), and what it did checked: the files and their modes,
a starter file replaced, the environment, the command run in-process (same pid) or
exec'd/spawned, exit statuses, fd 3, and every refusal (status 125, the message,
nothing run). Then one bundled exercise through each preamble, compared with the cold
run. One line per check; exit status 1 when any fails.

--timings N: also N rounds of job-delivered-to-script-start (and to exit for a
bundled exercise), warm vs cold, medians printed (default 5; 0 skips them).
"""

import json
import os
import select
import shutil
import socket
import stat
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNERS = os.path.normpath(os.path.join(HERE, "..", "runners"))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
EXERCISES = os.path.join(REPO, "exercises")
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
NODE = shutil.which("node")
MAGIC = b"GJOB1\n"

failures = []
passes = 0


def check(name, ok, detail=""):
    global passes
    if ok:
        passes += 1
        print(f"ok    {name}")
    else:
        failures.append(name)
        print(f"FAIL  {name}" + (f"\n      {detail}" if detail else ""))


# ---------------------------------------------------------------------------
# The job encoder


class Job:
    def __init__(self, env=None, header=None, magic=MAGIC):
        self.magic = magic
        self.header = (
            header if header is not None else json.dumps({"env": env or {}}).encode()
        )
        self.entries = []

    def dir(self, path, mode=0o755):
        p = path.encode() if isinstance(path, str) else path
        self.entries.append(b"D" + struct.pack(">H", len(p)) + p + struct.pack(">I", mode))
        return self

    def file(self, path, data, mode=0o644):
        p = path.encode() if isinstance(path, str) else path
        data = data.encode() if isinstance(data, str) else data
        self.entries.append(
            b"F" + struct.pack(">H", len(p)) + p + struct.pack(">IQ", mode, len(data)) + data
        )
        return self

    def bytes(self, end=True, trailer=b""):
        out = self.magic + struct.pack(">I", len(self.header)) + self.header
        out += b"".join(self.entries)
        return out + (b"E" if end else b"") + trailer


# ---------------------------------------------------------------------------
# Workspaces and runs


def workspace(extra=None):
    ws = tempfile.mkdtemp(prefix="gauntlet-warm-")
    runner = os.path.join(ws, ".gauntlet", "runner")
    os.makedirs(runner)
    for name in os.listdir(RUNNERS):
        if name.endswith((".py", ".js")):
            shutil.copy(os.path.join(RUNNERS, name), runner)
    for rel, text in (extra or {}).items():
        full = os.path.join(ws, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return ws


# Puts the given descriptors at the given numbers, closes the originals, execs the
# rest of argv: the preamble then holds the job socket at 4 (and results at 3) and
# nothing else of ours, with our pid carried through the exec.
FDWRAP = r"""
import fcntl, os, sys
pairs = [tuple(map(int, s.split(":"))) for s in sys.argv[1].split(",") if s and s != "nb"]
nonblocking = "nb" in sys.argv[1].split(",")
high = [(fcntl.fcntl(src, fcntl.F_DUPFD_CLOEXEC, 100), dst) for src, dst in pairs]
for src, _ in pairs:
    os.close(src)
for h, dst in high:
    os.dup2(h, dst)
    os.close(h)
    if nonblocking and dst == 4:
        os.set_blocking(4, False)
os.execv(sys.argv[2], sys.argv[2:])
"""

PATH_DIR = tempfile.mkdtemp(prefix="gauntlet-warm-bin-")
os.symlink(os.path.realpath(PY), os.path.join(PATH_DIR, "python3"))
BASE_PATH = f"{PATH_DIR}:{os.path.dirname(NODE) if NODE else '/usr/bin'}:/usr/bin:/bin"


def base_env(results):
    env = {"PATH": BASE_PATH, "LANG": "C.UTF-8", "HOME": tempfile.gettempdir(), "GAUNTLET_JOB_FD": "4"}
    if results:
        env["GAUNTLET_RESULTS_FD"] = "3"
    return env


class Run:
    pass


def run_preamble(ws, preamble_argv, job_bytes, results=False, env=None, timeout=60, nonblocking=False):
    """Starts the preamble, waits for R (checking it printed nothing), sends the job,
    returns a Run: rc, out, err, res (fd 3), pid, ready, quiet, t_sent (monotonic,
    right after the job was sent and the write side shut)."""
    r = Run()
    host, jail = socket.socketpair()
    pairs = [(jail.fileno(), 4)]
    res_r = res_w = None
    if results:
        res_r, res_w = os.pipe()
        pairs.append((res_w, 3))
    spec = ",".join([f"{s}:{d}" for s, d in pairs] + (["nb"] if nonblocking else []))
    argv = [PY, "-I", "-S", "-c", FDWRAP, spec] + preamble_argv
    full_env = base_env(results)
    full_env.update(env or {})
    proc = subprocess.Popen(
        argv,
        cwd=ws,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=[fd for fd, _ in pairs],
    )
    jail.close()
    if res_w is not None:
        os.close(res_w)
    r.pid = proc.pid
    host.settimeout(timeout)
    try:
        r.ready = host.recv(1)
    except OSError:
        r.ready = b""
    # Anything printed before the job counts against it; give it a moment to show.
    readable, _, _ = select.select([proc.stdout, proc.stderr], [], [], 0.05)
    r.quiet = not readable
    try:
        host.sendall(job_bytes)
        host.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # a preamble that refused the job may be gone already
    r.t_sent = time.monotonic()
    res_chunks = []
    if res_r is not None:
        # Read fd 3 while the process runs (a full pipe would stall it).
        os.set_blocking(res_r, False)
    out_chunks, err_chunks = [], []
    streams = {proc.stdout.fileno(): out_chunks, proc.stderr.fileno(): err_chunks}
    if res_r is not None:
        streams[res_r] = res_chunks
    deadline = time.monotonic() + timeout
    while streams and time.monotonic() < deadline:
        ready, _, _ = select.select(list(streams), [], [], 0.5)
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if chunk:
                streams[fd].append(chunk)
            else:
                del streams[fd]
    try:
        r.rc = proc.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        r.rc = proc.wait()
    r.t_exit = time.monotonic()
    host.close()
    proc.stdout.close()
    proc.stderr.close()
    if res_r is not None:
        os.close(res_r)
    r.out = b"".join(out_chunks).decode("utf-8", "replace")
    r.err = b"".join(err_chunks).decode("utf-8", "replace")
    r.res = b"".join(res_chunks).decode("utf-8", "replace")
    return r


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def read(path):
    with open(path) as f:
        return f.read()


def last_json(text):
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None


# ---------------------------------------------------------------------------
# Test scripts placed in the workspace (the exercise's files) or delivered


SHOW_PY = r"""
import time
T0 = time.monotonic()
import json, os, sys
open("ran-marker", "w").close()
try:
    fd4 = os.readlink("/proc/self/fd/4").startswith("socket:")
except OSError:
    fd4 = False
info = {
    "t0": T0,
    "argv": sys.argv,
    "pid": os.getpid(),
    "name": __name__,
    "file": __file__,
    "path0": sys.path[0],
    "judge": "judge" in sys.modules,
    "overrides": os.environ.get("RUN_OVERRIDES"),
    "job_fd_env": "GAUNTLET_JOB_FD" in os.environ,
    "fd4": fd4,
    "main_is_us": sys.modules["__main__"].__dict__ is globals(),
}
if os.environ.get("GAUNTLET_RESULTS_FD"):
    os.write(int(os.environ["GAUNTLET_RESULTS_FD"]), b"ok 1 - from the script\n")
print(json.dumps(info), flush=True)
what = sys.argv[1] if len(sys.argv) > 1 else "ok"
if what == "exit3":
    sys.exit(3)
if what == "sysexit-msg":
    sys.exit("a message for stderr")
if what == "raise":
    def inner():
        raise ValueError("boom")
    inner()
if what == "os_exit":
    sys.stdout.flush()
    os._exit(7)
if what == "interrupt":
    raise KeyboardInterrupt
"""

JUDGE_PY = r"""
import time
T0 = time.monotonic()
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, ".gauntlet", "runner"))
import judge
T1 = time.monotonic()
print(T0, T1, judge.TESTS, flush=True)
"""

MOD_PY = r"""
import json, os, sys
print(json.dumps({"argv": sys.argv, "pid": os.getpid(), "name": __name__, "path0": sys.path[0]}))
sys.exit(int(os.environ.get("MOD_STATUS", "0")))
"""

SHOW_JS = r"""
const t0 = process.hrtime.bigint();
const fs = require('fs');
fs.writeFileSync('ran-marker', '');
let fd4 = false;
try {
  fd4 = fs.readlinkSync('/proc/self/fd/4').startsWith('socket:');
} catch {}
const info = {
  t0: Number(t0) / 1e9,
  argv: process.argv,
  pid: process.pid,
  main: require.main === module,
  mainModule: process.mainModule === module,
  overrides: process.env.RUN_OVERRIDES ?? null,
  jobFdEnv: 'GAUNTLET_JOB_FD' in process.env,
  fd4,
  judge: Object.keys(require.cache).some((k) => k.endsWith('/judge.js')),
};
if (process.env.GAUNTLET_RESULTS_FD) fs.writeSync(Number(process.env.GAUNTLET_RESULTS_FD), 'ok 1 - from the script\n');
console.log(JSON.stringify(info));
const what = process.argv[2] || 'ok';
if (what === 'exitcode3') process.exitCode = 3;
if (what === 'exit5') process.exit(5);
if (what === 'throw') throw new Error('boom');
if (what === 'later') setTimeout(() => { process.exitCode = 4; }, 20);
"""


def python_workspace():
    return workspace(
        {
            "tests/show.py": SHOW_PY,
            "tests/judged.py": JUDGE_PY,
            "starter.txt": "the starter\n",
            "existing/keep.txt": "kept\n",
        }
    )


def node_workspace():
    return workspace(
        {
            "tests/show.js": SHOW_JS,
            "starter.txt": "the starter\n",
            "existing/keep.txt": "kept\n",
        }
    )


def preamble(lang, ws):
    if lang == "py":
        return [PY, os.path.join(ws, ".gauntlet", "runner", "warm.py"), "--"]
    return [NODE, os.path.join(ws, ".gauntlet", "runner", "warm.js"), "--"]


def common_job(env=None):
    return (
        Job(env=env)
        .dir("pkg", 0o755)
        .file("pkg/mod.txt", "module text\n", 0o644)
        .file("run.sh", "#!/bin/sh\necho hi\n", 0o755)
        .file("deep/er/x.txt", b"\x00\x01binary\xff", 0o644)
        .file("starter.txt", "replaced by the submission\n", 0o644)
        .dir("ro", 0o555)
        .file("ro/inside.txt", "inside a read-only folder\n", 0o444)
        .file("empty.txt", "", 0o600)
        .file("big.bin", os.urandom(300_000), 0o644)
    )


def check_files(tag, ws, big):
    j = os.path.join
    check(f"{tag}: a directory entry made with its mode", os.path.isdir(j(ws, "pkg")) and mode_of(j(ws, "pkg")) == 0o755)
    check(f"{tag}: a file written with its mode (0o644)", read(j(ws, "pkg/mod.txt")) == "module text\n" and mode_of(j(ws, "pkg/mod.txt")) == 0o644)
    check(f"{tag}: an executable file keeps 0o755", mode_of(j(ws, "run.sh")) == 0o755)
    with open(j(ws, "deep/er/x.txt"), "rb") as f:
        data = f.read()
    check(
        f"{tag}: missing parents made (0o755), binary content intact",
        data == b"\x00\x01binary\xff" and mode_of(j(ws, "deep")) == 0o755 and mode_of(j(ws, "deep/er")) == 0o755,
    )
    check(f"{tag}: a starter file replaced", read(j(ws, "starter.txt")) == "replaced by the submission\n")
    check(f"{tag}: files not in the job left alone", read(j(ws, "existing/keep.txt")) == "kept\n")
    check(
        f"{tag}: a 0o555 folder gets its mode after its contents",
        mode_of(j(ws, "ro")) == 0o555 and mode_of(j(ws, "ro/inside.txt")) == 0o444
        and read(j(ws, "ro/inside.txt")) == "inside a read-only folder\n",
    )
    check(f"{tag}: an empty file, mode 0o600", os.path.getsize(j(ws, "empty.txt")) == 0 and mode_of(j(ws, "empty.txt")) == 0o600)
    with open(j(ws, "big.bin"), "rb") as f:
        check(f"{tag}: a 300 kB file intact", f.read() == big)


def cleanup(ws):
    for root, dirs, _ in os.walk(ws):
        for d in dirs:
            try:
                os.chmod(os.path.join(root, d), 0o755)
            except OSError:
                pass
    shutil.rmtree(ws, ignore_errors=True)


# ---------------------------------------------------------------------------
# The python preamble


def test_python():
    print("# warm.py")
    ws = python_workspace()
    job = common_job({"RUN_OVERRIDES": "xyz"})
    big = job.entries[-1][-300_000:]
    r = run_preamble(ws, preamble("py", ws) + ["python3", "tests/show.py", "ok", "b c"], job.bytes(), results=True)
    check("py: ready byte R", r.ready == b"R", repr(r.ready))
    check("py: nothing printed before the job", r.quiet)
    check("py: exit status 0", r.rc == 0, f"rc={r.rc} err={r.err}")
    check_files("py", ws, big)
    info = last_json(r.out) or {}
    check("py: env from the header applied", info.get("overrides") == "xyz", r.out + r.err)
    check("py: ran in-process (same pid)", info.get("pid") == r.pid, f"{info.get('pid')} vs {r.pid}")
    check("py: sys.argv as for python3 tests/show.py", info.get("argv") == ["tests/show.py", "ok", "b c"], str(info.get("argv")))
    check(
        "py: __name__ __main__, __file__ absolute",
        info.get("name") == "__main__"
        and info.get("file") in (os.path.join(ws, "tests/show.py"), os.path.join(os.path.realpath(ws), "tests/show.py")),
        str(info),
    )
    check("py: sys.path[0] is the script's folder", info.get("path0") == os.path.join(os.path.realpath(ws), "tests"), str(info.get("path0")))
    check("py: __main__ is the script's module", info.get("main_is_us") is True)
    check("py: judge imported during warm-up", info.get("judge") is True)
    check("py: no GAUNTLET_JOB_FD, fd 4 closed", info.get("job_fd_env") is False and info.get("fd4") is False, str(info))
    check("py: results on fd 3", r.res == "ok 1 - from the script\n", repr(r.res))
    cleanup(ws)

    # Exit statuses as CPython gives them.
    cases = [
        ("exit3", 3, None),
        ("sysexit-msg", 1, "a message for stderr\n"),
        ("os_exit", 7, None),
    ]
    for what, status, err in cases:
        ws = python_workspace()
        r = run_preamble(ws, preamble("py", ws) + ["python3", "tests/show.py", what], Job().bytes())
        ok = r.rc == status and (err is None or r.err == err)
        check(f"py: {what} -> status {status}", ok, f"rc={r.rc} err={r.err!r}")
        cleanup(ws)
    ws = python_workspace()
    r = run_preamble(ws, preamble("py", ws) + ["python3", "tests/show.py", "raise"], Job().bytes())
    script = os.path.join(ws, "tests", "show.py")
    tb_ok = (
        r.rc == 1
        and r.err.startswith(f'Traceback (most recent call last):\n  File "{script}", line ')
        and r.err.rstrip().endswith("ValueError: boom")
        and "warm.py" not in r.err
        and "runpy" not in r.err
    )
    check("py: uncaught exception -> traceback from the script, status 1", tb_ok, f"rc={r.rc}\n{r.err}")
    cleanup(ws)
    # Cold, for comparison: the same traceback, line for line.
    ws = python_workspace()
    cold = subprocess.run([PY, "tests/show.py", "raise"], cwd=ws, capture_output=True, text=True)
    r = run_preamble(ws, preamble("py", ws) + ["python3", "tests/show.py", "raise"], Job().bytes())
    check("py: traceback identical to a cold run", r.err == cold.stderr and r.rc == cold.returncode, f"cold:\n{cold.stderr}\nwarm:\n{r.err}")
    cleanup(ws)
    ws = python_workspace()
    r = run_preamble(ws, preamble("py", ws) + ["python3", "tests/show.py", "interrupt"], Job().bytes())
    check("py: uncaught KeyboardInterrupt -> killed by SIGINT, as cold", r.rc == -2 and "KeyboardInterrupt" in r.err, f"rc={r.rc} {r.err}")
    cleanup(ws)

    ws = python_workspace()
    job = common_job()
    r = run_preamble(ws, preamble("py", ws) + ["python3", "tests/show.py", "exit3"], job.bytes(), nonblocking=True)
    check("py: a non-blocking job socket is read all the same", r.rc == 3 and read(os.path.join(ws, "starter.txt")) == "replaced by the submission\n", f"rc={r.rc} {r.err}")
    cleanup(ws)

    # A script that comes with the job (the learner's), and python3 -m.
    ws = python_workspace()
    r = run_preamble(
        ws,
        preamble("py", ws) + ["python3", "main.py", "x"],
        Job().file("main.py", "import os, sys\nprint(os.getpid(), sys.argv)\nsys.exit(4)\n").bytes(),
    )
    check("py: a script delivered by the job runs in-process", r.rc == 4 and r.out == f"{r.pid} ['main.py', 'x']\n", f"rc={r.rc} out={r.out!r} err={r.err}")
    cleanup(ws)
    ws = python_workspace()
    r = run_preamble(
        ws,
        preamble("py", ws) + ["python3", "-m", "mymod", "arg"],
        Job(env={"MOD_STATUS": "6"}).file("mymod.py", MOD_PY).bytes(),
    )
    info = last_json(r.out) or {}
    check(
        "py: python3 -m module in-process (argv[0] the module's file, path[0] the cwd)",
        r.rc == 6 and info.get("pid") == r.pid and info.get("argv") == [os.path.join(os.path.realpath(ws), "mymod.py"), "arg"]
        and info.get("name") == "__main__" and info.get("path0") == os.path.realpath(ws),
        f"rc={r.rc} {info} {r.err}",
    )
    cleanup(ws)

    # judge.py imported during warm-up sees the script's tests folder.
    ws = python_workspace()
    r = run_preamble(ws, preamble("py", ws) + ["python3", "tests/judged.py"], Job().bytes())
    parts = r.out.split()
    check("py: judge.TESTS is the script's folder", r.rc == 0 and len(parts) == 3 and parts[2] == os.path.join(os.path.realpath(ws), "tests"), r.out + r.err)
    cleanup(ws)

    # Fallback: exec (same pid), env and fd 3 carried through.
    ws = python_workspace()
    r = run_preamble(
        ws,
        preamble("py", ws) + ["sh", "-c", 'echo "$$ $RUN_OVERRIDES ${GAUNTLET_JOB_FD:-none}"; cat starter.txt; echo res >&3; case $(readlink /proc/$$/fd/4) in socket:*) echo leaked;; esac; exit 4'],
        Job(env={"RUN_OVERRIDES": "o"}).file("starter.txt", "new\n").bytes(),
        results=True,
    )
    check("py: sh -c falls back to exec (same pid, env, files, fd 3, status)", r.rc == 4 and r.out == f"{r.pid} o none\nnew\n" and r.res == "res\n", f"rc={r.rc} out={r.out!r} res={r.res!r} err={r.err}")
    cleanup(ws)
    ws = python_workspace()
    r = run_preamble(ws, preamble("py", ws) + ["python3", "-u", "tests/show.py"], Job().bytes())
    info = last_json(r.out) or {}
    check("py: python3 with an option is exec'd (same pid, judge not preloaded)", r.rc == 0 and info.get("pid") == r.pid and info.get("judge") is False, f"{r.rc} {info} {r.err}")
    cleanup(ws)
    ws = python_workspace()
    r = run_preamble(ws, preamble("py", ws) + ["python3", "tests/show.py"], Job(env={"PYTHONDONTWRITEBYTECODE": "1"}).bytes())
    info = last_json(r.out) or {}
    check("py: a PYTHON* variable in the header -> exec'd", r.rc == 0 and info.get("pid") == r.pid and info.get("judge") is False, f"{r.rc} {info} {r.err}")
    cleanup(ws)
    ws = python_workspace()
    r = run_preamble(ws, preamble("py", ws) + ["no-such-command-here"], Job().bytes())
    check("py: a command that does not exist -> 127", r.rc == 127 and "gauntlet-warm: no-such-command-here" in r.err, f"{r.rc} {r.err}")
    cleanup(ws)

    refusals("py", "python3", ["tests/show.py"])


# ---------------------------------------------------------------------------
# Refusals, for both preambles


def refusals(lang, cmd0, args):
    make_ws = python_workspace if lang == "py" else node_workspace
    if lang == "js":
        cmd = [NODE] + args
    else:
        cmd = [cmd0] + args
    good = Job().file("a.txt", "a")
    whole = good.bytes()
    cases = [
        ("bad magic", Job(magic=b"GJOB2\n").bytes(), "bad magic"),
        ("not a job at all", b"hello", "bad magic"),
        ("empty job", b"", "truncated"),
        ("truncated in the magic", b"GJOB", "truncated"),
        ("truncated in the header", whole[:12], "truncated"),
        ("truncated in a file's content", whole[:-2], "truncated"),
        ("no end entry", good.bytes(end=False), "truncated"),
        ("bytes after E", good.bytes(trailer=b"F"), "after the end"),
        ("'..' component", Job().file("../escape.txt", "x").bytes(), "'..'"),
        ("'..' inside", Job().file("a/../../escape.txt", "x").bytes(), "'..'"),
        ("absolute path", Job().file("/tmp/gauntlet-warm-abs.txt", "x").bytes(), "absolute"),
        ("empty component", Job().file("a//b", "x").bytes(), "empty"),
        ("'.' component", Job().file("./a", "x").bytes(), "'.'"),
        ("empty path", Job().file("", "x").bytes(), "empty path"),
        ("NUL in a path", Job().file("a\0b", "x").bytes(), "NUL"),
        ("path not UTF-8", Job().file(b"a\xffb", "x").bytes(), "UTF-8"),
        ("path over 4096 bytes", Job().file("a" * 4097, "x").bytes(), "4096"),
        ("symlinked parent", Job().file("node_modules/evil.txt", "x").bytes(), "symlink"),
        ("symlinked parent, deeper", Job().file("node_modules/sub/evil.txt", "x").bytes(), "symlink"),
        ("symlink as the file", Job().file("link.txt", "x").bytes(), "symlink"),
        ("directory where a file goes", Job().file("existing", "x").bytes(), "directory"),
        ("file as a parent", Job().file("starter.txt/x", "x").bytes(), "not a directory"),
        ("directory entry over a file", Job().dir("starter.txt").bytes(), "not a directory"),
        ("unknown entry kind", good.bytes(end=False) + b"X", "entry kind"),
        ("mode beyond permission bits", Job().file("s.txt", "x", 0o4755).bytes(), "mode"),
        ("runners' folder", Job().file(".gauntlet/runner/judge.py", "x").bytes(), "runners"),
        ("header not JSON", Job(header=b"{nope").bytes(), "JSON"),
        ("header not an object", Job(header=b"[1]").bytes(), "object"),
        ("env value not a string", Job(header=b'{"env": {"A": 1}}').bytes(), "env"),
        ("header over 1 MiB", MAGIC + struct.pack(">I", (1 << 20) + 1), "header of"),
        ("content over 256 MiB", MAGIC + struct.pack(">I", 2) + b"{}" + b"F" + struct.pack(">H", 1) + b"b" + struct.pack(">IQ", 0o644, 257 << 20), "content"),
    ]
    outside = tempfile.mkdtemp(prefix="gauntlet-warm-outside-")
    for name, data, needle in cases:
        ws = make_ws()
        os.symlink(outside, os.path.join(ws, "node_modules"))
        os.symlink(os.path.join(outside, "target.txt"), os.path.join(ws, "link.txt"))
        r = run_preamble(ws, preamble(lang, ws) + cmd, data, timeout=30)
        lines = r.err.splitlines()
        ok = (
            r.rc == 125
            and len(lines) == 1
            and lines[0].startswith("gauntlet-warm: bad job: ")
            and needle in lines[0]
            and r.out == ""
            and not os.path.exists(os.path.join(ws, "ran-marker"))
            and os.listdir(outside) == []
            and not os.path.exists("/tmp/gauntlet-warm-abs.txt")
            and r.quiet
        )
        check(f"{lang}: refused, 125, nothing run: {name}", ok, f"rc={r.rc} out={r.out!r} err={r.err!r} outside={os.listdir(outside)}")
        cleanup(ws)
    shutil.rmtree(outside, ignore_errors=True)
    # Started wrongly: no `--`.
    ws = make_ws()
    argv = preamble(lang, ws)[:-1] + cmd
    r = run_preamble(ws, argv, Job().bytes())
    check(f"{lang}: usage without '--' -> 125", r.rc == 125 and "usage" in r.err and not os.path.exists(os.path.join(ws, "ran-marker")), f"{r.rc} {r.err}")
    cleanup(ws)


# ---------------------------------------------------------------------------
# The hardhat preamble, without a toolchain or a chain: its job side is warm-job.js
# (tested through warm.js above); here, that a command other than Hardhat's CLI is
# spawned with the job in and its status passed on, and that it refuses what warm.js
# refuses.


def test_hardhat():
    print("# warm-hardhat.js")
    if NODE is None:
        check("hh: node found", False)
        return
    pre = lambda ws: [NODE, os.path.join(ws, ".gauntlet", "runner", "warm-hardhat.js"), "--"]
    ws = node_workspace()
    cmd = ["sh", "-c", 'cat contracts/A.sol; echo "overrides=$RUN_OVERRIDES"; exit 3']
    job = Job(env={"RUN_OVERRIDES": "contracts/A.sol"}).file("contracts/A.sol", "contract A {}\n")
    r = run_preamble(ws, pre(ws) + cmd, job.bytes())
    check(
        "hh: another command runs as a child, with the job's files and env, status passed on",
        r.ready == b"R" and r.quiet and r.rc == 3
        and r.out == "contract A {}\noverrides=contracts/A.sol\n",
        f"ready={r.ready!r} quiet={r.quiet} rc={r.rc} out={r.out!r} err={r.err!r}",
    )
    cleanup(ws)
    for name, data, needle in [
        ("'..' component", Job().file("../escape.txt", "x").bytes(), "'..'"),
        ("runners' folder", Job().file(".gauntlet/runner/warm-hardhat.js", "x").bytes(), "runners"),
    ]:
        ws = node_workspace()
        r = run_preamble(ws, pre(ws) + ["sh", "-c", "touch ran-marker"], data, timeout=30)
        ok = (
            r.rc == 125 and r.err.startswith("gauntlet-warm: bad job: ") and needle in r.err
            and not os.path.exists(os.path.join(ws, "ran-marker"))
        )
        check(f"hh: refused, 125, nothing run: {name}", ok, f"rc={r.rc} err={r.err!r}")
        cleanup(ws)
    ws = node_workspace()
    r = run_preamble(ws, pre(ws)[:-1] + ["sh", "-c", "touch ran-marker"], Job().bytes())
    check("hh: usage without '--' -> 125", r.rc == 125 and "usage" in r.err, f"{r.rc} {r.err}")
    cleanup(ws)


# ---------------------------------------------------------------------------
# The node preamble


def test_node():
    print("# warm.js")
    if NODE is None:
        check("js: node found", False)
        return
    ws = node_workspace()
    job = common_job({"RUN_OVERRIDES": "xyz"})
    big = job.entries[-1][-300_000:]
    r = run_preamble(ws, preamble("js", ws) + ["node", "tests/show.js", "ok", "b c"], job.bytes(), results=True)
    check("js: ready byte R", r.ready == b"R", repr(r.ready))
    check("js: nothing printed before the job", r.quiet)
    check("js: exit status 0", r.rc == 0, f"rc={r.rc} err={r.err}")
    check_files("js", ws, big)
    info = last_json(r.out) or {}
    script = os.path.join(ws, "tests", "show.js")
    check("js: env from the header applied", info.get("overrides") == "xyz", r.out + r.err)
    check("js: ran in-process (same pid)", info.get("pid") == r.pid, f"{info.get('pid')} vs {r.pid}")
    check("js: process.argv = [execPath, absolute script, ...]", info.get("argv") == [os.path.realpath(NODE), script, "ok", "b c"] or info.get("argv") == [NODE, script, "ok", "b c"], str(info.get("argv")))
    check("js: require.main === module, process.mainModule", info.get("main") is True and info.get("mainModule") is True, str(info))
    check("js: judge.js loaded during warm-up", info.get("judge") is True)
    check("js: no GAUNTLET_JOB_FD, fd 4 closed", info.get("jobFdEnv") is False and info.get("fd4") is False, str(info))
    check("js: results on fd 3", r.res == "ok 1 - from the script\n", repr(r.res))
    cleanup(ws)

    for what, status in [("exitcode3", 3), ("exit5", 5), ("later", 4)]:
        ws = node_workspace()
        r = run_preamble(ws, preamble("js", ws) + ["node", "tests/show.js", what], Job().bytes())
        check(f"js: {what} -> status {status}", r.rc == status, f"rc={r.rc} err={r.err}")
        cleanup(ws)
    ws = node_workspace()
    r = run_preamble(ws, preamble("js", ws) + ["node", "tests/show.js", "throw"], Job().bytes())
    cold = subprocess.run([NODE, "tests/show.js", "throw"], cwd=ws, capture_output=True, text=True)
    head = lambda text: text.split("    at ")[0]  # the message and source arrow, before the frames
    check("js: uncaught throw -> status 1, as cold (message and source line)", r.rc == 1 and cold.returncode == 1 and head(r.err) == head(cold.stderr) and "Error: boom" in r.err, f"warm:\n{r.err}\ncold:\n{cold.stderr}")
    cleanup(ws)
    ws = node_workspace()
    job = common_job({"RUN_OVERRIDES": "nb"})
    big = job.entries[-1][-300_000:]
    r = run_preamble(ws, preamble("js", ws) + ["node", "tests/show.js", "exitcode3"], job.bytes(), nonblocking=True)
    info = last_json(r.out) or {}
    check("js: a non-blocking job socket is read through the event loop", r.rc == 3 and info.get("pid") == r.pid and info.get("overrides") == "nb" and info.get("fd4") is False, f"rc={r.rc} {info} {r.err}")
    check_files("js (non-blocking)", ws, big)
    cleanup(ws)
    ws = node_workspace()
    r = run_preamble(ws, preamble("js", ws) + ["node", "tests/show.js"], Job().file("../x", "x").bytes(), nonblocking=True)
    check("js: a non-blocking job socket, bad job -> 125", r.rc == 125 and r.err.startswith("gauntlet-warm: bad job: ") and not os.path.exists(os.path.join(ws, "ran-marker")), f"rc={r.rc} {r.err}")
    cleanup(ws)
    ws = node_workspace()
    r = run_preamble(
        ws,
        preamble("js", ws) + ["node", "main.js", "x"],
        Job().file("main.js", "console.log(process.pid, process.argv.slice(2).join(' ')); process.exitCode = 2;\n").bytes(),
    )
    check("js: a script delivered by the job runs in-process", r.rc == 2 and r.out == f"{r.pid} x\n", f"rc={r.rc} out={r.out!r} err={r.err}")
    cleanup(ws)

    # Fallback: a child with our stdio and fd 3; its status, or its signal, passed on.
    ws = node_workspace()
    r = run_preamble(
        ws,
        preamble("js", ws) + ["sh", "-c", 'echo "$RUN_OVERRIDES ${GAUNTLET_JOB_FD:-none}"; cat starter.txt; echo res >&3; case $(readlink /proc/$$/fd/4) in socket:*) echo leaked;; esac; exit 4'],
        Job(env={"RUN_OVERRIDES": "o"}).file("starter.txt", "new\n").bytes(),
        results=True,
    )
    check("js: sh -c runs as a child (env, files, fd 3, status, no job fd)", r.rc == 4 and r.out == "o none\nnew\n" and r.res == "res\n", f"rc={r.rc} out={r.out!r} res={r.res!r} err={r.err}")
    cleanup(ws)
    ws = node_workspace()
    r = run_preamble(ws, preamble("js", ws) + ["sh", "-c", "kill -TERM $$"], Job().bytes())
    check("js: a child killed by SIGTERM -> the preamble dies of SIGTERM", r.rc == -15, f"rc={r.rc} {r.err}")
    cleanup(ws)
    ws = node_workspace()
    r = run_preamble(ws, preamble("js", ws) + ["node", "--no-warnings", "tests/show.js", "exit5"], Job().bytes())
    info = last_json(r.out) or {}
    check("js: node with an option runs as a child (its own pid, status)", r.rc == 5 and info.get("pid") not in (None, r.pid) and info.get("judge") is False, f"{r.rc} {info} {r.err}")
    cleanup(ws)
    ws = node_workspace()
    r = run_preamble(ws, preamble("js", ws) + ["node", "tests/show.js"], Job(env={"NODE_OPTIONS": "--no-warnings"}).bytes())
    info = last_json(r.out) or {}
    check("js: NODE_OPTIONS in the header -> a child", r.rc == 0 and info.get("pid") not in (None, r.pid), f"{r.rc} {info} {r.err}")
    cleanup(ws)
    ws = node_workspace()
    r = run_preamble(ws, preamble("js", ws) + ["no-such-command-here"], Job().bytes())
    check("js: a command that does not exist -> 127", r.rc == 127 and "gauntlet-warm: no-such-command-here" in r.err, f"{r.rc} {r.err}")
    cleanup(ws)

    refusals("js", "node", ["tests/show.js"])


# ---------------------------------------------------------------------------
# Bundled exercises, warm vs cold


def exercise_workspace(exercise):
    """The exercise's tests and starter, the runners: what the runtime prepares."""
    ws = workspace()
    src = os.path.join(EXERCISES, exercise)
    shutil.copytree(os.path.join(src, "tests"), os.path.join(ws, "tests"))
    for root, _, files in os.walk(os.path.join(src, "starter")):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), os.path.join(src, "starter"))
            os.makedirs(os.path.dirname(os.path.join(ws, rel)), exist_ok=True)
            shutil.copy(os.path.join(root, name), os.path.join(ws, rel))
    return ws


def solution_job(exercise):
    src = os.path.join(EXERCISES, exercise, "solution")
    job = Job(env={"RUN_OVERRIDES": ""})
    for root, _, files in os.walk(src):
        for name in sorted(files):
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                job.file(os.path.relpath(full, src), f.read())
    return job


def run_cold(ws, cmd, job):
    """The job's files laid in by hand, then the command started directly, fd 3 the
    results channel; returns (rc, results, seconds from start to exit)."""
    for entry in job.entries:
        plen = struct.unpack(">H", entry[1:3])[0]
        rel = entry[3 : 3 + plen].decode()
        size = struct.unpack(">Q", entry[7 + plen : 15 + plen])[0]
        with open(os.path.join(ws, rel), "wb") as f:
            f.write(entry[15 + plen : 15 + plen + size])
    r, w = os.pipe()
    env = base_env(True)
    del env["GAUNTLET_JOB_FD"]
    t = time.monotonic()
    proc = subprocess.Popen(
        [PY, "-I", "-S", "-c", FDWRAP, f"{w}:3", shutil.which(cmd[0], path=env["PATH"])] + cmd[1:],
        cwd=ws, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=[w],
    )
    os.close(w)
    res = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        res += chunk
    rc = proc.wait()
    seconds = time.monotonic() - t
    os.close(r)
    return rc, res.decode(), seconds


def test_exercises(rounds):
    print("# bundled exercises, warm vs cold")
    for lang, exercise, cmd in [
        ("py", "reverse-words", ["python3", "tests/run.py"]),
        ("py", "dedupe-lines", ["sh", "tests/run.sh"]),
        ("js", "word-frequency", None),
    ]:
        if cmd is None:
            with open(os.path.join(EXERCISES, exercise, "exercise.yaml")) as f:
                text = f.read()
            # The command list of the manifest, one `- item` a line.
            block = text.split("command:")[1].split("results:")[0]
            cmd = [line.strip()[2:] for line in block.splitlines() if line.strip().startswith("- ")]
        job = solution_job(exercise)
        ws = exercise_workspace(exercise)
        warm = run_preamble(ws, preamble(lang, ws) + cmd, job.bytes(), results=True, timeout=120)
        cleanup(ws)
        ws = exercise_workspace(exercise)
        rc, res, _ = run_cold(ws, cmd, job)
        cleanup(ws)
        strip = lambda t: "\n".join(l for l in t.splitlines() if "duration" not in l and not l.startswith("#"))
        same = warm.rc == rc and strip(warm.res) == strip(res) and ("not ok" not in warm.res) and warm.res
        check(f"{lang}: {exercise} (solution) through the preamble = cold: status {rc}, same results", bool(same), f"warm rc={warm.rc} err={warm.err[-2000:]}\nwarm res:\n{warm.res[:1500]}\ncold res:\n{res[:1500]}")
    if rounds:
        timings(rounds)


def timings(rounds):
    print(f"# timings, {rounds} rounds, medians (ms)")
    warm_start, warm_judge, cold_start, cold_judge = [], [], [], []
    for _ in range(rounds):
        ws = python_workspace()
        r = run_preamble(ws, preamble("py", ws) + ["python3", "tests/judged.py"], Job().file("w.py", "x = 1\n").bytes())
        t0, t1 = map(float, r.out.split()[:2])
        warm_start.append((t0 - r.t_sent) * 1000)
        warm_judge.append((t1 - r.t_sent) * 1000)
        env = base_env(False)
        del env["GAUNTLET_JOB_FD"]
        t = time.monotonic()
        out = subprocess.run(["python3", "tests/judged.py"], cwd=ws, env=env, capture_output=True, text=True).stdout
        t0, t1 = map(float, out.split()[:2])
        cold_start.append((t0 - t) * 1000)
        cold_judge.append((t1 - t) * 1000)
        cleanup(ws)
    med = lambda xs: f"{statistics.median(xs):.1f}"
    print(f"info  py: job delivered -> script start: warm {med(warm_start)}, cold `python3 script` {med(cold_start)}")
    print(f"info  py: job delivered -> `import judge` done: warm {med(warm_judge)}, cold {med(cold_judge)}")
    ws_, wc = [], []
    for _ in range(rounds):
        ws = node_workspace()
        r = run_preamble(ws, preamble("js", ws) + ["node", "tests/show.js"], Job().file("w.js", "1\n").bytes())
        info = last_json(r.out)
        # process.hrtime is CLOCK_MONOTONIC, as time.monotonic here.
        ws_.append((info["t0"] - r.t_sent) * 1000)
        env = base_env(False)
        del env["GAUNTLET_JOB_FD"]
        t = time.monotonic()
        out = subprocess.run([NODE, "tests/show.js"], cwd=ws, env=env, capture_output=True, text=True).stdout
        wc.append((last_json(out)["t0"] - t) * 1000)
        cleanup(ws)
    print(f"info  js: job delivered -> script start: warm {med(ws_)}, cold `node script` {med(wc)}")
    for lang, exercise, cmd in [("py", "reverse-words", ["python3", "tests/run.py"]), ("py", "bank-account", ["python3", "tests/run.py"])]:
        w, c = [], []
        for _ in range(rounds):
            job = solution_job(exercise)
            ws = exercise_workspace(exercise)
            r = run_preamble(ws, preamble(lang, ws) + cmd, job.bytes(), results=True)
            w.append((r.t_exit - r.t_sent) * 1000)
            cleanup(ws)
            ws = exercise_workspace(exercise)
            c.append(run_cold(ws, cmd, job)[2] * 1000)
            cleanup(ws)
        print(f"info  {lang}: {exercise} (solution), job delivered -> exit: warm {med(w)}, cold {med(c)}")


def main():
    args = sys.argv[1:]
    rounds = 5
    if "--timings" in args:
        rounds = int(args[args.index("--timings") + 1])
    test_python()
    test_node()
    test_hardhat()
    test_exercises(rounds)
    shutil.rmtree(PATH_DIR, ignore_errors=True)
    print(f"{passes} passed, {len(failures)} failed")
    if failures:
        for f in failures:
            print(f"  failed: {f}")
        sys.exit(1)


if __name__ == "__main__":
    main()
