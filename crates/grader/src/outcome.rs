//! From a sandbox report and the captured output to the result of CONTRACTS §4:
//! which outcome, which tests, which score, and the hints a learner needs in the log.

use gauntlet_exercise::{
    self as exercise, Exercise, GradeResult, Outcome, ResultsFormat, TestResult, TestSpec,
    TestStatus,
};
use gauntlet_sandbox::{Limits, Report, Status};

use crate::log::LogBuilder;

/// Is this outcome a limit the run hit (rather than a verdict on the tests)?
pub fn is_limit(o: Outcome) -> bool {
    matches!(
        o,
        Outcome::WallTimeout
            | Outcome::IdleTimeout
            | Outcome::CpuTimeout
            | Outcome::MemoryLimit
            | Outcome::OutputLimit
    )
}

fn secs(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

/// A result for a job that could not be run through no fault of the submission.
pub fn internal_error(log: String) -> GradeResult {
    GradeResult {
        outcome: Outcome::InternalError,
        score: 0,
        points: 0,
        max_points: 0,
        tests: Vec::new(),
        log,
        duration_ms: 0,
    }
}

/// The limit the run hit, its outcome, and the line that explains it to a learner.
fn limit_hit(report: &Report, limits: &Limits) -> Option<(Outcome, String)> {
    Some(match report.status {
        Status::WallTimeout => (
            Outcome::WallTimeout,
            format!(
                "time limit reached: the tests ran for {} and were stopped",
                secs(limits.wall_time)
            ),
        ),
        Status::IdleTimeout => {
            let idle = limits.idle_timeout.map(secs).unwrap_or_default();
            (
                Outcome::IdleTimeout,
                format!(
                    "no output for {idle}: is the program waiting for input or stuck in a loop?"
                ),
            )
        }
        Status::CpuTimeout => (
            Outcome::CpuTimeout,
            format!(
                "CPU time limit reached ({}): is there an endless loop or a very slow algorithm?",
                secs(limits.cpu_time)
            ),
        ),
        Status::MemoryLimit => (
            Outcome::MemoryLimit,
            format!(
                "memory limit reached ({}): the program was stopped",
                mib(limits.memory)
            ),
        ),
        Status::OutputLimit => (
            Outcome::OutputLimit,
            format!(
                "output limit reached ({} KiB): is something printing in a loop?",
                limits.output_limit >> 10
            ),
        ),
        _ => return None,
    })
}

/// Judges a finished run.
pub fn judge(
    ex: &Exercise,
    test: &TestSpec,
    limits: &Limits,
    report: Report,
    mut log: LogBuilder<'_>,
) -> GradeResult {
    let limit = limit_hit(&report, limits);
    if let Some((_, hint)) = &limit {
        log.note(hint);
    }
    match report.status {
        Status::PidsLimit => log.note(&format!(
            "process limit reached ({} processes): does the program start processes in a loop?",
            limits.pids
        )),
        Status::Signaled => log.note(&format!(
            "the test command was killed by signal {}",
            report.signal.unwrap_or(0)
        )),
        Status::SetupError => log.note("the sandbox could not be set up for this run"),
        _ => {}
    }
    if report.status == Status::SetupError {
        let (log, _) = log.finish();
        return GradeResult {
            duration_ms: report.wall_ms,
            ..internal_error(log)
        };
    }

    let mut tests = parse_tests(test, &report, &mut log);
    let (log_text, _) = log.finish();
    let ran_cleanly = report.status == Status::Exited && report.exit_code == Some(0);

    let outcome = if let Some((outcome, hint)) = limit {
        tests.push(TestResult {
            name: "limits".into(),
            status: TestStatus::Error,
            message: Some(hint),
        });
        outcome
    } else if tests.is_empty() {
        if ran_cleanly {
            tests.push(TestResult {
                name: "results".into(),
                status: TestStatus::Error,
                message: Some("the test command reported no results".into()),
            });
            Outcome::Failed
        } else if report.status == Status::PidsLimit {
            Outcome::Failed
        } else {
            Outcome::CompileError
        }
    } else {
        if matches!(report.status, Status::Signaled | Status::PidsLimit) {
            tests.push(TestResult {
                name: "test run".into(),
                status: TestStatus::Error,
                message: Some("the test run was cut short".into()),
            });
        }
        Outcome::Failed
    };
    let s = exercise::score(&tests, ex.scoring);
    let outcome = if outcome == Outcome::Failed && s.score == 100 {
        Outcome::Passed
    } else {
        outcome
    };
    GradeResult {
        outcome,
        score: s.score,
        points: s.points,
        max_points: s.max_points,
        tests,
        log: log_text,
        duration_ms: report.wall_ms,
    }
}

fn parse_tests(test: &TestSpec, report: &Report, log: &mut LogBuilder<'_>) -> Vec<TestResult> {
    match &test.results {
        ResultsFormat::Tap => exercise::parse_tap(&String::from_utf8_lossy(log.stdout())),
        ResultsFormat::Junit(path) => match report.collected.first().and_then(Option::as_ref) {
            Some(bytes) => match exercise::parse_junit(bytes) {
                Ok(tests) => tests,
                Err(e) => {
                    log.note(&format!("could not read {}: {e}", path.as_str()));
                    Vec::new()
                }
            },
            None => Vec::new(),
        },
        ResultsFormat::ExitCode => match (report.status, report.exit_code) {
            (Status::Exited, Some(code)) => vec![TestResult {
                name: "exit code".into(),
                status: if code == 0 {
                    TestStatus::Pass
                } else {
                    TestStatus::Fail
                },
                message: (code != 0).then(|| format!("the test command exited with code {code}")),
            }],
            _ => Vec::new(),
        },
    }
}
