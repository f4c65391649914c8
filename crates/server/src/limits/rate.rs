//! Submissions per minute and per day per client address, session and display name, in
//! fixed windows: in memory, or as atomic counters in Redis shared by every API
//! instance (with this instance's own counters while Redis is unreachable).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::client::ClientKey;
use super::shared::{SharedRedis, Unavailable};
use crate::settings::Settings;

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

/// Counts submissions in fixed windows. Every counter of one submission is checked and
/// then incremented together, atomically, so a refused submission counts nowhere.
pub struct RateLimiter {
    cfg: RateConfig,
    /// Fixed windows: key -> (window index, count). The only counters without Redis, the
    /// fallback while it is unreachable.
    local: Mutex<HashMap<String, (u64, u32)>>,
    shared: Option<Arc<SharedRedis>>,
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
    pub fn new(cfg: RateConfig, shared: Option<Arc<SharedRedis>>) -> Self {
        RateLimiter {
            cfg,
            local: Mutex::new(HashMap::new()),
            shared,
        }
    }

    pub fn config(&self) -> &RateConfig {
        &self.cfg
    }

    /// Counts one submission against every limit, or says which limit refuses it.
    /// `display_name` (compared case-insensitively) is given only when the name already
    /// belongs to this session: a name nobody owns yet is no one's to spend.
    pub async fn check_submission(
        &self,
        client: &ClientKey,
        session: &str,
        display_name: Option<&str>,
        now_secs: u64,
    ) -> Result<Result<(), Rejected>, Unavailable> {
        if !self.cfg.enabled {
            return Ok(Ok(()));
        }
        let name = display_name.map(str::to_ascii_lowercase);
        let mut scopes = vec![
            (Scope::Ip, self.cfg.ip, client.as_str()),
            (Scope::Session, self.cfg.session, session),
        ];
        if let Some(name) = &name {
            scopes.push((Scope::DisplayName, self.cfg.display_name, name.as_str()));
        }
        let mut rules = Vec::with_capacity(2 * scopes.len());
        for (scope, caps, who) in scopes {
            for (window, limit) in [
                (Window::Minute, caps.per_minute),
                (Window::Day, caps.per_day),
            ] {
                let idx = now_secs / window.secs();
                rules.push(Rule {
                    key: counter_key(scope, window, idx, who),
                    scope,
                    window,
                    limit,
                    idx,
                });
            }
        }
        let shared = match &self.shared {
            Some(redis) => redis.run(|conn| redis_check(conn, &rules)).await?,
            None => None,
        };
        let full = match shared {
            Some(full) => full,
            None => memory_check(&self.local, &rules),
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

impl RateLimiter {
    /// Counts a submission that just claimed `display_name` against the name's limits
    /// (it could not be checked before: the name was nobody's).
    pub async fn count_new_name(
        &self,
        display_name: &str,
        now_secs: u64,
    ) -> Result<(), Unavailable> {
        if !self.cfg.enabled {
            return Ok(());
        }
        let name = display_name.to_ascii_lowercase();
        let rules: Vec<Rule> = [
            (Window::Minute, self.cfg.display_name.per_minute),
            (Window::Day, self.cfg.display_name.per_day),
        ]
        .into_iter()
        .map(|(window, limit)| {
            let idx = now_secs / window.secs();
            Rule {
                key: counter_key(Scope::DisplayName, window, idx, &name),
                scope: Scope::DisplayName,
                window,
                limit,
                idx,
            }
        })
        .collect();
        let counted = match &self.shared {
            Some(redis) => {
                redis
                    .run(|mut conn| {
                        let mut pipe = redis::pipe();
                        for r in &rules {
                            pipe.incr(&r.key, 1).ignore();
                            pipe.expire(&r.key, (r.window.secs() + 5) as i64).ignore();
                        }
                        async move { pipe.query_async::<()>(&mut conn).await }
                    })
                    .await?
            }
            None => None,
        };
        if counted.is_none() {
            let mut map = self.local.lock().unwrap_or_else(|p| p.into_inner());
            for r in &rules {
                map.entry(r.key.clone()).or_insert((r.idx, 0)).1 += 1;
            }
        }
        Ok(())
    }
}

/// The counter of `who` in window number `idx`.
fn counter_key(scope: Scope, window: Window, idx: u64, who: &str) -> String {
    format!(
        "gauntlet:rl:{}:{}:{idx}:{who}",
        scope.as_str(),
        window.as_str()
    )
}

struct Rule {
    key: String,
    scope: Scope,
    window: Window,
    limit: u32,
    idx: u64,
}

async fn redis_check(
    mut conn: redis::aio::ConnectionManager,
    rules: &[Rule],
) -> redis::RedisResult<Option<usize>> {
    let script = redis::Script::new(CHECK_AND_COUNT);
    let mut inv = script.prepare_invoke();
    for r in rules {
        inv.key(&r.key);
    }
    for r in rules {
        inv.arg(r.limit);
    }
    for r in rules {
        inv.arg(r.window.secs() + 5);
    }
    let i: usize = inv.invoke_async(&mut conn).await?;
    Ok(i.checked_sub(1))
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

    fn key(s: &str) -> ClientKey {
        ClientKey::of(s.parse().unwrap(), 64)
    }

    async fn check(l: &RateLimiter, ip: &str, session: &str, t: u64) -> Result<(), Rejected> {
        l.check_submission(&key(ip), session, Some("n"), t)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn minute_then_day_windows() {
        let l = RateLimiter::new(cfg(2, 3), None);
        let t = 600; // start of a minute
        assert!(check(&l, "192.0.2.1", "s", t).await.is_ok());
        assert!(check(&l, "192.0.2.1", "s", t + 1).await.is_ok());
        let r = check(&l, "192.0.2.1", "s", t + 10).await.unwrap_err();
        assert_eq!(
            (r.scope, r.window, r.retry_after),
            (Scope::Ip, Window::Minute, Duration::from_secs(50))
        );
        // Another address is not affected.
        assert!(check(&l, "192.0.2.2", "s", t + 10).await.is_ok());
        // Next minute: one more fits the day, then the day is full.
        assert!(check(&l, "192.0.2.1", "s", t + 60).await.is_ok());
        let r = check(&l, "192.0.2.1", "s", t + 120).await.unwrap_err();
        assert_eq!(r.window, Window::Day);
        assert_eq!(r.retry_after, Duration::from_secs(86_400 - t - 120));
    }

    #[tokio::test]
    async fn one_ipv6_network_is_one_client() {
        let l = RateLimiter::new(cfg(2, 100), None);
        assert!(check(&l, "2001:db8:7:7::1", "a", 0).await.is_ok());
        assert!(check(&l, "2001:db8:7:7:ffff::9", "b", 0).await.is_ok());
        let r = check(&l, "2001:db8:7:7:1234::", "c", 0).await.unwrap_err();
        assert_eq!(r.scope, Scope::Ip);
        assert!(check(&l, "2001:db8:7:8::1", "d", 0).await.is_ok());
    }

    #[tokio::test]
    async fn refused_submissions_count_nowhere_and_off_means_off() {
        let mut c = cfg(1000, 1000);
        c.session = Caps {
            per_minute: 1,
            per_day: 10,
        };
        let l = RateLimiter::new(c, None);
        assert!(check(&l, "192.0.2.1", "s1", 0).await.is_ok());
        for _ in 0..5 {
            let r = check(&l, "192.0.2.1", "s1", 1).await.unwrap_err();
            assert_eq!(r.scope, Scope::Session);
        }
        c.enabled = false;
        let off = RateLimiter::new(c, None);
        for _ in 0..10 {
            assert!(check(&off, "192.0.2.1", "s1", 1).await.is_ok());
        }
    }
}
