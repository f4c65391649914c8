//! What only the SQLite back end has to say: one process per file, and a clear refusal
//! when another program holds the file locked.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use gauntlet_queue::store::{now_ms, SqlStore, Store, StoreError, SubmissionState};
use serde_json::json;

use crate::fixture::new_submission;

#[tokio::test]
async fn a_second_process_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gauntlet.db");
    let first = SqlStore::open_sqlite(&path).await.unwrap();
    let err = SqlStore::open_sqlite(&path).await.err().expect("refused");
    assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("in use by another gauntlet process"),
        "{text}"
    );
    assert!(text.contains(path.to_str().unwrap()), "{text}");
    drop(first);
    // Once the first one is gone, the file is free again.
    SqlStore::open_sqlite(&path).await.unwrap();
}

#[tokio::test]
async fn a_file_locked_by_another_program_is_refused_at_start_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gauntlet.db");
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    let new = new_submission("h", json!({}));
    let id = new.id.clone();
    store.create_submission(new, now_ms()).await.unwrap();
    drop(store);

    // Another program (an sqlite3 shell, say) holds a write lock and keeps it.
    let holder = "import sqlite3, sys, time\n\
        c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
        c.execute('BEGIN EXCLUSIVE')\n\
        print('locked', flush=True)\n\
        time.sleep(120)\n";
    let mut child = match Command::new("python3")
        .args(["-c", holder])
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "python3 is needed to hold a lock: {e}"
            );
            eprintln!("SKIPPED: python3 is not available to hold a lock: {e}");
            return;
        }
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");

    let err = SqlStore::open_sqlite(&path).await.err().expect("refused");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("locked by another process"), "{text}");
    assert!(text.contains(path.to_str().unwrap()), "{text}");

    // Nothing was lost or changed: the store opens and holds the submission.
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    let sub = store.get_submission(&id).await.unwrap().unwrap();
    assert_eq!(sub.state, SubmissionState::Queued);
}

/// A tmpfs of `size` on `dir` (root only), unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(std::env::var("CI").is_err(), "cannot mount a tmpfs");
            eprintln!("SKIPPED: cannot mount a tmpfs (not root?)");
            return None;
        }
        Some(Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_refuses_writes_whole_and_recovers() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let Some(_fs) = Tmpfs::mount(&dir.path().join("data"), "8m") else {
        return;
    };
    let path = dir.path().join("data/gauntlet.db");
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    let first = new_submission("h", json!({}));
    store
        .create_submission(first.clone(), now_ms())
        .await
        .unwrap();
    store.register_worker("w", &[], now_ms()).await.unwrap();

    let mut filler = std::fs::File::create(dir.path().join("data/filler")).unwrap();
    let chunk = vec![0u8; 64 << 10];
    while filler.write_all(&chunk).is_ok() {}
    drop(filler);

    // Too big for what is left: refused as a full disk, and nothing of it is kept.
    let mut big = new_submission("h", json!({}));
    big.payload = vec![b'x'; 2 << 20];
    let err = store
        .create_submission(big.clone(), now_ms())
        .await
        .unwrap_err();
    assert!(err.is_disk_full(), "{err:?}");
    assert!(store.get_submission(&big.id).await.unwrap().is_none());
    // Whatever is said to be saved is saved.
    // (whatever failed before it: a transaction, or one statement such as a worker's
    // presence heartbeat).
    for _ in 0..5 {
        let _ = store.touch_worker("w", now_ms()).await;
        let small = new_submission("h", json!({}));
        if store
            .create_submission(small.clone(), now_ms())
            .await
            .is_ok()
        {
            let got = store.get_submission(&small.id).await.unwrap();
            assert!(got.is_some(), "{} was accepted but is not there", small.id);
        }
    }
    std::fs::remove_file(dir.path().join("data/filler")).unwrap();
    let after = new_submission("h", json!({}));
    store
        .create_submission(after.clone(), now_ms())
        .await
        .unwrap();
    assert!(store.get_submission(&after.id).await.unwrap().is_some());
    assert!(store.get_submission(&first.id).await.unwrap().is_some());
}
