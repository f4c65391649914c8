"""The warm preamble of Gauntlet's python and shell runtimes: a jail started ahead of
its job, with the interpreter and the trusted runner already loaded.

Gauntlet's runtimes ship this file (source: crates/grader/runners/) at
``.gauntlet/runner/warm.py``, beside the judge. The host starts it as the jail's
command, every isolation layer already on, cwd ``/workspace`` (the exercise's files,
read-only lower layer under a writable upper), before any job exists::

    python3 /workspace/.gauntlet/runner/warm.py -- CMD [ARG]...

where ``CMD ARG...`` is the exercise's test command (``python3 tests/run.py``,
``sh tests/run.sh``, ...).

The protocol (the host's side is crates/grader; ``GAUNTLET_JOB_FD=4``, fd 4 a connected
AF_UNIX stream socket to the host; fd 3 may be the results channel, left alone):

1. Warm-up: load what the test command will need (for a python script: the runner's
   modules, ``judge`` itself, with sys.argv and sys.path as the script will have
   them), print nothing, then write the byte ``R`` to fd 4.
2. Read the job from fd 4 until EOF: ``GJOB1\\n``, a u32 length and that much JSON
   (``{"env": {...}}``), then entries ``D`` (u16 path length, path, u32 mode), ``F``
   (u16 path length, path, u32 mode, u64 size, content) and ``E`` (the end; nothing
   may follow). Big-endian. Header at most 1 MiB, content at most 256 MiB in all.
3. Write the files into the workspace, walking each path from the workspace with
   descriptor-relative opens that never follow a symlink (O_NOFOLLOW on every
   component, O_DIRECTORY on the parents): a path through ``node_modules -> /opt/...``
   or any other link is refused. A file replaces an existing one (a starter file).
4. Apply the header's environment, then run the test command as if it had been
   started directly: ``python3 SCRIPT ARGS`` or ``python3 -m MODULE ARGS`` runs in
   this process (same pid, sys.argv, sys.path[0], ``__main__``, exit status,
   traceback); anything else is exec'd.

A malformed job (bad magic, truncated, a bad path, a symlink or a non-directory on
the way, a directory where a file goes, bytes after ``E``...) ends here with the one
line ``gauntlet-warm: bad job: <reason>`` on stderr and status 125, the command never
run. So does a preamble started wrongly (no ``--``, no command, no GAUNTLET_JOB_FD).

Decisions beyond the protocol:

* modes are permission bits only (at most 0o777); a path whose first component is
  ``.gauntlet`` is refused (the runners' folder; the host never sends one);
* a directory whose mode withholds rwx from its owner gets that mode after every
  entry is written, so its own contents can still be written into it;
* an I/O error while writing (no space, permission) is reported like a bad job;
* the command is exec'd rather than run here when the header's environment sets
  PATH or a PYTHON* variable (the interpreter read those at its start, so running
  in-process would not be what a fresh start does), when ``python3`` on PATH is not
  this interpreter, or when the script is not a regular file once the job is in;
* a command that cannot be exec'd: ``gauntlet-warm: CMD: <error>`` and status 127
  (not found) or 126, as a shell would.

Why it is trusted: it is the runtime's file in the protected ``.gauntlet/`` folder of
the read-only layer, it runs before anything of the learner's exists, and what it
runs after the job is the exercise's own test command (which is trusted the same way
as when started directly: the learner's code runs only in the judge's confined
children). It only ever writes inside the workspace, never through a link.

Why it is single-use: it serves one job, then becomes that job's test process; the
jail is torn down after it, like any other.
"""

import json
import os
import stat
import sys

MAGIC = b"GJOB1\n"
MAX_HEADER = 1 << 20
MAX_CONTENT = 256 << 20
MAX_PATH = 4096
# Protected: the runners' folder. The host never delivers into it.
PROTECTED = ".gauntlet"
BAD_JOB_STATUS = 125
CHUNK = 1 << 16

THIS_FILE = __file__
RUNNER_DIR = os.path.dirname(os.path.abspath(__file__))


class BadJob(Exception):
    pass


def die(message, status=BAD_JOB_STATUS):
    """One line on stderr and out, whatever the state of sys.stderr."""
    line = message.replace("\n", "\\n") + "\n"
    try:
        os.write(2, line.encode("utf-8", "backslashreplace"))
    except OSError:
        pass
    os._exit(status)


# ---------------------------------------------------------------------------
# What to run


def _same_interpreter(cmd):
    """Whether CMD names this interpreter: `python3`, `python`, `python3.N` found on
    PATH, or an absolute path, resolving to the same file as sys.executable."""
    name = os.path.basename(cmd)
    if name not in ("python", "python3") and not (
        name.startswith("python3.") and name[8:].isdigit()
    ):
        return False
    if "/" in cmd:
        found = cmd if os.path.isabs(cmd) else None
    else:
        import shutil

        found = shutil.which(cmd)
    if not found or not sys.executable:
        return False
    try:
        return os.path.samefile(os.path.realpath(found), os.path.realpath(sys.executable))
    except OSError:
        return False


def plan(cmd):
    """('script', path, args), ('module', name, args) or ('exec',)."""
    if not _same_interpreter(cmd[0]) or len(cmd) < 2:
        return ("exec",)
    first = cmd[1]
    if first == "-m" and len(cmd) >= 3 and cmd[2] and not cmd[2].startswith("-"):
        return ("module", cmd[2], cmd[3:])
    if first.startswith("-") or not first:
        return ("exec",)  # options we do not reproduce, or a script on stdin
    return ("script", first, cmd[2:])


# What judge.py imports, for `python3 -m`: judge itself takes its tests folder from
# sys.argv[0] when imported, which -m sets only once it has found the module.
JUDGE_IMPORTS = (
    "json", "select", "shutil", "signal", "subprocess", "tempfile", "time", "traceback",
    "xml.sax.saxutils", "confine", "wire",
)


def warm_up(how):
    """Loads what the test script will load, as it will load it, and nothing of the
    learner's (there is nothing of theirs yet). For a script, sys.argv is already
    the script's, so judge.py, imported now, finds the script's tests folder."""
    import importlib

    if how[0] == "script":
        sys.argv = [how[1]] + how[2]
        sys.path[0] = os.path.dirname(os.path.realpath(how[1]))
        names = ("judge",)
    elif how[0] == "module":
        sys.argv = ["-m"] + how[2]
        sys.path[0] = os.getcwd()
        names = JUDGE_IMPORTS
    else:
        return
    if os.path.isfile(os.path.join(RUNNER_DIR, "judge.py")):
        # The test script puts the runner folder first, then imports judge: the same
        # modules (sys.modules) then, found the same way.
        sys.path.insert(0, RUNNER_DIR)
        try:
            for name in names:
                importlib.import_module(name)
        except Exception:
            pass  # the script will meet the same error itself, and report it
        finally:
            if sys.path and sys.path[0] == RUNNER_DIR:
                del sys.path[0]
    import builtins  # noqa: F401
    import types  # noqa: F401

    if how[0] == "module":
        import runpy  # noqa: F401


# ---------------------------------------------------------------------------
# The job


class Reader:
    """Exact reads from the job socket, until EOF."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()
        self.eof = False

    def _fill(self, want):
        while len(self.buf) < want and not self.eof:
            try:
                chunk = os.read(self.fd, max(CHUNK, want - len(self.buf)))
            except OSError as e:
                raise BadJob(f"reading the job: {e.strerror}")
            if chunk:
                self.buf += chunk
            else:
                self.eof = True

    def take(self, n, what):
        self._fill(n)
        if len(self.buf) < n:
            raise BadJob(f"truncated: the job ends in {what}")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def u(self, size, what):
        return int.from_bytes(self.take(size, what), "big")

    def copy_to(self, out_fd, n, what):
        """Copies n bytes of content to out_fd, a chunk at a time."""
        while n > 0:
            if not self.buf:
                self._fill(1)
                if not self.buf:
                    raise BadJob(f"truncated: the job ends in the content of {what}")
            if len(self.buf) <= n:
                part, self.buf = self.buf, bytearray()
            else:
                part = self.buf[:n]
                del self.buf[:n]
            done = 0
            while done < len(part):
                done += os.write(out_fd, part[done:] if done else part)
            n -= len(part)

    def at_end(self):
        self._fill(1)
        return not self.buf


def check_path(raw):
    if not raw:
        raise BadJob("an empty path")
    if len(raw) > MAX_PATH:
        raise BadJob(f"a path of {len(raw)} bytes (at most {MAX_PATH})")
    try:
        path = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJob(f"a path that is not UTF-8: {raw!r}")
    if "\0" in path:
        raise BadJob(f"a path with a NUL byte: {path!r}")
    if path.startswith("/"):
        raise BadJob(f"an absolute path: {path!r}")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise BadJob(f"a path with an empty, '.' or '..' component: {path!r}")
    if parts[0] == PROTECTED:
        raise BadJob(f"a path in the runners' folder: {path!r}")
    return path, parts


def check_mode(mode, path):
    if mode & ~0o777:
        raise BadJob(f"{path!r}: mode {mode:#o} is more than permission bits")
    return mode


def _refusal(dir_fd, name, shown, err):
    """Why opening `name` (in dir_fd) as a folder failed, in one phrase."""
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except OSError:
        return f"{shown!r}: {err.strerror}"
    if stat.S_ISLNK(st.st_mode):
        return f"{shown!r} is a symlink"
    if not stat.S_ISDIR(st.st_mode):
        return f"{shown!r} is not a directory"
    return f"{shown!r}: {err.strerror}"


DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_dir(parent, name, shown, create_mode=None):
    """The folder `name` in `parent`, never through a symlink; made (0o755, or
    create_mode) when missing. Returns (fd, created)."""
    created = False
    for _ in range(2):
        try:
            return os.open(name, DIR_FLAGS, dir_fd=parent), created
        except FileNotFoundError:
            try:
                os.mkdir(name, 0o700, dir_fd=parent)
                created = True
            except FileExistsError:
                pass
            except OSError as e:
                raise BadJob(f"{shown!r}: cannot make the directory: {e.strerror}")
        except OSError as e:
            raise BadJob(_refusal(parent, name, shown, e))
    raise BadJob(f"{shown!r}: cannot make the directory")


def walk(root, parts, path):
    """A descriptor of the folder that will hold parts[-1], its parents made as
    needed (mode 0o755)."""
    fd = os.dup(root)
    try:
        for i, part in enumerate(parts[:-1]):
            shown = "/".join(parts[: i + 1])
            nxt, created = open_dir(fd, part, shown)
            os.close(fd)
            fd = nxt
            if created:
                os.fchmod(fd, 0o755)
        return fd
    except BaseException:
        os.close(fd)
        raise


def make_dir(root, parts, path, mode, deferred):
    parent = walk(root, parts, path)
    try:
        fd, _ = open_dir(parent, parts[-1], path)
    finally:
        os.close(parent)
    try:
        if mode & 0o700 == 0o700:
            os.fchmod(fd, mode)
        else:
            # Its owner could not write into it: it gets its mode once the job is in.
            os.fchmod(fd, mode | 0o700)
            deferred.append((parts, mode))
    finally:
        os.close(fd)


FILE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_TRUNC
    | os.O_NOFOLLOW
    | os.O_NONBLOCK  # a FIFO planted in the workspace must not block us
    | os.O_NOCTTY
    | os.O_CLOEXEC
)


def write_file(root, parts, path, mode, size, reader):
    parent = walk(root, parts, path)
    try:
        try:
            fd = os.open(parts[-1], FILE_FLAGS, 0o600, dir_fd=parent)
        except IsADirectoryError:
            raise BadJob(f"{path!r} is a directory")
        except OSError as e:
            try:
                st = os.lstat(parts[-1], dir_fd=parent)
                if stat.S_ISLNK(st.st_mode):
                    raise BadJob(f"{path!r} is a symlink")
                if not stat.S_ISREG(st.st_mode):
                    raise BadJob(f"{path!r} is not a regular file")
            except OSError:
                pass
            raise BadJob(f"{path!r}: {e.strerror}")
    finally:
        os.close(parent)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BadJob(f"{path!r} is not a regular file")
        try:
            reader.copy_to(fd, size, repr(path))
            os.fchmod(fd, mode)
        except OSError as e:
            raise BadJob(f"{path!r}: {e.strerror}")
    finally:
        os.close(fd)


def read_header(reader):
    length = reader.u(4, "the header length")
    if length > MAX_HEADER:
        raise BadJob(f"a header of {length} bytes (at most {MAX_HEADER})")
    raw = reader.take(length, "the header")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadJob(f"the header is not JSON: {e}")
    if not isinstance(header, dict):
        raise BadJob("the header is not a JSON object")
    env = header.get("env", {})
    if not isinstance(env, dict):
        raise BadJob("the header's env is not an object")
    for name, value in env.items():
        if not name or "=" in name or "\0" in name:
            raise BadJob(f"the header's env has a bad name: {name!r}")
        if not isinstance(value, str) or "\0" in value:
            raise BadJob(f"the header's env has a bad value for {name}")
    return env


def receive(fd, root):
    """Reads the whole job from fd and writes its files under root; returns the
    header's environment. Raises BadJob."""
    reader = Reader(fd)
    reader._fill(len(MAGIC))
    magic = bytes(reader.buf[: len(MAGIC)])
    if magic != MAGIC:
        if MAGIC.startswith(magic):
            raise BadJob("truncated: the job ends in the magic")
        raise BadJob(f"bad magic {magic!r}")
    reader.take(len(MAGIC), "the magic")
    env = read_header(reader)
    total = 0
    deferred = []
    while True:
        kind = reader.take(1, "an entry kind")
        if kind == b"E":
            break
        if kind not in (b"D", b"F"):
            raise BadJob(f"unknown entry kind {kind!r}")
        path, parts = check_path(reader.take(reader.u(2, "a path length"), "a path"))
        mode = check_mode(reader.u(4, f"the mode of {path!r}"), path)
        if kind == b"D":
            make_dir(root, parts, path, mode, deferred)
            continue
        size = reader.u(8, f"the size of {path!r}")
        if size > MAX_CONTENT - total:
            raise BadJob(f"more than {MAX_CONTENT} bytes of content")
        total += size
        write_file(root, parts, path, mode, size, reader)
    if not reader.at_end():
        raise BadJob("bytes after the end entry")
    for parts, mode in reversed(deferred):
        fd = walk(root, parts + [""], "/".join(parts))
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
    return env


# ---------------------------------------------------------------------------
# Running the command


def _exec(cmd):
    try:
        os.execvp(cmd[0], cmd)
    except OSError as e:
        die(f"gauntlet-warm: {cmd[0]}: {e.strerror}", 127 if e.errno == 2 else 126)


_interrupted = False


def _exit_by_sigint():
    """Runs last at exit (registered first): an uncaught KeyboardInterrupt ends the
    process by SIGINT, as CPython does for a script started directly."""
    if _interrupted:
        import signal

        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except Exception:
                pass
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)


def _uncaught(exc):
    """Reports an exception the script did not catch as CPython would: sys.last_*,
    sys.excepthook with a traceback that starts in the script (our frames cut)."""
    global _interrupted
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == THIS_FILE:
        tb = tb.tb_next
    exc.__traceback__ = tb
    sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, tb
    try:
        sys.excepthook(type(exc), exc, tb)
    except BaseException as hook_error:
        sys.stderr.write("Error in sys.excepthook:\n")
        sys.__excepthook__(type(hook_error), hook_error, hook_error.__traceback__)
        sys.stderr.write("\nOriginal exception was:\n")
        sys.__excepthook__(type(exc), exc, tb)
    if isinstance(exc, KeyboardInterrupt):
        _interrupted = True


def run_script(path, args, cmd):
    """What `python3 path args` does (Python 3.9+): __main__ is a fresh module with
    __file__ the absolute path, sys.argv[0] the path as given, sys.path[0] the folder
    of its real path; the source compiled as the main script, never cached."""
    import builtins
    import importlib.machinery
    import types

    full = os.path.abspath(path)
    sys.argv = [path] + list(args)
    sys.orig_argv = list(cmd)
    sys.path[0] = os.path.dirname(os.path.realpath(path))
    main = types.ModuleType("__main__")
    main.__dict__.update(
        __builtins__=builtins,
        __file__=full,
        __cached__=None,
        __loader__=importlib.machinery.SourceFileLoader("__main__", full),
    )
    try:
        with open(full, "rb") as f:
            source = f.read()
    except OSError as e:
        # What python3 itself says for a script it cannot open.
        sys.stderr.write(f"{cmd[0]}: can't open file {full!r}: [Errno {e.errno}] {e.strerror}\n")
        return 2
    sys.modules["__main__"] = main
    try:
        code = compile(source, full, "exec", dont_inherit=True)
        exec(code, main.__dict__)
    except SystemExit:
        raise  # the interpreter ends with it, as for the script started directly
    except BaseException as exc:
        _uncaught(exc)
        status = 1
    else:
        status = 0
    # As CPython does once the main script has run.
    for name in ("__file__", "__cached__"):
        main.__dict__.pop(name, None)
    return status


def run_module(name, args, cmd):
    """What `python3 -m name args` does: runpy's own entry point for -m."""
    import runpy

    sys.argv = ["-m"] + list(args)
    sys.orig_argv = list(cmd)
    sys.path[0] = os.getcwd()
    try:
        runpy._run_module_as_main(name, alter_argv=True)
    except SystemExit:
        raise
    except BaseException as exc:
        _uncaught(exc)
        return 1
    return 0


def main():
    argv = sys.argv[1:]
    if not argv or argv[0] != "--" or len(argv) < 2:
        die("gauntlet-warm: usage: warm.py -- CMD [ARG]...")
    cmd = argv[1:]
    job_fd = os.environ.pop("GAUNTLET_JOB_FD", None)
    try:
        job_fd = int(job_fd)
        os.fstat(job_fd)
    except (TypeError, ValueError, OSError):
        die("gauntlet-warm: GAUNTLET_JOB_FD does not name an open descriptor")
    os.set_inheritable(job_fd, False)
    os.set_blocking(job_fd, True)  # read with plain blocking reads, whatever we were given
    how = plan(cmd)
    warm_up(how)
    import atexit

    atexit.register(_exit_by_sigint)  # first registered, so it runs last

    try:
        os.write(job_fd, b"R")
    except OSError as e:
        die(f"gauntlet-warm: cannot signal ready: {e.strerror}")
    try:
        root = os.open(".", DIR_FLAGS)
        try:
            env = receive(job_fd, root)
        finally:
            os.close(root)
    except BadJob as e:
        die(f"gauntlet-warm: bad job: {e}")
    except OSError as e:
        die(f"gauntlet-warm: bad job: {e.strerror}")
    except Exception as e:  # a bug of ours: still nothing run, still one line
        die(f"gauntlet-warm: bad job: unexpected error: {e!r}")
    os.close(job_fd)
    os.environ.update(env)

    if how[0] != "exec":
        if "PATH" in env or any(k.startswith("PYTHON") for k in env):
            how = ("exec",)
        elif how[0] == "script" and not os.path.isfile(how[1]):
            how = ("exec",)  # python3 reports a missing script (or runs a folder)
    if how[0] == "exec":
        for f in (sys.stdout, sys.stderr):
            f.flush()
        _exec(cmd)
    if how[0] == "script":
        return run_script(how[1], how[2], cmd)
    return run_module(how[1], how[2], cmd)


if __name__ == "__main__":
    _status = main()
    if _status:
        raise SystemExit(_status)
