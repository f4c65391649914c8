//! Connecting the PostgreSQL back end: a pool for durable writes and reads, a small pool
//! for claims and lease renewals that commits without waiting for the WAL flush, and one
//! `LISTEN` connection that turns the triggers' notifications into in-process wake-ups,
//! so workers in other processes and machines hear of new jobs and events at once.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgListener;
use sqlx::Executor;
use tokio::sync::{broadcast, watch};

use super::dialect::POSTGRES;
use super::sql::{Parts, SqlStore};
use super::{Result, SubmissionId};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const JOBS_CHANNEL: &str = "gauntlet_jobs";
const EVENTS_CHANNEL: &str = "gauntlet_events";

impl SqlStore {
    /// Connects to `url` (`postgres://…`), runs the migrations and starts listening for
    /// wake-ups.
    pub async fn connect_postgres(url: &str) -> Result<SqlStore> {
        Self::connect_postgres_with(url, 16).await
    }

    /// [`SqlStore::connect_postgres`] with at most `max_connections` in the main pool.
    pub async fn connect_postgres_with(url: &str, max_connections: u32) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let write = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        MIGRATOR.run(&write).await?;
        // Claims and lease renewals do not wait for their WAL flush (an fsync of several
        // ms on many disks, which would double add->start latency). A database crash
        // can lose the last such commits: the job is then queued again with its old
        // token and may run twice, which leases allow anyway; `finish` only succeeds
        // while the job is running, so it still gets one result. Submissions, results,
        // releases and sweeps commit durably.
        let fast = AnyPoolOptions::new()
            .max_connections(max_connections.clamp(2, 8))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET synchronous_commit = off").await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let (jobs, _) = watch::channel(0);
        let (events, _) = broadcast::channel(1024);
        let mut listener = PgListener::connect(url).await?;
        listener.listen_all([JOBS_CHANNEL, EVENTS_CHANNEL]).await?;
        let listener = tokio::spawn(listen(listener, jobs.clone(), events.clone()));
        Ok(SqlStore::assemble(Parts {
            dialect: &POSTGRES,
            read: write.clone(),
            write,
            fast,
            jobs,
            events,
            background: vec![listener],
            lock: None,
        }))
    }
}

/// Forwards notifications to the in-process signals. `PgListener` reconnects by itself;
/// after any hiccup the job signal fires anyway, since a notification may have been lost.
async fn listen(
    mut listener: PgListener,
    jobs: watch::Sender<u64>,
    events: broadcast::Sender<SubmissionId>,
) {
    loop {
        match listener.recv().await {
            Ok(n) if n.channel() == JOBS_CHANNEL => {
                jobs.send_modify(|n| *n = n.wrapping_add(1));
            }
            Ok(n) => {
                if let Some(id) = SubmissionId::parse(n.payload()) {
                    let _ = events.send(id);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "postgres listener failed; reconnecting");
                tokio::time::sleep(Duration::from_millis(500)).await;
                jobs.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }
}
