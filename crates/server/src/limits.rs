//! Abuse controls: submissions per minute and per day per client IP, session and display
//! name (in memory, or atomic counters in Redis shared by every API instance), the
//! client IP behind trusted proxies, and the per-session cap on open event streams.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;

use crate::settings::Settings;

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("rate-limit store unavailable: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Who a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Ip,
    Session,
    DisplayName,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Session => "session",
            Scope::DisplayName => "display_name",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    Minute,
    Day,
}

impl Window {
    pub fn secs(self) -> u64 {
        match self {
            Window::Minute => 60,
            Window::Day => 86_400,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Minute => "minute",
            Window::Day => "day",
        }
    }
}

/// A refused submission: which limit, and when to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub scope: Scope,
    pub window: Window,
    pub limit: u32,
    pub retry_after: Duration,
}

/// Per-minute and per-day caps of one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub per_minute: u32,
    pub per_day: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateConfig {
    pub enabled: bool,
    pub ip: Caps,
    pub session: Caps,
    pub display_name: Caps,
}

impl RateConfig {
    pub fn from_settings(s: &Settings) -> Self {
        RateConfig {
            enabled: s.rate_limits_on(),
            ip: Caps {
                per_minute: s.ip_per_minute,
                per_day: s.ip_per_day,
            },
            session: Caps {
                per_minute: s.session_per_minute,
                per_day: s.session_per_day,
            },
            display_name: Caps {
                per_minute: s.name_per_minute,
                per_day: s.name_per_day,
            },
        }
    }
}

enum Backend {
    /// Fixed windows: key -> (window index, count).
    Memory(Mutex<HashMap<String, (u64, u32)>>),
    Redis(redis::aio::ConnectionManager),
}

/// Counts submissions in fixed windows. Every counter of one submission is checked and
/// then incremented together, atomically, so a refused submission counts nowhere.
pub struct RateLimiter {
    cfg: RateConfig,
    backend: Backend,
}

/// Checks every counter, increments them all only when none is at its limit; returns
/// the 1-based index of the first full counter, or 0.
const CHECK_AND_COUNT: &str = r#"
local n = #KEYS
for i = 1, n do
  local c = tonumber(redis.call('GET', KEYS[i]) or '0')
  if c >= tonumber(ARGV[i]) then return i end
end
for i = 1, n do
  local c = redis.call('INCR', KEYS[i])
  if c == 1 then redis.call('EXPIRE', KEYS[i], ARGV[n + i]) end
end
return 0
"#;

impl RateLimiter {
    pub fn in_memory(cfg: RateConfig) -> Self {
        RateLimiter {
            cfg,
            backend: Backend::Memory(Mutex::new(HashMap::new())),
        }
    }

    pub fn redis(cfg: RateConfig, conn: redis::aio::ConnectionManager) -> Self {
        RateLimiter {
            cfg,
            backend: Backend::Redis(conn),
        }
    }

    pub fn config(&self) -> &RateConfig {
        &self.cfg
    }

    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    /// Counts one submission against every limit, or says which limit refuses it.
    pub async fn check_submission(
        &self,
        ip: IpAddr,
        session: &str,
        display_name: &str,
        now_secs: u64,
    ) -> Result<Result<(), Rejected>, LimitError> {
        if !self.cfg.enabled {
            return Ok(Ok(()));
        }
        let name = display_name.to_lowercase();
        let ip = ip.to_string();
        let mut rules = Vec::with_capacity(6);
        for (scope, caps, who) in [
            (Scope::Ip, self.cfg.ip, ip.as_str()),
            (Scope::Session, self.cfg.session, session),
            (Scope::DisplayName, self.cfg.display_name, name.as_str()),
        ] {
            for (window, limit) in [
                (Window::Minute, caps.per_minute),
                (Window::Day, caps.per_day),
            ] {
                let idx = now_secs / window.secs();
                rules.push(Rule {
                    key: format!(
                        "gauntlet:rl:{}:{}:{idx}:{who}",
                        scope.as_str(),
                        window.as_str()
                    ),
                    scope,
                    window,
                    limit,
                    idx,
                });
            }
        }
        let full = match &self.backend {
            Backend::Memory(map) => memory_check(map, &rules),
            Backend::Redis(conn) => {
                let mut conn = conn.clone();
                let script = redis::Script::new(CHECK_AND_COUNT);
                let mut inv = script.prepare_invoke();
                for r in &rules {
                    inv.key(&r.key);
                }
                for r in &rules {
                    inv.arg(r.limit);
                }
                for r in &rules {
                    inv.arg(r.window.secs() + 5);
                }
                let i: usize = inv.invoke_async(&mut conn).await?;
                i.checked_sub(1)
            }
        };
        Ok(match full {
            None => Ok(()),
            Some(i) => {
                let r = &rules[i];
                let end = (r.idx + 1) * r.window.secs();
                Err(Rejected {
                    scope: r.scope,
                    window: r.window,
                    limit: r.limit,
                    retry_after: Duration::from_secs(end.saturating_sub(now_secs).max(1)),
                })
            }
        })
    }
}

struct Rule {
    key: String,
    scope: Scope,
    window: Window,
    limit: u32,
    idx: u64,
}

fn memory_check(map: &Mutex<HashMap<String, (u64, u32)>>, rules: &[Rule]) -> Option<usize> {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() > 100_000 {
        // Forget windows that have passed; keys carry their window index.
        let current: Vec<u64> = rules.iter().map(|r| r.idx).collect();
        map.retain(|_, (idx, _)| current.contains(idx));
    }
    for (i, r) in rules.iter().enumerate() {
        let count = map.get(&r.key).map_or(0, |&(_, c)| c);
        if count >= r.limit {
            return Some(i);
        }
    }
    for r in rules {
        map.entry(r.key.clone()).or_insert((r.idx, 0)).1 += 1;
    }
    None
}

/// The client's address: the peer, unless the peer is a trusted proxy, then the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = canonical(peer);
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut last = peer;
    for part in header.rsplit(',') {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) => {
                let ip = canonical(ip);
                if !is_trusted(&ip) {
                    return ip;
                }
                last = ip;
            }
            // A garbled entry: nothing left of it can be believed.
            Err(_) => return last,
        }
    }
    last
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One admission at a time per session (in this instance): the session's cap is checked
/// and its submission inserted under this lock, so concurrent requests cannot both pass.
#[derive(Clone, Default)]
pub struct SessionLocks {
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl SessionLocks {
    pub async fn lock(&self, session: &str) -> SessionGuard {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > 10_000 {
                // Forget locks nobody holds or waits for.
                map.retain(|_, l| Arc::strong_count(l) > 1);
            }
            map.entry(session.to_owned()).or_default().clone()
        };
        SessionGuard(lock.lock_owned().await)
    }
}

pub struct SessionGuard(#[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>);

/// Open event streams per session, capped; a slot is given back when its guard drops.
#[derive(Clone, Default)]
pub struct StreamSlots {
    open: Arc<Mutex<HashMap<String, u32>>>,
}

pub struct StreamSlot {
    open: Arc<Mutex<HashMap<String, u32>>>,
    session: String,
}

impl StreamSlots {
    pub fn try_acquire(&self, session: &str, cap: u32) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(session.to_owned()).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            open: self.open.clone(),
            session: session.to_owned(),
        })
    }

    pub fn open_for(&self, session: &str) -> u32 {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(session).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.session) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(m: u32, d: u32) -> RateConfig {
        let big = Caps {
            per_minute: 1000,
            per_day: 1000,
        };
        RateConfig {
            enabled: true,
            ip: Caps {
                per_minute: m,
                per_day: d,
            },
            session: big,
            display_name: big,
        }
    }

    #[tokio::test]
    async fn minute_then_day_windows() {
        let l = RateLimiter::in_memory(cfg(2, 3));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = 600; // start of a minute
        assert!(l.check_submission(ip, "s", "n", t).await.unwrap().is_ok());
        assert!(l
            .check_submission(ip, "s", "n", t + 1)
            .await
            .unwrap()
            .is_ok());
        let r = l
            .check_submission(ip, "s", "n", t + 10)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (r.scope, r.window, r.retry_after),
            (Scope::Ip, Window::Minute, Duration::from_secs(50))
        );
        // Another IP is not affected.
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l
            .check_submission(other, "s", "n", t + 10)
            .await
            .unwrap()
            .is_ok());
        // Next minute: one more fits the day, then the day is full.
        assert!(l
            .check_submission(ip, "s", "n", t + 60)
            .await
            .unwrap()
            .is_ok());
        let r = l
            .check_submission(ip, "s", "n", t + 120)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(r.window, Window::Day);
        assert_eq!(r.retry_after, Duration::from_secs(86_400 - t - 120));
    }

    #[tokio::test]
    async fn refused_submissions_count_nowhere_and_off_means_off() {
        let mut c = cfg(1000, 1000);
        c.session = Caps {
            per_minute: 1,
            per_day: 10,
        };
        let l = RateLimiter::in_memory(c);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(l.check_submission(ip, "s1", "a", 0).await.unwrap().is_ok());
        for _ in 0..5 {
            let r = l
                .check_submission(ip, "s1", "a", 1)
                .await
                .unwrap()
                .unwrap_err();
            assert_eq!(r.scope, Scope::Session);
        }
        c.enabled = false;
        let off = RateLimiter::in_memory(c);
        for _ in 0..10 {
            assert!(off
                .check_submission(ip, "s1", "a", 1)
                .await
                .unwrap()
                .is_ok());
        }
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let table: &[(&str, Option<&str>, &str)] = &[
            ("203.0.113.9", Some("1.2.3.4"), "203.0.113.9"),
            ("10.0.0.1", None, "10.0.0.1"),
            ("10.0.0.1", Some("1.2.3.4"), "1.2.3.4"),
            ("10.0.0.1", Some("6.6.6.6, 1.2.3.4"), "1.2.3.4"),
            ("10.0.0.1", Some("1.2.3.4, 10.0.0.7"), "1.2.3.4"),
            ("10.0.0.1", Some("10.0.0.9, 10.0.0.7"), "10.0.0.9"),
            ("10.0.0.1", Some("garbage, 10.0.0.7"), "10.0.0.7"),
            ("::1", Some("2001:db8::1"), "2001:db8::1"),
            ("::ffff:10.0.0.1", Some("1.2.3.4"), "1.2.3.4"),
        ];
        for (peer, xff, want) in table {
            assert_eq!(
                client_ip(ip(peer), *xff, &trusted),
                ip(want),
                "{peer} {xff:?}"
            );
        }
    }

    #[test]
    fn stream_slots() {
        let s = StreamSlots::default();
        let a = s.try_acquire("x", 2).unwrap();
        let _b = s.try_acquire("x", 2).unwrap();
        assert!(s.try_acquire("x", 2).is_none());
        assert!(s.try_acquire("y", 2).is_some());
        drop(a);
        assert_eq!(s.open_for("x"), 1);
        assert!(s.try_acquire("x", 2).is_some());
    }
}
