//! Controlled egress, side by side with a peer in the same run (driven by
//! bench/egress/run.sh). Two modes:
//!
//! - `proxy`: the egress proxy ([`Proxy::serve`] on a loopback listener, allowing the
//!   bench's own loopback servers) against connecting to those servers directly. Bulk
//!   download and upload (`MIB`, default 512, `REPS` times each way, alternating),
//!   1 KiB request/response round trips in one connection (`ROUND_TRIPS`, default
//!   10000, `REPS` times), and set-up latency: `connect` alone against `connect` +
//!   `CONNECT` + the `200` head (`SETUPS`, default 200, alternating). The proxy does not
//!   care where its listener lives, so no namespace is needed. `proxy round-trips`
//!   runs the round trips alone (run.sh runs them again under `taskset -c 0`).
//! - `deps [WORK_DIR]`: what an exercise's installed dependency set adds to each job.
//!   The bundled `reverse-words` (python) graded as it is and with
//!   `dependencies: {python: …}` (pytest-anagrams' requirements: a read-only bind and
//!   `PYTHONPATH`), and `word-frequency` (node) as it is and with
//!   `dependencies: {node: …}` (jest-isbn's lock: a `node_modules/` lower under the
//!   workspace). Same tests and test command in each pair, which never load the
//!   packages, so only the set's presence differs. The set is installed first (its
//!   install time reported apart), then one warm-up grade each, then `RUNS` (default
//!   30) grades each, interleaved. Needs pypi.org / registry.npmjs.org reachable: a
//!   pair whose registry is not is skipped, saying why.
//!
//! Prints medians and ratios; lines starting with `|` are rows of run.sh's table.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use gauntlet_exercise::{self as exercise, Exercise, Maxima, Outcome};
use gauntlet_grader::egress::{Counters, HostPort, Policy, Proxy};
use gauntlet_grader::{Grader, GraderConfig, Registry, Submission};

#[path = "../tests/common/packages.rs"]
mod packages;
use packages::{copy_package, reachable};

/// One write of the bulk senders.
const CHUNK: usize = 256 << 10;
/// One request, and one response, of the round-trip test.
const MESSAGE: usize = 1 << 10;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    match args.next().as_deref() {
        Some("proxy") => proxy_mode(args.next().as_deref() == Some("round-trips")),
        Some("deps") => deps_mode(args.next().map(PathBuf::from)),
        _ => {
            eprintln!("usage: egress proxy [round-trips] | egress deps [WORK_DIR]");
            std::process::exit(2);
        }
    }
}

// ---------------------------------------------------------------------------------
// proxy

/// A loopback server running `serve` on a thread per connection.
fn server(serve: fn(TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("its address");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve(stream));
        }
    });
    addr
}

/// Sends `MIB` MiB as fast as it can, then closes.
fn source(mut stream: TcpStream) {
    let total = env_or("MIB", 512u64) << 20;
    let buf = pattern(CHUNK);
    let mut sent = 0u64;
    while sent < total {
        let n = (total - sent).min(CHUNK as u64) as usize;
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
        sent += n as u64;
    }
    let _ = stream.shutdown(Shutdown::Write);
}

/// Reads until EOF, then answers the byte count (8 bytes, little-endian) and closes.
fn sink(mut stream: TcpStream) {
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
    let _ = stream.write_all(&got.to_le_bytes());
}

/// Answers each 1 KiB request with 1 KiB, until EOF.
fn echo(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; MESSAGE];
    while stream.read_exact(&mut buf).is_ok() {
        if stream.write_all(&buf).is_err() {
            return;
        }
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

/// Where the client connects: straight to the server, or through the proxy at `.0`.
#[derive(Clone, Copy)]
enum Via {
    Direct,
    Proxy(SocketAddr),
}

/// A connection to `target`, and whatever of the target's bytes arrived with the
/// proxy's `200` head.
fn open(via: Via, target: SocketAddr) -> (TcpStream, usize) {
    match via {
        Via::Direct => (TcpStream::connect(target).expect("connect"), 0),
        Via::Proxy(proxy) => {
            let mut s = TcpStream::connect(proxy).expect("connect to the proxy");
            s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
                .expect("send CONNECT");
            let mut head = Vec::with_capacity(256);
            let mut buf = [0u8; 4096];
            loop {
                let n = s.read(&mut buf).expect("read the proxy's answer");
                assert!(n > 0, "the proxy closed before answering");
                head.extend_from_slice(&buf[..n]);
                if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    assert!(
                        head.starts_with(b"HTTP/1.1 200"),
                        "{}",
                        String::from_utf8_lossy(&head)
                    );
                    return (s, head.len() - (end + 4));
                }
            }
        }
    }
}

/// MiB/s of reading everything the source sends.
fn download(via: Via, target: SocketAddr) -> f64 {
    let total = env_or("MIB", 512u64) << 20;
    let start = Instant::now();
    let (mut s, early) = open(via, target);
    let mut got = early as u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("download: {e}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, total, "download: every byte");
    total as f64 / (1u64 << 20) as f64 / secs
}

/// MiB/s of sending `MIB` MiB to the sink, up to its answer that it got them all.
fn upload(via: Via, target: SocketAddr) -> f64 {
    let total = env_or("MIB", 512u64) << 20;
    let buf = pattern(CHUNK);
    let start = Instant::now();
    let (mut s, _) = open(via, target);
    let mut sent = 0u64;
    while sent < total {
        let n = (total - sent).min(CHUNK as u64) as usize;
        s.write_all(&buf[..n]).expect("upload");
        sent += n as u64;
    }
    s.shutdown(Shutdown::Write).expect("half-close");
    let mut answer = [0u8; 8];
    s.read_exact(&mut answer).expect("the sink's count");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(u64::from_le_bytes(answer), total, "upload: every byte");
    total as f64 / (1u64 << 20) as f64 / secs
}

/// Round trips per second of 1 KiB requests and responses in one connection.
fn round_trips(via: Via, target: SocketAddr, n: usize) -> f64 {
    let (mut s, early) = open(via, target);
    assert_eq!(early, 0);
    s.set_nodelay(true).expect("nodelay");
    let out = pattern(MESSAGE);
    let mut back = [0u8; MESSAGE];
    let mut once = |s: &mut TcpStream| {
        s.write_all(&out).expect("request");
        s.read_exact(&mut back).expect("response");
    };
    for _ in 0..100 {
        once(&mut s);
    }
    let start = Instant::now();
    for _ in 0..n {
        once(&mut s);
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    assert_eq!(back[..], out[..]);
    rate
}

/// Microseconds until the connection is usable: `connect` directly, or `connect` +
/// `CONNECT` + the proxy's `200` head.
fn setup(via: Via, target: SocketAddr) -> f64 {
    let start = Instant::now();
    let (s, _) = open(via, target);
    let us = start.elapsed().as_secs_f64() * 1e6;
    drop(s);
    us
}

fn row(what: &str, unit: &str, direct: f64, proxied: f64) {
    println!(
        "| {what} | {direct:.1} {unit} | {proxied:.1} {unit} | {:.2}× |",
        proxied / direct
    );
}

/// " (one core)" when this process may run on one CPU only (`taskset -c N`): then
/// every hop is a context switch on that CPU, not a wake-up of another (virtual) CPU,
/// whose latency swings by 10× on a VM.
fn pinned() -> &'static str {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let one = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .is_some_and(|list| !list.contains([',', '-']));
    if one {
        " (one core)"
    } else {
        ""
    }
}

/// With `only_round_trips`, just the round trips (run.sh runs them again pinned).
fn proxy_mode(only_round_trips: bool) {
    let reps: usize = env_or("REPS", 5);
    let mib: u64 = env_or("MIB", 512);
    let trips: usize = env_or("ROUND_TRIPS", 10_000);
    let setups: usize = env_or("SETUPS", 200);
    let (src, snk, ech) = (server(source), server(sink), server(echo));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy's port");
    let proxy_addr = listener.local_addr().expect("its address");
    let allow = [src, snk, ech]
        .iter()
        .map(|a| HostPort {
            host: a.ip().to_string(),
            port: a.port(),
        })
        .collect();
    let mut policy = Policy::new(allow);
    // Caps out of the way: this measures the data path, not the limits.
    policy.max_bytes = u64::MAX;
    policy.max_connections = u32::MAX;
    policy.max_time = Duration::from_secs(24 * 3600);
    let proxy = Proxy::serve(
        listener,
        policy,
        "bench-egress".into(),
        Arc::new(Counters::default()),
    )
    .expect("serve the proxy");
    let via = Via::Proxy(proxy_addr);
    let on = pinned();
    if only_round_trips {
        println!("proxy{on}: {trips} round trips x {reps}");
    } else {
        println!(
            "proxy{on}: {mib} MiB each way x {reps}, {trips} round trips x {reps}, {setups} set-ups"
        );
    }

    // Alternating which goes first, so a drift in the machine's load hits both alike.
    let pairs = |f: &dyn Fn(Via) -> f64, n: usize| {
        let (mut d, mut p) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            if i % 2 == 0 {
                d.push(f(Via::Direct));
                p.push(f(via));
            } else {
                p.push(f(via));
                d.push(f(Via::Direct));
            }
        }
        (d, p)
    };
    let show = |what: &str, v: &[f64]| {
        let list: Vec<String> = v.iter().map(|x| format!("{x:.0}")).collect();
        println!("  {what}: {}", list.join(" "));
    };
    let trips_row = format!("1 KiB round trips in one connection{on}, median /s");
    if only_round_trips {
        let (rd, rp) = pairs(&|v| round_trips(v, ech, trips), reps);
        show("round trips direct /s", &rd);
        show("round trips proxied /s", &rp);
        row(&trips_row, "/s", median(&rd), median(&rp));
        return;
    }
    let (dd, dp) = pairs(&|v| download(v, src), reps);
    let (ud, up) = pairs(&|v| upload(v, snk), reps);
    let (rd, rp) = pairs(&|v| round_trips(v, ech, trips), reps);
    let (sd, sp) = pairs(&|v| setup(v, ech), setups);
    let stats = proxy.stop();
    assert_eq!(stats.denied, 0, "{:?}", stats.log_lines());

    show("download direct MiB/s", &dd);
    show("download proxied MiB/s", &dp);
    show("upload direct MiB/s", &ud);
    show("upload proxied MiB/s", &up);
    show("round trips direct /s", &rd);
    show("round trips proxied /s", &rp);
    println!(
        "  set-up direct µs: median {:.0}, min {:.0}; proxied µs: median {:.0}, min {:.0}",
        median(&sd),
        min(&sd),
        median(&sp),
        min(&sp)
    );
    row("download, median MiB/s", "MiB/s", median(&dd), median(&dp));
    row("upload, median MiB/s", "MiB/s", median(&ud), median(&up));
    row(&trips_row, "/s", median(&rd), median(&rp));
    row(
        &format!("set-up (connect vs connect + CONNECT + 200){on}, median µs"),
        "µs",
        median(&sd),
        median(&sp),
    );
    row("set-up, fastest µs", "µs", min(&sd), min(&sp));
}

// ---------------------------------------------------------------------------------
// deps

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of the bundled package `name` under `root` as `id`, with `extra` appended to
/// its exercise.yaml and `files` (paths under exercises/) copied to its root.
fn copy_with(name: &str, root: &Path, id: &str, extra: &str, files: &[&str]) -> PathBuf {
    let to = copy_package(name, root, id);
    let yaml = to.join("exercise.yaml");
    let mut text = std::fs::read_to_string(&yaml).expect("exercise.yaml");
    text.push_str(extra);
    std::fs::write(&yaml, text).expect("write exercise.yaml");
    for file in files {
        let from = repo().join("exercises").join(file);
        let base = Path::new(file).file_name().expect("a file name");
        std::fs::copy(&from, to.join(base)).expect("copy a dependency file");
    }
    to
}

fn grade_ms(g: &Grader, ex: &Exercise) -> f64 {
    let sub = Submission::PackageDir(ex.dir.join("solution"));
    let start = Instant::now();
    let result = g
        .grade(ex, &sub, &gauntlet_grader::local_job_id(), &mut |_| {})
        .expect("grade");
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(
        (result.outcome, result.score),
        (Outcome::Passed, 100),
        "{}: {}",
        ex.id.as_str(),
        result.log
    );
    ms
}

struct Pair {
    kind: &'static str,
    registry: &'static str,
    base: &'static str,
    ids: (&'static str, &'static str),
    yaml: &'static str,
    files: &'static [&'static str],
}

fn deps_pair(g: &Grader, root: &Path, runs: usize, pair: &Pair) {
    if let Err(why) = reachable(pair.registry) {
        println!("{}: skipped: {why}", pair.kind);
        println!("| {} | skipped: {why} | | |", pair.kind);
        return;
    }
    let load =
        |dir: &Path| exercise::load_with(dir, &g.load_options(Maxima::default())).expect("package");
    let plain = load(&copy_with(pair.base, root, pair.ids.0, "", &[]));
    let deps = load(&copy_with(
        pair.base, root, pair.ids.1, pair.yaml, pair.files,
    ));
    let installed = g.dependencies(&deps).expect("the dependency set installs");
    let set = installed.sets().next().expect("one set");
    println!(
        "{}: set {} installed in {} ms ({}), {} files, {:.1} MiB",
        pair.kind,
        set.info.key,
        set.info.install_ms,
        if set.info.fresh {
            "fresh"
        } else {
            "already there"
        },
        set.info.files,
        set.info.bytes as f64 / (1u64 << 20) as f64
    );
    grade_ms(g, &plain);
    grade_ms(g, &deps);
    let (mut p, mut d) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for i in 0..runs {
        if i % 2 == 0 {
            p.push(grade_ms(g, &plain));
            d.push(grade_ms(g, &deps));
        } else {
            d.push(grade_ms(g, &deps));
            p.push(grade_ms(g, &plain));
        }
    }
    let (mp, md) = (median(&p), median(&d));
    println!(
        "{}: {} median {mp:.1} ms, {} median {md:.1} ms over {runs} grades each; ratio {:.3} (deps / plain)",
        pair.kind,
        pair.ids.0,
        pair.ids.1,
        md / mp
    );
    println!(
        "| {} per-job grade ({} vs {}), median | {mp:.1} ms | {md:.1} ms | {:.2}× |",
        pair.kind,
        pair.ids.0,
        pair.ids.1,
        md / mp
    );
    println!(
        "| {} set install (once per lock; {} files, {:.1} MiB) | | {} ms | |",
        pair.kind,
        set.info.files,
        set.info.bytes as f64 / (1u64 << 20) as f64,
        set.info.install_ms
    );
}

fn deps_mode(work: Option<PathBuf>) {
    let runs: usize = env_or("RUNS", 30);
    let _tmp;
    let work = match work {
        Some(dir) => dir,
        None => {
            _tmp = tempfile::tempdir().expect("a temp folder");
            _tmp.path().to_owned()
        }
    };
    // The jail user reaches the data dir below it by path.
    std::fs::create_dir_all(&work).expect("the work folder");
    let status = Command::new("chmod")
        .arg("755")
        .arg(&work)
        .status()
        .expect("chmod");
    assert!(status.success());
    let pkgs = work.join("packages");
    std::fs::create_dir_all(&pkgs).expect("the packages folder");
    let g = Grader::new(GraderConfig::new(work.join("data")), Registry::system()).expect("grader");
    println!("deps: {runs} grades of each, interleaved, after one warm-up grade each");
    deps_pair(
        &g,
        &pkgs,
        runs,
        &Pair {
            kind: "python",
            registry: "pypi.org",
            base: "reverse-words",
            ids: ("rw-plain", "rw-deps"),
            yaml: "dependencies:\n  python: requirements.txt\n",
            files: &["pytest-anagrams/requirements.txt"],
        },
    );
    deps_pair(
        &g,
        &pkgs,
        runs,
        &Pair {
            kind: "node",
            registry: "registry.npmjs.org",
            base: "word-frequency",
            ids: ("wf-plain", "wf-deps"),
            yaml: "dependencies:\n  node: package-lock.json\n",
            files: &["jest-isbn/package.json", "jest-isbn/package-lock.json"],
        },
    );
}
