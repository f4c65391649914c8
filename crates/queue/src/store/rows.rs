//! Rows to values, for both back ends: the same columns, decoded the same way.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{
    ClaimedJob, EventKind, FailedAttempt, LeaderboardEntry, QueueEntry, Result, SessionSubmission,
    StoreError, Submission, SubmissionEvent, SubmissionId, SubmissionState, WorkerInfo,
};

pub(super) const SUBMISSION_COLUMNS: &str =
    "id, exercise_id, exercise_hash, display_name, session_id, \
    client_ip, state, attempts, max_attempts, worker_id, created_at, started_at, finished_at, \
    cancel_requested, result";

pub(super) const QUEUE_ENTRY_COLUMNS: &str =
    "id, exercise_id, display_name, session_id, state, attempts, worker_id, \
    created_at, started_at, cancel_requested";

pub(super) const CLAIMED_COLUMNS: &str =
    "id, exercise_id, exercise_hash, payload, attempts, max_attempts, \
    fencing_token, lease_expires_at, created_at, log_seq";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn to_json(text: Option<String>) -> Result<Option<Value>> {
    text.map(|t| serde_json::from_str(&t).map_err(corrupt))
        .transpose()
}

/// A flag column: `BOOLEAN` in PostgreSQL, `INTEGER` 0/1 in SQLite.
pub(super) fn flag(row: &AnyRow, column: &str) -> Result<bool> {
    match row.try_get::<bool, _>(column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

/// A count column (`attempts`, `max_attempts`).
fn count(row: &AnyRow, column: &str) -> Result<u32> {
    let n: i64 = row.try_get(column)?;
    u32::try_from(n).map_err(|_| corrupt(format!("{column} = {n}")))
}

/// The `failures` column: the JSON list of an unfinished job's failed attempts.
pub(super) fn failures(row: &AnyRow) -> Result<Vec<FailedAttempt>> {
    match row.try_get::<Option<String>, _>("failures")? {
        Some(text) => serde_json::from_str(&text).map_err(corrupt),
        None => Ok(Vec::new()),
    }
}

pub(super) fn submission(row: &AnyRow) -> Result<Submission> {
    Ok(Submission {
        id: SubmissionId::from_db(row.try_get("id")?),
        exercise_id: row.try_get("exercise_id")?,
        exercise_hash: row.try_get("exercise_hash")?,
        display_name: row.try_get("display_name")?,
        session_id: row.try_get("session_id")?,
        client_ip: row.try_get("client_ip")?,
        state: SubmissionState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: count(row, "attempts")?,
        max_attempts: count(row, "max_attempts")?,
        worker_id: row.try_get("worker_id")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        cancel_requested: flag(row, "cancel_requested")?,
        result: to_json(row.try_get("result")?)?,
    })
}

pub(super) fn queue_entry(row: &AnyRow) -> Result<QueueEntry> {
    Ok(QueueEntry {
        id: SubmissionId::from_db(row.try_get("id")?),
        exercise_id: row.try_get("exercise_id")?,
        display_name: row.try_get("display_name")?,
        session_id: row.try_get("session_id")?,
        state: SubmissionState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: count(row, "attempts")?,
        worker_id: row.try_get("worker_id")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        cancel_requested: flag(row, "cancel_requested")?,
    })
}

/// A claimed job and the seq its `running` event takes.
pub(super) fn claimed(row: &AnyRow) -> Result<(ClaimedJob, i64)> {
    let job = ClaimedJob {
        id: SubmissionId::from_db(row.try_get("id")?),
        exercise_id: row.try_get("exercise_id")?,
        exercise_hash: row.try_get("exercise_hash")?,
        payload: row.try_get("payload")?,
        attempt: count(row, "attempts")?,
        max_attempts: count(row, "max_attempts")?,
        fencing_token: row.try_get("fencing_token")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        created_at: row.try_get("created_at")?,
    };
    Ok((job, row.try_get("log_seq")?))
}

pub(super) fn event(row: &AnyRow) -> Result<SubmissionEvent> {
    let data: String = row.try_get("data")?;
    Ok(SubmissionEvent {
        submission_id: SubmissionId::from_db(row.try_get("submission_id")?),
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        kind: EventKind::parse(&row.try_get::<String, _>("kind")?)?,
        data: serde_json::from_str(&data).map_err(corrupt)?,
    })
}

pub(super) fn leaderboard(row: &AnyRow) -> Result<LeaderboardEntry> {
    Ok(LeaderboardEntry {
        exercise_id: row.try_get("exercise_id")?,
        display_name: row.try_get("display_name")?,
        score: row.try_get("score")?,
        submission_id: SubmissionId::from_db(row.try_get("id")?),
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn session_submission(row: &AnyRow) -> Result<SessionSubmission> {
    /// Only the outcome of a stored result: the rest (the log above all) is skipped.
    #[derive(serde::Deserialize)]
    struct Outcome {
        outcome: Option<String>,
    }
    let outcome = match row.try_get::<Option<String>, _>("result")? {
        Some(text) => {
            serde_json::from_str::<Outcome>(&text)
                .map_err(corrupt)?
                .outcome
        }
        None => None,
    };
    Ok(SessionSubmission {
        id: SubmissionId::from_db(row.try_get("id")?),
        exercise_id: row.try_get("exercise_id")?,
        display_name: row.try_get("display_name")?,
        state: SubmissionState::parse(&row.try_get::<String, _>("state")?)?,
        outcome,
        score: row.try_get("score")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn worker(row: &AnyRow) -> Result<WorkerInfo> {
    let hashes: String = row.try_get("hashes")?;
    let mut exercise_hashes: Vec<String> = serde_json::from_str(&hashes).map_err(corrupt)?;
    exercise_hashes.sort();
    Ok(WorkerInfo {
        id: row.try_get("id")?,
        started_at: row.try_get("started_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        exercise_hashes,
    })
}
