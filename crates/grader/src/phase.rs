//! A jail that runs before (or instead of) the test run: a dependency install
//! (deps.rs), a git clone (git.rs), a build (build.rs). Each is one sandbox run whose
//! output is kept, bounded, for the log or for the error that explains a failure.

use gauntlet_sandbox::{self as sandbox, OutputSink, Report, Spec, Status, Stream};

/// Output kept of a phase: its last `cap` bytes (the end of a log says why it failed).
struct Tail {
    bytes: Vec<u8>,
    cap: usize,
}

impl OutputSink for Tail {
    fn output(&mut self, _: Stream, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        if self.bytes.len() > self.cap {
            let cut = self.bytes.len() - self.cap;
            self.bytes.drain(..cut);
        }
    }
}

/// How a phase's jail ended, with the tail of what it printed.
pub struct Ran {
    pub report: Report,
    pub output: String,
}

impl Ran {
    /// Exit status 0.
    pub fn succeeded(&self) -> bool {
        self.report.status == Status::Exited && self.report.exit_code == Some(0)
    }

    /// One line on how it ended, for an error message: "exit 1", "wall_timeout", ….
    pub fn ending(&self) -> String {
        match (
            self.report.status,
            self.report.exit_code,
            self.report.signal,
        ) {
            (Status::Exited, Some(code), _) => format!("exit {code}"),
            (Status::Signaled, _, Some(sig)) => format!("signal {sig}"),
            (status, ..) => serde_json::to_value(status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{status:?}")),
        }
    }

    /// The last `lines` lines of the output.
    pub fn last_lines(&self, lines: usize) -> String {
        let all: Vec<&str> = self.output.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Runs `spec`, keeping the last `keep` bytes of its output. A sandbox failure (the
/// jail could not be built) is the error string.
pub fn run(spec: &Spec, keep: usize) -> Result<Ran, sandbox::Error> {
    let mut tail = Tail {
        bytes: Vec::new(),
        cap: keep,
    };
    let report = sandbox::run(spec, &mut tail)?;
    Ok(Ran {
        report,
        output: String::from_utf8_lossy(&tail.bytes).into_owned(),
    })
}
