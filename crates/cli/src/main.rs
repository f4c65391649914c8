//! The `gauntlet` binary: argument parsing and wiring only.
//!
//! Conventions (docs/cli.md): exit 0 on success (a grade below 100 included); 1 when
//! the work ran but failed; 2 on bad usage or input, with a one-line reason that keeps
//! clap's tips; 3 when the host cannot provide the isolation asked for (nothing then
//! runs unconfined). Output to a closed pipe ends the command quietly.

#![forbid(unsafe_code)]

mod cmd_backup;
mod cmd_exercises;
mod cmd_grade;
mod cmd_sandbox;
mod cmd_serve;
mod cmd_toolchains;
mod common;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use gauntlet_server::settings::SecretFlag;

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
    /// A consistent snapshot of the embedded store, taken while the service runs.
    Backup(cmd_backup::BackupArgs),
    /// Put a snapshot back into an empty data dir.
    Restore(cmd_backup::RestoreArgs),
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

/// Clap's message as one line: the error and every tip (`a similar argument exists:
/// '--exercise'`, `to pass '/bin/true' as a value, use '-- /bin/true'`), without the
/// `error: ` prefix and the usage block.
fn usage_reason(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut parts: Vec<String> = Vec::new();
    let mut usage = None;
    for paragraph in text.split("\n\n") {
        let paragraph = paragraph.trim();
        if let Some(u) = paragraph.strip_prefix("Usage:") {
            usage = Some(u.trim());
            continue;
        }
        if paragraph.is_empty() || paragraph.starts_with("For more information") {
            continue;
        }
        let line: Vec<&str> = paragraph.lines().map(str::trim).collect();
        parts.push(line.join(" "));
    }
    // clap tips `-- VALUE` only for values that look like flags; a command given
    // without `--` (`sandbox run /bin/true`) gets the same tip here.
    if let (ErrorKind::UnknownArgument, Some(ContextValue::String(arg)), Some(usage)) =
        (e.kind(), e.get(ContextKind::InvalidArg), usage)
    {
        if let (false, Some((before, _))) = (arg.starts_with('-'), usage.split_once(" -- <")) {
            parts.push(format!(
                "tip: the command to run goes after '--': {before} -- {arg}"
            ));
        }
    }
    let line = parts.join("; ");
    line.strip_prefix("error: ").unwrap_or(&line).to_owned()
}

/// Parses the command line. For `serve` and `worker`, also says which secrets came as
/// flags (from clap's own record of where each value came from).
fn parse(args: &[OsString]) -> Result<(Command, Vec<SecretFlag>), clap::Error> {
    if args.get(1).is_some_and(|a| a == "sandbox") {
        let rest = std::iter::once("gauntlet sandbox".into()).chain(args[2..].iter().cloned());
        return SandboxCli::try_parse_from(rest).map(|c| (Command::Sandbox(c.command), vec![]));
    }
    let matches = Cli::command().try_get_matches_from(args)?;
    let flagged = match matches.subcommand() {
        Some(("serve" | "worker", sub)) => SecretFlag::ALL
            .into_iter()
            // `worker` has only some of them: ask only about the ones it has.
            .filter(|f| sub.ids().any(|id| id == f.id()))
            .filter(|f| sub.value_source(f.id()) == Some(ValueSource::CommandLine))
            .collect(),
        _ => Vec::new(),
    };
    Ok((Cli::from_arg_matches(&matches)?.command, flagged))
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

impl Exit {
    /// The reader of our output went away (`gauntlet grade | head`): stop, quietly.
    pub fn broken_pipe() -> Self {
        Exit {
            code: 0,
            message: String::new(),
        }
    }
}

/// Writes one line to stderr; a closed stderr is not worth a panic.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let (command, secret_flags) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => match e.kind() {
            // --help and --version: clap's own text on stdout.
            _ if !e.use_stderr() => {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // `gauntlet` alone: the help, on stderr, as bad usage.
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
                return ExitCode::from(2);
            }
            // Bad usage: one line, tips included, as for every other refusal.
            _ => {
                say(&format!("gauntlet: {} (see --help)", usage_reason(&e)));
                return ExitCode::from(2);
            }
        },
    };
    let result = match command {
        Command::Serve(args) => cmd_serve::serve(args, secret_flags),
        Command::Worker(args) => cmd_serve::worker(args, secret_flags),
        Command::Sandbox(cmd) => cmd_sandbox::run(cmd),
        Command::Exercises(cmd) => cmd_exercises::run(cmd),
        Command::Grade(args) => cmd_grade::run(args),
        Command::Toolchains(cmd) => cmd_toolchains::run(cmd),
        Command::Backup(args) => cmd_backup::backup(args),
        Command::Restore(args) => cmd_backup::restore(args),
    };
    match result {
        Ok(code) => code,
        Err(exit) => {
            if !exit.message.is_empty() {
                say(&format!("gauntlet: {}", exit.message));
            }
            ExitCode::from(exit.code)
        }
    }
}
