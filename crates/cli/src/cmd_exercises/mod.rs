//! `gauntlet exercises …`: check packages, and scaffold new ones.

mod check;
mod new;

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
        #[command(flatten)]
        egress: common::EgressArgs,
        #[command(flatten)]
        isolation: common::IsolationArg,
    },
    /// Create a package that passes `check` as it is, to make your own from.
    New {
        /// The exercise id, which is also the new folder's name: [a-z0-9][a-z0-9-]{0,63}.
        id: String,
        /// The runtime the exercise runs on.
        #[arg(long, value_enum)]
        runtime: new::Runtime,
        /// The folder to create the package in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The title (default: made from the id).
        #[arg(long)]
        title: Option<String>,
    },
}

pub fn run(cmd: ExercisesCommand) -> Result<ExitCode, Exit> {
    match cmd {
        ExercisesCommand::Check {
            dirs,
            jobs,
            data,
            egress,
            isolation,
        } => {
            let dirs = if dirs.is_empty() {
                vec![common::bundled("exercises")]
            } else {
                dirs
            };
            let grader = common::grader(&data, &egress, isolation)?;
            Ok(if check::check(&grader, &dirs, jobs)? {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        ExercisesCommand::New {
            id,
            runtime,
            dir,
            title,
        } => {
            let created = new::scaffold(&id, runtime, &dir, title)?;
            eprintln!("{}", new::next_steps(&created, runtime));
            Ok(ExitCode::SUCCESS)
        }
    }
}
