//! Crash recovery under load (docs/queue.md, "Job folders" and "Whose fault"): the real
//! binary on both back ends, two busy loops loading the cores, random SIGKILLs of `serve`
//! and of standalone workers (each started again at once on its data dir, as a
//! supervisor would), and on PostgreSQL one restart of the database mid-run. Then:
//!
//! - every accepted submission finished exactly once, with the result its code earns;
//! - no job folder, run cgroup, jailed process or lent network-namespace slot is left;
//! - the server's memory after the run is within 10% of its memory after warm-up.
//!
//! `soak` (ignored) is the same run as a benchmark: bench/queue/soak.sh prints its
//! jobs/s and submit→result percentiles, for this build and an earlier one side by side.

mod cluster;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cluster::{
    events, job_folders, netns_slots_held_by, processes_with, run_cgroups_of, submission, submit,
    wait_for, Load, Node, PgInstance, Rng,
};
use serde_json::{json, Value};

/// The two back ends' runs take turns: each loads the machine on its own.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const EXERCISE: &str = "chaos-sum";

/// What a submission's code is, and so what it earns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    /// Both tests pass: `passed`, 100.
    Right,
    /// Right, after a second's sleep (so that kills find jobs in flight): `passed`, 100.
    Sluggish,
    /// One of two: `failed`, 50.
    Half,
    /// Neither: `failed`, 0.
    Wrong,
    /// Sleeps past the exercise's 2 s wall time: `wall_timeout`, 0.
    Slow,
}

impl Code {
    fn pick(rng: &mut Rng) -> Code {
        match rng.range(0, 100) {
            0..=44 => Code::Right,
            45..=69 => Code::Sluggish,
            70..=84 => Code::Half,
            85..=96 => Code::Wrong,
            _ => Code::Slow,
        }
    }

    fn files(self) -> Value {
        let sum = match self {
            Code::Right => "sum() { echo $(($1 + $2)); }\n",
            Code::Sluggish => "sleep 1\nsum() { echo $(($1 + $2)); }\n",
            Code::Half => "sum() { echo $(($1 * $2)); }\n",
            Code::Wrong => "sum() { echo 7; }\n",
            Code::Slow => "sleep 30\nsum() { echo $(($1 + $2)); }\n",
        };
        json!({ "sum.sh": sum })
    }

    fn earns(self) -> (&'static str, i64) {
        match self {
            Code::Right | Code::Sluggish => ("passed", 100),
            Code::Half => ("failed", 50),
            Code::Wrong => ("failed", 0),
            Code::Slow => ("wall_timeout", 0),
        }
    }
}

/// A tiny, fast shell exercise with two tests; its test script's name carries `marker`,
/// so this run's jailed processes can be told from anyone else's.
fn exercise(root: &Path, marker: &str) -> PathBuf {
    let ex = root.join("exercises").join(EXERCISE);
    for d in ["starter", "solution", "tests"] {
        std::fs::create_dir_all(ex.join(d)).unwrap();
    }
    let script = format!("tests/run-{marker}.sh");
    std::fs::write(
        ex.join("exercise.yaml"),
        format!(
            "id: {EXERCISE}\ntitle: Sums, under fire\nruntime: shell\nsubmission: files\n\
             starter:\n  files:\n    - path: sum.sh\nlimits:\n  wall_time: 2s\n\
             test:\n  command: [\"sh\", \"{script}\"]\n  results: tap\nscoring: per-test\n"
        ),
    )
    .unwrap();
    std::fs::write(ex.join("starter/sum.sh"), "sum() { echo 0; }\n").unwrap();
    std::fs::write(ex.join("solution/sum.sh"), "sum() { echo $(($1 + $2)); }\n").unwrap();
    std::fs::write(
        ex.join(&script),
        "echo 1..2\n. ./sum.sh\n\
         if [ \"$(sum 2 3)\" = 5 ]; then echo 'ok 1 - adds'; else echo 'not ok 1 - adds'; fi\n\
         if [ \"$(sum 0 0)\" = 0 ]; then echo 'ok 2 - zero'; else echo 'not ok 2 - zero'; fi\n",
    )
    .unwrap();
    root.join("exercises")
}

/// The settings every node of a run gets.
fn node_env(database: Option<&str>, concurrency: u32) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("WORKER_ENABLED", "true".to_owned()),
        ("RUN_UNTRUSTED_CODE", "true".to_owned()),
        ("WORKER_LEASE", "3s".to_owned()),
        ("WORKER_HEARTBEAT", "1s".to_owned()),
        ("WORKER_RETRY_BACKOFF", "200ms".to_owned()),
        // Several kills may catch the same job; its attempts are not what is tested here.
        ("WORKER_MAX_ATTEMPTS", "20".to_owned()),
        ("WORKER_MAX_CONCURRENCY", concurrency.to_string()),
        ("GAUNTLET_RATE_LIMITS", "off".to_owned()),
        ("GAUNTLET_MAX_QUEUE", "100000".to_owned()),
        // The end check asserts that nothing of the run lives on while its nodes still
        // run; warm jails do, by design. How they die with a killed server is tested in
        // crash.rs (`a_killed_server_leaves_no_warm_jail_behind`).
        ("GAUNTLET_WARM_JAILS", "0".to_owned()),
        ("GAUNTLET_MAX_ACTIVE_PER_SESSION", "100000".to_owned()),
    ];
    if let Some(url) = database {
        env.push(("DATABASE_URL", url.to_owned()));
    }
    env
}

/// One accepted submission.
struct Tracked {
    id: String,
    code: Code,
    submitted: Instant,
    finished: Option<(Instant, Value)>,
}

/// What happens to the cluster once so many submissions have finished.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// SIGKILL node `n` (by index), then start it again on its data dir.
    Kill(usize),
    /// Restart the PostgreSQL server.
    RestartDatabase,
}

/// A run's figures.
#[derive(Debug)]
struct Figures {
    jobs: usize,
    seconds: f64,
    p50_ms: u128,
    p99_ms: u128,
    faults: usize,
    /// Submissions whose result is not the one their code earns.
    wrong: Vec<String>,
    rss_warm_kib: u64,
    rss_end_kib: u64,
}

struct Run {
    nodes: Vec<Node>,
    /// The node whose API the client uses, and whose memory is measured.
    api: usize,
    pg: Option<PgInstance>,
    tmp: tempfile::TempDir,
    marker: String,
}

impl Run {
    fn addr(&self) -> String {
        self.nodes[self.api]
            .addr
            .clone()
            .expect("the API node listens")
    }

    fn apply(&mut self, fault: Fault, rng: &mut Rng) {
        // Somewhere inside the jobs in flight, not at a boundary.
        std::thread::sleep(Duration::from_millis(rng.range(0, 800)));
        match fault {
            Fault::Kill(n) => {
                let node = &mut self.nodes[n];
                eprintln!("chaos: SIGKILL {}", node.name);
                node.kill();
                node.start();
            }
            Fault::RestartDatabase => {
                eprintln!("chaos: restarting PostgreSQL");
                self.pg.as_ref().expect("a database to restart").restart();
            }
        }
    }
}

/// Submits `jobs` submissions, keeping `window` of them unfinished at a time, applies
/// each fault once its share of submissions has finished, and waits for all of them.
fn drive(
    run: &mut Run,
    jobs: usize,
    window: usize,
    faults: &[(usize, Fault)],
    rng: &mut Rng,
) -> Figures {
    let mut tracked: Vec<Tracked> = Vec::new();
    let mut pending = faults.iter().copied().peekable();
    let started = Instant::now();
    let mut finished = 0;
    let mut rss_warm = None;
    let last_fault = faults.last().map(|(at, _)| *at).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(900);
    while finished < jobs {
        assert!(
            Instant::now() < deadline,
            "the run did not finish: {finished}/{jobs}"
        );
        let addr = run.addr();
        while tracked.len() < jobs && tracked.len() - finished < window {
            let code = Code::pick(rng);
            match submit(&addr, EXERCISE, &code.files()) {
                Some(id) => tracked.push(Tracked {
                    id,
                    code,
                    submitted: Instant::now(),
                    finished: None,
                }),
                None => break, // the API is down or its store is: try again shortly
            }
        }
        for t in tracked.iter_mut().filter(|t| t.finished.is_none()) {
            if let Some(s) = submission(&addr, &t.id) {
                if s["state"] == "finished" {
                    t.finished = Some((Instant::now(), s["result"].clone()));
                    finished += 1;
                }
            }
        }
        if rss_warm.is_none() && finished >= last_fault + 20 {
            rss_warm = run.nodes[run.api].rss_kib();
        }
        if let Some((at, fault)) = pending.peek().copied() {
            if finished >= at {
                pending.next();
                run.apply(fault, rng);
                continue;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies: Vec<u128> = tracked
        .iter()
        .map(|t| (t.finished.as_ref().unwrap().0 - t.submitted).as_millis())
        .collect();
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    let wrong = tracked
        .iter()
        .filter_map(|t| {
            let result = &t.finished.as_ref().unwrap().1;
            let (outcome, score) = t.code.earns();
            (result["outcome"] != outcome || result["score"] != score).then(|| {
                format!(
                    "{} ({:?}): {} {} — {}",
                    t.id,
                    t.code,
                    result["outcome"],
                    result["score"],
                    result["reason"].as_str().unwrap_or("")
                )
            })
        })
        .collect();
    Figures {
        jobs,
        seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        faults: faults.len(),
        wrong,
        rss_warm_kib: rss_warm.unwrap_or(0),
        rss_end_kib: run.nodes[run.api].rss_kib().unwrap_or(0),
    }
    .with_exactly_once(run, &tracked)
}

impl Figures {
    /// Every submission's event stream ends with exactly one result.
    fn with_exactly_once(mut self, run: &Run, tracked: &[Tracked]) -> Figures {
        let addr = run.addr();
        for t in tracked {
            let results = events(&addr, &t.id)
                .iter()
                .filter(|(event, _)| event == "result")
                .count();
            if results != 1 {
                self.wrong
                    .push(format!("{}: {results} result events", t.id));
            }
        }
        self
    }
}

/// Faults at random points of a run: `kills` SIGKILLs of the nodes in `targets`, spread
/// over the first 70% of the submissions (so that every node runs jobs after its last
/// restart), and the database restart, when asked, near the middle.
fn schedule(
    rng: &mut Rng,
    jobs: usize,
    kills: usize,
    targets: &[usize],
    restart_database: bool,
) -> Vec<(usize, Fault)> {
    let mut faults: Vec<(usize, Fault)> = (0..kills)
        .map(|_| {
            let at = rng.range(jobs as u64 / 10, jobs as u64 * 7 / 10) as usize;
            let node = targets[rng.range(0, targets.len() as u64) as usize];
            (at, Fault::Kill(node))
        })
        .collect();
    if restart_database {
        let at = rng.range(jobs as u64 * 4 / 10, jobs as u64 * 6 / 10) as usize;
        faults.push((at, Fault::RestartDatabase));
    }
    faults.sort_by_key(|(at, _)| *at);
    faults
}

fn sqlite_run(tmp: tempfile::TempDir, marker: String) -> Run {
    let exercises = exercise(tmp.path(), &marker);
    let ex = exercises.display().to_string();
    let mut serve = Node::new(
        "serve",
        &["serve", "--exercises", &ex],
        tmp.path().join("data"),
        &node_env(None, 4),
    );
    serve.start();
    Run {
        nodes: vec![serve],
        api: 0,
        pg: None,
        tmp,
        marker,
    }
}

fn postgres_run(tmp: tempfile::TempDir, marker: String) -> Option<Run> {
    let pg = PgInstance::start()?;
    let url = pg.database("chaos");
    let exercises = exercise(tmp.path(), &marker);
    let ex = exercises.display().to_string();
    let mut api = Node::new(
        "api",
        &["serve", "--no-workers", "--exercises", &ex],
        tmp.path().join("api"),
        &node_env(Some(&url), 1),
    );
    api.start();
    let mut nodes = vec![api];
    for name in ["worker-1", "worker-2"] {
        let mut worker = Node::new(
            name,
            &["worker", "--exercises", &ex],
            tmp.path().join(name),
            &node_env(Some(&url), 2),
        );
        worker.start();
        nodes.push(worker);
    }
    Some(Run {
        nodes,
        api: 0,
        pg: Some(pg),
        tmp,
        marker,
    })
}

/// What a run must not leave behind, once every submission has finished.
fn assert_nothing_left(run: &mut Run) {
    for node in &run.nodes {
        wait_for(
            &format!("{}'s job folders to be swept", node.name),
            90,
            || job_folders(&node.data).is_empty(),
        );
    }
    assert_eq!(
        processes_with(&format!("run-{}", run.marker)),
        Vec::<String>::new(),
        "jailed processes of this run still alive"
    );
    let pids: Vec<u32> = run.nodes.iter().flat_map(|n| n.pids.clone()).collect();
    let cgroups = run_cgroups_of(&pids);
    assert!(cgroups.is_empty(), "run cgroups left: {cgroups:?}");
    let ours = run.tmp.path().display().to_string();
    let slots = netns_slots_held_by(&ours);
    assert!(
        slots.is_empty(),
        "network-namespace slots still lent: {slots:?}"
    );
}

fn check(run: &mut Run, figures: &Figures) {
    eprintln!("{figures:?}");
    assert!(
        figures.wrong.is_empty(),
        "{} of {} submissions did not get the one result their code earns:\n{}",
        figures.wrong.len(),
        figures.jobs,
        figures.wrong.join("\n")
    );
    assert_nothing_left(run);
    let (warm, end) = (
        figures.rss_warm_kib,
        run.nodes[run.api].rss_kib().unwrap_or(0),
    );
    assert!(warm > 0, "no warm-up memory figure");
    assert!(
        end * 10 <= warm * 11,
        "the server's memory grew from {warm} KiB after warm-up to {end} KiB after the run"
    );
    for node in &mut run.nodes {
        node.stop();
    }
}

fn jobs() -> usize {
    std::env::var("GAUNTLET_CHAOS_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

fn marker(rng: &mut Rng) -> String {
    format!("chaos{:x}", rng.next() & 0xffff_ffff)
}

#[test]
fn chaos_sqlite_serve_killed_under_load() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::from_env();
    let _load = Load::start(2);
    let mut run = sqlite_run(tempfile::tempdir().unwrap(), marker(&mut rng));
    let jobs = jobs();
    let faults = schedule(&mut rng, jobs, 5, &[0], false);
    let figures = drive(&mut run, jobs, 12, &faults, &mut rng);
    check(&mut run, &figures);
}

#[test]
fn chaos_postgres_workers_api_and_database_restarted_under_load() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::from_env();
    let _load = Load::start(2);
    let Some(mut run) = postgres_run(tempfile::tempdir().unwrap(), marker(&mut rng)) else {
        return;
    };
    let jobs = jobs();
    // Mostly the workers; the API once, early, so its last incarnation serves the rest.
    let mut faults = schedule(&mut rng, jobs, 5, &[1, 2], true);
    faults.push((jobs / 10, Fault::Kill(0)));
    faults.sort_by_key(|(at, _)| *at);
    let figures = drive(&mut run, jobs, 12, &faults, &mut rng);
    check(&mut run, &figures);
}

/// The soak as a benchmark: one line per back end, for the binary in `GAUNTLET_BIN`
/// (default: this build). Assertions are left to the tests above: an earlier build
/// may well get results wrong, and that is what the column `wrong` shows.
#[test]
#[ignore = "a benchmark: bench/queue/soak.sh runs it"]
fn soak() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let label = std::env::var("GAUNTLET_SOAK_LABEL").unwrap_or_else(|_| "this build".into());
    let jobs = jobs();
    for backend in ["sqlite", "postgres"] {
        let mut rng = Rng::from_env();
        let _load = Load::start(2);
        let tmp = tempfile::tempdir().unwrap();
        let marker = marker(&mut rng);
        let (mut run, faults) = if backend == "sqlite" {
            let run = sqlite_run(tmp, marker);
            (run, schedule(&mut rng, jobs, 5, &[0], false))
        } else {
            let Some(run) = postgres_run(tmp, marker) else {
                continue;
            };
            let mut faults = schedule(&mut rng, jobs, 5, &[1, 2], true);
            faults.push((jobs / 10, Fault::Kill(0)));
            faults.sort_by_key(|(at, _)| *at);
            (run, faults)
        };
        let f = drive(&mut run, jobs, 12, &faults, &mut rng);
        println!(
            "soak {label:<14} {backend:<9} jobs {:>4}  faults {:>2}  {:>6.2} jobs/s  p50 {:>6} ms  p99 {:>6} ms  wrong {:>3}  rss {} -> {} KiB",
            f.jobs,
            f.faults,
            f.jobs as f64 / f.seconds,
            f.p50_ms,
            f.p99_ms,
            f.wrong.len(),
            f.rss_warm_kib,
            f.rss_end_kib
        );
        for w in f.wrong.iter().take(5) {
            println!("    wrong: {w}");
        }
        for node in &mut run.nodes {
            node.kill();
        }
    }
}
