//! The grading log: the test command's stdout and stderr as prefixed lines, with
//! secrets redacted, streamed line by line to whoever watches the job, and kept for
//! the result as its head and its tail with a marker for what was cut between.

use std::collections::{HashMap, VecDeque};

use gauntlet_sandbox::{OutputSink, Stream};

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The test command's stdout.
    Out,
    /// The test command's stderr.
    Err,
    /// Gauntlet itself (limits hit, hints).
    Gauntlet,
    /// A toolchain service lent to the job, e.g. an Anvil chain.
    Service,
}

impl Source {
    fn prefix(self) -> &'static str {
        match self {
            Source::Out => "[test:out] ",
            Source::Err => "[test:err] ",
            Source::Gauntlet => "[gauntlet] ",
            Source::Service => "[service] ",
        }
    }
}

/// One finished, redacted line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub source: Source,
    pub text: String,
}

impl LogLine {
    /// The line as it stands in the log, prefix included.
    pub fn render(&self) -> String {
        format!("{}{}", self.source.prefix(), self.text)
    }
}

const REDACTED: &str = "[redacted]";
/// Room kept for the marker that says how much of the middle was cut.
const MARKER_ROOM: usize = 160;
/// Distinct output lines counted for the flood report, at most.
const MAX_COUNTED_LINES: usize = 1024;
/// Longest line kept as a sample of a repeated one, in characters.
const SAMPLE_CHARS: usize = 120;

/// What filled the output, for the message of a run the flood guard stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flood {
    /// Complete lines the test command printed, on both streams.
    pub lines: u64,
    /// The line printed most often, how often, and on which stream.
    pub most_repeated: Option<(String, u64, Source)>,
}

/// Collects the run's output: the log kept for the learner (its head and its tail,
/// with a marker saying how much of the middle was cut, so a test framework's closing
/// summary survives), the raw stdout (for TAP), and a callback per finished line for
/// live viewers, who see every line.
pub struct LogBuilder<'a> {
    secrets: Vec<String>,
    limit: usize,
    head: String,
    head_full: bool,
    tail: VecDeque<String>,
    tail_bytes: usize,
    cut_lines: u64,
    cut_bytes: u64,
    stdout_raw: Vec<u8>,
    stdout_raw_limit: usize,
    partial: [Vec<u8>; 2],
    lines: u64,
    counts: HashMap<String, (u64, Source)>,
    on_line: &'a mut dyn FnMut(&LogLine),
}

impl<'a> LogBuilder<'a> {
    /// `limit` caps the kept log (half for its head, the rest for its tail and the
    /// marker); `stdout_raw_limit` caps the raw stdout kept for result parsers.
    /// `secrets` shorter than 6 bytes are ignored: redacting them would shred the log
    /// and they are not secrets worth the name.
    pub fn new(
        secrets: &[String],
        limit: usize,
        stdout_raw_limit: usize,
        on_line: &'a mut dyn FnMut(&LogLine),
    ) -> Self {
        let mut secrets: Vec<String> = secrets.iter().filter(|s| s.len() >= 6).cloned().collect();
        // Longest first, so a secret containing another is redacted whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        LogBuilder {
            secrets,
            limit,
            head: String::new(),
            head_full: false,
            tail: VecDeque::new(),
            tail_bytes: 0,
            cut_lines: 0,
            cut_bytes: 0,
            stdout_raw: Vec::new(),
            stdout_raw_limit,
            partial: [Vec::new(), Vec::new()],
            lines: 0,
            counts: HashMap::new(),
            on_line,
        }
    }

    /// Adds a line of Gauntlet's own (a hint, a limit that was hit), after whatever
    /// the test command printed so far, an unfinished last line included.
    pub fn note(&mut self, text: &str) {
        self.flush_partial();
        self.push_line(Source::Gauntlet, text.as_bytes());
    }

    /// Adds a line from a service lent to the job, after the test command's output.
    pub fn service(&mut self, text: &str) {
        self.flush_partial();
        self.push_line(Source::Service, text.as_bytes());
    }

    fn redact(&self, line: &str) -> String {
        let mut out = line.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    fn push_line(&mut self, source: Source, raw: &[u8]) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw);
        let line = LogLine {
            source,
            text: self.redact(&text),
        };
        (self.on_line)(&line);
        if matches!(source, Source::Out | Source::Err) {
            self.count(&line);
        }
        let mut rendered = line.render();
        rendered.push('\n');
        let head_room = self.limit / 2;
        if !self.head_full {
            if self.head.len() + rendered.len() <= head_room {
                self.head.push_str(&rendered);
                return;
            }
            self.head_full = true;
        }
        let tail_room = self.limit.saturating_sub(head_room + MARKER_ROOM);
        if rendered.len() > tail_room {
            // One line longer than the whole tail: keep its start.
            let mut end = tail_room.saturating_sub(4);
            while !rendered.is_char_boundary(end) {
                end -= 1;
            }
            self.cut_bytes += (rendered.len() - end) as u64;
            rendered.truncate(end);
            rendered.push_str("…\n");
        }
        self.tail_bytes += rendered.len();
        self.tail.push_back(rendered);
        while self.tail_bytes > tail_room {
            let Some(old) = self.tail.pop_front() else {
                break;
            };
            self.tail_bytes -= old.len();
            self.cut_lines += 1;
            self.cut_bytes += old.len() as u64;
        }
    }

    fn count(&mut self, line: &LogLine) {
        self.lines += 1;
        let key: String = line.text.trim().chars().take(SAMPLE_CHARS).collect();
        if let Some(c) = self.counts.get_mut(&key) {
            c.0 += 1;
        } else if self.counts.len() < MAX_COUNTED_LINES {
            self.counts.insert(key, (1, line.source));
        }
    }

    /// What the output was made of so far (complete lines only).
    pub fn flood(&self) -> Flood {
        let most_repeated = self
            .counts
            .iter()
            .max_by_key(|(text, (n, _))| (*n, std::cmp::Reverse((*text).clone())))
            .map(|(text, (n, source))| (text.clone(), *n, *source));
        Flood {
            lines: self.lines,
            most_repeated,
        }
    }

    /// The raw stdout so far (capped), for result parsers that read it.
    pub fn stdout(&self) -> &[u8] {
        &self.stdout_raw
    }

    fn flush_partial(&mut self) {
        for (i, source) in [(0, Source::Out), (1, Source::Err)] {
            let rest = std::mem::take(&mut self.partial[i]);
            if !rest.is_empty() {
                self.push_line(source, &rest);
            }
        }
    }

    /// Flushes unfinished lines and returns `(log, raw stdout)`.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        self.flush_partial();
        let mut log = std::mem::take(&mut self.head);
        if self.cut_lines > 0 || self.cut_bytes > 0 {
            log.push_str(&format!(
                "[gauntlet] … {} cut here ({}): the log keeps its first and last lines, {} in all\n",
                plural(self.cut_lines, "line"),
                approx_size(self.cut_bytes),
                approx_size(self.limit as u64),
            ));
        }
        for line in self.tail.drain(..) {
            log.push_str(&line);
        }
        (log, self.stdout_raw)
    }
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `912 bytes`, `45.2 KiB`, `3.1 MiB`.
pub fn approx_size(bytes: u64) -> String {
    if bytes < 1024 {
        return plural(bytes, "byte");
    }
    let (value, unit) = if bytes < 1 << 20 {
        (bytes as f64 / 1024.0, "KiB")
    } else {
        (bytes as f64 / (1 << 20) as f64, "MiB")
    };
    let text = format!("{value:.1}");
    format!("{} {unit}", text.strip_suffix(".0").unwrap_or(&text))
}

impl OutputSink for LogBuilder<'_> {
    fn output(&mut self, stream: Stream, bytes: &[u8]) {
        let (i, source) = match stream {
            Stream::Stdout => (0, Source::Out),
            Stream::Stderr => (1, Source::Err),
        };
        if stream == Stream::Stdout {
            let room = self.stdout_raw_limit.saturating_sub(self.stdout_raw.len());
            self.stdout_raw
                .extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
        let mut buf = std::mem::take(&mut self.partial[i]);
        buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            self.push_line(source, &buf[start..end]);
            start = end + 1;
        }
        buf.drain(..start);
        // A line longer than the whole log cap is cut rather than buffered forever.
        if buf.len() > self.limit {
            self.push_line(source, &buf);
            buf.clear();
        }
        self.partial[i] = buf;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(secrets: &[&str], limit: usize, chunks: &[(Stream, &str)]) -> (String, Vec<String>) {
        let mut seen = Vec::new();
        let mut on_line = |l: &LogLine| seen.push(l.render());
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let mut b = LogBuilder::new(&secrets, limit, 1 << 20, &mut on_line);
        for (stream, text) in chunks {
            b.output(*stream, text.as_bytes());
        }
        let (log, _) = b.finish();
        (log, seen)
    }

    #[test]
    fn prefixes_each_stream_and_joins_split_lines() {
        let (log, seen) = build(
            &[],
            1 << 16,
            &[
                (Stream::Stdout, "ok 1 - a\nok 2"),
                (Stream::Stderr, "warn\n"),
                (Stream::Stdout, " - b\n"),
            ],
        );
        assert_eq!(
            log,
            "[test:out] ok 1 - a\n[test:err] warn\n[test:out] ok 2 - b\n"
        );
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn redacts_secrets_even_when_split_across_chunks() {
        let (log, seen) = build(
            &["s3cr3t-token", "short"],
            1 << 16,
            &[
                (Stream::Stdout, "key=s3cr"),
                (Stream::Stdout, "3t-token short\n"),
            ],
        );
        assert_eq!(log, "[test:out] key=[redacted] short\n");
        assert_eq!(seen, vec!["[test:out] key=[redacted] short".to_string()]);
    }

    #[test]
    fn keeps_the_head_and_the_tail_and_says_what_was_cut() {
        let text: Vec<String> = (0..100)
            .map(|i| format!("line {i:03} {}\n", "x".repeat(30)))
            .collect();
        let chunks: Vec<(Stream, &str)> =
            text.iter().map(|t| (Stream::Stdout, t.as_str())).collect();
        let (log, seen) = build(&[], 1000, &chunks);
        assert!(log.len() <= 1000, "log is {} bytes:\n{log}", log.len());
        assert!(log.starts_with("[test:out] line 000 "), "{log}");
        assert!(
            log.ends_with(&format!("[test:out] line 099 {}\n", "x".repeat(30))),
            "{log}"
        );
        let marker = log
            .lines()
            .find(|l| l.starts_with("[gauntlet] … "))
            .expect("a marker");
        assert!(
            marker.contains("lines cut here (")
                && marker.contains("the log keeps its first and last lines, 1000 bytes in all"),
            "{marker}"
        );
        // What was cut is exactly what is missing: every line is either kept or counted.
        let kept = log.lines().filter(|l| l.starts_with("[test:out]")).count();
        let cut: usize = marker["[gauntlet] … ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(kept + cut, 100, "{log}");
        // Live viewers still see every line.
        assert_eq!(seen.len(), 100);
    }

    #[test]
    fn a_framework_summary_at_the_end_survives_a_long_report() {
        // 94 KB of failures, then unittest's closing lines (issue 12).
        let mut chunks: Vec<(Stream, String)> = (0..1500)
            .map(|i| {
                (
                    Stream::Stderr,
                    format!("FAIL: test_{i} (test_x.T) ... AssertionError: 1 != 2\n"),
                )
            })
            .collect();
        chunks.push((
            Stream::Stderr,
            "Ran 1500 tests in 0.8s\n\nFAILED (failures=1500)\n".into(),
        ));
        let chunks: Vec<(Stream, &str)> = chunks.iter().map(|(s, t)| (*s, t.as_str())).collect();
        let (log, _) = build(&[], 64 << 10, &chunks);
        assert!(log.len() <= 64 << 10);
        assert!(log.contains("[test:err] FAIL: test_0 "), "the head is kept");
        assert!(log.ends_with("[test:err] Ran 1500 tests in 0.8s\n[test:err] \n[test:err] FAILED (failures=1500)\n"), "{}", &log[log.len() - 300..]);
    }

    #[test]
    fn a_line_longer_than_the_tail_keeps_its_start() {
        let long = format!("{}\n", "y".repeat(5000));
        let (log, _) = build(
            &[],
            1000,
            &[
                (Stream::Stdout, "first\n"),
                (Stream::Stdout, &long),
                (Stream::Stdout, "last\n"),
            ],
        );
        assert!(log.len() <= 1000, "{}", log.len());
        assert!(log.starts_with("[test:out] first\n"));
        assert!(log.ends_with("[test:out] last\n"), "{log}");
    }

    #[test]
    fn notes_come_after_an_unfinished_line() {
        let mut seen = Vec::new();
        let mut on_line = |l: &LogLine| seen.push(l.render());
        let mut b = LogBuilder::new(&[], 1 << 16, 1 << 20, &mut on_line);
        b.output(Stream::Stdout, b"ok 1 - a\nRunning test 2...");
        b.note("no output for 5 s");
        let (log, _) = b.finish();
        assert_eq!(
            log,
            "[test:out] ok 1 - a\n[test:out] Running test 2...\n[gauntlet] no output for 5 s\n"
        );
    }

    #[test]
    fn the_flood_report_names_the_repeated_line_and_its_stream() {
        let mut on_line = |_: &LogLine| {};
        let mut b = LogBuilder::new(&[], 1 << 16, 1 << 20, &mut on_line);
        b.output(Stream::Stdout, b"TAP version 13\n");
        for _ in 0..300 {
            b.output(Stream::Stderr, b"spam spam spam\n");
        }
        let f = b.flood();
        assert_eq!(f.lines, 301);
        assert_eq!(
            f.most_repeated,
            Some(("spam spam spam".to_owned(), 300, Source::Err))
        );
    }

    #[test]
    fn unfinished_last_line_is_kept() {
        let (log, _) = build(&[], 1 << 16, &[(Stream::Stderr, "Traceback (most recent")]);
        assert_eq!(log, "[test:err] Traceback (most recent\n");
    }
}
