//! What the engine runs: the [`JobExecutor`] trait (the grading pipeline implements it),
//! the job it is given and its context: a cancellation token, a log sink and a run dir.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::store::{SubmissionId, UnixMillis};

/// A claimed job as the executor sees it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: SubmissionId,
    pub exercise_id: String,
    /// The exercise version the submission was made against; the engine only claims
    /// versions it was told it holds.
    pub exercise_hash: String,
    pub payload: Vec<u8>,
    pub attempt: u32,
    pub max_attempts: u32,
    /// When the submission was queued and when this attempt claimed it (Unix ms): the
    /// queue wait is `claimed_at - created_at`.
    pub created_at: UnixMillis,
    pub claimed_at: UnixMillis,
}

impl Job {
    pub(crate) fn from_claim(claimed: crate::store::ClaimedJob, claimed_at: UnixMillis) -> Job {
        Job {
            id: claimed.id,
            exercise_id: claimed.exercise_id,
            exercise_hash: claimed.exercise_hash,
            payload: claimed.payload,
            attempt: claimed.attempt,
            max_attempts: claimed.max_attempts,
            created_at: claimed.created_at,
            claimed_at,
        }
    }
}

/// Handed to [`JobExecutor::execute`] with each job.
#[derive(Debug)]
pub struct JobContext {
    /// Fired when the job must stop: cancelled by an operator, the lease was lost, the
    /// watchdog fired or the worker is draining. Stop promptly; whatever is returned after
    /// it fired may be discarded.
    pub cancel: CancellationToken,
    /// Live log lines for the submission's event stream.
    pub logs: LogSink,
    /// The job's folder, `<runs-dir>/<submission id>.<fencing token>`: created empty by
    /// the engine for this claim alone, and deleted by it afterwards.
    pub run_dir: PathBuf,
}

/// Why a job ended without a result of its own. Who is at fault decides what happens
/// next: a host failure spends one of the job's attempts and is retried, anything else
/// is final at once.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The host could not set the run up (a missing folder, layer preparation, a lent
    /// resource, a sandbox set-up step): nothing the submission did. The job goes back to
    /// the queue like one whose lease was lost, and finishes with `internal_error` only
    /// after its last attempt, naming every attempt's reason.
    #[error("{0}")]
    Host(String),
    /// The job cannot be graded, and trying again would not change that (the exercise
    /// is gone, the stored submission is invalid): it finishes with `internal_error` and
    /// this reason at once.
    #[error("{0}")]
    Internal(String),
    /// The executor stopped because `cancel` fired.
    #[error("cancelled")]
    Cancelled,
}

/// Runs one job. Implemented by the grading pipeline; tests use fakes.
#[async_trait]
pub trait JobExecutor: Send + Sync + 'static {
    /// The job's own time limit (e.g. the exercise's wall time); the watchdog cancels the
    /// job once it runs this long plus the engine's margin. `None`: the engine's default.
    fn time_limit(&self, _job: &Job) -> Option<Duration> {
        None
    }

    /// Grades the job and returns its result JSON (the `result` of docs/api.md).
    async fn execute(&self, job: Job, ctx: JobContext) -> Result<Value, ExecError>;
}

/// A cheap, cloneable, non-blocking sink for a job's log lines, callable from async code
/// and from blocking threads alike. Lines beyond the engine's cap, or sent after the job
/// ended, are dropped and counted.
#[derive(Debug, Clone)]
pub struct LogSink {
    tx: mpsc::Sender<Value>,
    closed: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
}

impl LogSink {
    pub(crate) fn new(capacity: usize) -> (Self, mpsc::Receiver<Value>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let sink = LogSink {
            tx,
            closed: Arc::new(AtomicBool::new(false)),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        (sink, rx)
    }

    /// A line of output from `stream` (`stdout`, `stderr`, `gauntlet`, `service`), already
    /// redacted.
    pub fn line(&self, stream: &str, text: &str) {
        self.event(serde_json::json!({"stream": stream, "line": text}));
    }

    /// Any JSON log event.
    pub fn event(&self, data: Value) {
        if self.closed.load(Ordering::Acquire) || self.tx.try_send(data).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
