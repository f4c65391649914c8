//! The runs dir: one folder per claim of a running job, named `<submission id>.<fencing
//! token>`; the sweep that removes what no live claim owns; and the free-space check that
//! stops claiming when the disk fills up.
//!
//! Ownership (docs/queue.md, "Job folders"): a job runs only in a folder it created,
//! exclusively, under its own claim; the sweep removes a folder only when neither a job of
//! this process nor an unexpired lease in the store holds the claim that names it.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::store::{HeldLease, SubmissionId};

/// The folder of one claim: `<runs_dir>/<id>.<token>`.
pub fn job_dir(runs_dir: &Path, id: &SubmissionId, token: i64) -> PathBuf {
    runs_dir.join(format!("{id}.{token}"))
}

/// Creates the claim's folder, empty and private; fails if anything is already there
/// (no job ever runs in a folder it did not create).
pub fn create_job_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

/// Removes a job's folder; a folder already gone is fine.
pub fn remove_job_dir(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Who an entry of the runs dir belongs to, read from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// `<id>.<token>`: one claim of one job.
    Claim(HeldLease),
    /// `<id>`: a folder of an older Gauntlet, which named folders by job only.
    Job(SubmissionId),
    /// Anything else: nothing of ours.
    Stray,
}

pub fn owner(name: &str) -> Owner {
    if let Some(id) = SubmissionId::parse(name).filter(|id| id.as_str() == name) {
        return Owner::Job(id);
    }
    let Some((id, token)) = name.rsplit_once('.') else {
        return Owner::Stray;
    };
    match (SubmissionId::parse(id), token.parse::<i64>()) {
        (Some(parsed), Ok(fencing_token))
            if parsed.as_str() == id && token == fencing_token.to_string() =>
        {
            Owner::Claim(HeldLease {
                id: parsed,
                fencing_token,
            })
        }
        _ => Owner::Stray,
    }
}

/// The entries of `runs_dir` that nothing holds: the owner of `held` (claims a job of
/// this process runs, or unexpired leases in the store) keeps its folder.
pub fn unowned(names: Vec<String>, held: &HashSet<HeldLease>) -> Vec<String> {
    let held_jobs: HashSet<&SubmissionId> = held.iter().map(|h| &h.id).collect();
    names
        .into_iter()
        .filter(|name| match owner(name) {
            Owner::Claim(claim) => !held.contains(&claim),
            Owner::Job(id) => !held_jobs.contains(&id),
            Owner::Stray => true,
        })
        .collect()
}

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

/// Bytes available to an unprivileged user on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let st = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    #[allow(clippy::unnecessary_cast)] // the field widths differ between platforms
    Ok((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "01890a5d-ac96-774b-bcce-b302099a8057";
    const B: &str = "01890a5d-ac96-774b-bcce-b302099a8058";

    fn claim(id: &str, token: i64) -> HeldLease {
        HeldLease {
            id: SubmissionId::parse(id).unwrap(),
            fencing_token: token,
        }
    }

    #[test]
    fn folder_names_say_whose_they_are() {
        let table: &[(String, Owner)] = &[
            (format!("{A}.3"), Owner::Claim(claim(A, 3))),
            (A.to_owned(), Owner::Job(SubmissionId::parse(A).unwrap())),
            (format!("{A}.03"), Owner::Stray),
            (format!("{A}.x"), Owner::Stray),
            (format!("{}.1", A.to_uppercase()), Owner::Stray),
            ("lost+found".to_owned(), Owner::Stray),
            (".check-00ff".to_owned(), Owner::Stray),
        ];
        for (name, want) in table {
            assert_eq!(&owner(name), want, "{name}");
        }
    }

    #[test]
    fn only_a_held_claim_keeps_its_folder() {
        let held: HashSet<HeldLease> = [claim(A, 2)].into();
        let names = vec![
            format!("{A}.2"), // the live claim
            format!("{A}.1"), // an earlier attempt of the same job: not the same claim
            A.to_owned(),     // an older Gauntlet's folder of a job still held
            format!("{B}.1"), // nobody's
            B.to_owned(),
            "stray".to_owned(),
        ];
        let mut gone = unowned(names, &held);
        gone.sort();
        let mut want = vec![
            format!("{A}.1"),
            format!("{B}.1"),
            B.to_owned(),
            "stray".into(),
        ];
        want.sort();
        assert_eq!(gone, want);
    }

    #[test]
    fn a_job_folder_is_created_once() {
        let runs = tempfile::tempdir().unwrap();
        let id = SubmissionId::parse(A).unwrap();
        let dir = job_dir(runs.path(), &id, 7);
        assert_eq!(dir.file_name().unwrap().to_str().unwrap(), format!("{A}.7"));
        create_job_dir(&dir).unwrap();
        let again = create_job_dir(&dir).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        remove_job_dir(&dir).unwrap();
        remove_job_dir(&dir).unwrap();
    }

    #[test]
    fn remove_does_not_follow_links() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("precious"), b"x").unwrap();
        let runs = dir.path();
        std::fs::create_dir_all(runs.join("stale/sub")).unwrap();
        std::fs::write(runs.join("stale/sub/f"), b"x").unwrap();
        std::fs::write(runs.join("stray-file"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), runs.join("link")).unwrap();
        let mut removed = remove(runs, &list(runs).unwrap());
        removed.sort();
        assert_eq!(removed, ["link", "stale", "stray-file"]);
        assert!(outside.path().join("precious").exists());
    }

    #[test]
    fn free_bytes_is_positive_here() {
        assert!(free_bytes(Path::new("/tmp")).unwrap() > 0);
    }
}
