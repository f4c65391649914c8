//! Exercise packages, submission validation and result parsing: pure data and checks.
//! The only I/O is reading a package and writing a validated submission into a fresh directory.
//!
//! Modules, one error enum each:
//! - [`path`]: [`RelPath`], the only way a submitted path reaches the filesystem.
//! - [`units`]: the one grammar of sizes (`64KiB`, `1G`) and durations (`250ms`, `1.5s`, `30d`).
//! - [`package`]: `exercise.yaml` and the types of a loaded exercise ([`parse_manifest`]).
//! - [`deps`]: the lock files of `dependencies:` ([`check_requirements`], [`check_package_lock`]).
//! - [`folder`]: the package folder: layout checks and version hash ([`load`], [`content_hash`]).
//! - [`submission`]: `files` overrides ([`validate_files`], [`write_files`]).
//! - [`archive`]: `archive` submissions ([`extract_archive`]).
//! - [`results`]: TAP, JUnit XML and exit-code results; the result JSON.
//! - [`export`]: a result as Exercism's `results.json` v3 or JUnit XML.
//! - [`scoring`]: points and score from test results.
//! - [`statement`]: `statement.md`, what a learner reads ([`check_statement`]).

#![forbid(unsafe_code)]

pub mod archive;
pub mod deps;
pub mod export;
pub mod folder;
mod fsutil;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod package;
pub mod path;
pub mod results;
pub mod scoring;
pub mod statement;
pub mod submission;
pub mod units;

pub use archive::{
    extract_archive, extract_build_output, starter_files_from_archive, ArchiveError, ArchiveLimits,
    Extracted,
};
pub use deps::{
    check_package_lock, check_requirements, DepsError, DepsFile, LockSummary, PinnedRequirement,
};
pub use export::{ResultFormat, UnknownFormat};
pub use folder::{content_hash, load, load_with};
pub use package::{
    parse_manifest, parse_manifest_with, BuildSpec, Dependencies, Exercise, ExerciseId,
    ExerciseLimits, IdError, Isolation, LoadError, LoadOptions, Manifest, Maxima, ResultsFormat,
    StarterFile, SubmissionKind, TestSpec,
};
pub use path::{PathError, RelPath};
pub use results::{
    parse_exit_code, parse_junit, parse_tap, GradeResult, Outcome, ResultsError, TestResult,
    TestStatus,
};
pub use scoring::{score, Score, Scoring};
pub use statement::{check_statement, StatementError};
pub use submission::{
    validate_file_bytes, validate_files, write_files, SubmissionError, ValidatedFiles,
};
pub use units::{parse_duration, parse_size, Size, Span, UnitError};
