//! The store's transitions, written once for both back ends over sqlx's `Any` driver;
//! what SQLite and PostgreSQL spell differently comes from their [`Dialect`] table.
//!
//! Every transition is one transaction that changes the submission row and appends its
//! event, numbered from the row's `log_seq` counter (bumped by the same `UPDATE`, whose
//! row lock serialises concurrent appends on PostgreSQL; SQLite has one writer).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::dialect::Dialect;
use super::rows::{self, CLAIMED_COLUMNS, QUEUE_ENTRY_COLUMNS, SUBMISSION_COLUMNS};
use super::*;

/// Events inserted per statement (each takes three parameters).
const EVENT_BATCH: usize = 100;

/// A store over SQLite or PostgreSQL; see [`SqlStore::open_sqlite`] and
/// [`SqlStore::connect_postgres`].
pub struct SqlStore {
    dialect: &'static Dialect,
    sql: Statements,
    /// Durable writes (SQLite: the one writer connection).
    write: AnyPool,
    /// Claims and lease renewals: PostgreSQL commits them without waiting for the WAL
    /// flush (see docs/queue.md, "Durability"); SQLite uses its writer.
    fast: AnyPool,
    /// Reads (SQLite: read-only connections beside the writer).
    read: AnyPool,
    jobs: watch::Sender<u64>,
    events: broadcast::Sender<SubmissionId>,
    /// The SQLite checkpointer or the PostgreSQL listener.
    background: Vec<JoinHandle<()>>,
    /// SQLite: the open database file whose `flock` keeps other Gauntlet processes out.
    _lock: Option<nix::fcntl::Flock<std::fs::File>>,
}

/// What a back end's opener hands over.
pub(super) struct Parts {
    pub dialect: &'static Dialect,
    pub write: AnyPool,
    pub fast: AnyPool,
    pub read: AnyPool,
    pub jobs: watch::Sender<u64>,
    pub events: broadcast::Sender<SubmissionId>,
    pub background: Vec<JoinHandle<()>>,
    pub lock: Option<nix::fcntl::Flock<std::fs::File>>,
}

impl Drop for SqlStore {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

/// The statements whose text depends on the dialect, built once when the store opens.
struct Statements {
    claim: String,
    state_of: String,
    attempt_of: String,
    expired: String,
    unservable: String,
    register_versions: String,
    live_workers: String,
}

impl Statements {
    fn new(d: &Dialect) -> Self {
        Statements {
            claim: format!(
                "UPDATE submissions SET state = 'running', attempts = attempts + 1, \
                 fencing_token = fencing_token + 1, worker_id = $1, lease_expires_at = $2, \
                 started_at = $3, cancel_requested = FALSE, retry_at = NULL, \
                 log_seq = log_seq + 1 \
                 WHERE id IN (SELECT id FROM submissions WHERE state = 'queued' \
                     AND (retry_at IS NULL OR retry_at <= $3) \
                     AND exercise_hash IN ({hashes}) \
                     ORDER BY created_at, id LIMIT $5{lock}) \
                 RETURNING {CLAIMED_COLUMNS}",
                hashes = d.json_texts("$4"),
                lock = d.skip_locked,
            ),
            state_of: format!("SELECT state FROM submissions WHERE id = $1{}", d.lock_row),
            attempt_of: format!(
                "SELECT attempts, max_attempts, cancel_requested, failures FROM submissions \
                 WHERE id = $1 AND fencing_token = $2 AND state = 'running'{}",
                d.lock_row
            ),
            expired: format!(
                "SELECT id, attempts, max_attempts, cancel_requested, failures FROM submissions \
                 WHERE state = 'running' AND lease_expires_at < $1{}",
                d.skip_locked
            ),
            unservable: format!(
                "SELECT id, exercise_hash FROM submissions s \
                 WHERE state = 'queued' AND created_at < $1 AND NOT EXISTS ( \
                     SELECT 1 FROM worker_versions v JOIN workers w ON w.id = v.worker_id \
                     WHERE v.exercise_hash = s.exercise_hash AND w.last_seen_at >= $2){}",
                d.skip_locked
            ),
            register_versions: format!(
                "INSERT INTO worker_versions (worker_id, exercise_hash) \
                 SELECT DISTINCT $1, value FROM ({}) AS hashes WHERE TRUE \
                 ON CONFLICT DO NOTHING",
                d.json_texts("$2")
            ),
            live_workers: format!(
                "SELECT w.id, w.started_at, w.last_seen_at, \
                 (SELECT {} FROM worker_versions v WHERE v.worker_id = w.id) AS hashes \
                 FROM workers w WHERE w.last_seen_at >= $1 ORDER BY w.id",
                d.json_array_agg("v.exercise_hash")
            ),
        }
    }
}

const CREATE: &str = "INSERT INTO submissions (id, exercise_id, exercise_hash, display_name, \
     session_id, client_ip, client_key, payload, created_at, max_attempts, log_seq) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1) ON CONFLICT (id) DO NOTHING";

const BUMP_SEQ: &str =
    "UPDATE submissions SET log_seq = log_seq + $2 WHERE id = $1 RETURNING log_seq";

/// Finishes a job the caller holds locked (cancel, sweeps).
const FINISH: &str = "UPDATE submissions SET state = 'finished', result = $2, score = $3, \
     finished_at = $4, lease_expires_at = NULL, retry_at = NULL, log_seq = log_seq + 1 \
     WHERE id = $1 RETURNING log_seq";

/// Finishes a job only for the holder of the current fencing token.
const FINISH_HELD: &str = "UPDATE submissions SET state = 'finished', result = $2, score = $3, \
     finished_at = $4, lease_expires_at = NULL, retry_at = NULL, log_seq = log_seq + 1 \
     WHERE id = $1 AND fencing_token = $5 AND state = 'running' RETURNING log_seq";

/// Back to the queue after a failed attempt (counted), keeping its reasons.
const REQUEUE: &str = "UPDATE submissions SET state = 'queued', worker_id = NULL, \
     lease_expires_at = NULL, started_at = NULL, failures = $2, retry_at = $3, \
     log_seq = log_seq + 1 WHERE id = $1 RETURNING log_seq";

/// Back to the queue from a draining worker: the attempt is not counted.
const RELEASE: &str = "UPDATE submissions SET state = 'queued', \
     attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, worker_id = NULL, \
     lease_expires_at = NULL, started_at = NULL, log_seq = log_seq + 1 \
     WHERE id = $1 AND fencing_token = $2 AND state = 'running' RETURNING log_seq";

const RENEW: &str = "UPDATE submissions SET lease_expires_at = $3 \
     WHERE id = $1 AND fencing_token = $2 AND state = 'running' RETURNING cancel_requested";

const REQUEST_CANCEL: &str = "UPDATE submissions SET cancel_requested = TRUE WHERE id = $1";

const LIST_ACTIVE: &str = "WHERE state <> 'finished' ORDER BY created_at, id LIMIT $1";

const COUNTS: &str = "SELECT COUNT(*) FILTER (WHERE state = 'queued') AS q, \
     COUNT(*) FILTER (WHERE state = 'running') AS r \
     FROM submissions WHERE state <> 'finished'";

/// Best score per (exercise, display name in any case): rank each one's scored
/// submissions, best first, earliest first among equals, counting only those of the
/// session the name belongs to.
const LEADERBOARD: &str = "SELECT exercise_id, display_name, score, id, created_at FROM ( \
     SELECT s.exercise_id, s.display_name, s.score, s.id, s.created_at, ROW_NUMBER() OVER ( \
         PARTITION BY s.exercise_id, lower(s.display_name) \
         ORDER BY s.score DESC, s.created_at, s.id) AS rank \
     FROM submissions s JOIN display_names d \
         ON d.name_key = lower(s.display_name) AND d.session_id = s.session_id \
     WHERE s.score IS NOT NULL \
         AND (CAST($1 AS TEXT) IS NULL OR s.exercise_id = CAST($1 AS TEXT))) ranked \
     WHERE rank = 1 ORDER BY exercise_id, score DESC, created_at, display_name";

/// A session's owned names, by when it last submitted under each.
const SESSION_NAMES: &str = "SELECT MAX(s.display_name) AS name, MAX(s.created_at) AS last \
     FROM display_names d JOIN submissions s \
         ON lower(s.display_name) = d.name_key AND s.session_id = d.session_id \
     WHERE d.session_id = $1 GROUP BY d.name_key ORDER BY last, name";

const SESSION_SUBMISSIONS: &str = "SELECT id, exercise_id, display_name, state, score, \
     result, created_at FROM submissions WHERE session_id = $1 \
         AND (CAST($2 AS TEXT) IS NULL OR exercise_id = CAST($2 AS TEXT)) \
     ORDER BY created_at DESC, id DESC LIMIT $3";

const SESSION_BEST: &str = "SELECT exercise_id, MAX(score) AS best FROM submissions \
     WHERE session_id = $1 AND score IS NOT NULL GROUP BY exercise_id ORDER BY exercise_id";

const NAME_OWNER: &str = "SELECT session_id FROM display_names WHERE name_key = $1";

const CLAIM_NAME: &str = "INSERT INTO display_names (name_key, session_id, claimed_at) \
     VALUES ($1, $2, $3) ON CONFLICT (name_key) DO NOTHING";

const RELEASE_NAME: &str = "DELETE FROM display_names WHERE name_key = $1";

const EVENTS_AFTER: &str = "SELECT submission_id, seq, at, kind, data FROM submission_events \
     WHERE submission_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

const UPSERT_WORKER: &str = "INSERT INTO workers (id, started_at, last_seen_at) \
     VALUES ($1, $2, $2) ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at";

const HELD: &str = "SELECT id, fencing_token FROM submissions \
     WHERE state = 'running' AND lease_expires_at >= $1";

/// A pooled connection for writes, handed back to the pool only when its work ended
/// cleanly. After an error, or when the future using it is dropped half-way, the
/// connection is closed instead: SQLite may leave the failed statement's transaction open
/// (a full disk: `SQLITE_FULL` at commit), and no later write may ever start inside it.
struct WriteConn(Option<PoolConnection<Any>>);

impl WriteConn {
    async fn acquire(pool: &AnyPool) -> Result<WriteConn> {
        Ok(WriteConn(Some(pool.acquire().await?)))
    }

    /// The work is done and the connection is clean: back to the pool.
    fn release(mut self) {
        drop(self.0.take());
    }
}

impl Drop for WriteConn {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(conn.detach()); // closed, with whatever it had open
        }
    }
}

impl std::ops::Deref for WriteConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.0.as_ref().expect("a connection in use")
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.0.as_mut().expect("a connection in use")
    }
}

/// A write transaction on a [`WriteConn`], begun and ended by plain `BEGIN`, `COMMIT`
/// and `ROLLBACK`. Written by hand rather than with sqlx's `Transaction`, whose count of
/// open transactions goes wrong when SQLite ends a transaction by itself (`SQLITE_FULL`
/// rolls it back): the next transaction on that connection then became a savepoint
/// inside a transaction never committed, and writes reported as saved were not. A
/// transaction that does not end in a successful `COMMIT` or `ROLLBACK` closes its
/// connection.
struct Tx(WriteConn);

impl Tx {
    async fn begin(pool: &AnyPool, dialect: &Dialect) -> Result<Tx> {
        let mut conn = WriteConn::acquire(pool).await?;
        conn.execute(dialect.begin).await?;
        Ok(Tx(conn))
    }

    async fn commit(mut self) -> Result<()> {
        self.0.execute("COMMIT").await?;
        self.0.release();
        Ok(())
    }

    async fn rollback(mut self) -> Result<()> {
        self.0.execute("ROLLBACK").await?;
        self.0.release();
        Ok(())
    }
}

impl std::ops::Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.0
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.0
    }
}

/// Inserts events of one kind at one time: `(submission, seq, data)` each.
async fn insert_events(
    conn: &mut AnyConnection,
    kind: EventKind,
    at: UnixMillis,
    events: &[(&SubmissionId, i64, String)],
) -> Result<()> {
    for chunk in events.chunks(EVENT_BATCH) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = 3 + 3 * i;
                format!("(${p}, ${}, $1, $2, ${})", p + 1, p + 2)
            })
            .collect();
        let sql = format!(
            "INSERT INTO submission_events (submission_id, seq, at, kind, data) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(at).bind(kind.as_str());
        for (id, seq, data) in chunk {
            query = query.bind(id.as_str()).bind(*seq).bind(data.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Appends events to one submission; `None` when it does not exist.
async fn push_events(
    conn: &mut AnyConnection,
    id: &SubmissionId,
    kind: EventKind,
    data: &[Value],
    now: UnixMillis,
) -> Result<Option<i64>> {
    let n = data.len() as i64;
    let last: Option<i64> = sqlx::query_scalar(BUMP_SEQ)
        .bind(id.as_str())
        .bind(n)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(last) = last else { return Ok(None) };
    let events: Vec<(&SubmissionId, i64, String)> = data
        .iter()
        .enumerate()
        .map(|(i, d)| (id, last - n + 1 + i as i64, d.to_string()))
        .collect();
    insert_events(conn, kind, now, &events).await?;
    Ok(Some(last))
}

/// Finishes a job with `result` and its result event. With `token`, only while that
/// token holds the running job (`false` otherwise); without, the caller holds the row.
async fn write_result(
    conn: &mut AnyConnection,
    id: &SubmissionId,
    token: Option<i64>,
    result: &Value,
    now: UnixMillis,
) -> Result<bool> {
    let text = result.to_string();
    let query = sqlx::query_scalar(if token.is_some() { FINISH_HELD } else { FINISH })
        .bind(id.as_str())
        .bind(text.as_str())
        .bind(leaderboard_score(result))
        .bind(now);
    let query = match token {
        Some(t) => query.bind(t),
        None => query,
    };
    let seq: Option<i64> = query.fetch_optional(&mut *conn).await?;
    let Some(seq) = seq else { return Ok(false) };
    insert_events(conn, EventKind::Result, now, &[(id, seq, text)]).await?;
    Ok(true)
}

/// Requeues a job the caller holds after a failed attempt, with a state event that says why.
async fn requeue(
    conn: &mut AnyConnection,
    id: &SubmissionId,
    failures: &[FailedAttempt],
    retry_at: Option<UnixMillis>,
    why: &str,
    now: UnixMillis,
) -> Result<()> {
    let failures = serde_json::to_string(failures).expect("plain data serialises");
    let seq: i64 = sqlx::query_scalar(REQUEUE)
        .bind(id.as_str())
        .bind(failures)
        .bind(retry_at)
        .fetch_one(&mut *conn)
        .await?;
    let event = json!({"state": "queued", "reason": why}).to_string();
    insert_events(conn, EventKind::State, now, &[(id, seq, event)]).await
}

/// What happens to a held job whose attempt ended without a result of its own.
/// `if_cancelled` is the result's reason when an operator's cancel is pending.
fn after_failed_attempt(
    row: &AnyRow,
    attempt_reason: String,
    if_cancelled: &str,
    now: UnixMillis,
) -> Result<(Vec<FailedAttempt>, Option<Value>)> {
    let attempts: i64 = row.try_get("attempts")?;
    let max_attempts: i64 = row.try_get("max_attempts")?;
    let mut failures = rows::failures(row)?;
    failures.push(FailedAttempt {
        attempt: attempts.max(0) as u32,
        at: now,
        reason: attempt_reason,
    });
    let final_result = if rows::flag(row, "cancel_requested")? {
        Some(internal_error_result(if_cancelled))
    } else if attempts >= max_attempts {
        Some(gave_up_result(&failures))
    } else {
        None
    };
    Ok((failures, final_result))
}

pub(super) fn lease_lost_reason(attempt: i64) -> String {
    format!(
        "the job's lease expired on attempt {attempt} (its worker stopped or lost contact \
         with the store)"
    )
}

fn unservable_reason(hash: &str) -> String {
    format!(
        "no live worker holds exercise version {hash}; the exercise may have changed \
         since this submission was made"
    )
}

impl SqlStore {
    pub(super) fn assemble(parts: Parts) -> Self {
        SqlStore {
            sql: Statements::new(parts.dialect),
            dialect: parts.dialect,
            write: parts.write,
            fast: parts.fast,
            read: parts.read,
            jobs: parts.jobs,
            events: parts.events,
            background: parts.background,
            _lock: parts.lock,
        }
    }

    /// Wakes workers in this process (other processes hear the database's own notice).
    fn wake_workers(&self) {
        if !self.dialect.notifies {
            self.jobs.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Tells this process's event streams that a submission has new events.
    fn announce<'a>(&self, ids: impl IntoIterator<Item = &'a SubmissionId>) {
        if !self.dialect.notifies {
            for id in ids {
                let _ = self.events.send(id.clone());
            }
        }
    }

    /// Queued and running submissions: all of them, or those whose `column` (a session,
    /// a client key) is `value`.
    async fn counts(&self, only: Option<(&str, &str)>) -> Result<QueueCounts> {
        let row = match only {
            None => sqlx::query(COUNTS).fetch_one(&self.read).await?,
            Some((column, value)) => {
                sqlx::query(&format!("{COUNTS} AND {column} = $1"))
                    .bind(value)
                    .fetch_one(&self.read)
                    .await?
            }
        };
        Ok(QueueCounts {
            queued: row.try_get::<i64, _>("q")? as u64,
            running: row.try_get::<i64, _>("r")? as u64,
        })
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.dialect.backend
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn create_submission(&self, new: NewSubmission, now: UnixMillis) -> Result<()> {
        let mut tx = Tx::begin(&self.write, self.dialect).await?;
        let inserted = sqlx::query(CREATE)
            .bind(new.id.as_str())
            .bind(&new.exercise_id)
            .bind(&new.exercise_hash)
            .bind(&new.display_name)
            .bind(&new.session_id)
            .bind(&new.client_ip)
            .bind(&new.client_key)
            .bind(&new.payload)
            .bind(now)
            .bind(i64::from(new.max_attempts.max(1)))
            .execute(&mut *tx)
            .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::Duplicate(new.id));
        }
        let queued = json!({"state": "queued"}).to_string();
        insert_events(&mut tx, EventKind::State, now, &[(&new.id, 1, queued)]).await?;
        tx.commit().await?;
        self.wake_workers();
        self.announce([&new.id]);
        Ok(())
    }

    async fn get_submission(&self, id: &SubmissionId) -> Result<Option<Submission>> {
        let sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(rows::submission).transpose()
    }

    async fn list_active(&self, limit: u32) -> Result<Vec<QueueEntry>> {
        let sql = format!("SELECT {QUEUE_ENTRY_COLUMNS} FROM submissions {LIST_ACTIVE}");
        let found = sqlx::query(&sql)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        found.iter().map(rows::queue_entry).collect()
    }

    async fn queue_counts(&self) -> Result<QueueCounts> {
        self.counts(None).await
    }

    async fn session_counts(&self, session_id: &str) -> Result<QueueCounts> {
        self.counts(Some(("session_id", session_id))).await
    }

    async fn client_counts(&self, client_key: &str) -> Result<QueueCounts> {
        self.counts(Some(("client_key", client_key))).await
    }

    async fn display_name_owner(&self, name: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(NAME_OWNER)
            .bind(display_name_key(name))
            .fetch_optional(&self.read)
            .await?)
    }

    async fn claim_display_name(
        &self,
        name: &str,
        session_id: &str,
        now: UnixMillis,
    ) -> Result<String> {
        let key = display_name_key(name);
        let mut tx = Tx::begin(&self.write, self.dialect).await?;
        sqlx::query(CLAIM_NAME)
            .bind(&key)
            .bind(session_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let owner = sqlx::query_scalar(NAME_OWNER)
            .bind(&key)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(owner)
    }

    async fn release_display_name(&self, name: &str) -> Result<bool> {
        let mut conn = WriteConn::acquire(&self.write).await?;
        let done = sqlx::query(RELEASE_NAME)
            .bind(display_name_key(name))
            .execute(&mut *conn)
            .await?;
        conn.release();
        Ok(done.rows_affected() > 0)
    }

    async fn cancel(
        &self,
        id: &SubmissionId,
        reason: &str,
        now: UnixMillis,
    ) -> Result<CancelOutcome> {
        let mut tx = Tx::begin(&self.write, self.dialect).await?;
        let state: Option<String> = sqlx::query_scalar(&self.sql.state_of)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let outcome = match state.as_deref().map(SubmissionState::parse).transpose()? {
            None => CancelOutcome::NotFound,
            Some(SubmissionState::Finished) => CancelOutcome::AlreadyFinished,
            Some(SubmissionState::Queued) => {
                let result = internal_error_result(&format!("cancelled: {reason}"));
                write_result(&mut tx, id, None, &result, now).await?;
                CancelOutcome::Cancelled
            }
            Some(SubmissionState::Running) => {
                sqlx::query(REQUEST_CANCEL)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                CancelOutcome::Requested
            }
        };
        tx.commit().await?;
        if outcome == CancelOutcome::Cancelled {
            self.announce([id]);
        }
        Ok(outcome)
    }

    async fn leaderboard(&self, exercise_id: Option<&str>) -> Result<Vec<LeaderboardEntry>> {
        let found = sqlx::query(LEADERBOARD)
            .bind(exercise_id)
            .fetch_all(&self.read)
            .await?;
        found.iter().map(rows::leaderboard).collect()
    }

    async fn session_names(&self, session_id: &str) -> Result<Vec<String>> {
        let found = sqlx::query(SESSION_NAMES)
            .bind(session_id)
            .fetch_all(&self.read)
            .await?;
        found
            .iter()
            .map(|row| Ok(row.try_get::<String, _>("name")?))
            .collect()
    }

    async fn session_submissions(
        &self,
        session_id: &str,
        exercise_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SessionSubmission>> {
        let found = sqlx::query(SESSION_SUBMISSIONS)
            .bind(session_id)
            .bind(exercise_id)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        found.iter().map(rows::session_submission).collect()
    }

    async fn session_best_scores(&self, session_id: &str) -> Result<Vec<(String, i64)>> {
        let found = sqlx::query(SESSION_BEST)
            .bind(session_id)
            .fetch_all(&self.read)
            .await?;
        found
            .iter()
            .map(|row| Ok((row.try_get("exercise_id")?, row.try_get("best")?)))
            .collect()
    }

    async fn events_after(
        &self,
        id: &SubmissionId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<SubmissionEvent>> {
        let found = sqlx::query(EVENTS_AFTER)
            .bind(id.as_str())
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        found.iter().map(rows::event).collect()
    }

    fn subscribe_events(&self) -> broadcast::Receiver<SubmissionId> {
        self.events.subscribe()
    }

    async fn append_events(
        &self,
        id: &SubmissionId,
        kind: EventKind,
        data: &[Value],
        now: UnixMillis,
    ) -> Result<i64> {
        let mut tx = Tx::begin(&self.write, self.dialect).await?;
        let seq = push_events(&mut tx, id, kind, data, now).await?;
        tx.commit().await?;
        let seq = seq.ok_or_else(|| StoreError::Corrupt(format!("no submission {id}")))?;
        self.announce([id]);
        Ok(seq)
    }

    async fn register_worker(
        &self,
        worker_id: &str,
        hashes: &[String],
        now: UnixMillis,
    ) -> Result<()> {
        let hashes = serde_json::to_string(hashes).expect("strings serialise");
        let mut tx = Tx::begin(&self.write, self.dialect).await?;
        sqlx::query(UPSERT_WORKER)
            .bind(worker_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM worker_versions WHERE worker_id = $1")
            .bind(worker_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&self.sql.register_versions)
            .bind(worker_id)
            .bind(hashes)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn touch_worker(&self, worker_id: &str, now: UnixMillis) -> Result<()> {
        let mut conn = WriteConn::acquire(&self.write).await?;
        sqlx::query("UPDATE workers SET last_seen_at = $2 WHERE id = $1")
            .bind(worker_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        conn.release();
        Ok(())
    }

    async fn deregister_worker(&self, worker_id: &str) -> Result<()> {
        let mut conn = WriteConn::acquire(&self.write).await?;
        sqlx::query("DELETE FROM workers WHERE id = $1")
            .bind(worker_id)
            .execute(&mut *conn)
            .await?;
        conn.release();
        Ok(())
    }

    async fn live_workers(&self, since: UnixMillis) -> Result<Vec<WorkerInfo>> {
        let found = sqlx::query(&self.sql.live_workers)
            .bind(since)
            .fetch_all(&self.read)
            .await?;
        found.iter().map(rows::worker).collect()
    }

    async fn claim_many(
        &self,
        worker_id: &str,
        hashes: &[String],
        lease: Duration,
        now: UnixMillis,
        max: u32,
    ) -> Result<Vec<ClaimedJob>> {
        let hashes = serde_json::to_string(hashes).expect("strings serialise");
        let mut tx = Tx::begin(&self.fast, self.dialect).await?;
        let found = sqlx::query(&self.sql.claim)
            .bind(worker_id)
            .bind(now.saturating_add(millis(lease)))
            .bind(now)
            .bind(hashes)
            .bind(i64::from(max))
            .fetch_all(&mut *tx)
            .await?;
        if found.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let mut claimed = found
            .iter()
            .map(rows::claimed)
            .collect::<Result<Vec<_>>>()?;
        // RETURNING order is unspecified: hand them out oldest first.
        claimed.sort_by(|(a, _), (b, _)| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let events: Vec<(&SubmissionId, i64, String)> = claimed
            .iter()
            .map(|(job, seq)| {
                let data = json!({"state": "running", "attempt": job.attempt});
                (&job.id, *seq, data.to_string())
            })
            .collect();
        insert_events(&mut tx, EventKind::State, now, &events).await?;
        tx.commit().await?;
        self.announce(claimed.iter().map(|(job, _)| &job.id));
        Ok(claimed.into_iter().map(|(job, _)| job).collect())
    }

    async fn renew_lease(
        &self,
        id: &SubmissionId,
        token: i64,
        lease: Duration,
        now: UnixMillis,
    ) -> Result<Lease> {
        let mut conn = WriteConn::acquire(&self.fast).await?;
        let row = sqlx::query(RENEW)
            .bind(id.as_str())
            .bind(token)
            .bind(now.saturating_add(millis(lease)))
            .fetch_optional(&mut *conn)
            .await?;
        conn.release();
        Ok(match row {
            Some(row) => Lease::Renewed {
                cancel_requested: rows::flag(&row, "cancel_requested")?,
            },
            None => Lease::Lost,
        })
    }

    async fn finish(
        &self,
        id: &SubmissionId,
        token: i64,
        result: &Value,
        now: UnixMillis,
    ) -> Result<()> {
        let mut tx = Tx::begin(&self.write, self.dialect).await?;
        if !write_result(&mut tx, id, Some(token), result, now).await? {
            tx.rollback().await?;
            return Err(StoreError::LeaseLost(id.clone()));
        }
        tx.commit().await?;
        self.announce([id]);
        Ok(())
    }

    async fn release(&self, id: &SubmissionId, token: i64, now: UnixMillis) -> Result<()> {
        let mut tx = Tx::begin(&self.write, self.dialect).await?;
        let seq: Option<i64> = sqlx::query_scalar(RELEASE)
            .bind(id.as_str())
            .bind(token)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(seq) = seq else {
            tx.rollback().await?;
            return Err(StoreError::LeaseLost(id.clone()));
        };
        let event = json!({"state": "queued", "reason": "released by a draining worker"});
        insert_events(
            &mut tx,
            EventKind::State,
            now,
            &[(id, seq, event.to_string())],
        )
        .await?;
        tx.commit().await?;
        self.wake_workers();
        self.announce([id]);
        Ok(())
    }

    async fn fail_attempt(
        &self,
        id: &SubmissionId,
        token: i64,
        reason: &str,
        retry_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<AttemptOutcome> {
        let mut tx = Tx::begin(&self.write, self.dialect).await?;
        let row = sqlx::query(&self.sql.attempt_of)
            .bind(id.as_str())
            .bind(token)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Err(StoreError::LeaseLost(id.clone()));
        };
        let (failures, final_result) = after_failed_attempt(
            &row,
            reason.to_owned(),
            "cancelled: the submission was cancelled while its attempt failed on the host",
            now,
        )?;
        let outcome = match final_result {
            Some(result) => {
                write_result(&mut tx, id, None, &result, now).await?;
                AttemptOutcome::GaveUp
            }
            None => {
                let why = format!("attempt failed on the host, retrying: {reason}");
                requeue(&mut tx, id, &failures, Some(retry_at), &why, now).await?;
                AttemptOutcome::Retrying { retry_at }
            }
        };
        tx.commit().await?;
        if matches!(outcome, AttemptOutcome::Retrying { .. }) {
            self.wake_workers();
        }
        self.announce([id]);
        Ok(outcome)
    }

    async fn sweep_expired(&self, now: UnixMillis) -> Result<SweepReport> {
        let mut tx = Tx::begin(&self.write, self.dialect).await?;
        let expired = sqlx::query(&self.sql.expired)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        let mut report = SweepReport::default();
        for row in &expired {
            let id = SubmissionId::from_db(row.try_get("id")?);
            let attempt: i64 = row.try_get("attempts")?;
            let (failures, final_result) = after_failed_attempt(
                row,
                lease_lost_reason(attempt),
                "cancelled: the submission was cancelled and its worker stopped answering",
                now,
            )?;
            match final_result {
                Some(result) => {
                    write_result(&mut tx, &id, None, &result, now).await?;
                    report.failed.push(id);
                }
                None => {
                    requeue(&mut tx, &id, &failures, None, "lease expired", now).await?;
                    report.requeued.push(id);
                }
            }
        }
        tx.commit().await?;
        if !report.requeued.is_empty() {
            self.wake_workers();
        }
        self.announce(report.requeued.iter().chain(&report.failed));
        Ok(report)
    }

    async fn fail_unservable(
        &self,
        created_before: UnixMillis,
        workers_seen_since: UnixMillis,
        now: UnixMillis,
    ) -> Result<Vec<SubmissionId>> {
        let mut tx = Tx::begin(&self.write, self.dialect).await?;
        let found = sqlx::query(&self.sql.unservable)
            .bind(created_before)
            .bind(workers_seen_since)
            .fetch_all(&mut *tx)
            .await?;
        let mut failed = Vec::new();
        for row in &found {
            let id = SubmissionId::from_db(row.try_get("id")?);
            let hash: String = row.try_get("exercise_hash")?;
            let result = internal_error_result(&unservable_reason(&hash));
            write_result(&mut tx, &id, None, &result, now).await?;
            failed.push(id);
        }
        tx.commit().await?;
        self.announce(&failed);
        Ok(failed)
    }

    async fn held_leases(&self, now: UnixMillis) -> Result<Vec<HeldLease>> {
        let found = sqlx::query(HELD).bind(now).fetch_all(&self.read).await?;
        found
            .iter()
            .map(|row| {
                Ok(HeldLease {
                    id: SubmissionId::from_db(row.try_get("id")?),
                    fencing_token: row.try_get("fencing_token")?,
                })
            })
            .collect()
    }

    fn job_signal(&self) -> watch::Receiver<u64> {
        self.jobs.subscribe()
    }
}
