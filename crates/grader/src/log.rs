//! The grading log: the test command's stdout and stderr as prefixed lines, capped,
//! with secrets redacted, streamed line by line to whoever watches the job.

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

const TRUNCATED: &str = "[gauntlet] … log truncated";
const REDACTED: &str = "[redacted]";

/// Collects the run's output: the full log (capped), the raw stdout (for TAP), and
/// a callback per finished line for live viewers.
pub struct LogBuilder<'a> {
    secrets: Vec<String>,
    limit: usize,
    log: String,
    truncated: bool,
    stdout_raw: Vec<u8>,
    stdout_raw_limit: usize,
    partial: [Vec<u8>; 2],
    on_line: &'a mut dyn FnMut(&LogLine),
}

impl<'a> LogBuilder<'a> {
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
            log: String::new(),
            truncated: false,
            stdout_raw: Vec::new(),
            stdout_raw_limit,
            partial: [Vec::new(), Vec::new()],
            on_line,
        }
    }

    /// Adds a line of Gauntlet's own (a hint, a limit that was hit).
    pub fn note(&mut self, text: &str) {
        self.push_line(Source::Gauntlet, text.as_bytes());
    }

    /// Adds a line from a service lent to the job.
    pub fn service(&mut self, text: &str) {
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
        if self.truncated {
            return;
        }
        let rendered = line.render();
        if self.log.len() + rendered.len() + 1 + TRUNCATED.len() + 1 > self.limit {
            self.log.push_str(TRUNCATED);
            self.log.push('\n');
            self.truncated = true;
            return;
        }
        self.log.push_str(&rendered);
        self.log.push('\n');
    }

    /// The raw stdout so far (capped), for result parsers that read it.
    pub fn stdout(&self) -> &[u8] {
        &self.stdout_raw
    }

    /// Flushes unfinished lines and returns `(log, raw stdout)`.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        for (i, source) in [(0, Source::Out), (1, Source::Err)] {
            let rest = std::mem::take(&mut self.partial[i]);
            if !rest.is_empty() {
                self.push_line(source, &rest);
            }
        }
        (self.log, self.stdout_raw)
    }
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
    fn caps_the_log_with_a_marker() {
        let text = "x".repeat(40) + "\n";
        let chunks: Vec<(Stream, &str)> =
            (0..100).map(|_| (Stream::Stdout, text.as_str())).collect();
        let (log, seen) = build(&[], 500, &chunks);
        assert!(log.len() <= 500, "log is {} bytes", log.len());
        assert!(log.ends_with("… log truncated\n"));
        // Live viewers still see every line.
        assert_eq!(seen.len(), 100);
    }

    #[test]
    fn unfinished_last_line_is_kept() {
        let (log, _) = build(&[], 1 << 16, &[(Stream::Stderr, "Traceback (most recent")]);
        assert_eq!(log, "[test:err] Traceback (most recent\n");
    }
}
