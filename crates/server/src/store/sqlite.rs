//! SQLite back end: one file in the data dir, WAL mode, a single writer connection (so
//! every write transaction is serialised in-process) and a small pool of readers.
//! Wake-ups are in-process: a `watch` counter for jobs, a `broadcast` for events.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::{broadcast, watch};

use super::rows::{
    event_from_row, leaderboard_from_row, queue_entry_from_row, submission_from_row,
    SUBMISSION_COLUMNS,
};
use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    jobs: watch::Sender<u64>,
    events: broadcast::Sender<SubmissionId>,
    checkpointer: tokio::task::JoinHandle<()>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpointer.abort();
    }
}

/// Checkpoints the WAL in the background, so no commit on the writer pays for a
/// checkpoint's fsync (which made 1-2 % of commits 10+ ms slower).
async fn checkpoint(pool: SqlitePool) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "sqlite checkpoint failed");
        }
    }
}

/// Appends an event inside `tx`, numbering it from the submission's `log_seq` counter.
async fn push_event(
    tx: &mut Transaction<'_, Sqlite>,
    id: &SubmissionId,
    kind: EventKind,
    data: &Value,
    now: UnixMillis,
) -> Result<Option<i64>> {
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE submissions SET log_seq = log_seq + 1 WHERE id = $1 RETURNING log_seq",
    )
    .bind(id.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(seq) = seq else { return Ok(None) };
    sqlx::query(
        "INSERT INTO submission_events (submission_id, seq, at, kind, data) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.as_str())
    .bind(seq)
    .bind(now)
    .bind(kind.as_str())
    .bind(data.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(Some(seq))
}

/// Finishes a running or queued job inside `tx` with `result`; the caller has checked
/// that it may.
async fn write_result(
    tx: &mut Transaction<'_, Sqlite>,
    id: &SubmissionId,
    result: &Value,
    now: UnixMillis,
) -> Result<()> {
    sqlx::query(
        "UPDATE submissions SET state = 'finished', result = $2, score = $3, finished_at = $4, \
         lease_expires_at = NULL WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(result.to_string())
    .bind(leaderboard_score(result))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    push_event(tx, id, EventKind::Result, result, now).await?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/gauntlet.db`.
    pub async fn open_in(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        Self::open_file(&data_dir.join("gauntlet.db")).await
    }

    pub async fn open_file(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        MIGRATOR.run(&writer).await?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let checkpointer = tokio::spawn(checkpoint(checkpointer));
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let (jobs, _) = watch::channel(0);
        let (events, _) = broadcast::channel(1024);
        Ok(SqliteStore {
            writer,
            reader,
            jobs,
            events,
            checkpointer,
        })
    }

    fn wake_workers(&self) {
        self.jobs.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn announce(&self, id: &SubmissionId) {
        let _ = self.events.send(id.clone());
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn create_submission(&self, new: NewSubmission, now: UnixMillis) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO submissions (id, exercise_id, exercise_hash, display_name, session_id, \
             client_ip, client_key, payload, created_at, max_attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
        )
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
            return Err(StoreError::Duplicate(new.id));
        }
        let state = serde_json::json!({"state": "queued"});
        push_event(&mut tx, &new.id, EventKind::State, &state, now).await?;
        tx.commit().await?;
        self.wake_workers();
        self.announce(&new.id);
        Ok(())
    }

    async fn get_submission(&self, id: &SubmissionId) -> Result<Option<Submission>> {
        let sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(submission_from_row).transpose()
    }

    async fn list_active(&self, limit: u32) -> Result<Vec<QueueEntry>> {
        let rows = sqlx::query(
            "SELECT id, exercise_id, display_name, session_id, state, attempts, worker_id, \
             created_at, started_at, cancel_requested FROM submissions \
             WHERE state <> 'finished' ORDER BY created_at, id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(queue_entry_from_row).collect()
    }

    async fn queue_counts(&self) -> Result<QueueCounts> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(state = 'queued'), 0) AS q, COALESCE(SUM(state = 'running'), 0) AS r \
             FROM submissions WHERE state <> 'finished'",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(QueueCounts {
            queued: row.try_get::<i64, _>("q")? as u64,
            running: row.try_get::<i64, _>("r")? as u64,
        })
    }

    async fn session_counts(&self, session_id: &str) -> Result<QueueCounts> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(state = 'queued'), 0) AS q, COALESCE(SUM(state = 'running'), 0) AS r \
             FROM submissions WHERE state <> 'finished' AND session_id = $1",
        )
        .bind(session_id)
        .fetch_one(&self.reader)
        .await?;
        Ok(QueueCounts {
            queued: row.try_get::<i64, _>("q")? as u64,
            running: row.try_get::<i64, _>("r")? as u64,
        })
    }

    async fn client_counts(&self, client_key: &str) -> Result<QueueCounts> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(state = 'queued'), 0) AS q, COALESCE(SUM(state = 'running'), 0) AS r \
             FROM submissions WHERE state <> 'finished' AND client_key = $1",
        )
        .bind(client_key)
        .fetch_one(&self.reader)
        .await?;
        Ok(QueueCounts {
            queued: row.try_get::<i64, _>("q")? as u64,
            running: row.try_get::<i64, _>("r")? as u64,
        })
    }

    async fn display_name_owner(&self, name: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT session_id FROM display_names WHERE name_key = $1")
                .bind(display_name_key(name))
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn claim_display_name(
        &self,
        name: &str,
        session_id: &str,
        now: UnixMillis,
    ) -> Result<String> {
        let key = display_name_key(name);
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO display_names (name_key, session_id, claimed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name_key) DO NOTHING",
        )
        .bind(&key)
        .bind(session_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let owner = sqlx::query_scalar("SELECT session_id FROM display_names WHERE name_key = $1")
            .bind(&key)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(owner)
    }

    async fn release_display_name(&self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM display_names WHERE name_key = $1")
            .bind(display_name_key(name))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn cancel(
        &self,
        id: &SubmissionId,
        reason: &str,
        now: UnixMillis,
    ) -> Result<CancelOutcome> {
        let mut tx = self.writer.begin().await?;
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM submissions WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let outcome = match state.as_deref().map(SubmissionState::parse).transpose()? {
            None => CancelOutcome::NotFound,
            Some(SubmissionState::Finished) => CancelOutcome::AlreadyFinished,
            Some(SubmissionState::Queued) => {
                let result = internal_error_result(&format!("cancelled: {reason}"));
                write_result(&mut tx, id, &result, now).await?;
                CancelOutcome::Cancelled
            }
            Some(SubmissionState::Running) => {
                sqlx::query("UPDATE submissions SET cancel_requested = 1 WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                CancelOutcome::Requested
            }
        };
        tx.commit().await?;
        if outcome == CancelOutcome::Cancelled {
            self.announce(id);
        }
        Ok(outcome)
    }

    async fn leaderboard(&self, exercise_id: Option<&str>) -> Result<Vec<LeaderboardEntry>> {
        let rows = sqlx::query(LEADERBOARD_SQL)
            .bind(exercise_id)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(leaderboard_from_row).collect()
    }

    async fn events_after(
        &self,
        id: &SubmissionId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<SubmissionEvent>> {
        let rows = sqlx::query(
            "SELECT submission_id, seq, at, kind, data FROM submission_events \
             WHERE submission_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(id.as_str())
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    fn subscribe_events(&self) -> broadcast::Receiver<SubmissionId> {
        self.events.subscribe()
    }

    async fn append_event(
        &self,
        id: &SubmissionId,
        kind: EventKind,
        data: &Value,
        now: UnixMillis,
    ) -> Result<i64> {
        let mut tx = self.writer.begin().await?;
        let seq = push_event(&mut tx, id, kind, data, now).await?;
        tx.commit().await?;
        let seq = seq.ok_or_else(|| StoreError::Corrupt(format!("no submission {id}")))?;
        self.announce(id);
        Ok(seq)
    }

    async fn register_worker(
        &self,
        worker_id: &str,
        hashes: &[String],
        now: UnixMillis,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO workers (id, started_at, last_seen_at) VALUES ($1, $2, $2) \
             ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        )
        .bind(worker_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM worker_versions WHERE worker_id = $1")
            .bind(worker_id)
            .execute(&mut *tx)
            .await?;
        for hash in hashes {
            sqlx::query(
                "INSERT INTO worker_versions (worker_id, exercise_hash) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(worker_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn touch_worker(&self, worker_id: &str, now: UnixMillis) -> Result<()> {
        sqlx::query("UPDATE workers SET last_seen_at = $2 WHERE id = $1")
            .bind(worker_id)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn deregister_worker(&self, worker_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM workers WHERE id = $1")
            .bind(worker_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn live_workers(&self, since: UnixMillis) -> Result<Vec<WorkerInfo>> {
        let rows = sqlx::query(
            "SELECT w.id, w.started_at, w.last_seen_at, \
             (SELECT json_group_array(exercise_hash) FROM worker_versions v WHERE v.worker_id = w.id) AS hashes \
             FROM workers w WHERE w.last_seen_at >= $1 ORDER BY w.id",
        )
        .bind(since)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let hashes: String = row.try_get("hashes")?;
                let mut exercise_hashes: Vec<String> = serde_json::from_str(&hashes)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                exercise_hashes.sort();
                Ok(WorkerInfo {
                    id: row.try_get("id")?,
                    started_at: row.try_get("started_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    exercise_hashes,
                })
            })
            .collect()
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
        let lease_until = now.saturating_add(millis(lease));
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(
            "UPDATE submissions SET state = 'running', attempts = attempts + 1, \
             fencing_token = fencing_token + 1, worker_id = $1, lease_expires_at = $2, \
             started_at = $3, cancel_requested = 0 \
             WHERE id IN (SELECT id FROM submissions WHERE state = 'queued' \
                 AND exercise_hash IN (SELECT value FROM json_each($4)) \
                 ORDER BY created_at, id LIMIT $5) \
             RETURNING id, exercise_id, exercise_hash, payload, attempts, max_attempts, \
                 fencing_token, lease_expires_at, created_at",
        )
        .bind(worker_id)
        .bind(lease_until)
        .bind(now)
        .bind(hashes)
        .bind(i64::from(max))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            let job = ClaimedJob {
                id: SubmissionId::from_db(row.try_get("id")?),
                exercise_id: row.try_get("exercise_id")?,
                exercise_hash: row.try_get("exercise_hash")?,
                payload: row.try_get("payload")?,
                attempt: row.try_get::<i64, _>("attempts")? as u32,
                max_attempts: row.try_get::<i64, _>("max_attempts")? as u32,
                fencing_token: row.try_get("fencing_token")?,
                lease_expires_at: row.try_get("lease_expires_at")?,
                created_at: row.try_get("created_at")?,
            };
            let state = serde_json::json!({"state": "running", "attempt": job.attempt});
            push_event(&mut tx, &job.id, EventKind::State, &state, now).await?;
            jobs.push(job);
        }
        tx.commit().await?;
        // RETURNING order is unspecified: hand them out oldest first.
        jobs.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        for job in &jobs {
            self.announce(&job.id);
        }
        Ok(jobs)
    }

    async fn renew_lease(
        &self,
        id: &SubmissionId,
        token: i64,
        lease: Duration,
        now: UnixMillis,
    ) -> Result<Lease> {
        let cancel: Option<bool> = sqlx::query_scalar(
            "UPDATE submissions SET lease_expires_at = $3 \
             WHERE id = $1 AND fencing_token = $2 AND state = 'running' \
             RETURNING cancel_requested",
        )
        .bind(id.as_str())
        .bind(token)
        .bind(now.saturating_add(millis(lease)))
        .fetch_optional(&self.writer)
        .await?;
        Ok(match cancel {
            Some(cancel_requested) => Lease::Renewed { cancel_requested },
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
        let mut tx = self.writer.begin().await?;
        let held = sqlx::query(
            "UPDATE submissions SET state = 'finished', result = $3, score = $4, \
             finished_at = $5, lease_expires_at = NULL \
             WHERE id = $1 AND fencing_token = $2 AND state = 'running'",
        )
        .bind(id.as_str())
        .bind(token)
        .bind(result.to_string())
        .bind(leaderboard_score(result))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() == 0 {
            return Err(StoreError::LeaseLost(id.clone()));
        }
        push_event(&mut tx, id, EventKind::Result, result, now).await?;
        tx.commit().await?;
        self.announce(id);
        Ok(())
    }

    async fn release(&self, id: &SubmissionId, token: i64, now: UnixMillis) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let held = sqlx::query(
            "UPDATE submissions SET state = 'queued', attempts = MAX(attempts - 1, 0), \
             worker_id = NULL, lease_expires_at = NULL, started_at = NULL \
             WHERE id = $1 AND fencing_token = $2 AND state = 'running'",
        )
        .bind(id.as_str())
        .bind(token)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() == 0 {
            return Err(StoreError::LeaseLost(id.clone()));
        }
        let state =
            serde_json::json!({"state": "queued", "reason": "released by a draining worker"});
        push_event(&mut tx, id, EventKind::State, &state, now).await?;
        tx.commit().await?;
        self.wake_workers();
        self.announce(id);
        Ok(())
    }

    async fn sweep_expired(&self, now: UnixMillis) -> Result<SweepReport> {
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(
            "SELECT id, attempts, max_attempts, cancel_requested FROM submissions \
             WHERE state = 'running' AND lease_expires_at < $1",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut report = SweepReport::default();
        for row in rows {
            let id = SubmissionId::from_db(row.try_get("id")?);
            let attempts: i64 = row.try_get("attempts")?;
            let max_attempts: i64 = row.try_get("max_attempts")?;
            let cancelled: bool = row.try_get("cancel_requested")?;
            if cancelled || attempts >= max_attempts {
                let reason = if cancelled {
                    "cancelled: the submission was cancelled and its worker stopped answering"
                        .to_owned()
                } else {
                    give_up_reason(attempts)
                };
                let result = internal_error_result(&reason);
                write_result(&mut tx, &id, &result, now).await?;
                report.failed.push(id);
            } else {
                sqlx::query(
                    "UPDATE submissions SET state = 'queued', worker_id = NULL, \
                     lease_expires_at = NULL, started_at = NULL WHERE id = $1",
                )
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
                let state = serde_json::json!({"state": "queued", "reason": "lease expired"});
                push_event(&mut tx, &id, EventKind::State, &state, now).await?;
                report.requeued.push(id);
            }
        }
        tx.commit().await?;
        if !report.requeued.is_empty() {
            self.wake_workers();
        }
        for id in report.requeued.iter().chain(&report.failed) {
            self.announce(id);
        }
        Ok(report)
    }

    async fn fail_unservable(
        &self,
        created_before: UnixMillis,
        workers_seen_since: UnixMillis,
        now: UnixMillis,
    ) -> Result<Vec<SubmissionId>> {
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(UNSERVABLE_SQL)
            .bind(created_before)
            .bind(workers_seen_since)
            .fetch_all(&mut *tx)
            .await?;
        let mut failed = Vec::new();
        for row in rows {
            let id = SubmissionId::from_db(row.try_get("id")?);
            let hash: String = row.try_get("exercise_hash")?;
            let result = internal_error_result(&unservable_reason(&hash));
            write_result(&mut tx, &id, &result, now).await?;
            failed.push(id);
        }
        tx.commit().await?;
        for id in &failed {
            self.announce(id);
        }
        Ok(failed)
    }

    async fn held_job_ids(&self, now: UnixMillis) -> Result<Vec<SubmissionId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM submissions WHERE state = 'running' AND lease_expires_at >= $1",
        )
        .bind(now)
        .fetch_all(&self.reader)
        .await?;
        Ok(ids.into_iter().map(SubmissionId::from_db).collect())
    }

    fn job_signal(&self) -> watch::Receiver<u64> {
        self.jobs.subscribe()
    }
}

/// Shared by both back ends: rank each (exercise, display name)'s scored submissions,
/// best score first, earliest first among equals.
/// Best row per exercise and display name (case-insensitively), counting only the
/// submissions of the session the name belongs to.
pub(super) const LEADERBOARD_SQL: &str =
    "SELECT exercise_id, display_name, score, id, created_at FROM ( \
     SELECT s.exercise_id, s.display_name, s.score, s.id, s.created_at, ROW_NUMBER() OVER ( \
         PARTITION BY s.exercise_id, lower(s.display_name) \
         ORDER BY s.score DESC, s.created_at, s.id) AS rank \
     FROM submissions s JOIN display_names d \
       ON d.name_key = lower(s.display_name) AND d.session_id = s.session_id \
     WHERE s.score IS NOT NULL AND ($1 IS NULL OR s.exercise_id = $1)) ranked \
     WHERE rank = 1 ORDER BY exercise_id, score DESC, created_at, display_name";

pub(super) const UNSERVABLE_SQL: &str = "SELECT id, exercise_hash FROM submissions s \
     WHERE state = 'queued' AND created_at < $1 AND NOT EXISTS ( \
         SELECT 1 FROM worker_versions v JOIN workers w ON w.id = v.worker_id \
         WHERE v.exercise_hash = s.exercise_hash AND w.last_seen_at >= $2)";

pub(super) fn give_up_reason(attempts: i64) -> String {
    format!(
        "the job's lease expired on attempt {attempts}, its last allowed one \
         (its worker stopped or lost contact with the store); giving up"
    )
}

pub(super) fn unservable_reason(hash: &str) -> String {
    format!(
        "no live worker holds exercise version {hash}; the exercise may have changed \
         since this submission was made"
    )
}
