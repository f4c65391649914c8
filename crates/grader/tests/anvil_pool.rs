//! The Anvil pool against real chains in real jails: a lent chain comes back fresh or
//! is replaced, chains are isolated from each other, dead chains are restarted.

mod common;

use std::time::{Duration, Instant};

use gauntlet_grader::runtimes::hardhat::anvil::{rpc, AnvilPool, PoolConfig, CHAIN_ID};
use gauntlet_sandbox::NetNs;
use serde_json::json;

fn hex(v: &serde_json::Value) -> u128 {
    u128::from_str_radix(v.as_str().expect("hex string").trim_start_matches("0x"), 16).expect("hex")
}

fn pool(size: usize) -> AnvilPool {
    let mut cfg = PoolConfig::new(common::hardhat_toolchain(), size);
    cfg.health_interval = Duration::from_millis(200);
    cfg.acquire_timeout = Duration::from_secs(20);
    AnvilPool::start(cfg).expect("pool starts")
}

#[test]
fn a_lent_chain_comes_back_fresh_or_is_replaced() {
    let pool = pool(1);
    {
        let lease = pool.acquire().expect("lease");
        let ns = lease.netns().to_owned();
        // A job mines blocks and funds an account: a reset undoes that.
        rpc(&ns, "evm_mine", json!([])).unwrap();
        rpc(
            &ns,
            "anvil_setBalance",
            json!(["0x00000000000000000000000000000000000000aa", "0x1"]),
        )
        .unwrap();
        assert_eq!(hex(&rpc(&ns, "eth_blockNumber", json!([])).unwrap()), 1);
    }
    assert_eq!(
        pool.stats()
            .restarts
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    {
        let lease = pool.acquire().expect("lease");
        let ns = lease.netns().to_owned();
        assert_eq!(hex(&rpc(&ns, "eth_blockNumber", json!([])).unwrap()), 0);
        let bal = rpc(
            &ns,
            "eth_getBalance",
            json!(["0x00000000000000000000000000000000000000aa", "latest"]),
        )
        .unwrap();
        assert_eq!(hex(&bal), 0);
        // A job changes what a reset does not restore: the chain id.
        rpc(&ns, "anvil_setChainId", json!([1])).unwrap();
    }
    // The check after the reset saw chain id 1 and replaced the chain.
    assert_eq!(
        pool.stats()
            .failed_resets
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(
        pool.stats()
            .restarts
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let lease = pool.acquire().expect("lease");
    let id = rpc(lease.netns(), "eth_chainId", json!([])).unwrap();
    assert_eq!(hex(&id), u128::from(CHAIN_ID));
}

#[test]
fn chains_are_isolated_and_bounded() {
    let pool = pool(2);
    let a = pool.acquire().expect("lease a");
    let b = pool.acquire().expect("lease b");
    assert_ne!(a.netns(), b.netns(), "each job gets its own chain");
    rpc(
        a.netns(),
        "anvil_setBalance",
        json!(["0x00000000000000000000000000000000000000bb", "0x2a"]),
    )
    .unwrap();
    let in_b = rpc(
        b.netns(),
        "eth_getBalance",
        json!(["0x00000000000000000000000000000000000000bb", "latest"]),
    )
    .unwrap();
    assert_eq!(
        hex(&in_b),
        0,
        "a write on chain a is not visible on chain b"
    );
    assert_eq!(pool.status().lent, 2);

    // A third job waits for a chain, and is refused past the bound.
    let mut cfg = PoolConfig::new(common::hardhat_toolchain(), 1);
    cfg.acquire_timeout = Duration::from_millis(300);
    let small = AnvilPool::start(cfg).expect("pool");
    let held = small.acquire().expect("lease");
    let started = Instant::now();
    let refused = small.acquire().err().expect("no chain free");
    assert!(refused.to_string().contains("no free chain"), "{refused}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    drop(held);
    small.acquire().expect("a returned chain is lent again");
}

#[test]
fn a_dead_chain_is_restarted_by_the_health_check() {
    let pool = pool(1);
    let ns = {
        let lease = pool.acquire().expect("lease");
        lease.netns().to_owned()
    };
    // Kill the chain's jail from outside: every process in its network namespace.
    let target = format!("net:[{}]", ns.inode());
    let pids: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path().join("ns/net")).is_ok_and(|l| l.to_str() == Some(&target))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!pids.is_empty(), "no process in {target}");
    // (Killing init takes the rest along, so a later PID may already be gone.)
    let _ = std::process::Command::new("kill")
        .arg("-9")
        .args(&pids)
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if pool
            .stats()
            .restarts
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
            && pool.status().idle == 1
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the health check did not restart the chain"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let lease = pool.acquire().expect("lease after restart");
    assert_ne!(lease.netns(), &ns);
    assert_eq!(
        hex(&rpc(lease.netns(), "eth_blockNumber", json!([])).unwrap()),
        0
    );
}

/// The host PIDs of every process in the network namespace `ns`.
fn pids_in(ns: &NetNs) -> Vec<String> {
    let target = format!("net:[{}]", ns.inode());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path().join("ns/net")).is_ok_and(|l| l.to_str() == Some(&target))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn signal_all(ns: &NetNs, signal: &str) {
    let pids = pids_in(ns);
    assert!(!pids.is_empty(), "no process in the chain's namespace");
    let _ = std::process::Command::new("kill")
        .arg(signal)
        .args(&pids)
        .status()
        .unwrap();
}

/// A one-chain pool whose health check never runs during the test: what happens to
/// an idle chain is the lend's business alone.
fn pool_without_health_check() -> AnvilPool {
    let mut cfg = PoolConfig::new(common::hardhat_toolchain(), 1);
    cfg.health_interval = Duration::from_secs(3600);
    cfg.lend_check_timeout = Duration::from_millis(500);
    AnvilPool::start(cfg).expect("pool starts")
}

fn dead_on_lend(pool: &AnvilPool) -> u64 {
    pool.stats()
        .dead_on_lend
        .load(std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn a_chain_that_died_idle_is_replaced_not_lent() {
    let pool = pool_without_health_check();
    let ns = pool.acquire().expect("lease").netns().clone();
    signal_all(&ns, "-KILL");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pids_in(&ns).is_empty() {
        assert!(Instant::now() < deadline, "the chain's jail did not die");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(pool.status().idle, 1, "the dead chain still sits idle");
    let lease = pool.acquire().expect("a live chain");
    assert_ne!(lease.netns(), &ns, "the dead chain was lent");
    assert_eq!(
        hex(&rpc(lease.netns(), "eth_blockNumber", json!([])).unwrap()),
        0
    );
    assert_eq!(dead_on_lend(&pool), 1);
}

#[test]
fn a_chain_that_stopped_answering_is_replaced_not_lent() {
    let pool = pool_without_health_check();
    let ns = pool.acquire().expect("lease").netns().clone();
    // Alive (its jail's init still runs) but silent.
    signal_all(&ns, "-STOP");
    let lease = pool.acquire().expect("a live chain");
    assert_ne!(lease.netns(), &ns, "the silent chain was lent");
    let id = rpc(lease.netns(), "eth_chainId", json!([])).unwrap();
    assert_eq!(hex(&id), u128::from(CHAIN_ID));
    assert_eq!(dead_on_lend(&pool), 1);
    // The replaced chain's jail was killed, stopped or not.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pids_in(&ns).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the silent chain was left running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
