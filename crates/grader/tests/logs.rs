//! The log kept for the learner and the flood guard, in real runs: a long test report
//! neither stops the run nor loses its closing summary; a flood says whose output it
//! was; Gauntlet's own lines come after the output they follow.

use std::fs;
use std::path::{Path, PathBuf};

use gauntlet_exercise::{self as exercise, GradeResult, Maxima, Outcome};
use gauntlet_grader::{Grader, GraderConfig, Registry, Submission};

/// A shell exercise whose hidden test is `run_sh`; the submission is `answer.sh`.
fn package(root: &Path, id: &str, limits: &str, run_sh: &str) -> PathBuf {
    let dir = root.join(id);
    for sub in ["starter", "solution", "tests"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    fs::write(dir.join("starter/answer.sh"), "").unwrap();
    fs::write(dir.join("solution/answer.sh"), "").unwrap();
    fs::write(dir.join("tests/run.sh"), run_sh).unwrap();
    fs::write(
        dir.join("exercise.yaml"),
        format!(
            "id: {id}\ntitle: Log probe\nruntime: shell\nsubmission: files\nstarter:\n  files:\n    - path: answer.sh\n\
             limits:\n  wall_time: 30s\n{limits}test:\n  command: [sh, tests/run.sh]\n  results: tap\nscoring: per-test\n"
        ),
    )
    .unwrap();
    dir
}

fn grade(root: &Path, dir: &Path) -> GradeResult {
    let grader = Grader::new(GraderConfig::new(root.join("data")), Registry::system()).unwrap();
    let ex = exercise::load(dir, &Maxima::default()).unwrap();
    grader
        .grade(
            &ex,
            &Submission::PackageDir(dir.join("solution")),
            &gauntlet_grader::local_job_id(),
            &mut |_| {},
        )
        .unwrap()
}

#[test]
fn a_long_report_neither_stops_the_run_nor_loses_its_summary() {
    let tmp = tempfile::tempdir().unwrap();
    // 103 failures with tracebacks, ~150 KB on stderr, then unittest's closing lines
    // (issue 12: 94 KB of unittest output ended in output_limit).
    let run = r#"
i=1
while [ $i -le 103 ]; do
    echo "======================================================================" >&2
    echo "FAIL: test_case_$i (test_words.TestWords.test_case_$i)" >&2
    echo "----------------------------------------------------------------------" >&2
    j=0; while [ $j -lt 12 ]; do echo "  File \"/workspace/words.py\", line $j, in reverse_words: AssertionError: 'a b' != 'b a'" >&2; j=$((j + 1)); done
    i=$((i + 1))
done
echo "Ran 103 tests in 0.412s" >&2
echo "" >&2
echo "FAILED (failures=103)" >&2
echo "1..1"
echo "not ok 1 - the words come back reversed"
"#;
    let dir = package(tmp.path(), "long-report", "", run);
    let r = grade(tmp.path(), &dir);
    assert_eq!(r.outcome, Outcome::Failed, "{}", r.log);
    assert!(r.log.len() <= 64 << 10, "{} bytes", r.log.len());
    assert!(
        r.log.contains("FAIL: test_case_1 "),
        "the head is kept:\n{}",
        &r.log[..500]
    );
    assert!(
        r.log.contains("[gauntlet] … ") && r.log.contains(" cut here ("),
        "a marker says what was cut"
    );
    assert!(
        r.log.contains(
            "[test:err] Ran 103 tests in 0.412s\n[test:err] \n[test:err] FAILED (failures=103)\n"
        ),
        "the closing summary survives:\n{}",
        &r.log[r.log.len().saturating_sub(800)..]
    );
}

#[test]
fn a_flood_says_whose_output_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let run = "echo 1..1\nwhile :; do echo 'still going round'; done >&2\n";
    let dir = package(tmp.path(), "flood", "", run);
    let r = grade(tmp.path(), &dir);
    assert_eq!(r.outcome, Outcome::OutputLimit, "{}", r.log);
    assert!(r.log.len() <= 64 << 10, "{} bytes", r.log.len());
    let hint = r
        .log
        .lines()
        .find(|l| l.starts_with("[gauntlet] output limit reached"))
        .unwrap_or_else(|| panic!("no hint in\n{}", &r.log[r.log.len() - 600..]));
    assert!(
        hint.contains("printed more than 1MiB")
            && hint.contains("on stderr, \"still going round\": is something printing in a loop?"),
        "{hint}"
    );
}

#[test]
fn gauntlet_lines_come_after_the_output_they_follow() {
    let tmp = tempfile::tempdir().unwrap();
    let run = "echo 1..2\necho ok 1 - first\nprintf 'working on the second test...'\nsleep 30\n";
    let dir = package(tmp.path(), "idle", "  idle_timeout: 1s\n", run);
    let r = grade(tmp.path(), &dir);
    assert_eq!(r.outcome, Outcome::IdleTimeout, "{}", r.log);
    let working = r.log.find("[test:out] working on the second test...");
    let idle = r.log.find("[gauntlet] no output for 1 s");
    assert!(
        working.is_some() && idle.is_some() && working < idle,
        "out of order:\n{}",
        r.log
    );
}
