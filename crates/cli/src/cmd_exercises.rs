//! `gauntlet exercises check`: validate packages, then grade each reference solution
//! (must score 100) and each starter (must not), in parallel, and list every problem.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use clap::Subcommand;
use gauntlet_exercise::{self as exercise, Exercise, Maxima, Outcome, SubmissionKind};
use gauntlet_grader::{Grader, Submission};
use indicatif::{ProgressBar, ProgressStyle};

use crate::common::{self, DataDirArg};
use crate::Exit;

#[derive(Subcommand)]
pub enum ExercisesCommand {
    /// Validate packages; the solution must score 100 and the starter must not.
    Check {
        /// Package folders, or folders of packages (default: the bundled exercises).
        dirs: Vec<PathBuf>,
        /// Grades run at once (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        #[command(flatten)]
        data: DataDirArg,
    },
}

pub fn run(cmd: ExercisesCommand) -> Result<ExitCode, Exit> {
    let ExercisesCommand::Check { dirs, jobs, data } = cmd;
    let dirs = if dirs.is_empty() {
        vec![common::bundled("exercises")]
    } else {
        dirs
    };
    let packages = find_packages(&dirs)?;
    if packages.is_empty() {
        return Err(Exit::usage("no exercise packages found (no exercise.yaml)"));
    }
    let grader = common::grader(&data)?;
    let problems = check_all(&grader, &packages, jobs)?;
    print_trust(&grader, &packages);
    if problems.is_empty() {
        eprintln!("{} exercise package(s) OK", packages.len());
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            eprintln!("{p}");
        }
        eprintln!(
            "{} problem(s) in {} package(s)",
            problems.len(),
            packages.len()
        );
        Ok(ExitCode::from(1))
    }
}

/// How far each package's results can be trusted (exercises/README.md, "Results you
/// can trust"): one line per package that loads.
fn print_trust(grader: &Grader, packages: &[PathBuf]) {
    for dir in packages {
        let Ok(ex) = exercise::load(dir, &Maxima::default()) else {
            continue;
        };
        let (Ok(test), Ok(trust)) = (grader.test_spec(&ex), grader.trust(&ex)) else {
            continue;
        };
        eprintln!(
            "{}: results {}: {}: {}",
            ex.id, test.results, trust.level, trust.reason
        );
    }
}

/// A folder with `exercise.yaml` is a package; otherwise its sub-folders that have one are.
pub fn find_packages(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, Exit> {
    let mut out = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            return Err(Exit::usage(format!("{}: not a folder", dir.display())));
        }
        if dir.join("exercise.yaml").exists() {
            out.push(dir.clone());
            continue;
        }
        let entries =
            std::fs::read_dir(dir).map_err(|e| Exit::usage(format!("{}: {e}", dir.display())))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("exercise.yaml").exists())
            .collect();
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Role {
    Solution,
    Starter,
}

/// Loads every package, then grades solution and starter of the valid ones.
fn check_all(
    grader: &Grader,
    packages: &[PathBuf],
    jobs: Option<usize>,
) -> Result<Vec<String>, Exit> {
    let mut problems = Vec::new();
    let mut work: Vec<(Exercise, Role)> = Vec::new();
    for dir in packages {
        match load(grader, dir) {
            Ok(ex) => {
                work.push((ex.clone(), Role::Solution));
                work.push((ex, Role::Starter));
            }
            Err(p) => problems.push(p),
        }
    }
    let bar = ProgressBar::new(work.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} grades {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let jobs = jobs
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(2)
        .max(1);
    let queue = Mutex::new(work.into_iter());
    let found = Mutex::new(Vec::new());
    let fatal = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((ex, role)) = next else { break };
                bar.set_message(ex.id.as_str().to_owned());
                match grade_role(grader, &ex, role) {
                    Ok(Some(problem)) => found
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(problem),
                    Ok(None) => {}
                    Err(exit) => {
                        *fatal.lock().unwrap_or_else(|e| e.into_inner()) = Some(exit);
                        break;
                    }
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    if let Some(exit) = fatal.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(exit);
    }
    let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    found.sort();
    problems.extend(found);
    Ok(problems)
}

fn load(grader: &Grader, dir: &Path) -> Result<Exercise, String> {
    let ex =
        exercise::load(dir, &Maxima::default()).map_err(|e| format!("{}: {e}", dir.display()))?;
    grader
        .test_spec(&ex)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(ex)
}

/// Grades one side of a package; `Ok(Some(problem))` when it is not what it must be.
fn grade_role(grader: &Grader, ex: &Exercise, role: Role) -> Result<Option<String>, Exit> {
    let id = ex.id.as_str();
    let (name, dir) = match role {
        Role::Solution => ("solution", ex.dir.join("solution")),
        Role::Starter => ("starter", ex.dir.join("starter")),
    };
    // The solution must be a submission the rules accept, not just files that work.
    let submission = match (role, ex.submission) {
        (Role::Solution, SubmissionKind::Files) => match crate::cmd_grade::files_from_dir(ex, &dir)
        {
            Ok(files) => Submission::Files(files),
            Err(e) => {
                return Ok(Some(format!(
                    "{id}: {name} is not a valid submission: {}",
                    e.message
                )))
            }
        },
        _ => Submission::PackageDir(dir),
    };
    let result = match crate::cmd_grade::grade(grader, ex, &submission) {
        Ok(r) => r,
        Err(e) if e.code == 3 => return Err(e),
        Err(e) => return Ok(Some(format!("{id}: {name}: {}", e.message))),
    };
    let tail = || {
        let lines: Vec<&str> = result.log.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n    ")
    };
    Ok(match role {
        Role::Solution if result.outcome != Outcome::Passed => Some(format!(
            "{id}: solution scored {} ({:?}), must score 100\n    {}",
            result.score,
            result.outcome,
            tail()
        )),
        Role::Starter if result.score == 100 => {
            Some(format!("{id}: starter scores 100, it must not"))
        }
        Role::Starter if result.outcome == Outcome::InternalError => Some(format!(
            "{id}: starter could not be graded (internal error)\n    {}",
            tail()
        )),
        _ => None,
    })
}
