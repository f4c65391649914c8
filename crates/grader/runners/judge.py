"""The trusted half of a Gauntlet test runner for python and shell exercises.

Gauntlet's python, node and shell runtimes put this file (source:
crates/grader/runners/) in every prepared workspace at ``.gauntlet/runner/``, read-only
and out of reach of submissions; a package's ``tests/run.py`` imports it from there.

Why the learner cannot forge a result
-------------------------------------
The learner's code never runs in this process. Each test starts a fresh child
(``harness.py`` for python code, ``/bin/sh`` for shell scripts) whose stdout and
stderr go to a private temporary file, never to ours. A python child answers on its
own pipe with plain JSON data (the value returned, or the exception raised); this
process compares that data with the expected value, so the most a child can "forge" is
an answer, which it could only get right by computing it.

Results leave only through this process. Under Gauntlet, with ``results: channel:tap``
or ``channel:junit``, they go to the results channel (the descriptor named by
``GAUNTLET_RESULTS_FD``), which no child ever holds; stdout then carries a readable
progress log for the learner. Without the channel: TAP on stdout, or, with
``--junit FILE``, a JUnit file written after every child is dead.

Every child runs the learner's code only inside a Landlock domain of its own
(confine.py; a program enters it between fork and exec, the harness itself before it
loads anything of the learner's): it cannot read or list ``tests/`` (nor what the
package hides), cannot write the workspace, cannot signal us or reach our
``/proc/<pid>/{fd,mem,environ}``. Probe
modules in ``tests/`` (and the modules of ``tests/`` they import) are read here and
handed to the harness as text; the test script itself never is.

Two kernel knobs close the remaining side doors:

* ``PR_SET_DUMPABLE 0``: even without Landlock, no process lacking CAP_SYS_PTRACE (the
  sandbox drops it) can open ``/proc/<our pid>/fd/1`` or ``fd/3`` to write result
  lines, read our memory, or ptrace us.
* ``PR_SET_CHILD_SUBREAPER 1``: a child that double-forks or calls setsid() is
  reparented to us, not to init, so ``_sweep()`` finds and kills it before the next
  test and before any results file is written.

Each child runs in a new session; a test that overruns its time limit is killed with
its whole process group, then swept, and only that test fails.

If this process dies early, the TAP stream stops short of the plan printed first (the
missing tests count as failed), and a JUnit report is never left behind: it is deleted
at start-up and written last.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from xml.sax.saxutils import quoteattr

import confine
from wire import encode

HERE = os.path.dirname(os.path.abspath(__file__))
# The package's hidden tests: the folder of the script that imported us (tests/run.py),
# where the harness finds the exercise's probe modules.
TESTS = os.path.dirname(os.path.abspath(sys.argv[0]))
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
OUTPUT_CAP = 4000  # bytes of a child's output quoted in a failure message
# Seconds lost to timed-out children, after which no more children are started: an
# endless loop in every test would otherwise eat the run's CPU and wall-time limits
# and lose the partial credit of the tests that did pass.
TIMEOUT_ALLOWANCE = 12.0
_timed_out_total = 0.0
_domain = None
_domain_error = None
_sources = {}
_closures = {}


def _confinement():
    """The domain every child enters, built on first use; None when it cannot be."""
    global _domain, _domain_error
    if _domain is None and _domain_error is None:
        try:
            _domain = confine.Domain(confine.hidden_paths(TESTS))
        except Exception as e:  # any failure here fails every test, never the run
            _domain_error = f"could not prepare the confinement of the code under test: {e}"
    if _domain is None:
        raise Failure(_domain_error)
    return _domain


class Failure(Exception):
    """A test's verdict: the learner's code did not do what the test expected."""


def _prctl(option, value):
    try:
        return confine._c("prctl", option, value, 0, 0, 0) == 0
    except Exception:  # no libc, no ctypes: report it, run the tests anyway
        return False


def _children():
    """Pids whose parent is this process (orphans land here too: we are a subreaper)."""
    me = os.getpid()
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:  # no /proc: nothing to sweep, and nothing can reach us through it
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == me:
            found.append(int(entry))
    return found


def _reclaim(folder):
    """Gives us back write access to a folder of ours that a child took it from (the
    code under test runs as our user, and chmod is not something Landlock governs).
    Called when no child is alive, so nothing can take it again before we use it."""
    try:
        st = os.stat(folder)
        if st.st_uid == os.getuid() and st.st_mode & 0o700 != 0o700:
            os.chmod(folder, (st.st_mode | 0o700) & 0o7777)
    except OSError:
        pass


def _sweep():
    """Kills and reaps every descendant, until none is left."""
    for _ in range(10000):
        pids = _children()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _ascii(text, cap=OUTPUT_CAP):
    """One line: a JSON string literal (valid YAML), with no character that any
    reader could take for a line break, so learner text cannot start a TAP line."""
    if len(text) > cap:
        text = text[:cap] + "\n[... truncated]"
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates
    literal = json.dumps(text, ensure_ascii=False)
    for c in "\x85\u2028\u2029\x0b\x0c\x1c\x1d\x1e":
        literal = literal.replace(c, f"\\u{ord(c):04x}")
    return literal


# ---------------------------------------------------------------------------
# Values crossing the process boundary: `encode` lives in wire.py, shared with the
# harness.


def decode(data):
    t = data.get("t")
    if t == "None":
        return None
    if t in ("bool", "int", "str"):
        return data["v"]
    if t == "float":
        return float(data["v"])
    if t == "list":
        return [decode(v) for v in data["v"]]
    if t == "tuple":
        return tuple(decode(v) for v in data["v"])
    if t == "dict":
        return {_hashable(decode(k)): decode(v) for k, v in data["v"]}
    return Opaque(data.get("type", "?"))


def _hashable(v):
    return v if isinstance(v, (str, int, float, bool, tuple, type(None))) else repr(v)


class Opaque:
    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<a {self.type_name} object>"


def show(value, cap=300):
    text = repr(value)
    return text if len(text) <= cap else text[:cap] + "..."


# ---------------------------------------------------------------------------


class Ran:
    """What one child did: its exit code (None when killed), output and reply."""

    def __init__(self, exit_code, stdout, stderr, reply, timed_out, timeout):
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.reply = reply
        self.timed_out = timed_out
        self.timeout = timeout

    def output_note(self):
        out = (self.stdout[:OUTPUT_CAP] + self.stderr[:OUTPUT_CAP]).decode("utf-8", "replace")
        out = out.strip()
        return f"\nyour code printed:\n{out}" if out else ""


def run_child(argv, stdin=b"", timeout=3.0, reply_pipe=False, confine_fd=None):
    """Runs argv in a new session, stdout and stderr captured in private files, and
    kills it (and anything it started) after `timeout` seconds. With reply_pipe, the
    write end of a pipe is passed and its number appended to argv; what the child
    writes there comes back as `reply`. The child starts in the confinement domain;
    with `confine_fd` (the harness, which enters the domain itself before it loads
    anything of the learner's) it is handed the domain's ruleset on that descriptor
    instead, which spares a fork of this process."""
    global _timed_out_total
    if _timed_out_total >= TIMEOUT_ALLOWANCE:
        raise Failure(
            f"not run: your code already timed out for {_timed_out_total:g} s in earlier "
            "tests; fix the endless loop (or the slow part) first"
        )
    domain = _confinement()
    _reclaim(tempfile.gettempdir())
    files = [tempfile.TemporaryFile() for _ in range(3)]
    inp, out, err = files
    inp.write(stdin)
    inp.seek(0)
    r = w = None
    if reply_pipe:
        r, w = os.pipe()
        argv = argv + [str(w)]
    deadline = time.monotonic() + timeout
    try:
        proc = subprocess.Popen(
            argv,
            stdin=inp,
            stdout=out,
            stderr=err,
            pass_fds=tuple(fd for fd in (w, confine_fd) if fd is not None),
            start_new_session=True,
            env=confine.child_env(),
            preexec_fn=None if confine_fd is not None else domain.enter,
        )
    except subprocess.SubprocessError as e:
        for f in files:
            f.close()
        raise Failure(f"could not start the code under test in its confinement: {e}")
    finally:
        if w is not None:
            os.close(w)
    reply = b""
    timed_out = False
    if r is not None:
        while len(reply) <= 4 << 20:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([r], [], [], left)
            if ready:
                chunk = os.read(r, 65536)
                reply += chunk
                # One line is the whole reply: a forked child may still hold the pipe.
                if not chunk or b"\n" in chunk:
                    break
        os.close(r)
    code = None
    if not timed_out:
        try:
            code = proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    if code is None:
        _timed_out_total += timeout
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.kill()
        proc.wait()
    _sweep()
    out.seek(0)
    err.seek(0)
    ran = Ran(code, out.read(1 << 20), err.read(1 << 20), reply, timed_out, timeout)
    for f in files:
        f.close()
    return ran


def _tests_module(name):
    """The source of `tests/<name>.py`, or None. Never the running test script."""
    if name not in _sources:
        path = os.path.join(TESTS, name + ".py")
        source = None
        if os.path.abspath(path) != os.path.abspath(sys.argv[0]):
            try:
                with open(path, encoding="utf-8") as f:
                    source = f.read()
            except (OSError, ValueError):
                pass
        _sources[name] = source
    return _sources[name]


def _probe_sources(module):
    """The probe modules a request needs, read here (the harness cannot read tests/):
    `tests/<module>.py` when there is one, and the other modules of tests/ it imports,
    and theirs. Only those: they run with the code under test, which sees them."""
    top = module.split(".")[0]
    if top in _closures:
        return _closures[top]
    found = {}
    todo = [top]
    while todo:
        name = todo.pop()
        source = None if name in found else _tests_module(name)
        if source is None:
            continue
        found[name] = source
        import ast  # only for packages with probe modules

        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue  # the harness will report it when it imports the probe
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                todo += [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                todo.append(node.module.split(".")[0])
    _closures[top] = found
    return found


_HARNESS = f"import sys; sys.path.insert(0, {HERE!r}); import harness"


def _python_request(request, timeout):
    sources = _probe_sources(request["module"])
    domain = _confinement()
    request = dict(request, listings=domain.listings, confine_fd=domain.fd)
    if sources:
        request["sources"] = sources
    # Imported rather than run as a script, so python loads its bytecode from
    # __pycache__ (the runtime compiles the runners) instead of compiling it each time.
    argv = [sys.executable, "-I", "-S", "-B", "-c", _HARNESS, TESTS]
    ran = run_child(argv, json.dumps(request).encode(), timeout, True, domain.fd)
    if ran.timed_out:
        raise Failure(f"timed out after {ran.timeout:g} s: an endless loop?{ran.output_note()}")
    try:
        reply = json.loads(ran.reply.decode("utf-8"))
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise Failure(
            f"your code ended the test process early (exit code {ran.exit_code})"
            f"{ran.output_note()}"
        )
    if "confine_error" in reply:
        raise Failure(f"could not confine the code under test: {reply['confine_error']}")
    if "import_error" in reply:
        raise Failure(f"importing your module failed:\n{reply['import_error']}{ran.output_note()}")
    if "missing" in reply:
        raise Failure(f"{reply['missing']}{ran.output_note()}")
    reply["_output_note"] = ran.output_note()
    return reply


class Outcome:
    """What a call did in the learner's code: returned `value` or raised `raised`."""

    def __init__(self, data, note=""):
        self.raw = data
        self.note = note
        self.raised = data.get("raised")
        self.value = decode(data["ok"]) if "ok" in data else None

    def describe(self):
        if self.raised:
            msg = self.raised.get("message", "")
            return f"raised {self.raised['type']}({show(msg)})"
        return f"returned {show(self.value)}"

    def expect_value(self, expected, what):
        if self.raised:
            tb = self.raised.get("traceback", "")
            raise Failure(
                f"{what}: expected {show(expected)}, but it {self.describe()}\n{tb}{self.note}"
            )
        if self.raw["ok"] != encode(expected):
            raise Failure(f"{what}: expected {show(expected)}, but it {self.describe()}{self.note}")

    def expect_raises(self, type_name, what):
        if not self.raised:
            raise Failure(f"{what}: expected {type_name} to be raised, but it {self.describe()}{self.note}")
        if type_name not in self.raised.get("mro", []):
            raise Failure(f"{what}: expected {type_name}, but it {self.describe()}{self.note}")


def call(module, name, *args, timeout=2.0):
    """Calls module.name(*args) in a fresh child; returns an Outcome."""
    reply = _python_request({"op": "call", "module": module, "name": name, "args": list(args)}, timeout)
    return Outcome(reply["result"], reply["_output_note"])


def call_many(module, name, args_list, timeout=4.0):
    """Calls module.name(*args) for each args in one child; returns a list of Outcomes."""
    reply = _python_request(
        {"op": "calls", "module": module, "name": name, "args_list": args_list}, timeout
    )
    return [Outcome(r, reply["_output_note"]) for r in reply["results"]]


def scenario(module, cls, args, steps, timeout=2.0):
    """Builds module.cls(*args), then runs steps such as ["call", "deposit", [50]] or
    ["get", "balance"] on it, every step even after one raised; returns one Outcome
    for the constructor, then one per step."""
    reply = _python_request(
        {"op": "object", "module": module, "cls": cls, "args": args, "steps": steps}, timeout
    )
    return [Outcome(r, reply["_output_note"]) for r in reply["results"]]


def describe(module, name, timeout=2.0):
    """Where module.name comes from: {"kind", "defined_in", "value"?}."""
    reply = _python_request({"op": "describe", "module": module, "name": name}, timeout)
    return reply["result"]


def run_program(argv, stdin=b"", timeout=3.0):
    """Runs a learner's program; returns Ran with exit_code, stdout, stderr."""
    ran = run_child(argv, stdin, timeout)
    if ran.timed_out:
        raise Failure(
            f"timed out after {ran.timeout:g} s: is the script waiting for input that "
            "never comes, or stuck in a loop?"
        )
    return ran


# ---------------------------------------------------------------------------


class Suite:
    """A list of named tests, run one after another, reported as TAP or JUnit."""

    def __init__(self, name, budget_seconds=30.0):
        self.name = name
        self.tests = []
        self.budget = budget_seconds

    def test(self, name):
        assert "#" not in name and "\n" not in name, "TAP test names cannot hold '#'"

        def register(fn):
            self.tests.append((name, fn))
            return fn

        return register

    def _run_all(self, on_result):
        started = time.monotonic()
        for index, (name, fn) in enumerate(self.tests, 1):
            t0 = time.monotonic()
            if t0 - started > self.budget:
                status, message = "fail", "not run: the time budget of the test run is used up"
            else:
                try:
                    fn()
                    status, message = "pass", None
                except Failure as e:
                    status, message = "fail", str(e)
                except Exception:
                    status, message = "error", "the test itself failed:\n" + traceback.format_exc()
            _sweep()
            on_result(index, name, status, message, time.monotonic() - t0)

    def main(self):
        """Runs the suite and reports it where Gauntlet reads it:

        * under Gauntlet with ``results: channel:tap`` or ``channel:junit``: on the
          results channel (``GAUNTLET_RESULTS_FD``), in ``GAUNTLET_RESULTS_FORMAT``;
          stdout gets a progress log for the learner;
        * ``run.py``: TAP on stdout;
        * ``run.py --junit FILE``: JUnit XML in FILE (and a progress log on stdout).
        """
        warnings = []
        if not _prctl(PR_SET_DUMPABLE, 0):
            warnings.append("could not make the runner non-dumpable")
        if not _prctl(PR_SET_CHILD_SUBREAPER, 1):
            warnings.append("could not make the runner a child subreaper")
        try:
            warnings += _confinement().missing
        except Failure as e:
            warnings.append(str(e))
        args = sys.argv[1:]
        if args and not (args[:1] == ["--junit"] and len(args) == 2):
            print("usage: run.py [--junit FILE]", file=sys.stderr)
            sys.exit(2)
        channel = _results_channel()
        if channel is not None:
            fmt = os.environ.get("GAUNTLET_RESULTS_FORMAT", "tap")
            if fmt not in ("tap", "junit"):
                print(f"GAUNTLET_RESULTS_FORMAT {fmt!r} is neither tap nor junit", file=sys.stderr)
                sys.exit(2)
            self._main_channel(channel, fmt, warnings)
        elif args:
            self._main_junit(args[1], warnings)
        else:
            self._main_tap(warnings)

    def _progress(self, index, name, status, message):
        """A line per test on stdout, for the learner (and the idle watchdog): never
        read as a result."""
        out = [f"[{index}/{len(self.tests)}] {status.upper()}: {name}"]
        if message:
            text = message if len(message) <= OUTPUT_CAP else message[:OUTPUT_CAP] + "\n[... truncated]"
            out += ["    " + line for line in text.splitlines()]
        print("\n".join(out), flush=True)

    def _main_channel(self, channel, fmt, warnings):
        for w in warnings:
            print(f"warning: {w}", flush=True)
        cases = []
        if fmt == "tap":
            self._tap_header(channel, warnings)
        ok = True

        def report(index, name, status, message, seconds):
            nonlocal ok
            ok = ok and status == "pass"
            if fmt == "tap":
                _tap_line(channel, index, name, status, message)
            else:
                cases.append((name, status, message, seconds))
            self._progress(index, name, status, message)

        self._run_all(report)
        _sweep()
        if fmt == "junit":
            channel.write(self._junit_xml(cases))
        channel.close()
        passed = sum(1 for c in cases if c[1] == "pass") if fmt == "junit" else None
        if passed is not None:
            print(f"{passed} of {len(cases)} tests passed", flush=True)
        sys.exit(0 if ok else 1)

    def _tap_header(self, out, warnings):
        out.write(f"TAP version 13\n1..{len(self.tests)}\n")
        for w in warnings:
            out.write(f"# warning: {w}\n")
        out.flush()

    def _main_tap(self, warnings):
        out = sys.stdout
        self._tap_header(out, warnings)
        failed = [0]

        def emit(index, name, status, message, seconds):
            if status != "pass":
                failed[0] += 1
            _tap_line(out, index, name, status, message)

        self._run_all(emit)
        sys.exit(1 if failed[0] else 0)

    def _main_junit(self, path, warnings):
        _remove(path)  # a stale or planted report must never be read as ours
        cases = []
        ok = True

        def collect(index, name, status, message, seconds):
            nonlocal ok
            ok = ok and status == "pass"
            cases.append((name, status, message, seconds))
            # A line per test keeps the log alive for the idle watchdog; not a result.
            print(f"[{index}/{len(self.tests)}] {status.upper()}: {name}", flush=True)

        try:
            for w in warnings:
                print(f"warning: {w}", flush=True)
            self._run_all(collect)
            _sweep()
            _reclaim(os.path.dirname(os.path.abspath(path)))
            _remove(path)
            tmp = f"{path}.tmp-{os.getpid()}"
            _remove(tmp)
            with open(tmp, "x", encoding="utf-8") as f:
                f.write(self._junit_xml(cases))
            os.replace(tmp, path)
        except BaseException:
            _sweep()
            _remove(path)
            raise
        sys.exit(0 if ok else 1)

    def _junit_xml(self, cases):
        fails = sum(1 for c in cases if c[1] == "fail")
        errors = sum(1 for c in cases if c[1] == "error")
        total = sum(c[3] for c in cases)
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<testsuites tests="{len(cases)}" failures="{fails}" errors="{errors}" time="{total:.3f}">',
            f'  <testsuite name={quoteattr(self.name)} tests="{len(cases)}" failures="{fails}"'
            f' errors="{errors}" time="{total:.3f}">',
        ]
        for name, status, message, seconds in cases:
            # No classname: Gauntlet shows "classname.name" to learners, and the suite
            # name would only repeat the exercise's title in front of every test.
            head = f"    <testcase name={quoteattr(name)} time=\"{seconds:.3f}\""
            if status == "pass":
                lines.append(head + "/>")
                continue
            tag = "failure" if status == "fail" else "error"
            # The whole message in the attribute (newlines kept as &#10;), no body: a
            # reader that joins the two would show it twice.
            lines.append(head + ">")
            lines.append(f"      <{tag} message={quoteattr(_xml_text(message))}/>")
            lines.append("    </testcase>")
        lines += ["  </testsuite>", "</testsuites>", ""]
        return "\n".join(lines)


def _tap_line(out, index, name, status, message):
    if status == "pass":
        out.write(f"ok {index} - {name}\n")
    else:
        out.write(f"not ok {index} - {name}\n  ---\n")
        out.write(f"  message: {_ascii(message)}\n")
        out.write(f"  severity: {'error' if status == 'error' else 'fail'}\n  ...\n")
    out.flush()


def _results_channel():
    """The results channel as a text stream, or None when Gauntlet gave none. It is
    never inherited: no child of ours ever holds it."""
    fd = os.environ.get("GAUNTLET_RESULTS_FD")
    if not fd:
        return None
    try:
        fd = int(fd)
        os.set_inheritable(fd, False)
        return os.fdopen(fd, "w", encoding="utf-8", newline="\n")
    except (ValueError, OSError) as e:
        print(f"GAUNTLET_RESULTS_FD={fd!r} is not an open descriptor: {e}", file=sys.stderr)
        sys.exit(2)


def _xml_text(text, cap=OUTPUT_CAP):
    if len(text) > cap:
        text = text[:cap] + "\n[... truncated]"
    return "".join(
        c
        if c in "\t\n" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"
        else "?"
        for c in text
    )


def _remove(path):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
