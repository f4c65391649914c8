//! JUnit XML.

use std::ops::ControlFlow;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::{
    test, ResultsError, TestResult, TestStatus, MAX_JUNIT_BYTES, MAX_MESSAGE_CHARS, MAX_TESTS,
};

/// Parses a JUnit XML report.
///
/// - Text before the first `<?xml`, `<testsuites` or `<testsuite` and after the root
///   element closes is ignored (runners that print to the same file).
/// - Suites may nest to any depth; every `<testcase>` is one result.
/// - Name: `classname.name` (pytest, Surefire); just `name` when the class name is
///   already part of it (mocha-junit-reporter); when the class name is empty or node's
///   constant `test`, the enclosing suites' names and the name joined by ` > ` (the same
///   shape as flattened TAP subtests).
/// - Status: `<skipped>` → skip (node marks TODO tests with both `<skipped>` and
///   `<failure>`), else `<error>` → error, else `<failure>` → fail, else pass. The message
///   is the outcome elements' `message` attributes, then their text; `<system-out>` is
///   left out.
/// - Only the predefined entities and character references are resolved; a DTD is
///   skipped, never expanded (no entity bombs). Invalid UTF-8 is replaced, not refused.
pub fn parse_junit(input: &[u8]) -> Result<Vec<TestResult>, ResultsError> {
    if input.len() > MAX_JUNIT_BYTES {
        return Err(ResultsError::TooLarge {
            max: MAX_JUNIT_BYTES,
        });
    }
    let start = [&b"<?xml"[..], b"<testsuites", b"<testsuite"]
        .iter()
        .filter_map(|needle| find(input, needle))
        .min()
        .ok_or(ResultsError::NoXml)?;
    let xml = String::from_utf8_lossy(&input[start..]);
    let mut reader = Reader::from_str(&xml);
    reader.config_mut().check_end_names = true;
    let malformed = |position: u64, reason: String| ResultsError::Malformed {
        position: start as u64 + position,
        reason,
    };

    let mut junit = Junit::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(reader.error_position(), e.to_string()))?;
        match event {
            Event::Start(ref e) => junit.open(e, false)?,
            Event::Empty(ref e) => junit.open(e, true)?,
            Event::End(ref e) => {
                let local = e.local_name();
                if junit.close(local.as_ref()).is_break() {
                    break; // the root closed: whatever follows is not ours
                }
            }
            Event::Text(t) => junit.text(&t.xml10_content()),
            Event::CData(t) => junit.text(&t.xml10_content()),
            Event::GeneralRef(r) => junit.text(&resolve_reference(&r)),
            Event::Eof if junit.depth > 0 => {
                return Err(malformed(
                    reader.buffer_position(),
                    "the file ends before the root element closes".into(),
                ));
            }
            Event::Eof => break,
            _ => {}
        }
        if junit.out.len() >= MAX_TESTS {
            break;
        }
    }
    if !junit.seen_root {
        return Err(ResultsError::NoXml);
    }
    Ok(junit.out)
}

/// The reader's state between events.
#[derive(Default)]
struct Junit {
    out: Vec<TestResult>,
    case: Option<Case>,
    depth: usize,
    seen_root: bool,
    /// Names of the open `<testsuite>`s below the root, for node's nested suites.
    /// Only the outer 8 are named; deeper ones are counted so their ends still match.
    suites: Vec<String>,
    unnamed_suites: usize,
}

impl Junit {
    /// An element opens (`empty`: and closes at once, `<x/>`).
    fn open(&mut self, e: &BytesStart, empty: bool) -> Result<(), ResultsError> {
        let local = e.local_name();
        let local: &str = local.as_ref();
        if !self.seen_root && !matches!(local, "testsuites" | "testsuite") {
            return Err(ResultsError::NoXml);
        }
        self.seen_root = true;
        if !empty {
            self.depth += 1;
        }
        if local == "testsuite" && !empty {
            if self.suites.len() >= 8 {
                self.unnamed_suites += 1;
            } else if self.depth > 1 {
                self.suites.push(attr(e, "name").unwrap_or_default());
            } else {
                self.suites.push(String::new()); // the root suite names the file
            }
        }
        if local == "testcase" {
            if let Some(c) = self.case.take() {
                c.push(&mut self.out);
            }
            let c = Case {
                name: case_name(e, &self.suites),
                outcomes: [false; 3],
                message: String::new(),
                text: String::new(),
                in_outcome: false,
            };
            if empty {
                c.push(&mut self.out);
            } else {
                self.case = Some(c);
            }
        } else if let (Some(c), Some(i)) = (self.case.as_mut(), outcome(local)) {
            c.outcomes[i] = true;
            if let Some(m) = attr(e, "message").filter(|m| !m.trim().is_empty()) {
                join(&mut c.message, &m);
            }
            c.in_outcome = !empty;
        }
        Ok(())
    }

    /// An element closes; breaks when it was the root.
    fn close(&mut self, local: &str) -> ControlFlow<()> {
        self.depth = self.depth.saturating_sub(1);
        match local {
            "testsuite" if self.unnamed_suites > 0 => self.unnamed_suites -= 1,
            "testsuite" => {
                self.suites.pop();
            }
            "testcase" => {
                if let Some(c) = self.case.take() {
                    c.push(&mut self.out);
                }
            }
            _ => {
                if let Some(c) = self.case.as_mut().filter(|_| outcome(local).is_some()) {
                    c.in_outcome = false;
                }
            }
        }
        if self.depth == 0 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Text counts only inside a test case's outcome element.
    fn text(&mut self, s: &str) {
        if let Some(c) = self.case.as_mut().filter(|c| c.in_outcome) {
            c.push_text(s);
        }
    }
}

fn attr(e: &BytesStart, key: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == key)
        .map(|a| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.clone().into_owned())
        })
}

fn case_name(e: &BytesStart, suites: &[String]) -> String {
    let name = attr(e, "name").unwrap_or_default();
    let class = attr(e, "classname").unwrap_or_default();
    // node's reporter writes classname="test" for every test: no information.
    if !class.is_empty() && class != "test" {
        if name.contains(&class) {
            name
        } else if name.is_empty() {
            class
        } else {
            format!("{class}.{name}")
        }
    } else {
        let mut parts: Vec<&str> = suites
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        parts.push(&name);
        parts.join(" > ")
    }
}

/// A character reference or one of the five predefined entities; any other entity
/// stays as written: nothing is expanded.
fn resolve_reference(r: &BytesRef) -> String {
    if let Ok(Some(ch)) = r.resolve_char_ref() {
        return ch.to_string();
    }
    match &**r {
        "lt" => "<".into(),
        "gt" => ">".into(),
        "amp" => "&".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        other => format!("&{other};"),
    }
}

/// A `<testcase>` being read.
struct Case {
    name: String,
    /// Seen `<skipped>`, `<error>`, `<failure>` (in [`outcome`]'s order).
    outcomes: [bool; 3],
    /// `message` attributes of its outcome elements.
    message: String,
    /// Text inside its outcome elements.
    text: String,
    in_outcome: bool,
}

impl Case {
    fn push_text(&mut self, s: &str) {
        if self.text.len() <= MAX_MESSAGE_CHARS * 4 {
            self.text.push_str(s);
        }
    }

    fn push(mut self, out: &mut Vec<TestResult>) {
        let name = if self.name.trim().is_empty() {
            format!("test {}", out.len() + 1)
        } else {
            self.name
        };
        let text = self.text.trim();
        if !text.is_empty() && text != self.message.trim() {
            join(&mut self.message, text);
        }
        // node marks a TODO test with both <skipped> and <failure>: skipped wins, as
        // `# TODO` does in TAP. Otherwise error beats failure.
        let status = match self.outcomes {
            [true, _, _] => TestStatus::Skip,
            [_, true, _] => TestStatus::Error,
            [_, _, true] => TestStatus::Fail,
            _ => TestStatus::Pass,
        };
        out.push(test(&name, status, Some(self.message)));
    }
}

/// Index of an outcome element in [`Case::outcomes`].
fn outcome(local: &str) -> Option<usize> {
    match local {
        "skipped" => Some(0),
        "error" => Some(1),
        "failure" => Some(2),
        _ => None,
    }
}

/// Joins message parts with a blank line.
fn join(message: &mut String, part: &str) {
    if !message.is_empty() {
        message.push_str("\n\n");
    }
    message.push_str(part.trim());
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
