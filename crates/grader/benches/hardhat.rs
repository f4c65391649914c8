//! A learner's edit-and-grade of a Solidity contract, side by side with the same edit
//! under a warm local `hardhat test` against a running Anvil (driven by
//! bench/hardhat/edit-grade.sh). Each round edits the contract (a new comment, so no
//! compile output can be reused), then times, interleaved:
//!
//! - gauntlet: `Grader::grade` in this process (as the server does: pool warm, layer
//!   prepared), sandboxed, on a pooled chain that is reset and verified afterwards;
//! - gauntlet warm: the same with the warm pool on, as the service's workers run it:
//!   the grade takes a jail whose preamble has Hardhat and the compiler loaded (the
//!   pool refills while the other columns run, as it does while a learner edits);
//! - local: `node …/hardhat/internal/cli/cli.js test` in a plain workspace with the
//!   same toolchain, config and tests, against an Anvil started once (no sandbox, no
//!   reset). Calling Hardhat's CLI directly spares the peer npx's own start-up.
//!
//! Prints the medians and their ratios; `RESUBMIT=1` also times an unchanged
//! resubmission (the compile cache's hit case).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gauntlet_exercise::{self as exercise, Maxima};
use gauntlet_grader::runtimes::hardhat::toolchain::{HardhatToolchain, ANVIL_BIN};
use gauntlet_grader::warm::WarmConfig;
use gauntlet_grader::{Grader, GraderConfig, Submission, Toolchains};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Waits (at most 30 s) until the pool holds a ready jail.
fn wait_ready(g: &Grader) {
    let pool = g.warm_pool().expect("on");
    let deadline = Instant::now() + Duration::from_secs(30);
    while pool.gauges().ready == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let toolchains = PathBuf::from(
        args.next()
            .expect("usage: hardhat TOOLCHAINS_DIR DATA_DIR EXERCISE_DIR"),
    );
    let data = PathBuf::from(args.next().expect("DATA_DIR"));
    let ex_dir = PathBuf::from(args.next().expect("EXERCISE_DIR"));
    let rounds: usize = std::env::var("RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");

    let tc =
        HardhatToolchain::new(&repo.join("toolchains/hardhat"), &toolchains).expect("toolchain");
    let tool = tc.prepare(&mut |_| {}).expect("prepared toolchain");
    let standard = |data: PathBuf, anvil_pool: usize| {
        let toolchains = Toolchains {
            sources: repo.join("toolchains"),
            prepared: toolchains.clone(),
            anvil_pool,
        };
        Grader::standard(GraderConfig::new(data), toolchains).expect("grader")
    };
    let grader = standard(data.clone(), 1);
    // One chain for the job, one for the warm jail waiting for the next.
    let mut warm = standard(data.join("warm"), 2);
    warm.enable_warm_pool(WarmConfig {
        max_jails: 1,
        ..WarmConfig::default()
    });
    let ex = exercise::load(&ex_dir, &Maxima::default()).expect("exercise");
    let contract = ex.starter_files[0].path.as_str().to_owned();
    let solution =
        std::fs::read_to_string(ex_dir.join("solution").join(&contract)).expect("solution");
    // The contract as a submission.
    let submission = |source: String| {
        let files = BTreeMap::from([(contract.clone(), source.into_bytes())]);
        Submission::Files(exercise::validate_file_bytes(&ex, &files).expect("valid"))
    };
    // One grade that must pass, timed (ms).
    let timed = |g: &Grader, sub: &Submission, id: String| {
        let t = Instant::now();
        let r = g.grade(&ex, sub, &id, &mut |_| {}).expect("grade");
        assert_eq!(r.score, 100, "{}", r.log);
        t.elapsed().as_secs_f64() * 1000.0
    };

    // The local peer's workspace: starter, tests, the solution, package.json, node_modules.
    let local = data.join("local-peer");
    let _ = std::fs::remove_dir_all(&local);
    std::fs::create_dir_all(local.join("tests")).unwrap();
    copy(&ex_dir.join("starter"), &local);
    copy(&ex_dir.join("tests"), &local.join("tests"));
    std::fs::copy(
        tool.join("workspace/package.json"),
        local.join("package.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink(tool.join("node_modules"), local.join("node_modules")).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut anvil = Command::new(tool.join(ANVIL_BIN))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--silent",
            "--chain-id",
            "31337",
            "--hardfork",
            "prague",
            "--gas-limit",
            "30000000",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("local anvil");
    std::thread::sleep(Duration::from_millis(300));

    let (mut ours, mut theirs, mut resub) = (Vec::new(), Vec::new(), Vec::new());
    let mut warmed = Vec::new();
    for round in 0..rounds + 1 {
        let edited = format!(
            "{solution}\n// learner edit {round} {}\n",
            std::process::id()
        );
        // Warm: another novel edit of the same size, in a jail from the pool.
        let sub = submission(format!("{edited}// warm\n"));
        let w = timed(&warm, &sub, format!("bench-warm-{round}"));
        // The pool refills after the run; a learner's next edit takes longer than that,
        // so the columns after this one do not share the CPU with the warm-up.
        wait_ready(&warm);
        // Gauntlet: validate, prepare (cached), jail, pooled chain, parse, score.
        let sub = submission(edited.clone());
        let g = timed(&grader, &sub, format!("bench-{round}"));
        if std::env::var_os("RESUBMIT").is_some() {
            let again = timed(&grader, &sub, format!("bench-{round}-again"));
            if round > 0 {
                resub.push(again);
            }
        }
        // Local: the same edit, a warm `hardhat test`.
        std::fs::write(local.join(&contract), format!("{edited}// local\n")).unwrap();
        let t = Instant::now();
        let out = Command::new("node")
            .arg(tool.join("node_modules/hardhat/internal/cli/cli.js"))
            .args(["test", "--config"])
            .arg(tool.join("hardhat.config.js"))
            .current_dir(&local)
            .env("RPC_URL", format!("http://127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("local hardhat test");
        let l = t.elapsed().as_secs_f64() * 1000.0;
        assert!(out.success(), "local hardhat test failed");
        if round > 0 {
            // Round 0 warms both sides (the pool starts, the layer is prepared).
            ours.push(g);
            warmed.push(w);
            theirs.push(l);
        }
    }
    let _ = anvil.kill();
    let _ = anvil.wait();
    let stats = warm.warm_pool().expect("on").stats();
    let hits = stats.hits.load(std::sync::atomic::Ordering::Relaxed);
    warm.warm_pool().expect("on").shutdown();
    let (g, w, l) = (median(ours), median(warmed), median(theirs));
    println!("edit-and-grade, {rounds} rounds: local hardhat test median {l:.0} ms");
    println!(
        "  gauntlet, cold jail: median {g:.0} ms, ratio {:.2}x (must <= 1.2x, goal <= 0.8x)",
        g / l
    );
    println!("  gauntlet, warm jail: median {w:.0} ms, ratio {:.2}x (must <= 0.45x, goal <= 0.3x; {hits} of {} grades took a warm jail)", w / l, rounds + 1);
    if !resub.is_empty() {
        let r = median(resub);
        println!("unchanged resubmission (compile cache hit): gauntlet median {r:.0} ms, ratio {:.2}x of the local edit", r / l);
    }
}

fn copy(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
