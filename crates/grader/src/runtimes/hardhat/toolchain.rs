//! Toolchains a runtime installs once per pinned version: the Hardhat one is an npm
//! tree installed from its committed lockfile, with no lifecycle scripts, into
//! `<toolchains dir>/hardhat/<source hash>/`, checked, made read-only, and
//! published by rename so a half-prepared tree is never used.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error("toolchain source {0} has no package-lock.json")]
    NoLockfile(PathBuf),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("{step} failed: {detail}")]
    Step { step: &'static str, detail: String },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ToolchainError {
    let what = what.into();
    move |source| ToolchainError::Io { what, source }
}

/// The files of a toolchain source that belong in the prepared tree.
const HARDHAT_FILES: &[&str] = &[
    "package.json",
    "package-lock.json",
    "hardhat.config.js",
    "lib",
    "workspace",
    "tools",
];

/// The Solidity compiler and Anvil versions the lockfile pins, checked after install.
pub const SOLC_VERSION_PREFIX: &str = "0.8.30+";
pub const ANVIL_VERSION: &str = "1.7.1";
/// Where the Anvil binary sits in the prepared tree.
pub const ANVIL_BIN: &str = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

/// A Hardhat toolchain source (the repository's `toolchains/hardhat`) and where its
/// prepared tree lives.
#[derive(Debug, Clone)]
pub struct HardhatToolchain {
    pub source: PathBuf,
    /// `<toolchains dir>/hardhat`
    pub root: PathBuf,
    /// First 16 hex digits of the SHA-256 over the lockfile and every other source
    /// file that goes into the tree (config, reporter, tools): the prepared tree's
    /// name, so a changed reporter is never run from a tree prepared before.
    pub version: String,
}

impl HardhatToolchain {
    /// `toolchains` is the folder all prepared toolchains live in (by default
    /// [`crate::locations::default_toolchains_dir`]).
    pub fn new(source: &Path, toolchains: &Path) -> Result<Self, ToolchainError> {
        let lock = source.join("package-lock.json");
        if !lock.is_file() {
            return Err(ToolchainError::NoLockfile(source.to_owned()));
        }
        let mut digest = Sha256::new();
        for name in HARDHAT_FILES {
            hash_source(&source.join(name), name, &mut digest)
                .map_err(io_err(format!("read {}", source.join(name).display())))?;
        }
        let hash = hex(&digest.finalize());
        Ok(HardhatToolchain {
            source: source.to_owned(),
            root: toolchains.join("hardhat"),
            version: hash[..16].to_owned(),
        })
    }

    /// The prepared tree, whether or not it exists yet.
    pub fn dir(&self) -> PathBuf {
        self.root.join(&self.version)
    }

    pub fn is_prepared(&self) -> bool {
        self.dir().join(ANVIL_BIN).is_file()
    }

    /// Installs the toolchain unless this version is already prepared. `progress`
    /// hears each step as it starts.
    pub fn prepare(&self, progress: &mut dyn FnMut(&str)) -> Result<PathBuf, ToolchainError> {
        let dir = self.dir();
        if self.is_prepared() {
            progress("already prepared");
            return Ok(dir);
        }
        fs::create_dir_all(&self.root).map_err(io_err("create the toolchains folder"))?;
        // One preparer at a time, across threads and processes; the others find the
        // tree ready when they get the lock.
        let lock = fs::File::create(self.root.join(".prepare.lock"))
            .map_err(io_err("open the prepare lock"))?;
        lock.lock().map_err(io_err("take the prepare lock"))?;
        if self.is_prepared() {
            progress("already prepared");
            return Ok(dir);
        }
        self.sweep_staging();
        let staging = self.root.join(format!(
            ".tmp-{}-{:016x}",
            self.version,
            rand::random::<u64>()
        ));
        fs::create_dir(&staging).map_err(io_err("create the staging folder"))?;
        let result = self.assemble(&staging, progress);
        if let Err(e) = result {
            make_writable(&staging).ok();
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        progress("publishing");
        match fs::rename(&staging, &dir) {
            Ok(()) => Ok(dir),
            Err(_) if self.is_prepared() => {
                make_writable(&staging).ok();
                let _ = fs::remove_dir_all(&staging);
                Ok(dir)
            }
            Err(e) => Err(io_err("publish the toolchain")(e)),
        }
    }

    /// Removes staging folders of preparers that died (we hold the lock: none is live).
    fn sweep_staging(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                make_writable(&entry.path()).ok();
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }

    fn assemble(
        &self,
        staging: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), ToolchainError> {
        progress("copying the pinned manifest and config");
        for name in HARDHAT_FILES {
            let from = self.source.join(name);
            let to = staging.join(name);
            if from.is_dir() {
                fs::create_dir(&to).map_err(io_err(format!("create {name}")))?;
                crate::tree::copy_tree(&from, &to).map_err(io_err(format!("copy {name}")))?;
            } else {
                fs::copy(&from, &to).map_err(io_err(format!("copy {name}")))?;
            }
        }
        progress("npm ci --ignore-scripts (from the lockfile, no lifecycle scripts)");
        run(
            "npm ci",
            Command::new("npm")
                .args([
                    "ci",
                    "--ignore-scripts",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ])
                .current_dir(staging),
        )?;
        progress("checking solc and anvil");
        let solc = run(
            "solc version check",
            Command::new("node")
                .args(["-p", "require('solc').version()"])
                .current_dir(staging),
        )?;
        if !solc.trim().starts_with(SOLC_VERSION_PREFIX) {
            return Err(ToolchainError::Step {
                step: "solc version check",
                detail: format!("expected {SOLC_VERSION_PREFIX}…, found {}", solc.trim()),
            });
        }
        let anvil = run(
            "anvil version check",
            Command::new(staging.join(ANVIL_BIN)).arg("--version"),
        )?;
        if !anvil.contains(ANVIL_VERSION) {
            return Err(ToolchainError::Step {
                step: "anvil version check",
                detail: format!("expected {ANVIL_VERSION}, found {}", anvil.trim()),
            });
        }
        progress("decoding solc's WebAssembly once (tools/prepare-solc.js)");
        run(
            "solc preparation",
            Command::new("node")
                .arg("tools/prepare-solc.js")
                .arg(staging)
                .current_dir(staging),
        )?;
        progress("making the tree read-only");
        make_read_only(staging).map_err(io_err("make the toolchain read-only"))?;
        Ok(())
    }
}

/// Feeds a source file, or every file below a source folder in name order, with
/// their relative names, into `digest`.
fn hash_source(path: &Path, name: &str, digest: &mut Sha256) -> io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(path)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let child = format!("{name}/{}", entry.file_name().to_string_lossy());
            hash_source(&entry.path(), &child, digest)?;
        }
        return Ok(());
    }
    let bytes = fs::read(path)?;
    digest.update((name.len() as u64).to_le_bytes());
    digest.update(name.as_bytes());
    digest.update((bytes.len() as u64).to_le_bytes());
    digest.update(&bytes);
    Ok(())
}

fn run(step: &'static str, cmd: &mut Command) -> Result<String, ToolchainError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ToolchainError::Step {
            step,
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        return Err(ToolchainError::Step {
            step,
            detail: format!(
                "{}: {}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Files 0444 (0555 when executable), folders 0555; links are left alone, never followed.
fn make_read_only(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            make_read_only(&path)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o555))?;
        } else if kind.is_file() {
            let mode = entry.metadata()?.permissions().mode();
            let ro = if mode & 0o111 != 0 { 0o555 } else { 0o444 };
            fs::set_permissions(&path, fs::Permissions::from_mode(ro))?;
        }
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o555))
}

fn make_writable(dir: &Path) -> io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            make_writable(&entry.path())?;
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
