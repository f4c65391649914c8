//! The warm pool's figures as Prometheus metrics, read at each scrape: jails held and
//! ready, the memory they use and may use, hits, misses, preamble failures, jails
//! stopped unused, and how long the jails that were taken had waited.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use gauntlet_grader::Grader;

use crate::chain_metrics::catch_up;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};

pub struct WarmPoolCollector {
    grader: Arc<Grader>,
    jails: IntGauge,
    ready: IntGauge,
    memory: IntGauge,
    memory_limit: IntGauge,
    taken: IntCounterVec,
    failures: IntCounter,
    expired: IntCounter,
    started: IntCounter,
    waited_ms: IntCounter,
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::with_opts(Opts::new(name, help)).expect("valid metric")
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::with_opts(Opts::new(name, help)).expect("valid metric")
}

impl WarmPoolCollector {
    pub fn new(grader: Arc<Grader>) -> Self {
        WarmPoolCollector {
            grader,
            jails: gauge("gauntlet_warm_jails", "Warm jails held, waiting for a job"),
            ready: gauge(
                "gauntlet_warm_jails_ready",
                "Warm jails whose preamble has loaded",
            ),
            memory: gauge(
                "gauntlet_warm_memory_bytes",
                "Memory the held warm jails use now",
            ),
            memory_limit: gauge(
                "gauntlet_warm_memory_limit_bytes",
                "What the held warm jails' memory limits add up to (counted against GAUNTLET_WARM_MEMORY)",
            ),
            taken: IntCounterVec::new(
                Opts::new(
                    "gauntlet_warm_grades_total",
                    "Grades by how they started: hit (a ready warm jail), warming (one still loading), miss (cold)",
                ),
                &["start"],
            )
            .expect("valid metric"),
            failures: counter(
                "gauntlet_warm_preamble_failures_total",
                "Warm jails whose preamble failed before its job",
            ),
            expired: counter(
                "gauntlet_warm_expired_total",
                "Warm jails stopped unused (waited too long, or made room)",
            ),
            started: counter("gauntlet_warm_started_total", "Warm jails started"),
            waited_ms: counter(
                "gauntlet_warm_waited_milliseconds_total",
                "Time the warm jails that were taken had waited, summed",
            ),
        }
    }

    fn parts(&self) -> [&dyn Collector; 9] {
        [
            &self.jails,
            &self.ready,
            &self.memory,
            &self.memory_limit,
            &self.taken,
            &self.failures,
            &self.expired,
            &self.started,
            &self.waited_ms,
        ]
    }
}

impl Collector for WarmPoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.parts().into_iter().flat_map(|c| c.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        if let Some(pool) = self.grader.warm_pool() {
            let g = pool.gauges();
            self.jails.set(g.jails as i64);
            self.ready.set(g.ready as i64);
            self.memory.set(g.memory_bytes as i64);
            self.memory_limit.set(g.memory_limit_bytes as i64);
            let s = pool.stats();
            let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            catch_up(&self.taken.with_label_values(&["hit"]), load(&s.hits));
            catch_up(
                &self.taken.with_label_values(&["warming"]),
                load(&s.warming_hits),
            );
            catch_up(&self.taken.with_label_values(&["miss"]), load(&s.misses));
            catch_up(&self.failures, load(&s.preamble_failures));
            catch_up(&self.expired, load(&s.expired));
            catch_up(&self.started, load(&s.started));
            catch_up(&self.waited_ms, load(&s.waited_ms_sum));
        }
        self.parts().into_iter().flat_map(|c| c.collect()).collect()
    }
}
