//! The test runners the `python`, `node` and `shell` runtimes ship in every prepared
//! workspace, at `.gauntlet/runner/`: the trusted judges (`judge.py`, `judge.js`), the
//! untrusted harnesses they start for each call into the learner's code, the
//! confinement every process running the learner's code starts in (`confine.py`, a
//! Landlock domain of its own), and the value encoding both python sides share
//! (`wire.py`). Why a submission cannot forge their results is written at the top of
//! each judge; the trust model as a whole is in exercises/README.md.
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

/// The runner files, by name.
pub const FILES: [(&str, &[u8]); 6] = [
    ("judge.py", include_bytes!("../../runners/judge.py")),
    ("confine.py", include_bytes!("../../runners/confine.py")),
    ("harness.py", include_bytes!("../../runners/harness.py")),
    ("wire.py", include_bytes!("../../runners/wire.py")),
    ("judge.js", include_bytes!("../../runners/judge.js")),
    ("harness.js", include_bytes!("../../runners/harness.js")),
];

/// A short hash of every runner's name and content.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h = Sha256::new();
        for (name, bytes) in FILES {
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
    })
}

/// `confine.py` is a program test scripts run (`.gauntlet/runner/confine.py CMD…`).
fn mode(name: &str) -> u32 {
    if name == "confine.py" {
        0o755
    } else {
        0o644
    }
}

/// Writes the runners into a layer being assembled (a fresh folder of ours).
pub fn install(layer: &Path) -> io::Result<()> {
    let dir = layer.join(DIR);
    fs::create_dir_all(&dir)?;
    for d in [layer.join(".gauntlet"), dir.clone()] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?;
    }
    for (name, bytes) in FILES {
        let path = dir.join(name);
        fs::write(&path, bytes)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode(name)))?;
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
        fs::remove_dir_all(&layer).unwrap();
        assert_eq!(version().len(), 12);
    }
}
