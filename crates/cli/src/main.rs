//! The `gauntlet` binary: argument parsing and wiring only.
//!
//! Exit codes (CONTRACTS §1): 0 success; 1 the work ran but failed; 2 bad usage or
//! bad input; 3 the host cannot provide the isolation asked for.

mod cmd_exercises;
mod cmd_grade;
mod cmd_sandbox;
mod cmd_serve;
mod cmd_toolchains;
mod common;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "gauntlet", version, about = "Grade untrusted code, safely")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// HTTP API + embedded workers + embedded SQLite store.
    Serve(cmd_serve::ServeArgs),
    /// A standalone worker against a shared database.
    Worker(cmd_serve::WorkerCmdArgs),
    /// Run commands in the sandbox.
    #[command(subcommand)]
    Sandbox(cmd_sandbox::SandboxCommand),
    /// Exercise packages.
    #[command(subcommand)]
    Exercises(cmd_exercises::ExercisesCommand),
    /// Grade one submission locally, no server.
    Grade(cmd_grade::GradeArgs),
    /// Toolchains the runtimes need.
    #[command(subcommand)]
    Toolchains(cmd_toolchains::ToolchainsCommand),
}

/// `gauntlet sandbox …` on its own: it parses only the sandbox's arguments. Building
/// the whole command tree (every `serve` setting) would add a measurable share to the
/// start-up of each jail, which is the figure the sandbox benchmark compares.
#[derive(Parser)]
#[command(
    name = "gauntlet sandbox",
    version,
    about = "Run commands in the sandbox"
)]
struct SandboxCli {
    #[command(subcommand)]
    command: cmd_sandbox::SandboxCommand,
}

/// Clap's message as one line: its first paragraph (the error and, for missing
/// arguments, their names), without the `error: ` prefix and the usage block.
fn usage_reason(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let paragraph: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = paragraph.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_owned()
}

/// An error that knows its exit code; everything else at this edge is `anyhow`.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    pub fn usage(message: impl std::fmt::Display) -> Self {
        Exit {
            code: 2,
            message: message.to_string(),
        }
    }
    pub fn unsupported(message: impl std::fmt::Display) -> Self {
        Exit {
            code: 3,
            message: message.to_string(),
        }
    }
    pub fn failed(message: impl std::fmt::Display) -> Self {
        Exit {
            code: 1,
            message: message.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let parsed = if args.get(1).is_some_and(|a| a == "sandbox") {
        let rest = std::iter::once("gauntlet sandbox".into()).chain(args[2..].iter().cloned());
        SandboxCli::try_parse_from(rest).map(|c| Command::Sandbox(c.command))
    } else {
        Cli::try_parse_from(&args).map(|c| c.command)
    };
    let command = match parsed {
        Ok(command) => command,
        Err(e) if !e.use_stderr() => {
            // --help and --version: clap's own text on stdout.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Bad usage: one line, as for every other refusal.
            eprintln!("gauntlet: {} (see --help)", usage_reason(&e));
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Serve(args) => cmd_serve::serve(args),
        Command::Worker(args) => cmd_serve::worker(args),
        Command::Sandbox(cmd) => cmd_sandbox::run(cmd),
        Command::Exercises(cmd) => cmd_exercises::run(cmd),
        Command::Grade(args) => cmd_grade::run(args),
        Command::Toolchains(cmd) => cmd_toolchains::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(exit) => {
            eprintln!("gauntlet: {}", exit.message);
            ExitCode::from(exit.code)
        }
    }
}
