//! Writing into a directory this process has just created: every directory made with
//! `mkdir` (0755), every file with `O_CREAT|O_EXCL|O_NOFOLLOW` (0644), all of it removed
//! unless [`FreshDir::keep`] is called.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::path::RelPath;

const DIR_MODE: u32 = 0o755;
const FILE_MODE: u32 = 0o644;

/// A directory created by [`FreshDir::create`]; removed on drop unless kept.
pub(crate) struct FreshDir {
    root: PathBuf,
    keep: bool,
}

impl FreshDir {
    /// Creates `root` itself with `mkdir` (its parent must exist; `root` must not).
    pub(crate) fn create(root: &Path) -> io::Result<Self> {
        DirBuilder::new().mode(DIR_MODE).create(root)?;
        Ok(FreshDir {
            root: root.to_owned(),
            keep: false,
        })
    }

    /// Makes `rel` and its ancestors as directories. An existing directory is fine
    /// (it was made by this writer); anything else in the way is an error.
    pub(crate) fn create_dir_all(&self, rel: &RelPath) -> io::Result<()> {
        for dir in rel.ancestors().chain(std::iter::once(rel.clone())) {
            self.create_dir(&dir)?;
        }
        Ok(())
    }

    fn create_dir(&self, rel: &RelPath) -> io::Result<()> {
        let path = rel.under(&self.root);
        match DirBuilder::new().mode(DIR_MODE).create(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                // symlink_metadata: a symlink in the way is not a directory.
                if std::fs::symlink_metadata(&path)?.file_type().is_dir() {
                    Ok(())
                } else {
                    Err(io::Error::new(
                        ErrorKind::AlreadyExists,
                        format!("{rel} exists and is not a directory"),
                    ))
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Creates the file `rel` (its parents first); it must not exist yet, and a
    /// symlink in its place is refused by `O_NOFOLLOW`.
    pub(crate) fn create_file(&self, rel: &RelPath) -> io::Result<File> {
        for dir in rel.ancestors() {
            self.create_dir(&dir)?;
        }
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(rel.under(&self.root))
    }

    /// Keeps the directory: the write succeeded.
    pub(crate) fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for FreshDir {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: the directory is ours and fresh, nothing else is inside.
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Opens a file for reading without following a symlink in its last component.
pub(crate) fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}
