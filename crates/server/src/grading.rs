//! The grading pipeline inside the service: the [`JobExecutor`] the worker engine runs
//! (the grader on a blocking thread, live log lines to the event stream, cancellation
//! down to the jail) and the [`SubmissionGate`] the API checks submissions with.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gauntlet_exercise::{Exercise, SubmissionKind};
use gauntlet_grader::{GradeError, Grader, LogLine, Source, Submission};
use gauntlet_sandbox::Control;
use serde_json::Value;

use crate::catalog::{Catalog, SubmissionGate};
use gauntlet_queue::worker::{ExecError, Job, JobContext, JobExecutor};

/// Time a job may spend beyond its own wall-time limit: waiting for a chain, preparing
/// a layer, parsing. The engine's watchdog adds its own margin on top.
const SETUP_ALLOWANCE: Duration = Duration::from_secs(90);

/// Checks submissions and exercises against what the grader knows.
pub struct GraderGate {
    pub grader: Arc<Grader>,
    /// The toolchains of this process's workers, when it has workers: an exercise whose
    /// toolchain is not ready is unavailable. An API-only process cannot see its
    /// workers' toolchains and leaves this out.
    pub toolchains: Option<Arc<crate::toolchains::Toolchains>>,
}

impl SubmissionGate for GraderGate {
    fn check_exercise(&self, exercise: &Exercise) -> Result<(), String> {
        self.grader
            .test_spec(exercise)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn limits(&self, exercise: &Exercise) -> gauntlet_sandbox::Limits {
        self.grader.limits_for(exercise)
    }

    fn check_archive(&self, exercise: &Exercise, zip: &[u8]) -> Result<(), String> {
        self.grader
            .check_archive(exercise, zip)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn check_git(&self, url: &str, reference: Option<&str>) -> Result<(), String> {
        gauntlet_grader::git::check_url(url, &self.grader.config().git_hosts)?;
        reference.map_or(Ok(()), gauntlet_grader::git::check_ref)
    }

    fn runtimes(&self) -> Option<Vec<String>> {
        Some(self.grader.registry().names().map(str::to_owned).collect())
    }

    fn unavailable(&self, exercise: &Exercise) -> Option<crate::toolchains::Unavailable> {
        self.toolchains.as_ref()?.unavailable(&exercise.runtime)
    }
}

/// Grades claimed jobs. The service wraps it in [`crate::metrics::Metered`], which
/// records queue wait, busy workers, outcomes and run times.
pub struct GradingExecutor {
    pub grader: Arc<Grader>,
    pub catalog: Arc<Catalog>,
    /// This process's toolchains: a job whose toolchain is being prepared waits for it
    /// (a bounded time) rather than failing.
    pub toolchains: Option<Arc<crate::toolchains::Toolchains>>,
}

/// How long a claimed job waits for its runtime's toolchain to finish preparing; the
/// engine's watchdog allows [`SETUP_ALLOWANCE`] beyond the job's wall time.
const TOOLCHAIN_WAIT: Duration = Duration::from_secs(60);

impl GradingExecutor {
    fn exercise(&self, job: &Job) -> Result<Arc<Exercise>, ExecError> {
        let entry = self.catalog.get(&job.exercise_id).ok_or_else(|| {
            ExecError::Internal(format!("exercise {} is no longer offered", job.exercise_id))
        })?;
        if entry.exercise.content_hash != job.exercise_hash {
            return Err(ExecError::Internal(format!(
                "exercise {} changed since the submission was made",
                job.exercise_id
            )));
        }
        Ok(entry.exercise)
    }
}

impl GradingExecutor {
    async fn wait_for_toolchain(&self, ex: &Exercise, ctx: &JobContext) -> Result<(), ExecError> {
        match &self.toolchains {
            Some(t) => {
                let log = |line: &str| ctx.logs.line("gauntlet", line);
                wait_for_toolchain(t, &ex.runtime, &log, &ctx.cancel, TOOLCHAIN_WAIT).await
            }
            None => Ok(()),
        }
    }
}

/// Waits while `runtime`'s toolchain is being prepared (polling every 250 ms, at most
/// `max`); a toolchain that is missing or broken ends the job with the reason at once.
async fn wait_for_toolchain(
    toolchains: &crate::toolchains::Toolchains,
    runtime: &str,
    log: &(dyn Fn(&str) + Sync),
    cancel: &tokio_util::sync::CancellationToken,
    max: Duration,
) -> Result<(), ExecError> {
    let deadline = tokio::time::Instant::now() + max;
    let mut logged = false;
    loop {
        let Some(u) = toolchains.unavailable(runtime) else {
            return Ok(());
        };
        let preparing = u.retry_after == crate::toolchains::RETRY_WHILE_PREPARING;
        if !preparing || tokio::time::Instant::now() >= deadline {
            return Err(ExecError::Internal(u.reason));
        }
        if !logged {
            log(&format!("waiting: {}", u.reason));
            logged = true;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            () = cancel.cancelled() => return Err(ExecError::Cancelled),
        }
    }
}

/// Decodes a stored payload: a git source ([`GIT_PAYLOAD`]), the JSON file map of a
/// `files` submission (validated again: the payload is data from the store, not
/// trusted), or the ZIP bytes.
fn submission(ex: &Exercise, payload: &[u8]) -> Result<Submission, ExecError> {
    if let Some(json) = payload.strip_prefix(GIT_PAYLOAD) {
        let git: GitPayload = serde_json::from_slice(json)
            .map_err(|e| ExecError::Internal(format!("stored git submission: {e}")))?;
        return Ok(Submission::Git(gauntlet_grader::git::GitSource {
            url: git.url,
            reference: git.reference,
        }));
    }
    match ex.submission {
        SubmissionKind::Files => {
            let files: BTreeMap<String, String> = serde_json::from_slice(payload).map_err(|e| {
                ExecError::Internal(format!("stored submission is not a file map: {e}"))
            })?;
            let files = gauntlet_exercise::validate_files(ex, &files)
                .map_err(|e| ExecError::Internal(format!("stored submission is invalid: {e}")))?;
            Ok(Submission::Files(files))
        }
        SubmissionKind::Archive => Ok(Submission::Archive(payload.to_vec())),
    }
}

/// How a git submission's payload starts: neither a ZIP (`PK`) nor a file map (`{`)
/// can.
pub const GIT_PAYLOAD: &[u8] = b"gauntlet-git:1\n";

/// A git submission as stored, after [`GIT_PAYLOAD`].
#[derive(serde::Serialize, serde::Deserialize)]
pub struct GitPayload {
    pub url: String,
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

fn stream_name(source: Source) -> &'static str {
    match source {
        Source::Out => "stdout",
        Source::Err => "stderr",
        Source::Gauntlet => "gauntlet",
        Source::Service => "service",
    }
}

#[async_trait]
impl JobExecutor for GradingExecutor {
    fn time_limit(&self, job: &Job) -> Option<Duration> {
        let entry = self.catalog.get(&job.exercise_id)?;
        Some(self.grader.limits_for(&entry.exercise).wall_time + SETUP_ALLOWANCE)
    }

    async fn execute(&self, job: Job, ctx: JobContext) -> Result<Value, ExecError> {
        let ex = self.exercise(&job)?;
        self.wait_for_toolchain(&ex, &ctx).await?;
        let sub = submission(&ex, &job.payload)?;
        let from_git = matches!(sub, Submission::Git(_));
        let control = Arc::new(Control::new());
        let grader = self.grader.clone();
        let logs = ctx.logs.clone();
        let run_dir = ctx.run_dir.clone();
        let job_id = job.id.as_str().to_owned();
        let ctl = control.clone();
        let exercise = ex.clone();
        let mut task = tokio::task::spawn_blocking(move || {
            let mut on_line = |line: &LogLine| logs.line(stream_name(line.source), &line.text);
            grader.grade_controlled(&exercise, &sub, &run_dir, &job_id, &mut on_line, Some(&ctl))
        });
        let graded = tokio::select! {
            r = &mut task => r,
            () = ctx.cancel.cancelled() => {
                control.kill();
                let _ = task.await;
                return Err(ExecError::Cancelled);
            }
        };
        let result = match graded {
            Ok(Ok(result)) => result,
            Ok(Err(GradeError::Isolation(reason))) => {
                tracing::error!(submission_id = %job.id, %reason, "isolation unavailable: refusing to grade");
                return Err(ExecError::Host(reason));
            }
            // The host failed the run (a folder, a layer, a sandbox set-up step): the
            // queue tries again, and says why after the last attempt.
            Ok(Err(e)) if e.is_host_fault() => return Err(ExecError::Host(e.to_string())),
            // A repository the rules refuse (a symlink, a submodule, files beyond the
            // starter's, a ref that is not there) is only known once it is fetched: the
            // learner's submission did not build into something gradable.
            Ok(Err(GradeError::Rejected(why))) if from_git => {
                gauntlet_grader::outcome::refused_submission(&why)
            }
            Ok(Err(e)) => return Err(ExecError::Internal(e.to_string())),
            Err(join) => {
                return Err(ExecError::Internal(format!(
                    "grading thread failed: {join}"
                )))
            }
        };
        serde_json::to_value(&result).map_err(|e| ExecError::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU8, Ordering};

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::toolchains::{Toolchain, Toolchains};

    /// 0: not prepared; 1: preparing (until the test says 2); 2: ready; 3: failed.
    struct Fake(Arc<AtomicU8>);

    impl Toolchain for Fake {
        fn runtime(&self) -> &'static str {
            "hardhat"
        }
        fn ready(&self) -> Result<(), String> {
            match self.0.load(Ordering::SeqCst) {
                2 => Ok(()),
                _ => Err("not prepared".into()),
            }
        }
        fn prepare(&self, _: &mut dyn FnMut(&str)) -> Result<(), String> {
            self.0.store(1, Ordering::SeqCst);
            while self.0.load(Ordering::SeqCst) == 1 {
                std::thread::yield_now();
            }
            match self.0.load(Ordering::SeqCst) {
                2 => Ok(()),
                _ => Err("npm ci failed".into()),
            }
        }
    }

    async fn wait(
        t: &Toolchains,
        runtime: &str,
        cancel: &CancellationToken,
    ) -> Result<(), ExecError> {
        wait_for_toolchain(t, runtime, &|_| {}, cancel, Duration::from_secs(30)).await
    }

    #[tokio::test]
    async fn a_job_waits_for_a_toolchain_being_prepared_and_not_for_a_missing_one() {
        // Being prepared, then ready: the job goes on.
        let state = Arc::new(AtomicU8::new(0));
        let t = Toolchains::new(vec![Arc::new(Fake(state.clone()))], true);
        t.ensure(["hardhat"]);
        let waiting = {
            let t = t.clone();
            tokio::spawn(async move { wait(&t, "hardhat", &CancellationToken::new()).await })
        };
        while state.load(Ordering::SeqCst) != 1 {
            tokio::task::yield_now().await;
        }
        state.store(2, Ordering::SeqCst);
        assert!(waiting.await.unwrap().is_ok());

        // Missing, and this process does not prepare: the job ends at once, with why.
        let t = Toolchains::new(vec![Arc::new(Fake(Arc::new(AtomicU8::new(0))))], false);
        let err = wait(&t, "hardhat", &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not prepared"), "{err}");

        // Other runtimes never wait.
        assert!(wait(&t, "python", &CancellationToken::new()).await.is_ok());

        // A cancel stops the wait.
        let state = Arc::new(AtomicU8::new(0));
        let t = Toolchains::new(vec![Arc::new(Fake(state.clone()))], true);
        t.ensure(["hardhat"]);
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = wait(&t, "hardhat", &cancel).await.unwrap_err();
        assert!(matches!(err, ExecError::Cancelled), "{err}");
        state.store(3, Ordering::SeqCst);
    }
}
