//! Request and response bodies of the API (docs/api.md), with their OpenAPI schemas.
//! Requests are strict: unknown fields are errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// `GET /api/v1/exercises` item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExerciseSummary {
    pub id: String,
    pub title: String,
    pub runtime: String,
    /// `files` (JSON overrides of starter files) or `archive` (a ZIP, multipart).
    pub submission: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExerciseList {
    pub exercises: Vec<ExerciseSummary>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StarterFileBody {
    pub path: String,
    /// Largest content a submission may send for this path.
    pub max_bytes: u64,
    pub content: String,
}

/// `GET /api/v1/exercises/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExerciseDetail {
    pub id: String,
    pub title: String,
    pub runtime: String,
    pub submission: String,
    /// The package version (content hash) new submissions are graded against.
    pub version: String,
    pub starter_files: Vec<StarterFileBody>,
}

/// `POST /api/v1/submissions` as JSON (exercises with `submission: files`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJson {
    /// Exercise id.
    pub exercise: String,
    /// Overrides of starter files: path -> content.
    pub files: BTreeMap<String, String>,
    /// 1-32 characters: letters, digits, space, `_`, `-`, `.`, starting and ending with a
    /// letter or digit; not a reserved name (admin, root, system, ...).
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[A-Za-z0-9]([A-Za-z0-9 _.-]{0,30}[A-Za-z0-9])?$"
    )]
    pub display_name: String,
}

/// `POST /api/v1/submissions` as `multipart/form-data` (exercises with `submission: archive`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the multipart form only
pub struct SubmitMultipart {
    pub exercise: String,
    /// As in the JSON form.
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[A-Za-z0-9]([A-Za-z0-9 _.-]{0,30}[A-Za-z0-9])?$"
    )]
    pub display_name: String,
    /// The ZIP archive.
    #[schema(value_type = String, format = Binary)]
    pub archive: Vec<u8>,
}

/// `202` answer to a submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub id: String,
    /// Always `queued`.
    pub state: String,
}

/// `GET /api/v1/submissions/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionBody {
    pub id: String,
    pub exercise: String,
    pub display_name: String,
    /// `queued`, `running` or `finished`.
    pub state: String,
    /// The result JSON once finished, else null.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// Unix milliseconds.
    pub created_at: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeaderboardQuery {
    /// Only this exercise.
    pub exercise: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeaderboardRow {
    pub exercise: String,
    pub display_name: String,
    pub score: i64,
    pub submission_id: String,
    /// Unix milliseconds of the submission that set the score (earlier wins ties).
    pub submitted_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Leaderboard {
    pub entries: Vec<LeaderboardRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: String,
    /// Workers that reported in the last 30 s (any process sharing the store).
    pub workers: u64,
    pub queued: u64,
    pub running: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueJob {
    pub id: String,
    pub exercise: String,
    pub display_name: String,
    pub state: String,
    pub attempts: u32,
    pub worker_id: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub cancel_requested: bool,
}

/// `GET /api/v1/admin/queue`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    pub queued: u64,
    pub running: u64,
    /// Whether this process's workers stopped claiming; null without embedded workers.
    pub paused: Option<bool>,
    /// Queued and running jobs, oldest first (at most 500).
    pub jobs: Vec<QueueJob>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CancelBody {
    pub id: String,
    /// `cancelled` (was queued), `requested` (running: its worker stops it), `already_finished`.
    pub outcome: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PauseBody {
    pub paused: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadBody {
    /// Exercise ids now served.
    pub exercises: Vec<String>,
}

/// `POST /api/v1/admin/display-names/{name}/release`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReleaseNameBody {
    pub name: String,
    /// Whether the name belonged to a session; the next session to submit under it
    /// gets it.
    pub released: bool,
}
