//! The grading pipeline: runtimes, prepared layers, per-job workspaces, sandboxed test
//! runs, results and scores. Synchronous; the server calls it from blocking threads.
//!
//! One grade, step by step ([`Grader::grade`]): find the runtime, prepare (or reuse) the
//! exercise's layer, write the submission into a fresh job folder, borrow what the
//! runtime lends (an Anvil chain), run the test command in the sandbox over a
//! copy-on-write workspace (submission over prepared layer), parse the results, score.

#![forbid(unsafe_code)]

mod build;
pub mod deps;
pub mod egress;
pub mod gateway;
pub mod git;
pub mod layer;
pub mod locations;
pub mod log;
pub mod outcome;
mod phase;
pub mod runtimes;
mod tree;
pub mod trust;
pub mod warm;

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

use gauntlet_exercise::{
    self as exercise, Exercise, GradeResult, RelPath, ResultsFormat, TestSpec, ValidatedFiles,
};
use gauntlet_sandbox::{
    self as sandbox, Collect, Control, Isolation, Limits, Network, Overlay, Spec,
};

pub use layer::LayerCache;
pub use log::{LogLine, Source};
pub use runtimes::{Lease, Registry, Runtime, RuntimeError};

use runtimes::hardhat::toolchain::{HardhatToolchain, ToolchainError};
use runtimes::hardhat::Hardhat;

/// Where the workspace sits inside the jail.
pub const WORKSPACE: &str = "/workspace";

/// The flood guard's default: stdout + stderr of a run past this stop it with
/// `output_limit`. Generous, so that a long test report never does (an exercise's
/// `limits.output` sets its own, up to the server's maximum); what the learner reads
/// is the kept log, [`GraderConfig::log_limit`].
pub const DEFAULT_OUTPUT_LIMIT: u64 = 1 << 20;
/// The log kept in a result by default: its first and last lines, this much in all.
pub const DEFAULT_LOG_LIMIT: usize = 64 << 10;

/// How the grader is set up; built once from the server's settings.
#[derive(Debug, Clone)]
pub struct GraderConfig {
    pub data_dir: PathBuf,
    /// Default limits of a run; an exercise's own `limits` override them. Its
    /// `output_limit` is the flood guard ([`DEFAULT_OUTPUT_LIMIT`]).
    pub defaults: Limits,
    /// Cap on what one job may write into its workspace.
    pub workspace_size: u64,
    /// Cap on the grading log kept in the result: its head and its tail, with a
    /// marker for what was cut between.
    pub log_limit: usize,
    /// Values that must never appear in a log (tokens, passwords).
    pub secrets: Vec<String>,
    pub archive_limits: exercise::ArchiveLimits,
    /// Where exercise dependencies come from, and what their installs may reach.
    pub packages: deps::PackageSources,
    /// The hosts git submissions may be fetched from (`GAUNTLET_GIT_HOSTS`); empty
    /// turns git submissions off.
    pub git_hosts: Vec<egress::HostPort>,
    pub git_limits: git::GitLimits,
    /// What runs learner code (the test run, the build step) unless the exercise asks
    /// for more (`GAUNTLET_ISOLATION`, `--isolation`): each grade runs under the stronger
    /// of this and the exercise's `isolation:` ([`Grader::isolation_for`]). Dependency
    /// installs, git fetches and Anvil chains run trusted programs and stay on
    /// namespaces.
    pub isolation: Isolation,
}

impl GraderConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        GraderConfig {
            data_dir,
            defaults: Limits {
                output_limit: DEFAULT_OUTPUT_LIMIT,
                ..Limits::default()
            },
            workspace_size: 64 << 20,
            log_limit: DEFAULT_LOG_LIMIT,
            secrets: Vec::new(),
            archive_limits: exercise::ArchiveLimits::default(),
            packages: deps::PackageSources::default(),
            git_hosts: Vec::new(),
            git_limits: git::GitLimits::default(),
            isolation: Isolation::Namespaces,
        }
    }
}

/// Where the standard runtimes find their toolchains: what [`Grader::standard`] needs
/// beyond the [`GraderConfig`].
#[derive(Debug, Clone)]
pub struct Toolchains {
    /// The pinned toolchain sources shipped with Gauntlet (the repository's
    /// `toolchains/`, holding `hardhat/`).
    pub sources: PathBuf,
    /// Where prepared toolchains live (by default the machine's, see [`locations`]).
    pub prepared: PathBuf,
    /// Anvil chains kept for Solidity grades, started on the first one.
    pub anvil_pool: usize,
}

/// A submission as the grader receives it.
#[derive(Debug, Clone)]
pub enum Submission {
    /// `files` overrides, already validated.
    Files(ValidatedFiles),
    /// A ZIP, validated while it is extracted.
    Archive(Vec<u8>),
    /// A folder of the package itself (its `solution/` or `starter/`), copied into the
    /// job folder and laid over as it is (no submission rules: the author's own files).
    PackageDir(PathBuf),
    /// A commit of a git repository, fetched in a jail (git.rs) and then checked as an
    /// archive is.
    Git(git::GitSource),
}

#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    /// The submission breaks the exercise's rules (CLI exit 2, API 400).
    #[error("{0}")]
    Rejected(String),
    /// The host cannot isolate the run; nothing ran (CLI exit 3).
    #[error("{0}")]
    Isolation(String),
    /// The exercise cannot be graded here (no test command, unknown runtime, …).
    #[error("{0}")]
    Exercise(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Layer(#[from] layer::LayerError),
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    /// A sandbox set-up step failed on the host: nothing the submission did, and the
    /// run never reached its test command. `log` is the run's log so far. [`Grader::grade`]
    /// and [`Grader::grade_in`] answer it with an `internal_error` result; the service's
    /// queue runs the job again instead (see [`GradeError::is_host_fault`]).
    #[error("{reason}")]
    Host { reason: String, log: String },
}

impl GradeError {
    /// The host, not the submission or the exercise, failed the run (a folder, a layer, a
    /// toolchain, a lent resource, isolation, a sandbox set-up step): another attempt,
    /// later or on another worker, may succeed.
    pub fn is_host_fault(&self) -> bool {
        match self {
            GradeError::Host { .. }
            | GradeError::Isolation(_)
            | GradeError::Io { .. }
            | GradeError::Layer(_)
            | GradeError::Toolchain(_) => true,
            GradeError::Runtime(e) => !matches!(e, RuntimeError::Unknown(_)),
            GradeError::Rejected(_) | GradeError::Exercise(_) => false,
        }
    }
}

/// Grades submissions. Cheap to share between threads.
pub struct Grader {
    cfg: GraderConfig,
    registry: Registry,
    layers: LayerCache,
    deps: deps::DepsCache,
    runs: PathBuf,
    hardhat: Option<Arc<Hardhat>>,
    /// Warm jails, when the caller turned them on (the service's workers).
    warm: Option<warm::WarmPool>,
}

impl Grader {
    /// The grader of every command that grades (the CLI's `grade` and `exercises
    /// check`, the service's workers): every runtime this build ships, `shell`,
    /// `python`, `node` and `hardhat` (on the toolchain in `toolchains`, prepared or
    /// not: an unprepared one fails its grades with the command that prepares it).
    ///
    /// Without the toolchain's sources (a binary run away from the tree it was built
    /// from) the other runtimes still grade; `hardhat` exercises get the reason, and
    /// [`Grader::hardhat`] is `None`.
    pub fn standard(cfg: GraderConfig, toolchains: Toolchains) -> Result<Self, GradeError> {
        let sources = toolchains.sources.join("hardhat");
        let toolchain = match HardhatToolchain::new(&sources, &toolchains.prepared) {
            Ok(toolchain) => toolchain,
            Err(e) => {
                let mut registry = Registry::system();
                registry.unavailable("hardhat", e.to_string());
                return Grader::new(cfg, registry);
            }
        };
        let hardhat = Hardhat::new(toolchain, &cfg.data_dir, toolchains.anvil_pool.max(1));
        let mut grader = Grader::new(cfg, Registry::standard(hardhat.clone()))?;
        grader.hardhat = Some(hardhat);
        Ok(grader)
    }

    /// A grader on the runtimes of `registry` only (tests, embedders).
    pub fn new(cfg: GraderConfig, registry: Registry) -> Result<Self, GradeError> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |source| GradeError::Io { what, source }
        };
        let mut cfg = cfg;
        fs::create_dir_all(&cfg.data_dir).map_err(io("create the data dir"))?;
        // The jail mounts layers and job folders by absolute path.
        cfg.data_dir = fs::canonicalize(&cfg.data_dir).map_err(io("resolve the data dir"))?;
        // Traversable but not listable: the jail's set-up must reach the layers and
        // job folders below, nobody needs to list them.
        fs::set_permissions(&cfg.data_dir, fs::Permissions::from_mode(0o711))
            .map_err(io("set the data dir's mode"))?;
        jail_can_reach(&cfg.data_dir).map_err(GradeError::Exercise)?;
        let layers =
            LayerCache::new(cfg.data_dir.join("prepared")).map_err(io("create prepared/"))?;
        // Local grades (the CLI) get folders of their own: the service's worker engine
        // owns `runs/` and sweeps whatever it does not hold.
        let deps = deps::DepsCache::new(cfg.data_dir.join("deps")).map_err(io("create deps/"))?;
        let runs = cfg.data_dir.join("local-runs");
        fs::create_dir_all(&runs).map_err(io("create local-runs/"))?;
        fs::set_permissions(&runs, fs::Permissions::from_mode(0o711))
            .map_err(io("set local-runs/ mode"))?;
        sweep_dead_local_runs(&runs);
        let _ = layers.sweep_staging(STALE_STAGING);
        let _ = deps.sweep_staging(STALE_STAGING);
        Ok(Grader {
            cfg,
            registry,
            layers,
            deps,
            runs,
            hardhat: None,
            warm: None,
        })
    }

    /// The `hardhat` runtime of a [`Grader::standard`] (its toolchain, its Anvil pool).
    pub fn hardhat(&self) -> Option<&Arc<Hardhat>> {
        self.hardhat.as_ref()
    }

    pub fn config(&self) -> &GraderConfig {
        &self.cfg
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn layers(&self) -> &LayerCache {
        &self.layers
    }

    /// The folder under which each local grade gets `<job id>/`.
    pub fn local_runs_dir(&self) -> &Path {
        &self.runs
    }

    /// What packages are loaded against here: `maxima`, and the runtimes this grader
    /// knows (an unknown `runtime:` is refused with its line and the valid choices).
    pub fn load_options(&self, maxima: exercise::Maxima) -> exercise::LoadOptions {
        exercise::LoadOptions {
            maxima,
            runtimes: Some(self.registry.names().map(str::to_owned).collect()),
        }
    }

    /// The test command of an exercise: its own, or its runtime's default.
    pub fn test_spec(&self, ex: &Exercise) -> Result<TestSpec, GradeError> {
        let runtime = self.registry.get(&ex.runtime)?;
        ex.test
            .clone()
            .or_else(|| runtime.default_test())
            .ok_or_else(|| {
                GradeError::Exercise(format!(
                    "{}: no test command, and runtime {} has no default",
                    ex.id.as_str(),
                    ex.runtime
                ))
            })
    }

    /// Paths a submission may never write besides `tests/`: the runtime's own, the
    /// package's hidden ones (the tests read them), and a JUnit results file (a
    /// submission must not bring its own report).
    pub fn protected_paths(&self, ex: &Exercise) -> Result<Vec<RelPath>, GradeError> {
        let mut paths = self
            .registry
            .get(&ex.runtime)?
            .protected_paths()
            .iter()
            .map(|p| {
                RelPath::parse(p).map_err(|e| {
                    GradeError::Exercise(format!(
                        "runtime {}: protected path {p:?}: {e}",
                        ex.runtime
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        paths.extend(ex.hidden.iter().cloned());
        if ex.dependencies.as_ref().is_some_and(|d| d.node.is_some()) {
            // The installed packages, shared by every job: never the submission's.
            paths.push(RelPath::parse("node_modules").expect("a valid path"));
        }
        if let ResultsFormat::Junit(path) = self.test_spec(ex)?.results {
            paths.push(path);
        }
        Ok(paths)
    }

    /// How far the package's results can be trusted, and why (`exercises check` shows
    /// it; exercises/README.md, "Results you can trust", explains it).
    pub fn trust(&self, ex: &Exercise) -> Result<trust::Trust, GradeError> {
        Ok(trust::assess(ex, &self.test_spec(ex)?))
    }

    /// The exercise's dependencies (`dependencies:`), installed on first use and shared
    /// by every exercise with the same lock (deps.rs). Blocks while they install.
    pub fn dependencies(&self, ex: &Exercise) -> Result<deps::Installed, GradeError> {
        self.deps
            .ensure(ex, &self.cfg.packages)
            .map_err(|e| match e.permanent {
                true => GradeError::Exercise(format!("{}: {}", ex.id.as_str(), e.message)),
                // The grade's log says why, then how the install ended.
                false => GradeError::Host {
                    log: format!("[gauntlet] {}\n{}", e.message, e.log),
                    reason: e.message,
                },
            })
    }

    /// Checks a submission against the exercise's rules without grading it; the API
    /// calls this before queueing so a bad submission is a 400, not a failed job.
    /// Returns what extraction would say in the log (a wrapping folder stripped, …).
    pub fn check_archive(&self, ex: &Exercise, zip: &[u8]) -> Result<Vec<String>, GradeError> {
        let scratch = self
            .runs
            .join(format!(".check-{:016x}", rand::random::<u64>()));
        let protected = self.protected_paths(ex)?;
        let result =
            exercise::extract_archive(ex, zip, &scratch, &protected, &self.cfg.archive_limits)
                .map_err(|e| GradeError::Rejected(e.to_string()));
        let _ = fs::remove_dir_all(&scratch);
        result.map(|x| x.notes)
    }

    /// Grades one submission in a job folder of its own under `local-runs/`, removed
    /// afterwards. `job_id` names the folder (unique per job); `on_line` sees every log
    /// line as it is produced.
    pub fn grade(
        &self,
        ex: &Exercise,
        submission: &Submission,
        job_id: &str,
        on_line: &mut dyn FnMut(&LogLine),
    ) -> Result<GradeResult, GradeError> {
        let job = JobDir::create(&self.runs, job_id)?;
        self.grade_in(ex, submission, job.path(), job_id, on_line)
    }

    /// Grades one submission using `job_dir`, an existing empty folder the caller owns
    /// and removes. A sandbox set-up failure is an `internal_error` result here.
    pub fn grade_in(
        &self,
        ex: &Exercise,
        submission: &Submission,
        job_dir: &Path,
        job_id: &str,
        on_line: &mut dyn FnMut(&LogLine),
    ) -> Result<GradeResult, GradeError> {
        match self.grade_controlled(ex, submission, job_dir, job_id, on_line, None) {
            Err(GradeError::Host { log, .. }) => Ok(outcome::internal_error(log)),
            graded => graded,
        }
    }

    /// [`Grader::grade_in`], stoppable from another thread through `control` (an
    /// operator's cancel, a lost lease, a draining worker): `control.kill()` ends the
    /// jail and its whole process tree. A sandbox set-up failure is
    /// [`GradeError::Host`], for the caller to retry or report.
    pub fn grade_controlled(
        &self,
        ex: &Exercise,
        submission: &Submission,
        job_dir: &Path,
        job_id: &str,
        on_line: &mut dyn FnMut(&LogLine),
        control: Option<&Control>,
    ) -> Result<GradeResult, GradeError> {
        let runtime = self.registry.get(&ex.runtime)?.clone();
        let test = self.test_spec(ex)?;
        let layer = self.layers.prepare(ex, runtime.as_ref())?;
        let installed = self.dependencies(ex)?;
        let (upper, overridden, notes, commit) =
            self.lay_submission(ex, submission, job_dir, job_id)?;
        let limits = self.limits_for(ex);
        let isolation = self.isolation_for(ex);
        let mut log = log::LogBuilder::new(
            &self.cfg.secrets,
            self.cfg.log_limit,
            limits.output_limit as usize,
            on_line,
        );
        for note in &notes {
            log.note(note);
        }
        let span =
            tracing::info_span!("sandbox", submission_id = job_id, exercise = ex.id.as_str());
        let mut build_out = None;
        if let Some(spec) = &ex.build {
            let built = span.in_scope(|| {
                build::run(
                    spec,
                    &upper,
                    &ex.dir.join("starter"),
                    job_dir,
                    &limits,
                    isolation,
                    self.cfg.workspace_size,
                    &self.cfg.archive_limits,
                    &installed,
                    &mut log,
                )
            });
            match built {
                Ok(build::Built::Output(dir)) => build_out = Some(dir),
                Ok(build::Built::Failed { why, wall_ms }) => {
                    log.note(&why);
                    let (text, _) = log.finish();
                    return with_commit(Ok(outcome::compile_error(text, wall_ms)), commit);
                }
                Err(e) => {
                    return with_commit(conclude(ex, &test, &limits, Err(e), log, job_id), commit)
                }
            }
        }
        let taken = match may_run_warm(ex, isolation) {
            true => self.take_warm_jail(&test, runtime.as_ref(), &layer, &limits),
            false => None,
        };
        let base = Base {
            layer: &layer,
            installed: &installed,
            build: build_out.as_deref(),
        };
        // This grade takes a worker slot; held jails only ever fill idle ones.
        let _slot = self.warm.as_ref().map(warm::WarmPool::grade_started);
        if let Some(taken) = taken {
            let env = [("RUN_OVERRIDES".to_owned(), overridden.join(","))];
            let job = warm::job_bundle(&env, &upper).map_err(|source| GradeError::Io {
                what: "bundle the submission for a warm jail".into(),
                source,
            })?;
            let ran = span
                .in_scope(|| run_warm(&taken, &job, &limits, &mut log, control))
                .map(|(ran, service_log)| (held_to(isolation, ran), service_log));
            if let Some(pool) = &self.warm {
                pool.count_start(&taken, ran.is_some());
            }
            // `None`: the preamble died before it had the job; grade cold, as if no jail
            // had been there.
            if let Some((ran, service_log)) = ran {
                for line in service_log {
                    log.service(&line);
                }
                let graded = with_commit(conclude(ex, &test, &limits, ran, log, job_id), commit);
                // The next grade's jail starts once this run is over (and has given
                // back what it borrowed): its warm-up never competes with the run.
                self.refill_warm_pool(ex, &test, runtime.as_ref(), &base, &limits);
                return graded;
            }
        }
        let mut lease = match &self.warm {
            // Warm jails may hold what the runtime lends (an Anvil chain): when nothing
            // is free now, one of them gives its own back before this job waits.
            Some(pool) => match runtime.lease_now() {
                Ok(lease) => lease,
                Err(_) => {
                    pool.evict_one(runtime.name());
                    runtime.lease()?
                }
            },
            None => runtime.lease()?,
        };
        let spec = self.run_spec(
            ex,
            &test,
            runtime.as_ref(),
            lease.as_deref(),
            &base,
            ex.build
                .as_ref()
                .is_none_or(|b| b.keep_sources)
                .then_some(upper),
            &overridden,
            &limits,
        );
        let ran = span.in_scope(|| match control {
            Some(control) => sandbox::run_controlled(&spec, &mut log, control),
            None => sandbox::run(&spec, &mut log),
        });
        let ran = held_to(isolation, ran);
        if let Some(lease) = lease.as_mut() {
            for line in lease.service_log() {
                log.service(&line);
            }
        }
        drop(lease);
        let graded = with_commit(conclude(ex, &test, &limits, ran, log, job_id), commit);
        self.refill_warm_pool(ex, &test, runtime.as_ref(), &base, &limits);
        graded
    }

    /// Turns on warm jails for the grades that follow (warm.rs). The service's workers
    /// do; one-off commands (`grade`, `exercises check`) gain nothing from them.
    pub fn enable_warm_pool(&mut self, cfg: warm::WarmConfig) {
        self.warm = Some(warm::WarmPool::new(cfg));
    }

    /// The warm pool, when on (for metrics and shutdown).
    pub fn warm_pool(&self) -> Option<&warm::WarmPool> {
        self.warm.as_ref()
    }

    /// A warm jail for this grade if the pool has one.
    fn take_warm_jail(
        &self,
        test: &TestSpec,
        runtime: &dyn Runtime,
        layer: &Path,
        limits: &Limits,
    ) -> Option<warm::Taken> {
        let pool = self.warm.as_ref()?;
        runtime.preamble(test)?;
        pool.take(&warm_key(layer, limits))
    }

    /// Starts a warm jail for the next grade of this exercise (in the background, at a
    /// lower priority), if the pool has room and the runtime has what it lends free.
    fn refill_warm_pool(
        &self,
        ex: &Exercise,
        test: &TestSpec,
        runtime: &dyn Runtime,
        base: &Base<'_>,
        limits: &Limits,
    ) {
        let warmable = may_run_warm(ex, self.isolation_for(ex));
        let Some(pool) = self.warm.as_ref().filter(|_| warmable) else {
            return;
        };
        let Some(argv) = runtime.preamble(test) else {
            return;
        };
        let key = warm_key(base.layer, limits);
        if !pool.room_for(&key, limits.memory) {
            return;
        }
        match runtime.lease_now() {
            Ok(lease) => {
                let mut spec =
                    self.run_spec(ex, test, runtime, lease.as_deref(), base, None, &[], limits);
                spec.env.retain(|(k, _)| k != "RUN_OVERRIDES");
                spec.argv = argv.iter().map(Into::into).collect();
                spec.warm = Some(sandbox::Warm {
                    max_wait: pool.config().max_wait,
                    preamble_cpu: pool.config().preamble_cpu,
                    // Rootless, the supervisor could not lower it again at delivery.
                    nice: if sandbox::rootless() { 0 } else { 10 },
                });
                if let Err(e) = pool.spawn(key, runtime.name(), spec, lease) {
                    tracing::warn!(error = %e, "could not start a warm jail");
                }
            }
            Err(e) => tracing::debug!(error = %e, "no warm jail: nothing to lend it"),
        }
    }

    /// Writes the submission into `job_dir` (a package folder is copied, a git commit
    /// fetched) and returns the folder to lay over the prepared layer, the paths it
    /// overrides, what extraction has to say in the log (a wrapping folder stripped,
    /// …), and the commit of a git submission.
    fn lay_submission(
        &self,
        ex: &Exercise,
        submission: &Submission,
        job_dir: &Path,
        job_id: &str,
    ) -> Result<Laid, GradeError> {
        // The jail's set-up reaches the submission through this folder.
        fs::set_permissions(job_dir, fs::Permissions::from_mode(0o711)).map_err(|source| {
            GradeError::Io {
                what: format!("set the mode of {}", job_dir.display()),
                source,
            }
        })?;
        Ok(match submission {
            Submission::Files(files) => {
                let dest = job_dir.join("submission");
                exercise::write_files(files, &dest).map_err(|e| GradeError::Io {
                    what: "write the submission".into(),
                    source: io::Error::other(e.to_string()),
                })?;
                let names = files.0.keys().map(|p| p.as_str().to_owned()).collect();
                (dest, names, Vec::new(), None)
            }
            Submission::Archive(zip) => {
                let dest = job_dir.join("submission");
                let protected = self.protected_paths(ex)?;
                let extracted =
                    exercise::extract_archive(ex, zip, &dest, &protected, &self.cfg.archive_limits)
                        .map_err(|e| GradeError::Rejected(e.to_string()))?;
                let names = extracted.files.iter().map(|p| p.as_str().to_owned());
                (dest, names.collect(), extracted.notes, None)
            }
            Submission::PackageDir(dir) => {
                // Copied, not bound in place: the package may sit in a folder the jail's
                // user cannot reach (an author's 0700 home), and a copy is what a learner's
                // submission is too.
                let dest = job_dir.join("submission");
                let copy = || -> io::Result<()> {
                    fs::create_dir(&dest)?;
                    fs::set_permissions(&dest, fs::Permissions::from_mode(0o755))?;
                    tree::copy_tree(dir, &dest)
                };
                copy().map_err(|source| GradeError::Io {
                    what: format!("copy {}", dir.display()),
                    source,
                })?;
                (dest, Vec::new(), Vec::new(), None)
            }
            Submission::Git(source) => return self.lay_git(ex, source, job_dir, job_id),
        })
    }

    /// A git submission: fetched in a jail (git.rs), then laid as the archive or the
    /// starter files its tree holds.
    fn lay_git(
        &self,
        ex: &Exercise,
        source: &git::GitSource,
        job_dir: &Path,
        job_id: &str,
    ) -> Result<Laid, GradeError> {
        let fetched = git::fetch(
            source,
            &self.cfg.git_hosts,
            &self.cfg.git_limits,
            job_id,
            self.cfg.packages.counters.clone(),
        )
        .map_err(|e| match e {
            git::GitError::Refused(why) => GradeError::Rejected(why),
            git::GitError::Host(reason) => GradeError::Host {
                reason,
                log: String::new(),
            },
        })?;
        let as_files = |zip: &[u8]| -> Result<Submission, GradeError> {
            let files = exercise::starter_files_from_archive(ex, zip, &self.cfg.archive_limits)
                .map_err(|e| GradeError::Rejected(format!("git submission refused: {e}")))?;
            let files = exercise::validate_file_bytes(ex, &files)
                .map_err(|e| GradeError::Rejected(format!("git submission refused: {e}")))?;
            Ok(Submission::Files(files))
        };
        let laid = match ex.submission {
            exercise::SubmissionKind::Archive => Submission::Archive(fetched.zip),
            exercise::SubmissionKind::Files => as_files(&fetched.zip)?,
        };
        let (upper, overridden, mut notes, _) = self.lay_submission(ex, &laid, job_dir, job_id)?;
        notes.insert(
            0,
            format!("fetched {} at commit {}", source.url, fetched.commit),
        );
        Ok((upper, overridden, notes, Some(fetched.commit)))
    }

    /// The sandbox run of the test command: the workspace overlay (`upper`, the
    /// submission, over the base), the runtime's binds and environment, the
    /// dependencies, the lease's network, where the results come from, and the
    /// grade's isolation.
    #[allow(clippy::too_many_arguments)]
    fn run_spec(
        &self,
        ex: &Exercise,
        test: &TestSpec,
        runtime: &dyn Runtime,
        lease: Option<&dyn Lease>,
        base: &Base<'_>,
        upper: Option<PathBuf>,
        overridden: &[String],
        limits: &Limits,
    ) -> Spec {
        let mut lowers: Vec<PathBuf> = upper.into_iter().collect();
        lowers.push(base.layer.to_owned());
        lowers.extend(base.installed.lowers());
        let mut ro_binds = runtime.binds();
        ro_binds.extend(base.installed.binds());
        ro_binds.extend(base.build.map(build::bind));
        let mut env = runtime.env();
        env.extend(base.installed.env());
        env.push(("RUN_OVERRIDES".into(), overridden.join(",")));
        env.push(("GAUNTLET_HIDDEN".into(), hidden_inside(ex)));
        let mut network = Network::None;
        if let Some(lease) = lease {
            env.extend(lease.env());
            network = lease.network();
        }
        let mut collect = Vec::new();
        let mut results = None;
        match &test.results {
            ResultsFormat::Junit(path) => collect.push(Collect {
                inside: Path::new(WORKSPACE).join(path.as_str()),
                max_bytes: exercise::results::MAX_JUNIT_BYTES as u64,
            }),
            ResultsFormat::ChannelTap | ResultsFormat::ChannelJunit => {
                let format = if test.results == ResultsFormat::ChannelTap {
                    "tap"
                } else {
                    "junit"
                };
                env.push(("GAUNTLET_RESULTS_FORMAT".into(), format.into()));
                results = Some(exercise::results::MAX_RESULTS_BYTES as u64);
            }
            ResultsFormat::Tap | ResultsFormat::ExitCode => {}
        }
        Spec {
            argv: test.command.iter().map(Into::into).collect(),
            limits: limits.clone(),
            ro_binds,
            rw_binds: runtime.rw_binds(ex),
            overlays: vec![Overlay {
                lowers,
                inside: WORKSPACE.into(),
                size: self.cfg.workspace_size,
            }],
            workdir: WORKSPACE.into(),
            env,
            network,
            collect,
            results,
            warm: None,
            // A warm jail's spec is one too: only ever made for namespaces grades.
            isolation: self.isolation_for(ex),
        }
    }

    /// The run's limits: the server's defaults, overridden by the exercise's own.
    pub fn limits_for(&self, ex: &Exercise) -> Limits {
        limits_over(&self.cfg.defaults, ex)
    }

    /// What runs this exercise's learner code: the stronger of the grader's default
    /// ([`GraderConfig::isolation`]) and the exercise's own minimum (`isolation:`).
    /// Nothing a submission carries can lower it.
    pub fn isolation_for(&self, ex: &Exercise) -> Isolation {
        isolation_over(self.cfg.isolation, ex.isolation)
    }
}

/// `default`, raised to an exercise's `isolation:` (`minimum`) when that is stronger.
pub fn isolation_over(default: Isolation, minimum: exercise::Isolation) -> Isolation {
    let minimum = match minimum {
        exercise::Isolation::Namespaces => Isolation::Namespaces,
        exercise::Isolation::Gvisor => Isolation::Gvisor,
    };
    default.max(minimum)
}

/// Whether a grade of `ex` under `isolation` may take a warm jail (and whether its
/// exercise is warmed for the next one). Not with a build step: its test run is sealed
/// (its own output, maybe no sources). Not under gVisor: warm jails run on namespaces
/// only, so such a grade always starts cold.
fn may_run_warm(ex: &Exercise, isolation: Isolation) -> bool {
    ex.build.is_none() && isolation == Isolation::Namespaces
}

/// Fails closed when a run's report says it had weaker isolation than was asked for: its
/// result is not used, and the grade ends as when the isolation is unavailable. A run
/// under gVisor names the platform gVisor ran it on; a report that claims gVisor without
/// one is not taken at its word either.
fn held_to(
    wanted: Isolation,
    ran: Result<sandbox::Report, sandbox::Error>,
) -> Result<sandbox::Report, sandbox::Error> {
    let report = ran?;
    let had = &report.layers;
    if had.isolation < wanted {
        return Err(sandbox::Error::Unsupported(format!(
            "{wanted} was asked for, but the run had {}",
            had.isolation
        )));
    }
    if wanted == Isolation::Gvisor && had.gvisor_platform.is_none() {
        return Err(sandbox::Error::Unsupported(
            "gvisor was asked for, but the run's report names no gVisor platform".into(),
        ));
    }
    Ok(report)
}

/// A submission laid into its job folder: the folder to lay over the layer, the paths
/// it overrides, notes for the log, and a git submission's commit.
type Laid = (PathBuf, Vec<String>, Vec<String>, Option<String>);

/// Puts the graded commit of a git submission into its result.
fn with_commit(
    graded: Result<GradeResult, GradeError>,
    commit: Option<String>,
) -> Result<GradeResult, GradeError> {
    graded.map(|mut result| {
        result.commit = commit;
        result
    })
}

/// What every job of an exercise version runs over: its prepared layer and its
/// installed dependencies.
struct Base<'a> {
    layer: &'a Path,
    installed: &'a deps::Installed,
    /// The build step's output, for this job only.
    build: Option<&'a Path>,
}

/// Which warm jails can serve a grade: those of the same prepared layer and limits.
fn warm_key(layer: &Path, limits: &Limits) -> warm::WarmKey {
    warm::WarmKey {
        layer: layer.to_owned(),
        limits: limits.clone(),
    }
}

/// Hands a taken warm jail its job and follows it to the end, relaying its output
/// into `log` and a cancel from `control` to the jail. `None` when the preamble was
/// gone before the job reached it (the caller then grades cold).
fn run_warm(
    taken: &warm::Taken,
    job: &[u8],
    limits: &Limits,
    log: &mut log::LogBuilder<'_>,
    control: Option<&Control>,
) -> Option<(Result<sandbox::Report, sandbox::Error>, Vec<String>)> {
    use sandbox::OutputSink;
    let delivered = match taken.control.deliver(job, limits.wall_time) {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "a warm jail did not take its job");
            taken.control.kill();
            false
        }
    };
    loop {
        match taken.rx.recv_timeout(std::time::Duration::from_millis(50)) {
            // What a jail that never had the job printed is not this grade's log.
            Ok(warm::JailMsg::Output(stream, bytes)) if delivered => log.output(stream, &bytes),
            Ok(warm::JailMsg::Output(..)) => {}
            Ok(warm::JailMsg::Done {
                report,
                service_log,
            }) => {
                let undelivered =
                    matches!(report.as_ref(), Ok(r) if r.warm.is_some_and(|w| !w.delivered));
                if !delivered || undelivered {
                    return None;
                }
                return Some((*report, service_log));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if control.is_some_and(Control::kill_requested) {
                    taken.control.kill();
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Some((
                    Err(sandbox::Error::Setup {
                        step: "warm-jail",
                        source: io::Error::other("the warm jail's thread ended without a report"),
                    }),
                    Vec::new(),
                ));
            }
        }
    }
}

/// From the sandbox's answer to the grade: an isolation failure, a host error (for the
/// caller to retry), or the judged result.
fn conclude(
    ex: &Exercise,
    test: &TestSpec,
    limits: &Limits,
    ran: Result<sandbox::Report, sandbox::Error>,
    mut log: log::LogBuilder<'_>,
    job_id: &str,
) -> Result<GradeResult, GradeError> {
    let report = match ran {
        Ok(report) => report,
        Err(sandbox::Error::Unsupported(what)) => {
            return Err(GradeError::Isolation(format!(
                "isolation unavailable: {what}"
            )))
        }
        Err(e) => {
            tracing::error!(submission_id = job_id, error = %e, "sandbox failed");
            log.note(&format!("internal error: {e}"));
            let (log, _) = log.finish();
            return Err(GradeError::Host {
                reason: e.to_string(),
                log,
            });
        }
    };
    tracing::info!(
        submission_id = job_id,
        status = ?report.status,
        wall_ms = report.wall_ms,
        cpu_ms = report.cpu_ms,
        peak_memory_bytes = report.peak_memory_bytes,
        results_bytes = report.results_bytes,
        warm = report.warm.is_some(),
        isolation = report.layers.isolation.name(),
        gvisor_platform = report.layers.gvisor_platform,
        "sandbox report"
    );
    Ok(outcome::judge(ex.scoring, test, limits, report, log))
}

/// `defaults` overridden by the exercise's own limits.
pub fn limits_over(defaults: &Limits, ex: &Exercise) -> Limits {
    let mut l = defaults.clone();
    let own = &ex.limits;
    if let Some(v) = own.wall_time {
        l.wall_time = v;
    }
    if let Some(v) = own.idle_timeout {
        l.idle_timeout = Some(v);
    }
    if let Some(v) = own.cpu_time {
        l.cpu_time = v;
    }
    if let Some(v) = own.memory {
        l.memory = v;
    }
    if let Some(v) = own.pids {
        l.pids = v;
    }
    if let Some(v) = own.output {
        l.output_limit = v;
    }
    l
}

/// `GAUNTLET_HIDDEN`: the absolute paths in the jail the code under test may not
/// read, one a line: `tests/` and the package's `hidden` paths.
fn hidden_inside(ex: &Exercise) -> String {
    let mut paths = vec![format!("{WORKSPACE}/tests")];
    paths.extend(ex.hidden.iter().map(|p| format!("{WORKSPACE}/{p}")));
    paths.join("\n")
}

/// Rootless, jails mount layers, job folders and package folders by path from inside
/// a user namespace where only the jail's own user (the caller) is mapped: every
/// folder on the way must be traversable by that user, or each run would fail at its
/// mount step. Checked once, up front, with a message that says what to change. As
/// root the sandbox hands the jail descriptors it opened itself: any folder is fine,
/// and this returns `Ok` without looking.
pub fn jail_can_reach(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if !sandbox::rootless() {
        return Ok(());
    }
    let (uid, gid) = sandbox::jail_host_ids();
    for ancestor in dir.ancestors() {
        let Ok(meta) = fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.mode();
        let bit = if meta.uid() == uid {
            0o100
        } else if meta.gid() == gid {
            0o010
        } else {
            0o001
        };
        if mode & bit == 0 {
            return Err(format!(
                "{} is not reachable by the sandbox user: {} has mode {:04o} (jails reach \
                 what is below it by path; make it traversable, e.g. chmod o+x, or choose \
                 another folder)",
                dir.display(),
                ancestor.display(),
                mode & 0o7777
            ));
        }
    }
    Ok(())
}

/// Staging folders older than this belong to a preparer that died.
const STALE_STAGING: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Removes local job folders (`local-<pid>-…`) of processes that are gone, and archive
/// check scratch folders past their age: what a killed `gauntlet grade` left behind.
fn sweep_dead_local_runs(runs: &Path) {
    let Ok(entries) = fs::read_dir(runs) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let dead = match name
            .strip_prefix("local-")
            .and_then(|r| r.split('-').next())
        {
            Some(pid) => !Path::new("/proc").join(pid).exists(),
            None => entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_STAGING),
        };
        if dead {
            if let Err(e) = fs::remove_dir_all(entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "could not sweep a leftover job folder");
            }
        }
    }
}

/// A job's folder under `local-runs/`, removed on every path out of the grade.
struct JobDir(PathBuf);

impl JobDir {
    fn create(runs: &Path, job_id: &str) -> Result<Self, GradeError> {
        let valid = !job_id.is_empty()
            && job_id.len() <= 64
            && job_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(GradeError::Exercise(format!("invalid job id {job_id:?}")));
        }
        let path = runs.join(job_id);
        fs::create_dir(&path).map_err(|source| GradeError::Io {
            what: format!("create job folder {}", path.display()),
            source,
        })?;
        Ok(JobDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for JobDir {
    fn drop(&mut self) {
        // std's remove_dir_all does not follow symlinks (CVE-2022-21658 fixed).
        if let Err(e) = fs::remove_dir_all(&self.0) {
            tracing::warn!(path = %self.0.display(), error = %e, "could not remove job folder");
        }
    }
}

/// A unique job id for local grades (the CLI).
pub fn local_job_id() -> String {
    format!(
        "local-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(isolation: exercise::Isolation, build: bool) -> Exercise {
        Exercise {
            id: exercise::ExerciseId::parse("demo").unwrap(),
            title: "Demo".into(),
            runtime: "python".into(),
            submission: exercise::SubmissionKind::Files,
            starter_files: Vec::new(),
            limits: exercise::ExerciseLimits::default(),
            test: None,
            scoring: exercise::Scoring::PerTest,
            hidden: Vec::new(),
            dependencies: None,
            build: build.then(|| exercise::BuildSpec {
                command: vec!["make".into()],
                keep_sources: true,
            }),
            isolation,
            statement: None,
            dir: PathBuf::from("/nonexistent/demo"),
            content_hash: String::new(),
        }
    }

    #[test]
    fn the_stronger_of_the_default_and_the_exercise_minimum_wins() {
        use exercise::Isolation as Minimum;
        for (default, minimum, want) in [
            (
                Isolation::Namespaces,
                Minimum::Namespaces,
                Isolation::Namespaces,
            ),
            (Isolation::Namespaces, Minimum::Gvisor, Isolation::Gvisor),
            // The server may make it stronger than the exercise asks for...
            (Isolation::Gvisor, Minimum::Namespaces, Isolation::Gvisor),
            (Isolation::Gvisor, Minimum::Gvisor, Isolation::Gvisor),
        ] {
            assert_eq!(
                isolation_over(default, minimum),
                want,
                "{default} over {minimum}"
            );
        }
        // ...and every name means the same thing on both sides.
        for minimum in exercise::Isolation::ALL {
            assert_eq!(
                isolation_over(Isolation::Namespaces, minimum).name(),
                minimum.name()
            );
        }
    }

    #[test]
    fn only_namespaces_grades_without_a_build_run_warm() {
        use exercise::Isolation as Minimum;
        let plain = exercise(Minimum::Namespaces, false);
        assert!(may_run_warm(&plain, Isolation::Namespaces));
        assert!(!may_run_warm(&plain, Isolation::Gvisor));
        let built = exercise(Minimum::Namespaces, true);
        assert!(!may_run_warm(&built, Isolation::Namespaces));
        // An exercise that asks for gVisor is graded under it, hence cold.
        let strict = exercise(Minimum::Gvisor, false);
        assert!(!may_run_warm(
            &strict,
            isolation_over(Isolation::Namespaces, strict.isolation)
        ));
    }

    fn report(isolation: Isolation, platform: Option<&'static str>) -> sandbox::Report {
        sandbox::Report {
            status: sandbox::Status::Exited,
            exit_code: Some(0),
            signal: None,
            wall_ms: 1,
            cpu_ms: 1,
            peak_memory_bytes: 0,
            stdout_bytes: 0,
            stderr_bytes: 0,
            truncated: false,
            layers: sandbox::Layers {
                isolation,
                gvisor_platform: platform,
                ..sandbox::Layers::default()
            },
            error: None,
            collected: Vec::new(),
            results: None,
            results_bytes: None,
            warm: None,
        }
    }

    #[test]
    fn a_run_with_weaker_isolation_than_asked_is_refused() {
        let refused = |wanted, report| match held_to(wanted, Ok(report)) {
            Err(sandbox::Error::Unsupported(why)) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(Isolation::Gvisor, report(Isolation::Namespaces, None)),
            "gvisor was asked for, but the run had namespaces"
        );
        assert_eq!(
            refused(Isolation::Gvisor, report(Isolation::Gvisor, None)),
            "gvisor was asked for, but the run's report names no gVisor platform"
        );
        for (wanted, had, platform) in [
            (Isolation::Namespaces, Isolation::Namespaces, None),
            (Isolation::Namespaces, Isolation::Gvisor, Some("ptrace")),
            (Isolation::Gvisor, Isolation::Gvisor, Some("kvm")),
        ] {
            let ran = held_to(wanted, Ok(report(had, platform)));
            assert!(ran.is_ok(), "{wanted} / {had}");
        }
        // The sandbox's own refusal passes through as it is.
        let ran = held_to(
            Isolation::Gvisor,
            Err(sandbox::Error::Unsupported("runsc: not found".into())),
        );
        assert!(matches!(ran, Err(sandbox::Error::Unsupported(w)) if w == "runsc: not found"));
    }
}
