//! Public handlers: exercises, a submission's state and result, the leaderboard, and
//! the operational endpoints (`/healthz`, `/readyz`, `/metrics`). Submitting is
//! `submit.rs`'s.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gauntlet_exercise::{export, GradeResult, ResultFormat, SubmissionKind};

use super::error::{ApiError, ErrorBody};
use super::types::*;
use super::AppState;
use gauntlet_queue::store::{now_ms, SubmissionId};

fn kind_str(k: SubmissionKind) -> &'static str {
    match k {
        SubmissionKind::Files => "files",
        SubmissionKind::Archive => "archive",
    }
}

/// List the exercises.
#[utoipa::path(get, path = "/api/v1/exercises", tag = "exercises",
    responses((status = 200, body = ExerciseList)))]
pub async fn list_exercises(State(state): State<AppState>) -> Json<ExerciseList> {
    let snap = state.catalog().snapshot();
    Json(ExerciseList {
        exercises: snap
            .exercises
            .values()
            .map(|e| {
                let unavailable = state.catalog().gate().unavailable(&e.exercise);
                ExerciseSummary {
                    id: e.id().to_owned(),
                    title: e.exercise.title.clone(),
                    runtime: e.exercise.runtime.clone(),
                    submission: kind_str(e.kind()).to_owned(),
                    available: unavailable.is_none(),
                    unavailable_reason: unavailable.map(|u| u.reason),
                }
            })
            .collect(),
    })
}

/// One exercise with its starter files' contents.
#[utoipa::path(get, path = "/api/v1/exercises/{id}", tag = "exercises",
    params(("id" = String, Path, description = "Exercise id")),
    responses((status = 200, body = ExerciseDetail), (status = 404, body = ErrorBody)))]
pub async fn get_exercise(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ExerciseDetail>, ApiError> {
    let e = state
        .catalog()
        .get(&id)
        .ok_or_else(|| ApiError::ExerciseNotFound(truncate(&id)))?;
    let unavailable = state.catalog().gate().unavailable(&e.exercise);
    Ok(Json(ExerciseDetail {
        id: e.id().to_owned(),
        title: e.exercise.title.clone(),
        runtime: e.exercise.runtime.clone(),
        submission: kind_str(e.kind()).to_owned(),
        version: e.exercise.content_hash.clone(),
        available: unavailable.is_none(),
        unavailable_reason: unavailable.map(|u| u.reason),
        starter_files: e
            .starter
            .iter()
            .map(|f| StarterFileBody {
                path: f.path.clone(),
                max_bytes: f.max_bytes,
                content: f.content.clone(),
            })
            .collect(),
        statement: e.statement.as_ref().map(|s| StatementBody {
            markdown: s.markdown.clone(),
            html: s.html.clone(),
        }),
        limits: limits_body(&state.catalog().gate().limits(&e.exercise)),
    }))
}

fn limits_body(l: &gauntlet_sandbox::Limits) -> LimitsBody {
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    LimitsBody {
        wall_time_ms: ms(l.wall_time),
        idle_timeout_ms: l.idle_timeout.map(ms),
        cpu_time_ms: ms(l.cpu_time),
        memory_bytes: l.memory,
        pids: l.pids,
        output_bytes: l.output_limit,
    }
}

pub(super) fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

pub(crate) fn parse_id(id: &str) -> Result<SubmissionId, ApiError> {
    SubmissionId::parse(id).ok_or_else(|| ApiError::SubmissionNotFound(truncate(id)))
}

/// A submission's state, and its result once finished; with `?format=exercism` or
/// `?format=junit`, only the result, as Exercism's results.json v3 or as JUnit XML
/// (docs/results.md).
#[utoipa::path(get, path = "/api/v1/submissions/{id}", tag = "submissions",
    params(("id" = String, Path, description = "Submission id"), SubmissionQuery),
    responses(
        (status = 200, description = "The submission (json), or its result (exercism, junit)", content(
            (SubmissionView = "application/json"),
            (String = "application/xml"),
        )),
        (status = 400, body = ErrorBody, description = "Unknown format"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not finished yet: no result to export"),
    ))]
pub async fn get_submission(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<SubmissionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(ApiError::from_query)?;
    let format = match q.format.as_deref() {
        None => ResultFormat::Json,
        Some(f) => f
            .parse::<ResultFormat>()
            .map_err(|e| ApiError::BadRequest(e.to_string()))?,
    };
    let id = parse_id(&id)?;
    tracing::Span::current().record("submission_id", tracing::field::display(&id));
    let sub = state
        .store()
        .get_submission(&id)
        .await?
        .ok_or_else(|| ApiError::SubmissionNotFound(id.to_string()))?;
    if format == ResultFormat::Json {
        return Ok(Json(SubmissionBody {
            id: sub.id.to_string(),
            exercise: sub.exercise_id,
            display_name: sub.display_name,
            state: sub.state.as_str().to_owned(),
            result: sub.result,
            created_at: sub.created_at,
        })
        .into_response());
    }
    let Some(stored) = sub.result else {
        return Err(ApiError::Conflict(format!(
            "submission {id} is {}: its result exists once it is finished",
            sub.state.as_str()
        )));
    };
    let result: GradeResult = serde_json::from_value(stored)
        .map_err(|e| ApiError::Internal(format!("stored result of {id}: {e}")))?;
    let body = match format {
        ResultFormat::Exercism => serde_json::to_string(&export::exercism(&result))
            .map_err(|e| ApiError::Internal(e.to_string()))?,
        _ => export::junit(&result, &sub.exercise_id),
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
        .into_response())
}

/// Best score per display name per exercise; the earlier submission wins ties. Only the
/// submissions of the session a name belongs to count.
#[utoipa::path(get, path = "/api/v1/leaderboard", tag = "leaderboard",
    params(LeaderboardQuery),
    responses((status = 200, body = Leaderboard), (status = 400, body = ErrorBody)))]
pub async fn leaderboard(
    State(state): State<AppState>,
    query: Result<Query<LeaderboardQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Leaderboard>, ApiError> {
    let Query(q) = query.map_err(ApiError::from_query)?;
    let rows = state.store().leaderboard(q.exercise.as_deref()).await?;
    Ok(Json(Leaderboard {
        entries: rows
            .into_iter()
            .map(|r| LeaderboardRow {
                exercise: r.exercise_id,
                display_name: r.display_name,
                score: r.score,
                submission_id: r.submission_id.to_string(),
                submitted_at: r.created_at,
            })
            .collect(),
    }))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// How recently a worker must have reported to count as alive.
pub const WORKER_LIVENESS_MS: i64 = 30_000;

/// Readiness: the store answers and at least one worker is alive.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = ErrorBody, headers(("retry-after" = u64)))))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let store = state.store();
    store
        .ping()
        .await
        .map_err(|e| ApiError::NotReady(format!("store unreachable: {e}")))?;
    let workers = store
        .live_workers(now_ms() - WORKER_LIVENESS_MS)
        .await
        .map_err(|e| ApiError::NotReady(format!("store unreachable: {e}")))?
        .len() as u64;
    if workers == 0 {
        return Err(ApiError::NotReady("no live workers".into()));
    }
    let counts = store.queue_counts().await?;
    Ok(Json(Readiness {
        status: "ready".into(),
        workers,
        queued: counts.queued,
        running: counts.running,
    }))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let store = state.store();
    if let (Ok(counts), Ok(workers)) = (
        store.queue_counts().await,
        store.live_workers(now_ms() - WORKER_LIVENESS_MS).await,
    ) {
        state
            .metrics()
            .set_queue(counts.queued, counts.running, workers.len() as u64);
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics().render(),
    )
        .into_response()
}
