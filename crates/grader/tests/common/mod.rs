//! Helpers shared by the grader's integration tests: the repository, the machine's
//! prepared toolchains, and a grader with every standard runtime on them.

#![allow(dead_code)]

pub mod git_server;
pub mod packages;

use std::fs;
use std::path::{Path, PathBuf};

use gauntlet_grader::runtimes::hardhat::toolchain::HardhatToolchain;
use gauntlet_grader::{Grader, GraderConfig, Toolchains};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder of prepared toolchains the tests share: `GAUNTLET_TOOLCHAINS_DIR`, else
/// the machine's (`scripts/test.sh` prepares them there), created when missing.
pub fn toolchains_dir() -> PathBuf {
    let dir = std::env::var_os("GAUNTLET_TOOLCHAINS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(gauntlet_grader::locations::default_toolchains_dir);
    fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

/// The prepared Hardhat toolchain (preparing is a no-op once `scripts/test.sh` has,
/// an `npm ci` from the lockfile otherwise).
pub fn hardhat_toolchain() -> PathBuf {
    HardhatToolchain::new(&repo().join("toolchains/hardhat"), &toolchains_dir())
        .expect("toolchain source")
        .prepare(&mut |_| {})
        .expect("prepare the hardhat toolchain")
}

/// A grader with the standard runtimes, Solidity included, its data under `data`, on
/// the shared toolchains (the Hardhat one prepared), with `anvil_pool` chains.
pub fn standard_grader(data: &Path, anvil_pool: usize) -> Grader {
    let grader = Grader::standard(
        GraderConfig::new(data.to_owned()),
        Toolchains {
            sources: repo().join("toolchains"),
            prepared: toolchains_dir(),
            anvil_pool,
        },
    )
    .expect("grader");
    grader
        .hardhat()
        .expect("standard grader")
        .toolchain()
        .prepare(&mut |_| {})
        .expect("prepare the hardhat toolchain");
    grader
}
