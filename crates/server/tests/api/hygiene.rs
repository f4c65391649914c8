//! Request hygiene and everything outside the store's flows: strict JSON, validation,
//! body caps (413), multipart part limits, header and body read timeouts, event-stream
//! cap, security headers, CORS, sessions, admin auth and reload, OpenAPI, metrics,
//! graceful shutdown. SQLite only: none of it depends on the back end.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;
use crate::fixture::eventually;

async fn app(
    tweak: impl FnOnce(&mut gauntlet_server::settings::Settings) + Send + 'static,
) -> TestApp {
    spawn_app(Opts::new(Db::Sqlite).tweak(tweak)).await.unwrap()
}

#[tokio::test]
async fn json_submissions_are_validated_strictly() {
    let app = app(|_| {}).await;
    let mut c = app.client();
    let post = |body: Value| {
        let mut c = app.client();
        async move { c.post_json("/api/v1/submissions", &body).await }
    };
    let table: Vec<(Value, u16, &str)> = vec![
        (
            json!({"exercise": "echo", "files": {"a.sh": "x"}, "display_name": "ada", "extra": 1}),
            400,
            "invalid_json",
        ),
        (
            json!({"exercise": "echo", "files": {"a.sh": "x"}}),
            400,
            "invalid_json",
        ),
        (
            json!({"exercise": "echo", "files": {"a.sh": 1}, "display_name": "ada"}),
            400,
            "invalid_json",
        ),
        (json!([1, 2]), 400, "invalid_json"),
        (
            json!({"exercise": "echo", "files": {"a.sh": "x"}, "display_name": ""}),
            400,
            "invalid_display_name",
        ),
        (
            json!({"exercise": "echo", "files": {"a.sh": "x"}, "display_name": "admin"}),
            400,
            "invalid_display_name",
        ),
        (
            json!({"exercise": "echo", "files": {"a.sh": "x"}, "display_name": "<b>ada</b>"}),
            400,
            "invalid_display_name",
        ),
        (
            json!({"exercise": "echo", "files": {"a.sh": "x"}, "display_name": "x".repeat(33)}),
            400,
            "invalid_display_name",
        ),
        (
            json!({"exercise": "nope", "files": {"a.sh": "x"}, "display_name": "ada"}),
            404,
            "exercise_not_found",
        ),
        (
            json!({"exercise": "echo", "files": {"b.sh": "x"}, "display_name": "ada"}),
            400,
            "invalid_submission",
        ),
        (
            json!({"exercise": "echo", "files": {"../a.sh": "x"}, "display_name": "ada"}),
            400,
            "invalid_submission",
        ),
        (
            json!({"exercise": "echo", "files": {"tests/run.sh": "x"}, "display_name": "ada"}),
            400,
            "invalid_submission",
        ),
        (
            json!({"exercise": "echo", "files": {"a.sh": "x".repeat(1025)}, "display_name": "ada"}),
            400,
            "invalid_submission",
        ),
        (
            json!({"exercise": "bundle", "files": {"a.sh": "x"}, "display_name": "ada"}),
            400,
            "invalid_submission",
        ),
    ];
    for (body, status, code) in table {
        let got = error_code(post(body.clone()).await, status).await;
        assert_eq!(got, code, "{body}");
    }
    // Syntax errors and wrong media types.
    let r = c
        .http
        .post(app.url("/api/v1/submissions"))
        .header("content-type", "application/json")
        .body("{\"exercise\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 400).await, "invalid_json");
    let r = c
        .http
        .post(app.url("/api/v1/submissions"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 415).await, "unsupported_media_type");
    // Nothing was queued by any of that.
    let ok = c.submit("fine", "ada").await;
    assert_eq!(ok.status(), 202);
    let q = app.state.store().queue_counts().await.unwrap();
    assert_eq!(q.queued, 1);
}

#[tokio::test]
async fn body_caps_answer_413() {
    let app = app(|s| s.max_body = 4096).await;
    let c = app.client();
    let big =
        json!({"exercise": "echo", "files": {"a.sh": "x".repeat(5000)}, "display_name": "ada"});
    // Declared length over the cap.
    let r = c
        .http
        .post(app.url("/api/v1/submissions"))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 413).await, "payload_too_large");
    // Chunked, no declared length: refused while reading.
    let body = big.to_string().into_bytes();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(512).map(|c| Ok(c.to_vec())).collect();
    let r = c
        .http
        .post(app.url("/api/v1/submissions"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 413).await, "payload_too_large");
}

#[tokio::test]
async fn multipart_archives_and_part_limits() {
    let app = app(|s| {
        s.max_archive = 2048;
        s.max_parts = 3;
    })
    .await;
    let form = |archive: Vec<u8>| {
        Form::new()
            .text("exercise", "bundle")
            .text("display_name", "ada")
            .part("archive", Part::bytes(archive).file_name("a.zip"))
    };
    let mut c = app.client();
    let r = c.post_multipart(form(zip(&[("a.sh", "echo hi\n")]))).await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sub: Value = c
        .get(&format!("/api/v1/submissions/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sub["exercise"], "bundle");

    let cases: Vec<(Form, u16, &str)> = vec![
        (
            form(zip(&[("tests/run.sh", "exit 0\n")])),
            400,
            "invalid_submission",
        ),
        (form(b"not a zip".to_vec()), 400, "invalid_submission"),
        (
            form(zip(&[("a.sh", &"x".repeat(3000))])),
            413,
            "payload_too_large",
        ),
        (
            form(zip(&[("a.sh", "x")])).text("extra", "1"),
            400,
            "bad_request",
        ),
        (
            Form::new()
                .text("exercise", "bundle")
                .text("display_name", "ada")
                .text("x", "1")
                .text("y", "2"),
            400,
            "bad_request",
        ),
        (
            Form::new()
                .text("exercise", "bundle")
                .text("display_name", "ada"),
            400,
            "bad_request",
        ),
        (
            Form::new()
                .text("exercise", "echo")
                .text("display_name", "ada")
                .part("archive", Part::bytes(zip(&[("a.sh", "x")]))),
            400,
            "invalid_submission",
        ),
        (
            Form::new()
                .text("exercise", "bundle")
                .text("display_name", "root")
                .part("archive", Part::bytes(zip(&[("a.sh", "x")]))),
            400,
            "invalid_display_name",
        ),
    ];
    // From the session that owns "ada" (another one would get 409 display_name_taken).
    for (i, (f, status, code)) in cases.into_iter().enumerate() {
        let r = c.post_multipart(f).await;
        assert_eq!(error_code(r, status).await, code, "case {i}");
    }
}

#[tokio::test]
async fn routes_methods_headers_and_openapi() {
    let app = app(|_| {}).await;
    let c = app.client();
    assert_eq!(error_code(c.get("/nope").await, 404).await, "not_found");
    let r = c
        .http
        .delete(app.url("/api/v1/exercises"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 405).await, "method_not_allowed");

    let r = c.get("/api/v1/exercises").await;
    let h = r.headers();
    for (name, want) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(h[name], want, "{name}");
    }
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert!(h.contains_key("x-request-id"));
    assert!(!h.contains_key("strict-transport-security"));
    // CORS is off: no allow-origin, even when asked.
    let r = c
        .http
        .get(app.url("/api/v1/exercises"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));

    let doc: Value = c.get("/api/v1/openapi.json").await.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/exercises",
        "/api/v1/exercises/{id}",
        "/api/v1/submissions",
        "/api/v1/submissions/{id}",
        "/api/v1/submissions/{id}/events",
        "/api/v1/leaderboard",
        "/api/v1/admin/queue",
        "/api/v1/admin/submissions/{id}/cancel",
        "/api/v1/admin/pause",
        "/api/v1/admin/resume",
        "/api/v1/admin/reload",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "openapi lacks {p}");
    }
    let r = c.get("/metrics").await;
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    for m in [
        "gauntlet_queue_depth",
        "gauntlet_workers_busy",
        "gauntlet_workers_live",
    ] {
        assert!(text.contains(m), "metrics lack {m}");
    }
}

#[tokio::test]
async fn cors_when_configured_and_tls_headers() {
    let app = app(|s| {
        s.cors_origins = vec!["https://learn.example".into()];
        s.behind_tls = true;
    })
    .await;
    let c = app.client();
    let get = |origin: &'static str| {
        let c = app.client();
        let url = app.url("/api/v1/exercises");
        async move {
            c.http
                .get(url)
                .header("origin", origin)
                .send()
                .await
                .unwrap()
        }
    };
    let r = get("https://learn.example").await;
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://learn.example"
    );
    assert!(r.headers().contains_key("strict-transport-security"));
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let r = get("https://evil.example").await;
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    drop(c);
}

#[tokio::test]
async fn sessions_are_signed_cookies_created_on_first_use() {
    let app = app(|_| {}).await;
    let mut c = app.client();
    let r = c.get_session("/api/v1/exercises").await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("gauntlet_session="));
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"));
    // Sent back: no new cookie.
    let r = c.get_session("/api/v1/exercises").await;
    assert!(!r.headers().contains_key("set-cookie"));
    // Tampered: a new session.
    let good = c.cookie.clone().unwrap();
    let mut bad = good.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    c.cookie = Some(bad);
    let r = c.get_session("/api/v1/exercises").await;
    assert!(r.headers().contains_key("set-cookie"));
    assert_ne!(c.cookie.as_ref(), Some(&good));
    // The generated secret is private.
    use std::os::unix::fs::MetadataExt;
    let meta =
        std::fs::metadata(app.state.settings().common.data_dir.join("sessions/secret")).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    let meta = std::fs::metadata(app.state.settings().common.data_dir.join("sessions")).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700);
}

#[tokio::test]
async fn weak_session_secret_refuses_to_start() {
    let fx = crate::fixture::Fixture::sqlite().await;
    let mut s = test_settings(&fx.dir.path().join("d"), &fx.dir.path().join("e"));
    s.session_secret = Some(SecretString::from("too-short".to_owned()));
    let exercises = fx.dir.path().join("e");
    write_package(&exercises, "echo", FILES_YAML);
    let catalog = std::sync::Arc::new(
        gauntlet_server::catalog::Catalog::load(
            &exercises,
            Default::default(),
            std::sync::Arc::new(crate::gate::ExerciseGate {
                scratch: fx.dir.path().join("s"),
                limits: Default::default(),
            }),
        )
        .unwrap(),
    );
    let r = gauntlet_server::api::AppState::new(s, fx.store.clone(), catalog, None).await;
    let err = r.err().expect("a weak secret is refused").to_string();
    assert!(err.contains("at least 32"), "{err}");
}

#[tokio::test]
async fn admin_auth_and_reload() {
    let app = app(|_| {}).await;
    let c = app.client();
    let r = c.admin(Method::GET, "/api/v1/admin/queue", None).await;
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(error_code(r, 401).await, "unauthorized");
    let r = c
        .admin(Method::GET, "/api/v1/admin/queue", Some("wrong-token"))
        .await;
    assert_eq!(error_code(r, 401).await, "unauthorized");
    let r = c
        .admin(
            Method::GET,
            "/api/v1/admin/queue",
            Some(&ADMIN[..ADMIN.len() - 1]),
        )
        .await;
    assert_eq!(error_code(r, 401).await, "unauthorized");
    let r = c
        .admin(Method::GET, "/api/v1/admin/queue", Some(ADMIN))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["paused"], Value::Null);
    // No embedded workers: nothing to pause.
    let r = c
        .admin(Method::POST, "/api/v1/admin/pause", Some(ADMIN))
        .await;
    assert_eq!(error_code(r, 409).await, "conflict");

    // Reload: a good new package is picked up.
    write_package(&app.exercises, "third", &three_yaml("third"));
    let r = c
        .admin(Method::POST, "/api/v1/admin/reload", Some(ADMIN))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["exercises"], json!(["bundle", "echo", "third"]));
    // A bad one is refused, every problem listed, and the good set stays.
    write_package(&app.exercises, "broken", "id: broken\nunknown_key: 1\n");
    write_package(&app.exercises, "mismatch", &three_yaml("other-id"));
    let r = c
        .admin(Method::POST, "/api/v1/admin/reload", Some(ADMIN))
        .await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_exercises");
    let details = v["error"]["details"].as_array().unwrap();
    assert_eq!(details.len(), 2, "{v}");
    let v: Value = c.get("/api/v1/exercises").await.json().await.unwrap();
    assert_eq!(v["exercises"].as_array().unwrap().len(), 3);
}

fn three_yaml(id: &str) -> String {
    format!(
        "id: {id}\ntitle: Third\nruntime: shell\nsubmission: files\nstarter:\n  files:\n    - path: a.sh\ntest:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: exit-code\nscoring: per-test\n"
    )
}

#[tokio::test]
async fn admin_disabled_without_a_strong_token() {
    for token in [None, Some("short-token")] {
        let app =
            app(move |s| s.admin_token = token.map(|t| SecretString::from(t.to_owned()))).await;
        let c = app.client();
        let r = c.admin(Method::GET, "/api/v1/admin/queue", token).await;
        assert_eq!(error_code(r, 401).await, "admin_disabled");
    }
}

#[tokio::test]
async fn event_streams_are_capped_per_session() {
    let app = app(|s| s.max_streams_per_session = 1).await;
    let mut c = app.client();
    let v: Value = c.submit("x", "ada").await.json().await.unwrap();
    let path = format!("/api/v1/submissions/{}/events", v["id"].as_str().unwrap());
    let first = c.get(&path).await;
    assert_eq!(first.status(), 200);
    let r = c.get(&path).await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(error_code(r, 429).await, "too_many_streams");
    // Another session may stream.
    let mut other = app.client();
    other.get_session("/api/v1/exercises").await;
    assert_eq!(other.get(&path).await.status(), 200);
    // Closing the first frees the slot.
    drop(first);
    let c_ref = &c;
    let path_ref = &path;
    eventually("stream slot freed", DEADLINE, || async move {
        let r = c_ref.get(path_ref).await;
        (r.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn header_read_timeout_closes_slow_clients() {
    let app = app(|s| s.header_timeout = Duration::from_millis(300)).await;
    let mut sock = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Never finish the headers: the server must give up on its own.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(DEADLINE, sock.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection still open past the deadline");
    let text = String::from_utf8_lossy(&buf);
    assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
}

#[tokio::test]
async fn body_read_timeout_answers_408() {
    let app = app(|s| s.body_timeout = Duration::from_millis(300)).await;
    let mut sock = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    sock.write_all(
        b"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"exercise\"",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(DEADLINE, sock.read(&mut buf))
        .await
        .expect("an answer before the deadline")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("body_timeout"), "{text}");
}

#[tokio::test]
async fn graceful_shutdown_ends_streams_and_returns() {
    let mut app = app(|_| {}).await;
    let mut c = app.client();
    let v: Value = c.submit("x", "ada").await.json().await.unwrap();
    let r = c
        .get(&format!(
            "/api/v1/submissions/{}/events",
            v["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    // The stream has begun (the queued state event).
    let first = tokio::time::timeout(DEADLINE, body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("queued"));
    app.shutdown().await;
    let rest = tokio::time::timeout(DEADLINE, async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(rest.is_ok(), "stream did not end on shutdown");
    assert!(
        tokio::net::TcpStream::connect(app.addr).await.is_err(),
        "still accepting"
    );
}

/// The OpenAPI document types the result exactly as the grader writes it: the same
/// fields, the same outcome and status values (a new field or outcome must be
/// documented, here and in docs/results.md).
#[test]
fn openapi_types_the_result_as_it_is_written() {
    use gauntlet_exercise::{export, GradeResult, Outcome, TestResult, TestStatus};
    let doc = serde_json::to_value(gauntlet_server::api::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let result = GradeResult {
        outcome: Outcome::Failed,
        score: 0,
        points: 0,
        max_points: 1,
        tests: vec![TestResult {
            name: "t".into(),
            status: TestStatus::Fail,
            message: Some("no".into()),
        }],
        log: String::new(),
        duration_ms: 1,
        // Written only for a git submission; present here so its key is compared.
        commit: Some("0".repeat(40)),
    };
    let written = serde_json::to_value(&result).unwrap();
    let mut want = keys(&written);
    want.push("reason".into()); // the service's own internal_error results
    want.sort();
    assert_eq!(keys(&schemas["GradeResultDoc"]["properties"]), want);
    let mut required: Vec<String> = schemas["GradeResultDoc"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    required.sort();
    // Every key a result always has is required; `commit` only comes with git.
    let always: Vec<String> = keys(&written)
        .into_iter()
        .filter(|k| k != "commit")
        .collect();
    assert_eq!(required, always);
    assert_eq!(
        keys(&schemas["TestResultDoc"]["properties"]),
        keys(&written["tests"][0])
    );
    let outcomes: Vec<&str> = schemas["OutcomeDoc"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(outcomes, Outcome::ALL.map(Outcome::as_str));
    for status in [
        TestStatus::Pass,
        TestStatus::Fail,
        TestStatus::Error,
        TestStatus::Skip,
    ] {
        let s = serde_json::to_value(status).unwrap();
        assert!(
            schemas["TestStatusDoc"]["enum"]
                .as_array()
                .unwrap()
                .contains(&s),
            "{s}"
        );
    }
    let exercism = serde_json::to_value(export::exercism(&result)).unwrap();
    assert_eq!(keys(&schemas["ExercismDoc"]["properties"]), keys(&exercism));
    // The submission's result points at the typed schema, not a bare object.
    let result_schema = schemas["SubmissionBody"]["properties"]["result"].to_string();
    assert!(result_schema.contains("GradeResultDoc"), "{result_schema}");
}
