//! Abuse controls tried as an attacker would: dropping the cookie to escape the
//! per-session caps, rotating addresses inside one IPv6 /64, squatting someone's display
//! name, holding event streams open. The loopback peer is a trusted proxy here, so each
//! request picks its client address with `X-Forwarded-For`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::fixture::eventually;
use gauntlet_server::settings::Settings;

async fn app(tweak: impl FnOnce(&mut Settings) + Send + 'static) -> TestApp {
    spawn_app(Opts::new(Db::Sqlite).tweak(|s| {
        s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        tweak(s)
    }))
    .await
    .unwrap()
}

/// A submission from `address`, with no cookie (a fresh session each time) unless one
/// is given.
async fn post(
    app: &TestApp,
    address: &str,
    cookie: Option<&str>,
    name: &str,
    content: &str,
) -> reqwest::Response {
    let c = app.client();
    let mut rb = c
        .http
        .post(app.url("/api/v1/submissions"))
        .header("x-forwarded-for", address)
        .json(&json!({"exercise": "echo", "files": {"a.sh": content}, "display_name": name}));
    if let Some(cookie) = cookie {
        rb = rb.header("cookie", cookie);
    }
    rb.send().await.unwrap()
}

/// The session cookie a response set.
fn cookie_of(r: &reqwest::Response) -> String {
    let v = r.headers()["set-cookie"].to_str().unwrap();
    v.split(';').next().unwrap().to_owned()
}

async fn error_message(r: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(r.status().as_u16(), status, "unexpected status");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], code, "{v}");
    v["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn dropping_the_cookie_does_not_escape_the_address_cap() {
    let app = app(|s| {
        s.max_active_per_session = 1;
        s.max_active_per_ip = 3;
    })
    .await;
    // No workers here: every accepted submission stays queued, so stays active.
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = post(&app, "198.51.100.7", None, &format!("u{i}"), "x").await;
        assert_eq!(r.status(), 202);
        ids.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // A fresh session each time, and still the address is full.
    let r = post(&app, "198.51.100.7", None, "u9", "x").await;
    assert!(r.headers().contains_key("retry-after"));
    let msg = error_message(r, 429, "too_many_active_submissions").await;
    assert!(msg.contains("this address already has 3"), "{msg}");
    // Other addresses are not affected.
    assert_eq!(
        post(&app, "198.51.100.8", None, "v1", "x").await.status(),
        202
    );
    // Once one of the address's submissions finishes, it has a place again.
    let c = app.client();
    let r = c
        .admin(
            Method::POST,
            &format!("/api/v1/admin/submissions/{}/cancel", ids[0]),
            Some(ADMIN),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        post(&app, "198.51.100.7", None, "u9", "x").await.status(),
        202
    );
    let metrics = c.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"gauntlet_rejected_total{reason="ip_jobs"}"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn rotating_addresses_inside_a_64_is_one_client() {
    let app = app(|s| s.max_active_per_ip = 2).await;
    for (address, name) in [
        ("2001:db8:a:b::1", "v6a"),
        ("2001:db8:a:b:ffff:1:2:3", "v6b"),
    ] {
        assert_eq!(post(&app, address, None, name, "x").await.status(), 202);
    }
    let msg = error_message(
        post(&app, "2001:db8:a:b:dead::beef", None, "w6", "x").await,
        429,
        "too_many_active_submissions",
    )
    .await;
    assert!(msg.contains("address"), "{msg}");
    // The next /64 is another client.
    assert_eq!(
        post(&app, "2001:db8:a:c::1", None, "x6", "x")
            .await
            .status(),
        202
    );

    // The per-address rate limits count the /64 too, and a shorter prefix widens it.
    let app = app_with_prefix(56).await;
    for (address, name) in [("2001:db8:a:100::1", "r6a"), ("2001:db8:a:1ff::2", "r6b")] {
        assert_eq!(post(&app, address, None, name, "x").await.status(), 202);
    }
    let r = post(&app, "2001:db8:a:1aa::3", None, "s6", "x").await;
    let msg = error_message(r, 429, "rate_limited").await;
    assert!(msg.starts_with("ip limit"), "{msg}");
    assert_eq!(
        post(&app, "2001:db8:a:200::1", None, "t6", "x")
            .await
            .status(),
        202
    );
}

async fn app_with_prefix(prefix: u8) -> TestApp {
    app(move |s| {
        s.ipv6_prefix = prefix;
        s.ip_per_minute = 2;
        s.ip_per_day = 2;
    })
    .await
}

#[tokio::test]
async fn a_squatter_cannot_use_or_exhaust_someone_elses_name() {
    let app = spawn_app(Opts::new(Db::Sqlite).engine().tweak(|s| s.name_per_day = 3))
        .await
        .unwrap();
    let mut alice = app.client();
    let r = alice.submit("score 60", "alice").await;
    assert_eq!(r.status(), 202);
    // Another session, many times, in every case: refused, and counted nowhere.
    for name in ["alice", "Alice", "ALICE", "alice", "aLiCe"] {
        let mut squatter = app.client();
        let r = squatter.submit("score 100", name).await;
        let msg = error_message(r, 409, "display_name_taken").await;
        assert!(msg.contains("belongs to another session"), "{msg}");
    }
    // Alice's own name limit is intact: two more of her three.
    assert_eq!(alice.submit("score 80", "Alice").await.status(), 202);
    let id = alice
        .submit("score 90", "alice")
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = alice.submit("score 95", "alice").await;
    assert_eq!(error_code(r, 429).await, "rate_limited");
    app.finished(&mut alice, &id).await;

    // Before carol ever comes, a squatter sends refused submissions under her name: they
    // claim nothing and spend nothing of the name's limits.
    for _ in 0..5 {
        let mut mallory = app.client();
        let r = mallory
            .post_json(
                "/api/v1/submissions",
                &json!({"exercise": "echo", "files": {"nope.sh": "x"}, "display_name": "carol"}),
            )
            .await;
        assert_eq!(error_code(r, 400).await, "invalid_submission");
    }
    let mut carol = app.client();
    for _ in 0..3 {
        assert_eq!(carol.submit("score 10", "carol").await.status(), 202);
    }
    assert_eq!(
        error_code(carol.submit("x", "carol").await, 429).await,
        "rate_limited"
    );

    // The leaderboard shows alice's best, and only hers.
    let board = eventually("alice's results on the board", DEADLINE, || async {
        let v: Value = alice
            .get("/api/v1/leaderboard?exercise=echo")
            .await
            .json()
            .await
            .ok()?;
        let entries = v["entries"].as_array()?.clone();
        let mine: Vec<Value> = entries
            .into_iter()
            .filter(|e| {
                e["display_name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("alice"))
            })
            .collect();
        (mine.len() == 1 && mine[0]["score"] == 90).then_some(mine)
    })
    .await;
    assert_eq!(board[0]["submission_id"], id.as_str());

    // An operator frees the name; the next session to submit under it gets it, and the
    // earlier owner's results leave the board with it.
    let r = alice
        .admin(
            Method::POST,
            "/api/v1/admin/display-names/ALICE/release",
            Some(ADMIN),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["released"], true);
    let mut newcomer = app.client();
    assert_eq!(newcomer.submit("score 20", "alice").await.status(), 202);
    let v: Value = alice.get("/api/v1/leaderboard").await.json().await.unwrap();
    assert!(
        !v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["score"] == 90),
        "{v}"
    );
    assert_eq!(
        error_code(alice.submit("x", "alice").await, 409).await,
        "display_name_taken"
    );
}

#[tokio::test]
async fn event_streams_are_capped_per_address_and_in_total() {
    let app = app(|s| {
        s.max_streams_per_session = 10;
        s.max_streams_per_ip = 2;
        s.max_streams = 3;
    })
    .await;
    let r = post(&app, "198.51.100.1", None, "ev", "x").await;
    let cookie = cookie_of(&r);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = app.url(&format!("/api/v1/submissions/{id}/events"));
    let open = |address: &'static str| {
        let http = app.client().http;
        let path = path.clone();
        async move {
            // No cookie: every stream from a fresh session.
            http.get(&path)
                .header("x-forwarded-for", address)
                .send()
                .await
                .unwrap()
        }
    };
    let a1 = open("198.51.100.1").await;
    assert_eq!(a1.status(), 200);
    let a2 = open("198.51.100.1").await;
    assert_eq!(a2.status(), 200);
    let msg = error_message(open("198.51.100.1").await, 429, "too_many_streams").await;
    assert!(msg.contains("this address already has 2"), "{msg}");
    let b1 = open("198.51.100.2").await;
    assert_eq!(b1.status(), 200);
    // The instance's total: another address, and still no room.
    let r = open("198.51.100.3").await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(error_code(r, 503).await, "busy");
    assert_eq!(app.state.open_streams(), 3);
    let metrics = app.client().get("/metrics").await.text().await.unwrap();
    for reason in ["streams_ip", "streams_total"] {
        assert!(
            metrics.contains(&format!(r#"gauntlet_rejected_total{{reason="{reason}"}}"#)),
            "{reason}: {metrics}"
        );
    }
    // Closing one gives its place back.
    drop(a1);
    eventually("a stream slot given back", DEADLINE, || async {
        (app.state.open_streams() == 2).then_some(())
    })
    .await;
    let c1 = open("198.51.100.3").await;
    assert_eq!(c1.status(), 200);
    drop((a2, b1, c1, cookie));
}
