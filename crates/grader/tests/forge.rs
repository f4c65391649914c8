//! Forging a score and reading the hidden tests, tried as an attacker would: hostile
//! submissions against the bundled exercises, for every runtime (python, shell, node,
//! hardhat) and every results format (channel:tap, channel:junit, and the advisory
//! tap, junit:<path> and exit-code run by the bundled runners), graded by the real
//! grader in the real sandbox. A hostile submission implements nothing, so it must
//! score nothing; a leak probe scores one point per secret it finds, so it must score
//! nothing too.
//!
//! The attacks (every one in each hostile submission, in its runtime's language):
//! TAP printed on stdout and stderr; planted report files; writes to every inherited
//! descriptor and to `/proc/<ancestor>/fd/{0..15}` (the runner's stdout and results
//! channel among them); chmod of the workspace and /tmp and chattr +i (the exact
//! roman-numerals attack of issue 11 is a case of its own); a double-forked, setsid
//! daemon that keeps writing to every process's fd 1 and 3 and to report.xml after the
//! runner is gone; SIGKILL to every ancestor and to -1. The leak probes read tests/ by
//! open, listdir, glob, relative and `/proc/self/cwd` paths, links from /tmp, and
//! every ancestor's `/proc/<pid>/{cmdline,environ,mem,fd/*,cwd}`.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::repo;
use gauntlet_exercise::{self as exercise, GradeResult, Maxima, Outcome, TestStatus};
use gauntlet_grader::{Grader, GraderConfig, Registry, Submission};

struct Bench {
    tmp: tempfile::TempDir,
    grader: Grader,
}

/// A grader on the system runtimes with a data dir of its own.
fn bench() -> Bench {
    let tmp = tempfile::tempdir().unwrap();
    let grader = Grader::new(
        GraderConfig::new(tmp.path().join("data")),
        Registry::system(),
    )
    .expect("grader");
    Bench { tmp, grader }
}

impl Bench {
    /// A copy of the bundled package `id` under `<tmp>/<variant>/<id>`, its `test:`
    /// block replaced by `test` when given (a legacy results format).
    fn package(&self, id: &str, variant: &str, test: Option<&str>) -> PathBuf {
        let dir = self.tmp.path().join(variant).join(id);
        copy(&repo().join("exercises").join(id), &dir);
        if let Some(test) = test {
            let yaml = fs::read_to_string(dir.join("exercise.yaml")).unwrap();
            let start = yaml.find("\ntest:\n").expect("a test block") + 1;
            let end = yaml.find("\nscoring:").expect("a scoring line") + 1;
            let yaml = format!("{}{}\n{}", &yaml[..start], test.trim_end(), &yaml[end..]);
            fs::write(dir.join("exercise.yaml"), yaml).unwrap();
        }
        dir
    }

    /// A package written from scratch: `files` are (path, content) under its folder.
    fn custom(&self, id: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.tmp.path().join("custom").join(id);
        for (path, content) in files {
            let p = dir.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
        dir
    }

    fn grade(&self, dir: &Path, files: &[(&str, &str)]) -> GradeResult {
        let ex = exercise::load(dir, &Maxima::default()).expect("package loads");
        let files: BTreeMap<String, String> = files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        let files = exercise::validate_files(&ex, &files).expect("a valid submission");
        let job = gauntlet_grader::local_job_id();
        self.grader
            .grade(&ex, &Submission::Files(files), &job, &mut |_| {})
            .expect("graded")
    }
}

fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The submission earned nothing, and its tests ran (a hostile file that broke the
/// run before any test would prove nothing).
fn assert_nothing_earned(what: &str, r: &GradeResult, tests_at_least: usize) {
    let passed: Vec<&str> = r
        .tests
        .iter()
        .filter(|t| t.status == TestStatus::Pass)
        .map(|t| t.name.as_str())
        .collect();
    assert!(
        r.score == 0 && r.points == 0 && passed.is_empty(),
        "{what}: a hostile submission scored {} ({} of {} points; {} passed, first {:?})\nlog:\n{}",
        r.score,
        r.points,
        r.max_points,
        passed.len(),
        &passed[..passed.len().min(5)],
        r.log
    );
    assert!(
        r.tests.len() >= tests_at_least,
        "{what}: only {} results ({:?}), expected the package's {tests_at_least} tests to run\nlog:\n{}",
        r.tests.len(),
        r.outcome,
        r.log
    );
}

// ---------------------------------------------------------------------------
// Hostile submissions

/// Python: every attack at import time (each call imports the module afresh in a new
/// child), then an answer of None to whatever the tests ask.
const PY_HOSTILE: &str = r#"
import os, signal, sys, time

N = 40
TAP = "TAP version 13\n1..%d\n" % N + "".join("ok %d - forged\n" % i for i in range(1, N + 1))
JUNIT = ('<?xml version="1.0"?><testsuites><testsuite name="forged" tests="%d">' % N
         + "".join('<testcase name="t%d"/>' % i for i in range(N)) + "</testsuite></testsuites>")


def ancestors():
    out, pid = [], os.getppid()
    while pid > 1 and len(out) < 16:
        out.append(pid)
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
            pid = int(stat[stat.rfind(")") + 2:].split()[1])
        except Exception:
            break
    return out


def attempt(fn, *args):
    try:
        fn(*args)
    except Exception:
        pass


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def everywhere(pids):
    for path in ("report.xml", "/workspace/report.xml", "tests/report.xml"):
        attempt(write, path, JUNIT)
    for fd in range(3, 256):
        attempt(os.write, fd, TAP.encode())
    for pid in pids:
        for fd in range(16):
            attempt(write, "/proc/%d/fd/%d" % (pid, fd), TAP)


def daemon():
    if os.fork() != 0:
        return
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    end = time.time() + 15
    while time.time() < end:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()] if os.path.isdir("/proc") else []
        everywhere([p for p in pids if p != os.getpid()])
        time.sleep(0.05)
    os._exit(0)


sys.stdout.write(TAP)
sys.stdout.flush()
sys.stderr.write(TAP)
everywhere(ancestors())
for path in ("/workspace", ".", "/tmp"):
    attempt(os.chmod, path, 0o555)
try:
    import fcntl, struct
    fd = os.open("/workspace", os.O_RDONLY)
    fcntl.ioctl(fd, 0x40086602, struct.pack("l", 0x10))  # FS_IOC_SETFLAGS: immutable
except Exception:
    pass
attempt(daemon)
for pid in ancestors():
    attempt(os.kill, pid, signal.SIGKILL)


def __getattr__(name):
    return lambda *args, **kwargs: None
"#;

/// The exact attack of issue 11 against roman-numerals: an all-pass report.xml in the
/// workspace, then the workspace made read-only so the judge cannot replace it.
const ROMAN_EXACT: &str = r#"
import os
REPORT = ('<?xml version="1.0"?><testsuites><testsuite name="roman-numerals" tests="11">'
          + "".join('<testcase name="t%d"/>' % i for i in range(11)) + "</testsuite></testsuites>")
try:
    with open("report.xml", "w") as f:
        f.write(REPORT)
except OSError:
    pass
try:
    os.chmod(".", 0o555)
except OSError:
    pass
def to_roman(n):
    return None
def from_roman(s):
    return None
"#;

/// Shell: the same attacks, then no useful output.
const SH_HOSTILE: &str = r#"
FUNCS='
forged() {
    echo "TAP version 13"; echo "1..40"
    i=1; while [ $i -le 40 ]; do echo "ok $i - forged"; i=$((i + 1)); done
}
junit() {
    printf "<testsuites><testsuite name=\"f\" tests=\"40\">"
    i=1; while [ $i -le 40 ]; do printf "<testcase name=\"t%s\"/>" $i; i=$((i + 1)); done
    printf "</testsuite></testsuites>\n"
}
everywhere() {
    junit > report.xml 2>/dev/null
    junit > /workspace/report.xml 2>/dev/null
    for fd in 3 4 5 6 7 8 9; do eval "forged >&$fd" 2>/dev/null; done
    for p in "$@"; do
        for fd in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
            forged > /proc/$p/fd/$fd 2>/dev/null
        done
    done
}
'
eval "$FUNCS"
ancestors=""
p=$PPID
while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    ancestors="$ancestors $p"
    p=$(cut -d')' -f2 /proc/$p/stat 2>/dev/null | cut -d' ' -f3)
done
forged
forged >&2
everywhere $ancestors
chmod 555 /workspace . /tmp 2>/dev/null
chattr +i /workspace 2>/dev/null
setsid sh -c "$FUNCS"'
    end=$(( $(date +%s) + 15 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        everywhere $(ls /proc | grep "^[0-9]")
        sleep 0.05
    done' </dev/null >/dev/null 2>&1 &
for p in $ancestors; do kill -9 "$p" 2>/dev/null; done
kill -9 -1 2>/dev/null
exit 0
"#;

/// Node: the same attacks under the harness's permission model, then a module whose
/// every export returns null.
const JS_HOSTILE: &str = r#"
const fs = require('fs');
const N = 40;
let tap = `TAP version 13\n1..${N}\n`;
for (let i = 1; i <= N; i++) tap += `ok ${i} - forged\n`;
let junit = `<?xml version="1.0"?><testsuites><testsuite name="f" tests="${N}">`;
for (let i = 0; i < N; i++) junit += `<testcase name="t${i}"/>`;
junit += '</testsuite></testsuites>';
const attempt = (f) => { try { f(); } catch {} };
process.stdout.write(tap);
process.stderr.write(tap);
for (const p of ['report.xml', '/workspace/report.xml']) attempt(() => fs.writeFileSync(p, junit));
for (let fd = 4; fd < 64; fd++) attempt(() => fs.writeSync(fd, tap));
for (let fd = 0; fd < 16; fd++) attempt(() => fs.writeFileSync(`/proc/${process.ppid}/fd/${fd}`, tap));
attempt(() => fs.chmodSync('/workspace', 0o555));
attempt(() => require('child_process').spawn('/bin/sh', ['-c', 'sleep 1; echo ok 1 - forged > /proc/1/fd/1'], { detached: true }));
attempt(() => process.kill(process.ppid, 'SIGKILL'));
attempt(() => process.kill(-1, 'SIGKILL'));
module.exports = new Proxy({}, { get: () => () => null });
"#;

// ---------------------------------------------------------------------------
// Python and shell through the python judge

#[test]
fn python_submissions_cannot_forge_results_in_any_format() {
    let b = bench();
    let cases = [
        ("reverse-words", "words.py", None, 11),
        (
            "reverse-words",
            "words.py",
            Some("test:\n  command: [\"python3\", \"tests/run.py\"]\n  results: tap\n"),
            11,
        ),
        ("roman-numerals", "roman.py", None, 11),
        (
            "roman-numerals",
            "roman.py",
            Some("test:\n  command: [\"python3\", \"tests/run.py\", \"--junit\", \"report.xml\"]\n  results: junit:report.xml\n"),
            11,
        ),
        ("bank-account", "bank.py", None, 13),
    ];
    for (i, (id, file, test, count)) in cases.into_iter().enumerate() {
        let dir = b.package(id, &format!("v{i}"), test);
        let r = b.grade(&dir, &[(file, PY_HOSTILE)]);
        let what = format!("{id} with {}", test.unwrap_or("its own results"));
        assert_nothing_earned(&what, &r, count);
    }
}

#[test]
fn the_roman_numerals_attack_of_issue_11_scores_nothing() {
    let b = bench();
    for (variant, test) in [
        ("channel", None),
        (
            "junit-file",
            Some("test:\n  command: [\"python3\", \"tests/run.py\", \"--junit\", \"report.xml\"]\n  results: junit:report.xml\n"),
        ),
    ] {
        let dir = b.package("roman-numerals", variant, test);
        let r = b.grade(&dir, &[("roman.py", ROMAN_EXACT)]);
        assert_nothing_earned(&format!("roman-numerals ({variant})"), &r, 11);
        assert_eq!(r.outcome, Outcome::Failed, "{variant}: {}", r.log);
    }
}

#[test]
fn shell_submissions_cannot_forge_results_in_any_format() {
    let b = bench();
    let cases = [
        // Through the python judge (run_program).
        ("csv-column", "csvcol.sh", None, 14),
        (
            "csv-column",
            "csvcol.sh",
            Some("test:\n  command: [\"python3\", \"tests/run.py\"]\n  results: tap\n"),
            14,
        ),
        // Through a shell runner that confines the script with confine.py.
        ("dedupe-lines", "dedupe.sh", None, 14),
        (
            "dedupe-lines",
            "dedupe.sh",
            Some("test:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: exit-code\n"),
            1,
        ),
    ];
    for (i, (id, file, test, count)) in cases.into_iter().enumerate() {
        let dir = b.package(id, &format!("v{i}"), test);
        let r = b.grade(&dir, &[(file, SH_HOSTILE)]);
        let what = format!("{id} with {}", test.unwrap_or("its own results"));
        assert_nothing_earned(&what, &r, count);
    }
}

#[test]
fn node_submissions_cannot_forge_results_in_any_format() {
    let b = bench();
    let cases = [
        ("word-frequency", "wordfreq.js", None, 11),
        (
            "word-frequency",
            "wordfreq.js",
            Some("test:\n  command: [\"node\", \"--test\", \"--test-reporter=tap\", \"tests/wordfreq.test.js\"]\n  results: tap\n"),
            11,
        ),
        ("run-length", "rle.js", None, 1),
        (
            "run-length",
            "rle.js",
            Some("test:\n  command: [\"node\", \"--test\", \"--test-reporter=junit\", \"--test-reporter-destination=report.xml\", \"tests/rle.test.js\"]\n  results: junit:report.xml\n"),
            1,
        ),
    ];
    for (i, (id, file, test, count)) in cases.into_iter().enumerate() {
        let dir = b.package(id, &format!("v{i}"), test);
        let r = b.grade(&dir, &[(file, JS_HOSTILE)]);
        let what = format!("{id} with {}", test.unwrap_or("its own results"));
        assert_nothing_earned(&what, &r, count);
    }
}

// ---------------------------------------------------------------------------
// Reading the hidden tests: one point per secret found, so zero is the only pass.

const SECRET: &str = "gauntlet-secret-7f3a9c";

fn manifest(id: &str, runtime: &str, starter: &[&str], command: &str) -> String {
    let files: String = starter
        .iter()
        .map(|f| format!("    - path: {f}\n"))
        .collect();
    format!(
        "id: {id}\ntitle: Leak probe\nruntime: {runtime}\nsubmission: files\nstarter:\n  files:\n{files}\
         limits:\n  wall_time: 60s\n  idle_timeout: 30s\n  memory: 512MiB\n\
         test:\n  command: {command}\n  results: channel:tap\nscoring: per-test\n"
    )
}

/// Python: each probe returns everything it could read; a test passes when the
/// secret is in it.
const PY_LEAK: &str = r#"
import glob, os

SELF = os.getpid()


def text(path):
    try:
        with open(path, "rb") as f:
            return f.read(1 << 20).decode("utf-8", "replace")
    except Exception as e:
        return ""


def ancestors():
    out, pid = [], os.getppid()
    while pid > 1 and len(out) < 16:
        out.append(pid)
        stat = text("/proc/%d/stat" % pid)
        try:
            pid = int(stat[stat.rfind(")") + 2:].split()[1])
        except Exception:
            break
    return out


def by_open():
    return "".join(text(p) for p in ("tests/secret.txt", "tests/run.py", "/workspace/tests/secret.txt"))


def by_listdir():
    out = []
    for d in ("tests", "/workspace/tests", "/workspace", ".", "/"):
        try:
            out += os.listdir(d)
        except Exception:
            pass
    return "\n".join(out)


def by_glob():
    return "\n".join(glob.glob("tests/*") + glob.glob("/workspace/*/*") + glob.glob("**", recursive=True))


def by_other_paths():
    paths = ["../workspace/tests/secret.txt", "/workspace/./tests/secret.txt",
             "/proc/self/cwd/tests/secret.txt", "/proc/%d/root/workspace/tests/secret.txt" % SELF,
             "//workspace//tests//secret.txt"]
    return "".join(text(p) for p in paths)


def by_links():
    out = ""
    for i, make in enumerate((os.link, os.symlink)):
        dest = "/tmp/leak-%d-%d" % (SELF, i)
        try:
            make("/workspace/tests/secret.txt", dest)
        except Exception:
            pass
        out += text(dest)
    return out


def by_proc():
    out = ""
    for pid in ancestors():
        for name in ("cmdline", "environ", "cwd/tests/secret.txt", "root/workspace/tests/secret.txt"):
            out += text("/proc/%d/%s" % (pid, name))
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                out += text("/proc/%d/fd/%s" % (pid, fd))
        except Exception:
            pass
    return out


def by_mem():
    out = ""
    for pid in ancestors():
        try:
            maps = text("/proc/%d/maps" % pid)
            with open("/proc/%d/mem" % pid, "rb") as mem:
                for line in maps.splitlines():
                    lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                    if "r" not in line.split()[1] or hi - lo > 64 << 20:
                        continue
                    try:
                        mem.seek(lo)
                        chunk = mem.read(hi - lo)
                        if b"gauntlet-secret" in chunk:
                            i = chunk.index(b"gauntlet-secret")
                            out += chunk[i:i + 40].decode("utf-8", "replace")
                    except Exception:
                        pass
        except Exception:
            pass
    return out


def by_shell():
    return ""
"#;

const SH_LEAK: &str = r#"
cat tests/secret.txt tests/run.py /workspace/tests/secret.txt 2>/dev/null
ls tests /workspace/tests /workspace . 2>/dev/null
echo tests/* /workspace/tests/*
find /workspace /tmp -name '*secret*' 2>/dev/null
p=$PPID
while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    cat /proc/$p/cmdline /proc/$p/environ /proc/$p/cwd/tests/secret.txt 2>/dev/null
    # A pipe would block a plain read: a second each.
    for f in /proc/$p/fd/*; do timeout 1 cat "$f" 2>/dev/null </dev/null; done
    p=$(cut -d')' -f2 /proc/$p/stat 2>/dev/null | cut -d' ' -f3)
done
echo PROBE-DONE
exit 0
"#;

fn py_leak_runner() -> String {
    let probes = [
        "by_open",
        "by_listdir",
        "by_glob",
        "by_other_paths",
        "by_links",
        "by_proc",
        "by_mem",
    ];
    format!(
        r#"import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, ".gauntlet", "runner"))
import judge
from judge import Failure

SECRET = "{SECRET}"
suite = judge.Suite("leak")

def leaked(text, how):
    if not isinstance(text, str):
        raise Failure(f"{{how}}: the probe returned {{text!r}}")
    if SECRET not in text:
        raise Failure(f"{{how}}: nothing leaked")

for name in {probes:?}:
    @suite.test(name)
    def _(name=name):
        outcome = judge.call("leak", name, timeout=10.0)
        if outcome.raised:
            raise Failure(f"{{name}}: the probe raised {{outcome.describe()}}")
        leaked(outcome.value, name)

@suite.test("by_shell")
def _():
    ran = judge.run_program(["sh", "leak.sh"], timeout=20.0)
    out = ran.stdout.decode("utf-8", "replace")
    if "PROBE-DONE" not in out and SECRET not in out:
        raise Failure("by_shell: the probe did not finish")
    leaked(out, "by_shell")

suite.main()
"#
    )
}

#[test]
fn python_and_shell_code_cannot_read_the_hidden_tests() {
    let b = bench();
    let runner = py_leak_runner();
    let yaml = manifest(
        "leak-python",
        "python",
        &["leak.py", "leak.sh"],
        "[\"python3\", \"tests/run.py\"]",
    );
    let dir = b.custom(
        "leak-python",
        &[
            ("exercise.yaml", &yaml),
            ("starter/leak.py", PY_LEAK),
            ("starter/leak.sh", SH_LEAK),
            ("solution/leak.py", PY_LEAK),
            ("solution/leak.sh", SH_LEAK),
            ("tests/run.py", &runner),
            ("tests/secret.txt", SECRET),
            (&format!("tests/{SECRET}.txt"), "a secret in a name"),
        ],
    );
    let r = b.grade(&dir, &[("leak.py", PY_LEAK), ("leak.sh", SH_LEAK)]);
    assert_nothing_earned("python leak probes", &r, 8);
    for t in &r.tests {
        assert!(
            t.message
                .as_deref()
                .unwrap_or("")
                .contains("nothing leaked"),
            "{}: the probe did not run to the end: {:?}\nlog:\n{}",
            t.name,
            t.message,
            r.log
        );
    }
}

const SH_LEAK_RUNNER: &str = r#"#!/bin/sh
[ -n "${GAUNTLET_RESULTS_FD:-}" ] || exec 3>&1
out=$(.gauntlet/runner/confine.py sh ./leak.sh 2>/dev/null)
case "$out" in
    *SECRET*) echo "ok 1 - leak.sh read the tests" >&3 ;;
    *PROBE-DONE*) printf 'not ok 1 - leak.sh\n  ---\n  message: nothing leaked\n  ...\n' >&3 ;;
    *) printf 'not ok 1 - leak.sh\n  ---\n  message: the probe did not finish\n  ...\n' >&3 ;;
esac
echo "1..1" >&3
"#;

#[test]
fn a_shell_runner_keeps_the_tests_from_the_script_it_confines() {
    let b = bench();
    let yaml = manifest(
        "leak-shell",
        "shell",
        &["leak.sh"],
        "[\"sh\", \"tests/run.sh\"]",
    );
    let runner = SH_LEAK_RUNNER.replace("SECRET", SECRET);
    let dir = b.custom(
        "leak-shell",
        &[
            ("exercise.yaml", &yaml),
            ("starter/leak.sh", SH_LEAK),
            ("solution/leak.sh", SH_LEAK),
            ("tests/run.sh", &runner),
            ("tests/secret.txt", SECRET),
            (&format!("tests/{SECRET}.txt"), "a secret in a name"),
        ],
    );
    let r = b.grade(&dir, &[("leak.sh", SH_LEAK)]);
    assert_nothing_earned("shell leak probe", &r, 1);
    assert_eq!(
        r.tests[0].message.as_deref(),
        Some("nothing leaked"),
        "the probe did not run to the end\nlog:\n{}",
        r.log
    );
}

const JS_LEAK: &str = r#"
const fs = require('fs');
const attempt = (f) => { try { return String(f()); } catch { return ''; } };
module.exports = {
  byOpen: () => ['tests/secret.txt', 'tests/leak.test.js', '/workspace/tests/secret.txt']
    .map((p) => attempt(() => fs.readFileSync(p, 'utf8'))).join(''),
  byListdir: () => ['tests', '/workspace/tests', '/workspace', '.', '/']
    .map((d) => attempt(() => fs.readdirSync(d).join('\n'))).join('\n'),
  byRequire: () => attempt(() => JSON.stringify(require('/workspace/tests/leak.test.js'))) +
    attempt(() => require('fs').readFileSync('/proc/self/cwd/tests/secret.txt', 'utf8')),
  byProc: () => ['cmdline', 'environ', 'cwd/tests/secret.txt']
    .map((n) => attempt(() => fs.readFileSync(`/proc/${process.ppid}/${n}`, 'utf8'))).join(''),
  byChild: () => attempt(() => require('child_process').execSync('cat tests/secret.txt; ls tests').toString()),
};
"#;

fn js_leak_test() -> String {
    format!(
        r#"'use strict';
const test = require('node:test');
const {{ call, Failure }} = require('../.gauntlet/runner/judge.js');
const SECRET = '{SECRET}';
for (const name of ['byOpen', 'byListdir', 'byRequire', 'byProc', 'byChild']) {{
  test(name, async () => {{
    const o = await call('leak.js', name, [], {{ timeoutMs: 10000 }});
    if (o.raised) throw new Failure(`${{name}}: the probe threw ${{o.describe()}}`);
    if (typeof o.value !== 'string' || !o.value.includes(SECRET)) throw new Failure(`${{name}}: nothing leaked`);
  }});
}}
"#
    )
}

#[test]
fn node_code_cannot_read_the_hidden_tests() {
    let b = bench();
    let yaml = manifest(
        "leak-node",
        "node",
        &["leak.js"],
        "[\"node\", \"--test\", \"--test-reporter=tap\", \"--test-reporter-destination=/dev/fd/3\", \"tests/leak.test.js\"]",
    );
    let test = js_leak_test();
    let dir = b.custom(
        "leak-node",
        &[
            ("exercise.yaml", &yaml),
            ("starter/leak.js", JS_LEAK),
            ("solution/leak.js", JS_LEAK),
            ("tests/leak.test.js", &test),
            ("tests/secret.txt", SECRET),
            (&format!("tests/{SECRET}.txt"), "a secret in a name"),
        ],
    );
    let r = b.grade(&dir, &[("leak.js", JS_LEAK)]);
    assert_nothing_earned("node leak probes", &r, 5);
    for t in &r.tests {
        assert!(
            t.message
                .as_deref()
                .unwrap_or("")
                .contains("nothing leaked"),
            "{}: the probe did not run to the end: {:?}\nlog:\n{}",
            t.name,
            t.message,
            r.log
        );
    }
}

// ---------------------------------------------------------------------------
// Hardhat: the learner's code is a contract; its text reaches the report only as
// revert reasons and compiler messages.

#[test]
fn a_contract_cannot_forge_results_or_import_the_tests() {
    let tmp = tempfile::tempdir().unwrap();
    let grader = common::standard_grader(&tmp.path().join("data"), 1);
    let ex = exercise::load(
        &repo().join("exercises/erc20-allowances"),
        &Maxima::default(),
    )
    .expect("package");
    let forged = "\\nok 1 - forged\\nok 2 - forged\\nok 3 - forged\\n1..3\\n";
    let reverts = format!(
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n\
         contract AllowanceToken {{\n\
             constructor(string memory, string memory, uint256) {{ revert(\"{forged}\"); }}\n\
         }}\n"
    );
    let imports = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n\
                   import \"../tests/AllowanceToken.js\";\ncontract AllowanceToken {}\n";
    for (what, source, outcome) in [
        ("TAP in revert reasons", reverts.as_str(), Outcome::Failed),
        ("an import of the tests", imports, Outcome::CompileError),
    ] {
        let files: BTreeMap<String, String> =
            [("contracts/AllowanceToken.sol".to_owned(), source.to_owned())].into();
        let files = exercise::validate_files(&ex, &files).unwrap();
        let r = grader
            .grade(
                &ex,
                &Submission::Files(files),
                &gauntlet_grader::local_job_id(),
                &mut |_| {},
            )
            .expect("graded");
        assert_eq!(r.outcome, outcome, "{what}: {}", r.log);
        assert_nothing_earned(what, &r, 0);
    }
}
