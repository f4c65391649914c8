//! How far a package's results can be trusted: whether the code under test could
//! write, replace or reach what the grader reads as results. `gauntlet exercises
//! check` says it per package; exercises/README.md ("Results you can trust") explains
//! each case to authors.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use gauntlet_exercise::{Exercise, ResultsFormat, TestSpec};

/// The two answers [`assess`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrustLevel {
    /// The learner's code cannot reach what the grader reads: the results arrive on
    /// the results channel, from a runner that keeps that code out of its own
    /// processes (the bundled runners confine it; a Solidity contract runs on a chain).
    ForgeProof,
    /// The learner's code may be able to write what the grader reads: the score is
    /// only as good as the test command's own care.
    Advisory,
}

impl std::fmt::Display for TrustLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrustLevel::ForgeProof => "forge-proof",
            TrustLevel::Advisory => "advisory",
        })
    }
}

/// A verdict and the one sentence that explains it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Trust {
    pub level: TrustLevel,
    pub reason: String,
}

/// Test files read to tell whether they use the bundled runner, at most.
const MAX_FILES: usize = 200;
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Judges the results of `ex` run by `test` (its own, or its runtime's default).
///
/// Channel results are forge-proof when the package's test files run the learner's
/// code through the bundled runner (they import `.gauntlet/runner/judge.py`, require
/// `judge.js`, or run programs through `confine.py`), or when the runtime's own
/// default command reports them (hardhat). This reads the test files: it cannot prove
/// that a file which also uses the runner never loads the learner's code itself.
pub fn assess(ex: &Exercise, test: &TestSpec) -> Trust {
    let advisory = |reason: String| Trust {
        level: TrustLevel::Advisory,
        reason,
    };
    match &test.results {
        ResultsFormat::Tap => advisory(
            "results are TAP on stdout: whatever shares the test command's stdout can print \
             result lines; use channel:tap"
                .into(),
        ),
        ResultsFormat::Junit(path) => advisory(format!(
            "results are the workspace file {path}: code that can write the workspace can \
             replace it; use channel:junit"
        )),
        ResultsFormat::ExitCode => advisory(
            "the result is the test command's exit code: code running in that process, or \
             able to stop it, sets it; use channel:tap"
                .into(),
        ),
        ResultsFormat::ChannelTap | ResultsFormat::ChannelJunit => channel(ex, test),
    }
}

fn channel(ex: &Exercise, test: &TestSpec) -> Trust {
    if ex.runtime == "hardhat" && ex.test.is_none() {
        return Trust {
            level: TrustLevel::ForgeProof,
            reason: "results come on the results channel from the runtime's Hardhat reporter; \
                     the learner's contracts run on the chain, never in the test process"
                .into(),
        };
    }
    let files = runner_files(ex, test);
    if files.is_empty() {
        return Trust {
            level: TrustLevel::Advisory,
            reason: "results come on the results channel, but no file of tests/ is the test \
                     command's runner: nothing shows that the learner's code stays out of the \
                     process that holds the channel"
                .into(),
        };
    }
    let unconfined: Vec<String> = files
        .iter()
        .filter(|f| !uses_bundled_runner(f))
        .map(|f| rel(ex, f))
        .collect();
    if let Some(first) = unconfined.first() {
        let more = match unconfined.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Trust {
            level: TrustLevel::Advisory,
            reason: format!(
                "results come on the results channel, but {first}{more} does not use the \
                 bundled runner (.gauntlet/runner: judge.py, judge.js or confine.py): code it \
                 loads or runs in its own process (node --test requiring the module, pytest) \
                 can write to the channel"
            ),
        };
    }
    Trust {
        level: TrustLevel::ForgeProof,
        reason: "results come on the results channel, which only the runner holds; the \
                 learner's code runs through the bundled runner, confined: it cannot reach the \
                 channel, read tests/ or write the workspace"
            .into(),
    }
}

/// The test command's own files in `tests/` (`python3 tests/run.py`, `node --test
/// tests/a.test.js`), or every file of `tests/` when the command names none.
fn runner_files(ex: &Exercise, test: &TestSpec) -> Vec<PathBuf> {
    let tests = ex.dir.join("tests");
    let named: Vec<PathBuf> = test
        .command
        .iter()
        .filter_map(|arg| arg.strip_prefix("tests/"))
        .map(|rest| tests.join(rest))
        .filter(|p| p.is_file())
        .collect();
    if !named.is_empty() {
        return named;
    }
    let mut all = Vec::new();
    collect_files(&tests, &mut all);
    all
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if out.len() >= MAX_FILES {
            return;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect_files(&entry.path(), out),
            Ok(t) if t.is_file() => out.push(entry.path()),
            _ => {}
        }
    }
}

fn uses_bundled_runner(file: &Path) -> bool {
    let mut text = String::new();
    let read = fs::File::open(file)
        .and_then(|f| f.take(MAX_FILE_BYTES).read_to_string(&mut text))
        .is_ok();
    read && text.contains(".gauntlet") && (text.contains("judge") || text.contains("confine.py"))
}

fn rel(ex: &Exercise, file: &Path) -> String {
    file.strip_prefix(&ex.dir)
        .unwrap_or(file)
        .display()
        .to_string()
}
