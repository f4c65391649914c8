//! Rows to values, shared by both back ends: the same columns, decoded the same way
//! from any sqlx row whose database decodes text, integers and booleans.

use serde_json::Value;
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{
    EventKind, LeaderboardEntry, QueueEntry, Result, StoreError, Submission, SubmissionEvent,
    SubmissionId, SubmissionState,
};

pub(super) const SUBMISSION_COLUMNS: &str =
    "id, exercise_id, exercise_hash, display_name, session_id, \
    client_ip, state, attempts, max_attempts, worker_id, created_at, started_at, finished_at, \
    cancel_requested, result";

fn to_json(text: Option<String>) -> Result<Option<Value>> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

pub(super) fn submission_from_row<'r, R>(row: &'r R) -> Result<Submission>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Submission {
        id: SubmissionId::from_db(row.try_get("id")?),
        exercise_id: row.try_get("exercise_id")?,
        exercise_hash: row.try_get("exercise_hash")?,
        display_name: row.try_get("display_name")?,
        session_id: row.try_get("session_id")?,
        client_ip: row.try_get("client_ip")?,
        state: SubmissionState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        max_attempts: row.try_get::<i64, _>("max_attempts")? as u32,
        worker_id: row.try_get("worker_id")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        cancel_requested: row.try_get("cancel_requested")?,
        result: to_json(row.try_get("result")?)?,
    })
}

pub(super) fn queue_entry_from_row<'r, R>(row: &'r R) -> Result<QueueEntry>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(QueueEntry {
        id: SubmissionId::from_db(row.try_get("id")?),
        exercise_id: row.try_get("exercise_id")?,
        display_name: row.try_get("display_name")?,
        session_id: row.try_get("session_id")?,
        state: SubmissionState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        worker_id: row.try_get("worker_id")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        cancel_requested: row.try_get("cancel_requested")?,
    })
}

pub(super) fn event_from_row<'r, R>(row: &'r R) -> Result<SubmissionEvent>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let data: String = row.try_get("data")?;
    Ok(SubmissionEvent {
        submission_id: SubmissionId::from_db(row.try_get("submission_id")?),
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        kind: EventKind::parse(&row.try_get::<String, _>("kind")?)?,
        data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

pub(super) fn leaderboard_from_row<'r, R>(row: &'r R) -> Result<LeaderboardEntry>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(LeaderboardEntry {
        exercise_id: row.try_get("exercise_id")?,
        display_name: row.try_get("display_name")?,
        score: row.try_get("score")?,
        submission_id: SubmissionId::from_db(row.try_get("id")?),
        created_at: row.try_get("created_at")?,
    })
}
