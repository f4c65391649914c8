//! The durable store: submissions are jobs with a state, a lease and a fencing token, plus
//! their event log, the leaderboard and the worker registry. One trait; one implementation
//! ([`SqlStore`]) whose transitions are written once over a table of what differs between
//! SQLite and PostgreSQL (`dialect.rs`).
//!
//! Times are Unix milliseconds passed in by the caller (`now`), so every transition is
//! deterministic under test; use [`now_ms`] in production code.

pub mod backup;
mod dialect;
mod postgres;
mod rows;
mod sql;
mod sqlite;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{broadcast, watch};

pub use sql::SqlStore;

/// Milliseconds since the Unix epoch.
pub type UnixMillis = i64;

/// The current wall-clock time in Unix milliseconds.
pub fn now_ms() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    /// Another Gauntlet process has this SQLite store open.
    #[error(
        "the SQLite store {path} is in use by another gauntlet process: one process per SQLite \
         store (stop the other one, or share a PostgreSQL database between processes)"
    )]
    InUse { path: String },
    /// Another program holds a lock on the SQLite file that keeps this process out.
    #[error(
        "the SQLite store {path} is locked by another process ({reason}); gauntlet needs it \
         to itself: stop the program that holds it (an open sqlite3 shell, a backup tool) and \
         start again"
    )]
    Locked { path: String, reason: String },
    #[error("invalid store location {0:?}: expected postgres://…, postgresql://… or sqlite:PATH")]
    Location(String),
    /// The caller no longer holds the job: its lease expired, the job was requeued or
    /// finished, or another worker claimed it (the fencing token moved on).
    #[error("lease lost: submission {0} is no longer held with this fencing token")]
    LeaseLost(SubmissionId),
    #[error("submission {0} already exists")]
    Duplicate(SubmissionId),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The database's disk is full (SQLite `SQLITE_FULL`, PostgreSQL `53100`): nothing was
    /// written, and the same call succeeds once space is back.
    pub fn is_disk_full(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e.as_database_error().and_then(|d| d.code()) {
            Some(code) => code == "13" || code == "53100",
            None => false,
        }
    }

    /// The database cannot be reached for now (connection lost or refused, a server
    /// shutting down or starting up, no connection free in time): the same call may
    /// succeed shortly.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
            sqlx::Error::Database(d) => d.code().is_some_and(|c| {
                // connection_exception, admin_shutdown, crash_shutdown, cannot_connect_now
                c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")
            }),
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A submission's id: a UUID (v7, so ids sort by creation time) in its hyphenated form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubmissionId(String);

impl SubmissionId {
    pub fn new() -> Self {
        SubmissionId(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    /// Accepts only a UUID (any version), normalised to lowercase hyphenated form.
    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::try_parse(s)
            .ok()
            .map(|u| SubmissionId(u.hyphenated().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_db(s: String) -> Self {
        SubmissionId(s)
    }
}

impl Default for SubmissionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SubmissionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A submission's state as the API shows it (docs/api.md). Cancelled and given-up jobs
/// are `finished` with an
/// `internal_error` result that says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionState {
    Queued,
    Running,
    Finished,
}

impl SubmissionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SubmissionState::Queued => "queued",
            SubmissionState::Running => "running",
            SubmissionState::Finished => "finished",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "queued" => Ok(SubmissionState::Queued),
            "running" => Ok(SubmissionState::Running),
            "finished" => Ok(SubmissionState::Finished),
            other => Err(StoreError::Corrupt(format!("unknown state {other:?}"))),
        }
    }
}

/// What the API hands the store when a submission is accepted.
#[derive(Debug, Clone)]
pub struct NewSubmission {
    pub id: SubmissionId,
    pub exercise_id: String,
    /// The exercise package's content hash: the version a worker must hold to run it.
    pub exercise_hash: String,
    pub display_name: String,
    pub session_id: String,
    pub client_ip: String,
    /// What per-address limits count the client as: the IPv4 address or the IPv6 network.
    pub client_key: String,
    /// The validated submission: the JSON files map or the ZIP archive bytes.
    pub payload: Vec<u8>,
    /// How many claims the job gets before it is given up with `internal_error`.
    pub max_attempts: u32,
}

/// A submission as the API shows it (without its payload).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Submission {
    pub id: SubmissionId,
    pub exercise_id: String,
    pub exercise_hash: String,
    pub display_name: String,
    pub session_id: String,
    pub client_ip: String,
    pub state: SubmissionState,
    pub attempts: u32,
    pub max_attempts: u32,
    pub worker_id: Option<String>,
    pub created_at: UnixMillis,
    pub started_at: Option<UnixMillis>,
    pub finished_at: Option<UnixMillis>,
    pub cancel_requested: bool,
    /// The result JSON, set exactly once when the state becomes `finished`.
    pub result: Option<Value>,
}

/// A job as a worker holds it after a claim.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: SubmissionId,
    pub exercise_id: String,
    pub exercise_hash: String,
    pub payload: Vec<u8>,
    /// 1 for the first claim, 2 after one expired lease, ...
    pub attempt: u32,
    pub max_attempts: u32,
    /// Bumped on every claim; every later write for this run must carry it.
    pub fencing_token: i64,
    pub lease_expires_at: UnixMillis,
    pub created_at: UnixMillis,
}

/// One row of the admin queue view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueEntry {
    pub id: SubmissionId,
    pub exercise_id: String,
    pub display_name: String,
    pub session_id: String,
    pub state: SubmissionState,
    pub attempts: u32,
    pub worker_id: Option<String>,
    pub created_at: UnixMillis,
    pub started_at: Option<UnixMillis>,
    pub cancel_requested: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub queued: u64,
    pub running: u64,
}

/// Best score of one display name on one exercise; the earlier submission wins ties.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaderboardEntry {
    pub exercise_id: String,
    pub display_name: String,
    pub score: i64,
    pub submission_id: SubmissionId,
    pub created_at: UnixMillis,
}

/// One of a session's own submissions, as its history lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSubmission {
    pub id: SubmissionId,
    pub exercise_id: String,
    pub display_name: String,
    pub state: SubmissionState,
    /// The result's outcome once finished.
    pub outcome: Option<String>,
    /// The score once finished; none for an internal error.
    pub score: Option<i64>,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// `{"state": "queued" | "running" | "finished", ...}`, written by the store itself.
    State,
    /// A log line from the run: `{"stream": "stdout", "line": "..."}` (streams: `stdout`,
    /// `stderr`, `gauntlet`, `service`; already redacted).
    Log,
    /// The result JSON; always the last event of a submission.
    Result,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::State => "state",
            EventKind::Log => "log",
            EventKind::Result => "result",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "state" => Ok(EventKind::State),
            "log" => Ok(EventKind::Log),
            "result" => Ok(EventKind::Result),
            other => Err(StoreError::Corrupt(format!("unknown event kind {other:?}"))),
        }
    }
}

/// One event of a submission; `seq` is 1, 2, 3, ... per submission (the SSE event id).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubmissionEvent {
    pub submission_id: SubmissionId,
    pub seq: i64,
    pub at: UnixMillis,
    pub kind: EventKind,
    pub data: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was queued; it is now finished with a cancelled `internal_error` result.
    Cancelled,
    /// It is running; its worker sees the request at its next heartbeat and stops.
    Requested,
    AlreadyFinished,
    NotFound,
}

/// The answer to a lease renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    Renewed { cancel_requested: bool },
    Lost,
}

/// A job a worker holds: the claim `(id, fencing_token)` whose lease has not expired.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeldLease {
    pub id: SubmissionId,
    pub fencing_token: i64,
}

/// What [`Store::fail_attempt`] did with a job whose attempt failed through no fault of
/// the submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Back in the queue; claimable again from `retry_at`.
    Retrying { retry_at: UnixMillis },
    /// That was its last attempt: finished with `internal_error`, every attempt's reason in it.
    GaveUp,
}

/// What a sweep of expired leases did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Back in the queue for another attempt.
    pub requeued: Vec<SubmissionId>,
    /// Out of attempts: finished with `internal_error`.
    pub failed: Vec<SubmissionId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerInfo {
    pub id: String,
    pub started_at: UnixMillis,
    pub last_seen_at: UnixMillis,
    pub exercise_hashes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The `internal_error` result for a job that never produced one of its own (the
/// result's usual fields plus `reason`, which `log` repeats).
pub fn internal_error_result(reason: &str) -> Value {
    serde_json::json!({
        "outcome": "internal_error",
        "score": 0,
        "points": 0,
        "max_points": 0,
        "tests": [],
        "log": reason,
        "duration_ms": 0,
        "reason": reason,
    })
}

/// The key a display name is bound under: its lower case (names are ASCII). The SQL of
/// the migrations and the leaderboard spells the same rule `lower(display_name)`.
pub fn display_name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// One failed attempt of a job, kept until the job finishes: a lost lease, or a host-side
/// failure (a missing folder, layer preparation, a sandbox set-up step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAttempt {
    pub attempt: u32,
    pub at: UnixMillis,
    pub reason: String,
}

/// The `internal_error` result of a job that used its last attempt: `reason` and `log`
/// name every attempt's failure, and `failed_attempts` lists them one by one.
pub fn gave_up_result(attempts: &[FailedAttempt]) -> Value {
    let each: Vec<String> = attempts
        .iter()
        .map(|a| format!("attempt {}: {}", a.attempt, a.reason))
        .collect();
    let reason = format!(
        "giving up after {} attempt{}, the last allowed (none of them failed through the \
         submission's fault): {}",
        attempts.len(),
        if attempts.len() == 1 { "" } else { "s" },
        each.join("; ")
    );
    let mut result = internal_error_result(&reason);
    result["log"] = Value::String(each.join("\n"));
    result["failed_attempts"] = serde_json::to_value(attempts).expect("plain data serialises");
    result
}

/// The score a result counts for on the leaderboard: none for internal errors.
fn leaderboard_score(result: &Value) -> Option<i64> {
    if result.get("outcome").and_then(Value::as_str) == Some("internal_error") {
        return None;
    }
    result.get("score").and_then(Value::as_i64)
}

/// The store interface, shared by the API (submissions, events, leaderboard, counts) and
/// the workers (claims, leases, results, sweeps). Every state change also appends a
/// [`SubmissionEvent`], in the same transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> Result<()>;

    // --- API side ---

    /// Inserts a queued submission (event 1: `{"state":"queued"}`) and wakes workers.
    async fn create_submission(&self, new: NewSubmission, now: UnixMillis) -> Result<()>;
    async fn get_submission(&self, id: &SubmissionId) -> Result<Option<Submission>>;
    /// Queued and running submissions, oldest first.
    async fn list_active(&self, limit: u32) -> Result<Vec<QueueEntry>>;
    /// Queue-wide counts, for the queue-length cap and metrics.
    async fn queue_counts(&self) -> Result<QueueCounts>;
    /// One session's queued and running submissions, for the per-session cap.
    async fn session_counts(&self, session_id: &str) -> Result<QueueCounts>;
    /// One client key's queued and running submissions, for the per-address cap.
    async fn client_counts(&self, client_key: &str) -> Result<QueueCounts>;
    /// The session a display name belongs to (names compare case-insensitively).
    async fn display_name_owner(&self, name: &str) -> Result<Option<String>>;
    /// Gives `name` to `session_id` unless it belongs to a session already; returns the
    /// session it belongs to now.
    async fn claim_display_name(
        &self,
        name: &str,
        session_id: &str,
        now: UnixMillis,
    ) -> Result<String>;
    /// Frees a display name for the next session that submits under it; false when it
    /// belonged to none.
    async fn release_display_name(&self, name: &str) -> Result<bool>;
    /// A queued submission finishes at once; a running one is flagged for its worker.
    async fn cancel(
        &self,
        id: &SubmissionId,
        reason: &str,
        now: UnixMillis,
    ) -> Result<CancelOutcome>;
    /// Best score per display name per exercise (all exercises when `None`), highest
    /// first; only submissions of the session the name belongs to count.
    async fn leaderboard(&self, exercise_id: Option<&str>) -> Result<Vec<LeaderboardEntry>>;
    /// The names `session_id` owns, in the order it last used them (most recent last).
    async fn session_names(&self, session_id: &str) -> Result<Vec<String>>;
    /// The session's submissions (of one exercise, when given), newest first.
    async fn session_submissions(
        &self,
        session_id: &str,
        exercise_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SessionSubmission>>;
    /// The session's best score per exercise (internal errors do not count).
    async fn session_best_scores(&self, session_id: &str) -> Result<Vec<(String, i64)>>;
    /// Events with `seq > after_seq`, in order (SSE resume: `after_seq` = Last-Event-ID).
    async fn events_after(
        &self,
        id: &SubmissionId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<SubmissionEvent>>;
    /// Fires with a submission's id whenever an event is appended to it (on PostgreSQL,
    /// also for appends made by other processes). Lagging receivers should re-read.
    fn subscribe_events(&self) -> broadcast::Receiver<SubmissionId>;

    // --- worker side ---

    /// Appends events of one kind, in order, in one transaction; returns the last one's
    /// seq. Not fenced: logs of a run that lost its lease stay visible, the result does not.
    async fn append_events(
        &self,
        id: &SubmissionId,
        kind: EventKind,
        data: &[Value],
        now: UnixMillis,
    ) -> Result<i64>;
    /// [`Store::append_events`] for one event.
    async fn append_event(
        &self,
        id: &SubmissionId,
        kind: EventKind,
        data: &Value,
        now: UnixMillis,
    ) -> Result<i64> {
        self.append_events(id, kind, std::slice::from_ref(data), now)
            .await
    }
    /// Announces a worker and the exercise versions it holds (replacing earlier ones).
    async fn register_worker(
        &self,
        worker_id: &str,
        hashes: &[String],
        now: UnixMillis,
    ) -> Result<()>;
    /// Presence heartbeat of a worker.
    async fn touch_worker(&self, worker_id: &str, now: UnixMillis) -> Result<()>;
    async fn deregister_worker(&self, worker_id: &str) -> Result<()>;
    /// Workers seen at or after `since`.
    async fn live_workers(&self, since: UnixMillis) -> Result<Vec<WorkerInfo>>;
    /// Atomically takes the oldest queued job whose exercise version is in `hashes`:
    /// state running, attempts+1, fencing token+1, lease until `now + lease`.
    async fn claim(
        &self,
        worker_id: &str,
        hashes: &[String],
        lease: Duration,
        now: UnixMillis,
    ) -> Result<Option<ClaimedJob>> {
        Ok(self
            .claim_many(worker_id, hashes, lease, now, 1)
            .await?
            .into_iter()
            .next())
    }
    /// Like [`Store::claim`] for up to `max` jobs at once, oldest first (one round trip
    /// for a worker with several free slots).
    async fn claim_many(
        &self,
        worker_id: &str,
        hashes: &[String],
        lease: Duration,
        now: UnixMillis,
        max: u32,
    ) -> Result<Vec<ClaimedJob>>;
    /// Renews the lease while the token is current.
    async fn renew_lease(
        &self,
        id: &SubmissionId,
        token: i64,
        lease: Duration,
        now: UnixMillis,
    ) -> Result<Lease>;
    /// Writes the one result; `Err(LeaseLost)` when `token` is not current.
    async fn finish(
        &self,
        id: &SubmissionId,
        token: i64,
        result: &Value,
        now: UnixMillis,
    ) -> Result<()>;
    /// Gives a held job back to the queue without counting the attempt (drain).
    async fn release(&self, id: &SubmissionId, token: i64, now: UnixMillis) -> Result<()>;
    /// The holder's attempt failed through no fault of the submission (the host could not
    /// set the run up): the reason is kept, and the job goes back to the queue, claimable
    /// from `retry_at`, unless that was its last attempt; then it finishes with
    /// `internal_error` naming every attempt's reason. `Err(LeaseLost)` when `token` is
    /// not current.
    async fn fail_attempt(
        &self,
        id: &SubmissionId,
        token: i64,
        reason: &str,
        retry_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<AttemptOutcome>;
    /// Requeues running jobs whose lease expired before `now` (the lost lease counts as a
    /// failed attempt); those out of attempts finish with `internal_error`.
    async fn sweep_expired(&self, now: UnixMillis) -> Result<SweepReport>;
    /// Fails queued jobs created before `created_before` whose exercise version no worker
    /// seen since `workers_seen_since` holds.
    async fn fail_unservable(
        &self,
        created_before: UnixMillis,
        workers_seen_since: UnixMillis,
        now: UnixMillis,
    ) -> Result<Vec<SubmissionId>>;
    /// Claims of running jobs whose lease has not expired at `now` (runs-dir sweeps: a
    /// job folder belongs to one claim).
    async fn held_leases(&self, now: UnixMillis) -> Result<Vec<HeldLease>>;
    /// Changes whenever a job may have become claimable (new, requeued). Workers wait
    /// on it instead of polling; they still poll slowly in case a signal is missed.
    fn job_signal(&self) -> watch::Receiver<u64>;
}

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file in WAL mode, `<data-dir>/gauntlet.db` unless told otherwise; one
    /// process at a time.
    Sqlite { path: PathBuf },
    /// A PostgreSQL database (`postgres://…`), shared by any number of processes.
    Postgres { url: String },
}

impl StoreLocation {
    /// The embedded store of a data dir.
    pub fn embedded(data_dir: &Path) -> Self {
        StoreLocation::Sqlite {
            path: data_dir.join("gauntlet.db"),
        }
    }

    /// `postgres://…` or `postgresql://…` (a PostgreSQL URL), or `sqlite:PATH` (an SQLite
    /// file; `sqlite://PATH` works too).
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres {
                url: url.to_owned(),
            });
        }
        match url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Some(path) if !path.is_empty() && !path.contains('?') => Ok(StoreLocation::Sqlite {
                path: PathBuf::from(path),
            }),
            _ => Err(StoreError::Location(redact_url(url))),
        }
    }

    /// PostgreSQL or an explicit SQLite file when `database_url` is set, otherwise the
    /// embedded SQLite store of the data dir.
    pub fn from_settings(database_url: Option<&str>, data_dir: &Path) -> Result<Self> {
        match database_url {
            Some(url) if !url.trim().is_empty() => Self::parse(url),
            _ => Ok(Self::embedded(data_dir)),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            StoreLocation::Sqlite { .. } => Backend::Sqlite,
            StoreLocation::Postgres { .. } => Backend::Postgres,
        }
    }
}

/// A URL with its password (if any) blanked, for error messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***{}", &url[..scheme], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens the store and runs its migrations.
pub async fn open(location: &StoreLocation) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(match location {
        StoreLocation::Sqlite { path } => SqlStore::open_sqlite(path).await?,
        StoreLocation::Postgres { url } => SqlStore::connect_postgres(url).await?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let ok: &[(&str, StoreLocation)] = &[
            (
                "postgres://u:p@h/db",
                StoreLocation::Postgres {
                    url: "postgres://u:p@h/db".into(),
                },
            ),
            (
                "postgresql://h/db",
                StoreLocation::Postgres {
                    url: "postgresql://h/db".into(),
                },
            ),
            (
                "sqlite:/var/lib/g.db",
                StoreLocation::Sqlite {
                    path: "/var/lib/g.db".into(),
                },
            ),
            (
                "sqlite://rel/g.db",
                StoreLocation::Sqlite {
                    path: "rel/g.db".into(),
                },
            ),
        ];
        for (url, want) in ok {
            assert_eq!(&StoreLocation::parse(url).unwrap(), want, "{url}");
        }
        for bad in ["mysql://h/db", "sqlite:", "g.db", "sqlite:x.db?mode=ro"] {
            assert!(StoreLocation::parse(bad).is_err(), "{bad}");
        }
        let err = StoreLocation::parse("redis://u:secret@h")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn a_given_up_result_names_every_attempt() {
        let attempts = [
            FailedAttempt {
                attempt: 1,
                at: 5,
                reason: "the lease expired".into(),
            },
            FailedAttempt {
                attempt: 2,
                at: 9,
                reason: "sandbox setup failed at mount-overlay".into(),
            },
        ];
        let r = gave_up_result(&attempts);
        assert_eq!(r["outcome"], "internal_error");
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.contains("2 attempts"), "{reason}");
        assert!(reason.contains("attempt 1: the lease expired"), "{reason}");
        assert!(
            reason.contains("attempt 2: sandbox setup failed"),
            "{reason}"
        );
        assert_eq!(r["failed_attempts"][1]["attempt"], 2);
    }
}
