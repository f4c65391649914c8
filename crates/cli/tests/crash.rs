//! Crash tests of the durable queue with the real binary, and its faults at the edges
//! (docs/queue.md, "Faults at the edges"):
//!
//! - a server or a standalone worker killed with SIGKILL mid-run: the submission still
//!   finishes exactly once, on a later attempt, and nothing the dead process jailed
//!   survives it;
//! - the data dir's disk full: a clear refusal, nothing corrupted, recovery when space
//!   returns;
//! - the SQLite store held by another process: a clear refusal at start.

mod cluster;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cluster::{events, processes_with, skip, submission, submit, wait_for, Node};
use serde_json::{json, Value};

/// A slow exercise whose test command runs `sleep <marker>`: a marker unique to one
/// test, to find that test's jailed process (tests run in parallel).
fn slow_exercise(root: &Path, marker: &str) -> PathBuf {
    let ex = root.join("exercises/slow-sum");
    for d in ["starter", "solution", "tests"] {
        std::fs::create_dir_all(ex.join(d)).unwrap();
    }
    std::fs::write(
        ex.join("exercise.yaml"),
        "id: slow-sum\ntitle: A slow test\nruntime: shell\nsubmission: files\nstarter:\n  files:\n    - path: sum.sh\n      max_bytes: 262144\nlimits:\n  wall_time: 30s\n  idle_timeout: 20s\ntest:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: tap\nscoring: per-test\n",
    )
    .unwrap();
    std::fs::write(ex.join("starter/sum.sh"), "sum() { echo 0; }\n").unwrap();
    std::fs::write(ex.join("solution/sum.sh"), "sum() { echo $(($1 + $2)); }\n").unwrap();
    std::fs::write(
        ex.join("tests/run.sh"),
        format!("echo 1..1\nsleep {marker}\n. ./sum.sh\nif [ \"$(sum 2 3)\" = 5 ]; then echo 'ok 1 - adds'; else echo 'not ok 1 - adds'; fi\n"),
    )
    .unwrap();
    root.join("exercises")
}

const RIGHT: &str = "sum() { echo $(($1 + $2)); }\n";

fn env(database: Option<&str>) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("WORKER_ENABLED", "true".to_owned()),
        ("RUN_UNTRUSTED_CODE", "true".to_owned()),
        ("WORKER_LEASE", "3s".to_owned()),
        ("WORKER_HEARTBEAT", "1s".to_owned()),
        ("GAUNTLET_RATE_LIMITS", "off".to_owned()),
    ];
    if let Some(url) = database {
        env.push(("DATABASE_URL", url.to_owned()));
    }
    env
}

fn node(
    name: &str,
    args: &[&str],
    data: PathBuf,
    exercises: &Path,
    env: &[(&str, String)],
) -> Node {
    let mut full: Vec<&str> = args.to_vec();
    let ex = exercises.display().to_string();
    full.extend(["--exercises", &ex]);
    Node::new(name, &full, data, env)
}

fn submit_right(api: &str) -> String {
    submit(api, "slow-sum", &json!({ "sum.sh": RIGHT })).unwrap_or_else(|| {
        let body =
            json!({"exercise": "slow-sum", "files": {"sum.sh": RIGHT}, "display_name": "why"});
        let url = format!("http://{api}/api/v1/submissions");
        panic!(
            "not accepted: {:?}",
            cluster::http("POST", &url, Some(&body))
        )
    })
}

fn state(api: &str, id: &str) -> Value {
    submission(api, id).unwrap_or_else(|| {
        let url = format!("http://{api}/api/v1/submissions/{id}");
        panic!("cannot read {id}: {:?}", cluster::http("GET", &url, None))
    })
}

/// Kills `victim` with SIGKILL once its job runs, then checks the jail died with it.
fn kill_mid_run(victim: &mut Node, api: &str, id: &str, marker: &str) {
    let marked = format!("sleep {marker}");
    wait_for("the job to run", 60, || {
        state(api, id)["state"] == "running"
    });
    wait_for("the sandboxed test to start", 30, || {
        !processes_with(&marked).is_empty()
    });
    victim.kill();
    wait_for("the dead worker's jail to be gone", 10, || {
        processes_with(&marked).is_empty()
    });
}

fn assert_finished_once(api: &str, id: &str) {
    wait_for("the submission to finish", 90, || {
        state(api, id)["state"] == "finished"
    });
    let s = state(api, id);
    assert_eq!(s["result"]["outcome"], "passed", "{s:#}");
    let ev = events(api, id);
    let running = ev
        .iter()
        .filter(|(e, d)| e == "state" && d["state"] == "running")
        .count();
    let results = ev.iter().filter(|(e, _)| e == "result").count();
    assert!(running >= 2, "the job ran again after the crash: {ev:?}");
    assert_eq!(results, 1, "exactly one result: {ev:?}");
}

#[test]
fn a_server_killed_mid_run_loses_nothing_and_scores_once() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = "6.4321";
    let exercises = slow_exercise(tmp.path(), marker);
    let mut serve = node(
        "serve",
        &["serve"],
        tmp.path().join("data"),
        &exercises,
        &env(None),
    );
    serve.start();
    let api = serve.addr.clone().unwrap();
    let id = submit_right(&api);
    kill_mid_run(&mut serve, &api, &id, marker);

    serve.start();
    assert_finished_once(&serve.addr.clone().unwrap(), &id);
}

/// A fresh PostgreSQL database for this test, or `None` (with the reason printed)
/// when no server answers.
fn fresh_postgres() -> Option<String> {
    let url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    // The server part of the URL: the test makes its own database there.
    let url = url.split('?').next().unwrap_or_default();
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let base = format!("{scheme}://{}", rest.split('/').next().unwrap_or_default());
    let name = format!("gauntlet_crash_{:08x}", std::process::id() ^ rand_suffix());
    let out = Command::new("psql")
        .arg(format!("{base}/postgres"))
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => Some(format!("{base}/{name}")),
        Ok(o) => {
            skip(&format!(
                "PostgreSQL is not reachable at {base}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            None
        }
        Err(e) => {
            skip(&format!("psql is not available to create a database: {e}"));
            None
        }
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

#[test]
fn a_standalone_worker_killed_mid_run_hands_its_job_to_another() {
    let Some(url) = fresh_postgres() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let marker = "6.4322";
    let exercises = slow_exercise(tmp.path(), marker);
    let env = env(Some(&url));
    // The API alone, and one worker; both share the PostgreSQL store.
    let mut api = node(
        "api",
        &["serve", "--no-workers"],
        tmp.path().join("api"),
        &exercises,
        &env,
    );
    api.start();
    let addr = api.addr.clone().unwrap();
    let mut worker = node("w1", &["worker"], tmp.path().join("w1"), &exercises, &env);
    worker.start();
    let id = submit_right(&addr);
    kill_mid_run(&mut worker, &addr, &id, marker);

    let mut second = node("w2", &["worker"], tmp.path().join("w2"), &exercises, &env);
    second.start();
    assert_finished_once(&addr, &id);
}

/// A tmpfs of `size` on `dir`, unmounted on drop: a data dir whose disk can be filled.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` (after saying why) when this process cannot mount (not root).
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0711"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .expect("mount");
        if !out.status.success() {
            skip(&format!(
                "cannot mount a tmpfs for a small data dir: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
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

/// Writes `path` until the disk is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 256 << 10];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

/// PRAGMA integrity_check of an SQLite file, through python3's sqlite3 module.
fn integrity(db: &Path) -> Option<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])",
        ])
        .arg(db)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn a_full_disk_refuses_clearly_loses_nothing_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let Some(_tmpfs) = Tmpfs::mount(&data, "48m") else {
        return;
    };
    let exercises = slow_exercise(tmp.path(), "0.01");
    let mut env = env(None);
    env.push(("WORKER_MIN_FREE_DISK_MB", "4".to_owned()));
    env.push(("WORKER_HEARTBEAT", "200ms".to_owned()));
    let mut serve = node("serve", &["serve"], data.clone(), &exercises, &env);
    serve.start();
    let api = serve.addr.clone().unwrap();
    let before: Vec<String> = (0..3).map(|_| submit_right(&api)).collect();
    for id in &before {
        wait_for("a result before the disk fills", 60, || {
            state(&api, id)["state"] == "finished"
        });
    }

    // The disk fills up. A submission that needs space is refused, saying why (503,
    // retry later), never a bare internal error; one that still fits waits, unclaimed.
    fill(&data.join("filler"));
    let big = format!("{RIGHT}# {}\n", "x".repeat(250_000));
    let body = json!({"exercise": "slow-sum", "files": {"sum.sh": big}, "display_name": "d"});
    let url = format!("http://{api}/api/v1/submissions");
    let (status, text) = cluster::http("POST", &url, Some(&body)).expect("an answer");
    let mut accepted = Vec::new();
    match status {
        503 => {
            assert!(text.contains("disk is full"), "{text}");
            assert!(text.contains("not_ready"), "{text}");
        }
        202 => accepted.push(
            serde_json::from_str::<Value>(&text).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
        other => panic!("a full disk answered {other}: {text}"),
    }
    wait_for("the worker to stop claiming", 30, || {
        !serve.log_mentions("claiming stopped").is_empty()
    });
    // Whatever is accepted now waits for space instead of failing.
    for _ in 0..3 {
        if let Some(id) = submit(&api, "slow-sum", &json!({ "sum.sh": RIGHT })) {
            accepted.push(id);
        }
    }
    for id in &accepted {
        assert_eq!(state(&api, id)["state"], "queued", "claimed on a full disk");
    }

    // Space comes back: claiming resumes, and everything accepted is graded.
    std::fs::remove_file(data.join("filler")).unwrap();
    let again = submit(&api, "slow-sum", &json!({ "sum.sh": RIGHT }))
        .unwrap_or_else(|| panic!("refused once space is back:\n{}", serve.log_tail(30)));
    accepted.push(again);
    for id in before.iter().chain(&accepted) {
        wait_for("every accepted submission to finish", 90, || {
            state(&api, id)["state"] == "finished"
        });
        let s = state(&api, id);
        assert_eq!(s["result"]["outcome"], "passed", "{s:#}");
    }
    serve.stop();
    // Nothing corrupted.
    match integrity(&data.join("gauntlet.db")) {
        Some(verdict) => assert_eq!(verdict, "ok"),
        None => skip("python3's sqlite3 is not available for an integrity check"),
    }
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let exercises = slow_exercise(tmp.path(), "0.01");
    let data = tmp.path().join("data");
    let mut first = node("first", &["serve"], data.clone(), &exercises, &env(None));
    first.start();
    let out = Command::new(cluster::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--exercises")
        .arg(&exercises)
        .env("WORKER_ENABLED", "true")
        .env("RUN_UNTRUSTED_CODE", "true")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("in use by another gauntlet process"),
        "{stderr}"
    );
    assert!(first.is_running());
}

#[test]
fn a_store_locked_by_another_program_is_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let exercises = slow_exercise(tmp.path(), "0.01");
    let data = tmp.path().join("data");
    // A store exists (the server ran once), then another program locks it.
    let mut serve = node("serve", &["serve"], data.clone(), &exercises, &env(None));
    serve.start();
    serve.stop();
    let holder = "import sqlite3, sys, time\n\
        c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
        c.execute('BEGIN EXCLUSIVE')\n\
        print('locked', flush=True)\n\
        time.sleep(120)\n";
    let Ok(mut python) = Command::new("python3")
        .args(["-c", holder])
        .arg(data.join("gauntlet.db"))
        .stdout(Stdio::piped())
        .spawn()
    else {
        skip("python3 is not available to hold a lock");
        return;
    };
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(python.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let out = Command::new(cluster::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--exercises")
        .arg(&exercises)
        .env("WORKER_ENABLED", "true")
        .env("RUN_UNTRUSTED_CODE", "true")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = python.kill();
    let _ = python.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("locked by another process"), "{stderr}");
    // Once the other program is gone, the server starts on the same, intact store.
    serve.start();
}

/// Warm jails (docs/queue.md, "Warm jails") die with the worker that made them: a
/// SIGKILL leaves no preamble waiting, and the next start sweeps their cgroups.
#[test]
fn a_killed_server_leaves_no_warm_jail_behind() {
    let tmp = tempfile::tempdir().unwrap();
    // The marker is an argument of the test command, so it is in the warm preamble's
    // command line (`warm.py -- sh tests/run.sh <marker>`) while it waits.
    let marker = "warm-kill-3.1415";
    let exercises = slow_exercise(tmp.path(), "0.01");
    let yaml = exercises.join("slow-sum/exercise.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap().replace(
        "[\"sh\", \"tests/run.sh\"]",
        &format!("[\"sh\", \"tests/run.sh\", \"{marker}\"]"),
    );
    std::fs::write(&yaml, text).unwrap();
    let mut env = env(None);
    env.push(("GAUNTLET_WARM_JAILS", "2".to_owned()));
    // A held jail takes an idle worker slot: two slots, whatever the machine's cores.
    env.push(("WORKER_MAX_CONCURRENCY", "2".to_owned()));
    let mut serve = node(
        "serve",
        &["serve"],
        tmp.path().join("data"),
        &exercises,
        &env,
    );
    serve.start();
    let first_pid = serve.pid().unwrap();
    let api = serve.addr.clone().unwrap();
    let id = submit_right(&api);
    wait_for("the submission to finish", 60, || {
        state(&api, &id)["state"] == "finished"
    });
    assert_eq!(state(&api, &id)["result"]["outcome"], "passed");
    wait_for("a warm jail for the next submission", 30, || {
        !processes_with(marker).is_empty()
    });
    serve.kill();
    wait_for("the warm jail to die with its server", 10, || {
        processes_with(marker).is_empty()
    });
    // The restarted server grades, and its first jail sweeps the dead one's cgroups.
    serve.start();
    let api = serve.addr.clone().unwrap();
    let id = submit_right(&api);
    wait_for("the next submission to finish", 60, || {
        state(&api, &id)["state"] == "finished"
    });
    let left = cluster::run_cgroups_of(&[first_pid]);
    assert!(
        left.is_empty(),
        "run cgroups of the killed server: {left:?}"
    );
    assert_eq!(state(&api, &id)["result"]["outcome"], "passed");
}
