//! Copying a package's folders into a layer or a toolchain tree being assembled, and
//! sweeping the staging folders such assembling leaves when its process dies.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Copies the regular files and folders of `from` into the existing folder `to`,
/// readable by everyone (the jail's uid is not the owner), keeping execute bits.
/// Packages hold no symlinks (the loader rejects them); any met here is refused.
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    if !from.exists() {
        return Ok(());
    }
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            fs::create_dir(&target)?;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o755))?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            let mode = entry.metadata()?.permissions().mode();
            fs::copy(entry.path(), &target)?;
            let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))?;
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a regular file or folder", entry.path().display()),
            ));
        }
    }
    Ok(())
}

/// Removes the `.tmp-*` staging folders in `root` older than `age`: what a process
/// that died while assembling a layer or installing dependencies left behind (a live
/// one finishes long before; a young folder may be one).
pub fn sweep_staging(root: &Path, age: std::time::Duration) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let stale = entry
            .metadata()?
            .modified()?
            .elapsed()
            .is_ok_and(|a| a > age);
        if stale && entry.file_name().to_string_lossy().starts_with(".tmp-") {
            fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}
