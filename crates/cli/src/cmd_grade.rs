//! `gauntlet grade`: grade one submission locally and print the result JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::Exit;

#[derive(Args)]
pub struct GradeArgs {
    #[arg(long)]
    exercise: PathBuf,
    #[arg(long, conflicts_with = "archive", required_unless_present = "archive")]
    files: Option<PathBuf>,
    #[arg(long)]
    archive: Option<PathBuf>,
}

pub fn run(args: GradeArgs) -> Result<ExitCode, Exit> {
    let _ = args;
    Err(Exit::failed("grade not implemented yet"))
}
