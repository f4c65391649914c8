//! The Anvil pool's figures reach the Prometheus text: zeros before the pool starts,
//! then size, lent chains and leases as jobs borrow chains.

use std::path::{Path, PathBuf};

use gauntlet_grader::runtimes::hardhat::toolchain::HardhatToolchain;
use gauntlet_grader::runtimes::hardhat::Hardhat;
use gauntlet_server::chain_metrics::ChainPoolCollector;
use gauntlet_server::metrics::Metrics;

fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
}

#[test]
fn pool_figures_are_exported() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tools = std::env::var_os("GAUNTLET_TOOLCHAINS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(gauntlet_grader::locations::default_toolchains_dir);
    std::fs::create_dir_all(&tools).unwrap();
    let tc = HardhatToolchain::new(
        &repo.join("toolchains/hardhat"),
        &tools.canonicalize().unwrap(),
    )
    .expect("toolchain source");
    tc.prepare(&mut |_| {})
        .expect("prepare the hardhat toolchain");
    let data = tempfile::tempdir().unwrap();
    let hardhat = Hardhat::new(tc, data.path(), 2);
    let metrics = Metrics::new();
    metrics.register(Box::new(ChainPoolCollector::new(hardhat.clone())));

    let before = metrics.render();
    assert_eq!(value(&before, "gauntlet_anvil_pool_size"), 0.0);

    let pool = hardhat.pool().expect("pool starts");
    let lease = pool.acquire().expect("a chain");
    let during = metrics.render();
    assert_eq!(value(&during, "gauntlet_anvil_pool_size"), 2.0);
    assert_eq!(value(&during, "gauntlet_anvil_pool_lent"), 1.0);
    assert_eq!(value(&during, "gauntlet_anvil_leases_total"), 1.0);
    drop(lease);
    let after = metrics.render();
    assert_eq!(value(&after, "gauntlet_anvil_pool_lent"), 0.0);
    assert_eq!(value(&after, "gauntlet_anvil_pool_idle"), 2.0);
    assert_eq!(value(&after, "gauntlet_anvil_restarts_total"), 0.0);
    pool.shutdown();
}
