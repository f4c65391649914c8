//! Every error the API answers with, mapped to a status and the JSON shape
//! `{"error": {"code", "message"}}` of docs/api.md in one place; 429 and 503 carry
//! `Retry-After`.

use std::time::Duration;

use axum::extract::multipart::MultipartError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::limits::Rejected;
use gauntlet_queue::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidJson(String),
    #[error("display name {0}")]
    InvalidDisplayName(String),
    #[error("{0}")]
    InvalidSubmission(String),
    #[error("no exercise {0:?}")]
    ExerciseNotFound(String),
    #[error("no submission {0:?}")]
    SubmissionNotFound(String),
    #[error("no route for this path")]
    NoRoute,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("admin token missing or wrong")]
    Unauthorized,
    #[error("{0}")]
    Csrf(String),
    #[error("admin endpoints are disabled: set ADMIN_TOKEN to a secret of at least 32 bytes")]
    AdminDisabled,
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than the {0}-byte cap")]
    TooLarge(u64),
    #[error("expected application/json or multipart/form-data")]
    UnsupportedMediaType,
    #[error("the request body was not received in time")]
    BodyTimeout,
    #[error("{} limit reached: at most {} submissions per {}", .0.scope.as_str(), .0.limit, .0.window.as_str())]
    RateLimited(Rejected),
    #[error("this session already has {0} submissions queued or running; wait for one to finish")]
    TooManyActive(u32),
    #[error("this address already has {0} submissions queued or running; wait for one to finish")]
    TooManyActiveFromIp(u32),
    #[error("this session already has {0} event streams open")]
    TooManyStreams(u32),
    #[error("this address already has {0} event streams open")]
    TooManyStreamsFromIp(u32),
    #[error("this server already holds {0} event streams open, its most; retry shortly")]
    StreamsFull(u32),
    #[error("display name {0:?} belongs to another session; choose another name")]
    DisplayNameTaken(String),
    #[error("busy, retry shortly")]
    Busy(Duration),
    #[error("exercise {exercise} cannot be graded right now: {reason}")]
    ExerciseUnavailable {
        exercise: String,
        reason: String,
        retry_after: Duration,
    },
    #[error("{0}")]
    InvalidExercises(String, Vec<String>),
    #[error("not ready: {0}")]
    NotReady(String),
    #[error("internal error")]
    Internal(String),
}

/// `{"error": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_submission`, `rate_limited`, `busy`, ...
    pub code: String,
    pub message: String,
    /// Extra lines, e.g. every problem of an exercises reload.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            BadRequest(_) | InvalidJson(_) | InvalidDisplayName(_) | InvalidSubmission(_) => {
                StatusCode::BAD_REQUEST
            }
            ExerciseNotFound(_) | SubmissionNotFound(_) | NoRoute => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Unauthorized | AdminDisabled => StatusCode::UNAUTHORIZED,
            Csrf(_) => StatusCode::FORBIDDEN,
            Conflict(_) | DisplayNameTaken(_) => StatusCode::CONFLICT,
            TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            InvalidExercises(..) => StatusCode::UNPROCESSABLE_ENTITY,
            RateLimited(_)
            | TooManyActive(_)
            | TooManyActiveFromIp(_)
            | TooManyStreams(_)
            | TooManyStreamsFromIp(_) => StatusCode::TOO_MANY_REQUESTS,
            Busy(_) | StreamsFull(_) | NotReady(_) | ExerciseUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            BadRequest(_) => "bad_request",
            InvalidJson(_) => "invalid_json",
            InvalidDisplayName(_) => "invalid_display_name",
            InvalidSubmission(_) => "invalid_submission",
            ExerciseNotFound(_) => "exercise_not_found",
            SubmissionNotFound(_) => "submission_not_found",
            NoRoute => "not_found",
            MethodNotAllowed => "method_not_allowed",
            Unauthorized => "unauthorized",
            AdminDisabled => "admin_disabled",
            Csrf(_) => "csrf",
            Conflict(_) => "conflict",
            TooLarge(_) => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            BodyTimeout => "body_timeout",
            RateLimited(_) => "rate_limited",
            TooManyActive(_) | TooManyActiveFromIp(_) => "too_many_active_submissions",
            TooManyStreams(_) | TooManyStreamsFromIp(_) => "too_many_streams",
            DisplayNameTaken(_) => "display_name_taken",
            Busy(_) | StreamsFull(_) => "busy",
            ExerciseUnavailable { .. } => "exercise_unavailable",
            InvalidExercises(..) => "invalid_exercises",
            NotReady(_) => "not_ready",
            Internal(_) => "internal_error",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited(r) => Some(r.retry_after.as_secs().max(1)),
            ApiError::TooManyActive(_)
            | ApiError::TooManyActiveFromIp(_)
            | ApiError::TooManyStreams(_)
            | ApiError::TooManyStreamsFromIp(_)
            | ApiError::StreamsFull(_) => Some(5),
            ApiError::Busy(d) => Some(d.as_secs().max(1)),
            ApiError::ExerciseUnavailable { retry_after, .. } => Some(retry_after.as_secs().max(1)),
            ApiError::NotReady(_) => Some(5),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(detail) = &self {
            // The detail stays in the log; the client gets the generic message.
            tracing::error!(error = %detail, "internal error");
        } else if status.is_server_error() {
            tracing::warn!(error = %self, "request refused");
        }
        let details = match &self {
            ApiError::InvalidExercises(_, d) => d.clone(),
            _ => Vec::new(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
                details,
            },
        };
        let mut res = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if matches!(self, ApiError::Unauthorized | ApiError::AdminDisabled) {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gauntlet-admin\""),
            );
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_disk_full() {
            // Nothing was saved; the same request succeeds once space is back.
            return ApiError::NotReady("the server's disk is full; nothing was saved".into());
        }
        if e.is_unavailable() {
            return ApiError::NotReady("the store cannot be reached for now".into());
        }
        ApiError::Internal(format!("store: {e}"))
    }
}

/// A body error's cause, told apart by walking the source chain: the body-size cap
/// (axum's `length limit exceeded`) or the body read timeout.
fn body_error(e: &(dyn std::error::Error + 'static), max: u64) -> Option<ApiError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return Some(ApiError::BodyTimeout);
        }
        if err.to_string().contains("length limit exceeded") {
            return Some(ApiError::TooLarge(max));
        }
        cur = err.source();
    }
    None
}

impl ApiError {
    pub fn from_json(rej: JsonRejection, max: u64) -> Self {
        match &rej {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(b) => {
                if b.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    return ApiError::TooLarge(max);
                }
                body_error(&rej, max).unwrap_or_else(|| ApiError::BadRequest(rej.body_text()))
            }
            _ => ApiError::InvalidJson(rej.body_text()),
        }
    }

    pub fn from_multipart(e: MultipartError, max: u64) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge(max);
        }
        body_error(&e, max)
            .unwrap_or_else(|| ApiError::BadRequest(format!("multipart: {}", e.body_text())))
    }

    pub fn from_query(rej: QueryRejection) -> Self {
        ApiError::BadRequest(rej.body_text())
    }
}
