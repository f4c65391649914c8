//! A cluster of real `gauntlet` processes for crash tests and the soak benchmark: nodes
//! (`serve` or `worker`) that can be killed with SIGKILL and started again on the same
//! data dir, a private PostgreSQL instance that can be restarted, CPU load, an HTTP
//! client for the API, and the checks for what a run must not leave behind.
#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Polls `f` every 50 ms until it holds; panics with `what` after `secs`.
pub fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// In CI (`CI=true`) a missing service or tool is a failure; elsewhere a skip, said.
pub fn skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// The binary under test: this build's, or `GAUNTLET_BIN` (the soak benchmark runs an
/// earlier build side by side).
pub fn binary() -> PathBuf {
    std::env::var_os("GAUNTLET_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gauntlet")))
}

/// What a node's log said so far.
#[derive(Default)]
struct Log {
    addr: Option<String>,
    worker_started: bool,
    lines: Vec<String>,
}

/// One `gauntlet serve` or `gauntlet worker`, started (and started again after a kill)
/// on the same data dir with the same settings.
pub struct Node {
    pub name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    pub data: PathBuf,
    listens: bool,
    child: Option<Child>,
    log: Arc<Mutex<Log>>,
    /// The API address of the current incarnation (serve only).
    pub addr: Option<String>,
    /// Every pid this node has had.
    pub pids: Vec<u32>,
}

impl Node {
    /// A node; `listens` for `serve` (waits for "listening"), else for "worker started".
    pub fn new(name: &str, args: &[&str], data: PathBuf, env: &[(&str, String)]) -> Node {
        Node {
            name: name.to_owned(),
            listens: args.first() == Some(&"serve"),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            data,
            child: None,
            log: Arc::default(),
            addr: None,
            pids: Vec::new(),
        }
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} is running", self.name);
        let mut cmd = Command::new(binary());
        cmd.args(&self.args).arg("--data-dir").arg(&self.data);
        if self.listens {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.env("GAUNTLET_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn gauntlet");
        self.pids.push(child.id());
        let log: Arc<Mutex<Log>> = Arc::default();
        self.log = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = log.lock().unwrap();
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    match v["message"].as_str() {
                        Some("listening") => l.addr = v["addr"].as_str().map(str::to_owned),
                        Some("worker started") => l.worker_started = true,
                        _ => {}
                    }
                }
                if l.lines.len() >= 400 {
                    l.lines.remove(0);
                }
                l.lines.push(line);
            }
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            {
                let l = self.log.lock().unwrap();
                if (self.listens && l.addr.is_some()) || (!self.listens && l.worker_started) {
                    self.addr = l.addr.clone();
                    return;
                }
            }
            let exited = self
                .child
                .as_mut()
                .map(|c| matches!(c.try_wait(), Ok(Some(_))))
                .unwrap_or(true);
            if exited || Instant::now() > deadline {
                panic!(
                    "{} ({:?}) did not start:\n{}",
                    self.name,
                    self.args,
                    self.log.lock().unwrap().lines.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no drain, no release, no result.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    assert!(
                        status.success(),
                        "{} exited with {status} after SIGTERM:\n{}",
                        self.name,
                        self.log_tail(40)
                    );
                    return;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{} did not stop after SIGTERM", self.name);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Resident memory of the current incarnation, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    pub fn log_tail(&self, n: usize) -> String {
        let l = self.log.lock().unwrap();
        l.lines[l.lines.len().saturating_sub(n)..].join("\n")
    }

    /// Log lines (JSON) whose message or fields mention `needle`.
    pub fn log_mentions(&self, needle: &str) -> Vec<String> {
        let l = self.log.lock().unwrap();
        l.lines
            .iter()
            .filter(|line| line.contains(needle))
            .cloned()
            .collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Busy loops that keep the machine's cores loaded; stopped on drop.
pub struct Load(Vec<Child>);

impl Load {
    pub fn start(loops: usize) -> Load {
        Load(
            (0..loops)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .stdin(Stdio::null())
                        .spawn()
                        .expect("spawn a busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP answer: status and body, or `None` when the server could not be reached.
pub fn http(method: &str, url: &str, body: Option<&Value>) -> Option<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut resp = match (method, body) {
        ("POST", Some(b)) => agent.post(url).send_json(b),
        _ => agent.get(url).call(),
    }
    .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.body_mut().read_to_string().unwrap_or_default()))
}

/// Submits `files` to `exercise`: the submission's id when the server accepted it (202).
/// Each submission comes from a new session under a display name of its own (a name
/// belongs to the session that first used it).
pub fn submit(addr: &str, exercise: &str, files: &Value) -> Option<String> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("client-{}-{n}", std::process::id());
    let body = serde_json::json!({"exercise": exercise, "files": files, "display_name": name});
    let (status, text) = http(
        "POST",
        &format!("http://{addr}/api/v1/submissions"),
        Some(&body),
    )?;
    if status != 202 {
        return None;
    }
    let v: Value = serde_json::from_str(&text).ok()?;
    v["id"].as_str().map(str::to_owned)
}

/// The submission as the API shows it, or `None` when the server cannot answer now.
pub fn submission(addr: &str, id: &str) -> Option<Value> {
    let (status, text) = http(
        "GET",
        &format!("http://{addr}/api/v1/submissions/{id}"),
        None,
    )?;
    (status == 200).then(|| serde_json::from_str(&text).ok())?
}

/// The submission's event stream, read to its end: `(event, data)` pairs.
pub fn events(addr: &str, id: &str) -> Vec<(String, Value)> {
    let (status, text) = http(
        "GET",
        &format!("http://{addr}/api/v1/submissions/{id}/events"),
        None,
    )
    .expect("event stream");
    assert_eq!(status, 200, "{text}");
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

/// PIDs of processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Entries left in a data dir's `runs/` (job folders).
pub fn job_folders(data: &Path) -> Vec<String> {
    match std::fs::read_dir(data.join("runs")) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Run cgroups (`run-<pid>-<n>`) of any of `pids`, anywhere under /sys/fs/cgroup.
pub fn run_cgroups_of(pids: &[u32]) -> Vec<PathBuf> {
    let prefixes: Vec<String> = pids.iter().map(|p| format!("run-{p}-")).collect();
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            if !kind.is_dir() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if prefixes.iter().any(|p| name.starts_with(p)) {
                found.push(e.path());
            } else if dir.ends_with("gauntlet") || name == "gauntlet" || !name.starts_with("run-") {
                // Only walk where run cgroups can be: into `gauntlet` folders and the
                // hierarchy above them, not into other runs.
                if stack.len() < 10_000 {
                    stack.push(e.path());
                }
            }
        }
    }
    found
}

/// Network-namespace slots whose lock is held by a process whose command line mentions
/// `ours` (a path only this test's processes have): slots a dead run never gave back.
pub fn netns_slots_held_by(ours: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/run/gauntlet/netns") else {
        return Vec::new();
    };
    let locks: Vec<(u64, String)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".lock"))
        .filter_map(|e| {
            Some((
                e.metadata().ok()?.ino(),
                e.file_name().to_string_lossy().into_owned(),
            ))
        })
        .collect();
    let table = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let mut held = Vec::new();
    for line in table.lines() {
        // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 6 || fields[1] != "FLOCK" {
            continue;
        }
        let (pid, inode) = (fields[4], fields[5].rsplit(':').next().unwrap_or(""));
        let Some((_, slot)) = locks.iter().find(|(ino, _)| ino.to_string() == inode) else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(ours) {
            held.push(format!("{slot} held by pid {pid}"));
        }
    }
    held
}

/// A PostgreSQL instance of this test's own (`initdb` and `pg_ctl` from
/// /usr/lib/postgresql/*/bin, run as the `postgres` user when this process is root),
/// on a free port, so a restart disturbs no one else. Stopped and removed on drop.
pub struct PgInstance {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    as_postgres: bool,
}

impl PgInstance {
    /// `None` (after saying why) when no PostgreSQL server binaries are installed.
    pub fn start() -> Option<PgInstance> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                let mut v: Vec<PathBuf> =
                    versions.flatten().map(|e| e.path().join("bin")).collect();
                v.sort();
                v.into_iter().rev().find(|b| b.join("pg_ctl").exists())
            });
        let Some(bin) = bin else {
            skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin");
            return None;
        };
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let dir = tempfile::tempdir().unwrap();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the PostgreSQL data dir");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PgInstance {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        );
        pg.ctl("start");
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("pg").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let out = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .stdin(Stdio::null())
                .output()
        } else {
            Command::new(&exe).args(args).stdin(Stdio::null()).output()
        }
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn ctl(&self, action: &str) {
        let data = self.data();
        let sockets = self.dir.path().display().to_string();
        let options = format!(
            "-p {} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on",
            self.port
        );
        let log = self.dir.path().join("log").display().to_string();
        match action {
            "start" => self.run(
                "pg_ctl",
                &[
                    "-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start",
                ],
            ),
            "restart" => self.run(
                "pg_ctl",
                &[
                    "-D", &data, "-l", &log, "-o", &options, "-m", "fast", "-w", "-t", "60",
                    "restart",
                ],
            ),
            _ => self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]),
        }
    }

    /// Stops the server (fast: committed work is flushed) and starts it again.
    pub fn restart(&self) {
        self.ctl("restart");
    }

    /// A fresh database on this instance.
    pub fn database(&self, name: &str) -> String {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let out = Command::new("psql")
            .arg(&url)
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PgInstance {
    fn drop(&mut self) {
        self.ctl("stop");
    }
}

/// A small deterministic random source (xorshift64*): the chaos schedule is printed by
/// its seed and replayed with `GAUNTLET_CHAOS_SEED`.
pub struct Rng(u64);

impl Rng {
    pub fn from_env() -> Rng {
        let seed = std::env::var("GAUNTLET_CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("chaos seed: {seed} (GAUNTLET_CHAOS_SEED={seed} replays this schedule)");
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}
