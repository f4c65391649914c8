//! The Anvil pool's figures as Prometheus metrics, read from the pool at each scrape:
//! size, idle and lent chains, leases, time jobs waited, refusals, failed resets, restarts,
//! idle chains found dead when about to be lent.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use gauntlet_grader::runtimes::hardhat::Hardhat;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Gauge, IntCounter, IntGauge, Opts};

pub struct ChainPoolCollector {
    hardhat: Arc<Hardhat>,
    size: IntGauge,
    idle: IntGauge,
    lent: IntGauge,
    leases: IntCounter,
    wait: Gauge,
    timeouts: IntCounter,
    failed_resets: IntCounter,
    restarts: IntCounter,
    dead_on_lend: IntCounter,
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::with_opts(Opts::new(name, help)).expect("valid metric")
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::with_opts(Opts::new(name, help)).expect("valid metric")
}

impl ChainPoolCollector {
    pub fn new(hardhat: Arc<Hardhat>) -> Self {
        ChainPoolCollector {
            hardhat,
            size: gauge("gauntlet_anvil_pool_size", "Anvil chains the pool keeps"),
            idle: gauge("gauntlet_anvil_pool_idle", "Anvil chains free to lend"),
            lent: gauge(
                "gauntlet_anvil_pool_lent",
                "Anvil chains lent to running jobs",
            ),
            leases: counter("gauntlet_anvil_leases_total", "Chains lent to jobs"),
            wait: Gauge::with_opts(Opts::new(
                "gauntlet_anvil_wait_seconds_total",
                "Time jobs spent waiting for a free chain",
            ))
            .expect("valid metric"),
            timeouts: counter(
                "gauntlet_anvil_wait_timeouts_total",
                "Jobs refused because no chain became free in time",
            ),
            failed_resets: counter(
                "gauntlet_anvil_failed_resets_total",
                "Chains that did not come back fresh after a reset",
            ),
            restarts: counter("gauntlet_anvil_restarts_total", "Chains restarted"),
            dead_on_lend: counter(
                "gauntlet_anvil_dead_on_lend_total",
                "Idle chains found dead when about to be lent, and replaced",
            ),
        }
    }

    fn parts(&self) -> [&dyn Collector; 9] {
        [
            &self.size,
            &self.idle,
            &self.lent,
            &self.leases,
            &self.wait,
            &self.timeouts,
            &self.failed_resets,
            &self.restarts,
            &self.dead_on_lend,
        ]
    }
}

/// Moves a counter up to `value` (counters only go up; the pools' are monotonic too).
pub(crate) fn catch_up(c: &IntCounter, value: u64) {
    let now = c.get();
    if value > now {
        c.inc_by(value - now);
    }
}

impl Collector for ChainPoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.parts().into_iter().flat_map(|c| c.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // Before the first Solidity job the pool is not started: it reports zeros.
        if let Some(pool) = self.hardhat.started_pool() {
            let status = pool.status();
            let stats = pool.stats();
            self.size.set(status.size as i64);
            self.idle.set(status.idle as i64);
            self.lent.set(status.lent as i64);
            catch_up(&self.leases, stats.leases.load(Ordering::Relaxed));
            catch_up(&self.timeouts, stats.timeouts.load(Ordering::Relaxed));
            catch_up(
                &self.failed_resets,
                stats.failed_resets.load(Ordering::Relaxed),
            );
            catch_up(&self.restarts, stats.restarts.load(Ordering::Relaxed));
            catch_up(
                &self.dead_on_lend,
                stats.dead_on_lend.load(Ordering::Relaxed),
            );
            self.wait
                .set(stats.wait_micros.load(Ordering::Relaxed) as f64 / 1e6);
        }
        self.parts().into_iter().flat_map(|c| c.collect()).collect()
    }
}
