//! `gauntlet exercises …`: check packages, and scaffold new ones.

mod check;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::common::{self, DataDirArg};
use crate::Exit;

#[derive(Subcommand)]
pub enum ExercisesCommand {
    /// Validate packages; the solution must score 100 and the starter must not.
    Check {
        /// Package folders, or folders of packages (default: the bundled exercises).
        dirs: Vec<PathBuf>,
        /// Grades run at once (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        #[command(flatten)]
        data: DataDirArg,
    },
}

pub fn run(cmd: ExercisesCommand) -> Result<ExitCode, Exit> {
    match cmd {
        ExercisesCommand::Check { dirs, jobs, data } => {
            let dirs = if dirs.is_empty() {
                vec![common::bundled("exercises")]
            } else {
                dirs
            };
            let grader = common::grader(&data)?;
            Ok(if check::check(&grader, &dirs, jobs)? {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
