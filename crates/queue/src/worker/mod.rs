//! The worker engine: claims jobs from the store (woken by its signal, with a slow poll as
//! a fallback), runs up to N at once through a [`JobExecutor`], keeps their leases alive,
//! writes each result with its fencing token, and drains on shutdown.

mod executor;
pub mod runs;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::control::WorkerControl;
use crate::store::{
    internal_error_result, now_ms, AttemptOutcome, ClaimedJob, EventKind, HeldLease, Lease, Store,
    StoreError, SubmissionId, UnixMillis,
};
use crate::KillSwitch;

pub use executor::{ExecError, Job, JobContext, JobExecutor, LogSink};

/// Tunables of one engine. [`EngineConfig::new`] gives production defaults.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Unique per process: hostname, pid and a random suffix by default.
    pub worker_id: String,
    /// Exercise versions (content hashes) this worker can run; it claims nothing else.
    pub exercise_hashes: Vec<String>,
    /// `<data-dir>/runs`: one folder per running job.
    pub runs_dir: PathBuf,
    pub max_concurrency: usize,
    /// How long a claim lasts without renewal.
    pub lease: Duration,
    /// How often running jobs renew their lease and the worker announces itself.
    pub heartbeat: Duration,
    /// Fallback poll when no wake-up signal arrives.
    pub poll_interval: Duration,
    /// How often expired leases, unservable jobs and the runs dir are swept.
    pub sweep_interval: Duration,
    /// A job's limit when the executor gives none.
    pub default_time_limit: Duration,
    /// The watchdog cancels a job at its limit plus this margin.
    pub watchdog_margin: Duration,
    /// After cancelling, how long the executor gets to return before it is abandoned.
    pub cancel_grace: Duration,
    /// Claiming stops while the runs dir's filesystem has less free space than this.
    pub min_free_disk_bytes: u64,
    /// A queued job whose exercise version no live worker holds fails after this long.
    pub version_wait: Duration,
    /// A worker not seen for this long is not live (for the version check above).
    pub worker_ttl: Duration,
    /// Log events kept per job; the rest are dropped and counted.
    pub max_log_events: usize,
    /// After a host failure, how long a job waits before it may be claimed again; each
    /// further failed attempt doubles it (at most a minute).
    pub retry_backoff: Duration,
}

/// Jobs a worker runs at once unless told: one per core.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl EngineConfig {
    pub fn new(runs_dir: PathBuf, exercise_hashes: Vec<String>) -> Self {
        EngineConfig {
            worker_id: default_worker_id(),
            exercise_hashes,
            runs_dir,
            max_concurrency: default_concurrency(),
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            poll_interval: Duration::from_secs(5),
            sweep_interval: Duration::from_secs(15),
            default_time_limit: Duration::from_secs(300),
            watchdog_margin: Duration::from_secs(15),
            cancel_grace: Duration::from_secs(5),
            min_free_disk_bytes: 256 * 1024 * 1024,
            version_wait: Duration::from_secs(120),
            worker_ttl: Duration::from_secs(30),
            max_log_events: 2000,
            retry_backoff: Duration::from_secs(2),
        }
    }
}

fn default_worker_id() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "host".to_owned());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &suffix[..8])
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("max concurrency must be at least 1")]
    NoSlots,
    #[error("cannot prepare the runs dir {path}: {source}")]
    RunsDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why claiming is on hold, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    Claiming,
    Paused,
    LowDisk,
    Draining,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EngineStatus {
    pub worker_id: String,
    pub claim_state: ClaimState,
    pub max_concurrency: usize,
    pub running: Vec<SubmissionId>,
}

/// What [`WorkerEngine::drain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Every running job ended within the grace period.
    pub clean: bool,
    /// Jobs given back to the queue (their attempt not counted).
    pub released: usize,
}

/// Why a running job stopped before its executor returned on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    LeaseLost,
    CancelRequested,
    Watchdog,
    Drain,
}

struct Running {
    cancel: CancellationToken,
    stop: Arc<Mutex<Option<Stop>>>,
}

struct Inner {
    store: Arc<dyn Store>,
    executor: Arc<dyn JobExecutor>,
    config: EngineConfig,
    hashes: RwLock<Vec<String>>,
    slots: Arc<Semaphore>,
    paused: AtomicBool,
    low_disk: AtomicBool,
    /// Bumped on pause, resume and disk changes, to wake the claim loop.
    control: watch::Sender<u64>,
    /// Stop claiming.
    stopping: CancellationToken,
    /// Abort running jobs and release them (drain past its grace).
    abort: CancellationToken,
    /// Jobs this engine runs, by claim: a job requeued behind this engine's back (its
    /// lease expired while it ran) and claimed again here is another claim, in another
    /// folder.
    running: Mutex<HashMap<HeldLease, Running>>,
    tasks: TaskTracker,
    released: AtomicUsize,
}

/// A running worker engine. Dropping it without [`WorkerEngine::drain`] stops claiming
/// and releases running jobs at once.
pub struct WorkerEngine {
    inner: Arc<Inner>,
    loops: TaskTracker,
}

impl WorkerEngine {
    /// Starts claiming. Requires the kill-switch acknowledgement; sweeps the runs dir and
    /// announces the worker and its exercise versions first.
    pub async fn start(
        store: Arc<dyn Store>,
        executor: Arc<dyn JobExecutor>,
        config: EngineConfig,
        _kill_switch: KillSwitch,
    ) -> Result<Self, EngineError> {
        if config.max_concurrency == 0 {
            return Err(EngineError::NoSlots);
        }
        std::fs::create_dir_all(&config.runs_dir).map_err(|source| EngineError::RunsDir {
            path: config.runs_dir.display().to_string(),
            source,
        })?;
        let now = now_ms();
        store
            .register_worker(&config.worker_id, &config.exercise_hashes, now)
            .await?;
        let (control, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            hashes: RwLock::new(config.exercise_hashes.clone()),
            slots: Arc::new(Semaphore::new(config.max_concurrency)),
            store,
            executor,
            paused: AtomicBool::new(false),
            low_disk: AtomicBool::new(false),
            control,
            stopping: CancellationToken::new(),
            abort: CancellationToken::new(),
            running: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            released: AtomicUsize::new(0),
            config,
        });
        inner.sweep_runs_dir().await;
        inner.check_disk();
        let loops = TaskTracker::new();
        let span = tracing::info_span!("worker", worker_id = %inner.config.worker_id);
        loops.spawn(inner.clone().claim_loop().instrument(span.clone()));
        loops.spawn(inner.clone().presence_loop().instrument(span.clone()));
        loops.spawn(inner.clone().sweep_loop().instrument(span));
        loops.close();
        tracing::info!(
            worker_id = %inner.config.worker_id,
            max_concurrency = inner.config.max_concurrency,
            "worker started"
        );
        Ok(WorkerEngine { inner, loops })
    }

    pub fn worker_id(&self) -> &str {
        &self.inner.config.worker_id
    }

    /// Stops claiming new jobs; running ones go on (admin pause).
    pub fn pause(&self) {
        self.inner.paused.store(true, Ordering::SeqCst);
        self.inner.poke();
        tracing::info!("claiming paused");
    }

    pub fn resume(&self) {
        self.inner.paused.store(false, Ordering::SeqCst);
        self.inner.poke();
        tracing::info!("claiming resumed");
    }

    pub fn is_paused(&self) -> bool {
        self.inner.paused.load(Ordering::SeqCst)
    }

    pub fn status(&self) -> EngineStatus {
        let mut running: Vec<SubmissionId> = self
            .inner
            .running
            .lock()
            .unwrap()
            .keys()
            .map(|claim| claim.id.clone())
            .collect();
        running.sort();
        running.dedup();
        EngineStatus {
            worker_id: self.inner.config.worker_id.clone(),
            claim_state: self.inner.claim_state(),
            max_concurrency: self.inner.config.max_concurrency,
            running,
        }
    }

    /// Stops a job this engine is running, at once, with a cancelled result (call after
    /// [`Store::cancel`] answered `Requested`; other workers notice at their next heartbeat).
    pub fn cancel_running(&self, id: &SubmissionId) -> bool {
        let running = self.inner.running.lock().unwrap();
        let mut found = false;
        for (_, job) in running.iter().filter(|(claim, _)| &claim.id == id) {
            job.stop
                .lock()
                .unwrap()
                .get_or_insert(Stop::CancelRequested);
            job.cancel.cancel();
            found = true;
        }
        found
    }

    /// Replaces the exercise versions this worker holds (after an exercise reload).
    pub async fn set_exercise_hashes(&self, hashes: Vec<String>) -> Result<(), StoreError> {
        self.inner
            .store
            .register_worker(&self.inner.config.worker_id, &hashes, now_ms())
            .await?;
        *self.inner.hashes.write().unwrap() = hashes;
        self.inner.poke();
        Ok(())
    }

    /// Graceful shutdown (SIGTERM): stop claiming (at once, when called), let running
    /// jobs finish within `grace`, then cancel the rest and give them back to the queue.
    pub fn drain(self, grace: Duration) -> impl std::future::Future<Output = DrainReport> + Send {
        let inner = self.inner.clone();
        inner.stopping.cancel();
        inner.poke();
        async move {
            self.loops.wait().await;
            inner.tasks.close();
            let clean = tokio::time::timeout(grace, inner.tasks.wait())
                .await
                .is_ok();
            if !clean {
                tracing::warn!(?grace, "drain grace period over; releasing running jobs");
                inner.abort.cancel();
                inner.tasks.wait().await;
            }
            if let Err(e) = inner.store.deregister_worker(&inner.config.worker_id).await {
                tracing::warn!(error = %e, "cannot deregister worker");
            }
            let report = DrainReport {
                clean,
                released: inner.released.load(Ordering::SeqCst),
            };
            tracing::info!(clean, released = report.released, "worker drained");
            drop(self);
            report
        }
    }
}

#[async_trait::async_trait]
impl WorkerControl for WorkerEngine {
    fn pause(&self) {
        WorkerEngine::pause(self)
    }
    fn resume(&self) {
        WorkerEngine::resume(self)
    }
    fn is_paused(&self) -> bool {
        WorkerEngine::is_paused(self)
    }
    fn cancel_running(&self, id: &SubmissionId) -> bool {
        WorkerEngine::cancel_running(self, id)
    }
    async fn exercises_reloaded(&self, hashes: Vec<String>) -> Result<(), String> {
        self.set_exercise_hashes(hashes)
            .await
            .map_err(|e| e.to_string())
    }
}

impl Drop for WorkerEngine {
    fn drop(&mut self) {
        self.inner.stopping.cancel();
        self.inner.abort.cancel();
    }
}

/// Resolves on SIGTERM or Ctrl-C: the moment to call [`WorkerEngine::drain`].
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

impl Inner {
    fn poke(&self) {
        self.control.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn claim_state(&self) -> ClaimState {
        if self.stopping.is_cancelled() {
            ClaimState::Draining
        } else if self.paused.load(Ordering::SeqCst) {
            ClaimState::Paused
        } else if self.low_disk.load(Ordering::SeqCst) {
            ClaimState::LowDisk
        } else {
            ClaimState::Claiming
        }
    }

    fn check_disk(&self) {
        let low = match runs::free_bytes(&self.config.runs_dir) {
            Ok(free) => free < self.config.min_free_disk_bytes,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read free disk space; assuming enough");
                false
            }
        };
        if self.low_disk.swap(low, Ordering::SeqCst) != low {
            if low {
                tracing::warn!(
                    min_free_bytes = self.config.min_free_disk_bytes,
                    "free disk under the threshold; claiming stopped"
                );
            } else {
                tracing::info!("free disk back over the threshold; claiming again");
            }
            self.poke();
        }
    }

    async fn claim_loop(self: Arc<Self>) {
        let mut jobs = self.store.job_signal();
        let mut control = self.control.subscribe();
        let poll = self.config.poll_interval;
        loop {
            if self.stopping.is_cancelled() {
                break;
            }
            if self.claim_state() != ClaimState::Claiming {
                tokio::select! {
                    _ = control.changed() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = self.stopping.cancelled() => break,
                }
                continue;
            }
            let permit = tokio::select! {
                p = self.slots.clone().acquire_owned() => p.expect("semaphore never closed"),
                _ = self.stopping.cancelled() => break,
            };
            // Every free slot claims in the same round trip.
            let mut permits = vec![permit];
            while let Ok(p) = self.slots.clone().try_acquire_owned() {
                permits.push(p);
            }
            jobs.borrow_and_update();
            control.borrow_and_update();
            if self.claim_state() != ClaimState::Claiming {
                continue;
            }
            let hashes = self.hashes.read().unwrap().clone();
            let now = now_ms();
            match self
                .store
                .claim_many(
                    &self.config.worker_id,
                    &hashes,
                    self.config.lease,
                    now,
                    permits.len() as u32,
                )
                .await
            {
                Ok(claimed) if self.claim_state() != ClaimState::Claiming => {
                    // Paused or draining while the claim was in flight: hand the jobs
                    // back, so nothing starts after `pause()` or `drain()` returned.
                    for job in claimed {
                        match self
                            .store
                            .release(&job.id, job.fencing_token, now_ms())
                            .await
                        {
                            Ok(()) => {
                                self.released.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => tracing::warn!(
                                submission_id = %job.id,
                                error = %e,
                                "cannot release job"
                            ),
                        }
                    }
                }
                Ok(claimed) if !claimed.is_empty() => {
                    for (job, permit) in claimed.into_iter().zip(permits.drain(..)) {
                        self.spawn_job(job, now, permit);
                    }
                }
                Ok(_) => {
                    drop(permits);
                    tokio::select! {
                        _ = jobs.changed() => {}
                        _ = control.changed() => {}
                        _ = tokio::time::sleep(poll) => {}
                        _ = self.stopping.cancelled() => break,
                    }
                }
                Err(e) => {
                    drop(permits);
                    tracing::warn!(error = %e, "claim failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = self.stopping.cancelled() => break,
                    }
                }
            }
        }
    }

    fn spawn_job(
        self: &Arc<Self>,
        job: ClaimedJob,
        claimed_at: UnixMillis,
        permit: OwnedSemaphorePermit,
    ) {
        let cancel = CancellationToken::new();
        let stop = Arc::new(Mutex::new(None));
        let claim = HeldLease {
            id: job.id.clone(),
            fencing_token: job.fencing_token,
        };
        // In `running` before its folder exists, out of it only after the folder is gone:
        // the runs-dir sweep relies on that order.
        {
            let mut running = self.running.lock().unwrap();
            if running.contains_key(&claim) {
                // The same claim twice: a claim whose commit the database lost (a crash
                // with asynchronous commits) was made again. The run already here owns
                // the claim and its folder; it finishes or loses its lease as usual.
                tracing::error!(submission_id = %claim.id, token = claim.fencing_token, "claim already running here; not starting it twice");
                return;
            }
            running.insert(
                claim.clone(),
                Running {
                    cancel: cancel.clone(),
                    stop: stop.clone(),
                },
            );
        }
        let span = tracing::info_span!(
            "job",
            submission_id = %job.id,
            exercise_id = %job.exercise_id,
            attempt = job.attempt,
        );
        let inner = self.clone();
        self.tasks.spawn(
            async move {
                inner.run_job(job, claimed_at, cancel, stop).await;
                inner.running.lock().unwrap().remove(&claim);
                drop(permit);
            }
            .instrument(span),
        );
    }

    /// One claimed job, start to end: a folder of its own, its log writer and lease
    /// heartbeat beside it, the executor under the watchdog, then what it came to, and
    /// the folder removed.
    async fn run_job(
        self: &Arc<Self>,
        claimed: ClaimedJob,
        claimed_at: UnixMillis,
        cancel: CancellationToken,
        stop: Arc<Mutex<Option<Stop>>>,
    ) {
        let (id, token, attempt) = (claimed.id.clone(), claimed.fencing_token, claimed.attempt);
        tracing::info!(
            wait_ms = claimed_at.saturating_sub(claimed.created_at),
            "job started"
        );
        let job = Job::from_claim(claimed, claimed_at);
        let limit = self
            .executor
            .time_limit(&job)
            .unwrap_or(self.config.default_time_limit)
            + self.config.watchdog_margin;
        let set_stop = stopper(stop.clone(), cancel.clone());
        let companions = self.start_companions(&id, token, set_stop.clone());
        let run_dir = runs::job_dir(&self.config.runs_dir, &id, token);
        let created = create_job_dir(&run_dir).await;
        let outcome = match &created {
            Err(e) => Some(Err(ExecError::Host(format!(
                "cannot create the job's folder {}: {e}",
                run_dir.display()
            )))),
            Ok(()) => {
                let ctx = JobContext {
                    cancel: cancel.clone(),
                    logs: companions.logs.clone(),
                    run_dir: run_dir.clone(),
                };
                self.execute(job, ctx, limit, &set_stop).await
            }
        };
        companions.stop(&self.store, &id).await;
        let why = *stop.lock().unwrap();
        match self.ending(&id, token, why, outcome, limit).await {
            Ending::Result(result) => self.record_result(&id, token, &result).await,
            Ending::HostFailure(reason) => {
                self.record_host_failure(&id, token, attempt, &reason).await
            }
            Ending::Nothing => {}
        }
        // Only a folder this claim created is this claim's to remove.
        if created.is_ok() {
            remove_job_dir(run_dir).await;
        }
    }

    /// Runs the executor until it returns, or until the watchdog, a drain past its
    /// grace or a cancel stops it (then it gets `cancel_grace` to return, or is abandoned).
    async fn execute(
        &self,
        job: Job,
        ctx: JobContext,
        limit: Duration,
        set_stop: &impl Fn(Stop),
    ) -> Option<Result<Value, ExecError>> {
        let cancel = ctx.cancel.clone();
        let exec = self.executor.execute(job, ctx);
        tokio::pin!(exec);
        let grace = self.config.cancel_grace;
        tokio::select! {
            r = &mut exec => Some(r),
            _ = tokio::time::sleep(limit) => {
                tracing::warn!(?limit, "watchdog: job ran past its limit; cancelling");
                set_stop(Stop::Watchdog);
                tokio::time::timeout(grace, &mut exec).await.ok()
            }
            _ = self.abort.cancelled() => {
                set_stop(Stop::Drain);
                tokio::time::timeout(grace, &mut exec).await.ok()
            }
            _ = cancel.cancelled() => tokio::time::timeout(grace, &mut exec).await.ok(),
        }
    }

    /// The job's log writer and lease heartbeat, running beside it.
    fn start_companions(
        &self,
        id: &SubmissionId,
        token: i64,
        set_stop: impl Fn(Stop) + Send + 'static,
    ) -> Companions {
        let (logs, log_rx) = LogSink::new(self.config.max_log_events);
        let logs_done = CancellationToken::new();
        let log_writer = tokio::spawn(
            write_logs(self.store.clone(), id.clone(), log_rx, logs_done.clone()).in_current_span(),
        );
        let heartbeat = tokio::spawn(
            heartbeat(
                self.store.clone(),
                id.clone(),
                token,
                self.config.lease,
                self.config.heartbeat,
                set_stop,
            )
            .in_current_span(),
        );
        Companions {
            logs,
            logs_done,
            log_writer,
            heartbeat,
        }
    }

    /// What the run came to, given why it stopped (if something stopped it).
    async fn ending(
        &self,
        id: &SubmissionId,
        token: i64,
        why: Option<Stop>,
        outcome: Option<Result<Value, ExecError>>,
        limit: Duration,
    ) -> Ending {
        match (why, outcome) {
            (Some(Stop::LeaseLost), _) => {
                tracing::warn!("lease lost; discarding this run's result");
                Ending::Nothing
            }
            (Some(Stop::Drain), _) => {
                match self.store.release(id, token, now_ms()).await {
                    Ok(()) => {
                        self.released.fetch_add(1, Ordering::SeqCst);
                        tracing::info!("job released to the queue (drain)");
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot release job"),
                }
                Ending::Nothing
            }
            (Some(Stop::CancelRequested), _) => Ending::Result(internal_error_result(
                "cancelled: an operator cancelled this submission while it ran",
            )),
            (Some(Stop::Watchdog), _) => Ending::Result(internal_error_result(&format!(
                "watchdog: the job ran past its limit plus margin ({} s) and was cancelled",
                limit.as_secs()
            ))),
            (None, Some(Ok(value))) => Ending::Result(value),
            (None, Some(Err(ExecError::Host(reason)))) => Ending::HostFailure(reason),
            (None, Some(Err(e))) => Ending::Result(internal_error_result(&e.to_string())),
            (None, None) => {
                Ending::Result(internal_error_result("the job stopped without a result"))
            }
        }
    }

    /// Writes the job's one result. Transient store errors are retried; if they last,
    /// the lease expires and the job runs again (attempt+1) rather than losing its
    /// result silently.
    async fn record_result(&self, id: &SubmissionId, token: i64, result: &Value) {
        let outcome = result
            .get("outcome")
            .and_then(|o| o.as_str())
            .unwrap_or("?")
            .to_owned();
        let mut backoff = Duration::from_millis(250);
        loop {
            match self.store.finish(id, token, result, now_ms()).await {
                Ok(()) => tracing::info!(%outcome, "job finished"),
                Err(StoreError::LeaseLost(_)) => {
                    tracing::warn!("late result discarded: the lease moved on (fencing token)")
                }
                Err(e) if backoff <= Duration::from_secs(2) => {
                    tracing::warn!(error = %e, "cannot record result; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
                Err(e) => tracing::error!(
                    error = %e,
                    "cannot record result; the lease will expire and the job retry"
                ),
            }
            break;
        }
    }

    /// The host failed this attempt: the job goes back to the queue after a backoff, or,
    /// on its last attempt, finishes with every attempt's reason. Store errors are
    /// retried like results'; if they last, the lease expires, which comes to the same.
    async fn record_host_failure(
        self: &Arc<Self>,
        id: &SubmissionId,
        token: i64,
        attempt: u32,
        reason: &str,
    ) {
        let delay = retry_delay(self.config.retry_backoff, attempt);
        let mut backoff = Duration::from_millis(250);
        loop {
            let now = now_ms();
            let retry_at = now.saturating_add(delay.as_millis() as i64);
            match self
                .store
                .fail_attempt(id, token, reason, retry_at, now)
                .await
            {
                Ok(AttemptOutcome::Retrying { .. }) => {
                    tracing::warn!(%reason, ?delay, "attempt failed on the host; the job will run again");
                    self.wake_after(delay);
                }
                Ok(AttemptOutcome::GaveUp) => tracing::error!(
                    %reason,
                    "attempt failed on the host, the last allowed; job finished with internal_error"
                ),
                Err(StoreError::LeaseLost(_)) => {
                    tracing::warn!(%reason, "attempt failed on the host after the lease moved on")
                }
                Err(e) if backoff <= Duration::from_secs(2) => {
                    tracing::warn!(error = %e, "cannot record a failed attempt; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
                Err(e) => tracing::error!(
                    error = %e,
                    "cannot record a failed attempt; the lease will expire and the job retry"
                ),
            }
            break;
        }
    }

    /// Wakes the claim loop once `delay` has passed (a job requeued for later is not
    /// announced again when it becomes claimable).
    fn wake_after(self: &Arc<Self>, delay: Duration) {
        let inner = Arc::downgrade(self);
        let stopping = self.stopping.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {
                    if let Some(inner) = inner.upgrade() {
                        inner.poke();
                    }
                }
                _ = stopping.cancelled() => {}
            }
        });
    }

    /// Announces the worker regularly and re-checks free disk space.
    async fn presence_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.stopping.cancelled() => break,
            }
            if let Err(e) = self
                .store
                .touch_worker(&self.config.worker_id, now_ms())
                .await
            {
                tracing::warn!(error = %e, "worker heartbeat failed");
            }
            let check = self.clone();
            let _ = tokio::task::spawn_blocking(move || check.check_disk()).await;
        }
    }

    /// Requeues expired leases, fails jobs no worker can take, sweeps the runs dir.
    async fn sweep_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.sweep_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.stopping.cancelled() => break,
            }
            let now = now_ms();
            match self.store.sweep_expired(now).await {
                Ok(r) => {
                    for id in &r.requeued {
                        tracing::warn!(submission_id = %id, "lease expired; job requeued");
                    }
                    for id in &r.failed {
                        tracing::error!(submission_id = %id, "lease expired on the last attempt; job failed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "sweep of expired leases failed"),
            }
            let created_before = now - self.config.version_wait.as_millis() as i64;
            let seen_since = now - self.config.worker_ttl.as_millis() as i64;
            match self
                .store
                .fail_unservable(created_before, seen_since, now)
                .await
            {
                Ok(failed) => {
                    for id in failed {
                        tracing::error!(submission_id = %id, "no worker holds this exercise version; job failed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "sweep of unservable jobs failed"),
            }
            self.sweep_runs_dir().await;
        }
    }

    /// Removes the entries of the runs dir that no live claim owns. List first, then
    /// learn what is held: a job's folder is created only after its claim committed in the
    /// store and entered `running`, and leaves `running` only after the folder is gone, so
    /// a folder in the listing that belongs to a live job is in one of the two sets read
    /// afterwards. A new claim of the same job makes a folder of another name (its own
    /// token), which no listing made before it can contain.
    async fn sweep_runs_dir(&self) {
        let dir = self.config.runs_dir.clone();
        let names = match tokio::task::spawn_blocking(move || runs::list(&dir)).await {
            Ok(Ok(names)) => names,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot list the runs dir");
                return;
            }
            Err(_) => return,
        };
        if names.is_empty() {
            return;
        }
        let held = match self.store.held_leases(now_ms()).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list held jobs; runs dir not swept");
                return;
            }
        };
        let mut keep: HashSet<HeldLease> = held.into_iter().collect();
        keep.extend(self.running.lock().unwrap().keys().cloned());
        let stale = runs::unowned(names, &keep);
        if stale.is_empty() {
            return;
        }
        let dir = self.config.runs_dir.clone();
        match tokio::task::spawn_blocking(move || runs::remove(&dir, &stale)).await {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(count = removed.len(), "removed leftover job folders")
            }
            _ => {}
        }
    }
}

/// The tasks that run beside a job: its log writer and its lease heartbeat.
struct Companions {
    logs: LogSink,
    logs_done: CancellationToken,
    log_writer: tokio::task::JoinHandle<()>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Companions {
    /// Stops the heartbeat and lets the log writer write what is left (all log lines
    /// are written before the result), noting how many lines were dropped.
    async fn stop(self, store: &Arc<dyn Store>, id: &SubmissionId) {
        self.heartbeat.abort();
        self.logs.close();
        self.logs_done.cancel();
        let dropped = self.logs.dropped();
        drop(self.logs);
        if tokio::time::timeout(Duration::from_secs(10), self.log_writer)
            .await
            .is_err()
        {
            tracing::warn!("log writer did not finish in time");
        }
        if dropped > 0 {
            let note = serde_json::json!({"stream": "gauntlet", "line": format!("{dropped} log lines dropped")});
            let _ = store
                .append_event(id, EventKind::Log, &note, now_ms())
                .await;
        }
    }
}

/// Records why a job is being stopped (the first reason wins) and fires its cancel.
fn stopper(stop: Arc<Mutex<Option<Stop>>>, cancel: CancellationToken) -> impl Fn(Stop) + Clone {
    move |why: Stop| {
        stop.lock().unwrap().get_or_insert(why);
        cancel.cancel();
    }
}

/// Removes a job's folder (see [`runs::remove_job_dir`]).
async fn remove_job_dir(dir: std::path::PathBuf) {
    let path = dir.clone();
    match tokio::task::spawn_blocking(move || runs::remove_job_dir(&path)).await {
        Ok(Err(e)) => {
            tracing::warn!(path = %dir.display(), error = %e, "cannot remove the job's folder")
        }
        Err(e) => tracing::warn!(error = %e, "job folder removal panicked"),
        Ok(Ok(())) => {}
    }
}

/// What a job's run came to, for the store.
enum Ending {
    /// Its one result.
    Result(Value),
    /// The host failed the attempt: retry, or give up after the last one.
    HostFailure(String),
    /// Nothing to write: the lease moved on, or a draining worker gave the job back.
    Nothing,
}

/// The wait before a job whose attempt `attempt` failed on the host may run again.
fn retry_delay(base: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    base.saturating_mul(1 << doublings)
        .min(Duration::from_secs(60))
}

/// Creates the claim's folder (see [`runs::create_job_dir`]).
async fn create_job_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || runs::create_job_dir(&dir))
        .await
        .map_err(std::io::Error::other)?
}

/// Renews the lease until aborted; flags a lost lease or an operator's cancel.
async fn heartbeat(
    store: Arc<dyn Store>,
    id: SubmissionId,
    token: i64,
    lease: Duration,
    every: Duration,
    stop: impl Fn(Stop),
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        match store.renew_lease(&id, token, lease, now_ms()).await {
            Ok(Lease::Renewed {
                cancel_requested: false,
            }) => {}
            Ok(Lease::Renewed {
                cancel_requested: true,
            }) => {
                tracing::info!("cancel requested; stopping the job");
                stop(Stop::CancelRequested);
            }
            Ok(Lease::Lost) => {
                tracing::warn!("lease lost; stopping the job");
                stop(Stop::LeaseLost);
                return;
            }
            Err(e) => tracing::warn!(error = %e, "lease renewal failed; retrying"),
        }
    }
}

/// Log events written per transaction.
const LOG_BATCH: usize = 64;

/// Writes a job's log events in order, in batches of what has arrived, until `done`
/// fires; then drains what is left.
async fn write_logs(
    store: Arc<dyn Store>,
    id: SubmissionId,
    mut rx: mpsc::Receiver<Value>,
    done: CancellationToken,
) {
    let mut batch = Vec::with_capacity(LOG_BATCH);
    loop {
        let data = tokio::select! {
            biased;
            data = rx.recv() => data,
            _ = done.cancelled() => {
                rx.close();
                rx.recv().await
            }
        };
        let Some(data) = data else { break };
        batch.push(data);
        while batch.len() < LOG_BATCH {
            match rx.try_recv() {
                Ok(data) => batch.push(data),
                Err(_) => break,
            }
        }
        if let Err(e) = store
            .append_events(&id, EventKind::Log, &batch, now_ms())
            .await
        {
            tracing::warn!(error = %e, lines = batch.len(), "cannot store log events");
        }
        batch.clear();
    }
}
