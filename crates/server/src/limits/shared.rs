//! The Redis that API instances share their limits through, and what the limits do
//! while it cannot be reached.
//!
//! Every shared operation goes through [`SharedRedis::run`], with a time limit. The first
//! failure opens an outage: one error line in the log, `gauntlet_redis_up 0`, and from
//! then on no request waits for Redis; each is decided by the [`RedisDown`] policy:
//! `local` (the default) counts on this instance's own counters, `closed` refuses with
//! 503. A probe pings Redis every [`PROBE_INTERVAL`]; its first answer ends the outage
//! (one info line, `gauntlet_redis_up 1`) and the shared counters take over again.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::metrics::Metrics;

/// How long one shared operation may take before Redis counts as unreachable.
pub const OP_TIMEOUT: Duration = Duration::from_secs(1);
/// How often an outage is probed.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// What the limits do while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RedisDown {
    /// Each instance counts on its own, as without Redis: the service stays up, and the
    /// effective caps are at most the number of instances times the configured ones.
    Local,
    /// Requests that need a shared limit are refused (503 `not_ready`) until Redis
    /// answers again.
    Closed,
}

impl RedisDown {
    pub fn as_str(self) -> &'static str {
        match self {
            RedisDown::Local => "local",
            RedisDown::Closed => "closed",
        }
    }
}

/// A shared decision could not be had and the policy is `closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// Redis, its health, and the policy for its outages.
pub struct SharedRedis {
    conn: ConnectionManager,
    up: AtomicBool,
    /// Outages seen by this instance (each logged once).
    outages: AtomicU64,
    policy: RedisDown,
    metrics: &'static Metrics,
}

impl std::fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRedis")
            .field("up", &self.is_up())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl SharedRedis {
    /// Connects (refusing to start when Redis does not answer now: a first start should
    /// not silently run unshared).
    pub async fn connect(
        url: &str,
        policy: RedisDown,
        metrics: &'static Metrics,
    ) -> Result<Arc<SharedRedis>, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(OP_TIMEOUT)
            .set_response_timeout(OP_TIMEOUT)
            .set_number_of_retries(1)
            .set_max_delay(PROBE_INTERVAL.as_millis() as u64);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        metrics.set_redis_up(true);
        Ok(Arc::new(SharedRedis {
            conn,
            up: AtomicBool::new(true),
            outages: AtomicU64::new(0),
            policy,
            metrics,
        }))
    }

    /// The connection, for start-up work that must not fall back (the session secret).
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Outages this instance has seen so far.
    pub fn outages(&self) -> u64 {
        self.outages.load(Ordering::Relaxed)
    }

    pub fn policy(&self) -> RedisDown {
        self.policy
    }

    /// Runs `op` on Redis while it is up. `Ok(Some(_))`: the shared answer;
    /// `Ok(None)`: decide locally (Redis is down, policy `local`); `Err(Unavailable)`:
    /// refuse (Redis is down, policy `closed`).
    ///
    /// A connection found dead (Redis restarted since this instance last used it: broken
    /// pipe, reset, EOF) is tried once more on the connection the manager makes anew, so
    /// a restart that other instances never noticed does not open an outage here. The
    /// command had not reached the new Redis; at worst a count is taken twice, which
    /// errs on the strict side.
    pub async fn run<T, F, Fut>(self: &Arc<Self>, op: F) -> Result<Option<T>, Unavailable>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.is_up() {
            let mut retried = false;
            let failure = loop {
                match tokio::time::timeout(OP_TIMEOUT, op(self.conn.clone())).await {
                    Ok(Ok(v)) => return Ok(Some(v)),
                    Ok(Err(e)) if e.is_connection_dropped() && !retried => retried = true,
                    Ok(Err(e)) => break e.to_string(),
                    Err(_) => break format!("no answer within {OP_TIMEOUT:?}"),
                }
            };
            self.metrics.redis_error();
            self.outage(&failure);
        }
        self.fallback()
    }

    /// Best effort, for clean-ups whose loss only delays a count's expiry.
    pub async fn run_quietly<T, F, Fut>(self: &Arc<Self>, op: F)
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.is_up() {
            if let Ok(Err(_)) | Err(_) =
                tokio::time::timeout(OP_TIMEOUT, op(self.conn.clone())).await
            {
                self.metrics.redis_error();
            }
        }
    }

    fn fallback<T>(&self) -> Result<Option<T>, Unavailable> {
        match self.policy {
            RedisDown::Local => {
                self.metrics.redis_fallback("local");
                Ok(None)
            }
            RedisDown::Closed => {
                self.metrics.redis_fallback("refused");
                Err(Unavailable)
            }
        }
    }

    /// Marks Redis down; the first caller of an outage logs it and starts the probe.
    fn outage(self: &Arc<Self>, reason: &str) {
        if !self.up.swap(false, Ordering::AcqRel) {
            return; // already down: logged once for this outage
        }
        self.outages.fetch_add(1, Ordering::Relaxed);
        self.metrics.set_redis_up(false);
        self.metrics.redis_outage();
        match self.policy {
            RedisDown::Local => tracing::error!(
                error = reason,
                policy = "local",
                "Redis is unreachable: rate limits, stream caps and admission locks now count on this instance alone (at most instances x the configured caps) until it answers again"
            ),
            RedisDown::Closed => tracing::error!(
                error = reason,
                policy = "closed",
                "Redis is unreachable: submissions and event streams are refused (503) until it answers again"
            ),
        }
        tokio::spawn(probe(Arc::downgrade(self)));
    }
}

/// Pings Redis until it answers, then ends the outage. Stops when the limits are gone.
async fn probe(shared: Weak<SharedRedis>) {
    let started = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        let Some(s) = shared.upgrade() else { return };
        let mut conn = s.conn.clone();
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut conn);
        if let Ok(Ok(_)) = tokio::time::timeout(OP_TIMEOUT, ping).await {
            s.up.store(true, Ordering::Release);
            s.metrics.set_redis_up(true);
            tracing::info!(
                outage_secs = started.elapsed().as_secs(),
                "Redis answers again: limits are shared across instances again"
            );
            return;
        }
    }
}
