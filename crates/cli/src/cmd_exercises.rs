//! `gauntlet exercises check`: validate packages and grade their solution and starter.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::Exit;

#[derive(Subcommand)]
pub enum ExercisesCommand {
    /// Validate packages; the solution must score 100 and the starter must not.
    Check { dirs: Vec<PathBuf> },
}

pub fn run(cmd: ExercisesCommand) -> Result<ExitCode, Exit> {
    let _ = cmd;
    Err(Exit::failed("exercises check not implemented yet"))
}
