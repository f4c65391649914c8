//! Per-test stores: SQLite in a temp dir, PostgreSQL in a fresh database that is dropped
//! afterwards. PostgreSQL tests skip with a printed reason when the server is unreachable,
//! unless `CI=true` or `GAUNTLET_REQUIRE_POSTGRES=1`, where they fail instead.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gauntlet_queue::store::{NewSubmission, SqlStore, Store, StoreLocation, SubmissionId};
use gauntlet_queue::worker::{EngineConfig, JobExecutor, WorkerEngine};
use gauntlet_queue::KillSwitch;
use sqlx::Connection;

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct Fixture {
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    pg: Option<PgDb>,
}

struct PgDb {
    admin_url: String,
    url: String,
    name: String,
}

fn pg_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("GAUNTLET_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// Logs to the test's output when `RUST_LOG` is set (e.g. `RUST_LOG=gauntlet_queue=debug`).
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
}

impl Fixture {
    pub async fn sqlite() -> Fixture {
        init_tracing();
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::open_sqlite(&dir.path().join("data/gauntlet.db"))
            .await
            .unwrap();
        Fixture {
            store: Arc::new(store),
            dir,
            pg: None,
        }
    }

    /// `None` (after printing why) when PostgreSQL is unreachable and not required.
    pub async fn postgres() -> Option<Fixture> {
        init_tracing();
        let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG.into());
        let connect = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::PgConnection::connect(&admin_url),
        )
        .await;
        let mut admin = match connect {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return skip(&admin_url, &e.to_string()),
            Err(_) => return skip(&admin_url, "connection timed out"),
        };
        let name = format!("gauntlet_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let base = admin_url
            .split('?')
            .next()
            .unwrap()
            .rsplit_once('/')
            .expect("database url has a path")
            .0;
        let url = format!("{base}/{name}");
        let store = SqlStore::connect_postgres(&url)
            .await
            .expect("connect test database");
        Some(Fixture {
            store: Arc::new(store),
            dir: tempfile::tempdir().unwrap(),
            pg: Some(PgDb {
                admin_url,
                url,
                name,
            }),
        })
    }

    /// Where the store lives, for another process to open it.
    pub fn location(&self) -> StoreLocation {
        match &self.pg {
            Some(pg) => StoreLocation::Postgres {
                url: pg.url.clone(),
            },
            None => StoreLocation::Sqlite {
                path: self.dir.path().join("data/gauntlet.db"),
            },
        }
    }

    /// Another fixture on the same database (with a folder of its own), for a second
    /// instance; the database stays this fixture's to drop.
    #[allow(dead_code)] // used by the API suite, which shares this file
    pub async fn sibling(&self) -> Fixture {
        Fixture {
            store: self.second_store().await,
            dir: tempfile::tempdir().unwrap(),
            pg: None,
        }
    }

    /// Another handle on the same database: another process, as far as the store knows
    /// (for PostgreSQL a separate pool and listener; for SQLite the same store).
    pub async fn second_store(&self) -> Arc<dyn Store> {
        match &self.pg {
            Some(pg) => Arc::new(SqlStore::connect_postgres(&pg.url).await.unwrap()),
            None => self.store.clone(),
        }
    }
}

fn skip(url: &str, why: &str) -> Option<Fixture> {
    if pg_required() {
        panic!("PostgreSQL is required here (CI) but unreachable at {url}: {why}");
    }
    eprintln!(
        "SKIPPED (postgres): cannot reach {url}: {why}. Set TEST_DATABASE_URL, or \
         GAUNTLET_REQUIRE_POSTGRES=1 to make this a failure."
    );
    None
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let Some(pg) = self.pg.take() else { return };
        // Drop the database from a thread with its own runtime: this may run while the
        // test's runtime is unwinding.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&pg.admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg.name);
                    if let Err(e) = sqlx::query(&sql).execute(&mut admin).await {
                        eprintln!("cannot drop test database {}: {e}", pg.name);
                    }
                }
            });
        })
        .join()
        .ok();
    }
}

/// Instantiates each listed `async fn(&Fixture)` once per back end.
#[macro_export]
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let fx = $crate::fixture::Fixture::sqlite().await;
                    super::$name(&fx).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(fx) = $crate::fixture::Fixture::postgres().await else { return };
                    super::$name(&fx).await;
                }
            )*
        }
    };
}

pub fn new_submission(hash: &str, payload: serde_json::Value) -> NewSubmission {
    NewSubmission {
        id: SubmissionId::new(),
        exercise_id: "reverse-words".into(),
        exercise_hash: hash.into(),
        display_name: "ada".into(),
        session_id: "session-1".into(),
        client_ip: "127.0.0.1".into(),
        client_key: "127.0.0.1".into(),
        payload: payload.to_string().into_bytes(),
        max_attempts: 3,
    }
}

/// Polls `check` until it yields `Some`, failing after a generous deadline.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Engine settings for tests: quick leases and sweeps, a slow poll (so wake-ups must come
/// from the store's signal), no disk threshold.
pub fn test_config(fx: &Fixture, hashes: &[&str]) -> EngineConfig {
    let mut c = EngineConfig::new(
        fx.dir.path().join("runs"),
        hashes.iter().map(|h| h.to_string()).collect(),
    );
    c.max_concurrency = 4;
    c.lease = Duration::from_secs(10);
    c.heartbeat = Duration::from_millis(200);
    c.poll_interval = Duration::from_secs(600);
    c.sweep_interval = Duration::from_millis(100);
    c.cancel_grace = Duration::from_secs(2);
    c.min_free_disk_bytes = 0;
    c
}

pub async fn start_engine(
    store: Arc<dyn Store>,
    executor: Arc<dyn JobExecutor>,
    config: EngineConfig,
) -> WorkerEngine {
    let ack = KillSwitch::acknowledge(true, true).unwrap();
    WorkerEngine::start(store, executor, config, ack)
        .await
        .unwrap()
}
