//! Wiring shared by the subcommands: the data dir, the bundled exercises, the grader.

use std::path::PathBuf;

use gauntlet_grader::{Grader, GraderConfig, Registry};

use crate::Exit;

/// `--data-dir` / `GAUNTLET_DATA_DIR`, default `.data`.
#[derive(clap::Args, Clone, Debug)]
pub struct DataDirArg {
    /// Where prepared layers, job folders and the embedded database live.
    #[arg(long = "data-dir", env = "GAUNTLET_DATA_DIR", default_value = ".data")]
    pub data_dir: PathBuf,
}

/// The exercises folder when none is given: `./exercises`, else the one this binary
/// was built with.
pub fn bundled_exercises() -> PathBuf {
    let here = PathBuf::from("exercises");
    if here.is_dir() {
        return here;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../exercises"))
}

/// Every runtime this build knows.
pub fn registry() -> Registry {
    Registry::system()
}

pub fn grader(data_dir: PathBuf) -> Result<Grader, Exit> {
    Grader::new(GraderConfig::new(data_dir), registry()).map_err(Exit::failed)
}
