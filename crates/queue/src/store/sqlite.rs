//! Opening the SQLite back end: one file in WAL mode, one writer connection (so every
//! transition is serialised in-process) beside a few read-only ones, a background
//! checkpointer, and an exclusive `flock` on the file that keeps a second Gauntlet
//! process out. Wake-ups are in-process (see `Dialect::notifies`).

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::Executor;
use tokio::sync::{broadcast, watch};

use super::dialect::SQLITE;
use super::sql::{Parts, SqlStore};
use super::{Result, StoreError};

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a write waits for a lock another connection holds (the checkpointer; a
/// foreign program) before failing with "database is locked".
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// At start-up, how long to wait for a lock held by another program before refusing.
const START_LOCK_WAIT_MS: u32 = 2_000;

impl SqlStore {
    /// Opens (creating if needed) the SQLite store at `path` and runs its migrations.
    /// Refuses, saying why, when another Gauntlet process has it open or another program
    /// holds a lock on it.
    pub async fn open_sqlite(path: &Path) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let path = std::path::absolute(path).map_err(|source| data_dir(path, source))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| data_dir(dir, source))?;
        }
        let lock = exclusive(&path)?;
        let url = url(&path)?;
        let writer = pool(&url, "rwc", 1, WRITER_PRAGMAS)
            .await
            .map_err(|e| locked(&path, e))?;
        refuse_foreign_locks(&writer, &path).await?;
        MIGRATOR.run(&writer).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => locked(&path, e),
            e => StoreError::Migrate(e),
        })?;
        let checkpointer = pool(&url, "rw", 1, CONNECTION_PRAGMAS).await?;
        let reader = pool(&url, "ro", 4, CONNECTION_PRAGMAS).await?;
        let (jobs, _) = watch::channel(0);
        let (events, _) = broadcast::channel(1024);
        Ok(SqlStore::assemble(Parts {
            dialect: &SQLITE,
            fast: writer.clone(),
            write: writer,
            read: reader,
            jobs,
            events,
            background: vec![tokio::spawn(checkpoint(checkpointer))],
            lock: Some(lock),
        }))
    }
}

const CONNECTION_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;";

/// The writer checkpoints nothing itself: a background task does (see [`checkpoint`]).
const WRITER_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;";

fn data_dir(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::DataDir {
        path: path.display().to_string(),
        source,
    }
}

/// Takes the file's exclusive `flock` for as long as the store is open (the file is
/// created 0600 when missing: it holds submissions and session ids).
fn exclusive(path: &Path) -> Result<Flock<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|source| data_dir(path, source))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| match errno {
        nix::errno::Errno::EWOULDBLOCK => StoreError::InUse {
            path: path.display().to_string(),
        },
        e => data_dir(path, std::io::Error::from(e)),
    })
}

/// `sqlite://` URL of an absolute path (sqlx percent-decodes it back).
fn url(path: &Path) -> Result<String> {
    let text = path.to_str().ok_or_else(|| {
        data_dir(
            path,
            std::io::Error::other("the SQLite store's path must be valid UTF-8"),
        )
    })?;
    let encoded = text
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23");
    Ok(format!("sqlite://{encoded}"))
}

async fn pool(url: &str, mode: &str, size: u32, pragmas: &'static str) -> sqlx::Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(pragmas).await?;
                Ok(())
            })
        })
        .connect(&format!("{url}?mode={mode}"))
        .await
}

/// A lock another program holds shows here, within a short wait, as a clear refusal
/// (rather than as a slow failure of the first write).
async fn refuse_foreign_locks(writer: &AnyPool, path: &Path) -> Result<()> {
    let mut conn = writer.acquire().await?;
    conn.execute(format!("PRAGMA busy_timeout = {START_LOCK_WAIT_MS}").as_str())
        .await?;
    let probe = async {
        conn.execute("BEGIN IMMEDIATE").await?;
        conn.execute("ROLLBACK").await
    }
    .await;
    conn.execute(format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}").as_str())
        .await?;
    probe.map(|_| ()).map_err(|e| locked(path, e))
}

/// A "database is locked" or "busy" error, as the refusal that names the file.
fn locked(path: &Path, e: sqlx::Error) -> StoreError {
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<i32>().ok());
    match code {
        // SQLITE_BUSY and SQLITE_LOCKED, with their extended codes.
        Some(c) if c & 0xff == 5 || c & 0xff == 6 => StoreError::Locked {
            path: path.display().to_string(),
            reason: e
                .as_database_error()
                .map(|d| d.message().to_owned())
                .unwrap_or_else(|| e.to_string()),
        },
        _ => StoreError::Database(e),
    }
}

/// Checkpoints the WAL in the background, so no commit on the writer pays for a
/// checkpoint's fsync (which made 1-2 % of commits 10+ ms slower).
async fn checkpoint(pool: AnyPool) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "sqlite checkpoint failed");
        }
    }
}
