//! Rate limits over HTTP: per IP (X-Forwarded-For believed only from trusted proxies), per
//! session and per display name, per minute and per day; `GAUNTLET_RATE_LIMITS=off`; and
//! one limit enforced across two API instances sharing Redis.

use gauntlet_server::settings::{Settings, Switch};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::common::*;

async fn app(tweak: impl FnOnce(&mut Settings) + Send + 'static) -> TestApp {
    avoid_minute_edge().await;
    spawn_app(Opts::new(Db::Sqlite).tweak(tweak)).await.unwrap()
}

/// Limits count in fixed windows: a test that straddled a minute boundary would see its
/// counters reset half-way. Start no test in the last three seconds of a minute.
async fn avoid_minute_edge() {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let into_minute = secs % 60.0;
    if into_minute >= 57.0 {
        tokio::time::sleep(std::time::Duration::from_secs_f64(
            60.0 - into_minute + 0.05,
        ))
        .await;
    }
}

/// Submits from a fresh session with this name (and forwarded-for header).
async fn submit_as(app: &TestApp, name: &str, xff: Option<&str>) -> reqwest::Response {
    let c = app.client();
    let mut rb = c
        .http
        .post(app.url("/api/v1/submissions"))
        .json(&json!({"exercise": "echo", "files": {"a.sh": "x"}, "display_name": name}));
    if let Some(x) = xff {
        rb = rb.header("x-forwarded-for", x);
    }
    rb.send().await.unwrap()
}

async fn assert_limited(r: reqwest::Response, scope: &str, window: &str) {
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let max = if window == "minute" { 60 } else { 86_400 };
    assert!((1..=max).contains(&retry), "retry-after {retry}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limited", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with(scope) && msg.ends_with(window), "{msg}");
}

#[tokio::test]
async fn per_ip_per_minute() {
    let app = app(|s| s.ip_per_minute = 2).await;
    for name in ["a1", "a2"] {
        assert_eq!(submit_as(&app, name, None).await.status(), 202);
    }
    assert_limited(submit_as(&app, "a3", None).await, "ip", "minute").await;
    let metrics = app.client().get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"gauntlet_rate_limited_total{scope="ip",window="minute"}"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn per_ip_per_day() {
    let app = app(|s| s.ip_per_day = 2).await;
    for name in ["a1", "a2"] {
        assert_eq!(submit_as(&app, name, None).await.status(), 202);
    }
    assert_limited(submit_as(&app, "a3", None).await, "ip", "day").await;
}

#[tokio::test]
async fn per_session_minute_and_day() {
    for (window, tweak) in [
        (
            "minute",
            (|s: &mut Settings| s.session_per_minute = 2) as fn(&mut Settings),
        ),
        ("day", |s: &mut Settings| s.session_per_day = 2),
    ] {
        let app = app(tweak).await;
        let mut c = app.client();
        for name in ["a1", "a2"] {
            assert_eq!(c.submit("x", name).await.status(), 202);
        }
        assert_limited(c.submit("x", "a3").await, "session", window).await;
        // A new session is not limited.
        assert_eq!(app.client().submit("x", "a4").await.status(), 202);
    }
}

#[tokio::test]
async fn per_display_name_minute_and_day() {
    for (window, tweak) in [
        (
            "minute",
            (|s: &mut Settings| s.name_per_minute = 2) as fn(&mut Settings),
        ),
        ("day", |s: &mut Settings| s.name_per_day = 2),
    ] {
        let app = app(tweak).await;
        let mut c = app.client();
        assert_eq!(c.submit("x", "Ada").await.status(), 202);
        assert_eq!(c.submit("x", "ada").await.status(), 202);
        // Same name in another case: still the same name, and its counter is full.
        assert_limited(c.submit("x", "ADA").await, "display_name", window).await;
        assert_eq!(c.submit("x", "bob").await.status(), 202);
    }
}

#[tokio::test]
async fn rate_limits_off_leaves_queue_caps_on() {
    let app = app(|s| {
        s.rate_limits = Switch::Off;
        s.ip_per_minute = 1;
        s.session_per_minute = 1;
        s.name_per_minute = 1;
        s.max_queue = 3;
    })
    .await;
    let mut c = app.client();
    for _ in 0..3 {
        assert_eq!(c.submit("x", "ada").await.status(), 202);
    }
    assert_eq!(error_code(c.submit("x", "ada").await, 503).await, "busy");
}

#[tokio::test]
async fn forwarded_for_only_from_trusted_proxies() {
    // Untrusted peer: the header is ignored, every request is 127.0.0.1.
    let app1 = app(|s| s.ip_per_minute = 1).await;
    assert_eq!(
        submit_as(&app1, "a1", Some("198.51.100.1")).await.status(),
        202
    );
    assert_limited(
        submit_as(&app1, "a2", Some("198.51.100.2")).await,
        "ip",
        "minute",
    )
    .await;

    // Trusted loopback proxy: each forwarded client has its own counter.
    let app2 = app(|s| {
        s.ip_per_minute = 1;
        s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    assert_eq!(
        submit_as(&app2, "a1", Some("198.51.100.1")).await.status(),
        202
    );
    assert_eq!(
        submit_as(&app2, "a2", Some("198.51.100.2")).await.status(),
        202
    );
    // Two header lines read as one list: a forged first line does not win.
    let c = app2.client();
    let r = c
        .http
        .post(app2.url("/api/v1/submissions"))
        .header("x-forwarded-for", "203.0.113.99")
        .header("x-forwarded-for", "198.51.100.2")
        .json(&json!({"exercise": "echo", "files": {"a.sh": "x"}, "display_name": "a9"}))
        .send()
        .await
        .unwrap();
    assert_limited(r, "ip", "minute").await;
    // A client cannot dodge by prepending a fake address: the right-most untrusted wins.
    assert_limited(
        submit_as(&app2, "a3", Some("203.0.113.66, 198.51.100.1")).await,
        "ip",
        "minute",
    )
    .await;
}

fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let addr = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    match std::net::TcpStream::connect_timeout(
        &addr.parse().ok()?,
        std::time::Duration::from_secs(2),
    ) {
        Ok(_) => Some(url),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("Redis is required in CI but unreachable at {url}: {e}");
            }
            eprintln!("SKIPPED (redis): cannot reach {url}: {e}. Set TEST_REDIS_URL.");
            None
        }
    }
}

#[tokio::test]
async fn redis_shares_limits_and_sessions_across_instances() {
    let Some(url) = redis_url() else { return };
    // A display name no other run uses, so counters left in Redis cannot interfere.
    let name = format!("n{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let tweak = move |s: &mut Settings| {
        s.redis_url = Some(SecretString::from(url.clone()));
        s.name_per_minute = 3;
    };
    let tweak2 = tweak.clone();
    let a = app(tweak).await;
    let b = app(tweak2).await;
    assert!(a.state.settings().redis_url.is_some());

    // A session made by one instance is accepted by the other (shared secret).
    let mut ca = a.client();
    ca.get_session("/api/v1/exercises").await;
    let cookie = ca.cookie.clone().expect("a session cookie");
    let mut cb = b.client();
    cb.cookie = Some(cookie.clone());
    let r = cb.get_session("/api/v1/exercises").await;
    assert!(
        !r.headers().contains_key("set-cookie"),
        "instance B did not accept A's session"
    );
    assert_eq!(cb.cookie, Some(cookie));

    assert_eq!(ca.submit("x", &name).await.status(), 202);
    assert_eq!(cb.submit("x", &name).await.status(), 202);
    assert_eq!(ca.submit("x", &name).await.status(), 202);
    // The fourth, on either instance, is over the shared limit.
    assert_limited(cb.submit("x", &name).await, "display_name", "minute").await;
    assert_limited(ca.submit("x", &name).await, "display_name", "minute").await;
}
