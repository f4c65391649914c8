//! What the web app relies on: its pages and files with their content policy, the
//! exercise's statement and limits, the caller's own session (token, names, best scores,
//! history), and the anti-forgery check on writes a browser sends.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

crate::both_backends!(
    pages_and_assets_are_served_under_their_policy,
    statement_and_limits_of_an_exercise,
    a_session_sees_its_own_history_and_best_scores,
    browser_writes_need_this_origin_and_the_token,
);

async fn pages_and_assets_are_served_under_their_policy(db: Db) {
    let Some(app) = spawn_app(Opts::new(db)).await else {
        return;
    };
    let c = app.client();
    for page in ["/", "/leaderboard", "/exercises/echo", "/submissions/abc"] {
        let r = c.get(page).await;
        assert_eq!(r.status(), 200, "{page}");
        let h = r.headers();
        assert_eq!(h["content-type"], "text/html; charset=utf-8", "{page}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(r.text().await.unwrap().contains("/assets/app.js"));
    }
    let r = c.get("/assets/app.js").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    // Revalidation: the same file answers 304 without a body.
    let r = c
        .http
        .get(app.url("/assets/app.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // Compressed for browsers that ask, under an ETag of its own.
    let r = c
        .http
        .get(app.url("/assets/app.js"))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["vary"], "accept-encoding");
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag);
    for missing in [
        "/assets/nope.js",
        "/assets/index.html",
        "/assets/..%2fCargo.toml",
    ] {
        assert_eq!(c.get(missing).await.status(), 404, "{missing}");
    }
    // The API keeps its own policy: nothing may load from a JSON answer.
    let r = c.get("/api/v1/exercises").await;
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
}

async fn statement_and_limits_of_an_exercise(db: Db) {
    let Some(app) = spawn_app(Opts::new(db)).await else {
        return;
    };
    let c = app.client();
    let v: Value = c.get("/api/v1/exercises/echo").await.json().await.unwrap();
    assert_eq!(v["statement"], Value::Null);
    assert_eq!(v["limits"]["pids"], 64);
    assert!(v["limits"]["wall_time_ms"].as_u64().unwrap() > 0);

    std::fs::write(
        app.exercises.join("echo/statement.md"),
        "# Echo\n\nPrint `ok`:\n\n```sh\necho ok\n```\n\nSee [the manual](https://example.org/sh).\n",
    )
    .unwrap();
    let r = c
        .admin(Method::POST, "/api/v1/admin/reload", Some(ADMIN))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = c.get("/api/v1/exercises/echo").await.json().await.unwrap();
    let html = v["statement"]["html"].as_str().unwrap();
    assert!(v["statement"]["markdown"]
        .as_str()
        .unwrap()
        .starts_with("# Echo"));
    assert!(html.contains("<h1>Echo</h1>"), "{html}");
    assert!(
        html.contains("<code class=\"language-sh\">echo ok"),
        "{html}"
    );
    assert!(html.contains("rel=\"noopener noreferrer\""), "{html}");

    // A statement the app would not show as written is refused at reload, with its line.
    std::fs::write(
        app.exercises.join("echo/statement.md"),
        "# Echo\n\n<script>alert(1)</script>\n",
    )
    .unwrap();
    let r = c
        .admin(Method::POST, "/api/v1/admin/reload", Some(ADMIN))
        .await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert!(
        v.to_string().contains("statement.md: line 3: raw HTML"),
        "{v}"
    );
}

async fn a_session_sees_its_own_history_and_best_scores(db: Db) {
    let Some(app) = spawn_app(Opts::new(db).engine()).await else {
        return;
    };
    let mut ada = app.client();
    let empty: Value = ada
        .get_session("/api/v1/session")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty["display_names"], json!([]));
    assert_eq!(empty["best_scores"], json!({}));
    assert!(empty["csrf_token"].as_str().unwrap().len() >= 40);

    let mut ids = Vec::new();
    for (content, name) in [
        ("score 50", "ada"),
        ("score 100", "Ada.L"),
        ("score 0", "ada"),
    ] {
        let v: Value = ada.submit(content, name).await.json().await.unwrap();
        let id = v["id"].as_str().unwrap().to_owned();
        app.finished(&mut ada, &id).await;
        ids.push(id);
    }
    let me: Value = ada.get("/api/v1/session").await.json().await.unwrap();
    assert_eq!(me["best_scores"], json!({"echo": 100}));
    // The name used last comes last.
    assert_eq!(me["display_names"], json!(["Ada.L", "ada"]));

    let v: Value = ada
        .get("/api/v1/session/submissions")
        .await
        .json()
        .await
        .unwrap();
    let listed: Vec<&str> = v["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    let first = &v["submissions"][0];
    assert_eq!(first["outcome"], "failed");
    assert_eq!(first["score"], 0);
    assert_eq!(first["state"], "finished");
    assert_eq!(first["exercise"], "echo");

    let v: Value = ada
        .get("/api/v1/session/submissions?exercise=echo&limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["submissions"].as_array().unwrap().len(), 1);
    let v: Value = ada
        .get("/api/v1/session/submissions?exercise=bundle")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["submissions"], json!([]));
    for bad in ["limit=0", "limit=101", "limit=x", "other=1"] {
        let r = ada.get(&format!("/api/v1/session/submissions?{bad}")).await;
        assert_eq!(error_code(r, 400).await, "bad_request", "{bad}");
    }

    // Another session sees nothing of ada's.
    let mut bob = app.client();
    let v: Value = bob
        .get_session("/api/v1/session")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["best_scores"], json!({}));
    assert_eq!(v["display_names"], json!([]));
    let v: Value = bob
        .get("/api/v1/session/submissions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["submissions"], json!([]));
}

async fn browser_writes_need_this_origin_and_the_token(db: Db) {
    let Some(app) =
        spawn_app(Opts::new(db).tweak(|s| s.cors_origins = vec!["https://course.example".into()]))
            .await
    else {
        return;
    };
    let mut page = app.client();
    let me: Value = page
        .get_session("/api/v1/session")
        .await
        .json()
        .await
        .unwrap();
    let token = me["csrf_token"].as_str().unwrap().to_owned();
    let host = app.base.trim_start_matches("http://").to_owned();
    let body = json!({"exercise": "echo", "files": {"a.sh": "echo"}, "display_name": "ada"});
    let post = |headers: Vec<(&'static str, String)>| {
        let mut rb = page
            .http
            .post(app.url("/api/v1/submissions"))
            .header("cookie", page.cookie.clone().unwrap())
            .json(&body);
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        rb.send()
    };
    let same = || ("sec-fetch-site", "same-origin".to_owned());
    let tok = |t: &str| ("x-csrf-token", t.to_owned());

    // A page of this origin without the token, with another session's, or a forged one.
    let other: Value = app
        .client()
        .get_session("/api/v1/session")
        .await
        .json()
        .await
        .unwrap();
    for headers in [
        vec![same()],
        vec![same(), tok(other["csrf_token"].as_str().unwrap())],
        vec![same(), tok("AAAA")],
        vec![("origin", app.base.clone())],
    ] {
        let r = post(headers.clone()).await.unwrap();
        assert_eq!(error_code(r, 403).await, "csrf", "{headers:?}");
    }
    // Another site, even with the right token (as a leaked one would be).
    for headers in [
        vec![("sec-fetch-site", "cross-site".into()), tok(&token)],
        vec![("origin", "https://evil.example".into()), tok(&token)],
    ] {
        let r = post(headers.clone()).await.unwrap();
        assert_eq!(error_code(r, 403).await, "csrf", "{headers:?}");
    }
    // This origin with the token; a listed origin with the token; Origin alone when the
    // browser sends no Sec-Fetch-Site.
    for headers in [
        vec![same(), tok(&token)],
        vec![
            ("sec-fetch-site", "cross-site".into()),
            ("origin", "https://course.example".into()),
            tok(&token),
        ],
        vec![("origin", format!("http://{host}")), tok(&token)],
    ] {
        let r = post(headers.clone()).await.unwrap();
        assert_eq!(r.status(), 202, "{headers:?}: {}", r.text().await.unwrap());
    }
    // Not a browser: no origin headers, no token needed (nothing to forge).
    assert_eq!(page.submit("echo", "ada").await.status(), 202);
    // Reads never need it.
    let r = page
        .http
        .get(app.url("/api/v1/session"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
