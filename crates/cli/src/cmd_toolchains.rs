//! `gauntlet toolchains prepare`: install the pinned toolchains runtimes need, once.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use crate::common::{self, DataDirArg};
use crate::Exit;

#[derive(Subcommand)]
pub enum ToolchainsCommand {
    /// Install the Hardhat toolchain (npm, from the committed lockfile, no lifecycle
    /// scripts) into the toolchains folder, unless this version is already there.
    Prepare {
        #[command(flatten)]
        data: DataDirArg,
    },
}

pub fn run(cmd: ToolchainsCommand) -> Result<ExitCode, Exit> {
    let ToolchainsCommand::Prepare { data } = cmd;
    let (_, toolchains) = data.resolve()?;
    let toolchain = common::hardhat_toolchain(&toolchains)?;
    let bar = ProgressBar::new(6);
    bar.set_style(
        ProgressStyle::with_template("{spinner} hardhat [{pos}/{len}] {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let dir = toolchain
        .prepare(&mut |step| {
            bar.inc(1);
            bar.set_message(step.to_owned());
        })
        .map_err(|e| {
            bar.abandon();
            Exit::failed(format!("hardhat toolchain: {e}"))
        })?;
    bar.finish_and_clear();
    // Rootless jails bind it by path: a folder the sandbox user cannot traverse makes
    // every Solidity grade fail to start, which is better said now. (As root the
    // sandbox opens it itself, wherever it is.)
    if let Err(why) = gauntlet_grader::jail_can_reach(&dir) {
        return Err(Exit::failed(format!(
            "hardhat toolchain prepared in {}, but the sandbox cannot use it: {why}",
            dir.display()
        )));
    }
    eprintln!(
        "hardhat toolchain {} ready in {}",
        toolchain.version,
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
