//! The test runners the `python`, `node` and `shell` runtimes ship in every prepared
//! workspace, at `.gauntlet/runner/`: the trusted judges (`judge.py`, `judge.js`), the
//! untrusted harnesses they start for each call into the learner's code, the
//! confinement every process running the learner's code starts in (`confine.py`, a
//! Landlock domain of its own), and the value encoding both python sides share
//! (`wire.py`). Why a submission cannot forge their results is written at the top of
//! each judge; the trust model as a whole is in exercises/README.md. With them come
//! the warm preambles (`warm.py`, `warm.js`, and `warm-job.js` which receives the
//! job); the `hardhat` runtime ships only its own preamble (`warm-hardhat.js`) and
//! `warm-job.js`.
//!
//! They live in the binary (so the one binary is all a host needs), are written into
//! each prepared layer (root-owned lower layer: read-only to the jail, and
//! `.gauntlet/` is a protected path no submission may write), and their hash is part
//! of the runtimes' version, so a layer is rebuilt whenever they change.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// Where the runners sit in the workspace.
pub const DIR: &str = ".gauntlet/runner";

/// The runner files of the `python`, `node` and `shell` runtimes, by name.
pub const FILES: [(&str, &[u8]); 9] = [
    ("judge.py", include_bytes!("../../runners/judge.py")),
    ("confine.py", include_bytes!("../../runners/confine.py")),
    ("harness.py", include_bytes!("../../runners/harness.py")),
    ("wire.py", include_bytes!("../../runners/wire.py")),
    ("judge.js", include_bytes!("../../runners/judge.js")),
    ("harness.js", include_bytes!("../../runners/harness.js")),
    // The warm jails' preambles (warm.rs): they load the interpreter and runner
    // before the job, then write the submission and run the test command in-process.
    ("warm.py", include_bytes!("../../runners/warm.py")),
    ("warm.js", include_bytes!("../../runners/warm.js")),
    ("warm-job.js", WARM_JOB_JS),
];

/// The `hardhat` runtime's: its warm preamble and the job code it shares with warm.js.
pub const HARDHAT_FILES: [(&str, &[u8]); 2] = [
    (
        "warm-hardhat.js",
        include_bytes!("../../runners/warm-hardhat.js"),
    ),
    ("warm-job.js", WARM_JOB_JS),
];

const WARM_JOB_JS: &[u8] = include_bytes!("../../runners/warm-job.js");

/// A short hash of every runner's name and content.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| hash(&FILES))
}

/// A short hash of the `hardhat` runtime's runner files.
pub fn hardhat_version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| hash(&HARDHAT_FILES))
}

fn hash(files: &[(&str, &[u8])]) -> String {
    let mut h = Sha256::new();
    for (name, bytes) in files {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `confine.py` is a program test scripts run (`.gauntlet/runner/confine.py CMD…`).
fn mode(name: &str) -> u32 {
    if name == "confine.py" {
        0o755
    } else {
        0o644
    }
}

/// The interpreter the jail runs as `python3`: the system's, bound from the host's
/// `/usr` (docs/sandbox.md), so bytecode compiled with it here is what it loads there.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// Writes the runners into a layer being assembled (a fresh folder of ours), then
/// their bytecode: without it every test run would compile `judge.py` and every call
/// into the learner's code `harness.py` again (the layer is read-only to the jail).
pub fn install(layer: &Path) -> io::Result<()> {
    write(layer, &FILES)?;
    if let Err(e) = precompile(&layer.join(DIR)) {
        // Slower runs, not wrong ones: python compiles the sources itself.
        tracing::warn!(error = %e, "could not precompile the python runners");
    }
    Ok(())
}

/// Writes the `hardhat` runtime's runner files into a layer being assembled.
pub fn install_hardhat(layer: &Path) -> io::Result<()> {
    write(layer, &HARDHAT_FILES)
}

fn write(layer: &Path, files: &[(&str, &[u8])]) -> io::Result<()> {
    let dir = layer.join(DIR);
    fs::create_dir_all(&dir)?;
    for d in [layer.join(".gauntlet"), dir.clone()] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?;
    }
    for (name, bytes) in files {
        let path = dir.join(name);
        fs::write(&path, bytes)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode(name)))?;
    }
    Ok(())
}

/// Compiles the python runners into `__pycache__/` with the system interpreter, in
/// checked-hash mode (PEP 552): python loads a file's bytecode only while it matches
/// the source, whatever the timestamps. No system python, no bytecode.
fn precompile(dir: &Path) -> io::Result<()> {
    if !Path::new(SYSTEM_PYTHON).is_file() {
        return Ok(());
    }
    let sources: Vec<&str> = FILES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| name.ends_with(".py"))
        .collect();
    let code = "import py_compile, sys\n\
                for f in sys.argv[1:]:\n    \
                py_compile.compile(f, doraise=True, \
                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)";
    let out = std::process::Command::new(SYSTEM_PYTHON)
        .args(["-I", "-S", "-c", code])
        .args(&sources)
        .current_dir(dir)
        .env_clear()
        .stdin(std::process::Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{SYSTEM_PYTHON}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let cache = dir.join("__pycache__");
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o755))?;
    for entry in fs::read_dir(&cache)? {
        fs::set_permissions(entry?.path(), fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_writes_every_runner_readable_by_all() {
        let layer = std::env::temp_dir().join(format!("gauntlet-runners-{}", std::process::id()));
        let _ = fs::remove_dir_all(&layer);
        fs::create_dir(&layer).unwrap();
        install(&layer).unwrap();
        for (name, bytes) in FILES {
            let path = layer.join(DIR).join(name);
            assert_eq!(fs::read(&path).unwrap(), bytes);
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                mode(name)
            );
        }
        // The python runners' bytecode, readable by all, when the host has the
        // system python the jail runs.
        if Path::new(SYSTEM_PYTHON).is_file() {
            let cache = layer.join(DIR).join("__pycache__");
            let compiled: Vec<String> = fs::read_dir(&cache)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            for name in ["judge", "harness", "confine", "wire"] {
                assert!(
                    compiled
                        .iter()
                        .any(|c| c.starts_with(&format!("{name}.cpython-"))),
                    "{name}: {compiled:?}"
                );
            }
            for e in fs::read_dir(&cache).unwrap() {
                let mode = e.unwrap().metadata().unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o644);
            }
        }
        fs::remove_dir_all(&layer).unwrap();
        assert_eq!(version().len(), 12);
    }

    #[test]
    fn the_hardhat_runtime_gets_its_preamble_and_the_shared_job_code() {
        let layer =
            std::env::temp_dir().join(format!("gauntlet-runners-hh-{}", std::process::id()));
        let _ = fs::remove_dir_all(&layer);
        fs::create_dir(&layer).unwrap();
        install_hardhat(&layer).unwrap();
        let mut names: Vec<String> = fs::read_dir(layer.join(DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["warm-hardhat.js", "warm-job.js"]);
        let shared = fs::read(layer.join(DIR).join("warm-job.js")).unwrap();
        assert_eq!(shared, WARM_JOB_JS);
        fs::remove_dir_all(&layer).unwrap();
        assert_ne!(hardhat_version(), version());
    }
}
