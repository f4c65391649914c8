//! `gauntlet serve` and `gauntlet worker`: settings in (crates/server/src/settings.rs
//! holds every flag and variable), the assembled service out (crates/server/src/app.rs).

use std::process::ExitCode;

use clap::Args;
use gauntlet_server::app::{self, AppError};
use gauntlet_server::settings::{SecretFlag, Serve, Worker};

use crate::Exit;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    settings: Box<Serve>,
}

#[derive(Args)]
pub struct WorkerCmdArgs {
    #[command(flatten)]
    settings: Box<Worker>,
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
    args.settings.api.common.secrets_on_command_line = secret_flags;
    runtime()?
        .block_on(app::serve(*args.settings))
        .map_err(exit)?;
    Ok(ExitCode::SUCCESS)
}

pub fn worker(mut args: WorkerCmdArgs, secret_flags: Vec<SecretFlag>) -> Result<ExitCode, Exit> {
    args.settings.common.secrets_on_command_line = secret_flags;
    runtime()?
        .block_on(app::worker(*args.settings))
        .map_err(exit)?;
    Ok(ExitCode::SUCCESS)
}
