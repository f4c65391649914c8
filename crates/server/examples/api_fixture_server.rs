//! The HTTP API over a throw-away SQLite store, with the real worker engine and a canned
//! executor that runs nothing (every submission "passes" in a millisecond). For API
//! contract tests (tests/schemathesis/) and load tests of the API alone (bench/api/).
//!
//! Takes every `gauntlet serve` API flag and variable; prints `listening on http://ADDR`
//! once ready and serves until SIGTERM or Ctrl-C.

use std::sync::Arc;

use async_trait::async_trait;
use clap::Parser;
use gauntlet_exercise::{ArchiveLimits, Maxima};
use gauntlet_queue::store::{self, StoreLocation};
use gauntlet_queue::worker::{
    self, EngineConfig, ExecError, Job, JobContext, JobExecutor, WorkerEngine,
};
use gauntlet_queue::{KillSwitch, WorkerControl};
use gauntlet_server::api::{self, AppState};
use gauntlet_server::catalog::Catalog;
use gauntlet_server::metrics::Metered;
use gauntlet_server::settings::{self, Settings};
use secrecy::ExposeSecret;

#[path = "../tests/api/gate.rs"]
mod gate;
use gate::ExerciseGate;
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    api: Settings,
}

/// Runs nothing: answers every job with a passing result.
struct Canned;

#[async_trait]
impl JobExecutor for Canned {
    async fn execute(&self, job: Job, ctx: JobContext) -> Result<Value, ExecError> {
        ctx.logs
            .line("test", &format!("canned grade of {}", job.exercise_id));
        Ok(
            json!({"outcome": "passed", "score": 100, "points": 1, "max_points": 1,
            "tests": [{"name": "canned", "status": "pass", "message": null}],
            "log": "[test] canned", "duration_ms": 0}),
        )
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let s = args.api;
    settings::init_tracing(s.common.log_format);
    let data_dir = s.common.data_dir.clone();
    std::fs::create_dir_all(&data_dir)?;
    let gate = Arc::new(ExerciseGate {
        scratch: data_dir.join("scratch"),
        limits: ArchiveLimits::default(),
    });
    let dir = s.common.exercises.clone();
    let catalog =
        tokio::task::spawn_blocking(move || Catalog::load(&dir, Maxima::default(), gate)).await??;
    let catalog = Arc::new(catalog);
    let location = StoreLocation::from_settings(
        s.common.database_url.as_ref().map(|u| u.expose_secret()),
        &data_dir,
    )?;
    let store = store::open(&location).await?;
    // The canned executor runs no submitted code, so acknowledging the kill switch here
    // lets nothing untrusted run.
    let ack = KillSwitch::acknowledge(true, true)?;
    let config = EngineConfig::new(data_dir.join("runs"), catalog.hashes());
    let engine = Arc::new(
        WorkerEngine::start(
            store.clone(),
            Arc::new(Metered::new(Arc::new(Canned), store.clone())),
            config,
            ack,
        )
        .await?,
    );
    let state = AppState::new(
        s.clone(),
        store,
        catalog,
        Some(engine.clone() as Arc<dyn WorkerControl>),
    )
    .await?;
    let listener = api::bind(s.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    api::serve(listener, state, worker::shutdown_signal()).await?;
    Ok(())
}
