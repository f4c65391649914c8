//! The egress proxies' figures as Prometheus metrics, read at each scrape: requests
//! allowed and refused, and bytes tunnelled, over every dependency install and git
//! clone this process ran (crates/grader/src/egress).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use gauntlet_grader::egress::Counters;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntCounterVec, Opts};

use crate::chain_metrics::catch_up;

pub struct EgressCollector {
    counters: Arc<Counters>,
    requests: IntCounterVec,
    bytes: IntCounter,
}

impl EgressCollector {
    pub fn new(counters: Arc<Counters>) -> Self {
        EgressCollector {
            counters,
            requests: IntCounterVec::new(
                Opts::new(
                    "gauntlet_egress_requests_total",
                    "Requests to the egress proxies (dependency installs, git clones), by decision: allowed or denied",
                ),
                &["decision"],
            )
            .expect("valid metric"),
            bytes: IntCounter::with_opts(Opts::new(
                "gauntlet_egress_bytes_total",
                "Bytes tunnelled by the egress proxies, both directions",
            ))
            .expect("valid metric"),
        }
    }
}

impl Collector for EgressCollector {
    fn desc(&self) -> Vec<&Desc> {
        let mut d = self.requests.desc();
        d.extend(self.bytes.desc());
        d
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let c = &self.counters;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        catch_up(
            &self.requests.with_label_values(&["allowed"]),
            load(&c.allowed),
        );
        catch_up(
            &self.requests.with_label_values(&["denied"]),
            load(&c.denied),
        );
        catch_up(&self.bytes, load(&c.bytes));
        let mut families = self.requests.collect();
        families.extend(self.bytes.collect());
        families
    }
}
