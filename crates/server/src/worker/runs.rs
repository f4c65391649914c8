//! The runs dir: one folder per running job, swept of leftovers at start-up and
//! periodically; and the free-space check that stops claiming when the disk fills up.

use std::collections::HashSet;
use std::io;
use std::path::Path;

/// Removes every entry of `runs_dir` whose name is not in `keep` (ids of jobs still held
/// by some worker). Never follows symlinks: a planted link is removed, not its target.
/// Returns the names removed.
pub fn sweep(runs_dir: &Path, keep: &HashSet<String>) -> io::Result<Vec<String>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(runs_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if keep.contains(&name) {
            continue;
        }
        let path = entry.path();
        let result = if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed.push(name),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot remove run dir"),
        }
    }
    Ok(removed)
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
