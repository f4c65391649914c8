//! Prometheus metrics: queue depth, queue wait and run duration, outcomes by exercise,
//! timeouts and OOM kills, rate-limit rejections, busy workers. Workers and executors
//! call the hooks on [`Metrics::global`]; `GET /metrics` renders the text format.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;

use gauntlet_queue::store::Store;
use gauntlet_queue::worker::{ExecError, Job, JobContext, JobExecutor};

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Every metric of the process, in one registry.
pub struct Metrics {
    registry: Registry,
    queue_depth: IntGauge,
    queue_capacity: IntGauge,
    jobs_running: IntGauge,
    workers_live: IntGauge,
    workers_busy: IntGauge,
    submissions: IntCounterVec,
    queue_wait: Histogram,
    run_duration: HistogramVec,
    outcomes: IntCounterVec,
    timeouts: IntCounterVec,
    oom_kills: IntCounterVec,
    rate_limited: IntCounterVec,
    rejected: IntCounterVec,
    streams_open: IntGauge,
    streams_capacity: IntGauge,
    /// Registered on first use: only a process with Redis has the series.
    redis_up: OnceLock<IntGauge>,
    redis_outages: IntCounter,
    redis_errors: IntCounter,
    redis_fallbacks: IntCounterVec,
}

/// Holds one worker slot busy; the gauge drops back when this does.
#[must_use = "the worker counts as busy until this is dropped"]
pub struct BusyGuard<'a>(&'a IntGauge);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

const WAIT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];
const RUN_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
];

impl Metrics {
    /// The process-wide metrics.
    pub fn global() -> &'static Metrics {
        static GLOBAL: OnceLock<Metrics> = OnceLock::new();
        GLOBAL.get_or_init(Metrics::new)
    }

    /// A fresh, separate registry (tests).
    pub fn new() -> Self {
        let r = Reg(Registry::new());
        Metrics {
            queue_depth: r.gauge("gauntlet_queue_depth", "Submissions waiting in the queue."),
            queue_capacity: r.gauge(
                "gauntlet_queue_capacity",
                "Queued submissions past which new ones are refused as busy (503).",
            ),
            jobs_running: r.gauge("gauntlet_jobs_running", "Submissions being graded."),
            workers_live: r.gauge("gauntlet_workers_live", "Workers that reported recently."),
            workers_busy: r.gauge(
                "gauntlet_workers_busy",
                "Worker slots of this process running a job.",
            ),
            submissions: r.counters(
                "gauntlet_submissions_total",
                "Submissions accepted into the queue, by exercise.",
                &["exercise"],
            ),
            queue_wait: r.histogram(
                "gauntlet_queue_wait_seconds",
                "Time from submission to the start of its run.",
                WAIT_BUCKETS,
            ),
            run_duration: r.histograms(
                "gauntlet_run_duration_seconds",
                "Time spent grading a submission.",
                RUN_BUCKETS,
                &["exercise"],
            ),
            outcomes: r.counters(
                "gauntlet_outcomes_total",
                "Graded submissions by exercise and outcome.",
                &["exercise", "outcome"],
            ),
            timeouts: r.counters(
                "gauntlet_timeouts_total",
                "Runs stopped by a time limit (wall, idle or CPU), by exercise.",
                &["exercise", "kind"],
            ),
            oom_kills: r.counters(
                "gauntlet_oom_kills_total",
                "Runs killed at their memory limit, by exercise.",
                &["exercise"],
            ),
            rate_limited: r.counters(
                "gauntlet_rate_limited_total",
                "Submissions refused by a rate limit (429), by scope and window.",
                &["scope", "window"],
            ),
            rejected: r.counters(
                "gauntlet_rejected_total",
                "Requests refused by admission control, by reason: busy, session_jobs, ip_jobs, \
                 streams, streams_ip, streams_total, name_taken, redis_down, csrf.",
                &["reason"],
            ),
            streams_open: r.gauge(
                "gauntlet_event_streams_open",
                "Event streams open on this instance.",
            ),
            streams_capacity: r.gauge(
                "gauntlet_event_streams_capacity",
                "Event streams this instance holds open at most (GAUNTLET_MAX_STREAMS).",
            ),
            redis_up: OnceLock::new(),
            redis_outages: r.counter(
                "gauntlet_redis_outages_total",
                "Times Redis stopped answering (each outage once).",
            ),
            redis_errors: r.counter(
                "gauntlet_redis_errors_total",
                "Redis operations of the limits that failed or timed out.",
            ),
            redis_fallbacks: r.counters(
                "gauntlet_redis_fallback_total",
                "Limit decisions taken without Redis during an outage: local (this \
                 instance's counts) or refused (policy closed).",
                &["action"],
            ),
            registry: r.0,
        }
    }

    // --- hooks for the API ---

    pub fn submission_accepted(&self, exercise: &str) {
        self.submissions.with_label_values(&[exercise]).inc();
    }

    pub fn rate_limited(&self, scope: &str, window: &str) {
        self.rate_limited.with_label_values(&[scope, window]).inc();
    }

    pub fn rejected(&self, reason: &str) {
        self.rejected.with_label_values(&[reason]).inc();
    }

    pub fn set_streams_open(&self, n: u64) {
        self.streams_open.set(n as i64);
    }

    /// The configured per-instance stream cap (`GAUNTLET_MAX_STREAMS`).
    pub fn set_stream_capacity(&self, n: u64) {
        self.streams_capacity.set(n as i64);
    }

    // --- hooks for the Redis the limits share ---

    pub fn set_redis_up(&self, up: bool) {
        let gauge = self.redis_up.get_or_init(|| {
            let g = IntGauge::new(
                "gauntlet_redis_up",
                "1 while the Redis shared by API instances answers, 0 during an outage.",
            )
            .expect("metric");
            self.register(Box::new(g.clone()));
            g
        });
        gauge.set(i64::from(up));
    }

    pub fn redis_outage(&self) {
        self.redis_outages.inc();
    }

    pub fn redis_error(&self) {
        self.redis_errors.inc();
    }

    /// A decision taken during an outage: `local` or `refused`.
    pub fn redis_fallback(&self, action: &str) {
        self.redis_fallbacks.with_label_values(&[action]).inc();
    }

    /// Queue-wide figures, refreshed from the store before each scrape.
    pub fn set_queue(&self, queued: u64, running: u64, workers_live: u64) {
        self.queue_depth.set(queued as i64);
        self.jobs_running.set(running as i64);
        self.workers_live.set(workers_live as i64);
    }

    /// The configured queue cap (`GAUNTLET_MAX_QUEUE`).
    pub fn set_queue_capacity(&self, cap: u64) {
        self.queue_capacity.set(cap as i64);
    }

    // --- hooks for workers and the executor ---

    /// A worker took a job that waited `queue_wait`; it counts as busy until the guard drops.
    pub fn job_started(&self, queue_wait: Duration) -> BusyGuard<'_> {
        self.queue_wait.observe(queue_wait.as_secs_f64());
        self.workers_busy.inc();
        BusyGuard(&self.workers_busy)
    }

    /// A job ended with `outcome` (the result JSON's `outcome`) after `run` of grading.
    pub fn job_finished(&self, exercise: &str, outcome: &str, run: Duration) {
        self.run_duration
            .with_label_values(&[exercise])
            .observe(run.as_secs_f64());
        self.outcomes.with_label_values(&[exercise, outcome]).inc();
        match outcome {
            "wall_timeout" | "idle_timeout" | "cpu_timeout" => {
                let kind = outcome.trim_end_matches("_timeout");
                self.timeouts.with_label_values(&[exercise, kind]).inc();
            }
            "memory_limit" => self.oom_kills.with_label_values(&[exercise]).inc(),
            _ => {}
        }
    }

    /// Adds a collector read at every scrape (e.g. the Anvil pool's figures).
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        if let Err(e) = self.registry.register(collector) {
            tracing::warn!(error = %e, "metrics collector not registered");
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding never fails");
        String::from_utf8(buf).expect("utf-8")
    }
}

/// Makes metrics and registers them (names and labels are constants: a failure is a bug).
struct Reg(Registry);

impl Reg {
    fn add<C: prometheus::core::Collector + Clone + 'static>(&self, c: C) -> C {
        self.0.register(Box::new(c.clone())).expect("register");
        c
    }
    fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.add(IntGauge::new(name, help).expect("metric"))
    }
    fn counter(&self, name: &str, help: &str) -> IntCounter {
        self.add(IntCounter::new(name, help).expect("metric"))
    }
    fn counters(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.add(IntCounterVec::new(Opts::new(name, help), labels).expect("metric"))
    }
    fn histogram(&self, name: &str, help: &str, buckets: &[f64]) -> Histogram {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.add(Histogram::with_opts(opts).expect("metric"))
    }
    fn histograms(&self, name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> HistogramVec {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.add(HistogramVec::new(opts, labels).expect("metric"))
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Wraps a [`JobExecutor`] so every job feeds the metrics: queue wait (from the store's
/// created/started times), busy workers, run duration, outcome, timeouts and OOM kills.
/// Give the engine `Arc::new(Metered::new(executor, store))` instead of the executor.
pub struct Metered {
    inner: Arc<dyn JobExecutor>,
    store: Arc<dyn Store>,
    metrics: &'static Metrics,
}

impl Metered {
    pub fn new(inner: Arc<dyn JobExecutor>, store: Arc<dyn Store>) -> Self {
        Metered {
            inner,
            store,
            metrics: Metrics::global(),
        }
    }
}

#[async_trait]
impl JobExecutor for Metered {
    fn time_limit(&self, job: &Job) -> Option<Duration> {
        self.inner.time_limit(job)
    }

    async fn execute(&self, job: Job, ctx: JobContext) -> Result<Value, ExecError> {
        let wait = match self.store.get_submission(&job.id).await {
            Ok(Some(s)) => s
                .started_at
                .map(|st| Duration::from_millis(st.saturating_sub(s.created_at).max(0) as u64)),
            _ => None,
        };
        let _busy = self.metrics.job_started(wait.unwrap_or_default());
        let exercise = job.exercise_id.clone();
        let started = Instant::now();
        let result = self.inner.execute(job, ctx).await;
        let outcome = match &result {
            Ok(v) => v
                .get("outcome")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            Err(ExecError::Cancelled) => "cancelled".to_owned(),
            Err(ExecError::Internal(_)) => "internal_error".to_owned(),
            // The attempt failed on the host; the queue retries the job.
            Err(ExecError::Host(_)) => "host_failure".to_owned(),
        };
        self.metrics
            .job_finished(&exercise, &outcome, started.elapsed());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_show_in_the_text_format() {
        let m = Metrics::new();
        m.set_queue(3, 1, 2);
        m.submission_accepted("reverse-words");
        {
            let _busy = m.job_started(Duration::from_millis(20));
            assert!(m.render().contains("gauntlet_workers_busy 1"));
        }
        m.job_finished("reverse-words", "wall_timeout", Duration::from_secs(3));
        m.job_finished("reverse-words", "memory_limit", Duration::from_secs(1));
        m.rate_limited("ip", "minute");
        m.rejected("busy");
        let text = m.render();
        for want in [
            "gauntlet_queue_depth 3",
            "gauntlet_jobs_running 1",
            "gauntlet_workers_busy 0",
            "gauntlet_queue_wait_seconds_count 1",
            r#"gauntlet_outcomes_total{exercise="reverse-words",outcome="wall_timeout"} 1"#,
            r#"gauntlet_timeouts_total{exercise="reverse-words",kind="wall"} 1"#,
            r#"gauntlet_oom_kills_total{exercise="reverse-words"} 1"#,
            r#"gauntlet_rate_limited_total{scope="ip",window="minute"} 1"#,
            r#"gauntlet_rejected_total{reason="busy"} 1"#,
            r#"gauntlet_run_duration_seconds_count{exercise="reverse-words"} 2"#,
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
    }
}
