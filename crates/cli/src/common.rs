//! Wiring shared by the subcommands: the data dir, the bundled exercises, the grader,
//! and output that ends quietly when its reader goes away.

use std::io::Write;
use std::path::{Path, PathBuf};

use gauntlet_grader::locations;
use gauntlet_grader::runtimes::hardhat::toolchain::HardhatToolchain;
use gauntlet_grader::{Grader, GraderConfig, Toolchains};
use gauntlet_sandbox::Isolation;

use crate::Exit;

/// `--data-dir` / `GAUNTLET_DATA_DIR` and `--toolchains-dir` / `GAUNTLET_TOOLCHAINS_DIR`
/// of the local commands. Both default to the machine's cache (crates/grader/src/
/// locations.rs), so a command started from any folder finds the same prepared
/// toolchains and layers, and the jail's user can reach them.
#[derive(clap::Args, Clone, Debug)]
pub struct DataDirArg {
    /// Where prepared layers and job folders live (default: /var/cache/gauntlet as root,
    /// else $XDG_CACHE_HOME/gauntlet).
    #[arg(long = "data-dir", env = "GAUNTLET_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where prepared toolchains live (default: /var/cache/gauntlet/toolchains as root,
    /// else $XDG_CACHE_HOME/gauntlet/toolchains); shared with `gauntlet serve`.
    #[arg(long = "toolchains-dir", env = "GAUNTLET_TOOLCHAINS_DIR")]
    pub toolchains_dir: Option<PathBuf>,
}

impl DataDirArg {
    /// The data dir and the toolchains dir, created and absolute.
    pub fn resolve(&self) -> Result<(PathBuf, PathBuf), Exit> {
        let data = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => locations::cache_dir(),
        };
        let data = resolve_data_dir(&data)?;
        let tools = match &self.toolchains_dir {
            Some(dir) => dir.clone(),
            None => locations::default_toolchains_dir(),
        };
        Ok((data, resolve_data_dir(&tools)?))
    }
}

/// `--isolation` / `GAUNTLET_ISOLATION` of `grade` and `exercises check`: what runs the
/// learner's code, as the service's workers read it.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct IsolationArg {
    /// What runs the submission's code: `namespaces` (the jail's layers on the host
    /// kernel) or `gvisor` (gVisor's kernel inside the jail). An exercise's own
    /// `isolation:` can only make it stronger; exit 3 when gVisor is missing or broken.
    #[arg(long, env = "GAUNTLET_ISOLATION", default_value = "namespaces",
          value_parser = gauntlet_server::settings::isolation_parser())]
    pub isolation: Isolation,
}

pub use gauntlet_server::app::bundled;
pub use gauntlet_server::settings::EgressArgs;

/// The Hardhat toolchain of this build, prepared or not.
pub fn hardhat_toolchain(toolchains: &Path) -> Result<HardhatToolchain, Exit> {
    HardhatToolchain::new(&bundled("toolchains").join("hardhat"), toolchains).map_err(Exit::failed)
}

/// Creates the data dir if needed and returns its absolute path (jails mount what is
/// below it by absolute path).
pub fn resolve_data_dir(dir: &Path) -> Result<PathBuf, Exit> {
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::canonicalize(dir))
        .map_err(|e| Exit::failed(format!("data dir {}: {e}", dir.display())))
}

/// A grader for local commands (`grade`, `exercises check`): one chain is enough.
pub fn grader(
    dirs: &DataDirArg,
    egress: &EgressArgs,
    isolation: IsolationArg,
) -> Result<Grader, Exit> {
    let (data_dir, prepared) = dirs.resolve()?;
    let mut cfg = GraderConfig::new(data_dir);
    egress.apply(&mut cfg);
    cfg.isolation = isolation.isolation;
    let toolchains = Toolchains {
        sources: bundled("toolchains"),
        prepared,
        anvil_pool: 1,
    };
    Grader::standard(cfg, toolchains).map_err(|e| match e {
        // An unreachable data dir is the caller's choice of folder: bad input.
        gauntlet_grader::GradeError::Exercise(m) => Exit::usage(m),
        other => Exit::failed(other),
    })
}

/// An `--exercise` value: a package folder, or the id of a bundled exercise
/// (`reverse-words`). A folder of that name in the working directory wins.
pub fn exercise_dir(arg: &Path) -> Result<PathBuf, Exit> {
    if arg.exists() {
        return Ok(arg.to_owned());
    }
    let bundled_dir = bundled("exercises");
    let ids = bundled_ids(&bundled_dir);
    let name = arg.to_str().unwrap_or_default();
    if !name.contains('/') && ids.iter().any(|id| id == name) {
        return Ok(bundled_dir.join(name));
    }
    let mut reason = format!(
        "--exercise {}: no such folder, and no bundled exercise of that id",
        arg.display()
    );
    let close = ids
        .iter()
        .filter(|id| strsim::jaro(id, name) > 0.8)
        .max_by(|a, b| strsim::jaro(a, name).total_cmp(&strsim::jaro(b, name)));
    match close {
        Some(id) => reason.push_str(&format!("; tip: a similar one exists: '{id}'")),
        None if !ids.is_empty() => {
            reason.push_str(&format!(" (bundled: {})", ids.join(", ")));
        }
        None => {}
    }
    Err(Exit::usage(reason))
}

/// The ids of the bundled exercises (folders with an `exercise.yaml`), sorted.
fn bundled_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("exercise.yaml").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}

/// Prints `text` and a newline on stdout. When the reader has gone away (`gauntlet
/// grade | head`), the command ends quietly instead of failing on a broken pipe.
pub fn print_stdout(text: &str) -> Result<(), Exit> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Exit::broken_pipe()),
        Err(e) => Err(Exit::failed(format!("stdout: {e}"))),
    }
}
