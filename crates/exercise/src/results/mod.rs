//! Test results: TAP (13 and 14), JUnit XML (pytest, node, mocha, Surefire) and the exit
//! code, each turned into [`TestResult`]s; plus the result JSON (docs/results.md).
//!
//! Results come from untrusted programs, so parsing never expands anything (no YAML is
//! parsed in TAP diagnostics, no XML entity beyond the predefined ones and character
//! references), every name and message is capped, and so is the number of tests.

use serde::{Deserialize, Serialize};

mod junit;
mod tap;

pub use junit::parse_junit;
pub use tap::parse_tap;

/// Longest test name kept, in characters; longer ones are cut and end in `…`.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest message kept, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Most tests kept from one run; the rest are dropped.
pub const MAX_TESTS: usize = 10_000;
/// Largest JUnit XML file parsed.
pub const MAX_JUNIT_BYTES: usize = 8 << 20;
/// Most bytes read from the results channel; a runner that sends more gets no
/// results at all (a cut-off stream is never taken as complete).
pub const MAX_RESULTS_BYTES: usize = 8 << 20;

/// Outcome of a graded submission (docs/results.md lists each with its meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    CompileError,
    WallTimeout,
    IdleTimeout,
    CpuTimeout,
    MemoryLimit,
    OutputLimit,
    InternalError,
}

impl Outcome {
    pub const ALL: [Outcome; 9] = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::CompileError,
        Outcome::WallTimeout,
        Outcome::IdleTimeout,
        Outcome::CpuTimeout,
        Outcome::MemoryLimit,
        Outcome::OutputLimit,
        Outcome::InternalError,
    ];

    /// The outcome as the result JSON spells it (`compile_error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::CompileError => "compile_error",
            Outcome::WallTimeout => "wall_timeout",
            Outcome::IdleTimeout => "idle_timeout",
            Outcome::CpuTimeout => "cpu_timeout",
            Outcome::MemoryLimit => "memory_limit",
            Outcome::OutputLimit => "output_limit",
            Outcome::InternalError => "internal_error",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    Pass,
    Fail,
    Error,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    pub name: String,
    pub status: TestStatus,
    pub message: Option<String>,
}

/// The result JSON (docs/results.md documents every field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeResult {
    pub outcome: Outcome,
    pub score: u32,
    pub points: u32,
    pub max_points: u32,
    pub tests: Vec<TestResult>,
    pub log: String,
    pub duration_ms: u64,
    /// The commit graded, for a git submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultsError {
    #[error("results file is larger than the {max}-byte cap")]
    TooLarge { max: usize },
    #[error("results file holds no JUnit XML (no <testsuites> or <testsuite> element)")]
    NoXml,
    #[error("results file is not well-formed XML at byte {position}: {reason}")]
    Malformed { position: u64, reason: String },
}

fn cap(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

fn test(name: &str, status: TestStatus, message: Option<String>) -> TestResult {
    TestResult {
        name: cap(name, MAX_NAME_CHARS),
        status,
        message: message
            .map(|m| cap(&m, MAX_MESSAGE_CHARS))
            .filter(|m| !m.is_empty()),
    }
}

// ---------------------------------------------------------------------------
// Exit code

/// `exit-code` results: one test, passed when the command exited 0. `None` means the
/// command did not exit normally (a signal, a timeout).
pub fn parse_exit_code(exit_code: Option<i32>) -> Vec<TestResult> {
    let (status, message) = match exit_code {
        Some(0) => (TestStatus::Pass, None),
        Some(c) => (TestStatus::Fail, Some(format!("exited with code {c}"))),
        None => (TestStatus::Error, Some("did not exit normally".to_owned())),
    };
    vec![test("exit code", status, message)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_cuts_at_a_char_boundary() {
        let s = "é".repeat(MAX_NAME_CHARS + 5);
        let c = cap(&s, MAX_NAME_CHARS);
        assert_eq!(c.chars().count(), MAX_NAME_CHARS + 1);
        assert!(c.ends_with('…'));
    }

    #[test]
    fn exit_code() {
        assert_eq!(parse_exit_code(Some(0))[0].status, TestStatus::Pass);
        assert_eq!(parse_exit_code(Some(1))[0].status, TestStatus::Fail);
        assert_eq!(parse_exit_code(None)[0].status, TestStatus::Error);
    }
}
