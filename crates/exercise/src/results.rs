//! Test results: TAP (13 and 14), JUnit XML (pytest, node, mocha, Surefire) and the exit
//! code, each turned into [`TestResult`]s; plus the result JSON (docs/results.md).
//!
//! Results come from untrusted programs, so parsing never expands anything (no YAML is
//! parsed in TAP diagnostics, no XML entity beyond the predefined ones and character
//! references), every name and message is capped, and so is the number of tests.

use serde::{Deserialize, Serialize};

/// Longest test name kept, in characters; longer ones are cut and end in `…`.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest message kept, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Most tests kept from one run; the rest are dropped.
pub const MAX_TESTS: usize = 10_000;
/// Deepest TAP subtest nesting read; test points indented deeper are ignored.
const MAX_TAP_DEPTH: usize = 16;
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

// ---------------------------------------------------------------------------
// TAP

/// A test point with its subtests (TAP 14 puts a subtest's lines, indented by four
/// spaces, before the test point that closes it).
struct Point {
    name: String,
    ok: bool,
    directive: Option<Directive>,
    /// The reason after `# SKIP` / `# TODO`.
    reason: Option<String>,
    /// The message from the diagnostic block.
    diagnostic: Option<String>,
    /// Indented non-TAP lines right after the point (mocha's TAP reporter writes its
    /// failure messages so): the message when there is no diagnostic block.
    raw: Vec<String>,
    children: Vec<Point>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Directive {
    Skip,
    Todo,
}

/// Parses TAP 13/14 output.
///
/// - `ok` / `not ok`, number and description optional (`- ` before it is dropped); a test
///   without a description is named `test N`.
/// - `# SKIP` and `# TODO` (any case, `\#` escapes a hash): both give `skip`, whatever
///   `ok` said: a TODO test neither earns nor loses a point.
/// - A YAML diagnostic block (`---` … `...`, indented under its test) becomes the message:
///   its `message:` value when it has one, else the whole block. It is not parsed as YAML.
/// - Subtests are flattened: each leaf test point becomes one result, named
///   `parent > child`. A parent that failed although all its children passed (a failing
///   hook, say) adds a failed result of its own.
/// - A top-level plan `1..N` with fewer than N top-level test points adds an `error`
///   result per missing test, so a run that stops early cannot score as if complete.
/// - `Bail out!` ends parsing with an `error` result carrying the reason.
/// - Any other line is ignored, so output printed around the TAP does no harm.
pub fn parse_tap(input: &str) -> Vec<TestResult> {
    // levels[d] holds the test points seen at depth d whose parent has not closed yet.
    let mut levels: Vec<Vec<Point>> = vec![Vec::new()];
    let mut plan: Option<usize> = None;
    let mut bail: Option<String> = None;
    let mut count = 0usize;
    let mut lines = input.lines();
    // (indent, depth) of the test point whose raw indented lines are being collected.
    let mut collecting: Option<(usize, usize)> = None;

    while let Some(line) = lines.next() {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let body = line.trim();
        let depth = indent / 4;

        if let Some((point_indent, d)) = collecting {
            let is_tap = body == "---"
                || body.starts_with('#')
                || body.starts_with("Bail out!")
                || parse_plan(body).is_some()
                || parse_point(body, 0).is_some();
            if !is_tap && (body.is_empty() || indent > point_indent) {
                if let Some(p) = levels[d].last_mut() {
                    if p.raw.len() < 200 {
                        p.raw.push(line[indent.min(point_indent + 2)..].to_owned());
                    }
                }
                continue;
            }
            collecting = None;
        }

        if let Some(rest) = body.strip_prefix("Bail out!") {
            bail = Some(rest.trim().to_owned());
            break;
        }
        if depth == 0 {
            if let Some(n) = parse_plan(body) {
                plan.get_or_insert(n);
                continue;
            }
        }
        if body == "---" {
            // A diagnostic block for the last test point at this depth or the one above.
            let mut block = Vec::new();
            for l in lines.by_ref() {
                if l.trim() == "..." {
                    break;
                }
                block.push(l);
            }
            let has_point = |d: usize| levels.get(d).is_some_and(|v| !v.is_empty());
            let target = if has_point(depth) {
                Some(depth)
            } else {
                depth.checked_sub(1).filter(|&d| has_point(d))
            };
            if let Some(p) = target.and_then(|d| levels[d].last_mut()) {
                p.diagnostic = diagnostic_message(&block);
            }
            continue;
        }
        if depth > MAX_TAP_DEPTH {
            continue;
        }
        let ordinal = levels.get(depth).map_or(0, Vec::len) + 1;
        let Some(mut point) = parse_point(body, ordinal) else {
            continue;
        };
        count += 1;
        if count > MAX_TESTS {
            break;
        }
        if levels.len() <= depth + 1 {
            levels.resize_with(depth + 2, Vec::new);
        }
        // Everything deeper than this point belongs to it (or is orphaned: keep it too).
        let mut children = Vec::new();
        for d in (depth + 1..levels.len()).rev() {
            let deeper = std::mem::take(&mut levels[d]);
            if d == depth + 1 {
                children.extend(deeper);
            } else if !deeper.is_empty() {
                // Points two levels down without a closing parent: attach to their level.
                levels[d - 1].extend(deeper);
            }
        }
        point.children = children;
        levels[depth].push(point);
        collecting = Some((indent, depth));
    }

    // Unclosed subtests at the end (a crash mid-subtest) still count.
    let top_level = levels[0].len();
    let mut roots = Vec::new();
    for level in levels.into_iter() {
        roots.extend(level);
    }
    let mut out = Vec::new();
    for p in roots {
        flatten(p, "", &mut out);
    }
    if let Some(n) = plan {
        for k in top_level + 1..=n.min(MAX_TESTS) {
            out.push(test(
                &format!("test {k}"),
                TestStatus::Error,
                Some("not reported: the test run stopped early".into()),
            ));
        }
    }
    if let Some(reason) = bail {
        out.push(test(
            "bail out",
            TestStatus::Error,
            Some(if reason.is_empty() {
                "the test run bailed out".into()
            } else {
                reason
            }),
        ));
    }
    out.truncate(MAX_TESTS);
    out
}

fn flatten(p: Point, prefix: &str, out: &mut Vec<TestResult>) {
    let name = if prefix.is_empty() {
        p.name.clone()
    } else {
        format!("{prefix} > {}", p.name)
    };
    let status = match (p.directive, p.ok) {
        (Some(_), _) => TestStatus::Skip,
        (None, true) => TestStatus::Pass,
        (None, false) => TestStatus::Fail,
    };
    let message = match status {
        TestStatus::Pass => None,
        TestStatus::Skip => p.reason,
        _ => p
            .diagnostic
            .or_else(|| Some(p.raw.join("\n").trim().to_owned()).filter(|s| !s.is_empty()))
            .or(p.reason),
    };
    if p.children.is_empty() {
        out.push(test(&name, status, message));
        return;
    }
    let before = out.len();
    for c in p.children {
        flatten(c, &name, out);
    }
    let child_failed = out[before..].iter().any(|t| t.status != TestStatus::Pass);
    if status == TestStatus::Fail && !child_failed {
        out.push(test(&name, status, message));
    }
}

/// `1..N` (optionally followed by a `# reason`).
fn parse_plan(body: &str) -> Option<usize> {
    let rest = body.strip_prefix("1..")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = rest[digits.len()..].trim_start();
    if digits.is_empty() || !(after.is_empty() || after.starts_with('#')) {
        return None;
    }
    digits.parse().ok()
}

/// `ok 3 - name # SKIP reason` / `not ok name`. `ordinal` names a point that has
/// neither a description nor a number.
fn parse_point(body: &str, ordinal: usize) -> Option<Point> {
    let (ok, rest) = if let Some(r) = body.strip_prefix("not ok") {
        (false, r)
    } else if let Some(r) = body.strip_prefix("ok") {
        (true, r)
    } else {
        return None;
    };
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None; // "okay", "nothing"
    }
    let rest = rest.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let number = &rest[..digits];
    let rest = rest[digits..].trim_start();
    let rest = rest.strip_prefix("- ").unwrap_or(rest);
    let rest = if rest == "-" { "" } else { rest };

    // Split at the first unescaped '#'.
    let mut desc = String::new();
    let mut directive_text = None;
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '#')) => desc.push('#'),
                Some((_, '\\')) => desc.push('\\'),
                Some((_, other)) => {
                    desc.push('\\');
                    desc.push(other);
                }
                None => desc.push('\\'),
            },
            '#' => {
                directive_text = Some(rest[i + 1..].trim());
                break;
            }
            _ => desc.push(c),
        }
    }
    let mut reason = None;
    let directive = directive_text.and_then(|d| {
        let upper: String = d.chars().take(4).collect::<String>().to_ascii_uppercase();
        let dir = match upper.as_str() {
            "SKIP" => Directive::Skip,
            "TODO" => Directive::Todo,
            _ => return None,
        };
        let text = d
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .trim_start_matches(':')
            .trim();
        if !text.is_empty() && text != "-" {
            reason = Some(text.to_owned());
        }
        Some(dir)
    });
    let desc = desc.trim();
    let name = if !desc.is_empty() {
        desc.to_owned()
    } else if !number.is_empty() {
        format!("test {number}")
    } else {
        format!("test {ordinal}")
    };
    Some(Point {
        name,
        ok,
        directive,
        reason,
        diagnostic: None,
        raw: Vec::new(),
        children: Vec::new(),
    })
}

/// The message of a diagnostic block: its `message:` or else its `error:` value (plain,
/// quoted, or a `|`/`>` block scalar); failing those, the whole block, dedented, without
/// `duration_ms:` lines.
fn diagnostic_message(block: &[&str]) -> Option<String> {
    let base = block
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()?;
    for key in ["message:", "error:"] {
        if let Some(v) = diagnostic_value(block, base, key) {
            return Some(v).filter(|v| !v.is_empty());
        }
    }
    let all: Vec<&str> = block
        .iter()
        .map(|l| l.get(base..).unwrap_or(l.trim_start()))
        .filter(|l| !l.starts_with("duration_ms:"))
        .collect();
    Some(all.join("\n").trim().to_owned()).filter(|s| !s.is_empty())
}

fn diagnostic_value(block: &[&str], base: usize, key: &str) -> Option<String> {
    for (i, l) in block.iter().enumerate() {
        if l.len() - l.trim_start().len() != base {
            continue;
        }
        let Some(value) = l.trim_start().strip_prefix(key) else {
            continue;
        };
        let value = value.trim();
        if value.starts_with('|') || value.starts_with('>') {
            let body: Vec<&str> = block[i + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > base)
                .map(|l| l.trim())
                .collect();
            let sep = if value.starts_with('>') { " " } else { "\n" };
            return Some(body.join(sep).trim().to_owned());
        }
        return Some(unquote(value));
    }
    None
}

fn unquote(v: &str) -> String {
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        v[1..v.len() - 1].replace("''", "'")
    } else if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        // One pass, so an escaped backslash is never read again as the start of `\n`.
        let mut out = String::with_capacity(v.len());
        let mut chars = v[1..v.len() - 1].chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        }
        out
    } else {
        v.to_owned()
    }
}

// ---------------------------------------------------------------------------
// JUnit XML

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
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::{Reader, XmlVersion};

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

    let attr = |e: &BytesStart, key: &str| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == key)
            .map(|a| {
                a.normalized_value(XmlVersion::Implicit1_0)
                    .map(|v| v.into_owned())
                    .unwrap_or_else(|_| a.value.clone().into_owned())
            })
    };
    let case_name = |e: &BytesStart, suites: &[String]| {
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
    };

    let mut out = Vec::new();
    let mut case: Option<Case> = None;
    let mut depth = 0usize;
    let mut seen_root = false;
    // Names of the open <testsuite>s below the root, for node's nested suites.
    // Only the outer 8 are named; deeper ones are counted so their ends still match.
    let mut suites: Vec<String> = Vec::new();
    let mut unnamed_suites = 0usize;

    loop {
        let event = reader.read_event().map_err(|e| ResultsError::Malformed {
            position: start as u64 + reader.error_position(),
            reason: e.to_string(),
        })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = e.local_name();
                let local: &str = local.as_ref();
                if !seen_root && !matches!(local, "testsuites" | "testsuite") {
                    return Err(ResultsError::NoXml);
                }
                seen_root = true;
                if !empty {
                    depth += 1;
                }
                if local == "testsuite" && !empty {
                    if suites.len() >= 8 {
                        unnamed_suites += 1;
                    } else if depth > 1 {
                        suites.push(attr(e, "name").unwrap_or_default());
                    } else {
                        suites.push(String::new()); // the root suite names the file
                    }
                }
                if local == "testcase" {
                    if let Some(c) = case.take() {
                        c.push(&mut out);
                    }
                    let c = Case {
                        name: case_name(e, &suites),
                        outcomes: [false; 3],
                        message: String::new(),
                        text: String::new(),
                        in_outcome: false,
                    };
                    if empty {
                        c.push(&mut out);
                    } else {
                        case = Some(c);
                    }
                } else if let (Some(c), Some(i)) = (case.as_mut(), outcome(local)) {
                    c.outcomes[i] = true;
                    if let Some(m) = attr(e, "message").filter(|m| !m.trim().is_empty()) {
                        join(&mut c.message, &m);
                    }
                    c.in_outcome = !empty;
                }
            }
            Event::End(ref e) => {
                depth = depth.saturating_sub(1);
                let local = e.local_name();
                let local: &str = local.as_ref();
                if local == "testsuite" {
                    if unnamed_suites > 0 {
                        unnamed_suites -= 1;
                    } else {
                        suites.pop();
                    }
                }
                if local == "testcase" {
                    if let Some(c) = case.take() {
                        c.push(&mut out);
                    }
                } else if outcome(local).is_some() {
                    if let Some(c) = case.as_mut() {
                        c.in_outcome = false;
                    }
                }
                if depth == 0 {
                    break; // the root closed: whatever follows is not ours
                }
            }
            Event::Text(t) => {
                if let Some(c) = case.as_mut().filter(|c| c.in_outcome) {
                    c.push_text(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(c) = case.as_mut().filter(|c| c.in_outcome) {
                    c.push_text(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(c) = case.as_mut().filter(|c| c.in_outcome) {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(ch)) => ch.to_string(),
                        _ => match &*r {
                            "lt" => "<".into(),
                            "gt" => ">".into(),
                            "amp" => "&".into(),
                            "quot" => "\"".into(),
                            "apos" => "'".into(),
                            // Unknown entities stay as written: nothing is expanded.
                            other => format!("&{other};"),
                        },
                    };
                    c.push_text(&resolved);
                }
            }
            Event::Eof => {
                if depth > 0 {
                    return Err(ResultsError::Malformed {
                        position: start as u64 + reader.buffer_position(),
                        reason: "the file ends before the root element closes".into(),
                    });
                }
                break;
            }
            _ => {}
        }
        if out.len() >= MAX_TESTS {
            break;
        }
    }
    if !seen_root {
        return Err(ResultsError::NoXml);
    }
    Ok(out)
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

#[cfg(test)]
mod tests {

    #[test]
    fn double_quoted_diagnostics_unescape_in_one_pass() {
        for (raw, want) in [
            (r#""a\nb""#, "a\nb"),
            (r#""tab\there""#, "tab\there"),
            (r#""say \"hi\"""#, "say \"hi\""),
            // An escaped backslash followed by `n` is a backslash and an `n`.
            (r#""C:\\new""#, "C:\\new"),
            (r#""'single'""#, "'single'"),
            ("'it''s'", "it's"),
            ("bare", "bare"),
        ] {
            assert_eq!(unquote(raw), want, "{raw}");
        }
    }
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
