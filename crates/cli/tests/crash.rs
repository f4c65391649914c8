//! Crash tests of the durable queue with the real binary: a server or a standalone
//! worker is killed with SIGKILL in the middle of a run; the submission still finishes
//! exactly once, on a later attempt, and nothing the dead process jailed survives it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
        "id: slow-sum\ntitle: A slow test\nruntime: shell\nsubmission: files\nstarter:\n  files:\n    - path: sum.sh\nlimits:\n  wall_time: 30s\n  idle_timeout: 20s\ntest:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: tap\nscoring: per-test\n",
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

/// What a process's log said so far: its address, whether its worker started, lines.
#[derive(Default)]
struct Started(Option<String>, bool, Vec<String>);

struct Proc {
    child: Child,
    addr: Option<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `gauntlet <args>` with JSON logs and short leases; waits for "listening"
/// when `listens`, or for "worker started" otherwise.
fn spawn(
    args: &[&str],
    data: &Path,
    exercises: &Path,
    env: &[(&str, &str)],
    listens: bool,
) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gauntlet"));
    cmd.args(args)
        .arg("--data-dir")
        .arg(data)
        .arg("--exercises")
        .arg(exercises)
        .env("GAUNTLET_LOG_FORMAT", "json")
        .env("WORKER_ENABLED", "true")
        .env("RUN_UNTRUSTED_CODE", "true")
        .env("WORKER_LEASE", "3s")
        .env("WORKER_HEARTBEAT", "1s")
        .env("GAUNTLET_RATE_LIMITS", "off")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if listens {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    let mut child = cmd.spawn().expect("spawn gauntlet");
    let stderr = child.stderr.take().unwrap();
    let found: Arc<Mutex<Started>> = Arc::default();
    let seen = found.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut s = seen.lock().unwrap();
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                match v["message"].as_str() {
                    Some("listening") => s.0 = v["addr"].as_str().map(str::to_owned),
                    Some("worker started") => s.1 = true,
                    _ => {}
                }
            }
            if s.2.len() < 200 {
                s.2.push(line);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        {
            let s = found.lock().unwrap();
            if (listens && s.0.is_some()) || (!listens && s.1) {
                return Proc {
                    child,
                    addr: s.0.clone(),
                };
            }
            if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
                panic!("gauntlet {args:?} did not start:\n{}", s.2.join("\n"));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn http(method: &str, url: &str, body: Option<&Value>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut resp = match (method, body) {
        ("POST", Some(b)) => agent.post(url).send_json(b),
        _ => agent.get(url).call(),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

fn submit(addr: &str) -> String {
    let body = json!({"exercise": "slow-sum", "files": {"sum.sh": "sum() { echo $(($1 + $2)); }\n"}, "display_name": "crash-test"});
    let (status, text) = http(
        "POST",
        &format!("http://{addr}/api/v1/submissions"),
        Some(&body),
    );
    assert_eq!(status, 202, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

fn state(addr: &str, id: &str) -> Value {
    let (status, text) = http(
        "GET",
        &format!("http://{addr}/api/v1/submissions/{id}"),
        None,
    );
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// PIDs of processes running the slow test's marker.
fn marked(marker: &str) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-f", &format!("sleep {marker}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The submission's event stream, read to its end (it ends with the result).
fn events(addr: &str, id: &str) -> Vec<(String, Value)> {
    let (status, text) = http(
        "GET",
        &format!("http://{addr}/api/v1/submissions/{id}/events"),
        None,
    );
    assert_eq!(status, 200);
    let mut out = Vec::new();
    let mut event = String::new();
    for line in text.lines() {
        if let Some(e) = line.strip_prefix("event: ") {
            event = e.to_owned();
        } else if let Some(d) = line.strip_prefix("data: ") {
            out.push((
                event.clone(),
                serde_json::from_str(d).unwrap_or(Value::Null),
            ));
        }
    }
    out
}

/// Kills `victim` with SIGKILL once its job runs, then checks the jail died with it.
fn kill_mid_run(victim: &mut Proc, api: &str, id: &str, marker: &str) {
    wait_for("the job to run", 60, || {
        state(api, id)["state"] == "running"
    });
    wait_for("the sandboxed test to start", 30, || {
        !marked(marker).is_empty()
    });
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    wait_for("the dead worker's jail to be gone", 10, || {
        marked(marker).is_empty()
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
    let data = tmp.path().join("data");
    let mut first = spawn(&["serve"], &data, &exercises, &[], true);
    let api = first.addr.clone().unwrap();
    let id = submit(&api);
    kill_mid_run(&mut first, &api, &id, marker);

    let second = spawn(&["serve"], &data, &exercises, &[], true);
    let api = second.addr.clone().unwrap();
    assert_finished_once(&api, &id);
}

/// A fresh PostgreSQL database for this test, or `None` (with the reason printed)
/// when no server answers.
fn fresh_postgres() -> Option<String> {
    let base = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
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
        Ok(o) => skip(&format!(
            "PostgreSQL is not reachable at {base}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => skip(&format!("psql is not available to create a database: {e}")),
    }
}

/// Skips with the reason printed; in CI (`CI=true`) a missing service is a failure.
fn skip(reason: &str) -> Option<String> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    None
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
    let env = [("DATABASE_URL", url.as_str())];
    // The API alone, and one worker; both share the PostgreSQL store.
    let api_proc = spawn(
        &["serve", "--no-workers"],
        &tmp.path().join("api"),
        &exercises,
        &env,
        true,
    );
    let api = api_proc.addr.clone().unwrap();
    let mut worker = spawn(&["worker"], &tmp.path().join("w1"), &exercises, &env, false);
    let id = submit(&api);
    kill_mid_run(&mut worker, &api, &id, marker);

    let _second = spawn(&["worker"], &tmp.path().join("w2"), &exercises, &env, false);
    assert_finished_once(&api, &id);
}
