//! `gauntlet grade`: grade one submission locally and print the result: Gauntlet's result
//! JSON (docs/results.md), Exercism's `results.json` v3, or JUnit XML.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::TypedValueParser as _;
use clap::Args;
use gauntlet_exercise::{self as exercise, Exercise, Maxima, ResultFormat, SubmissionKind};
use gauntlet_grader::{GradeError, Grader, Submission};

use crate::common::{self, DataDirArg};
use crate::Exit;

#[derive(Args)]
pub struct GradeArgs {
    /// The exercise: a package folder, or the id of a bundled exercise (reverse-words).
    #[arg(long)]
    exercise: PathBuf,
    /// A folder of files laid over the starter (for `submission: files`).
    #[arg(long, group = "submission")]
    files: Option<PathBuf>,
    /// A ZIP laid over the workspace (for `submission: archive`).
    #[arg(long, group = "submission")]
    archive: Option<PathBuf>,
    /// A git repository (https URL) whose commit is the submission; its host must be
    /// in --git-hosts.
    #[arg(long, group = "submission")]
    git: Option<String>,
    /// The branch, tag or full commit hash to grade (with --git; default: the
    /// remote's HEAD).
    #[arg(long = "ref", requires = "git")]
    reference: Option<String>,
    /// How to print the result: `json` (Gauntlet's result JSON), `exercism` (Exercism's
    /// results.json, version 3) or `junit` (JUnit XML).
    #[arg(long, default_value = "json", value_parser = format_parser())]
    format: ResultFormat,
    #[command(flatten)]
    data: DataDirArg,
    #[command(flatten)]
    egress: common::EgressArgs,
    #[command(flatten)]
    isolation: common::IsolationArg,
}

/// clap's parser for `--format`: its own error lists the choices.
pub fn format_parser() -> impl clap::builder::TypedValueParser<Value = ResultFormat> {
    clap::builder::PossibleValuesParser::new(ResultFormat::ALL.map(ResultFormat::as_str))
        .map(|s| s.parse::<ResultFormat>().unwrap_or_default())
}

pub fn run(args: GradeArgs) -> Result<ExitCode, Exit> {
    let dir = common::exercise_dir(&args.exercise)?;
    let grader = common::grader(&args.data, &args.egress, args.isolation)?;
    let ex =
        exercise::load_with(&dir, &grader.load_options(Maxima::default())).map_err(Exit::usage)?;
    let submission = match (&args.files, &args.archive, &args.git) {
        (_, _, Some(url)) => Submission::Git(gauntlet_grader::git::GitSource {
            url: url.clone(),
            reference: args.reference.clone(),
        }),
        (Some(dir), _, _) => {
            if ex.submission != SubmissionKind::Files {
                return Err(Exit::usage(format!(
                    "{} takes an archive: use --archive FILE.zip",
                    ex.id.as_str()
                )));
            }
            Submission::Files(files_from_dir(&ex, dir)?)
        }
        (None, Some(zip), _) => {
            if ex.submission != SubmissionKind::Archive {
                return Err(Exit::usage(format!(
                    "{} takes files: use --files DIR",
                    ex.id.as_str()
                )));
            }
            Submission::Archive(read_archive(&grader, zip)?)
        }
        (None, None, None) => {
            return Err(Exit::usage(
                "give the submission: --files DIR, --archive FILE.zip or --git URL",
            ))
        }
    };
    let result = grade(&grader, &ex, &submission)?;
    let text = match args.format {
        ResultFormat::Json => serde_json::to_string_pretty(&result).map_err(Exit::failed)?,
        ResultFormat::Exercism => {
            serde_json::to_string_pretty(&exercise::export::exercism(&result))
                .map_err(Exit::failed)?
        }
        ResultFormat::Junit => exercise::export::junit(&result, ex.id.as_str()),
    };
    common::print_stdout(text.trim_end())?;
    // A low score is a grade (exit 0); Gauntlet failing to grade is not.
    if result.outcome == exercise::Outcome::InternalError {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Grades and maps the grader's errors to exit codes.
pub fn grade(
    grader: &Grader,
    ex: &Exercise,
    submission: &Submission,
) -> Result<exercise::GradeResult, Exit> {
    let job = gauntlet_grader::local_job_id();
    grader
        .grade(ex, submission, &job, &mut |_| {})
        .map_err(|e| match e {
            GradeError::Rejected(reason) => Exit::usage(reason),
            GradeError::Isolation(reason) => Exit::unsupported(reason),
            other => Exit::failed(other),
        })
}

/// Reads a submission folder: every regular file is an override at its relative path.
/// Links and special files are refused, never followed.
pub fn files_from_dir(ex: &Exercise, dir: &Path) -> Result<exercise::ValidatedFiles, Exit> {
    let mut files = BTreeMap::new();
    collect_files(dir, "", &mut files)?;
    exercise::validate_file_bytes(ex, &files).map_err(Exit::usage)
}

fn collect_files(
    dir: &Path,
    prefix: &str,
    out: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), Exit> {
    let entries = fs::read_dir(dir).map_err(|e| Exit::usage(format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| Exit::usage(format!("{}: {e}", dir.display())))?;
        let name = entry.file_name();
        let name = name.to_str().ok_or_else(|| {
            Exit::usage(format!(
                "{}: file name is not UTF-8",
                entry.path().display()
            ))
        })?;
        let rel = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry
            .file_type()
            .map_err(|e| Exit::usage(format!("{rel}: {e}")))?;
        if kind.is_dir() {
            collect_files(&entry.path(), &rel, out)?;
        } else if kind.is_file() {
            // Cap before reading: the validator refuses anything this large anyway.
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if len > exercise::package::MAX_MAX_BYTES {
                return Err(Exit::usage(format!(
                    "{rel}: {len} bytes is over the {} byte cap",
                    exercise::package::MAX_MAX_BYTES
                )));
            }
            let bytes = fs::read(entry.path()).map_err(|e| Exit::usage(format!("{rel}: {e}")))?;
            out.insert(rel, bytes);
        } else {
            return Err(Exit::usage(format!(
                "{rel}: not a regular file (links are refused)"
            )));
        }
    }
    Ok(())
}

fn read_archive(grader: &Grader, path: &Path) -> Result<Vec<u8>, Exit> {
    let cap = grader.config().archive_limits.max_compressed_bytes;
    let meta =
        fs::symlink_metadata(path).map_err(|e| Exit::usage(format!("{}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(Exit::usage(format!(
            "{}: not a regular file",
            path.display()
        )));
    }
    if meta.len() > cap {
        return Err(Exit::usage(format!(
            "{}: {} bytes is over the {cap} byte archive cap",
            path.display(),
            meta.len()
        )));
    }
    fs::read(path).map_err(|e| Exit::usage(format!("{}: {e}", path.display())))
}
