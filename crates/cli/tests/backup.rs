//! `gauntlet backup` and `gauntlet restore` (docs/queue.md, "Backups"): a snapshot taken
//! while the service grades under load holds every result finished before it began, and
//! nothing else of the data dir; a restore goes only into an empty data dir, and the
//! service started on it serves those results.

mod cluster;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cluster::{submission, submit, wait_for, Node};
use serde_json::{json, Value};

fn exercise(root: &Path) -> PathBuf {
    let ex = root.join("exercises/sum");
    for d in ["starter", "solution", "tests"] {
        std::fs::create_dir_all(ex.join(d)).unwrap();
    }
    std::fs::write(
        ex.join("exercise.yaml"),
        "id: sum\ntitle: Sums\nruntime: shell\nsubmission: files\nstarter:\n  files:\n    - path: sum.sh\ntest:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: tap\nscoring: per-test\n",
    )
    .unwrap();
    std::fs::write(ex.join("starter/sum.sh"), "sum() { echo 0; }\n").unwrap();
    std::fs::write(ex.join("solution/sum.sh"), "sum() { echo $(($1 + $2)); }\n").unwrap();
    std::fs::write(
        ex.join("tests/run.sh"),
        "echo 1..2\n. ./sum.sh\n\
         if [ \"$(sum 2 3)\" = 5 ]; then echo 'ok 1 - adds'; else echo 'not ok 1 - adds'; fi\n\
         if [ \"$(sum 0 0)\" = 0 ]; then echo 'ok 2 - zero'; else echo 'not ok 2 - zero'; fi\n",
    )
    .unwrap();
    root.join("exercises")
}

fn gauntlet(args: &[&str]) -> Output {
    Command::new(cluster::binary())
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("GAUNTLET_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run gauntlet")
}

fn serve(name: &str, data: PathBuf, exercises: &Path) -> Node {
    let ex = exercises.display().to_string();
    let env = [
        ("WORKER_ENABLED", "true".to_owned()),
        ("RUN_UNTRUSTED_CODE", "true".to_owned()),
        ("GAUNTLET_RATE_LIMITS", "off".to_owned()),
        ("GAUNTLET_MAX_ACTIVE_PER_SESSION", "1000".to_owned()),
    ];
    let mut node = Node::new(name, &["serve", "--exercises", &ex], data, &env);
    node.start();
    node
}

#[test]
fn a_snapshot_under_load_restores_every_finished_result_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let exercises = exercise(tmp.path());
    let data = tmp.path().join("data");
    let mut first = serve("first", data.clone(), &exercises);
    let addr = first.addr.clone().unwrap();

    // Load: submissions keep arriving and being graded while the snapshot is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let load = {
        let (stop, addr, ids) = (stop.clone(), addr.clone(), ids.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let code = if n % 3 == 0 {
                    "sum() { echo 7; }\n"
                } else {
                    "sum() { echo $(($1 + $2)); }\n"
                };
                if let Some(id) = submit(&addr, "sum", &json!({ "sum.sh": code })) {
                    ids.lock().unwrap().push(id);
                }
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(30));
            }
        })
    };
    wait_for("a few results, and more on the way", 120, || {
        let known: Vec<String> = ids.lock().unwrap().clone();
        known
            .iter()
            .filter(|id| submission(&addr, id).is_some_and(|s| s["state"] == "finished"))
            .count()
            >= 5
    });

    // What is finished before the snapshot begins must be in it, result for result.
    let so_far: Vec<String> = ids.lock().unwrap().clone();
    let before: Vec<(String, Value)> = so_far
        .into_iter()
        .filter_map(|id| {
            let s = submission(&addr, &id)?;
            (s["state"] == "finished").then(|| (id, s["result"].clone()))
        })
        .collect();
    assert!(
        before.len() >= 3,
        "too few results before the snapshot: {}",
        before.len()
    );
    let snapshot = tmp.path().join("gauntlet.backup");
    let data_arg = data.display().to_string();
    let snap_arg = snapshot.display().to_string();
    let out = gauntlet(&["backup", "--data-dir", &data_arg, "--to", &snap_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("submissions") && said.contains("finished"),
        "{said}"
    );
    stop.store(true, Ordering::SeqCst);
    load.join().unwrap();

    // Nothing but the store: not the session secret, nor anything of the data dir's
    // other folders.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&snapshot).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the snapshot is private: {mode:o}");
    let bytes = std::fs::read(&snapshot).unwrap();
    let secret = std::fs::read(data.join("sessions/secret")).unwrap();
    assert!(!secret.is_empty());
    assert!(
        !bytes.windows(secret.len()).any(|w| w == secret.as_slice()),
        "the session secret is in the snapshot"
    );
    // A second backup never overwrites the first.
    let again = gauntlet(&["backup", "--data-dir", &data_arg, "--to", &snap_arg]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    first.stop();

    // A restore goes into an empty data dir only, and says why not.
    let restored = tmp.path().join("restored");
    let restored_arg = restored.display().to_string();
    let refused = gauntlet(&["restore", "--from", &snap_arg, "--data-dir", &data_arg]);
    assert_eq!(refused.status.code(), Some(2));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("is not empty") && why.contains("gauntlet.db"),
        "{why}"
    );
    let garbage = tmp.path().join("garbage");
    std::fs::write(&garbage, b"not a database at all, just bytes").unwrap();
    let garbage_arg = garbage.display().to_string();
    let refused = gauntlet(&[
        "restore",
        "--from",
        &garbage_arg,
        "--data-dir",
        &restored_arg,
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a Gauntlet store snapshot"));
    assert!(!restored.exists(), "a refused restore makes nothing");

    let out = gauntlet(&["restore", "--from", &snap_arg, "--data-dir", &restored_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries: Vec<String> = std::fs::read_dir(&restored)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries,
        ["gauntlet.db"],
        "a restore brings back the store alone"
    );

    // The service on the restored data dir serves every result finished before.
    let second = serve("second", restored.clone(), &exercises);
    let addr = second.addr.clone().unwrap();
    for (id, result) in &before {
        let s = submission(&addr, id).unwrap_or_else(|| panic!("{id} is not in the restore"));
        assert_eq!(s["state"], "finished", "{id}");
        assert_eq!(&s["result"], result, "{id}");
    }
    // It made its own session secret: the old one never travelled.
    let new_secret = std::fs::read(restored.join("sessions/secret")).unwrap();
    assert_ne!(new_secret, secret);
}

#[test]
fn a_postgresql_store_is_pointed_at_pg_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(cluster::binary())
        .args(["backup", "--to"])
        .arg(tmp.path().join("x"))
        .env("DATABASE_URL", "postgres://u:secret-password@db/gauntlet")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!stderr.contains("secret-password"), "{stderr}");
}
