//! `gauntlet sandbox run` and `gauntlet sandbox doctor`.

use std::process::ExitCode;

use clap::Subcommand;

use crate::Exit;

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Run one command in the sandbox and print a JSON report.
    Run {
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// List what this host supports.
    Doctor,
}

pub fn run(cmd: SandboxCommand) -> Result<ExitCode, Exit> {
    let _ = cmd;
    Err(Exit::unsupported("sandbox not implemented yet"))
}
