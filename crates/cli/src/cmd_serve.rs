//! `gauntlet serve` and `gauntlet worker`.

use std::process::ExitCode;

use clap::Args;

use crate::Exit;

#[derive(Args)]
pub struct ServeArgs {}

#[derive(Args)]
pub struct WorkerArgs {}

pub fn serve(_args: ServeArgs) -> Result<ExitCode, Exit> {
    Err(Exit::failed("serve not implemented yet"))
}

pub fn worker(_args: WorkerArgs) -> Result<ExitCode, Exit> {
    Err(Exit::failed("worker not implemented yet"))
}
