//! `gauntlet exercises check`: validate packages, then grade each reference solution
//! (must score 100) and each starter (must not), in parallel; print a table of every
//! package, then each problem with the failing tests and a hint at the usual causes.
//!
//! What is graded is copied (the solution as a submission, the starter folder into the
//! job folder), so a package in a folder the jail's user cannot reach checks all the
//! same.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use gauntlet_exercise::units::{Size, Span};
use gauntlet_exercise::{
    self as exercise, Exercise, GradeResult, Maxima, Outcome, ResultsFormat, SubmissionKind,
    TestSpec, TestStatus,
};
use gauntlet_grader::{Grader, Submission};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Exit;

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Solution,
    Starter,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Solution => "solution",
            Role::Starter => "starter",
        }
    }
}

/// One side of a package, graded (or refused before it ran).
enum Graded {
    Result(GradeResult),
    Refused(String),
}

/// The run limits that apply to a package, for hints: its own (or the defaults), the
/// defaults, and the ceilings.
struct LimitsInfo {
    now: gauntlet_sandbox::Limits,
    default: gauntlet_sandbox::Limits,
    max: Maxima,
}

/// What was found for one package.
struct Package {
    dir: PathBuf,
    /// How far its results can be trusted (exercises/README.md, "Results you can trust").
    trust: Option<gauntlet_grader::trust::Trust>,
    limits: Option<LimitsInfo>,
    /// The loaded exercise and its test command, or why it did not load.
    loaded: Result<(Exercise, TestSpec), String>,
    solution: Option<Graded>,
    starter: Option<Graded>,
    /// Its dependency sets (`dependencies:`), installed before its grades, or why
    /// they did not install; `None` when it declares none.
    deps: Option<Result<gauntlet_grader::deps::Installed, String>>,
}

impl Package {
    fn name(&self) -> String {
        match &self.loaded {
            Ok((ex, _)) => ex.id.as_str().to_owned(),
            Err(_) => self
                .dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.dir.display().to_string()),
        }
    }

    /// The problems that make the check fail, each with its details (indented lines).
    fn problems(&self) -> Vec<String> {
        let (ex, test) = match &self.loaded {
            Ok(x) => x,
            Err(e) => return vec![format!("invalid package: {e}")],
        };
        let mut out = Vec::new();
        if let Some(Err(why)) = &self.deps {
            out.push(format!("dependencies did not install: {why}"));
        }
        match &self.solution {
            Some(Graded::Refused(why)) => out.push(format!("solution could not be graded: {why}")),
            Some(Graded::Result(r)) if r.outcome != Outcome::Passed => {
                let mut p = format!(
                    "solution scored {} ({}), must score 100",
                    r.score, r.outcome
                );
                explain(&mut p, ex, test, self.limits.as_ref(), r);
                out.push(p);
            }
            _ => {}
        }
        match &self.starter {
            Some(Graded::Refused(why)) => out.push(format!("starter could not be graded: {why}")),
            Some(Graded::Result(r)) if r.score == 100 => out.push(format!(
                "starter scored 100 ({}), it must not: leave the work to do (a TODO, a \
                 half-way version) so that some tests fail",
                r.outcome
            )),
            Some(Graded::Result(r)) if r.outcome == Outcome::InternalError => {
                let mut p = "starter could not be graded (internal_error)".to_owned();
                explain(&mut p, ex, test, self.limits.as_ref(), r);
                out.push(p);
            }
            _ => {}
        }
        out
    }

    /// Worth saying, but not a failure.
    fn warnings(&self) -> Vec<String> {
        let solution_passed =
            matches!(&self.solution, Some(Graded::Result(r)) if r.outcome == Outcome::Passed);
        let mut out = Vec::new();
        if let Ok((ex, _)) = &self.loaded {
            if ex.statement.is_none() {
                out.push(
                    "no statement.md: the web app shows learners only the starter files; \
                     say what to do in statement.md (exercises/README.md, \"The statement\")"
                        .to_owned(),
                );
            }
        }
        out.extend(match (&self.loaded, &self.starter) {
            (Ok((ex, test)), Some(Graded::Result(r)))
                if solution_passed && r.outcome == Outcome::CompileError =>
            {
                let mut w = "the starter does not run (compile_error): a learner's first \
                             grade shows no test at all; a starter that loads, with a TODO, \
                             shows which tests are left"
                    .to_owned();
                explain(&mut w, ex, test, self.limits.as_ref(), r);
                Some(w)
            }
            _ => None,
        });
        out
    }
}

/// Appends to `out` the failing tests with their messages, then a hint at the likely
/// cause, then the end of the log when no test said anything.
fn explain(
    out: &mut String,
    ex: &Exercise,
    test: &TestSpec,
    limits: Option<&LimitsInfo>,
    r: &GradeResult,
) {
    const MAX_TESTS: usize = 8;
    const MAX_LINES: usize = 6;
    let failing: Vec<_> = r
        .tests
        .iter()
        .filter(|t| t.status != TestStatus::Pass)
        .collect();
    if !failing.is_empty() {
        let _ = write!(
            out,
            "\n    {} of {} tests did not pass:",
            failing.len(),
            r.tests.len()
        );
    }
    for t in failing.iter().take(MAX_TESTS) {
        let _ = write!(out, "\n      {} {}", status_word(t.status), t.name);
        if let Some(m) = &t.message {
            let lines: Vec<&str> = m.lines().collect();
            for l in lines.iter().take(MAX_LINES) {
                let _ = write!(out, "\n          {l}");
            }
            if lines.len() > MAX_LINES {
                let _ = write!(out, "\n          … {} more lines", lines.len() - MAX_LINES);
            }
        }
    }
    if failing.len() > MAX_TESTS {
        let _ = write!(out, "\n      … and {} more", failing.len() - MAX_TESTS);
    }
    if let Some(h) = hint(ex, test, limits, r) {
        let _ = write!(out, "\n    hint: {h}");
    }
    let said_something = failing.iter().any(|t| t.message.is_some());
    if !said_something {
        let lines: Vec<&str> = r.log.lines().collect();
        if lines.is_empty() {
            out.push_str("\n    the log is empty");
        } else {
            out.push_str("\n    end of the log:");
            for l in &lines[lines.len().saturating_sub(12)..] {
                let _ = write!(out, "\n      {l}");
            }
        }
    }
}

fn status_word(s: TestStatus) -> &'static str {
    match s {
        TestStatus::Pass => "pass ",
        TestStatus::Fail => "FAIL ",
        TestStatus::Error => "ERROR",
        TestStatus::Skip => "skip ",
    }
}

/// The usual causes, recognised from the outcome, the tests and the log.
fn hint(
    ex: &Exercise,
    test: &TestSpec,
    limits: Option<&LimitsInfo>,
    r: &GradeResult,
) -> Option<String> {
    let raise = |key: &str, pick: &dyn Fn(&gauntlet_sandbox::Limits) -> String, max: String| {
        let (now, default) = match limits {
            Some(l) => (pick(&l.now), pick(&l.default)),
            None => ("?".into(), "?".into()),
        };
        format!(
            "raise limits.{key} in exercise.yaml if the solution is right but needs more \
             (now {now}; default {default}, at most {max}), or make the tests lighter"
        )
    };
    let max = |pick: &dyn Fn(&Maxima) -> String| match limits {
        Some(l) => pick(&l.max),
        None => "?".into(),
    };
    let secs = |d: Duration| Span(d).to_string();
    let bytes = |b: u64| Size(b).to_string();
    let log_has = |needles: &[&str]| needles.iter().any(|n| r.log.contains(n));
    let command = test.command.join(" ");
    Some(match r.outcome {
        Outcome::CpuTimeout => format!(
            "the run used up its CPU time: {}",
            raise(
                "cpu_time",
                &|l| secs(l.cpu_time),
                max(&|m| secs(m.cpu_time))
            )
        ),
        Outcome::WallTimeout => format!(
            "the run reached its time limit: {}",
            raise(
                "wall_time",
                &|l| secs(l.wall_time),
                max(&|m| secs(m.wall_time))
            )
        ),
        Outcome::IdleTimeout => format!(
            "nothing was printed for limits.idle_timeout: print a line per test as it \
             finishes (TAP does), or {}",
            raise(
                "idle_timeout",
                &|l| l.idle_timeout.map_or("off".into(), secs),
                max(&|m| secs(m.idle_timeout))
            )
        ),
        Outcome::MemoryLimit => format!(
            "the run reached its memory limit: {}",
            raise("memory", &|l| bytes(l.memory), max(&|m| bytes(m.memory)))
        ),
        Outcome::OutputLimit => format!(
            "the run printed more than limits.output: print less (a test report of a few \
             KiB is plenty), or {}",
            raise(
                "output",
                &|l| bytes(l.output_limit),
                max(&|m| bytes(m.output))
            )
        ),
        Outcome::InternalError => {
            "Gauntlet could not run the tests: the end of the log says why".into()
        }
        _ if log_has(&[
            "can't open file",
            "No such file or directory",
            "Cannot find module",
            "not found",
        ]) && r.tests.iter().all(|t| t.status != TestStatus::Pass) =>
        {
            format!(
                "a file the test command needs is missing (test file missing?): the command \
                 is `{command}`, run in the workspace (starter/ + tests/ + the submission), \
                 so tests are at tests/…"
            )
        }
        Outcome::CompileError if r.log.trim().is_empty() => format!(
            "the test command `{command}` printed nothing and reported no results: does it \
             run at all? `gauntlet grade --exercise {} --files {}` shows the full result",
            ex.dir.display(),
            ex.dir.join("solution").display()
        ),
        Outcome::CompileError => format!(
            "no test results: the code did not load, or the test command (`{command}`) failed \
             before reporting; {}",
            where_results(&test.results)
        ),
        Outcome::Failed
            if r.tests
                .iter()
                .any(|t| t.name == "results" && t.status == TestStatus::Error) =>
        {
            format!(
                "the test command ended cleanly but reported no results: {}",
                where_results(&test.results)
            )
        }
        _ => return None,
    })
}

/// Where the grader looks for results, in the words of `test.results`.
fn where_results(results: &ResultsFormat) -> String {
    match results {
        ResultsFormat::Tap => "`results: tap` reads TAP from stdout (`1..N`, then `ok N - name` / \
                               `not ok N - name` lines): is anything printed there?"
            .into(),
        ResultsFormat::Junit(path) => format!(
            "`results: junit:{path}` reads a JUnit XML file the command writes at {path} in \
             the workspace: was it written?"
        ),
        ResultsFormat::ExitCode => "`results: exit-code` passes when the command exits 0".into(),
        ResultsFormat::ChannelTap => "`results: channel:tap` reads TAP from the results channel \
                                      (fd 3, GAUNTLET_RESULTS_FD): does the runner write there? \
                                      (the bundled runners do, under Gauntlet)"
            .into(),
        ResultsFormat::ChannelJunit => "`results: channel:junit` reads JUnit XML from the results \
                                        channel (fd 3, GAUNTLET_RESULTS_FD): does the runner \
                                        write there? (`node --test --test-reporter=junit \
                                        --test-reporter-destination=/dev/fd/3` does)"
            .into(),
    }
}

/// Loads every package, grades solution and starter of the valid ones, and prints the
/// table and the problems. Returns whether everything passed.
pub fn check(grader: &Grader, dirs: &[PathBuf], jobs: Option<usize>) -> Result<bool, Exit> {
    let mut packages: Vec<Package> = find_packages(dirs)?
        .into_iter()
        .map(|dir| {
            let loaded = load(grader, &dir);
            let limits = loaded.as_ref().ok().map(|(ex, _)| LimitsInfo {
                now: grader.limits_for(ex),
                default: grader.config().defaults.clone(),
                max: Maxima::default(),
            });
            let trust = loaded
                .as_ref()
                .ok()
                .and_then(|(ex, _)| grader.trust(ex).ok());
            Package {
                loaded,
                limits,
                trust,
                dir,
                solution: None,
                starter: None,
                deps: None,
            }
        })
        .collect();
    if packages.is_empty() {
        return Err(Exit::usage("no exercise packages found (no exercise.yaml)"));
    }
    // Installed first, one package at a time: the grades then find them ready, and
    // each set's install time is its own.
    for p in &mut packages {
        if let Ok((ex, _)) = &p.loaded {
            if ex.dependencies.is_some() {
                p.deps = Some(grader.dependencies(ex).map_err(|e| e.to_string()));
            }
        }
    }
    grade_all(grader, &mut packages, jobs)?;

    println!("{}", table(&packages));
    let mut failed = 0;
    for p in &packages {
        let problems = p.problems();
        let warnings = p.warnings();
        let advisory = p
            .trust
            .as_ref()
            .filter(|t| t.level == gauntlet_grader::trust::TrustLevel::Advisory);
        let sets: Vec<String> = match &p.deps {
            Some(Ok(installed)) => installed.sets().map(describe_set).collect(),
            _ => Vec::new(),
        };
        if problems.is_empty() && warnings.is_empty() && advisory.is_none() && sets.is_empty() {
            continue;
        }
        println!();
        println!("{} ({})", p.name(), p.dir.display());
        for set in sets {
            println!("  dependencies: {set}");
        }
        if let Some(t) = advisory {
            println!("  results are advisory: {}", t.reason);
        }
        for w in warnings {
            println!("  warning: {w}");
        }
        if !problems.is_empty() {
            failed += 1;
        }
        for problem in problems {
            println!("  {problem}");
        }
    }
    let n = packages.len();
    let word = |n: usize| if n == 1 { "package" } else { "packages" };
    if failed == 0 {
        eprintln!("checked {n} {}: all OK", word(n));
    } else {
        eprintln!(
            "checked {n} {}: {failed} failed, {} OK",
            word(n),
            n - failed
        );
    }
    Ok(failed == 0)
}

/// One line on an installed dependency set: its size, and its install time.
fn describe_set(set: &gauntlet_grader::deps::InstalledSet) -> String {
    let i = &set.info;
    format!(
        "{} {}, {} files, installed in {}{}",
        i.kind.as_str(),
        gauntlet_grader::log::approx_size(i.bytes),
        i.files,
        format_time(Duration::from_millis(i.install_ms)),
        if i.fresh {
            ""
        } else {
            " (already installed here)"
        }
    )
}

fn load(grader: &Grader, dir: &Path) -> Result<(Exercise, TestSpec), String> {
    let ex = exercise::load_with(dir, &grader.load_options(Maxima::default()))
        .map_err(|e| e.to_string())?;
    let test = grader.test_spec(&ex).map_err(|e| e.to_string())?;
    Ok((ex, test))
}

/// Grades solution and starter of every loaded package, `jobs` at a time.
fn grade_all(grader: &Grader, packages: &mut [Package], jobs: Option<usize>) -> Result<(), Exit> {
    let mut work: Vec<(usize, Role)> = Vec::new();
    for (i, p) in packages.iter().enumerate() {
        if p.loaded.is_ok() {
            work.push((i, Role::Solution));
            work.push((i, Role::Starter));
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
    let done = Mutex::new(Vec::new());
    let fatal = Mutex::new(None);
    let exercises: Vec<Option<&Exercise>> = packages
        .iter()
        .map(|p| p.loaded.as_ref().ok().map(|(ex, _)| ex))
        .collect();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                if fatal.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                    break;
                }
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((i, role)) = next else { break };
                let Some(ex) = exercises[i] else { continue };
                bar.set_message(format!("{} {}", ex.id, role.name()));
                match grade_role(grader, ex, role) {
                    Ok(graded) => done
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, role, graded)),
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
    for (i, role, graded) in done.into_inner().unwrap_or_else(|e| e.into_inner()) {
        match role {
            Role::Solution => packages[i].solution = Some(graded),
            Role::Starter => packages[i].starter = Some(graded),
        }
    }
    Ok(())
}

/// Grades one side of a package. `Err` only when the host cannot isolate the run (exit 3).
fn grade_role(grader: &Grader, ex: &Exercise, role: Role) -> Result<Graded, Exit> {
    let dir = ex.dir.join(role.name());
    // The solution must be a submission the rules accept, not just files that work.
    let submission = match (role, ex.submission) {
        (Role::Solution, SubmissionKind::Files) => {
            match crate::cmd_grade::files_from_dir(ex, &dir) {
                Ok(files) => Submission::Files(files),
                Err(e) => {
                    return Ok(Graded::Refused(format!(
                        "not a valid submission: {}",
                        e.message
                    )))
                }
            }
        }
        _ => Submission::PackageDir(dir),
    };
    match crate::cmd_grade::grade(grader, ex, &submission) {
        Ok(r) => Ok(Graded::Result(r)),
        Err(e) if e.code == 3 => Err(e),
        Err(e) => Ok(Graded::Refused(e.message)),
    }
}

/// The table: one row per package.
fn table(packages: &[Package]) -> String {
    let header = [
        "PACKAGE", "RUNTIME", "RESULTS", "SOLUTION", "STARTER", "TIME", "CHECK",
    ];
    let mut rows: Vec<[String; 7]> = Vec::new();
    for p in packages {
        let runtime = match &p.loaded {
            Ok((ex, _)) => ex.runtime.clone(),
            Err(_) => "-".into(),
        };
        let side = |g: &Option<Graded>| match g {
            None => "-".to_owned(),
            Some(Graded::Refused(_)) => "refused".to_owned(),
            Some(Graded::Result(r)) => format!("{:>3} {}", r.score, r.outcome),
        };
        let ms: u64 = [&p.solution, &p.starter]
            .iter()
            .filter_map(|g| match g {
                Some(Graded::Result(r)) => Some(r.duration_ms),
                _ => None,
            })
            .sum();
        let time = if p.solution.is_some() {
            format_time(Duration::from_millis(ms))
        } else {
            "-".into()
        };
        let problems = p.problems().len();
        let verdict = match problems {
            0 => "ok".to_owned(),
            1 => "FAILED (1 problem)".to_owned(),
            n => format!("FAILED ({n} problems)"),
        };
        let results = p
            .trust
            .as_ref()
            .map_or_else(|| "-".to_owned(), |t| t.level.to_string());
        rows.push([
            p.name(),
            runtime,
            results,
            side(&p.solution),
            side(&p.starter),
            time,
            verdict,
        ]);
    }
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = line(&header.map(str::to_owned));
    for row in &rows {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

fn format_time(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
