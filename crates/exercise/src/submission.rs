//! `files` submissions: JSON overrides of starter files, validated into [`ValidatedFiles`]
//! and written into a fresh directory with exclusive, no-follow creates.
//!
//! Seed 000's rules: only `starter.files` paths, never `tests/`, UTF-8 text, `\r` and NUL
//! stripped, per-file `max_bytes`, a count cap and a total cap.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::fsutil::FreshDir;
use crate::package::{tests_dir, Exercise, SubmissionKind};
use crate::path::{PathError, RelPath};
use crate::units::format_size;

/// Most files in one submission.
pub const MAX_SUBMISSION_FILES: usize = 64;
/// Most bytes in one submission, all files together (after stripping).
pub const MAX_SUBMISSION_BYTES: u64 = 1 << 20;

/// Why a submission was refused, or could not be written. Each message is one line
/// naming the offending path.
#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    #[error("this exercise takes an archive, not files")]
    WrongKind,
    #[error("no files submitted: this exercise takes {expected}")]
    Empty {
        /// The paths a submission may write, listed for the message.
        expected: String,
    },
    #[error("{count} files submitted, more than the {MAX_SUBMISSION_FILES} allowed")]
    TooManyFiles { count: usize },
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("{path}: not a starter file of this exercise")]
    NotAllowed { path: RelPath },
    #[error("{path}: inside tests/, which submissions never write")]
    Protected { path: RelPath },
    #[error("{path}: not valid UTF-8 text")]
    NotUtf8 { path: RelPath },
    #[error("{path}: {len} bytes, more than its max_bytes of {}", format_size(*max))]
    FileTooLarge { path: RelPath, len: u64, max: u64 },
    #[error(
        "{path}: the submission passes the {} total cap here",
        format_size(MAX_SUBMISSION_BYTES)
    )]
    TotalTooLarge { path: RelPath },
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Validated `files` overrides, ready to be written.
#[derive(Debug, Clone)]
pub struct ValidatedFiles(pub BTreeMap<RelPath, Vec<u8>>);

/// Validates JSON overrides (`{"path": "content"}`) against `exercise`.
pub fn validate_files(
    exercise: &Exercise,
    files: &BTreeMap<String, String>,
) -> Result<ValidatedFiles, SubmissionError> {
    validate(
        exercise,
        files.iter().map(|(p, c)| (p, c.as_bytes())),
        files.len(),
    )
}

/// Like [`validate_files`] for raw bytes, such as files read from a folder by the CLI;
/// contents that are not UTF-8 are refused.
pub fn validate_file_bytes(
    exercise: &Exercise,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<ValidatedFiles, SubmissionError> {
    validate(
        exercise,
        files.iter().map(|(p, c)| (p, c.as_slice())),
        files.len(),
    )
}

fn validate<'a>(
    exercise: &Exercise,
    files: impl Iterator<Item = (&'a String, &'a [u8])>,
    count: usize,
) -> Result<ValidatedFiles, SubmissionError> {
    if exercise.submission != SubmissionKind::Files {
        return Err(SubmissionError::WrongKind);
    }
    if count == 0 {
        let paths: Vec<&str> = exercise
            .starter_files
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        return Err(SubmissionError::Empty {
            expected: paths.join(", "),
        });
    }
    if count > MAX_SUBMISSION_FILES {
        return Err(SubmissionError::TooManyFiles { count });
    }
    let tests = tests_dir();
    let mut out = BTreeMap::new();
    let mut total = 0u64;
    for (raw_path, content) in files {
        let path = RelPath::parse(raw_path)?;
        if path.is_within(&tests) {
            return Err(SubmissionError::Protected { path });
        }
        let Some(starter) = exercise.starter_file(&path) else {
            return Err(SubmissionError::NotAllowed { path });
        };
        if std::str::from_utf8(content).is_err() {
            return Err(SubmissionError::NotUtf8 { path });
        }
        let clean: Vec<u8> = content
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != 0)
            .collect();
        let len = clean.len() as u64;
        if len > starter.max_bytes {
            return Err(SubmissionError::FileTooLarge {
                path,
                len,
                max: starter.max_bytes,
            });
        }
        total += len;
        if total > MAX_SUBMISSION_BYTES {
            return Err(SubmissionError::TotalTooLarge { path });
        }
        out.insert(path, clean);
    }
    Ok(ValidatedFiles(out))
}

/// Writes `files` under `dest`, which this call creates (its parent must exist, `dest`
/// must not). Folders are made 0755, files 0644 with `O_CREAT|O_EXCL|O_NOFOLLOW`.
/// On any error `dest` is removed again, so nothing is left half-written.
pub fn write_files(files: &ValidatedFiles, dest: &Path) -> Result<(), SubmissionError> {
    let err = |path: PathBuf| move |source| SubmissionError::Write { path, source };
    let root = FreshDir::create(dest).map_err(err(dest.to_owned()))?;
    for (rel, content) in &files.0 {
        let path = rel.under(dest);
        let mut f = root.create_file(rel).map_err(err(path.clone()))?;
        f.write_all(content).map_err(err(path))?;
    }
    root.keep();
    Ok(())
}
