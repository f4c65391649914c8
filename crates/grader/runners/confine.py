#!/usr/bin/python3 -IS
"""Confines the code under test: a Landlock domain of its own, narrower than the runner's.

Gauntlet's runtimes ship this file (source: crates/grader/runners/) at
``.gauntlet/runner/confine.py``. The trusted runner (judge.py, judge.js, a package's own
test script) starts every process that runs the learner's code inside this domain, so
that code:

* reads nothing it is not meant to: every path stays readable except the hidden ones
  (``tests/`` and whatever else the package hides, listed by Gauntlet in
  ``GAUNTLET_HIDDEN``), which it can neither open nor list;
* writes only ``/tmp`` and ``/dev/shm``: not the workspace, where a runner may write a
  results file, and not the tests;
* cannot signal the runner or connect to its abstract unix sockets (Landlock scopes,
  ABI 6), nor ptrace it or open its ``/proc/<pid>/{fd,mem,environ}`` (a nested domain
  never may, whatever the runner's dumpable flag);
* never holds the results channel: ``confine.py`` closes every descriptor above 2 but
  the ones it is told to keep, and drops ``GAUNTLET_*`` from the environment.

Landlock rules grant, they never carve out: so the domain grants read on every entry of
``/`` except the way down to a hidden path, and on the way down grants every sibling
but the hidden one. The folders on that way (``/``, ``/workspace``) lose their
listing; ``Domain.listings`` says what they hold, for runners that must show it to an
import system (harness.py does, for Python's path finder).

Two ways in:

* as a module, by a trusted runner written in Python (judge.py): ``Domain(hidden)`` is
  built once, and ``domain.enter`` runs in each child between fork and exec
  (``subprocess.Popen(..., preexec_fn=domain.enter)``): one system call per child;
* as a program, by any other runner::

      .gauntlet/runner/confine.py [--hide PATH]... [--keep-fd N]... [--] COMMAND [ARG]...

  hides ``./tests`` and what ``GAUNTLET_HIDDEN`` lists (plus each ``--hide``), closes
  every descriptor above 2 but each ``--keep-fd``, and execs COMMAND.

Without Landlock (kernel before 5.13, or disabled) nothing is hidden and the workspace
stays writable; with an ABI before 6 the code under test may still signal the runner.
``Domain.missing`` says which, and the runners print it as a warning in the log: the
results channel still keeps the score out of the learner's reach, but the hidden tests
do not stay hidden on such a host.
"""

import _ctypes
import os
import stat
import struct
import sys

_SYS_CREATE_RULESET = 444  # the same number on every architecture
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

READ = EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

WRITABLE = ("/tmp", "/dev/shm")
DEVICES = "/dev"


# libc's syscall() and prctl() through _ctypes, the C half of ctypes: importing ctypes
# itself would cost milliseconds on every call into the learner's code. Integers go as
# C longs, bytes as pointers to their contents, None as NULL.
class _Long(_ctypes._SimpleCData):
    _type_ = "l"


class _Fn(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Long


_fns = {}


def _c(name, *args):
    """Calls libc's `name`; raises OSError when it returns -1."""
    fn = _fns.get(name)
    if fn is None:
        class Libc:
            _handle = _ctypes.dlopen(None, 0)

        fn = _fns[name] = _Fn((name, Libc()))
    rc = fn(*[_Long(a) if isinstance(a, int) else a for a in args])
    if rc == -1:
        err = _ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return rc


def abi():
    """The kernel's Landlock ABI version, 0 when it has none."""
    try:
        return max(_c("syscall", _SYS_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION), 0)
    except OSError:
        return 0


def restrict(ruleset_fd):
    """Puts the calling process in the domain of the ruleset on `ruleset_fd`, for
    good (no_new_privs first, as Landlock requires)."""
    _c("prctl", _PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _c("syscall", _SYS_RESTRICT_SELF, ruleset_fd, 0)


def handled(version):
    """Every filesystem right a ruleset of this ABI handles (denies unless granted)."""
    rights = (1 << 13) - 1  # EXECUTE..MAKE_SYM, ABI 1
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    if version >= 5:
        rights |= IOCTL_DEV
    return rights


class Domain:
    """A Landlock domain for the code under test, prepared by the trusted runner.

    ``hidden``: absolute paths the code may neither read nor list. ``writable``:
    folders it may write (everything else is read-only). Paths that do not exist are
    ignored.
    """

    def __init__(self, hidden, writable=WRITABLE, devices=DEVICES):
        self.abi = abi()
        self.hidden = sorted({os.path.realpath(h) for h in hidden if os.path.lexists(h)})
        self.writable = [w for w in writable if os.path.isdir(w)]
        self.devices = devices
        # Folders on the way to a hidden path, which lose their listing: what they hold.
        self.listings = {}
        self.missing = []
        self.fd = None
        if self.abi < 1:
            self.missing.append(
                "Landlock is not available: the code under test can read the hidden "
                "tests and write the workspace"
            )
            return
        if self.abi < 6:
            self.missing.append(
                f"Landlock ABI {self.abi} (< 6) cannot scope signals: the code under test "
                "can signal the runner"
            )
        self.fd = self._build()

    def _rules(self):
        """(path, rights) for every path the domain grants."""
        all_rights = handled(self.abi) & ~(MAKE_CHAR | MAKE_BLOCK)
        ancestors = set()
        for h in self.hidden:
            p = h
            while p != "/":
                p = os.path.dirname(p)
                ancestors.add(p)
        writable = set(self.writable)
        rules = []

        def visit(folder, in_writable):
            visible = []
            for name in sorted(os.listdir(folder)):
                path = os.path.join(folder, name)
                if path in self.hidden:
                    continue
                visible.append(name)
                w = in_writable or path in writable
                if path in ancestors:
                    # A writable folder on the way to a hidden path (a workspace under
                    # /tmp, outside the sandbox): what is beside the hidden path stays
                    # writable, the folder itself can no longer be added to.
                    visit(path, w)
                    continue
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                if stat.S_ISLNK(st.st_mode):
                    # Reached through its target, which has a rule of its own where it
                    # is visible (bin -> usr/bin), and none where it is hidden.
                    continue
                if stat.S_ISDIR(st.st_mode):
                    rights = all_rights if w else READ
                    if path == self.devices:
                        rights |= WRITE_FILE | IOCTL_DEV
                else:
                    rights = FILE_RIGHTS if w else EXECUTE | READ_FILE
                rules.append((path, rights))
                if path == self.devices:
                    # /dev/shm and the like, writable below a read-only /dev.
                    rules.extend((x, all_rights) for x in writable if x.startswith(path + "/"))
            self.listings[folder] = visible

        if self.hidden:
            visit("/", False)
        else:
            rules.append(("/", READ))
            if os.path.isdir(self.devices):
                rules.append((self.devices, READ | WRITE_FILE | IOCTL_DEV))
            rules += [(w, all_rights) for w in self.writable]
        return rules

    def _build(self):
        rights = handled(self.abi)
        scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if self.abi >= 6 else 0
        # struct landlock_ruleset_attr; older kernels refuse fields they do not know.
        size = 24 if self.abi >= 6 else 16 if self.abi >= 4 else 8
        attr = struct.pack("=QQQ", rights, 0, scoped)[:size]
        fd = _c("syscall", _SYS_CREATE_RULESET, attr, size, 0)
        try:
            for path, access in self._rules():
                try:
                    target = os.open(path, os.O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW)
                except OSError:
                    continue  # gone since it was listed: nothing to grant
                try:
                    if not stat.S_ISDIR(os.fstat(target).st_mode):
                        access &= FILE_RIGHTS
                    # struct landlock_path_beneath_attr, packed.
                    rule = struct.pack("=Qi", access & rights, target)
                    _c("syscall", _SYS_ADD_RULE, fd, _RULE_PATH_BENEATH, rule, 0)
                finally:
                    os.close(target)
        except BaseException:
            os.close(fd)
            raise
        os.set_inheritable(fd, False)
        return fd

    def enter(self):
        """Puts the calling process in the domain: call it in the child, between fork
        and exec. Raises when the kernel refuses (the child must then not run)."""
        if self.fd is None:
            _c("prctl", _PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        else:
            restrict(self.fd)


def hidden_paths(tests_dir=None, environ=None):
    """What the code under test must not read: the tests folder and GAUNTLET_HIDDEN."""
    environ = os.environ if environ is None else environ
    paths = [tests_dir or os.path.join(os.getcwd(), "tests")]
    paths += [p for p in environ.get("GAUNTLET_HIDDEN", "").split("\n") if p]
    return paths


def child_env(environ=None):
    """The environment of the code under test: the runner's, without GAUNTLET_*."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if not k.startswith("GAUNTLET_")}


def close_fds_except(keep):
    """Closes every descriptor above 2 that is not in `keep`."""
    fds = []
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        fds = range(3, os.sysconf("SC_OPEN_MAX"))
    for fd in fds:
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def main(argv):
    hide, keep, i = [], set(), 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg in ("--hide", "--keep-fd") and i + 1 < len(argv):
            if arg == "--hide":
                hide.append(os.path.abspath(argv[i + 1]))
            else:
                keep.add(int(argv[i + 1]))
            i += 2
            continue
        if arg.startswith("-"):
            sys.stderr.write(f"confine.py: unknown option {arg}\n")
            return 2
        break
    command = argv[i:]
    if not command:
        sys.stderr.write("usage: confine.py [--hide PATH]... [--keep-fd N]... [--] COMMAND [ARG]...\n")
        return 2
    try:
        domain = Domain(hidden_paths() + hide)
        # The ruleset's own descriptor is close-on-exec: the command never gets it.
        close_fds_except(keep | ({domain.fd} if domain.fd is not None else set()))
        domain.enter()
    except OSError as e:
        sys.stderr.write(f"confine.py: cannot confine the code under test: {e}\n")
        return 126
    for line in domain.missing:
        sys.stderr.write(f"confine.py: warning: {line}\n")
    try:
        os.execvpe(command[0], command, child_env())
    except OSError as e:
        sys.stderr.write(f"confine.py: {command[0]}: {e.strerror}\n")
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
