//! One admission at a time per session and per client address: the active-submission
//! caps are checked and the submission inserted under these locks, so concurrent
//! requests cannot both pass a cap. Within an instance the locks are mutexes; with
//! Redis every instance also takes a short lease on the same keys (`SET NX PX`, given
//! back by a compare-and-delete), so requests spread over instances cannot either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::shared::{SharedRedis, Unavailable};

/// How long a Redis admission lease lives if its holder dies holding it.
const LEASE: Duration = Duration::from_secs(5);
/// How long a request waits for the leases before it is answered "busy".
const WAIT: Duration = Duration::from_secs(3);
/// Pause between two tries for a lease another instance holds.
const RETRY: Duration = Duration::from_millis(10);

/// Deletes a lease only when it is still ours.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmissionError {
    /// Another instance kept the lease for longer than [`WAIT`].
    Busy,
    /// Redis is unreachable and the policy is `closed`.
    Unavailable,
}

/// The admission locks of one instance.
pub struct AdmissionLocks {
    local: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    shared: Option<Arc<SharedRedis>>,
}

/// Held until the submission is inserted (or refused).
pub struct AdmissionGuard {
    _local: Vec<tokio::sync::OwnedMutexGuard<()>>,
    shared: Option<(Arc<SharedRedis>, Vec<String>, String)>,
}

impl AdmissionLocks {
    pub fn new(shared: Option<Arc<SharedRedis>>) -> Self {
        AdmissionLocks {
            local: Mutex::new(HashMap::new()),
            shared,
        }
    }

    /// Takes every key's lock, in one order (sorted) so two admissions never wait for
    /// each other crosswise.
    pub async fn lock(&self, keys: &[String]) -> Result<AdmissionGuard, AdmissionError> {
        let mut keys: Vec<String> = keys.to_vec();
        keys.sort();
        keys.dedup();
        let mut guards = Vec::with_capacity(keys.len());
        for key in &keys {
            let lock = {
                let mut map = self.local.lock().unwrap_or_else(|p| p.into_inner());
                if map.len() > 10_000 {
                    // Forget locks nobody holds or waits for.
                    map.retain(|_, l| Arc::strong_count(l) > 1);
                }
                map.entry(key.clone()).or_default().clone()
            };
            guards.push(lock.lock_owned().await);
        }
        let shared = match &self.shared {
            Some(redis) => lease(redis, &keys).await?,
            None => None,
        };
        Ok(AdmissionGuard {
            _local: guards,
            shared,
        })
    }
}

type Lease = Option<(Arc<SharedRedis>, Vec<String>, String)>;

/// Takes a Redis lease on every key, or none (Redis down, policy `local`).
async fn lease(redis: &Arc<SharedRedis>, keys: &[String]) -> Result<Lease, AdmissionError> {
    let token = format!("{:032x}", rand::random::<u128>());
    let names: Vec<String> = keys.iter().map(|k| format!("gauntlet:admit:{k}")).collect();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut taken = Vec::new();
    for name in &names {
        loop {
            let got = redis
                .run(|mut conn| {
                    let (name, token) = (name.clone(), token.clone());
                    async move {
                        redis::cmd("SET")
                            .arg(&name)
                            .arg(&token)
                            .arg("NX")
                            .arg("PX")
                            .arg(LEASE.as_millis() as u64)
                            .query_async::<Option<String>>(&mut conn)
                            .await
                    }
                })
                .await;
            match got {
                Ok(Some(Some(_))) => {
                    taken.push(name.clone());
                    break;
                }
                Ok(Some(None)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(RETRY).await;
                }
                Ok(Some(None)) => {
                    release(redis.clone(), taken, token).await;
                    return Err(AdmissionError::Busy);
                }
                // Redis went away: fall back to the local locks already held.
                Ok(None) => {
                    release(redis.clone(), taken, token).await;
                    return Ok(None);
                }
                Err(Unavailable) => return Err(AdmissionError::Unavailable),
            }
        }
    }
    Ok(Some((redis.clone(), taken, token)))
}

async fn release(redis: Arc<SharedRedis>, names: Vec<String>, token: String) {
    if names.is_empty() {
        return;
    }
    redis
        .run_quietly(|mut conn| async move {
            for name in &names {
                redis::Script::new(RELEASE)
                    .key(name)
                    .arg(&token)
                    .invoke_async::<i64>(&mut conn)
                    .await?;
            }
            Ok(())
        })
        .await;
}

impl Drop for AdmissionGuard {
    fn drop(&mut self) {
        let Some((redis, names, token)) = self.shared.take() else {
            return;
        };
        // Outside a runtime (at exit) the leases expire on their own.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(release(redis, names, token));
        }
    }
}
