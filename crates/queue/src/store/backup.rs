//! Backups of the embedded SQLite store: a consistent snapshot taken while the service
//! runs (`VACUUM INTO` from a read transaction of its own, beside the service's writer),
//! and its restore into an empty data dir. A snapshot is the store alone: submissions,
//! their events and results, and the schema version. It never holds the session secret,
//! the sessions folder, prepared layers, toolchains or job folders, which live beside
//! the store in the data dir (docs/queue.md, "Backups").
//!
//! PostgreSQL is backed up with its own tools (`pg_dump`); see docs/queue.md.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection, Row};

/// The file the store lives in, within a data dir.
pub const STORE_FILE: &str = "gauntlet.db";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("there is no SQLite store at {0} (is the data dir right? a PostgreSQL store is backed up with pg_dump)")]
    NoStore(PathBuf),
    #[error("{0} already exists: a backup never overwrites a file; choose another name")]
    Exists(PathBuf),
    #[error(
        "{dir} is not empty (it holds {found}): restore only into an empty data dir, so that \
         nothing of another store, its session secret or its job folders mixes with the snapshot"
    )]
    NotEmpty { dir: PathBuf, found: String },
    #[error("{path} is not a Gauntlet store snapshot: {reason}")]
    NotASnapshot { path: PathBuf, reason: String },
    #[error(
        "{path} was made by a newer Gauntlet (it has migrations {unknown} that this one \
         lacks): restore it with that version or a later one"
    )]
    Newer { path: PathBuf, unknown: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error on {path}: {source}")]
    Database { path: PathBuf, source: sqlx::Error },
}

/// What a snapshot holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub submissions: u64,
    pub finished: u64,
    /// Queued or running when the snapshot was taken: they run (again) after a restore.
    pub unfinished: u64,
    pub events: u64,
    /// The newest migration applied (the schema version).
    pub schema: i64,
    pub bytes: u64,
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |source| BackupError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

fn db(path: &Path) -> impl FnOnce(sqlx::Error) -> BackupError + '_ {
    move |source| BackupError::Database {
        path: path.to_owned(),
        source,
    }
}

/// One connection to an SQLite file, outside any pool, with no migrations run.
async fn connect(path: &Path, read_only: bool) -> Result<SqliteConnection, BackupError> {
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(db(path))?
        .filename(path)
        .read_only(read_only)
        .create_if_missing(false)
        .busy_timeout(std::time::Duration::from_secs(30));
    options.connect().await.map_err(db(path))
}

/// Takes a consistent snapshot of the store at `store` into `to` (a new file, 0600),
/// while the service may be running: the copy is one read transaction, checked with
/// `PRAGMA integrity_check`, written to a temporary file beside `to`, flushed to disk
/// and renamed into place. The worker registry (which processes are alive now) is left
/// out: it describes processes, not data.
pub async fn backup_sqlite(store: &Path, to: &Path) -> Result<Summary, BackupError> {
    if !store.is_file() {
        return Err(BackupError::NoStore(store.to_owned()));
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    let dir = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    let partial = dir.join(format!(".{name}.partial-{}", std::process::id()));
    // VACUUM INTO fills an empty file it finds: create it private first.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(io("create", &partial))?;
    let result = async {
        let mut source = connect(store, true).await?;
        sqlx::query("VACUUM INTO $1")
            .bind(partial.to_string_lossy().as_ref())
            .execute(&mut source)
            .await
            .map_err(db(store))?;
        source.close().await.map_err(db(store))?;
        let mut copy = connect(&partial, false).await?;
        sqlx::query("DELETE FROM workers")
            .execute(&mut copy)
            .await
            .map_err(db(&partial))?;
        let summary = inspect(&mut copy, &partial).await?;
        copy.close().await.map_err(db(&partial))?;
        sync(&partial)?;
        std::fs::hard_link(&partial, to).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => BackupError::Exists(to.to_owned()),
            _ => BackupError::Io {
                what: "write",
                path: to.to_owned(),
                source: e,
            },
        })?;
        sync(&dir)?;
        Ok(Summary {
            bytes: std::fs::metadata(to).map(|m| m.len()).unwrap_or(0),
            ..summary
        })
    }
    .await;
    let _ = std::fs::remove_file(&partial);
    result
}

/// Checks a snapshot (schema, integrity) and counts what it holds.
async fn inspect(conn: &mut SqliteConnection, path: &Path) -> Result<Summary, BackupError> {
    let not = |reason: String| BackupError::NotASnapshot {
        path: path.to_owned(),
        reason,
    };
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| not(e.to_string()))?;
    if verdict != "ok" {
        return Err(not(format!("integrity check: {verdict}")));
    }
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| not(e.to_string()))?;
    for needed in ["_sqlx_migrations", "submissions", "submission_events"] {
        if !tables.iter().any(|t| t == needed) {
            return Err(not(format!("it has no {needed} table")));
        }
    }
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE state = 'finished') AS f, \
         (SELECT COUNT(*) FROM submission_events) AS e, \
         (SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success) AS v \
         FROM submissions",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| not(e.to_string()))?;
    let count = |c: &str| row.try_get::<i64, _>(c).map(|n| n.max(0) as u64);
    let (n, f, e) = (
        count("n").map_err(db(path))?,
        count("f").map_err(db(path))?,
        count("e").map_err(db(path))?,
    );
    Ok(Summary {
        submissions: n,
        finished: f,
        unfinished: n - f,
        events: e,
        schema: row.try_get("v").map_err(db(path))?,
        bytes: 0,
    })
}

fn sync(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io("flush", path))
}

/// Puts a snapshot back as the store of `data_dir`, which must be empty (or not exist
/// yet). The snapshot is checked first: an SQLite file, intact, with Gauntlet's tables,
/// and no migration this build does not know (a newer build's snapshot is refused; an
/// older one's is brought up to date when the store next opens).
pub async fn restore_sqlite(from: &Path, data_dir: &Path) -> Result<Summary, BackupError> {
    let known: BTreeSet<i64> = super::sqlite::MIGRATOR.iter().map(|m| m.version).collect();
    if data_dir.exists() {
        let found: Vec<String> = std::fs::read_dir(data_dir)
            .map_err(io("read", data_dir))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !found.is_empty() {
            let mut found = found;
            found.sort();
            return Err(BackupError::NotEmpty {
                dir: data_dir.to_owned(),
                found: found.join(", "),
            });
        }
    }
    let mut header = [0u8; 16];
    let read = std::fs::File::open(from)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut header))
        .map_err(io("read", from))?;
    if read < 16 || &header != b"SQLite format 3\0" {
        return Err(BackupError::NotASnapshot {
            path: from.to_owned(),
            reason: "it is not an SQLite database".into(),
        });
    }
    let mut snapshot = connect(from, true).await?;
    let summary = inspect(&mut snapshot, from).await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(&mut snapshot)
        .await
        .map_err(db(from))?;
    snapshot.close().await.map_err(db(from))?;
    let unknown: Vec<String> = applied
        .iter()
        .filter(|v| !known.contains(v))
        .map(|v| v.to_string())
        .collect();
    if !unknown.is_empty() {
        return Err(BackupError::Newer {
            path: from.to_owned(),
            unknown: unknown.join(", "),
        });
    }
    std::fs::create_dir_all(data_dir).map_err(io("create", data_dir))?;
    let target = data_dir.join(STORE_FILE);
    let partial = data_dir.join(format!(".{STORE_FILE}.partial"));
    copy_private(from, &partial)?;
    sync(&partial)?;
    std::fs::rename(&partial, &target).map_err(io("write", &target))?;
    sync(data_dir)?;
    Ok(Summary {
        bytes: std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0),
        ..summary
    })
}

/// Copies `from` into a new file `to`, created 0600.
fn copy_private(from: &Path, to: &Path) -> Result<(), BackupError> {
    let mut src = std::fs::File::open(from).map_err(io("read", from))?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(io("create", to))?;
    std::io::copy(&mut src, &mut dst).map_err(io("write", to))?;
    dst.flush().map_err(io("write", to))
}
