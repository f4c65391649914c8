//! How far a package's results can be trusted, as a table: results format, test
//! command, what the test files use, and the verdict `exercises check` prints.

use std::fs;
use std::path::PathBuf;

use gauntlet_exercise::{self as exercise, Maxima};
use gauntlet_grader::trust::{assess, TrustLevel};
use gauntlet_grader::{Grader, GraderConfig, Registry};

struct Case {
    what: &'static str,
    runtime: &'static str,
    /// The `test:` block, or "" for the runtime's default.
    test: &'static str,
    /// (path under tests/, content)
    files: &'static [(&'static str, &'static str)],
    level: TrustLevel,
    reason_has: &'static str,
}

const JUDGE_PY: &str = "import sys, os\nsys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, \".gauntlet\", \"runner\"))\nimport judge\n";
const JUDGE_JS: &str = "const { call } = require('../.gauntlet/runner/judge.js');\n";
const IN_PROCESS_JS: &str = "const { encode } = require('../rle.js');\n";
const CONFINE_SH: &str = "out=$(.gauntlet/runner/confine.py sh ./x.sh)\n";

fn package(root: &std::path::Path, c: &Case) -> PathBuf {
    let dir = root.join(c.what.replace(' ', "-")).join("probe");
    fs::create_dir_all(dir.join("starter")).unwrap();
    fs::create_dir_all(dir.join("solution")).unwrap();
    fs::create_dir_all(dir.join("tests")).unwrap();
    fs::write(dir.join("starter/x"), "").unwrap();
    fs::write(dir.join("solution/x"), "").unwrap();
    for (path, content) in c.files {
        fs::write(dir.join("tests").join(path), content).unwrap();
    }
    fs::write(
        dir.join("exercise.yaml"),
        format!(
            "id: probe\ntitle: Probe\nruntime: {}\nsubmission: files\nstarter:\n  files:\n    - path: x\n{}scoring: per-test\n",
            c.runtime, c.test
        ),
    )
    .unwrap();
    dir
}

#[test]
#[rustfmt::skip]
fn verdicts() {
    use TrustLevel::{Advisory, ForgeProof};
    let cases = [
        Case { what: "python judge on the channel", runtime: "python", test: "test:\n  command: [python3, tests/run.py]\n  results: channel:tap\n", files: &[("run.py", JUDGE_PY)], level: ForgeProof, reason_has: "only the runner holds" },
        Case { what: "python judge junit on the channel", runtime: "python", test: "test:\n  command: [python3, tests/run.py]\n  results: channel:junit\n", files: &[("run.py", JUDGE_PY), ("probe.py", "x = 1\n")], level: ForgeProof, reason_has: "confined" },
        Case { what: "node judge on the channel", runtime: "node", test: "test:\n  command: [node, --test, --test-reporter=tap, --test-reporter-destination=/dev/fd/3, tests/a.test.js]\n  results: channel:tap\n", files: &[("a.test.js", JUDGE_JS)], level: ForgeProof, reason_has: "only the runner holds" },
        Case { what: "shell runner that confines", runtime: "shell", test: "test:\n  command: [sh, tests/run.sh]\n  results: channel:tap\n", files: &[("run.sh", CONFINE_SH)], level: ForgeProof, reason_has: "only the runner holds" },
        Case { what: "node test loading the module itself", runtime: "node", test: "test:\n  command: [node, --test, --test-reporter=tap, --test-reporter-destination=/dev/fd/3, tests/a.test.js, tests/b.test.js]\n  results: channel:tap\n", files: &[("a.test.js", JUDGE_JS), ("b.test.js", IN_PROCESS_JS)], level: Advisory, reason_has: "tests/b.test.js does not use the bundled runner" },
        Case { what: "command naming no test file", runtime: "python", test: "test:\n  command: [python3, -m, pytest]\n  results: channel:junit\n", files: &[("test_x.py", "import x\n")], level: Advisory, reason_has: "tests/test_x.py does not use the bundled runner" },
        Case { what: "tap on stdout", runtime: "python", test: "test:\n  command: [python3, tests/run.py]\n  results: tap\n", files: &[("run.py", JUDGE_PY)], level: Advisory, reason_has: "use channel:tap" },
        Case { what: "junit file", runtime: "python", test: "test:\n  command: [python3, tests/run.py, --junit, report.xml]\n  results: junit:report.xml\n", files: &[("run.py", JUDGE_PY)], level: Advisory, reason_has: "the workspace file report.xml" },
        Case { what: "exit code", runtime: "shell", test: "test:\n  command: [sh, tests/run.sh]\n  results: exit-code\n", files: &[("run.sh", CONFINE_SH)], level: Advisory, reason_has: "exit code" },
    ];
    let tmp = tempfile::tempdir().unwrap();
    let grader = Grader::new(GraderConfig::new(tmp.path().join("data")), Registry::system()).unwrap();
    let mut failures = Vec::new();
    for c in &cases {
        let dir = package(tmp.path(), c);
        let ex = exercise::load(&dir, &Maxima::default()).unwrap_or_else(|e| panic!("{}: {e}", c.what));
        let trust = grader.trust(&ex).unwrap();
        if trust.level != c.level || !trust.reason.contains(c.reason_has) {
            failures.push(format!("{}: got {} ({}), want {} with {:?}", c.what, trust.level, trust.reason, c.level, c.reason_has));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The bundled exercises whose test framework loads the learner's code into its own
/// process (pytest, jest): their results are advisory by nature, and say so.
const IN_PROCESS_FRAMEWORKS: [&str; 2] = ["pytest-anagrams", "jest-isbn"];

#[test]
fn every_bundled_exercise_is_forge_proof_but_the_in_process_frameworks() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut checked = 0;
    for entry in fs::read_dir(repo.join("exercises")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("exercise.yaml").is_file() {
            continue;
        }
        let ex = exercise::load(&dir, &Maxima::default()).unwrap();
        let test = ex.test.clone().unwrap_or_else(|| {
            // The hardhat runtime's default command reports on the channel.
            exercise::TestSpec {
                command: Vec::new(),
                results: exercise::ResultsFormat::ChannelTap,
            }
        });
        let trust = assess(&ex, &test);
        let want = if IN_PROCESS_FRAMEWORKS.contains(&ex.id.as_str()) {
            TrustLevel::Advisory
        } else {
            TrustLevel::ForgeProof
        };
        assert_eq!(trust.level, want, "{}: {}", ex.id, trust.reason);
        checked += 1;
    }
    assert!(checked >= 11, "only {checked} bundled exercises found");
}
