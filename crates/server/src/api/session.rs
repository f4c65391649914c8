//! The caller's own session: its anti-forgery token, the names it owns, its best scores
//! and its submissions. What the web app needs to show a learner their own work; nobody
//! can read another session's.

use axum::extract::{Query, Request, State};
use axum::Json;

use super::error::{ApiError, ErrorBody};
use super::types::*;
use super::{session_of, AppState};

/// Most submissions one history page lists.
const MAX_HISTORY: u32 = 100;
const DEFAULT_HISTORY: u32 = 50;

/// The caller's session (created by this call when it has none): the token its writes
/// carry from a browser, its display names and its best score per exercise.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = SessionBody)))]
pub async fn session(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<SessionBody>, ApiError> {
    let session = session_of(&req)?;
    let store = state.store();
    let (display_names, best) = if session.is_new() {
        (Vec::new(), Vec::new())
    } else {
        (
            store.session_names(&session.id).await?,
            store.session_best_scores(&session.id).await?,
        )
    };
    Ok(Json(SessionBody {
        csrf_token: state.sessions().csrf_token(&session.id),
        display_names,
        best_scores: best.into_iter().collect(),
    }))
}

/// The caller's own submissions, newest first: all of them, or one exercise's.
#[utoipa::path(get, path = "/api/v1/session/submissions", tag = "session",
    params(SessionSubmissionsQuery),
    responses((status = 200, body = SessionSubmissions), (status = 400, body = ErrorBody)))]
pub async fn session_submissions(
    State(state): State<AppState>,
    query: Result<Query<SessionSubmissionsQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> Result<Json<SessionSubmissions>, ApiError> {
    let Query(q) = query.map_err(ApiError::from_query)?;
    let limit = q.limit.unwrap_or(DEFAULT_HISTORY);
    if !(1..=MAX_HISTORY).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_HISTORY}"
        )));
    }
    let session = session_of(&req)?;
    let rows = if session.is_new() {
        Vec::new()
    } else {
        state
            .store()
            .session_submissions(&session.id, q.exercise.as_deref(), limit)
            .await?
    };
    Ok(Json(SessionSubmissions {
        submissions: rows
            .into_iter()
            .map(|r| SessionSubmissionBody {
                id: r.id.to_string(),
                exercise: r.exercise_id,
                display_name: r.display_name,
                state: r.state.as_str().to_owned(),
                outcome: r.outcome,
                score: r.score,
                created_at: r.created_at,
            })
            .collect(),
    }))
}
