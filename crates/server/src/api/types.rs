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
    /// Whether a submission can be graded now; false while the runtime's toolchain is
    /// missing or being prepared (submissions are then refused with 503).
    pub available: bool,
    /// Why not, when `available` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub unavailable_reason: Option<String>,
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
    /// As in the list: whether a submission can be graded now.
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub unavailable_reason: Option<String>,
    pub starter_files: Vec<StarterFileBody>,
    /// What the learner reads (the package's `statement.md`); null when it has none.
    pub statement: Option<StatementBody>,
    /// The limits a run of this exercise gets.
    pub limits: LimitsBody,
}

/// An exercise's statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementBody {
    /// The author's CommonMark.
    pub markdown: String,
    /// The same rendered as HTML and sanitised: no raw HTML, script, style or event
    /// attribute; links only to http, https and mailto; images only as data URLs. A page
    /// may insert it as it is.
    pub html: String,
}

/// The limits of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitsBody {
    pub wall_time_ms: u64,
    /// Null when the run has no idle watchdog.
    pub idle_timeout_ms: Option<u64>,
    pub cpu_time_ms: u64,
    /// Memory in bytes, with no swap.
    pub memory_bytes: u64,
    /// Processes and threads at once.
    pub pids: u64,
    /// Bytes of output (stdout and stderr) before the run is stopped.
    pub output_bytes: u64,
}

/// `GET /api/v1/session`: the caller's anonymous session, as its own pages need it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// Send it as `X-CSRF-Token` with every write made from a browser.
    pub csrf_token: String,
    /// The display names this session owns, the one it submitted under last at the end.
    pub display_names: Vec<String>,
    /// The session's best score per exercise id (internal errors do not count).
    pub best_scores: BTreeMap<String, i64>,
}

/// `GET /api/v1/session/submissions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionSubmissions {
    /// Newest first.
    pub submissions: Vec<SessionSubmissionBody>,
}

/// One of the session's own submissions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionSubmissionBody {
    pub id: String,
    pub exercise: String,
    pub display_name: String,
    /// `queued`, `running` or `finished`.
    pub state: String,
    /// The outcome once finished (docs/results.md), else null.
    pub outcome: Option<String>,
    /// The score once finished, else null; null also for an internal error.
    pub score: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Query of `GET /api/v1/session/submissions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionSubmissionsQuery {
    /// Only this exercise's submissions.
    pub exercise: Option<String>,
    /// At most this many (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A git submission: a repository and the commit to grade.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GitSubmission {
    /// `https://host/owner/repo(.git)`; no credentials.
    pub url: String,
    /// A branch, a tag or a full commit hash (default: the remote's HEAD).
    #[serde(rename = "ref", default)]
    pub reference: Option<String>,
}

/// `POST /api/v1/submissions` as JSON: `files` (exercises with `submission: files`),
/// or `git` (any exercise, when the operator allows git hosts).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJson {
    /// Exercise id.
    pub exercise: String,
    /// Overrides of starter files: path -> content. Give `files` or `git`.
    #[serde(default)]
    pub files: Option<BTreeMap<String, String>>,
    /// A git repository whose commit is the submission (its host must be one the
    /// operator allows, `GAUNTLET_GIT_HOSTS`). Give `files` or `git`.
    #[serde(default)]
    pub git: Option<GitSubmission>,
    /// 1-32 characters: letters, digits, space, `_`, `-`, `.`, starting and ending with a
    /// letter or digit; not a reserved name (admin, root, system, ...).
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[A-Za-z0-9]([A-Za-z0-9 _.-]{0,30}[A-Za-z0-9])?$"
    )]
    pub display_name: String,
}

/// The JSON forms of `POST /api/v1/submissions`, for the OpenAPI document: exactly one
/// of `files` and `git` ([`SubmitJson`] is what the handler reads).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the JSON forms only
pub enum SubmitJsonForms {
    Files(SubmitFilesForm),
    Git(SubmitGitForm),
}

/// A `files` submission (exercises with `submission: files`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the JSON form only
pub struct SubmitFilesForm {
    /// Exercise id.
    pub exercise: String,
    /// Overrides of starter files: path -> content.
    pub files: BTreeMap<String, String>,
    /// As in [`SubmitJson`].
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[A-Za-z0-9]([A-Za-z0-9 _.-]{0,30}[A-Za-z0-9])?$"
    )]
    pub display_name: String,
}

/// A `git` submission (any exercise, when the operator allows git hosts).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the JSON form only
pub struct SubmitGitForm {
    /// Exercise id.
    pub exercise: String,
    pub git: GitSubmission,
    /// As in [`SubmitJson`].
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
    /// The result once finished, else null (docs/results.md).
    #[schema(value_type = Option<GradeResultDoc>)]
    pub result: Option<Value>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// `?format=` of `GET /api/v1/submissions/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubmissionQuery {
    /// `json` (default): the submission with its result JSON; `exercism`: the result as
    /// Exercism's results.json v3; `junit`: the result as JUnit XML. The last two exist
    /// once the submission is finished (409 before).
    #[param(pattern = "^(json|exercism|junit)$")]
    pub format: Option<String>,
}

/// The answer of `GET /api/v1/submissions/{id}` as JSON: the submission (`format=json`)
/// or its result as Exercism's results.json v3 (`format=exercism`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the two JSON shapes only
pub enum SubmissionView {
    Submission(SubmissionBody),
    Exercism(ExercismDoc),
}

/// A graded submission's result (docs/results.md).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)] // documents the stored result JSON only
pub struct GradeResultDoc {
    pub outcome: OutcomeDoc,
    /// `⌊100 × points / max_points⌋` (per-test) or 0/100 (all-or-nothing); 100 only when
    /// every test passed.
    #[schema(minimum = 0, maximum = 100)]
    pub score: u32,
    /// Passed tests (per-test), or all of them or none (all-or-nothing).
    pub points: u32,
    /// Every test in `tests`, Gauntlet's own `limits`, `results` and `test run` included.
    pub max_points: u32,
    /// In the order the run reported them, then Gauntlet's own.
    pub tests: Vec<TestResultDoc>,
    /// What the learner sees: the run's output, prefixed per stream, with Gauntlet's
    /// notes; secrets redacted; capped.
    pub log: String,
    /// Wall time of the test run, in milliseconds.
    pub duration_ms: u64,
    /// Only on an `internal_error` the service wrote itself (a cancel, a job out of
    /// attempts): why.
    #[schema(nullable = false)]
    pub reason: Option<String>,
    /// Only for a git submission: the full hash of the commit graded.
    #[schema(nullable = false)]
    pub commit: Option<String>,
}

/// The outcome of a graded submission (docs/results.md gives each one's message).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OutcomeDoc {
    Passed,
    Failed,
    CompileError,
    WallTimeout,
    IdleTimeout,
    CpuTimeout,
    MemoryLimit,
    OutputLimit,
    InternalError,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TestResultDoc {
    /// Shown to the learner; at most 200 characters.
    pub name: String,
    pub status: TestStatusDoc,
    /// Why it did not pass (at most 4000 characters), or null.
    #[schema(required = true)]
    pub message: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TestStatusDoc {
    Pass,
    Fail,
    Error,
    Skip,
}

/// Exercism's test-runner `results.json`, version 3.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ExercismDoc {
    /// Always 3.
    #[schema(minimum = 3, maximum = 3)]
    pub version: u32,
    pub status: ExercismStatusDoc,
    /// Why no test ran, when `status` is `error`; null otherwise.
    #[schema(required = true)]
    pub message: Option<String>,
    /// Left out when no test ran.
    #[schema(nullable = false)]
    pub tests: Option<Vec<ExercismTestDoc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ExercismStatusDoc {
    Pass,
    Fail,
    Error,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ExercismTestDoc {
    pub name: String,
    pub status: ExercismStatusDoc,
    #[schema(nullable = false)]
    pub message: Option<String>,
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
