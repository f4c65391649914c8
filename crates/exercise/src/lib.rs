//! Exercise packages, submission validation and result parsing: pure data and checks.
//! The only I/O is reading a package and writing a validated submission into a fresh directory.
//!
//! INTERFACE NOTE (skeleton): the shapes below are what `crates/grader`, `crates/server`
//! and `crates/cli` code against. Changing a public shape means changing its callers in
//! the same commit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

/// `[a-z0-9][a-z0-9-]{0,63}`; only built by validation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ExerciseId(String);

impl ExerciseId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let _ = s;
        unimplemented!()
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A relative path inside a workspace: `/`-separated, no empty, `.` or `..`
/// segments, no backslash, no NUL; only built by validation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RelPath(String);

impl RelPath {
    pub fn parse(s: &str) -> Result<Self, String> {
        let _ = s;
        unimplemented!()
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionKind {
    Files,
    Archive,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarterFile {
    pub path: RelPath,
    pub max_bytes: u64,
}

/// Optional per-exercise limits; `None` means "the server's default".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExerciseLimits {
    pub wall_time: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub cpu_time: Option<Duration>,
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    pub output: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultsFormat {
    Tap,
    /// A JUnit XML file at this workspace path.
    Junit(RelPath),
    ExitCode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSpec {
    pub command: Vec<String>,
    pub results: ResultsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scoring {
    PerTest,
    AllOrNothing,
}

/// A loaded, validated package.
#[derive(Debug, Clone)]
pub struct Exercise {
    pub id: ExerciseId,
    pub title: String,
    pub runtime: String,
    pub submission: SubmissionKind,
    pub starter_files: Vec<StarterFile>,
    pub limits: ExerciseLimits,
    /// `None` when the runtime supplies the default.
    pub test: Option<TestSpec>,
    pub scoring: Scoring,
    /// The package folder.
    pub dir: PathBuf,
    /// Hex SHA-256 over every file of the package (paths and contents): the version.
    pub content_hash: String,
}

/// Outcome of a graded submission (CONTRACTS §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    Pass,
    Fail,
    Error,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    pub name: String,
    pub status: TestStatus,
    pub message: Option<String>,
}

/// The result JSON of CONTRACTS §4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GradeResult {
    pub outcome: Outcome,
    pub score: u32,
    pub points: u32,
    pub max_points: u32,
    pub tests: Vec<TestResult>,
    pub log: String,
    pub duration_ms: u64,
}

/// Loads and validates one package folder.
pub fn load(dir: &Path) -> Result<Exercise, String> {
    let _ = dir;
    unimplemented!()
}

/// Validated `files` overrides, ready to be written.
#[derive(Debug, Clone)]
pub struct ValidatedFiles(pub BTreeMap<RelPath, Vec<u8>>);

pub fn validate_files(
    exercise: &Exercise,
    files: &BTreeMap<String, String>,
) -> Result<ValidatedFiles, String> {
    let _ = (exercise, files);
    unimplemented!()
}
