//! Prepared layers: each exercise version (content hash + runtime version) is assembled
//! once (starter, tests, the runtime's own files) into the data dir, then shared
//! read-only by every job as the lower layer of its copy-on-write workspace.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use gauntlet_exercise::Exercise;

use crate::runtimes::{Runtime, RuntimeError};
use crate::tree::copy_tree;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("cannot prepare {exercise}: {what}: {source}")]
    Io {
        exercise: String,
        what: String,
        source: io::Error,
    },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// Gives the starter part of a staged layer (everything but `kept`: the tests, the
/// hidden paths and the runtime's protected files, which stay the host's) to the jail's
/// user, so that a warm jail's preamble can write a submission over the starter files
/// in its copy-on-write workspace (warm.rs); rootless, they are the caller's already.
/// The staging folder is the host's own and no jail has seen it: links are changed,
/// never followed.
fn give_starter_to_jail(root: &Path, rel: &Path, kept: &[PathBuf]) -> io::Result<()> {
    if gauntlet_sandbox::rootless() {
        return Ok(());
    }
    let (uid, gid) = gauntlet_sandbox::jail_host_ids();
    let here = root.join(rel);
    std::os::unix::fs::lchown(&here, Some(uid), Some(gid))?;
    if !fs::symlink_metadata(&here)?.is_dir() {
        return Ok(());
    }
    for entry in fs::read_dir(&here)? {
        let child = rel.join(entry?.file_name());
        if kept.contains(&child) {
            continue;
        }
        give_starter_to_jail(root, &child, kept)?;
    }
    Ok(())
}

/// The cache of prepared layers under `<data-dir>/prepared`.
#[derive(Debug, Clone)]
pub struct LayerCache {
    root: PathBuf,
}

impl LayerCache {
    pub fn new(root: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&root)?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o711))?;
        Ok(LayerCache { root })
    }

    /// The folder name of an exercise version's layer.
    pub fn key(exercise: &Exercise, runtime: &dyn Runtime) -> String {
        let hash = &exercise.content_hash[..exercise.content_hash.len().min(16)];
        // `l2`: the starter part belongs to the jail's user (`give_starter_to_jail`).
        format!(
            "{}-{}-r{}-l2",
            exercise.id.as_str(),
            hash,
            runtime.version()
        )
    }

    /// Is this exercise version already prepared here?
    pub fn has(&self, exercise: &Exercise, runtime: &dyn Runtime) -> bool {
        self.root.join(Self::key(exercise, runtime)).is_dir()
    }

    /// Returns the prepared layer of this exercise version, assembling it on first use.
    /// Concurrent callers may both assemble; one rename wins and the other's copy is dropped.
    pub fn prepare(
        &self,
        exercise: &Exercise,
        runtime: &dyn Runtime,
    ) -> Result<PathBuf, LayerError> {
        let dir = self.root.join(Self::key(exercise, runtime));
        if dir.is_dir() {
            return Ok(dir);
        }
        let io_err = |what: &str, source: io::Error| LayerError::Io {
            exercise: exercise.id.as_str().to_owned(),
            what: what.to_owned(),
            source,
        };
        let tmp = self.root.join(format!(
            ".tmp-{}-{:016x}",
            Self::key(exercise, runtime),
            rand::random::<u64>()
        ));
        fs::create_dir(&tmp).map_err(|e| io_err("create the staging folder", e))?;
        let built = (|| {
            copy_tree(&exercise.dir.join("starter"), &tmp)
                .map_err(|e| io_err("copy starter/", e))?;
            let tests = tmp.join("tests");
            fs::create_dir_all(&tests).map_err(|e| io_err("create tests/", e))?;
            copy_tree(&exercise.dir.join("tests"), &tests).map_err(|e| io_err("copy tests/", e))?;
            runtime.prepare(&tmp)?;
            let mut kept: Vec<PathBuf> = vec!["tests".into()];
            kept.extend(runtime.protected_paths().into_iter().map(PathBuf::from));
            kept.extend(exercise.hidden.iter().map(|p| PathBuf::from(p.as_str())));
            give_starter_to_jail(&tmp, Path::new(""), &kept)
                .map_err(|e| io_err("give the starter files to the jail's user", e))?;
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
                .map_err(|e| io_err("set the layer's mode", e))?;
            Ok::<(), LayerError>(())
        })();
        if let Err(e) = built {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        match fs::rename(&tmp, &dir) {
            Ok(()) => Ok(dir),
            Err(_) if dir.is_dir() => {
                // Another job prepared the same version first: use theirs.
                let _ = fs::remove_dir_all(&tmp);
                Ok(dir)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                Err(io_err("publish the layer", e))
            }
        }
    }

    /// Removes staging folders older than `age`: left by a process that died
    /// mid-prepare (a live preparer finishes long before; a young folder may be one).
    pub fn sweep_staging(&self, age: std::time::Duration) -> io::Result<usize> {
        crate::tree::sweep_staging(&self.root, age)
    }
}
