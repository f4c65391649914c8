//! TAP 13 and 14.

use std::ops::ControlFlow;

use super::{test, TestResult, TestStatus, MAX_TESTS};

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
    let mut tap = Tap::new();
    let mut lines = input.lines();
    while let Some(text) = lines.next() {
        let line = Line::new(text);
        if tap.collect_raw(&line) {
            continue;
        }
        if let Some(rest) = line.body.strip_prefix("Bail out!") {
            tap.bail = Some(rest.trim().to_owned());
            break;
        }
        if line.depth == 0 {
            if let Some(n) = parse_plan(line.body) {
                tap.plan.get_or_insert(n);
                continue;
            }
        }
        if line.body == "---" {
            // `take_while` also consumes the closing `...`.
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "...").collect();
            tap.attach_diagnostic(line.depth, &block);
            continue;
        }
        if tap.test_point(&line).is_break() {
            break;
        }
    }
    tap.finish()
}

/// Deepest TAP subtest nesting read; test points indented deeper are ignored.
const MAX_TAP_DEPTH: usize = 16;

/// One input line, with its indentation and subtest depth (four spaces a level).
struct Line<'a> {
    text: &'a str,
    indent: usize,
    body: &'a str,
    depth: usize,
}

impl<'a> Line<'a> {
    fn new(text: &'a str) -> Self {
        let indent = text.len() - text.trim_start_matches([' ', '\t']).len();
        Line {
            text,
            indent,
            body: text.trim(),
            depth: indent / 4,
        }
    }

    /// A line TAP gives a meaning to (so it ends a test point's raw message).
    fn is_tap(&self) -> bool {
        self.body == "---"
            || self.body.starts_with('#')
            || self.body.starts_with("Bail out!")
            || parse_plan(self.body).is_some()
            || parse_point(self.body, 0).is_some()
    }
}

/// The parser's state between lines.
struct Tap {
    /// `levels[d]` holds the test points seen at depth d whose parent has not closed yet.
    levels: Vec<Vec<Point>>,
    plan: Option<usize>,
    bail: Option<String>,
    count: usize,
    /// (indent, depth) of the test point whose raw indented lines are being collected.
    collecting: Option<(usize, usize)>,
}

impl Tap {
    fn new() -> Self {
        Tap {
            levels: vec![Vec::new()],
            plan: None,
            bail: None,
            count: 0,
            collecting: None,
        }
    }

    /// Keeps an indented non-TAP line under the last test point as part of its message;
    /// false when the line is not one (and collecting stops).
    fn collect_raw(&mut self, line: &Line) -> bool {
        let Some((point_indent, depth)) = self.collecting else {
            return false;
        };
        if !line.is_tap() && (line.body.is_empty() || line.indent > point_indent) {
            if let Some(p) = self.levels[depth].last_mut() {
                if p.raw.len() < 200 {
                    p.raw
                        .push(line.text[line.indent.min(point_indent + 2)..].to_owned());
                }
            }
            return true;
        }
        self.collecting = None;
        false
    }

    /// A diagnostic block belongs to the last test point at its depth or the one above.
    fn attach_diagnostic(&mut self, depth: usize, block: &[&str]) {
        let has_point = |d: usize| self.levels.get(d).is_some_and(|v| !v.is_empty());
        let target = if has_point(depth) {
            Some(depth)
        } else {
            depth.checked_sub(1).filter(|&d| has_point(d))
        };
        if let Some(p) = target.and_then(|d| self.levels[d].last_mut()) {
            p.diagnostic = diagnostic_message(block);
        }
    }

    /// Takes a test point (any other line is ignored); breaks past [`MAX_TESTS`].
    fn test_point(&mut self, line: &Line) -> ControlFlow<()> {
        let depth = line.depth;
        if depth > MAX_TAP_DEPTH {
            return ControlFlow::Continue(());
        }
        let ordinal = self.levels.get(depth).map_or(0, Vec::len) + 1;
        let Some(mut point) = parse_point(line.body, ordinal) else {
            return ControlFlow::Continue(());
        };
        self.count += 1;
        if self.count > MAX_TESTS {
            return ControlFlow::Break(());
        }
        if self.levels.len() <= depth + 1 {
            self.levels.resize_with(depth + 2, Vec::new);
        }
        // Everything deeper than this point belongs to it (or is orphaned: keep it too).
        let mut children = Vec::new();
        for d in (depth + 1..self.levels.len()).rev() {
            let deeper = std::mem::take(&mut self.levels[d]);
            if d == depth + 1 {
                children.extend(deeper);
            } else if !deeper.is_empty() {
                // Points two levels down without a closing parent: attach to their level.
                self.levels[d - 1].extend(deeper);
            }
        }
        point.children = children;
        self.levels[depth].push(point);
        self.collecting = Some((line.indent, depth));
        ControlFlow::Continue(())
    }

    /// The results: flattened points, then an error for each planned test never
    /// reported, then the bail-out.
    fn finish(self) -> Vec<TestResult> {
        let top_level = self.levels[0].len();
        let mut out = Vec::new();
        // Unclosed subtests at the end (a crash mid-subtest) still count.
        for p in self.levels.into_iter().flatten() {
            flatten(p, "", &mut out);
        }
        if let Some(n) = self.plan {
            for k in top_level + 1..=n.min(MAX_TESTS) {
                out.push(test(
                    &format!("test {k}"),
                    TestStatus::Error,
                    Some("not reported: the test run stopped early".into()),
                ));
            }
        }
        if let Some(reason) = self.bail {
            let reason = if reason.is_empty() {
                "the test run bailed out".into()
            } else {
                reason
            };
            out.push(test("bail out", TestStatus::Error, Some(reason)));
        }
        out.truncate(MAX_TESTS);
        out
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
