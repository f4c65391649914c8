//! `gauntlet serve` and `gauntlet worker`: settings in, the assembled service out
//! (crates/server/src/app.rs does the assembling).

use std::process::ExitCode;

use clap::Args;
use gauntlet_server::app::{self, AppError, WorkerArgs};
use gauntlet_server::settings::{SecretFlag, Settings};

use crate::Exit;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    workers: WorkerArgs,
    /// Run the API only (workers elsewhere share the database).
    #[arg(long)]
    no_workers: bool,
}

#[derive(Args)]
pub struct WorkerCmdArgs {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    workers: WorkerArgs,
}

fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Exit::failed)
}

fn exit(e: AppError) -> Exit {
    match e {
        AppError::Config(m) => Exit::usage(m),
        AppError::Exercises(m) | AppError::Runtime(m) => Exit::failed(m),
    }
}

pub fn serve(mut args: ServeArgs, secret_flags: Vec<SecretFlag>) -> Result<ExitCode, Exit> {
    args.settings.secrets_on_command_line = secret_flags;
    runtime()?
        .block_on(app::serve(args.settings, args.workers, !args.no_workers))
        .map_err(exit)?;
    Ok(ExitCode::SUCCESS)
}

pub fn worker(mut args: WorkerCmdArgs, secret_flags: Vec<SecretFlag>) -> Result<ExitCode, Exit> {
    args.settings.secrets_on_command_line = secret_flags;
    runtime()?
        .block_on(app::worker(args.settings, args.workers))
        .map_err(exit)?;
    Ok(ExitCode::SUCCESS)
}
