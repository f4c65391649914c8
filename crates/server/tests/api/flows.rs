//! End-to-end flows on both back ends: exercises, submit -> grade -> result, the event
//! stream and its resumption, the leaderboard, admin queue/cancel/pause, readiness and
//! the per-session and queue-wide caps.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::Value;

use crate::common::*;
use crate::fixture::eventually;

crate::both_backends!(
    exercises_catalogue,
    submit_grade_and_leaderboard,
    result_exports,
    event_stream_and_resume,
    secrets_never_reach_event_streams,
    admin_queue_cancel_pause,
    readiness_needs_workers,
    session_active_cap,
    queue_cap_is_busy,
);

async fn exercises_catalogue(db: Db) {
    let Some(app) = spawn_app(Opts::new(db)).await else {
        return;
    };
    let c = app.client();
    let r = c.get("/api/v1/exercises").await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let list = v["exercises"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[1],
        serde_json::json!({"id": "echo", "title": "Echo", "runtime": "shell", "submission": "files", "available": true})
    );
    assert_eq!(list[0]["submission"], "archive");

    let v: Value = c.get("/api/v1/exercises/echo").await.json().await.unwrap();
    assert_eq!(v["starter_files"][0]["path"], "a.sh");
    assert_eq!(v["starter_files"][0]["content"], "echo starter\n");
    assert_eq!(v["starter_files"][0]["max_bytes"], 1024);
    assert_eq!(v["version"].as_str().unwrap().len(), 64);

    let code = error_code(c.get("/api/v1/exercises/nope").await, 404).await;
    assert_eq!(code, "exercise_not_found");
}

async fn result_exports(db: Db) {
    let Some(app) = spawn_app(Opts::new(db).engine()).await else {
        return;
    };
    let mut ada = app.client();
    let v: Value = ada.submit("score 50", "ada").await.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/submissions/{id}");
    // Before the result exists, an export is a 409 (or, if the grade was quick, fine).
    let early = ada.get(&format!("{path}?format=junit")).await;
    assert!(
        [200, 409].contains(&early.status().as_u16()),
        "{}",
        early.status()
    );
    if early.status() == 409 {
        assert_eq!(error_code(early, 409).await, "conflict");
    }
    app.finished(&mut ada, &id).await;

    let r = ada.get(&format!("{path}?format=exercism")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["version"], 3);
    assert_eq!(doc["status"], "fail");
    assert!(doc["message"].is_null());
    assert_eq!(doc["tests"][0]["name"], "t");
    assert_eq!(doc["tests"][0]["status"], "fail");

    let r = ada.get(&format!("{path}?format=junit")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    let xml = r.text().await.unwrap();
    let tests = gauntlet_exercise::parse_junit(xml.as_bytes()).unwrap();
    assert_eq!(tests.len(), 1, "{xml}");
    assert_eq!(tests[0].name, "echo.t");
    assert_eq!(tests[0].status, gauntlet_exercise::TestStatus::Fail);

    // json is the default, spelled out or not.
    let a: Value = ada.get(&path).await.json().await.unwrap();
    let b: Value = ada
        .get(&format!("{path}?format=json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a["result"]["score"], 50);

    let r = ada.get(&format!("{path}?format=xml")).await;
    assert_eq!(error_code(r, 400).await, "bad_request");
    let r = ada.get(&format!("{path}?colour=blue")).await;
    assert_eq!(error_code(r, 400).await, "bad_request");
}

async fn submit_grade_and_leaderboard(db: Db) {
    let Some(app) = spawn_app(Opts::new(db).engine()).await else {
        return;
    };
    let mut ada = app.client();
    let mut bob = app.client();

    let r = ada.submit("score 50", "ada").await;
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["state"], "queued");
    let first = v["id"].as_str().unwrap().to_owned();
    assert_eq!(loc, format!("/api/v1/submissions/{first}"));

    let done = app.finished(&mut ada, &first).await;
    assert_eq!(done["exercise"], "echo");
    assert_eq!(done["result"]["score"], 50);
    assert_eq!(done["result"]["outcome"], "failed");
    assert_eq!(done["result"]["tests"][0]["status"], "fail");

    // Best score wins; on a tie the earlier submission stays.
    let best: Value = ada.submit("score 100", "ada").await.json().await.unwrap();
    let best = best["id"].as_str().unwrap().to_owned();
    app.finished(&mut ada, &best).await;
    let later: Value = ada.submit("score 100", "ada").await.json().await.unwrap();
    app.finished(&mut ada, later["id"].as_str().unwrap()).await;
    let b: Value = bob.submit("score 100", "bob").await.json().await.unwrap();
    app.finished(&mut bob, b["id"].as_str().unwrap()).await;

    let v: Value = ada.get("/api/v1/leaderboard").await.json().await.unwrap();
    let rows = v["entries"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    let ada_row = rows.iter().find(|r| r["display_name"] == "ada").unwrap();
    assert_eq!(ada_row["score"], 100);
    assert_eq!(ada_row["submission_id"], best.as_str());
    assert_eq!(ada_row["exercise"], "echo");
    // ada reached 100 before bob: first place.
    assert_eq!(rows[0]["display_name"], "ada");

    let v: Value = ada
        .get("/api/v1/leaderboard?exercise=bundle")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["entries"].as_array().unwrap().len(), 0);
    // The metered executor fed the metrics.
    let text = ada.get("/metrics").await.text().await.unwrap();
    for want in [
        r#"gauntlet_outcomes_total{exercise="echo",outcome="passed"}"#,
        r#"gauntlet_outcomes_total{exercise="echo",outcome="failed"}"#,
        r#"gauntlet_run_duration_seconds_count{exercise="echo"}"#,
        "gauntlet_queue_wait_seconds_count",
        r#"gauntlet_submissions_total{exercise="echo"}"#,
    ] {
        assert!(text.contains(want), "metrics lack {want}");
    }
    let code = error_code(ada.get("/api/v1/leaderboard?bogus=1").await, 400).await;
    assert_eq!(code, "bad_request");

    // Unknown ids.
    let code = error_code(
        ada.get("/api/v1/submissions/0190b6d2-0000-7000-8000-000000000000")
            .await,
        404,
    )
    .await;
    assert_eq!(code, "submission_not_found");
    let code = error_code(ada.get("/api/v1/submissions/not-a-uuid").await, 404).await;
    assert_eq!(code, "submission_not_found");
}

/// One parsed Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: i64,
    pub event: String,
    pub data: Value,
}

/// Reads a whole event stream (it ends after the result); fails past the deadline.
pub async fn read_events(r: reqwest::Response) -> Vec<Sse> {
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = r.bytes_stream();
    let mut text = String::new();
    tokio::time::timeout(DEADLINE, async {
        while let Some(chunk) = body.next().await {
            text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
    })
    .await
    .expect("event stream ends after the result");
    parse_events(&text)
}

pub fn parse_events(text: &str) -> Vec<Sse> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let (mut id, mut event, mut data) = (None, None, None);
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data = serde_json::from_str(v.trim()).ok();
            }
        }
        if let (Some(id), Some(event), Some(data)) = (id, event, data) {
            out.push(Sse { id, event, data });
        }
    }
    out
}

async fn event_stream_and_resume(db: Db) {
    let Some(app) = spawn_app(Opts::new(db).engine()).await else {
        return;
    };
    let mut c = app.client();
    let v: Value = c
        .submit("hold score 100", "ada")
        .await
        .json()
        .await
        .unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/submissions/{id}/events");
    let stream = c.get(&path).await;
    // The job is held running until released: the stream is live, not a replay.
    let c_ref = &c;
    let id_ref = &id;
    eventually("running", DEADLINE, || async move {
        let v: Value = c_ref
            .get(&format!("/api/v1/submissions/{id_ref}"))
            .await
            .json()
            .await
            .ok()?;
        (v["state"] == "running").then_some(())
    })
    .await;
    app.gate.add_permits(1);
    let events = read_events(stream).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"state"));
    assert_eq!(events[0].data["state"], "queued");
    assert!(
        events
            .iter()
            .any(|e| e.event == "state" && e.data["state"] == "running"),
        "{kinds:?}"
    );
    let log = events
        .iter()
        .find(|e| e.event == "log")
        .unwrap_or_else(|| panic!("no log event in {events:?}"));
    assert_eq!(log.data["text"], "[test] grading echo");
    assert_eq!(kinds.last(), Some(&"result"));
    assert_eq!(events.last().unwrap().data["score"], 100);
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "{ids:?}");

    // Resume after the second event: exactly the rest.
    let r = c
        .http
        .get(app.url(&path))
        .header("last-event-id", ids[1].to_string())
        .send()
        .await
        .unwrap();
    let rest = read_events(r).await;
    assert_eq!(
        rest.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[2..].to_vec()
    );
    // Resume after the result: the stream closes at once, empty.
    let r = c
        .http
        .get(app.url(&path))
        .header("last-event-id", ids.last().unwrap().to_string())
        .send()
        .await
        .unwrap();
    assert!(read_events(r).await.is_empty());
    // Unknown submission.
    let code = error_code(
        c.get("/api/v1/submissions/0190b6d2-0000-7000-8000-000000000000/events")
            .await,
        404,
    )
    .await;
    assert_eq!(code, "submission_not_found");
}

async fn secrets_never_reach_event_streams(db: Db) {
    let Some(app) = spawn_app(Opts::new(db).engine()).await else {
        return;
    };
    let mut c = app.client();
    let v: Value = c
        .submit("leak score 100", "ada")
        .await
        .json()
        .await
        .unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    let events = read_events(c.get(&format!("/api/v1/submissions/{id}/events")).await).await;
    let logs: Vec<String> = events
        .iter()
        .filter(|e| e.event == "log")
        .map(|e| e.data["line"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        logs.iter().any(|l| l == "token=[redacted]"),
        "{logs:?} {events:?}"
    );
    assert!(!format!("{events:?}").contains(ADMIN));
}

async fn admin_queue_cancel_pause(db: Db) {
    let Some(app) = spawn_app(Opts::new(db).engine()).await else {
        return;
    };
    let mut c = app.client();
    let admin = |m: Method, p: &'static str| {
        let c = app.client();
        async move { c.admin(m, p, Some(ADMIN)).await }
    };
    // A running job, held.
    let v: Value = c.submit("hold", "ada").await.json().await.unwrap();
    let running = v["id"].as_str().unwrap().to_owned();
    let c_ref = &c;
    let running_ref = &running;
    eventually("running", DEADLINE, || async move {
        let v: Value = c_ref
            .get(&format!("/api/v1/submissions/{running_ref}"))
            .await
            .json()
            .await
            .ok()?;
        (v["state"] == "running").then_some(())
    })
    .await;

    // Pause: a new submission stays queued.
    let v: Value = admin(Method::POST, "/api/v1/admin/pause")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["paused"], true);
    let v: Value = c.submit("score 100", "ada").await.json().await.unwrap();
    let queued = v["id"].as_str().unwrap().to_owned();

    // A claim that was already in flight when pause() returned is handed straight back
    // (nothing starts after a pause), so the view settles at one queued, one running.
    let admin_ref = &admin;
    let v: Value = eventually("one queued, one running", DEADLINE, || async move {
        let v: Value = admin_ref(Method::GET, "/api/v1/admin/queue")
            .await
            .json()
            .await
            .ok()?;
        ((v["queued"].as_u64(), v["running"].as_u64()) == (Some(1), Some(1))).then_some(v)
    })
    .await;
    assert_eq!(v["paused"], true);
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(jobs
        .iter()
        .any(|j| j["id"] == running.as_str() && j["state"] == "running"));

    // Cancel the running one: its worker stops it; it finishes with internal_error.
    let c2 = app.client();
    let r = c2
        .admin(
            Method::POST,
            &format!("/api/v1/admin/submissions/{running}/cancel"),
            Some(ADMIN),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outcome"], "requested");
    let done = app.finished(&mut c, &running).await;
    assert_eq!(done["result"]["outcome"], "internal_error");

    // Resume: the queued one is graded.
    let v: Value = admin(Method::POST, "/api/v1/admin/resume")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["paused"], false);
    let done = app.finished(&mut c, &queued).await;
    assert_eq!(done["result"]["score"], 100);

    // Cancel a queued one (paused again so it stays queued), then again, then unknown.
    admin(Method::POST, "/api/v1/admin/pause").await;
    let v: Value = c.submit("score 100", "ada").await.json().await.unwrap();
    let q = v["id"].as_str().unwrap().to_owned();
    let cancel = |id: String| {
        let c = app.client();
        async move {
            c.admin(
                Method::POST,
                &format!("/api/v1/admin/submissions/{id}/cancel"),
                Some(ADMIN),
            )
            .await
        }
    };
    let v: Value = cancel(q.clone()).await.json().await.unwrap();
    assert_eq!(v["outcome"], "cancelled");
    let v: Value = cancel(q.clone()).await.json().await.unwrap();
    assert_eq!(v["outcome"], "already_finished");
    let done = app.finished(&mut c, &q).await;
    assert_eq!(done["result"]["outcome"], "internal_error");
    let code = error_code(
        cancel("0190b6d2-0000-7000-8000-000000000000".into()).await,
        404,
    )
    .await;
    assert_eq!(code, "submission_not_found");
}

async fn readiness_needs_workers(db: Db) {
    let Some(app) = spawn_app(Opts::new(db)).await else {
        return;
    };
    let c = app.client();
    let r = c.get("/readyz").await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(error_code(r, 503).await, "not_ready");
    let r = c.get("/healthz").await;
    assert_eq!(r.status(), 200);

    let Some(app) = spawn_app(Opts::new(db).engine()).await else {
        return;
    };
    let v: Value = app.client().get("/readyz").await.json().await.unwrap();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["workers"], 1);
}

async fn session_active_cap(db: Db) {
    let Some(app) = spawn_app(Opts::new(db).tweak(|s| s.max_active_per_session = 2)).await else {
        return;
    };
    let mut c = app.client();
    for _ in 0..2 {
        assert_eq!(c.submit("x", "ada").await.status(), 202);
    }
    let r = c.submit("x", "ada").await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(error_code(r, 429).await, "too_many_active_submissions");
    // Concurrent requests of one session cannot race past the cap.
    let mut racer = app.client();
    racer.get_session("/api/v1/exercises").await;
    let cookie = racer.cookie.clone().unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let mut c = app.client();
        c.cookie = Some(cookie.clone());
        tasks.push(tokio::spawn(async move {
            c.submit("x", &format!("r{i}")).await.status().as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort();
    assert_eq!(codes, [202, 202, 429, 429, 429, 429, 429, 429]);
    // Another session is not affected.
    let mut other = app.client();
    assert_eq!(other.submit("x", "bob").await.status(), 202);
}

async fn queue_cap_is_busy(db: Db) {
    let Some(app) = spawn_app(Opts::new(db).tweak(|s| {
        s.max_queue = 2;
        s.busy_retry_after = 7;
    }))
    .await
    else {
        return;
    };
    for name in ["a1", "a2"] {
        assert_eq!(app.client().submit("x", name).await.status(), 202);
    }
    let r = app.client().submit("x", "a3").await;
    assert_eq!(r.headers()["retry-after"], "7");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "busy");
    assert_eq!(v["error"]["message"], "busy, retry shortly");
    let _ = Duration::ZERO;
}
