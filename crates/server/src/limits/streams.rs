//! Caps on open event streams: per session and per client address (shared by every
//! instance through Redis), and per instance in total (each stream is a task and a
//! store reader on this instance).
//!
//! In Redis each open stream is a member of a sorted set per session and per address,
//! scored by the time it expires; the instance holding the stream renews it every
//! [`RENEW_EVERY`], and removes it when the stream ends. A crashed instance's streams
//! drop out of the counts within [`LEASE`]. The instance also counts its own streams
//! locally: that is the global cap, and the per-session and per-address caps without
//! Redis or while it is unreachable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::client::ClientKey;
use super::shared::{SharedRedis, Unavailable};
use crate::metrics::Metrics;

/// How long a stream counts in Redis without being renewed.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often an instance renews its open streams in Redis.
pub const RENEW_EVERY: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCaps {
    pub per_session: u32,
    pub per_ip: u32,
    /// Open streams on this instance, all clients together.
    pub total: u32,
}

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRefusal {
    Session(u32),
    Ip(u32),
    Total(u32),
    /// Redis is unreachable and the policy is `closed`.
    Unavailable,
}

impl StreamRefusal {
    /// The `reason` label of `gauntlet_rejected_total`.
    pub fn reason(self) -> &'static str {
        match self {
            StreamRefusal::Session(_) => "streams",
            StreamRefusal::Ip(_) => "streams_ip",
            StreamRefusal::Total(_) => "streams_total",
            StreamRefusal::Unavailable => "redis_down",
        }
    }
}

/// Acquires every cap of a new stream, or says which one is full. Removes expired
/// members first. KEYS: the session's set, the address's set. ARGV: now (ms), expiry
/// (ms), member, session cap, address cap, key lifetime (ms).
const ACQUIRE: &str = r#"
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[3 + i]) then return i end
end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[i], ARGV[6])
end
return 0
"#;

#[derive(Default)]
struct Local {
    by_session: HashMap<String, u32>,
    by_ip: HashMap<ClientKey, u32>,
    total: u32,
    /// Open streams by slot id: their session and address (for renewal).
    open: HashMap<u64, (String, ClientKey)>,
}

impl Local {
    fn add(&mut self, id: u64, session: &str, ip: &ClientKey) {
        *self.by_session.entry(session.to_owned()).or_default() += 1;
        *self.by_ip.entry(ip.clone()).or_default() += 1;
        self.total += 1;
        self.open.insert(id, (session.to_owned(), ip.clone()));
    }

    fn remove(&mut self, id: u64) {
        let Some((session, ip)) = self.open.remove(&id) else {
            return;
        };
        self.total -= 1;
        if let Some(n) = self.by_session.get_mut(&session) {
            *n -= 1;
            if *n == 0 {
                self.by_session.remove(&session);
            }
        }
        if let Some(n) = self.by_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.by_ip.remove(&ip);
            }
        }
    }
}

/// The stream caps of one API instance.
pub struct StreamLimits {
    caps: StreamCaps,
    local: Mutex<Local>,
    shared: Option<Arc<SharedRedis>>,
    /// Names this instance's members in Redis.
    instance: String,
    next_id: AtomicU64,
    metrics: &'static Metrics,
}

/// One open stream; its place in every count is given back when this drops.
pub struct StreamSlot {
    limits: Arc<StreamLimits>,
    id: u64,
    session: String,
    ip: ClientKey,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn session_key(session: &str) -> String {
    format!("gauntlet:streams:session:{session}")
}

fn ip_key(ip: &ClientKey) -> String {
    format!("gauntlet:streams:ip:{ip}")
}

impl StreamLimits {
    /// With Redis, also starts the renewal task (which ends when the limits are dropped).
    pub fn new(
        caps: StreamCaps,
        shared: Option<Arc<SharedRedis>>,
        metrics: &'static Metrics,
    ) -> Arc<Self> {
        let limits = Arc::new(StreamLimits {
            caps,
            local: Mutex::new(Local::default()),
            shared,
            instance: format!("{:016x}", rand::random::<u64>()),
            next_id: AtomicU64::new(1),
            metrics,
        });
        metrics.set_stream_capacity(caps.total.into());
        if limits.shared.is_some() {
            tokio::spawn(renew(Arc::downgrade(&limits)));
        }
        limits
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn member(&self, id: u64) -> String {
        format!("{}:{id}", self.instance)
    }

    /// A slot for a new stream of `session` from `ip`, or the cap that refuses it.
    pub async fn acquire(
        self: &Arc<Self>,
        session: &str,
        ip: &ClientKey,
    ) -> Result<StreamSlot, StreamRefusal> {
        let caps = self.caps;
        if self.local().total >= caps.total {
            return Err(StreamRefusal::Total(caps.total));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let shared = match &self.shared {
            Some(redis) => {
                let (keys, member) = ([session_key(session), ip_key(ip)], self.member(id));
                redis
                    .run(|mut conn| {
                        let (keys, member) = (keys.clone(), member.clone());
                        async move {
                            let now = now_ms();
                            let full: u32 = redis::Script::new(ACQUIRE)
                                .key(&keys[0])
                                .key(&keys[1])
                                .arg(now)
                                .arg(now + LEASE.as_millis() as u64)
                                .arg(&member)
                                .arg(caps.per_session)
                                .arg(caps.per_ip)
                                .arg(2 * LEASE.as_millis() as u64)
                                .invoke_async(&mut conn)
                                .await?;
                            Ok(full)
                        }
                    })
                    .await
                    .map_err(|Unavailable| StreamRefusal::Unavailable)?
            }
            None => None,
        };
        let mut local = self.local();
        match shared {
            Some(1) => return Err(StreamRefusal::Session(caps.per_session)),
            Some(2) => return Err(StreamRefusal::Ip(caps.per_ip)),
            Some(_) => {}
            None => {
                // No shared answer: this instance's own counts decide.
                if local.by_session.get(session).copied().unwrap_or(0) >= caps.per_session {
                    return Err(StreamRefusal::Session(caps.per_session));
                }
                if local.by_ip.get(ip).copied().unwrap_or(0) >= caps.per_ip {
                    return Err(StreamRefusal::Ip(caps.per_ip));
                }
            }
        }
        if local.total >= caps.total {
            drop(local);
            // Lost a race for the last local place after Redis counted the stream.
            self.forget_shared(id, session, ip);
            return Err(StreamRefusal::Total(caps.total));
        }
        local.add(id, session, ip);
        self.metrics.set_streams_open(local.total.into());
        drop(local);
        Ok(StreamSlot {
            limits: self.clone(),
            id,
            session: session.to_owned(),
            ip: ip.clone(),
        })
    }

    /// Open streams of `session` on this instance.
    pub fn open_for(&self, session: &str) -> u32 {
        self.local().by_session.get(session).copied().unwrap_or(0)
    }

    /// Open streams on this instance.
    pub fn open(&self) -> u32 {
        self.local().total
    }

    fn release(self: &Arc<Self>, id: u64, session: &str, ip: &ClientKey) {
        let total = {
            let mut local = self.local();
            local.remove(id);
            local.total
        };
        self.metrics.set_streams_open(total.into());
        self.forget_shared(id, session, ip);
    }

    /// Removes a stream from the shared counts, in the background (a drop cannot wait).
    fn forget_shared(self: &Arc<Self>, id: u64, session: &str, ip: &ClientKey) {
        let (Some(redis), Ok(rt)) = (&self.shared, tokio::runtime::Handle::try_current()) else {
            return; // without Redis, or at exit: the lease expires on its own
        };
        let (redis, member) = (redis.clone(), self.member(id));
        let keys = [session_key(session), ip_key(ip)];
        rt.spawn(async move {
            redis
                .run_quietly(|mut conn| async move {
                    redis::pipe()
                        .zrem(&keys[0], &member)
                        .zrem(&keys[1], &member)
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await;
        });
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.limits.release(self.id, &self.session, &self.ip);
    }
}

/// Renews this instance's open streams in Redis (and puts back those opened while it
/// was unreachable), until the limits are dropped.
async fn renew(limits: Weak<StreamLimits>) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let Some(l) = limits.upgrade() else { return };
        let Some(redis) = l.shared.clone() else {
            return;
        };
        let open: Vec<(u64, String, ClientKey)> = l
            .local()
            .open
            .iter()
            .map(|(id, (s, ip))| (*id, s.clone(), ip.clone()))
            .collect();
        if open.is_empty() {
            continue;
        }
        let expiry = now_ms() + LEASE.as_millis() as u64;
        let mut pipe = redis::pipe();
        for (id, session, ip) in &open {
            let member = l.member(*id);
            for key in [session_key(session), ip_key(ip)] {
                pipe.zadd(&key, &member, expiry).ignore();
                pipe.pexpire(&key, 2 * LEASE.as_millis() as i64).ignore();
            }
        }
        drop(l);
        redis
            .run_quietly(|mut conn| async move { pipe.query_async::<()>(&mut conn).await })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ClientKey {
        ClientKey::of(s.parse().unwrap(), 64)
    }

    #[tokio::test]
    async fn caps_per_session_address_and_total() {
        let caps = StreamCaps {
            per_session: 2,
            per_ip: 3,
            total: 4,
        };
        let metrics = Box::leak(Box::new(Metrics::new()));
        let l = StreamLimits::new(caps, None, metrics);
        let (a, b) = (key("192.0.2.1"), key("192.0.2.2"));
        let s1 = l.acquire("x", &a).await.unwrap();
        let _s2 = l.acquire("x", &a).await.unwrap();
        assert_eq!(
            l.acquire("x", &a).await.err(),
            Some(StreamRefusal::Session(2))
        );
        // Another session from the same address: the address cap.
        let _s3 = l.acquire("y", &a).await.unwrap();
        assert_eq!(l.acquire("z", &a).await.err(), Some(StreamRefusal::Ip(3)));
        // Another address: the instance's total.
        let _s4 = l.acquire("w", &b).await.unwrap();
        assert_eq!(
            l.acquire("v", &b).await.err(),
            Some(StreamRefusal::Total(4))
        );
        assert!(metrics.render().contains("gauntlet_event_streams_open 4"));
        drop(s1);
        assert_eq!(l.open_for("x"), 1);
        assert_eq!(l.open(), 3);
        assert!(l.acquire("x", &a).await.is_ok());
    }
}
