//! The runs dir: one folder per running job, swept of leftovers at start-up and
//! periodically; and the free-space check that stops claiming when the disk fills up.

use std::collections::HashSet;
use std::io;
use std::path::Path;

/// The names of the entries of `runs_dir`.
pub fn list(runs_dir: &Path) -> io::Result<Vec<String>> {
    std::fs::read_dir(runs_dir)?
        .map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned()))
        .collect()
}

/// Removes the named entries of `runs_dir`. Never follows symlinks: a planted link is
/// removed, not its target. Returns the names removed; failures are logged.
pub fn remove(runs_dir: &Path, names: &[String]) -> Vec<String> {
    let mut removed = Vec::new();
    for name in names {
        if name.contains('/') || name == "." || name == ".." {
            continue;
        }
        let path = runs_dir.join(name);
        let result = match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => removed.push(name.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot remove run dir"),
        }
    }
    removed
}

/// Removes every entry of `runs_dir` whose name is not in `keep`.
pub fn sweep(runs_dir: &Path, keep: &HashSet<String>) -> io::Result<Vec<String>> {
    let stale: Vec<String> = list(runs_dir)?
        .into_iter()
        .filter(|n| !keep.contains(n))
        .collect();
    Ok(remove(runs_dir, &stale))
}

/// Bytes available to an unprivileged user on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let st = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    #[allow(clippy::unnecessary_cast)] // the field widths differ between platforms
    Ok((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_keeps_held_and_removes_the_rest_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("precious"), b"x").unwrap();
        let runs = dir.path();
        std::fs::create_dir_all(runs.join("held/sub")).unwrap();
        std::fs::create_dir_all(runs.join("stale/sub")).unwrap();
        std::fs::write(runs.join("stale/sub/f"), b"x").unwrap();
        std::fs::write(runs.join("stray-file"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), runs.join("link")).unwrap();

        let keep: HashSet<String> = ["held".to_owned()].into();
        let mut removed = sweep(runs, &keep).unwrap();
        removed.sort();
        assert_eq!(removed, ["link", "stale", "stray-file"]);
        assert!(runs.join("held/sub").is_dir());
        assert!(outside.path().join("precious").exists());
    }

    #[test]
    fn free_bytes_is_positive_here() {
        assert!(free_bytes(Path::new("/tmp")).unwrap() > 0);
    }
}
