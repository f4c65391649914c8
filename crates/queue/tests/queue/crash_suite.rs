//! A worker process killed with SIGKILL mid-run: its job's lease expires, another worker
//! runs it as attempt 2, and it finishes exactly once. The worker process is this test
//! binary itself, re-run on the ignored `crash_child_worker` test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gauntlet_queue::store::{self, now_ms, EventKind, StoreLocation, SubmissionState};
use gauntlet_queue::worker::{EngineConfig, ExecError, Job, JobContext, JobExecutor};
use serde_json::{json, Value};

use crate::fixture::{eventually, new_submission, start_engine, test_config, Fixture};

const H1: &str = "hash-v1";
const WAIT: Duration = Duration::from_secs(60);
const CHILD_ID: &str = "crash-child";

/// Starts, logs a line, leaves a file in its run dir, then never returns.
struct Hang;

#[async_trait]
impl JobExecutor for Hang {
    async fn execute(&self, _job: Job, ctx: JobContext) -> Result<Value, ExecError> {
        std::fs::write(ctx.run_dir.join("half-done"), b"x").unwrap();
        ctx.logs.line("test", "started");
        std::future::pending().await
    }
}

struct Pass;

#[async_trait]
impl JobExecutor for Pass {
    async fn execute(&self, job: Job, _ctx: JobContext) -> Result<Value, ExecError> {
        Ok(json!({"outcome": "passed", "score": 100, "attempt": job.attempt}))
    }
}

/// Not a test on its own: the worker process that the crash test starts and kills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs only as the child process of worker_killed_mid_run_is_retried_once"]
async fn crash_child_worker() {
    let Ok(kind) = std::env::var("GAUNTLET_CRASH_CHILD") else {
        return;
    };
    let target = std::env::var("GAUNTLET_CRASH_TARGET").unwrap();
    let location = match kind.as_str() {
        "postgres" => StoreLocation::Postgres { url: target },
        _ => StoreLocation::Sqlite {
            path: PathBuf::from(target),
        },
    };
    let store = store::open(&location).await.unwrap();
    let mut config = EngineConfig::new(
        PathBuf::from(std::env::var("GAUNTLET_CRASH_RUNS").unwrap()),
        vec![H1.into()],
    );
    config.worker_id = CHILD_ID.into();
    config.lease = Duration::from_secs(1);
    config.heartbeat = Duration::from_millis(200);
    config.min_free_disk_bytes = 0;
    let _engine = start_engine(store, Arc::new(Hang), config).await;
    std::future::pending::<()>().await;
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

crate::suite!(worker_killed_mid_run_is_retried_once);

async fn worker_killed_mid_run_is_retried_once(fx: &Fixture) {
    // SQLite is one process per file: this test's own store is closed while the child
    // runs, and the child's progress is read from its job folder instead.
    let (location, shared) = match fx.location() {
        pg @ StoreLocation::Postgres { .. } => (pg, true),
        StoreLocation::Sqlite { .. } => (
            StoreLocation::Sqlite {
                path: fx.dir.path().join("crash/gauntlet.db"),
            },
            false,
        ),
    };
    let (kind, target) = match &location {
        StoreLocation::Postgres { url } => ("postgres", url.clone()),
        StoreLocation::Sqlite { path } => ("sqlite", path.display().to_string()),
    };
    let store = if shared {
        fx.store.clone()
    } else {
        store::open(&location).await.unwrap()
    };
    let new = new_submission(H1, json!({}));
    let id = new.id.clone();
    store.create_submission(new, now_ms()).await.unwrap();
    let store = if shared {
        Some(store)
    } else {
        drop(store); // the child takes the file
        None
    };

    let runs = fx.dir.path().join("runs");
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_suite::crash_child_worker", "--ignored"])
        .env("GAUNTLET_CRASH_CHILD", kind)
        .env("GAUNTLET_CRASH_TARGET", &target)
        .env("GAUNTLET_CRASH_RUNS", &runs)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);

    // The child claims the job (claim 1) and is mid-run in the folder of that claim.
    let folder = runs.join(format!("{id}.1"));
    eventually("the child worker to be mid-run", WAIT, || async {
        folder.join("half-done").exists().then_some(())
    })
    .await;
    if let Some(store) = &store {
        eventually("the child's log line", WAIT, || async {
            let events = store.events_after(&id, 0, 100).await.unwrap();
            events
                .iter()
                .any(|e| e.kind == EventKind::Log && e.data["line"] == "started")
                .then_some(())
        })
        .await;
        let sub = store.get_submission(&id).await.unwrap().unwrap();
        assert_eq!(sub.state, SubmissionState::Running);
        assert_eq!(sub.worker_id.as_deref(), Some(CHILD_ID));
    }

    child.0.kill().unwrap(); // SIGKILL: no drain, no release, no result
    child.0.wait().unwrap();

    let store = match store {
        Some(store) => store,
        None => store::open(&location).await.unwrap(),
    };
    let _engine = start_engine(store.clone(), Arc::new(Pass), test_config(fx, &[H1])).await;
    let result = eventually("the job to finish on the new worker", WAIT, || async {
        let sub = store.get_submission(&id).await.unwrap().unwrap();
        (sub.state == SubmissionState::Finished).then_some(sub)
    })
    .await;
    assert_eq!(result.attempts, 2);
    assert_ne!(result.worker_id.as_deref(), Some(CHILD_ID));
    assert_eq!(result.result.unwrap()["attempt"], 2);

    let events = store.events_after(&id, 0, 100).await.unwrap();
    let states: Vec<String> = events
        .iter()
        .map(|e| match e.kind {
            EventKind::State => e.data["state"].as_str().unwrap().to_owned(),
            EventKind::Log => "log".into(),
            EventKind::Result => "result".into(),
        })
        .collect();
    // (On SQLite the child may die before its log line is written: nothing waited for it.)
    let states: Vec<String> = states
        .into_iter()
        .filter(|s| shared || s != "log")
        .collect();
    let expected: &[&str] = if shared {
        &["queued", "running", "log", "queued", "running", "result"]
    } else {
        &["queued", "running", "queued", "running", "result"]
    };
    assert_eq!(states, expected);
    eventually("the killed run's folder to be swept", WAIT, || async {
        (!folder.exists()).then_some(())
    })
    .await;
    assert!(
        !runs.join(format!("{id}.2")).exists(),
        "the second claim removed its own folder"
    );
}
