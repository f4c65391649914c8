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
