//! From a sandbox report and the captured output to the result (docs/results.md):
//! which outcome, which tests, which score, and the hints a learner needs in the log.

use gauntlet_exercise::{
    self as exercise, GradeResult, Outcome, ResultsFormat, Scoring, TestResult, TestSpec,
    TestStatus,
};
use gauntlet_sandbox::{Limits, Report, Status};

use crate::log::{approx_size, Flood, LogBuilder, Source};

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
    if ms.is_multiple_of(1000) {
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
        commit: None,
    }
}

/// A submission that never became something to test: `compile_error`, no tests,
/// `log` says why (a failed build step, after `duration_ms` of it).
pub fn compile_error(log: String, duration_ms: u64) -> GradeResult {
    GradeResult {
        outcome: Outcome::CompileError,
        duration_ms,
        ..internal_error(log)
    }
}

/// The result of a submission refused once it was fetched (a git repository the rules
/// refuse): `compile_error`, nothing ran, the log says why.
pub fn refused_submission(why: &str) -> GradeResult {
    compile_error(format!("[gauntlet] {why}\n"), 0)
}

/// The limit the run hit, its outcome, and the line that explains it to a learner.
fn limit_hit(report: &Report, limits: &Limits, flood: &Flood) -> Option<(Outcome, String)> {
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
        Status::OutputLimit => (Outcome::OutputLimit, flood_hint(report, limits, flood)),
        _ => return None,
    })
}

/// Whose output filled the flood guard, and what to do about it: a line printed over
/// and over is a loop; a long report is not, and needs a larger `limits.output`.
fn flood_hint(report: &Report, limits: &Limits, flood: &Flood) -> String {
    let mut hint = format!(
        "output limit reached: the test command printed more than {} ({} on stdout, {} on \
         stderr) and was stopped",
        gauntlet_exercise::units::Size(limits.output_limit),
        approx_size(report.stdout_bytes),
        approx_size(report.stderr_bytes),
    );
    match &flood.most_repeated {
        Some((line, n, source)) if *n >= 50 && n * 2 >= flood.lines => {
            let stream = if *source == Source::Err {
                "stderr"
            } else {
                "stdout"
            };
            hint.push_str(&format!(
                "; one line came {n} times on {stream}, {line:?}: is something printing in a loop?"
            ));
        }
        _ => hint.push_str(
            "; no line repeats much, so this looks like a long report rather than a loop: \
             the exercise's limits.output can be raised",
        ),
    }
    hint
}

/// Judges a finished run.
pub fn judge(
    scoring: Scoring,
    test: &TestSpec,
    limits: &Limits,
    report: Report,
    mut log: LogBuilder<'_>,
) -> GradeResult {
    let limit = limit_hit(&report, limits, &log.flood());
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
        Status::SetupError => log.note(&format!(
            "the test command could not be started: {}",
            report.error.as_deref().unwrap_or("sandbox set-up failed")
        )),
        _ => {}
    }
    if report.status == Status::SetupError {
        let (log, _) = log.finish();
        return GradeResult {
            duration_ms: report.wall_ms,
            commit: None,
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
    let s = exercise::score(&tests, scoring);
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
        commit: None,
    }
}

fn parse_tests(test: &TestSpec, report: &Report, log: &mut LogBuilder<'_>) -> Vec<TestResult> {
    match &test.results {
        ResultsFormat::ChannelTap | ResultsFormat::ChannelJunit => channel_tests(test, report, log),
        ResultsFormat::Tap => exercise::parse_tap(&String::from_utf8_lossy(log.stdout())),
        // A file written by a run that did not end on its own may be a learner's
        // forgery (it killed the runner, then wrote the report): not trusted.
        ResultsFormat::Junit(_) if report.status != Status::Exited => Vec::new(),
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

/// Results from the results channel. Only the runner holds it, so what arrived is the
/// runner's whatever the run's status: a runner cut short sent fewer results, never
/// forged ones.
fn channel_tests(test: &TestSpec, report: &Report, log: &mut LogBuilder<'_>) -> Vec<TestResult> {
    if report.layers.isolation == gauntlet_sandbox::Isolation::Gvisor {
        // gVisor (Debian's runsc, 2022-12) has no Landlock, and its mount namespaces
        // are not private: confine.py has nothing to hide the tests with there.
        log.note(
            "warning: under gVisor the code under test is not confined within the run: it \
             may read the hidden tests and signal the runner (the results channel still \
             keeps the score out of its reach)",
        );
    } else if report.layers.landlock_abi < 6 {
        log.note(&format!(
            "warning: this host's Landlock (ABI {}) cannot fully confine the code under test: \
             it may {}",
            report.layers.landlock_abi,
            if report.layers.landlock_abi == 0 {
                "read the hidden tests and signal the runner"
            } else {
                "signal the runner"
            }
        ));
    }
    let Some(bytes) = &report.results else {
        let sent = report.results_bytes.unwrap_or(0);
        if sent > exercise::results::MAX_RESULTS_BYTES as u64 {
            log.note(&format!(
                "the test runner sent {sent} bytes of results, over the {} MiB cap: none were read",
                exercise::results::MAX_RESULTS_BYTES >> 20
            ));
        }
        return Vec::new();
    };
    if test.results == ResultsFormat::ChannelJunit {
        if bytes.is_empty() {
            return Vec::new();
        }
        return match exercise::parse_junit(bytes) {
            Ok(tests) => tests,
            Err(e) => {
                log.note(&format!("could not read the JUnit results: {e}"));
                Vec::new()
            }
        };
    }
    let text = String::from_utf8_lossy(bytes);
    let mut tests = exercise::parse_tap(&text);
    let clean = report.status == Status::Exited && report.exit_code == Some(0);
    if !tests.is_empty() && !has_plan(&text) && !clean {
        tests.push(TestResult {
            name: "test plan".into(),
            status: TestStatus::Error,
            message: Some(
                "the TAP results have no plan (1..N) and the test command did not end \
                 cleanly: tests after the last result may be missing"
                    .into(),
            ),
        });
    }
    tests
}

/// Whether TAP text holds a top-level plan line (`1..N`).
fn has_plan(tap: &str) -> bool {
    tap.lines().any(|l| {
        l.strip_prefix("1..").is_some_and(|n| {
            n.trim_end()
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_digit())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_exercise::RelPath;
    use gauntlet_sandbox::OutputSink;
    use gauntlet_sandbox::{Layers, Stream};

    fn report(status: Status, exit_code: Option<i32>, collected: Option<&str>) -> Report {
        Report {
            status,
            exit_code,
            signal: (status == Status::Signaled).then_some(11),
            wall_ms: 7,
            cpu_ms: 3,
            peak_memory_bytes: 1 << 20,
            stdout_bytes: 0,
            stderr_bytes: 0,
            truncated: false,
            layers: Layers::default(),
            error: (status == Status::SetupError).then(|| "exec: No such file or directory".into()),
            collected: vec![collected.map(|s| s.as_bytes().to_vec())],
            results: None,
            results_bytes: None,
            warm: None,
        }
    }

    struct Case {
        results: ResultsFormat,
        scoring: Scoring,
        stdout: &'static str,
        junit: Option<&'static str>,
        status: Status,
        exit_code: Option<i32>,
        outcome: Outcome,
        score: u32,
        points: u32,
        max_points: u32,
        log_has: &'static str,
    }

    const TAP_2_OF_3: &str = "TAP version 13\n1..3\nok 1 - a\nnot ok 2 - b\nok 3 - c\n";
    const TAP_ALL: &str = "1..2\nok 1 - a\nok 2 - b\n";
    const JUNIT_ONE_FAIL: &str = r#"<testsuite><testcase name="x"/><testcase name="y"><failure message="no"/></testcase></testsuite>"#;

    fn check(c: Case) {
        let mut lines = Vec::new();
        let mut on_line = |l: &crate::log::LogLine| lines.push(l.render());
        let mut log = LogBuilder::new(&[], 1 << 16, 1 << 16, &mut on_line);
        log.output(Stream::Stdout, c.stdout.as_bytes());
        let test = TestSpec {
            command: vec!["run".into()],
            results: c.results.clone(),
        };
        let limits = Limits::default();
        let mut report = report(c.status, c.exit_code, c.junit);
        report.layers.landlock_abi = 7;
        if c.results.is_channel() {
            // `junit` is then what arrived on the results channel.
            report.collected = vec![None];
            report.results = c.junit.map(|s| s.as_bytes().to_vec());
            report.results_bytes = Some(c.junit.map_or(0, |s| s.len() as u64));
        }
        let r = judge(c.scoring, &test, &limits, report, log);
        let what = format!("{:?} {:?} {:?}", c.results, c.status, c.exit_code);
        assert_eq!(r.outcome, c.outcome, "{what}: {r:#?}");
        assert_eq!(
            (r.score, r.points, r.max_points),
            (c.score, c.points, c.max_points),
            "{what}: {r:#?}"
        );
        assert!(
            r.log.contains(c.log_has),
            "{what}: log {:?} lacks {:?}",
            r.log,
            c.log_has
        );
        assert_eq!(r.duration_ms, 7);
    }

    #[test]
    #[rustfmt::skip]
    fn outcomes() {
        // (For the channel formats, `junit` is what arrived on the channel.)
        use Outcome as O;
        use ResultsFormat as F;
        use Status as S;
        let junit = F::Junit(RelPath::parse("report.xml").unwrap());
        let cases = [
            // Verdicts on the tests.
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: TAP_ALL, junit: None, status: S::Exited, exit_code: Some(0), outcome: O::Passed, score: 100, points: 2, max_points: 2, log_has: "ok 2 - b" },
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: TAP_2_OF_3, junit: None, status: S::Exited, exit_code: Some(1), outcome: O::Failed, score: 66, points: 2, max_points: 3, log_has: "not ok 2" },
            Case { results: F::Tap, scoring: Scoring::AllOrNothing, stdout: TAP_2_OF_3, junit: None, status: S::Exited, exit_code: Some(1), outcome: O::Failed, score: 0, points: 0, max_points: 3, log_has: "" },
            Case { results: junit.clone(), scoring: Scoring::PerTest, stdout: "", junit: Some(JUNIT_ONE_FAIL), status: S::Exited, exit_code: Some(1), outcome: O::Failed, score: 50, points: 1, max_points: 2, log_has: "" },
            Case { results: F::ExitCode, scoring: Scoring::AllOrNothing, stdout: "", junit: None, status: S::Exited, exit_code: Some(0), outcome: O::Passed, score: 100, points: 1, max_points: 1, log_has: "" },
            Case { results: F::ExitCode, scoring: Scoring::AllOrNothing, stdout: "", junit: None, status: S::Exited, exit_code: Some(3), outcome: O::Failed, score: 0, points: 0, max_points: 1, log_has: "" },
            // No results: the command failed before any test existed.
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: "SyntaxError: invalid syntax\n", junit: None, status: S::Exited, exit_code: Some(1), outcome: O::CompileError, score: 0, points: 0, max_points: 0, log_has: "SyntaxError" },
            Case { results: junit.clone(), scoring: Scoring::PerTest, stdout: "", junit: None, status: S::Exited, exit_code: Some(2), outcome: O::CompileError, score: 0, points: 0, max_points: 0, log_has: "" },
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: "nothing to see\n", junit: None, status: S::Exited, exit_code: Some(0), outcome: O::Failed, score: 0, points: 0, max_points: 1, log_has: "" },
            Case { results: junit.clone(), scoring: Scoring::PerTest, stdout: "", junit: Some("<<garbage"), status: S::Exited, exit_code: Some(0), outcome: O::Failed, score: 0, points: 0, max_points: 1, log_has: "could not read report.xml" },
            // Limits: the partial results stay, a limit test makes 100 impossible.
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: "ok 1 - a\n", junit: None, status: S::WallTimeout, exit_code: None, outcome: O::WallTimeout, score: 50, points: 1, max_points: 2, log_has: "time limit reached" },
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: "", junit: None, status: S::IdleTimeout, exit_code: None, outcome: O::IdleTimeout, score: 0, points: 0, max_points: 1, log_has: "no output for 5 s: is the program waiting for input or stuck in a loop?" },
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: "", junit: None, status: S::CpuTimeout, exit_code: None, outcome: O::CpuTimeout, score: 0, points: 0, max_points: 1, log_has: "CPU time limit" },
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: "", junit: None, status: S::MemoryLimit, exit_code: None, outcome: O::MemoryLimit, score: 0, points: 0, max_points: 1, log_has: "memory limit reached (256 MiB)" },
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: "", junit: None, status: S::OutputLimit, exit_code: None, outcome: O::OutputLimit, score: 0, points: 0, max_points: 1, log_has: "output limit reached: the test command printed more than 64KiB (0 bytes on stdout, 0 bytes on stderr) and was stopped; no line repeats much" },
            // The learner's program broke the run.
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: TAP_ALL, junit: None, status: S::PidsLimit, exit_code: None, outcome: O::Failed, score: 66, points: 2, max_points: 3, log_has: "process limit reached (64 processes)" },
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: TAP_ALL, junit: None, status: S::Signaled, exit_code: None, outcome: O::Failed, score: 66, points: 2, max_points: 3, log_has: "killed by signal 11" },
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: "", junit: None, status: S::Signaled, exit_code: None, outcome: O::CompileError, score: 0, points: 0, max_points: 0, log_has: "killed by signal 11" },
            // A JUnit file from a run that was killed is not trusted (a forged report).
            Case { results: junit.clone(), scoring: Scoring::PerTest, stdout: "", junit: Some(r#"<testsuite><testcase name="x"/></testsuite>"#), status: S::Signaled, exit_code: None, outcome: O::CompileError, score: 0, points: 0, max_points: 0, log_has: "killed by signal 11" },
            // The results channel: only what the runner sent counts, never stdout, and
            // whatever the run's status (nothing else can write it).
            Case { results: F::ChannelTap, scoring: Scoring::PerTest, stdout: TAP_ALL, junit: Some(TAP_2_OF_3), status: S::Exited, exit_code: Some(1), outcome: O::Failed, score: 66, points: 2, max_points: 3, log_has: "" },
            Case { results: F::ChannelTap, scoring: Scoring::PerTest, stdout: TAP_ALL, junit: None, status: S::Exited, exit_code: Some(1), outcome: O::CompileError, score: 0, points: 0, max_points: 0, log_has: "ok 2 - b" },
            Case { results: F::ChannelTap, scoring: Scoring::PerTest, stdout: "", junit: Some(TAP_ALL), status: S::Exited, exit_code: Some(0), outcome: O::Passed, score: 100, points: 2, max_points: 2, log_has: "" },
            // A TAP stream without its plan from a run that did not end cleanly may be cut short.
            Case { results: F::ChannelTap, scoring: Scoring::PerTest, stdout: "", junit: Some("ok 1 - a\nok 2 - b\n"), status: S::Exited, exit_code: Some(0), outcome: O::Passed, score: 100, points: 2, max_points: 2, log_has: "" },
            Case { results: F::ChannelTap, scoring: Scoring::PerTest, stdout: "", junit: Some("ok 1 - a\nok 2 - b\n"), status: S::Exited, exit_code: Some(1), outcome: O::Failed, score: 66, points: 2, max_points: 3, log_has: "" },
            Case { results: F::ChannelTap, scoring: Scoring::PerTest, stdout: "", junit: Some("ok 1 - a\n"), status: S::Signaled, exit_code: None, outcome: O::Failed, score: 33, points: 1, max_points: 3, log_has: "killed by signal 11" },
            Case { results: F::ChannelJunit, scoring: Scoring::PerTest, stdout: "", junit: Some(JUNIT_ONE_FAIL), status: S::Exited, exit_code: Some(1), outcome: O::Failed, score: 50, points: 1, max_points: 2, log_has: "" },
            Case { results: F::ChannelJunit, scoring: Scoring::PerTest, stdout: "", junit: Some(JUNIT_ONE_FAIL), status: S::Signaled, exit_code: None, outcome: O::Failed, score: 33, points: 1, max_points: 3, log_has: "" },
            Case { results: F::ChannelJunit, scoring: Scoring::PerTest, stdout: "", junit: Some("<<garbage"), status: S::Exited, exit_code: Some(0), outcome: O::Failed, score: 0, points: 0, max_points: 1, log_has: "could not read the JUnit results" },
            Case { results: F::ChannelJunit, scoring: Scoring::PerTest, stdout: "", junit: Some(""), status: S::Exited, exit_code: Some(1), outcome: O::CompileError, score: 0, points: 0, max_points: 0, log_has: "" },
            // Gauntlet's own failure is never the learner's.
            Case { results: F::Tap, scoring: Scoring::PerTest, stdout: "", junit: None, status: S::SetupError, exit_code: None, outcome: O::InternalError, score: 0, points: 0, max_points: 0, log_has: "could not be started: exec: No such file" },
        ];
        for c in cases {
            check(c);
        }
    }

    fn judge_channel(report: Report) -> GradeResult {
        let mut on_line = |_: &crate::log::LogLine| {};
        let log = LogBuilder::new(&[], 1 << 16, 1 << 16, &mut on_line);
        let test = TestSpec {
            command: vec!["run".into()],
            results: ResultsFormat::ChannelTap,
        };
        judge(Scoring::PerTest, &test, &Limits::default(), report, log)
    }

    #[test]
    fn over_cap_results_are_not_read_and_say_so() {
        let mut r = report(Status::Exited, Some(0), None);
        r.layers.landlock_abi = 7;
        r.results = None;
        r.results_bytes = Some(9 << 20);
        let g = judge_channel(r);
        assert_eq!(g.score, 0);
        assert!(
            g.log
                .contains("sent 9437184 bytes of results, over the 8 MiB cap"),
            "{}",
            g.log
        );
    }

    #[test]
    fn a_host_whose_landlock_cannot_scope_signals_says_so() {
        for (abi, says) in [
            (0, Some("read the hidden tests")),
            (5, Some("signal the runner")),
            (6, None),
        ] {
            let mut r = report(Status::Exited, Some(0), None);
            r.layers.landlock_abi = abi;
            r.results = Some(TAP_ALL.as_bytes().to_vec());
            let g = judge_channel(r);
            assert_eq!(g.score, 100);
            match says {
                Some(text) => assert!(g.log.contains(text), "ABI {abi}: {}", g.log),
                None => assert!(!g.log.contains("Landlock"), "ABI {abi}: {}", g.log),
            }
        }
    }

    #[test]
    fn the_flood_guard_says_whose_output_it_was() {
        let run = |lines: &[(Stream, &str)]| {
            let mut on_line = |_: &crate::log::LogLine| {};
            let mut log = LogBuilder::new(&[], 1 << 16, 1 << 16, &mut on_line);
            for (stream, text) in lines {
                log.output(*stream, text.as_bytes());
            }
            let mut r = report(Status::OutputLimit, None, None);
            r.stdout_bytes = 1 << 20;
            r.stderr_bytes = 2048;
            let test = TestSpec {
                command: vec!["run".into()],
                results: ResultsFormat::Tap,
            };
            judge(Scoring::PerTest, &test, &Limits::default(), r, log)
        };
        let looped: Vec<(Stream, &str)> = std::iter::once((Stream::Stdout, "1..3\n"))
            .chain(std::iter::repeat_n((Stream::Stderr, "spam\n"), 200))
            .collect();
        let g = run(&looped);
        assert_eq!(g.outcome, Outcome::OutputLimit);
        assert!(
            g.log
                .contains("printed more than 64KiB (1 MiB on stdout, 2 KiB on stderr)")
                && g.log.contains(
                    "one line came 200 times on stderr, \"spam\": is something printing in a loop?"
                ),
            "{}",
            g.log
        );
        let report: Vec<String> = (0..200).map(|i| format!("FAIL: test_{i}\n")).collect();
        let report: Vec<(Stream, &str)> = report
            .iter()
            .map(|l| (Stream::Stderr, l.as_str()))
            .collect();
        let g = run(&report);
        assert!(
            g.log
                .contains("looks like a long report rather than a loop")
                && !g.log.contains("printing in a loop"),
            "{}",
            g.log
        );
    }
}
