//! Queue benchmark: add→start latency (one job at a time into an idle worker, as
//! graphile-worker measures it) and no-op throughput, on SQLite and PostgreSQL.
//!
//! `cargo bench -p gauntlet-queue --bench queue -- [--backend sqlite|postgres|both]
//!  [--latency-jobs N] [--throughput-jobs N] [--concurrency N]`
//! PostgreSQL: `BENCH_DATABASE_URL` (or `TEST_DATABASE_URL`, default
//! postgres://postgres@127.0.0.1:5432/test); a fresh database is created and dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gauntlet_queue::store::{
    now_ms, NewSubmission, SqlStore, Store, SubmissionId, SubmissionState,
};
use gauntlet_queue::worker::{EngineConfig, ExecError, Job, JobContext, JobExecutor, WorkerEngine};
use gauntlet_queue::KillSwitch;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::sync::mpsc;

const HASH: &str = "bench-hash";

struct Noop {
    started: mpsc::UnboundedSender<(SubmissionId, Instant)>,
}

#[async_trait]
impl JobExecutor for Noop {
    async fn execute(&self, job: Job, _ctx: JobContext) -> Result<Value, ExecError> {
        let _ = self.started.send((job.id, Instant::now()));
        Ok(
            json!({"outcome": "passed", "score": 100, "points": 1, "max_points": 1,
                  "tests": [], "log": "", "duration_ms": 0}),
        )
    }
}

struct Args {
    backends: Vec<String>,
    latency_jobs: usize,
    throughput_jobs: usize,
    concurrency: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        backends: vec!["sqlite".into(), "postgres".into()],
        latency_jobs: 1000,
        throughput_jobs: 5000,
        concurrency: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--backend" => {
                let v = value();
                args.backends = if v == "both" { args.backends } else { vec![v] };
            }
            "--latency-jobs" => args.latency_jobs = value().parse().expect("a number"),
            "--throughput-jobs" => args.throughput_jobs = value().parse().expect("a number"),
            "--concurrency" => args.concurrency = value().parse().expect("a number"),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn submission() -> NewSubmission {
    NewSubmission {
        id: SubmissionId::new(),
        exercise_id: "bench".into(),
        exercise_hash: HASH.into(),
        display_name: "bench".into(),
        session_id: "bench".into(),
        client_ip: "127.0.0.1".into(),
        client_key: "127.0.0.1".into(),
        payload: br#"{"files":{"a.py":"print(1)"}}"#.to_vec(),
        max_attempts: 3,
    }
}

fn config(runs: &std::path::Path, concurrency: usize) -> EngineConfig {
    let mut c = EngineConfig::new(runs.to_owned(), vec![HASH.into()]);
    c.max_concurrency = concurrency;
    // Wake-ups must come from the store's signal, not from polling.
    c.poll_interval = Duration::from_secs(60);
    c.min_free_disk_bytes = 0;
    c
}

async fn engine(
    store: Arc<dyn Store>,
    runs: &std::path::Path,
    concurrency: usize,
) -> (
    WorkerEngine,
    mpsc::UnboundedReceiver<(SubmissionId, Instant)>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let ack = KillSwitch::acknowledge(true, true).unwrap();
    let engine = WorkerEngine::start(
        store,
        Arc::new(Noop { started: tx }),
        config(runs, concurrency),
        ack,
    )
    .await
    .unwrap();
    (engine, rx)
}

async fn wait_finished(store: &Arc<dyn Store>, id: &SubmissionId) {
    loop {
        let sub = store.get_submission(id).await.unwrap().unwrap();
        if sub.state == SubmissionState::Finished {
            return;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn latency(store: Arc<dyn Store>, runs: &std::path::Path, jobs: usize) -> Vec<f64> {
    let (engine, mut started) = engine(store.clone(), runs, 2).await;
    let warmup = 50;
    let mut samples = Vec::with_capacity(jobs);
    for i in 0..warmup + jobs {
        let new = submission();
        let id = new.id.clone();
        let t0 = Instant::now();
        store.create_submission(new, now_ms()).await.unwrap();
        let (got, at) = tokio::time::timeout(Duration::from_secs(30), started.recv())
            .await
            .expect("job started within 30 s")
            .unwrap();
        assert_eq!(got, id);
        if i >= warmup {
            samples.push(at.duration_since(t0).as_secs_f64() * 1000.0);
        }
        // Start the next add with an idle worker, as graphile-worker's figure does.
        wait_finished(&store, &id).await;
    }
    engine.drain(Duration::from_secs(10)).await;
    samples
}

async fn throughput(
    store: Arc<dyn Store>,
    runs: &std::path::Path,
    jobs: usize,
    concurrency: usize,
) -> (f64, f64) {
    let t0 = Instant::now();
    for _ in 0..jobs {
        store
            .create_submission(submission(), now_ms())
            .await
            .unwrap();
    }
    let insert_rate = jobs as f64 / t0.elapsed().as_secs_f64();
    let (engine, mut started) = engine(store.clone(), runs, concurrency).await;
    let t1 = Instant::now();
    let mut seen: HashMap<SubmissionId, ()> = HashMap::with_capacity(jobs);
    while seen.len() < jobs {
        let (id, _) = started.recv().await.unwrap();
        seen.insert(id, ());
    }
    loop {
        let c = store.queue_counts().await.unwrap();
        if c.queued == 0 && c.running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let run_rate = jobs as f64 / t1.elapsed().as_secs_f64();
    engine.drain(Duration::from_secs(10)).await;
    (insert_rate, run_rate)
}

struct PgBench {
    admin_url: String,
    name: String,
    url: String,
}

async fn pg_database() -> Option<PgBench> {
    let admin_url = std::env::var("BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIPPED postgres: cannot reach {admin_url}: {e}");
            return None;
        }
    };
    let name = format!("gauntlet_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url
        .split('?')
        .next()
        .unwrap()
        .rsplit_once('/')
        .unwrap()
        .0;
    let url = format!("{base}/{name}");
    Some(PgBench {
        admin_url,
        name,
        url,
    })
}

async fn drop_pg(pg: &PgBench) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(&pg.admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg.name))
            .execute(&mut admin)
            .await;
    }
}

fn main() {
    let args = parse_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!(
            "queue bench: {} latency jobs (+50 warm-up), {} throughput jobs, concurrency {}, {} cores",
            args.latency_jobs,
            args.throughput_jobs,
            args.concurrency,
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        );
        println!(
            "{:<9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12} {:>12}",
            "backend", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms", "adds/s", "no-op jobs/s"
        );
        for backend in &args.backends {
            let dir = tempfile::tempdir().unwrap();
            let runs = dir.path().join("runs");
            let pg = match backend.as_str() {
                "postgres" => match pg_database().await {
                    Some(pg) => Some(pg),
                    None => continue,
                },
                "sqlite" => None,
                other => panic!("unknown backend {other}"),
            };
            let url = pg.as_ref().map(|p| p.url.clone());
            let open = |name: &'static str| {
                let dir = dir.path().join(name);
                let url = url.clone();
                async move {
                    let store: Arc<dyn Store> = match url {
                        Some(url) => Arc::new(SqlStore::connect_postgres(&url).await.unwrap()),
                        None => Arc::new(SqlStore::open_sqlite(&dir.join("gauntlet.db")).await.unwrap()),
                    };
                    store
                }
            };
            let lat_store = open("latency").await;
            let mut samples = latency(lat_store.clone(), &runs, args.latency_jobs).await;
            drop(lat_store);
            samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let mean = samples.iter().sum::<f64>() / samples.len() as f64;
            let thr_store = open("throughput").await;
            let (adds, runs_per_s) =
                throughput(thr_store, &runs, args.throughput_jobs, args.concurrency).await;
            println!(
                "{:<9} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>12.0} {:>12.0}",
                backend,
                percentile(&samples, 50.0),
                percentile(&samples, 90.0),
                percentile(&samples, 99.0),
                samples.last().copied().unwrap_or(0.0),
                mean,
                adds,
                runs_per_s
            );
            if let Some(pg) = &pg {
                drop_pg(pg).await;
            }
        }
        println!("anchor: graphile-worker 4.16 ms average add->start on PostgreSQL (published)");
    });
}
