//! Public handlers: exercises, submissions (JSON and multipart), leaderboard, and the
//! operational endpoints (`/healthz`, `/readyz`, `/metrics`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gauntlet_exercise::{export, GradeResult, ResultFormat, SubmissionKind};

use super::error::{ApiError, ErrorBody};
use super::types::*;
use super::{now_secs, AppState};
use crate::limits::client_ip;
use crate::sessions::Session;
use gauntlet_queue::store::{now_ms, NewSubmission, SubmissionId};

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
    }))
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Names nobody may take on the leaderboard (compared case-insensitively).
const RESERVED_NAMES: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "system",
    "gauntlet",
    "moderator",
    "mod",
    "staff",
    "support",
    "operator",
    "anonymous",
    "null",
    "undefined",
    "none",
    "nobody",
];

pub const MAX_DISPLAY_NAME_CHARS: usize = 32;

/// 1-32 characters of letters, digits, space, `_`, `-`, `.`; starting and ending with a
/// letter or digit; not a reserved name.
pub fn validate_display_name(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if n == 0 || n > MAX_DISPLAY_NAME_CHARS {
        return Err(format!(
            "must be 1 to {MAX_DISPLAY_NAME_CHARS} characters long"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.'))
    {
        return Err("may contain only letters, digits, spaces, '_', '-' and '.'".into());
    }
    let first_last_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_last_ok(name.chars().next()) || !first_last_ok(name.chars().last()) {
        return Err("must start and end with a letter or digit".into());
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_NAMES.contains(&lower.as_str()) {
        return Err(format!("{name:?} is reserved"));
    }
    Ok(())
}

struct Incoming {
    exercise: String,
    display_name: String,
    body: IncomingBody,
}

enum IncomingBody {
    Files(BTreeMap<String, String>),
    Archive(Vec<u8>),
}

async fn read_body(state: &AppState, req: Request) -> Result<Incoming, ApiError> {
    let s = state.settings();
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("multipart: {}", e.body_text())))?;
        let (mut exercise, mut display_name, mut archive) = (None, None, None);
        let mut parts = 0u32;
        while let Some(mut field) = mp
            .next_field()
            .await
            .map_err(|e| ApiError::from_multipart(e, s.max_body))?
        {
            parts += 1;
            if parts > s.max_parts {
                return Err(ApiError::BadRequest(format!(
                    "multipart: more than {} parts",
                    s.max_parts
                )));
            }
            let name = field.name().unwrap_or("").to_owned();
            let cap = match name.as_str() {
                "archive" => s.max_archive,
                "exercise" | "display_name" => s.max_field,
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "multipart: unknown part {:?} (expected exercise, display_name, archive)",
                        truncate(other)
                    )))
                }
            };
            let mut buf = Vec::new();
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| ApiError::from_multipart(e, s.max_body))?
            {
                if (buf.len() + chunk.len()) as u64 > cap {
                    return Err(ApiError::TooLarge(cap));
                }
                buf.extend_from_slice(&chunk);
            }
            let text = |buf: Vec<u8>| {
                String::from_utf8(buf).map_err(|_| {
                    ApiError::BadRequest(format!("multipart: part {name:?} is not UTF-8"))
                })
            };
            let slot = match name.as_str() {
                "archive" => {
                    if archive.replace(buf).is_some() {
                        return Err(ApiError::BadRequest("multipart: two archive parts".into()));
                    }
                    continue;
                }
                "exercise" => &mut exercise,
                _ => &mut display_name,
            };
            if slot.replace(text(buf)?).is_some() {
                return Err(ApiError::BadRequest(format!("multipart: two {name} parts")));
            }
        }
        let missing =
            |what: &str| ApiError::BadRequest(format!("multipart: missing the {what} part"));
        return Ok(Incoming {
            exercise: exercise.ok_or_else(|| missing("exercise"))?,
            display_name: display_name.ok_or_else(|| missing("display_name"))?,
            body: IncomingBody::Archive(archive.ok_or_else(|| missing("archive"))?),
        });
    }
    if ctype.starts_with("application/json") || ctype.is_empty() {
        let Json(body) = Json::<SubmitJson>::from_request(req, state)
            .await
            .map_err(|e| ApiError::from_json(e, s.max_body))?;
        return Ok(Incoming {
            exercise: body.exercise,
            display_name: body.display_name,
            body: IncomingBody::Files(body.files),
        });
    }
    Err(ApiError::UnsupportedMediaType)
}

/// Submit a solution: JSON for `files` exercises, multipart with an `archive` part for
/// `archive` exercises. Limits apply in this order: queue cap (503), the session's
/// queued-or-running cap (429), rate limits per IP, session and display name (429).
#[utoipa::path(post, path = "/api/v1/submissions", tag = "submissions",
    request_body(content(
        (SubmitJson = "application/json"),
        (SubmitMultipart = "multipart/form-data"),
    )),
    responses(
        (status = 202, body = Accepted, headers(("location" = String, description = "The submission's URL"))),
        (status = 400, body = ErrorBody, description = "Invalid JSON, display name or submission"),
        (status = 404, body = ErrorBody, description = "Unknown exercise"),
        (status = 408, body = ErrorBody, description = "Body not received in time"),
        (status = 413, body = ErrorBody, description = "Body or part over its cap"),
        (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody, headers(("retry-after" = u64)), description = "Rate limit or per-session cap"),
        (status = 503, body = ErrorBody, headers(("retry-after" = u64)), description = "Busy, retry shortly (`busy`), or the exercise cannot be graded now: its runtime's toolchain is missing or being prepared (`exercise_unavailable`, with the reason)"),
    ))]
pub async fn submit(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let session = req
        .extensions()
        .get::<Session>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("no session on a submission".into()))?;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    // Several X-Forwarded-For lines read as one list, in order: a proxy may add its own
    // line after one the client forged, and the right-most entries are the proxies'.
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .collect();
    let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
    let ip = client_ip(
        peer,
        forwarded.as_deref(),
        &state.settings().trusted_proxies,
    );
    let incoming = read_body(&state, req).await?;

    validate_display_name(&incoming.display_name).map_err(ApiError::InvalidDisplayName)?;
    let entry = state
        .catalog()
        .get(&incoming.exercise)
        .ok_or_else(|| ApiError::ExerciseNotFound(truncate(&incoming.exercise)))?;
    match (&incoming.body, entry.kind()) {
        (IncomingBody::Files(_), SubmissionKind::Files)
        | (IncomingBody::Archive(_), SubmissionKind::Archive) => {}
        (IncomingBody::Files(_), SubmissionKind::Archive) => {
            return Err(ApiError::InvalidSubmission(
                "this exercise takes a ZIP: send multipart/form-data with an archive part".into(),
            ))
        }
        (IncomingBody::Archive(_), SubmissionKind::Files) => {
            return Err(ApiError::InvalidSubmission(
                "this exercise takes files: send JSON {\"exercise\", \"files\", \"display_name\"}"
                    .into(),
            ))
        }
    }

    // An exercise this service cannot grade now (its toolchain is missing or being
    // prepared) is refused here, never queued to fail later.
    if let Some(u) = state.catalog().gate().unavailable(&entry.exercise) {
        state.metrics().rejected("exercise_unavailable");
        return Err(ApiError::ExerciseUnavailable {
            exercise: entry.id().to_owned(),
            reason: u.reason,
            retry_after: u.retry_after,
        });
    }

    let s = state.settings();
    let metrics = state.metrics();
    let counts = state.store().queue_counts().await?;
    if counts.queued >= u64::from(s.max_queue) {
        metrics.rejected("busy");
        return Err(ApiError::Busy(std::time::Duration::from_secs(
            s.busy_retry_after.into(),
        )));
    }
    // Held until the submission is inserted: the session cap cannot be raced here.
    let _admission = state.admissions().lock(&session.id).await;
    let mine = state.store().session_counts(&session.id).await?;
    if mine.queued + mine.running >= u64::from(s.max_active_per_session) {
        metrics.rejected("session_jobs");
        return Err(ApiError::TooManyActive(s.max_active_per_session));
    }
    if let Err(r) = state
        .limiter()
        .check_submission(ip, &session.id, &incoming.display_name, now_secs())
        .await
        .map_err(|e| ApiError::NotReady(e.to_string()))?
    {
        metrics.rate_limited(r.scope.as_str(), r.window.as_str());
        tracing::info!(scope = r.scope.as_str(), window = r.window.as_str(), %ip, "rate limited");
        return Err(ApiError::RateLimited(r));
    }

    let payload = match incoming.body {
        IncomingBody::Files(files) => {
            gauntlet_exercise::validate_files(&entry.exercise, &files)
                .map_err(|e| ApiError::InvalidSubmission(e.to_string()))?;
            serde_json::to_vec(&files).map_err(|e| ApiError::Internal(e.to_string()))?
        }
        IncomingBody::Archive(zip) => {
            let catalog = state.catalog().clone();
            let ex = entry.exercise.clone();
            tokio::task::spawn_blocking(move || {
                catalog.gate().check_archive(&ex, &zip).map(|()| zip)
            })
            .await
            .map_err(|e| ApiError::Internal(format!("archive check: {e}")))?
            .map_err(ApiError::InvalidSubmission)?
        }
    };

    let id = SubmissionId::new();
    tracing::Span::current().record("submission_id", tracing::field::display(&id));
    state
        .store()
        .create_submission(
            NewSubmission {
                id: id.clone(),
                exercise_id: entry.id().to_owned(),
                exercise_hash: entry.exercise.content_hash.clone(),
                display_name: incoming.display_name,
                session_id: session.id,
                client_ip: ip.to_string(),
                payload,
                max_attempts: s.max_attempts,
            },
            now_ms(),
        )
        .await?;
    metrics.submission_accepted(entry.id());
    tracing::info!(submission_id = %id, exercise = entry.id(), "submission queued");
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/submissions/{id}")) {
        headers.insert(header::LOCATION, v);
    }
    Ok((
        StatusCode::ACCEPTED,
        headers,
        Json(Accepted {
            id: id.to_string(),
            state: "queued".into(),
        }),
    )
        .into_response())
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

/// Best score per display name per exercise; the earlier submission wins ties.
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

#[cfg(test)]
mod tests {
    use super::validate_display_name;

    #[test]
    fn display_names() {
        let table: &[(&str, bool)] = &[
            ("ada", true),
            ("Ada Lovelace", true),
            ("a.b-c_d 9", true),
            ("x", true),
            (&"a".repeat(32), true),
            (&"a".repeat(33), false),
            ("", false),
            (" ada", false),
            ("ada ", false),
            ("a  b", true),
            ("-ada", false),
            ("ada<script>", false),
            ("adä", false),
            ("ada\n", false),
            ("Admin", false),
            ("ROOT", false),
            ("gauntlet", false),
        ];
        for (name, ok) in table {
            assert_eq!(validate_display_name(name).is_ok(), *ok, "{name:?}");
        }
    }
}
