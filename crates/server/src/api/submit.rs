//! `POST /api/v1/submissions`: the body read under its caps, then the admission steps
//! in order (docs/api.md lists them with their answers), each a function of its own.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gauntlet_exercise::SubmissionKind;
use gauntlet_queue::store::{now_ms, NewSubmission, SubmissionId};

use super::error::{ApiError, ErrorBody};
use super::handlers::truncate;
use super::session_of;
use super::types::*;
use super::{now_secs, AppState};
use crate::catalog::Entry;
use crate::limits::{AdmissionError, AdmissionGuard, ClientKey, Unavailable};
use crate::metrics::Metrics;

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
    Git(super::types::GitSubmission),
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
        let body_kind = match (body.files, body.git) {
            (Some(files), None) => IncomingBody::Files(files),
            (None, Some(git)) => IncomingBody::Git(git),
            (Some(_), Some(_)) => {
                return Err(ApiError::BadRequest(
                    "give either files or git, not both".into(),
                ))
            }
            (None, None) => return Err(ApiError::BadRequest("missing field `files`".into())),
        };
        return Ok(Incoming {
            exercise: body.exercise,
            display_name: body.display_name,
            body: body_kind,
        });
    }
    Err(ApiError::UnsupportedMediaType)
}

/// Submit a solution: JSON for `files` exercises, multipart with an `archive` part for
/// `archive` exercises. Checks, in order: the exercise can be graded now (503 when its
/// toolchain is missing or being prepared), the display name is free or this session's
/// (409), queue cap (503), the session's and the address's queued-or-running caps (429),
/// rate limits per address, session and display name (429), the submission itself (400).
#[utoipa::path(post, path = "/api/v1/submissions", tag = "submissions",
    request_body(content(
        (SubmitJsonForms = "application/json"),
        (SubmitMultipart = "multipart/form-data"),
    )),
    responses(
        (status = 202, body = Accepted, headers(("location" = String, description = "The submission's URL"))),
        (status = 400, body = ErrorBody, description = "Invalid JSON, display name or submission"),
        (status = 404, body = ErrorBody, description = "Unknown exercise"),
        (status = 408, body = ErrorBody, description = "Body not received in time"),
        (status = 409, body = ErrorBody, description = "The display name belongs to another session"),
        (status = 413, body = ErrorBody, description = "Body or part over its cap"),
        (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody, headers(("retry-after" = u64)), description = "Rate limit, or the session's or address's active cap"),
        (status = 503, body = ErrorBody, headers(("retry-after" = u64)), description = "Busy, retry shortly (`busy`), or the exercise cannot be graded now: its runtime's toolchain is missing or being prepared (`exercise_unavailable`, with the reason)"),
    ))]
pub async fn submit(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let session = session_of(&req)?;
    let (ip, client) = state.client(&req);
    let incoming = read_body(&state, req).await?;
    let entry = check_request(&state, &incoming)?;
    check_available(&state, &entry)?;
    let Incoming {
        display_name, body, ..
    } = incoming;
    let owned = name_is_free_or_ours(&state, &display_name, &session.id).await?;
    check_queue_cap(&state).await?;
    // Held until the submission is inserted: the active caps cannot be raced.
    let _admission = admit(&state, &session.id, &client).await?;
    check_rate_limits(&state, &client, &session.id, &display_name, owned).await?;
    let payload = validated_payload(&state, &entry, body).await?;
    claim_name(&state, &display_name, &session.id, owned).await?;
    let id = SubmissionId::new();
    tracing::Span::current().record("submission_id", tracing::field::display(&id));
    let new = NewSubmission {
        id: id.clone(),
        exercise_id: entry.id().to_owned(),
        exercise_hash: entry.exercise.content_hash.clone(),
        display_name,
        session_id: session.id,
        client_ip: ip.to_string(),
        client_key: client.to_string(),
        payload,
        max_attempts: state.settings().max_attempts,
    };
    state.store().create_submission(new, now_ms()).await?;
    state.metrics().submission_accepted(entry.id());
    tracing::info!(submission_id = %id, exercise = entry.id(), "submission queued");
    Ok(accepted(&id))
}

/// The cheap checks: a valid display name, a known exercise, the body it takes.
fn check_request(state: &AppState, incoming: &Incoming) -> Result<Entry, ApiError> {
    validate_display_name(&incoming.display_name).map_err(ApiError::InvalidDisplayName)?;
    let entry = state
        .catalog()
        .get(&incoming.exercise)
        .ok_or_else(|| ApiError::ExerciseNotFound(truncate(&incoming.exercise)))?;
    match (&incoming.body, entry.kind()) {
        (IncomingBody::Git(_), _) => Ok(entry),
        (IncomingBody::Files(_), SubmissionKind::Files)
        | (IncomingBody::Archive(_), SubmissionKind::Archive) => Ok(entry),
        (IncomingBody::Files(_), SubmissionKind::Archive) => Err(ApiError::InvalidSubmission(
            "this exercise takes a ZIP: send multipart/form-data with an archive part".into(),
        )),
        (IncomingBody::Archive(_), SubmissionKind::Files) => Err(ApiError::InvalidSubmission(
            "this exercise takes files: send JSON {\"exercise\", \"files\", \"display_name\"}"
                .into(),
        )),
    }
}

/// An exercise this service cannot grade now (its runtime's toolchain is missing or
/// being prepared) is refused here, never queued to fail later.
fn check_available(state: &AppState, entry: &Entry) -> Result<(), ApiError> {
    match state.catalog().gate().unavailable(&entry.exercise) {
        None => Ok(()),
        Some(u) => {
            state.metrics().rejected("exercise_unavailable");
            Err(ApiError::ExerciseUnavailable {
                exercise: entry.id().to_owned(),
                reason: u.reason,
                retry_after: u.retry_after,
            })
        }
    }
}

fn name_taken(state: &AppState, name: &str) -> ApiError {
    state.metrics().rejected("name_taken");
    ApiError::DisplayNameTaken(name.to_owned())
}

/// Another session's name is refused before any limit counts the attempt, so nobody
/// can spend a limit in someone else's name. True when the name is already ours.
async fn name_is_free_or_ours(
    state: &AppState,
    name: &str,
    session: &str,
) -> Result<bool, ApiError> {
    match state.store().display_name_owner(name).await? {
        Some(owner) if owner != session => Err(name_taken(state, name)),
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

fn busy(state: &AppState) -> ApiError {
    ApiError::Busy(Duration::from_secs(
        state.settings().busy_retry_after.into(),
    ))
}

async fn check_queue_cap(state: &AppState) -> Result<(), ApiError> {
    let counts = state.store().queue_counts().await?;
    if counts.queued >= u64::from(state.settings().max_queue) {
        state.metrics().rejected("busy");
        return Err(busy(state));
    }
    Ok(())
}

/// Takes the session's and the address's admission locks, then checks their caps on
/// queued-or-running submissions; the lock is held until the insert.
async fn admit(
    state: &AppState,
    session: &str,
    client: &ClientKey,
) -> Result<AdmissionGuard, ApiError> {
    let (s, metrics) = (state.settings(), state.metrics());
    let guard = state
        .admissions()
        .lock(&[format!("session:{session}"), format!("client:{client}")])
        .await
        .map_err(|e| match e {
            AdmissionError::Busy => busy(state),
            AdmissionError::Unavailable => limits_unavailable(metrics),
        })?;
    let mine = state.store().session_counts(session).await?;
    if mine.queued + mine.running >= u64::from(s.max_active_per_session) {
        metrics.rejected("session_jobs");
        return Err(ApiError::TooManyActive(s.max_active_per_session));
    }
    let address = state.store().client_counts(client.as_str()).await?;
    if address.queued + address.running >= u64::from(s.max_active_per_ip) {
        metrics.rejected("ip_jobs");
        tracing::info!(%client, "active cap of the address reached");
        return Err(ApiError::TooManyActiveFromIp(s.max_active_per_ip));
    }
    Ok(guard)
}

/// The rate limits of the address, the session and (when it is already ours) the name.
async fn check_rate_limits(
    state: &AppState,
    client: &ClientKey,
    session: &str,
    name: &str,
    owned: bool,
) -> Result<(), ApiError> {
    let metrics = state.metrics();
    let verdict = state
        .limiter()
        .check_submission(client, session, owned.then_some(name), now_secs())
        .await
        .map_err(|Unavailable| limits_unavailable(metrics))?;
    verdict.map_err(|r| {
        metrics.rate_limited(r.scope.as_str(), r.window.as_str());
        tracing::info!(scope = r.scope.as_str(), window = r.window.as_str(), %client, "rate limited");
        ApiError::RateLimited(r)
    })
}

/// The submission's payload once its contents pass: the files map as JSON, or the ZIP
/// after the grader's archive check (on a blocking thread).
async fn validated_payload(
    state: &AppState,
    entry: &Entry,
    body: IncomingBody,
) -> Result<Vec<u8>, ApiError> {
    match body {
        IncomingBody::Files(files) => {
            gauntlet_exercise::validate_files(&entry.exercise, &files)
                .map_err(|e| ApiError::InvalidSubmission(e.to_string()))?;
            serde_json::to_vec(&files).map_err(|e| ApiError::Internal(e.to_string()))
        }
        IncomingBody::Archive(zip) => {
            let catalog = state.catalog().clone();
            let ex = entry.exercise.clone();
            tokio::task::spawn_blocking(move || {
                catalog.gate().check_archive(&ex, &zip).map(|()| zip)
            })
            .await
            .map_err(|e| ApiError::Internal(format!("archive check: {e}")))?
            .map_err(ApiError::InvalidSubmission)
        }
        IncomingBody::Git(git) => {
            state
                .catalog()
                .gate()
                .check_git(&git.url, git.reference.as_deref())
                .map_err(ApiError::InvalidSubmission)?;
            let stored = crate::grading::GitPayload {
                url: git.url,
                reference: git.reference,
            };
            let json =
                serde_json::to_vec(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok([crate::grading::GIT_PAYLOAD, json.as_slice()].concat())
        }
    }
}

/// The name goes to the first session whose submission under it is accepted; a new
/// name's first submission counts against its limits from here.
async fn claim_name(
    state: &AppState,
    name: &str,
    session: &str,
    owned: bool,
) -> Result<(), ApiError> {
    if owned {
        return Ok(()); // ours already: no write
    }
    let owner = state
        .store()
        .claim_display_name(name, session, now_ms())
        .await?;
    if owner != session {
        return Err(name_taken(state, name));
    }
    state
        .limiter()
        .count_new_name(name, now_secs())
        .await
        .map_err(|Unavailable| limits_unavailable(state.metrics()))
}

fn accepted(id: &SubmissionId) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/submissions/{id}")) {
        headers.insert(header::LOCATION, v);
    }
    let body = Accepted {
        id: id.to_string(),
        state: "queued".into(),
    };
    (StatusCode::ACCEPTED, headers, Json(body)).into_response()
}

/// Redis is unreachable and `GAUNTLET_ON_REDIS_DOWN=closed`.
pub(crate) fn limits_unavailable(metrics: &Metrics) -> ApiError {
    metrics.rejected("redis_down");
    ApiError::NotReady(
        "the shared limits are unavailable while Redis is unreachable; retry shortly".into(),
    )
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
