//! PostgreSQL back end: claims with `FOR UPDATE SKIP LOCKED`, most transitions in one
//! statement (a data-modifying CTE that also appends the event), and wake-ups through
//! LISTEN/NOTIFY fired by triggers, so workers in other processes hear them too.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Row};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::rows::{
    event_from_row, leaderboard_from_row, queue_entry_from_row, submission_from_row,
    SUBMISSION_COLUMNS,
};
use super::sqlite::{give_up_reason, unservable_reason};
use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const JOBS_CHANNEL: &str = "gauntlet_jobs";
const EVENTS_CHANNEL: &str = "gauntlet_events";

pub struct PgStore {
    pool: PgPool,
    /// Claims and lease renewals: `synchronous_commit = off` (see `connect_with`).
    fast: PgPool,
    jobs: watch::Sender<u64>,
    events: broadcast::Sender<SubmissionId>,
    listener: JoinHandle<()>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Appends an event in one statement; `None` when the submission does not exist.
async fn push_event(
    conn: &mut PgConnection,
    id: &SubmissionId,
    kind: EventKind,
    data: &Value,
    now: UnixMillis,
) -> Result<Option<i64>> {
    let seq = sqlx::query_scalar(
        "WITH s AS (UPDATE submissions SET log_seq = log_seq + 1 WHERE id = $1 \
                    RETURNING id, log_seq) \
         INSERT INTO submission_events (submission_id, seq, at, kind, data) \
         SELECT id, log_seq, $2, $3, $4 FROM s RETURNING seq",
    )
    .bind(id.as_str())
    .bind(now)
    .bind(kind.as_str())
    .bind(data.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(seq)
}

/// Finishes a job whose row the caller holds locked, with its result event.
async fn write_result(
    conn: &mut PgConnection,
    id: &SubmissionId,
    result: &Value,
    now: UnixMillis,
) -> Result<()> {
    sqlx::query(
        "WITH f AS (UPDATE submissions SET state = 'finished', result = $2, score = $3, \
                    finished_at = $4, lease_expires_at = NULL, log_seq = log_seq + 1 \
                    WHERE id = $1 RETURNING id, log_seq) \
         INSERT INTO submission_events (submission_id, seq, at, kind, data) \
         SELECT id, log_seq, $4, 'result', $2 FROM f",
    )
    .bind(id.as_str())
    .bind(result.to_string())
    .bind(leaderboard_score(result))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

impl PgStore {
    /// Connects, runs migrations and starts listening for wake-ups.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, 16).await
    }

    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        // Claims and lease renewals do not wait for their WAL flush (an fsync of several
        // ms on many disks, which would double add->start latency). A database crash
        // can lose the last such commits: the job is then queued again with its old
        // token and may run twice, which leases allow anyway; `finish` only succeeds
        // while the job is running, so it still gets one result. Submissions, results,
        // releases and sweeps commit durably.
        let fast_options =
            PgConnectOptions::from_str(url)?.options([("synchronous_commit", "off")]);
        let fast = PgPoolOptions::new()
            .max_connections(max_connections.clamp(2, 8))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(fast_options)
            .await?;
        let (jobs, _) = watch::channel(0);
        let (events, _) = broadcast::channel(1024);
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen_all([JOBS_CHANNEL, EVENTS_CHANNEL]).await?;
        let listener = tokio::spawn(listen(listener, jobs.clone(), events.clone()));
        Ok(PgStore {
            pool,
            fast,
            jobs,
            events,
            listener,
        })
    }

    /// The pool, for tests and the API's readiness checks.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Forwards notifications to the in-process signals. `PgListener` reconnects by itself;
/// after any hiccup the job signal fires anyway, since a notification may have been lost.
async fn listen(
    mut listener: PgListener,
    jobs: watch::Sender<u64>,
    events: broadcast::Sender<SubmissionId>,
) {
    loop {
        match listener.recv().await {
            Ok(n) if n.channel() == JOBS_CHANNEL => {
                jobs.send_modify(|n| *n = n.wrapping_add(1));
            }
            Ok(n) => {
                if let Some(id) = SubmissionId::parse(n.payload()) {
                    let _ = events.send(id);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "postgres listener failed; reconnecting");
                tokio::time::sleep(Duration::from_millis(500)).await;
                jobs.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_submission(&self, new: NewSubmission, now: UnixMillis) -> Result<()> {
        let inserted = sqlx::query(
            "WITH s AS (INSERT INTO submissions (id, exercise_id, exercise_hash, display_name, \
                        session_id, client_ip, client_key, payload, created_at, max_attempts, \
                        log_seq) \
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1) \
                        ON CONFLICT (id) DO NOTHING RETURNING id) \
             INSERT INTO submission_events (submission_id, seq, at, kind, data) \
             SELECT id, 1, $9, 'state', '{\"state\":\"queued\"}' FROM s",
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
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Duplicate(new.id));
        }
        Ok(())
    }

    async fn get_submission(&self, id: &SubmissionId) -> Result<Option<Submission>> {
        let sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
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
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(queue_entry_from_row).collect()
    }

    async fn queue_counts(&self) -> Result<QueueCounts> {
        let row = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE state = 'queued') AS q, \
             COUNT(*) FILTER (WHERE state = 'running') AS r \
             FROM submissions WHERE state <> 'finished'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueCounts {
            queued: row.try_get::<i64, _>("q")? as u64,
            running: row.try_get::<i64, _>("r")? as u64,
        })
    }

    async fn session_counts(&self, session_id: &str) -> Result<QueueCounts> {
        let row = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE state = 'queued') AS q, \
             COUNT(*) FILTER (WHERE state = 'running') AS r \
             FROM submissions WHERE state <> 'finished' AND session_id = $1",
        )
        .bind(session_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueCounts {
            queued: row.try_get::<i64, _>("q")? as u64,
            running: row.try_get::<i64, _>("r")? as u64,
        })
    }

    async fn client_counts(&self, client_key: &str) -> Result<QueueCounts> {
        let row = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE state = 'queued') AS q, \
             COUNT(*) FILTER (WHERE state = 'running') AS r \
             FROM submissions WHERE state <> 'finished' AND client_key = $1",
        )
        .bind(client_key)
        .fetch_one(&self.pool)
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
                .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
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
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn cancel(
        &self,
        id: &SubmissionId,
        reason: &str,
        now: UnixMillis,
    ) -> Result<CancelOutcome> {
        let mut tx = self.pool.begin().await?;
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM submissions WHERE id = $1 FOR UPDATE")
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
                sqlx::query("UPDATE submissions SET cancel_requested = TRUE WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                CancelOutcome::Requested
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn leaderboard(&self, exercise_id: Option<&str>) -> Result<Vec<LeaderboardEntry>> {
        let rows = sqlx::query(
            "SELECT exercise_id, display_name, score, id, created_at FROM ( \
               SELECT s.exercise_id, s.display_name, s.score, s.id, s.created_at, ROW_NUMBER() OVER ( \
                 PARTITION BY s.exercise_id, lower(s.display_name) \
                 ORDER BY s.score DESC, s.created_at, s.id) AS rank \
               FROM submissions s JOIN display_names d \
                 ON d.name_key = lower(s.display_name) AND d.session_id = s.session_id \
               WHERE s.score IS NOT NULL \
                 AND ($1::text IS NULL OR s.exercise_id = $1::text)) ranked \
             WHERE rank = 1 ORDER BY exercise_id, score DESC, created_at, display_name",
        )
        .bind(exercise_id)
        .fetch_all(&self.pool)
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
        .fetch_all(&self.pool)
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
        let mut conn = self.pool.acquire().await?;
        push_event(&mut conn, id, kind, data, now)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("no submission {id}")))
    }

    async fn register_worker(
        &self,
        worker_id: &str,
        hashes: &[String],
        now: UnixMillis,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
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
        sqlx::query(
            "INSERT INTO worker_versions (worker_id, exercise_hash) \
             SELECT $1, h FROM UNNEST($2::text[]) AS h ON CONFLICT DO NOTHING",
        )
        .bind(worker_id)
        .bind(hashes)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn touch_worker(&self, worker_id: &str, now: UnixMillis) -> Result<()> {
        sqlx::query("UPDATE workers SET last_seen_at = $2 WHERE id = $1")
            .bind(worker_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn deregister_worker(&self, worker_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM workers WHERE id = $1")
            .bind(worker_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn live_workers(&self, since: UnixMillis) -> Result<Vec<WorkerInfo>> {
        let rows = sqlx::query(
            "SELECT w.id, w.started_at, w.last_seen_at, \
             ARRAY(SELECT exercise_hash FROM worker_versions v WHERE v.worker_id = w.id \
                   ORDER BY exercise_hash) AS hashes \
             FROM workers w WHERE w.last_seen_at >= $1 ORDER BY w.id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(WorkerInfo {
                    id: row.try_get("id")?,
                    started_at: row.try_get("started_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    exercise_hashes: row.try_get("hashes")?,
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
        let rows = sqlx::query(
            "WITH c AS ( \
               UPDATE submissions s SET state = 'running', attempts = s.attempts + 1, \
                 fencing_token = s.fencing_token + 1, worker_id = $1, lease_expires_at = $2, \
                 started_at = $3, cancel_requested = FALSE, log_seq = s.log_seq + 1 \
               FROM (SELECT id FROM submissions WHERE state = 'queued' \
                       AND exercise_hash = ANY($4::text[]) \
                     ORDER BY created_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) q \
               WHERE s.id = q.id \
               RETURNING s.id, s.exercise_id, s.exercise_hash, s.payload, s.attempts, \
                 s.max_attempts, s.fencing_token, s.lease_expires_at, s.created_at, s.log_seq), \
             e AS ( \
               INSERT INTO submission_events (submission_id, seq, at, kind, data) \
               SELECT id, log_seq, $3, 'state', \
                 json_build_object('state', 'running', 'attempt', attempts)::text FROM c) \
             SELECT * FROM c ORDER BY created_at, id",
        )
        .bind(worker_id)
        .bind(now.saturating_add(millis(lease)))
        .bind(now)
        .bind(hashes)
        .bind(i64::from(max))
        .fetch_all(&self.fast)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ClaimedJob {
                    id: SubmissionId::from_db(row.try_get("id")?),
                    exercise_id: row.try_get("exercise_id")?,
                    exercise_hash: row.try_get("exercise_hash")?,
                    payload: row.try_get("payload")?,
                    attempt: row.try_get::<i64, _>("attempts")? as u32,
                    max_attempts: row.try_get::<i64, _>("max_attempts")? as u32,
                    fencing_token: row.try_get("fencing_token")?,
                    lease_expires_at: row.try_get("lease_expires_at")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
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
        .fetch_optional(&self.fast)
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
        let done = sqlx::query(
            "WITH f AS (UPDATE submissions SET state = 'finished', result = $3, score = $4, \
                        finished_at = $5, lease_expires_at = NULL, log_seq = log_seq + 1 \
                        WHERE id = $1 AND fencing_token = $2 AND state = 'running' \
                        RETURNING id, log_seq) \
             INSERT INTO submission_events (submission_id, seq, at, kind, data) \
             SELECT id, log_seq, $5, 'result', $3 FROM f",
        )
        .bind(id.as_str())
        .bind(token)
        .bind(result.to_string())
        .bind(leaderboard_score(result))
        .bind(now)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::LeaseLost(id.clone()));
        }
        Ok(())
    }

    async fn release(&self, id: &SubmissionId, token: i64, now: UnixMillis) -> Result<()> {
        let done = sqlx::query(
            "WITH r AS (UPDATE submissions SET state = 'queued', \
                        attempts = GREATEST(attempts - 1, 0), worker_id = NULL, \
                        lease_expires_at = NULL, started_at = NULL, log_seq = log_seq + 1 \
                        WHERE id = $1 AND fencing_token = $2 AND state = 'running' \
                        RETURNING id, log_seq) \
             INSERT INTO submission_events (submission_id, seq, at, kind, data) \
             SELECT id, log_seq, $3, 'state', \
               '{\"state\":\"queued\",\"reason\":\"released by a draining worker\"}' FROM r",
        )
        .bind(id.as_str())
        .bind(token)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::LeaseLost(id.clone()));
        }
        Ok(())
    }

    async fn sweep_expired(&self, now: UnixMillis) -> Result<SweepReport> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT id, attempts, max_attempts, cancel_requested FROM submissions \
             WHERE state = 'running' AND lease_expires_at < $1 FOR UPDATE SKIP LOCKED",
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
        Ok(report)
    }

    async fn fail_unservable(
        &self,
        created_before: UnixMillis,
        workers_seen_since: UnixMillis,
        now: UnixMillis,
    ) -> Result<Vec<SubmissionId>> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT id, exercise_hash FROM submissions s \
             WHERE state = 'queued' AND created_at < $1 AND NOT EXISTS ( \
               SELECT 1 FROM worker_versions v JOIN workers w ON w.id = v.worker_id \
               WHERE v.exercise_hash = s.exercise_hash AND w.last_seen_at >= $2) \
             FOR UPDATE OF s SKIP LOCKED",
        )
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
        Ok(failed)
    }

    async fn held_job_ids(&self, now: UnixMillis) -> Result<Vec<SubmissionId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM submissions WHERE state = 'running' AND lease_expires_at >= $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(SubmissionId::from_db).collect())
    }

    fn job_signal(&self) -> watch::Receiver<u64> {
        self.jobs.subscribe()
    }
}
