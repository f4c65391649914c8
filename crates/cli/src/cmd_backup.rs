//! `gauntlet backup` and `gauntlet restore`: a consistent snapshot of the embedded SQLite
//! store, taken while the service runs, and its return into an empty data dir
//! (crates/queue/src/store/backup.rs does the work; docs/queue.md, "Backups").

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use gauntlet_queue::store::backup::{self, BackupError, Summary, STORE_FILE};
use gauntlet_queue::store::StoreLocation;

use crate::Exit;

#[derive(Args)]
pub struct BackupArgs {
    /// The snapshot to write: a new file (never overwritten), or `-` for standard output
    /// (to pipe it into age or gpg, so that no unencrypted copy stays on disk).
    #[arg(long)]
    to: PathBuf,
    /// The data dir of the store to back up (the one `gauntlet serve` uses).
    #[arg(long, env = "GAUNTLET_DATA_DIR", default_value = ".data")]
    data_dir: PathBuf,
    /// The store, when not the data dir's own: sqlite:PATH. A PostgreSQL store is backed
    /// up with pg_dump (docs/queue.md, "Backups").
    #[arg(
        long = "database-url",
        visible_alias = "database",
        env = "DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The snapshot `gauntlet backup` wrote, or `-` to read it from standard input.
    #[arg(long)]
    from: PathBuf,
    /// The data dir to restore into: it must be empty, or not exist yet.
    #[arg(long, env = "GAUNTLET_DATA_DIR", default_value = ".data")]
    data_dir: PathBuf,
}

fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Exit::failed)
}

/// Refusals are the caller's to fix (exit 2); the rest are failures (exit 1).
fn exit(e: BackupError) -> Exit {
    match e {
        BackupError::NoStore(_)
        | BackupError::Exists(_)
        | BackupError::NotEmpty { .. }
        | BackupError::NotASnapshot { .. }
        | BackupError::Newer { .. } => Exit::usage(e),
        BackupError::Io { .. } | BackupError::Database { .. } => Exit::failed(e),
    }
}

fn describe(s: &Summary) -> String {
    format!(
        "{} submissions ({} finished, {} queued or running), {} events, schema {}, {:.1} MiB",
        s.submissions,
        s.finished,
        s.unfinished,
        s.events,
        s.schema,
        s.bytes as f64 / (1 << 20) as f64
    )
}

/// A private folder for a snapshot on its way through standard input or output.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, Exit> {
        let dir = std::env::temp_dir().join(format!(
            "gauntlet-backup-{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Exit::failed(format!("create {}: {e}", dir.display())))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn backup(args: BackupArgs) -> Result<ExitCode, Exit> {
    let store = match args.database_url.as_deref().filter(|u| !u.trim().is_empty()) {
        None => args.data_dir.join(STORE_FILE),
        Some(url) => match StoreLocation::parse(url) {
            Ok(StoreLocation::Sqlite { path }) => path,
            Ok(StoreLocation::Postgres { .. }) => {
                return Err(Exit::usage(
                    "DATABASE_URL names a PostgreSQL store: back it up with pg_dump (docs/queue.md, \"Backups\")",
                ))
            }
            Err(e) => return Err(Exit::usage(e)),
        },
    };
    let rt = runtime()?;
    if args.to.as_os_str() == "-" {
        let scratch = Scratch::new()?;
        let file = scratch.0.join("snapshot");
        let summary = rt
            .block_on(backup::backup_sqlite(&store, &file))
            .map_err(exit)?;
        stream(&file, &mut std::io::stdout().lock())?;
        eprintln!("backed up {} to standard output", describe(&summary));
    } else {
        let summary = rt
            .block_on(backup::backup_sqlite(&store, &args.to))
            .map_err(exit)?;
        eprintln!("backed up {} to {}", describe(&summary), args.to.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn stream(file: &Path, out: &mut impl Write) -> Result<(), Exit> {
    let mut f = std::fs::File::open(file).map_err(Exit::failed)?;
    std::io::copy(&mut f, out)
        .and_then(|_| out.flush())
        .map_err(|e| Exit::failed(format!("write the snapshot: {e}")))?;
    Ok(())
}

pub fn restore(args: RestoreArgs) -> Result<ExitCode, Exit> {
    let rt = runtime()?;
    let _scratch;
    let from = if args.from.as_os_str() == "-" {
        let scratch = Scratch::new()?;
        let file = scratch.0.join("snapshot");
        let mut out = std::fs::File::create(&file).map_err(Exit::failed)?;
        std::io::copy(&mut std::io::stdin().lock(), &mut out)
            .map_err(|e| Exit::failed(format!("read the snapshot: {e}")))?;
        _scratch = scratch;
        file
    } else {
        args.from.clone()
    };
    let summary = rt
        .block_on(backup::restore_sqlite(&from, &args.data_dir))
        .map_err(exit)?;
    eprintln!(
        "restored {} into {}; the queued and running ones run when the service starts",
        describe(&summary),
        args.data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
