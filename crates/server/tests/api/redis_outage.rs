//! Two API instances sharing a private Redis (a `redis-server` of this test's own, on a
//! free port), which the test kills and starts again: limits stay shared while it runs,
//! fall back as configured while it is gone (logged and counted once per outage), and are
//! shared again once it is back.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gauntlet_server::limits::RedisDown;
use gauntlet_server::settings::Settings;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::common::*;
use crate::fixture::eventually;

/// A `redis-server` owned by one test, without persistence.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl PrivateRedis {
    /// `None` (with the reason printed) when `redis-server` is not installed; under
    /// `CI=true` that is a failure.
    fn start() -> Option<PrivateRedis> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = PrivateRedis {
            port,
            child: None,
            _dir: tempfile::tempdir().unwrap(),
        };
        if let Err(e) = r.run() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("redis-server is required in CI: {e}");
            }
            eprintln!("SKIPPED (redis outage): cannot start redis-server: {e}");
            return None;
        }
        Some(r)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server on this port and waits until it accepts connections.
    fn run(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self._dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = std::time::Instant::now() + DEADLINE;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if std::time::Instant::now() > deadline {
                return Err(std::io::Error::other(
                    "redis-server did not start listening",
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn instance(redis: &PrivateRedis, policy: RedisDown, tweak: fn(&mut Settings)) -> TestApp {
    let url = redis.url();
    spawn_app(Opts::new(Db::Sqlite).tweak(move |s| {
        s.redis_url = Some(SecretString::from(url));
        s.on_redis_down = policy;
        tweak(s);
    }))
    .await
    .unwrap()
}

/// Two instances over one store and one Redis.
async fn pair(
    redis: &PrivateRedis,
    policy: RedisDown,
    tweak: fn(&mut Settings),
) -> (TestApp, TestApp) {
    let a = instance(redis, policy, tweak).await;
    let fx = a.fx.sibling().await;
    let mut settings = a.state.settings().clone();
    settings.common.data_dir = fx.dir.path().join("api-data");
    let b = spawn_with(fx, settings, false).await;
    (a, b)
}

async fn submit(c: &mut Client) -> u16 {
    c.submit("x", "ada").await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_fallback_while_redis_is_down_then_shared_again() {
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    let per_day = |s: &mut Settings| s.session_per_day = 3;
    let (a, b) = pair(&redis, RedisDown::Local, per_day).await;
    // One session, used on both instances (they share the session secret in Redis).
    let mut ca = a.client();
    ca.get_session("/api/v1/exercises").await;
    let mut cb = b.client();
    cb.cookie = ca.cookie.clone();

    // Shared: three in all, whichever instance takes them.
    assert_eq!(submit(&mut ca).await, 202);
    assert_eq!(submit(&mut cb).await, 202);
    assert_eq!(submit(&mut ca).await, 202);
    assert_eq!(submit(&mut cb).await, 429);

    redis.kill();
    // Local fallback: instance A counts on its own, from zero, and still enforces.
    for _ in 0..3 {
        assert_eq!(submit(&mut ca).await, 202);
    }
    assert_eq!(submit(&mut ca).await, 429);
    let shared = a.state.shared_redis().expect("redis configured");
    assert!(!shared.is_up());
    assert_eq!(shared.outages(), 1, "one outage, reported once");
    let metrics = ca.get("/metrics").await.text().await.unwrap();
    for want in [
        "gauntlet_redis_up 0",
        r#"gauntlet_redis_fallback_total{action="local"}"#,
        "gauntlet_redis_outages_total",
    ] {
        assert!(metrics.contains(want), "missing {want} in\n{metrics}");
    }

    // Redis comes back (empty): the instances notice on their own and share again.
    redis.run().unwrap();
    for app in [&a, &b] {
        let s = app.state.shared_redis().unwrap().clone();
        eventually("Redis back in use", DEADLINE, || {
            let s = s.clone();
            async move { s.is_up().then_some(()) }
        })
        .await;
    }
    assert_eq!(shared.outages(), 1);
    assert_eq!(submit(&mut cb).await, 202);
    assert_eq!(submit(&mut ca).await, 202);
    assert_eq!(submit(&mut cb).await, 202);
    assert_eq!(submit(&mut ca).await, 429, "the count is shared again");
    let metrics = ca.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("gauntlet_redis_up 1"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_policy_refuses_while_redis_is_down() {
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    let a = instance(&redis, RedisDown::Closed, |_| {}).await;
    let mut c = a.client();
    let r = c.submit("x", "ada").await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    redis.kill();
    for _ in 0..3 {
        let r = c.submit("x", "ada").await;
        assert!(r.headers().contains_key("retry-after"));
        assert_eq!(error_code(r, 503).await, "not_ready");
    }
    let r = c.get(&format!("/api/v1/submissions/{id}/events")).await;
    assert_eq!(error_code(r, 503).await, "not_ready");
    // Reading is not a limit: the submission itself still answers.
    assert_eq!(
        c.get(&format!("/api/v1/submissions/{id}")).await.status(),
        200
    );
    let shared = a.state.shared_redis().unwrap().clone();
    assert_eq!(shared.outages(), 1);
    let metrics = c.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"gauntlet_redis_fallback_total{action="refused"}"#),
        "{metrics}"
    );

    redis.run().unwrap();
    eventually("Redis back in use", DEADLINE, || {
        let s = shared.clone();
        async move { s.is_up().then_some(()) }
    })
    .await;
    assert_eq!(c.submit("x", "ada").await.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_and_active_caps_hold_across_instances() {
    let Some(redis) = PrivateRedis::start() else {
        return;
    };
    let caps = |s: &mut Settings| {
        s.max_streams_per_session = 1;
        s.max_active_per_session = 1;
    };
    let (a, b) = pair(&redis, RedisDown::Local, caps).await;
    let mut ca = a.client();
    ca.get_session("/api/v1/exercises").await;
    let mut cb = b.client();
    cb.cookie = ca.cookie.clone();

    // Concurrent submissions of one session, spread over both instances: the admission
    // leases in Redis let exactly one through the active cap.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let cookie = ca.cookie.clone().unwrap();
        let http = ca.http.clone();
        tasks.push(tokio::spawn(async move {
            http.post(format!("{base}/api/v1/submissions"))
                .header("cookie", cookie)
                .json(&json!({"exercise": "echo", "files": {"a.sh": "x"}, "display_name": "ada"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut accepted = Vec::new();
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 202 || status == 429, "{status}");
        if status == 202 {
            accepted.push(status);
        }
    }
    assert_eq!(
        accepted.len(),
        1,
        "the session's active cap of 1, across instances"
    );

    // One stream for the session, whichever instance serves it.
    let queue: Value = ca
        .admin(reqwest::Method::GET, "/api/v1/admin/queue", Some(ADMIN))
        .await
        .json()
        .await
        .unwrap();
    let id = queue["jobs"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/submissions/{id}/events");
    let first = ca.get(&path).await;
    assert_eq!(first.status(), 200);
    let r = cb.get(&path).await;
    assert_eq!(error_code(r, 429).await, "too_many_streams");
    drop(first);
    let cb = &cb;
    let path = &path;
    eventually(
        "the stream's place given back in Redis",
        DEADLINE,
        || async move { (cb.get(path).await.status() == 200).then_some(()) },
    )
    .await;
}
