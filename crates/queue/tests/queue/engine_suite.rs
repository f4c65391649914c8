//! The worker engine on each back end, with a fake executor whose behaviour each job's
//! payload chooses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gauntlet_queue::store::{
    now_ms, CancelOutcome, EventKind, Store, SubmissionId, SubmissionState,
};
use gauntlet_queue::worker::{ClaimState, ExecError, Job, JobContext, JobExecutor};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::fixture::{eventually, new_submission, start_engine, test_config, Fixture};

const H1: &str = "hash-v1";
const WAIT: Duration = Duration::from_secs(30);

/// Payload `{"do": ...}`: `pass` (with optional `logs: n`), `hang` (until cancelled),
/// `gate` (until the test opens the gate, ignoring cancel), `host` (the host fails every
/// attempt), `host-once` (the first attempt only), `careful` (works in its folder for a
/// while, checking that it stays there), `fail` (the submission's fault).
#[derive(Default)]
struct Fake {
    runs: Mutex<Vec<(SubmissionId, u32)>>,
    gate: Notify,
    time_limit: Option<Duration>,
}

impl Fake {
    fn runs_of(&self, id: &SubmissionId) -> usize {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| r == id)
            .count()
    }
}

#[async_trait]
impl JobExecutor for Fake {
    fn time_limit(&self, _job: &Job) -> Option<Duration> {
        self.time_limit
    }

    async fn execute(&self, job: Job, ctx: JobContext) -> Result<Value, ExecError> {
        self.runs
            .lock()
            .unwrap()
            .push((job.id.clone(), job.attempt));
        assert!(ctx.run_dir.is_dir(), "run dir exists during the run");
        std::fs::write(ctx.run_dir.join("scratch"), b"x").unwrap();
        let payload: Value = serde_json::from_slice(&job.payload).unwrap();
        match payload["do"].as_str().unwrap_or("pass") {
            "pass" => {
                for i in 0..payload["logs"].as_u64().unwrap_or(0) {
                    ctx.logs.line("test", &format!("line {i}"));
                }
                Ok(
                    json!({"outcome": "passed", "score": 100, "points": 1, "max_points": 1,
                          "tests": [], "log": "", "duration_ms": 1, "attempt": job.attempt}),
                )
            }
            "hang" => {
                ctx.cancel.cancelled().await;
                Err(ExecError::Cancelled)
            }
            "gate" => {
                self.gate.notified().await;
                Ok(json!({"outcome": "passed", "score": 100, "late": true}))
            }
            "host" => Err(ExecError::Host(format!(
                "the host fell over on attempt {}",
                job.attempt
            ))),
            "host-once" if job.attempt == 1 => {
                Err(ExecError::Host("layer preparation failed".into()))
            }
            "host-once" => Ok(json!({"outcome": "passed", "score": 100, "attempt": job.attempt})),
            "careful" => {
                for step in 0..20 {
                    std::fs::write(ctx.run_dir.join(format!("step-{step}")), b"x").map_err(
                        |e| ExecError::Internal(format!("the job's folder vanished: {e}")),
                    )?;
                    tokio::task::yield_now().await;
                }
                Ok(json!({"outcome": "passed", "score": 100, "attempt": job.attempt}))
            }
            _ => Err(ExecError::Internal("the fake was told to fail".into())),
        }
    }
}

async fn submit(store: &Arc<dyn Store>, hash: &str, payload: Value) -> SubmissionId {
    let new = new_submission(hash, payload);
    let id = new.id.clone();
    store.create_submission(new, now_ms()).await.unwrap();
    id
}

async fn finished(store: &Arc<dyn Store>, id: &SubmissionId) -> Value {
    eventually("the job to finish", WAIT, || async {
        let sub = store.get_submission(id).await.unwrap().unwrap();
        (sub.state == SubmissionState::Finished).then(|| sub.result.unwrap())
    })
    .await
}

async fn running(store: &Arc<dyn Store>, id: &SubmissionId) {
    eventually("the job to run", WAIT, || async {
        let sub = store.get_submission(id).await.unwrap().unwrap();
        (sub.state == SubmissionState::Running).then_some(())
    })
    .await
}

crate::suite!(
    runs_every_job_once_with_logs_before_the_result,
    wakes_on_notify_not_poll,
    dead_workers_job_is_retried_by_another,
    heartbeats_keep_a_long_job_leased,
    late_result_after_losing_the_lease_is_discarded,
    drain_releases_jobs_past_the_grace,
    drain_lets_short_jobs_finish,
    pause_and_resume,
    cancel_while_running,
    watchdog_cancels_overrunning_jobs,
    executor_error_becomes_internal_error,
    version_skipping_and_unservable_jobs,
    sweeps_leftover_run_dirs_and_stops_on_low_disk,
    host_failures_are_retried_then_given_up_with_every_reason,
    a_host_failure_then_a_pass,
    leftover_folders_of_dead_claims_never_cost_a_live_job_its_folder,
);

async fn runs_every_job_once_with_logs_before_the_result(fx: &Fixture) {
    let fake = Arc::new(Fake::default());
    let engine = start_engine(fx.store.clone(), fake.clone(), test_config(fx, &[H1])).await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(submit(&fx.store, H1, json!({"do": "pass", "logs": 3})).await);
    }
    for id in &ids {
        let result = finished(&fx.store, id).await;
        assert_eq!(result["outcome"], "passed");
        assert_eq!(fake.runs_of(id), 1);
        let events = fx.store.events_after(id, 0, 100).await.unwrap();
        let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::State,
                EventKind::State,
                EventKind::Log,
                EventKind::Log,
                EventKind::Log,
                EventKind::Result
            ]
        );
        let lines: Vec<&str> = events[2..5]
            .iter()
            .map(|e| e.data["line"].as_str().unwrap())
            .collect();
        assert_eq!(lines, ["line 0", "line 1", "line 2"]);
        assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    }
    eventually("run dirs removed", WAIT, || async {
        let n = std::fs::read_dir(fx.dir.path().join("runs"))
            .unwrap()
            .count();
        (n == 0).then_some(())
    })
    .await;
    let report = engine.drain(Duration::from_secs(5)).await;
    assert!(report.clean);
    assert_eq!(report.released, 0);
}

async fn wakes_on_notify_not_poll(fx: &Fixture) {
    // The poll interval is 600 s: a start well before that came from the store's signal.
    let fake = Arc::new(Fake::default());
    let _engine = start_engine(fx.store.clone(), fake.clone(), test_config(fx, &[H1])).await;
    let first = submit(&fx.store, H1, json!({"do": "pass"})).await;
    finished(&fx.store, &first).await;
    // The engine is now idle, waiting; only a wake-up can start the next job in time.
    let second = submit(&fx.store, H1, json!({"do": "pass"})).await;
    finished(&fx.store, &second).await;
}

async fn dead_workers_job_is_retried_by_another(fx: &Fixture) {
    // A worker claims and dies (kill -9): no heartbeat, no result, its lease just expires.
    let id = submit(&fx.store, H1, json!({"do": "pass"})).await;
    let dead = fx
        .store
        .claim(
            "dead-worker",
            &[H1.to_string()],
            Duration::from_millis(300),
            now_ms(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dead.attempt, 1);
    let fake = Arc::new(Fake::default());
    let _engine = start_engine(fx.store.clone(), fake.clone(), test_config(fx, &[H1])).await;
    let result = finished(&fx.store, &id).await;
    assert_eq!(result["attempt"], 2);
    let sub = fx.store.get_submission(&id).await.unwrap().unwrap();
    assert_eq!(sub.attempts, 2);
    assert_ne!(sub.worker_id.as_deref(), Some("dead-worker"));
    assert_eq!(*fake.runs.lock().unwrap(), [(id, 2)]);
}

async fn heartbeats_keep_a_long_job_leased(fx: &Fixture) {
    let fake = Arc::new(Fake::default());
    let mut config = test_config(fx, &[H1]);
    config.lease = Duration::from_millis(1200);
    config.heartbeat = Duration::from_millis(100);
    let _engine = start_engine(fx.store.clone(), fake.clone(), config).await;
    let id = submit(&fx.store, H1, json!({"do": "gate"})).await;
    running(&fx.store, &id).await;
    let started = fx
        .store
        .get_submission(&id)
        .await
        .unwrap()
        .unwrap()
        .started_at
        .unwrap();
    // Run well past several lease lengths while sweeps run every 100 ms.
    eventually("three lease lengths to pass", WAIT, || async {
        let sub = fx.store.get_submission(&id).await.unwrap().unwrap();
        assert_eq!(sub.state, SubmissionState::Running, "the lease lapsed");
        assert_eq!(sub.attempts, 1);
        (now_ms() > started + 3_600).then_some(())
    })
    .await;
    fake.gate.notify_one();
    let result = finished(&fx.store, &id).await;
    assert_eq!(result["late"], true);
    assert_eq!(fake.runs_of(&id), 1);
}

async fn late_result_after_losing_the_lease_is_discarded(fx: &Fixture) {
    let fake = Arc::new(Fake::default());
    // One slot: while the job runs the engine has no claim in flight that could race
    // the other worker's claim below (pausing does not recall a claim already sent).
    let mut config = test_config(fx, &[H1]);
    config.max_concurrency = 1;
    let engine = start_engine(fx.store.clone(), fake.clone(), config).await;
    let id = submit(&fx.store, H1, json!({"do": "gate"})).await;
    running(&fx.store, &id).await;
    engine.pause();
    // The store decides the lease is gone (as after a long stall) and another worker
    // takes the job and finishes it.
    let swept = fx.store.sweep_expired(now_ms() + 3_600_000).await.unwrap();
    assert_eq!(swept.requeued, std::slice::from_ref(&id));
    let other = fx
        .store
        .claim(
            "other",
            &[H1.to_string()],
            Duration::from_secs(60),
            now_ms(),
        )
        .await
        .unwrap()
        .unwrap();
    let good = json!({"outcome": "failed", "score": 7});
    fx.store
        .finish(&id, other.fencing_token, &good, now_ms())
        .await
        .unwrap();
    // The stalled run now returns its (late) result: it must be discarded.
    fake.gate.notify_one();
    eventually("the stale run to end", WAIT, || async {
        engine.status().running.is_empty().then_some(())
    })
    .await;
    let sub = fx.store.get_submission(&id).await.unwrap().unwrap();
    assert_eq!(sub.result, Some(good));
    let results = fx
        .store
        .events_after(&id, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::Result)
        .count();
    assert_eq!(results, 1);
}

async fn drain_releases_jobs_past_the_grace(fx: &Fixture) {
    let fake = Arc::new(Fake::default());
    let engine = start_engine(fx.store.clone(), fake.clone(), test_config(fx, &[H1])).await;
    let a = submit(&fx.store, H1, json!({"do": "hang"})).await;
    let b = submit(&fx.store, H1, json!({"do": "hang"})).await;
    running(&fx.store, &a).await;
    running(&fx.store, &b).await;
    let report = engine.drain(Duration::from_millis(200)).await;
    let mut history = Vec::new();
    for id in [&a, &b] {
        history.push(fx.store.events_after(id, 0, 100).await.unwrap());
    }
    assert!(!report.clean);
    assert_eq!(report.released, 2, "{history:#?}");
    for id in [&a, &b] {
        let sub = fx.store.get_submission(id).await.unwrap().unwrap();
        assert_eq!((sub.state, sub.attempts), (SubmissionState::Queued, 0));
    }
    assert!(fx.store.live_workers(0).await.unwrap().is_empty());
    // Another worker picks them up.
    let next = Arc::new(Fake::default());
    let _engine = start_engine(fx.store.clone(), next.clone(), test_config(fx, &[H1])).await;
    eventually("the released jobs to be reclaimed", WAIT, || async {
        (next.runs.lock().unwrap().len() == 2).then_some(())
    })
    .await;
}

async fn drain_lets_short_jobs_finish(fx: &Fixture) {
    let fake = Arc::new(Fake::default());
    let engine = start_engine(fx.store.clone(), fake.clone(), test_config(fx, &[H1])).await;
    let id = submit(&fx.store, H1, json!({"do": "gate"})).await;
    running(&fx.store, &id).await;
    // Running in the store is the claim; the job is the executor's once it started (a
    // claim still on its way to the executor is handed back by a drain, by design).
    eventually("the executor to start the job", WAIT, || async {
        (fake.runs_of(&id) == 1).then_some(())
    })
    .await;
    let drain = tokio::spawn(engine.drain(Duration::from_secs(20)));
    let queued_meanwhile = submit(&fx.store, H1, json!({"do": "pass"})).await;
    fake.gate.notify_one();
    let report = drain.await.unwrap();
    assert!(report.clean);
    // The running job finished within the grace. The only job that may have been
    // released is one whose claim was already in flight when drain() was called: it is
    // handed straight back, unstarted.
    assert!(report.released <= 1, "{report:?}");
    assert_eq!(finished(&fx.store, &id).await["late"], true);
    let sub = fx
        .store
        .get_submission(&queued_meanwhile)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sub.state,
        SubmissionState::Queued,
        "a draining worker runs nothing new"
    );
    assert_eq!(sub.attempts, 0, "a handed-back claim costs no attempt");
    assert_eq!(
        fake.runs_of(&queued_meanwhile),
        0,
        "the executor never ran the job queued during the drain"
    );
}

async fn pause_and_resume(fx: &Fixture) {
    let fake = Arc::new(Fake::default());
    let engine = start_engine(fx.store.clone(), fake.clone(), test_config(fx, &[H1])).await;
    engine.pause();
    assert!(engine.is_paused());
    assert_eq!(engine.status().claim_state, ClaimState::Paused);
    let id = submit(&fx.store, H1, json!({"do": "pass"})).await;
    // Give a (broken) engine ample chances to claim: the signal fired, sweeps run.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while tokio::time::Instant::now() < deadline {
        let sub = fx.store.get_submission(&id).await.unwrap().unwrap();
        assert_eq!(
            sub.state,
            SubmissionState::Queued,
            "a paused worker claimed a job"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    engine.resume();
    assert_eq!(engine.status().claim_state, ClaimState::Claiming);
    finished(&fx.store, &id).await;
}

async fn cancel_while_running(fx: &Fixture) {
    let fake = Arc::new(Fake::default());
    let engine = start_engine(fx.store.clone(), fake.clone(), test_config(fx, &[H1])).await;
    let a = submit(&fx.store, H1, json!({"do": "hang"})).await;
    let b = submit(&fx.store, H1, json!({"do": "hang"})).await;
    running(&fx.store, &a).await;
    running(&fx.store, &b).await;
    // Through the store (seen at the next heartbeat, as by any worker) ...
    assert_eq!(
        fx.store.cancel(&a, "test", now_ms()).await.unwrap(),
        CancelOutcome::Requested
    );
    // ... and through the engine that runs it (immediate).
    assert_eq!(
        fx.store.cancel(&b, "test", now_ms()).await.unwrap(),
        CancelOutcome::Requested
    );
    assert!(engine.cancel_running(&b));
    for id in [&a, &b] {
        let result = finished(&fx.store, id).await;
        assert_eq!(result["outcome"], "internal_error");
        assert!(
            result["reason"].as_str().unwrap().starts_with("cancelled"),
            "{result}"
        );
    }
}

async fn watchdog_cancels_overrunning_jobs(fx: &Fixture) {
    let fake = Arc::new(Fake {
        time_limit: Some(Duration::from_millis(100)),
        ..Fake::default()
    });
    let mut config = test_config(fx, &[H1]);
    config.watchdog_margin = Duration::from_millis(100);
    let _engine = start_engine(fx.store.clone(), fake.clone(), config).await;
    let id = submit(&fx.store, H1, json!({"do": "hang"})).await;
    let result = finished(&fx.store, &id).await;
    assert_eq!(result["outcome"], "internal_error");
    assert!(
        result["reason"].as_str().unwrap().starts_with("watchdog"),
        "{result}"
    );
}

async fn executor_error_becomes_internal_error(fx: &Fixture) {
    let fake = Arc::new(Fake::default());
    let _engine = start_engine(fx.store.clone(), fake.clone(), test_config(fx, &[H1])).await;
    let id = submit(&fx.store, H1, json!({"do": "fail"})).await;
    let result = finished(&fx.store, &id).await;
    assert_eq!(result["outcome"], "internal_error");
    assert_eq!(result["reason"], "the fake was told to fail");
    assert_eq!(
        fake.runs_of(&id),
        1,
        "an executor error is a result, not a retry"
    );
}

async fn version_skipping_and_unservable_jobs(fx: &Fixture) {
    let fake = Arc::new(Fake::default());
    let mut config = test_config(fx, &[H1]);
    config.version_wait = Duration::from_millis(300);
    let engine = start_engine(fx.store.clone(), fake.clone(), config).await;
    let other_version = submit(&fx.store, "hash-v2", json!({"do": "pass"})).await;
    let mine = submit(&fx.store, H1, json!({"do": "pass"})).await;
    finished(&fx.store, &mine).await;
    // Nobody holds v2: after the wait it fails with a reason, never having run.
    let result = finished(&fx.store, &other_version).await;
    assert_eq!(result["outcome"], "internal_error");
    assert!(
        result["reason"].as_str().unwrap().contains("hash-v2"),
        "{result}"
    );
    assert_eq!(fake.runs_of(&other_version), 0);
    // After an exercise reload the worker holds v2 too.
    engine
        .set_exercise_hashes(vec![H1.into(), "hash-v2".into()])
        .await
        .unwrap();
    let v2 = submit(&fx.store, "hash-v2", json!({"do": "pass"})).await;
    assert_eq!(finished(&fx.store, &v2).await["outcome"], "passed");
}

async fn sweeps_leftover_run_dirs_and_stops_on_low_disk(fx: &Fixture) {
    let runs = fx.dir.path().join("runs");
    std::fs::create_dir_all(runs.join("leftover-from-a-crash/deep")).unwrap();
    let fake = Arc::new(Fake::default());
    let mut config = test_config(fx, &[H1]);
    config.min_free_disk_bytes = u64::MAX;
    let engine = start_engine(fx.store.clone(), fake.clone(), config).await;
    assert!(!runs.join("leftover-from-a-crash").exists());
    assert_eq!(engine.status().claim_state, ClaimState::LowDisk);
    let id = submit(&fx.store, H1, json!({"do": "pass"})).await;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while tokio::time::Instant::now() < deadline {
        let sub = fx.store.get_submission(&id).await.unwrap().unwrap();
        *seen.entry(sub.state.as_str()).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        ["queued"],
        "claimed on a full disk"
    );
}

async fn host_failures_are_retried_then_given_up_with_every_reason(fx: &Fixture) {
    let fake = Arc::new(Fake::default());
    let mut config = test_config(fx, &[H1]);
    config.retry_backoff = Duration::from_millis(20);
    let _engine = start_engine(fx.store.clone(), fake.clone(), config).await;
    let id = submit(&fx.store, H1, json!({"do": "host"})).await;
    let result = finished(&fx.store, &id).await;
    assert_eq!(result["outcome"], "internal_error");
    assert_eq!(fake.runs_of(&id), 3, "every attempt ran");
    let reason = result["reason"].as_str().unwrap();
    for attempt in 1..=3 {
        assert!(
            reason.contains(&format!(
                "attempt {attempt}: the host fell over on attempt {attempt}"
            )),
            "{reason}"
        );
    }
    let sub = fx.store.get_submission(&id).await.unwrap().unwrap();
    assert_eq!(sub.attempts, 3);
}

async fn a_host_failure_then_a_pass(fx: &Fixture) {
    let fake = Arc::new(Fake::default());
    let mut config = test_config(fx, &[H1]);
    config.retry_backoff = Duration::from_millis(20);
    let _engine = start_engine(fx.store.clone(), fake.clone(), config).await;
    let id = submit(&fx.store, H1, json!({"do": "host-once"})).await;
    let result = finished(&fx.store, &id).await;
    assert_eq!(result["outcome"], "passed");
    assert_eq!(result["attempt"], 2);
    assert_eq!(*fake.runs.lock().unwrap(), [(id.clone(), 1), (id, 2)]);
}

/// Issue 18's race: after a crash, a job's folder was swept away while its next attempt
/// was being set up in it. Many dead claims leave their folders behind, with leases that
/// outlive the engine's start (so its first sweep must keep them) and then expire while
/// it runs: the engine requeues and runs their jobs while sweeping the runs dir as often
/// as it can.
async fn leftover_folders_of_dead_claims_never_cost_a_live_job_its_folder(fx: &Fixture) {
    let runs = fx.dir.path().join("runs");
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(submit(&fx.store, H1, json!({"do": "careful"})).await);
    }
    let hashes = [H1.to_string()];
    let dead_lease = Duration::from_secs(3);
    let dead = fx
        .store
        .claim_many("dead", &hashes, dead_lease, now_ms(), 40);
    for dead in dead.await.unwrap() {
        let left = runs.join(format!("{}.{}", dead.id, dead.fencing_token));
        std::fs::create_dir_all(left.join("submission")).unwrap();
    }
    let fake = Arc::new(Fake::default());
    let mut config = test_config(fx, &[H1]);
    config.sweep_interval = Duration::from_millis(1);
    let _engine = start_engine(fx.store.clone(), fake.clone(), config).await;
    assert_eq!(
        std::fs::read_dir(&runs).unwrap().count(),
        ids.len(),
        "the folders of unexpired leases are kept"
    );
    for id in &ids {
        let result = finished(&fx.store, id).await;
        assert_eq!(result["outcome"], "passed", "{id}: {result}");
        assert_eq!(result["attempt"], 2);
        assert_eq!(fake.runs_of(id), 1);
    }
    eventually("every folder gone", WAIT, || async {
        (std::fs::read_dir(&runs).unwrap().count() == 0).then_some(())
    })
    .await;
}
