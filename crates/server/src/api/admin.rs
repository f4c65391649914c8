//! Operator endpoints under `/api/v1/admin/`, behind `Authorization: Bearer $ADMIN_TOKEN`
//! (compared in constant time; disabled without a strong token): queue view, cancel,
//! pause/resume claiming, reload exercises, release a display name.

use axum::extract::{Path, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::{ApiError, ErrorBody};
use super::handlers::parse_id;
use super::types::*;
use super::AppState;
use gauntlet_queue::store::{now_ms, CancelOutcome};

/// Route layer of every admin route.
pub async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.admin_enabled() {
        return ApiError::AdminDisabled.into_response();
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match presented {
        Some(token) if state.admin_token_matches(token) => next.run(req).await,
        _ => {
            tracing::warn!("admin request refused: missing or wrong token");
            ApiError::Unauthorized.into_response()
        }
    }
}

/// Queued and running jobs, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/queue", tag = "admin",
    security(("admin_token" = [])),
    responses((status = 200, body = QueueView), (status = 401, body = ErrorBody)))]
pub async fn queue(State(state): State<AppState>) -> Result<Json<QueueView>, ApiError> {
    let counts = state.store().queue_counts().await?;
    let jobs = state.store().list_active(500).await?;
    Ok(Json(QueueView {
        queued: counts.queued,
        running: counts.running,
        paused: state.workers().map(|w| w.is_paused()),
        jobs: jobs
            .into_iter()
            .map(|j| QueueJob {
                id: j.id.to_string(),
                exercise: j.exercise_id,
                display_name: j.display_name,
                state: j.state.as_str().to_owned(),
                attempts: j.attempts,
                worker_id: j.worker_id,
                created_at: j.created_at,
                started_at: j.started_at,
                cancel_requested: j.cancel_requested,
            })
            .collect(),
    }))
}

/// Cancels a submission: a queued one finishes at once, a running one is stopped by its worker.
#[utoipa::path(post, path = "/api/v1/admin/submissions/{id}/cancel", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "Submission id")),
    responses((status = 200, body = CancelBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CancelBody>, ApiError> {
    let id = parse_id(&id)?;
    tracing::Span::current().record("submission_id", tracing::field::display(&id));
    let outcome = state
        .store()
        .cancel(&id, "cancelled by an operator", now_ms())
        .await?;
    let outcome = match outcome {
        CancelOutcome::Cancelled => "cancelled",
        CancelOutcome::Requested => {
            // Stop it now when it runs here; other workers see the flag at their heartbeat.
            if let Some(w) = state.workers() {
                w.cancel_running(&id);
            }
            "requested"
        }
        CancelOutcome::AlreadyFinished => "already_finished",
        CancelOutcome::NotFound => return Err(ApiError::SubmissionNotFound(id.to_string())),
    };
    tracing::info!(submission_id = %id, outcome, "admin cancel");
    Ok(Json(CancelBody {
        id: id.to_string(),
        outcome: outcome.into(),
    }))
}

/// Frees a display name from the session it belongs to (say, one whose owner lost the
/// cookie); the next session to submit under it gets it. The earlier owner's results
/// leave the leaderboard with the name.
#[utoipa::path(post, path = "/api/v1/admin/display-names/{name}/release", tag = "admin",
    security(("admin_token" = [])),
    params(("name" = String, Path, description = "Display name (any case)")),
    responses((status = 200, body = ReleaseNameBody), (status = 401, body = ErrorBody)))]
pub async fn release_name(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ReleaseNameBody>, ApiError> {
    let released = state.store().release_display_name(&name).await?;
    tracing::warn!(display_name = %name, released, "admin: display name released");
    Ok(Json(ReleaseNameBody { name, released }))
}

fn workers(
    state: &AppState,
) -> Result<&std::sync::Arc<dyn gauntlet_queue::WorkerControl>, ApiError> {
    state
        .workers()
        .ok_or_else(|| ApiError::Conflict("this process runs no workers to pause or resume".into()))
}

/// Stops this process's workers from claiming jobs; running ones finish.
#[utoipa::path(post, path = "/api/v1/admin/pause", tag = "admin",
    security(("admin_token" = [])),
    responses((status = 200, body = PauseBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn pause(State(state): State<AppState>) -> Result<Json<PauseBody>, ApiError> {
    let w = workers(&state)?;
    w.pause();
    tracing::warn!("admin: claiming paused");
    Ok(Json(PauseBody {
        paused: w.is_paused(),
    }))
}

/// Lets this process's workers claim jobs again.
#[utoipa::path(post, path = "/api/v1/admin/resume", tag = "admin",
    security(("admin_token" = [])),
    responses((status = 200, body = PauseBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resume(State(state): State<AppState>) -> Result<Json<PauseBody>, ApiError> {
    let w = workers(&state)?;
    w.resume();
    tracing::info!("admin: claiming resumed");
    Ok(Json(PauseBody {
        paused: w.is_paused(),
    }))
}

/// Validates the exercises folder again and swaps it in only if every package is valid.
#[utoipa::path(post, path = "/api/v1/admin/reload", tag = "admin",
    security(("admin_token" = [])),
    responses((status = 200, body = ReloadBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Some package is invalid; the catalogue is unchanged")))]
pub async fn reload(State(state): State<AppState>) -> Result<Json<ReloadBody>, ApiError> {
    let catalog = state.catalog().clone();
    let result = tokio::task::spawn_blocking(move || catalog.reload())
        .await
        .map_err(|e| ApiError::Internal(format!("reload: {e}")))?;
    match result {
        Ok(snap) => {
            let ids: Vec<String> = snap.exercises.keys().cloned().collect();
            if let Some(w) = state.workers() {
                let hashes = snap
                    .exercises
                    .values()
                    .map(|e| e.exercise.content_hash.clone())
                    .collect();
                if let Err(e) = w.exercises_reloaded(hashes).await {
                    return Err(ApiError::Internal(format!(
                        "workers did not take the new exercises: {e}"
                    )));
                }
            }
            tracing::info!(count = ids.len(), "exercises reloaded");
            Ok(Json(ReloadBody { exercises: ids }))
        }
        Err(e) => {
            tracing::warn!(
                problems = e.problems.len(),
                "exercise reload refused; keeping the current set"
            );
            Err(ApiError::InvalidExercises(
                format!(
                    "{} problem(s); the current exercises stay",
                    e.problems.len()
                ),
                e.problems,
            ))
        }
    }
}
