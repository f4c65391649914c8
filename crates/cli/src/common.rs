//! Wiring shared by the subcommands: the data dir, the bundled exercises, the grader.

use std::path::{Path, PathBuf};

use gauntlet_grader::locations;
use gauntlet_grader::runtimes::hardhat::toolchain::HardhatToolchain;
use gauntlet_grader::{Grader, GraderConfig, Toolchains};

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

pub use gauntlet_server::app::bundled;

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
pub fn grader(dirs: &DataDirArg) -> Result<Grader, Exit> {
    let (data_dir, prepared) = dirs.resolve()?;
    let toolchains = Toolchains {
        sources: bundled("toolchains"),
        prepared,
        anvil_pool: 1,
    };
    Grader::standard(GraderConfig::new(data_dir), toolchains).map_err(|e| match e {
        // An unreachable data dir is the caller's choice of folder: bad input.
        gauntlet_grader::GradeError::Exercise(m) => Exit::usage(m),
        other => Exit::failed(other),
    })
}
