//! The bundled python runner under its confinement, in real runs: probe modules and
//! the modules of tests/ they import reach the code under test as text (tests/ itself
//! stays unreadable), the test script never does, and the learner's own modules and
//! packages import although the workspace root cannot be listed.

use std::fs;
use std::path::Path;

use gauntlet_exercise::{self as exercise, Maxima, Outcome, TestStatus};
use gauntlet_grader::{Grader, GraderConfig, Registry, Submission};

const RUN_PY: &str = r#"import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, ".gauntlet", "runner"))
import judge
from judge import Failure

EXPECTED_ONLY_HERE = "the test script's own secret"
suite = judge.Suite("probes")

@suite.test("a probe that imports a helper of tests/ runs")
def _():
    judge.call("probe", "double_via_helper", 21).expect_value(42, "probe.double_via_helper(21)")

@suite.test("the learner's module and package import without a listing of the root")
def _():
    judge.call("probe", "imports").expect_value(["mod", "pkg.sub"], "probe.imports()")

@suite.test("the test script is never handed over")
def _():
    o = judge.call("probe", "script_source")
    if o.raised:
        raise Failure(f"probe.script_source() raised {o.describe()}")
    if EXPECTED_ONLY_HERE in str(o.value):
        raise Failure("the test script reached the code under test")

@suite.test("tests/ stays unreadable to the probe")
def _():
    judge.call("probe", "read_tests").expect_value("denied", "probe.read_tests()")

suite.main()
"#;

const PROBE_PY: &str = r#"import helper

def double_via_helper(n):
    return helper.double(n)

def imports():
    import mod, pkg.sub
    return [mod.NAME, pkg.sub.NAME]

def script_source():
    try:
        import run  # the test script: never among the sources
        return open(run.__file__).read()
    except BaseException as e:
        return type(e).__name__

def read_tests():
    try:
        open(__file__.replace("probe.py", "helper.py")).read()
        return "read"
    except OSError:
        return "denied"
"#;

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
}

#[test]
fn probes_import_their_helpers_and_the_learners_modules_import() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("probes");
    let yaml = "id: probes\ntitle: Probes\nruntime: python\nsubmission: files\nstarter:\n  files:\n    - path: mod.py\n\
                test:\n  command: [python3, tests/run.py]\n  results: channel:tap\nscoring: per-test\n";
    write(
        &dir,
        &[
            ("exercise.yaml", yaml),
            ("starter/mod.py", "NAME = 'mod'\n"),
            ("starter/pkg/__init__.py", ""),
            ("starter/pkg/sub.py", "NAME = 'pkg.sub'\n"),
            ("solution/mod.py", "NAME = 'mod'\n"),
            ("tests/run.py", RUN_PY),
            ("tests/probe.py", PROBE_PY),
            ("tests/helper.py", "def double(n):\n    return 2 * n\n"),
        ],
    );
    let grader = Grader::new(
        GraderConfig::new(tmp.path().join("data")),
        Registry::system(),
    )
    .unwrap();
    let ex = exercise::load(&dir, &Maxima::default()).unwrap();
    let r = grader
        .grade(
            &ex,
            &Submission::PackageDir(dir.join("solution")),
            &gauntlet_grader::local_job_id(),
            &mut |_| {},
        )
        .unwrap();
    let failed: Vec<String> = r
        .tests
        .iter()
        .filter(|t| t.status != TestStatus::Pass)
        .map(|t| format!("{}: {:?}", t.name, t.message))
        .collect();
    assert!(
        r.outcome == Outcome::Passed && r.tests.len() == 4,
        "{failed:#?}\nlog:\n{}",
        r.log
    );
}
