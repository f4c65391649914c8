//! The warm pool (warm.rs) through the real grader and sandbox: grades in warm jails
//! equal cold ones, nothing one job leaves reaches the next, the pool refills and
//! falls back to a cold start, and a broken preamble is paused, not retried for ever.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::repo;
use gauntlet_exercise::{self as exercise, Exercise, GradeResult, Maxima, Outcome};
use gauntlet_grader::warm::WarmConfig;
use gauntlet_grader::{Grader, GraderConfig, Registry, Submission};

fn grader(tmp: &Path, warm: Option<WarmConfig>) -> Grader {
    let mut g = Grader::new(GraderConfig::new(tmp.join("data")), Registry::system()).unwrap();
    if let Some(cfg) = warm {
        g.enable_warm_pool(cfg);
    }
    g
}

fn warm_cfg() -> WarmConfig {
    WarmConfig {
        max_jails: 2,
        ..WarmConfig::default()
    }
}

fn grade(g: &Grader, ex: &Exercise, files: &[(&str, &str)]) -> GradeResult {
    let files: BTreeMap<String, String> = files
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
    let files = exercise::validate_files(ex, &files).expect("a valid submission");
    let job = gauntlet_grader::local_job_id();
    g.grade(ex, &Submission::Files(files), &job, &mut |_| {})
        .expect("graded")
}

/// Waits until the pool holds `n` jails or more, every one of them ready (the jail
/// just started for the exercise graded last among them).
fn wait_ready(g: &Grader, n: usize) {
    let pool = g.warm_pool().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pool.gauges().ready < n || pool.gauges().ready < pool.gauges().jails {
        assert!(
            Instant::now() < deadline,
            "no ready warm jail: {:?} {:?}",
            pool.gauges(),
            pool.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn bundled(id: &str) -> Exercise {
    exercise::load(&repo().join("exercises").join(id), &Maxima::default()).unwrap()
}

fn summary(r: &GradeResult) -> (Outcome, u32, Vec<(String, String)>) {
    (
        r.outcome,
        r.score,
        r.tests
            .iter()
            .map(|t| (t.name.clone(), format!("{:?}", t.status)))
            .collect(),
    )
}

/// A warm grade's outcome, score and tests are the cold grade's.
fn assert_same(what: &str, warm: &GradeResult, cold: &GradeResult) {
    assert_eq!(
        summary(warm),
        summary(cold),
        "{what}: warm log:\n{}\ncold log:\n{}",
        warm.log,
        cold.log
    );
}

#[test]
fn warm_grades_equal_cold_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let cold = grader(&tmp.path().join("cold"), None);
    let warm = grader(&tmp.path().join("warm"), Some(warm_cfg()));
    for id in ["reverse-words", "word-frequency", "dedupe-lines"] {
        let ex = bundled(id);
        let dir = repo().join("exercises").join(id);
        for variant in ["solution", "starter"] {
            let mut files = Vec::new();
            for f in &ex.starter_files {
                let content = fs::read_to_string(dir.join(variant).join(f.path.as_str())).unwrap();
                files.push((f.path.as_str().to_owned(), content));
            }
            let files: Vec<(&str, &str)> = files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_str()))
                .collect();
            let c = grade(&cold, &ex, &files);
            // The first grade of an exercise starts cold and warms one for the next.
            let _ = grade(&warm, &ex, &files);
            wait_ready(&warm, 1);
            let w = grade(&warm, &ex, &files);
            assert_same(&format!("{id} {variant}"), &w, &c);
        }
    }
    let stats = warm.warm_pool().unwrap().stats();
    assert!(stats.hits.load(Ordering::Relaxed) >= 6, "{stats:?}");
    assert_eq!(stats.preamble_failures.load(Ordering::Relaxed), 0);
}

/// A grader with the standard runtimes, Solidity included (common.rs), and a warm pool.
fn standard_grader(tmp: &Path, warm: Option<WarmConfig>) -> Grader {
    // One chain for the job, one for the warm jail, one for the jail a new exercise's
    // jail replaces (it gives its chain back once it has stopped).
    let mut g = common::standard_grader(&tmp.join("data"), 3);
    if let Some(cfg) = warm {
        g.enable_warm_pool(cfg);
    }
    g
}

/// Hardhat's preamble (warm-hardhat.js) runs the CLI in the process that preloaded
/// Hardhat and the compiler: the results must be a cold run's, for a passing
/// contract, the failing starter, and one that does not compile.
#[test]
fn solidity_grades_in_warm_jails_equal_cold_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let cold = standard_grader(&tmp.path().join("cold"), None);
    let warm = standard_grader(
        &tmp.path().join("warm"),
        Some(WarmConfig {
            max_jails: 1,
            ..WarmConfig::default()
        }),
    );
    for id in ["access-registry", "erc20-allowances", "timelock-vault"] {
        let ex = bundled(id);
        let dir = repo().join("exercises").join(id);
        let contract = ex.starter_files[0].path.as_str().to_owned();
        let read = |variant: &str| fs::read_to_string(dir.join(variant).join(&contract)).unwrap();
        let solution = read("solution");
        // A novel edit every time, so that no compile output is reused.
        let variants = [
            ("solution", format!("{solution}\n// warm {id}\n")),
            ("starter", read("starter")),
            ("no compile", solution.replacen('}', "} }", 1)),
        ];
        // The exercise's first grade starts cold and warms a jail for the next (the
        // pool holds one: the previous exercise's jail makes room).
        let _ = grade(&warm, &ex, &[(&contract, &solution)]);
        for (variant, source) in &variants {
            let c = grade(&cold, &ex, &[(&contract, source)]);
            wait_ready(&warm, 1);
            let w = grade(&warm, &ex, &[(&contract, source)]);
            assert_same(&format!("{id} {variant}"), &w, &c);
        }
        assert_eq!(
            summary(&grade(&cold, &ex, &[(&contract, &solution)])).1,
            100
        );
    }
    let stats = warm.warm_pool().unwrap().stats();
    assert!(stats.hits.load(Ordering::Relaxed) >= 9, "{stats:?}");
    assert_eq!(stats.preamble_failures.load(Ordering::Relaxed), 0);
    warm.warm_pool().unwrap().shutdown();
}

/// A Solidity exercise whose test checks that the chain it meets is fresh (block 0,
/// the deployer's nonce 0, nothing at a marked address), then leaves it dirty: a
/// warm jail rehearses on its chain before its job (warm-hardhat.js), and the job
/// must meet the chain as a cold run does.
#[test]
fn solidity_jobs_in_warm_jails_meet_a_fresh_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fresh-chain");
    let yaml = "id: fresh-chain\ntitle: Fresh chain\nruntime: hardhat\nsubmission: files\n\
                starter:\n  files:\n    - path: contracts/Leftover.sol\n\
                limits:\n  wall_time: 60s\n  cpu_time: 20s\n  memory: 1GiB\n\
                scoring: per-test\n";
    let contract = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n\
                    contract Leftover { uint256 public left = 1; }\n";
    let test = r#"const { expect } = require("chai");
const { ethers } = require("hardhat");
const MARK = "0x000000000000000000000000000000000000dEaD";
describe("Leftover", function () {
  it("meets a fresh chain, then leaves it dirty", async function () {
    const [owner] = await ethers.getSigners();
    expect(await ethers.provider.getBlockNumber()).to.equal(0);
    expect(await ethers.provider.getTransactionCount(owner.address)).to.equal(0);
    expect(await ethers.provider.getBalance(MARK)).to.equal(0n);
    await (await owner.sendTransaction({ to: MARK, value: 1n })).wait();
    const left = await ethers.deployContract("Leftover");
    expect(await left.left()).to.equal(1n);
  });
});
"#;
    for (path, content) in [
        ("exercise.yaml", yaml),
        ("starter/contracts/Leftover.sol", contract),
        ("solution/contracts/Leftover.sol", contract),
        ("tests/Leftover.js", test),
    ] {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    let ex = exercise::load(&dir, &Maxima::default()).unwrap();
    let g = standard_grader(
        tmp.path(),
        Some(WarmConfig {
            max_jails: 1,
            ..WarmConfig::default()
        }),
    );
    for round in 0..4 {
        if round > 0 {
            wait_ready(&g, 1);
        }
        let source = format!("{contract}// round {round}\n");
        let r = grade(&g, &ex, &[("contracts/Leftover.sol", &source)]);
        assert_eq!(r.outcome, Outcome::Passed, "round {round}:\n{}", r.log);
    }
    let stats = g.warm_pool().unwrap().stats();
    assert_eq!(stats.hits.load(Ordering::Relaxed), 3, "{stats:?}");
    g.warm_pool().unwrap().shutdown();
}

/// The submission is itself the test command: it looks for what an earlier job could
/// have left in every place a job can write, then leaves all of it behind, including
/// a double-forked process that would write again later.
const LEFTOVERS: &str = r#"
import os, sys, time
PLACES = ["/tmp/left", "/dev/shm/left", "/workspace/left", "/workspace/.gauntlet-left"]
found = [p for p in PLACES if os.path.exists(p)]
def leave():
    for p in PLACES:
        try:
            with open(p, "w") as f:
                f.write("from an earlier job")
        except OSError:
            pass
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(0.3)
        leave()
        time.sleep(60)
    os._exit(0)
leave()
print("found:", found, "pid:", os.getpid(), flush=True)
sys.exit(1 if found else 0)
"#;

#[test]
fn nothing_one_job_leaves_reaches_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("leftovers");
    let yaml = "id: leftovers\ntitle: Leftovers\nruntime: python\nsubmission: files\n\
                starter:\n  files:\n    - path: attack.py\n\
                test:\n  command: [\"python3\", \"attack.py\"]\n  results: exit-code\n\
                scoring: all-or-nothing\n";
    for (path, content) in [
        ("exercise.yaml", yaml),
        ("starter/attack.py", "# write here\n"),
        ("solution/attack.py", LEFTOVERS),
        ("tests/README", "The submission is its own test.\n"),
    ] {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    let ex = exercise::load(&dir, &Maxima::default()).unwrap();
    let g = grader(tmp.path(), Some(warm_cfg()));
    for round in 0..4 {
        if round > 0 {
            wait_ready(&g, 1);
        }
        let r = grade(&g, &ex, &[("attack.py", LEFTOVERS)]);
        assert_eq!(r.outcome, Outcome::Passed, "round {round}:\n{}", r.log);
        assert!(r.log.contains("found: []"), "round {round}:\n{}", r.log);
    }
    let stats = g.warm_pool().unwrap().stats();
    assert!(stats.hits.load(Ordering::Relaxed) >= 3, "{stats:?}");
}

#[test]
fn without_a_jail_a_job_starts_cold_and_the_pool_refills() {
    let tmp = tempfile::tempdir().unwrap();
    let g = grader(tmp.path(), Some(warm_cfg()));
    let ex = bundled("reverse-words");
    let solution =
        fs::read_to_string(repo().join("exercises/reverse-words/solution/words.py")).unwrap();
    let pool = g.warm_pool().unwrap();
    // Two grades at once: one jail at most can be ready, the other starts cold.
    let r = grade(&g, &ex, &[("words.py", &solution)]);
    assert_eq!(r.outcome, Outcome::Passed, "{}", r.log);
    assert_eq!(pool.stats().misses.load(Ordering::Relaxed), 1);
    wait_ready(&g, 1);
    std::thread::scope(|s| {
        let a = s.spawn(|| grade(&g, &ex, &[("words.py", &solution)]));
        let b = s.spawn(|| grade(&g, &ex, &[("words.py", &solution)]));
        for r in [a.join().unwrap(), b.join().unwrap()] {
            assert_eq!(r.outcome, Outcome::Passed, "{}", r.log);
        }
    });
    let s = pool.stats();
    let taken = s.hits.load(Ordering::Relaxed) + s.warming_hits.load(Ordering::Relaxed);
    assert!(taken >= 1, "{s:?}");
    assert_eq!(taken + s.misses.load(Ordering::Relaxed), 3, "{s:?}");
    // And it refilled: jails for the next grades are there again, within the cap.
    wait_ready(&g, 1);
    assert!(pool.gauges().jails <= 2);
    // A shut-down pool ends every jail it held.
    pool.shutdown();
    assert!(pool.wait_stopped(Duration::from_secs(10)));
    assert_eq!(pool.gauges().jails, 0);
}

/// A held jail takes one of the worker's slots: with two, one grade at a time leaves
/// one idle for a jail, and the jail held for one exercise is stopped when another
/// exercise's grade takes the slot; the pool then holds that exercise's jail only
/// (two jails would fit `max_jails`). With one slot, no jail is ever held.
#[test]
fn held_jails_fill_idle_worker_slots_only() {
    let tmp = tempfile::tempdir().unwrap();
    let g = grader(
        tmp.path(),
        Some(WarmConfig {
            max_jails: 2,
            slots: 2,
            ..WarmConfig::default()
        }),
    );
    let pool = g.warm_pool().unwrap();
    let solution = |id: &str, file: &str| {
        fs::read_to_string(
            repo()
                .join("exercises")
                .join(id)
                .join("solution")
                .join(file),
        )
        .unwrap()
    };
    let (a, b) = (bundled("reverse-words"), bundled("word-frequency"));
    let r = grade(
        &g,
        &a,
        &[("words.py", &solution("reverse-words", "words.py"))],
    );
    assert_eq!(r.outcome, Outcome::Passed, "{}", r.log);
    wait_ready(&g, 1);
    assert_eq!(pool.gauges().jails, 1);
    let file = b.starter_files[0].path.as_str().to_owned();
    let r = grade(&g, &b, &[(&file, &solution("word-frequency", &file))]);
    assert_eq!(r.outcome, Outcome::Passed, "{}", r.log);
    wait_ready(&g, 1);
    assert_eq!(pool.gauges().jails, 1, "{:?}", pool.stats());
    // The jail held is the one for the exercise graded last.
    let r = grade(&g, &b, &[(&file, &solution("word-frequency", &file))]);
    assert_eq!(r.outcome, Outcome::Passed, "{}", r.log);
    assert_eq!(
        pool.stats().hits.load(Ordering::Relaxed),
        1,
        "{:?}",
        pool.stats()
    );

    let one = grader(
        &tmp.path().join("one"),
        Some(WarmConfig {
            slots: 1,
            ..WarmConfig::default()
        }),
    );
    for _ in 0..2 {
        let r = grade(
            &one,
            &a,
            &[("words.py", &solution("reverse-words", "words.py"))],
        );
        assert_eq!(r.outcome, Outcome::Passed, "{}", r.log);
    }
    let s = one.warm_pool().unwrap().stats();
    assert_eq!(s.started.load(Ordering::Relaxed), 0, "{s:?}");
}

#[test]
fn a_broken_preamble_is_reported_and_paused() {
    let tmp = tempfile::tempdir().unwrap();
    let g = grader(tmp.path(), Some(warm_cfg()));
    // The python preamble runs with the runners of the prepared layer; an exercise
    // whose test command is a python file that does not exist still grades (cold and
    // warm alike, it is the test command's failure), so break the preamble itself:
    // a package can't, so this test swaps the runner in the prepared layer after the
    // first grade made it.
    let ex = bundled("reverse-words");
    let solution =
        fs::read_to_string(repo().join("exercises/reverse-words/solution/words.py")).unwrap();
    let r = grade(&g, &ex, &[("words.py", &solution)]);
    assert_eq!(r.outcome, Outcome::Passed, "{}", r.log);
    let pool = g.warm_pool().unwrap();
    pool.clear();
    let layers = tmp.path().join("data/prepared");
    let mut broken = 0;
    for layer in fs::read_dir(&layers).unwrap() {
        let warm_py = layer.unwrap().path().join(".gauntlet/runner/warm.py");
        if warm_py.exists() {
            let mut perms = fs::metadata(&warm_py).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
            fs::set_permissions(&warm_py, perms).unwrap();
            fs::write(&warm_py, "print('I talk before my job')\n").unwrap();
            broken += 1;
        }
    }
    assert!(
        broken > 0,
        "no prepared layer with warm.py under {}",
        layers.display()
    );
    // Each grade still passes (cold); each starts a preamble that fails; after three in
    // a row the exercise is paused and no further jail is started for it.
    for _ in 0..5 {
        let r = grade(&g, &ex, &[("words.py", &solution)]);
        assert_eq!(r.outcome, Outcome::Passed, "{}", r.log);
        std::thread::sleep(Duration::from_millis(1500));
    }
    let s = pool.stats();
    assert_eq!(
        s.preamble_failures.load(Ordering::Relaxed),
        gauntlet_grader::warm::FAILURES_TO_PAUSE as u64,
        "{s:?}"
    );
}
