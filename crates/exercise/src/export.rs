//! A result in the formats other tools read: Exercism's `results.json` (version 3) and
//! JUnit XML, besides Gauntlet's own JSON. `gauntlet grade --format` and the API's
//! `GET /api/v1/submissions/{id}?format=` use these; docs/results.md documents the
//! mapping field by field.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::Serialize;

use crate::results::{GradeResult, Outcome, TestResult, TestStatus};

/// Longest top-level `message` of an Exercism result, in characters (its spec's cap).
pub const EXERCISM_MAX_MESSAGE_CHARS: usize = 65_535;

/// The formats a result can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultFormat {
    /// Gauntlet's own result JSON (docs/results.md).
    #[default]
    Json,
    /// Exercism's test-runner `results.json`, version 3.
    Exercism,
    /// JUnit XML: one `<testsuite>` named after the exercise.
    Junit,
}

impl ResultFormat {
    pub const ALL: [ResultFormat; 3] = [
        ResultFormat::Json,
        ResultFormat::Exercism,
        ResultFormat::Junit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResultFormat::Json => "json",
            ResultFormat::Exercism => "exercism",
            ResultFormat::Junit => "junit",
        }
    }

    /// The media type of a document in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ResultFormat::Json | ResultFormat::Exercism => "application/json",
            ResultFormat::Junit => "application/xml; charset=utf-8",
        }
    }
}

impl fmt::Display for ResultFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown result format {0:?}: expected one of json, exercism, junit")]
pub struct UnknownFormat(pub String);

impl FromStr for ResultFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResultFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.chars().take(40).collect()))
    }
}

/// Exercism's `results.json`, version 3 (its test-runner interface): `status` is
/// `pass`, `fail` or `error`; `message` is set only for `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExercismResults {
    pub version: u32,
    pub status: ExercismStatus,
    /// Why no test could run (`status: error`); null otherwise.
    pub message: Option<String>,
    /// Every test, in the order the run reported them; left out when there is none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<ExercismTest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExercismStatus {
    Pass,
    Fail,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExercismTest {
    pub name: String,
    pub status: ExercismStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The headline of an outcome that is not a verdict on the tests, as the learner sees it.
fn headline(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "every test passed",
        Outcome::Failed => "some tests did not pass",
        Outcome::CompileError => {
            "the tests could not run: the code did not compile or load (the log below says why)"
        }
        Outcome::WallTimeout => "the run was stopped: it reached its time limit",
        Outcome::IdleTimeout => "the run was stopped: it printed nothing for too long",
        Outcome::CpuTimeout => "the run was stopped: it used up its CPU time",
        Outcome::MemoryLimit => "the run was stopped: it reached its memory limit",
        Outcome::OutputLimit => "the run was stopped: it printed more than its output limit",
        Outcome::InternalError => {
            "Gauntlet could not grade this submission (not the submission's fault); try again later"
        }
    }
}

/// A result as Exercism's `results.json` v3.
///
/// - `pass` when the outcome is `passed`; `error` when the outcome is `compile_error` or
///   `internal_error`, or when no test has a `pass` or `fail` status (nothing was
///   executed); `fail` otherwise (a limit hit after some tests ran is a `fail`, with the
///   `limits` test as an `error`).
/// - `message` (only for `error`): the outcome's headline, the messages of the error
///   tests (the limit hit, say), then the log, cut from the front to the spec's 65 535
///   characters so the end of the log (where the error is) stays.
/// - Tests keep their names and messages; `skip` has no Exercism status and becomes
///   `fail` with the message `skipped` (a skipped test counts as not passed here too).
pub fn exercism(result: &GradeResult) -> ExercismResults {
    let executed = result
        .tests
        .iter()
        .any(|t| matches!(t.status, TestStatus::Pass | TestStatus::Fail));
    let status = match result.outcome {
        Outcome::Passed => ExercismStatus::Pass,
        Outcome::CompileError | Outcome::InternalError => ExercismStatus::Error,
        _ if !executed => ExercismStatus::Error,
        _ => ExercismStatus::Fail,
    };
    let message = (status == ExercismStatus::Error).then(|| {
        let mut m = headline(result.outcome).to_owned();
        for t in result
            .tests
            .iter()
            .filter(|t| t.status == TestStatus::Error)
        {
            if let Some(msg) = &t.message {
                let _ = write!(m, "\n{}: {msg}", t.name);
            }
        }
        let log = result.log.trim_end();
        if !log.is_empty() {
            m.push_str("\n\n");
            m.push_str(log);
        }
        keep_tail(&m, EXERCISM_MAX_MESSAGE_CHARS)
    });
    ExercismResults {
        version: 3,
        status,
        message,
        tests: result.tests.iter().map(exercism_test).collect(),
    }
}

fn exercism_test(t: &TestResult) -> ExercismTest {
    let (status, message) = match t.status {
        TestStatus::Pass => (ExercismStatus::Pass, t.message.clone()),
        TestStatus::Fail => (ExercismStatus::Fail, t.message.clone()),
        TestStatus::Error => (ExercismStatus::Error, t.message.clone()),
        TestStatus::Skip => (
            ExercismStatus::Fail,
            Some(match &t.message {
                Some(m) => format!("skipped: {m}"),
                None => "skipped".to_owned(),
            }),
        ),
    };
    ExercismTest {
        name: t.name.clone(),
        status,
        message,
    }
}

/// The last `max` characters of `s`, marked as cut when anything was cut.
fn keep_tail(s: &str, max: usize) -> String {
    const MARK: &str = "[… earlier text cut]\n";
    let count = s.chars().count();
    if count <= max {
        return s.to_owned();
    }
    let keep = max - MARK.chars().count();
    let start = s
        .char_indices()
        .nth(count - keep)
        .map_or(s.len(), |(i, _)| i);
    format!("{MARK}{}", &s[start..])
}

/// A result as JUnit XML: a `<testsuites>` holding one `<testsuite name="{suite}">`
/// with the counts, the total time, the outcome, score and points as `<properties>`,
/// a `<testcase classname="{suite}">` per test (`<failure>`, `<error>` or `<skipped>`
/// with the message in both the `message` attribute and the text), and the log as
/// `<system-out>`. A result without tests (a compile error) gets one `<testcase
/// name="grading">` with an `<error>`, so no tool reads it as a clean run.
pub fn junit(result: &GradeResult, suite: &str) -> String {
    let count = |s: TestStatus| result.tests.iter().filter(|t| t.status == s).count();
    let synthetic = result.tests.is_empty().then(|| TestResult {
        name: "grading".into(),
        status: TestStatus::Error,
        message: Some(format!(
            "{}: {}",
            result.outcome.as_str(),
            headline(result.outcome)
        )),
    });
    let tests: Vec<&TestResult> = result.tests.iter().chain(synthetic.as_ref()).collect();
    let errors = count(TestStatus::Error) + usize::from(synthetic.is_some());
    let (failures, skipped) = (count(TestStatus::Fail), count(TestStatus::Skip));
    let time = format!("{:.3}", result.duration_ms as f64 / 1000.0);
    let counts = format!(
        "tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\"",
        tests.len()
    );
    let suite = attr(suite);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(x, "<testsuites name=\"gauntlet\" {counts}>");
    let _ = writeln!(x, "  <testsuite name=\"{suite}\" {counts}>");
    x.push_str("    <properties>\n");
    for (name, value) in [
        ("outcome", result.outcome.as_str().to_owned()),
        ("score", result.score.to_string()),
        ("points", result.points.to_string()),
        ("max_points", result.max_points.to_string()),
    ] {
        let _ = writeln!(
            x,
            "      <property name=\"{name}\" value=\"{}\"/>",
            attr(&value)
        );
    }
    x.push_str("    </properties>\n");
    for t in tests {
        let head = format!(
            "    <testcase name=\"{}\" classname=\"{suite}\"",
            attr(&t.name)
        );
        let tag = match t.status {
            TestStatus::Pass => {
                let _ = writeln!(x, "{head}/>");
                continue;
            }
            TestStatus::Fail => "failure",
            TestStatus::Error => "error",
            TestStatus::Skip => "skipped",
        };
        let _ = writeln!(x, "{head}>");
        match &t.message {
            Some(m) => {
                let _ = writeln!(
                    x,
                    "      <{tag} message=\"{}\">{}</{tag}>",
                    attr(m),
                    text(m)
                );
            }
            None => {
                let _ = writeln!(x, "      <{tag}/>");
            }
        }
        x.push_str("    </testcase>\n");
    }
    if !result.log.is_empty() {
        let _ = writeln!(x, "    <system-out>{}</system-out>", text(&result.log));
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// Characters XML 1.0 cannot carry at all (most C0 controls, U+FFFE/U+FFFF) become
/// U+FFFD: a learner's output may hold any of them.
fn allowed(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
        c => c,
    }
}

/// Escaped for an attribute value. Written by hand rather than with quick-xml's
/// `escape`, because line breaks and tabs must become character references here:
/// attribute-value normalisation would otherwise turn them into spaces.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(allowed) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped for element text (a `\r` as a reference, so it is not normalised away).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(allowed) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_refuse_with_the_choices() {
        for f in ResultFormat::ALL {
            assert_eq!(f.as_str().parse::<ResultFormat>(), Ok(f));
        }
        assert_eq!(
            "xml".parse::<ResultFormat>().unwrap_err().to_string(),
            "unknown result format \"xml\": expected one of json, exercism, junit"
        );
    }

    #[test]
    fn keep_tail_cuts_at_char_boundaries() {
        assert_eq!(keep_tail("abc", 3), "abc");
        let s = "é".repeat(100);
        let cut = keep_tail(&s, 50);
        assert_eq!(cut.chars().count(), 50);
        assert!(cut.starts_with("[… earlier text cut]\n") && cut.ends_with('é'));
    }

    #[test]
    fn escaping_keeps_line_breaks_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            attr("a\"<b>\n&\u{1b}"),
            "a&quot;&lt;b&gt;&#10;&amp;\u{fffd}"
        );
        assert_eq!(text("x\r\ny</z>"), "x&#13;\ny&lt;/z&gt;");
    }
}
