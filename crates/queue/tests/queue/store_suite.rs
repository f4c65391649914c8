//! Store transitions: lifecycle, claims, leases, fencing, cancel, versions, events,
//! leaderboard and counts.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gauntlet_queue::store::{
    now_ms, AttemptOutcome, CancelOutcome, EventKind, HeldLease, Lease, StoreError, SubmissionId,
    SubmissionState,
};
use serde_json::json;

use crate::fixture::{eventually, new_submission, Fixture};

const H1: &str = "hash-v1";
const LEASE: Duration = Duration::from_secs(10);

fn hashes(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| s.to_string()).collect()
}

crate::suite!(
    lifecycle,
    duplicate_id_is_rejected,
    claims_oldest_first_and_only_known_versions,
    claim_many_takes_the_oldest_in_order,
    concurrent_claims_take_each_job_once,
    expired_lease_requeues_with_attempts_plus_one,
    max_attempts_finishes_with_internal_error,
    zombie_result_is_rejected,
    release_requeues_without_counting_the_attempt,
    cancel_queued_running_finished_missing,
    unservable_versions_fail_with_a_reason,
    events_are_numbered_in_order,
    leaderboard_best_score_earliest_wins_ties,
    counts_for_caps,
    display_names_belong_to_the_first_session,
    job_signal_wakes_other_handles,
    workers_registry,
    host_failures_retry_later_then_give_up_with_every_reason,
    a_lost_lease_and_a_host_failure_both_count,
    a_cancel_pending_at_a_host_failure_is_final,
    log_batches_keep_their_order,
);

async fn lifecycle(fx: &Fixture) {
    let s = &fx.store;
    let t0 = now_ms();
    let new = new_submission(H1, json!({"files": {}}));
    let id = new.id.clone();
    s.create_submission(new, t0).await.unwrap();

    let sub = s.get_submission(&id).await.unwrap().unwrap();
    assert_eq!(sub.state, SubmissionState::Queued);
    assert_eq!((sub.attempts, sub.max_attempts), (0, 3));
    assert_eq!(sub.created_at, t0);
    assert_eq!(sub.result, None);

    let job = s
        .claim("w1", &hashes(&[H1]), LEASE, t0 + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.id, id);
    assert_eq!((job.attempt, job.fencing_token), (1, 1));
    assert_eq!(job.lease_expires_at, t0 + 1 + 10_000);
    assert_eq!(job.payload, br#"{"files":{}}"#);
    let sub = s.get_submission(&id).await.unwrap().unwrap();
    assert_eq!(sub.state, SubmissionState::Running);
    assert_eq!(sub.worker_id.as_deref(), Some("w1"));
    assert_eq!(sub.started_at, Some(t0 + 1));
    assert!(s
        .claim("w1", &hashes(&[H1]), LEASE, t0 + 1)
        .await
        .unwrap()
        .is_none());

    assert_eq!(
        s.renew_lease(&id, 1, LEASE, t0 + 2).await.unwrap(),
        Lease::Renewed {
            cancel_requested: false
        }
    );
    let result = json!({"outcome": "passed", "score": 100, "points": 1, "max_points": 1,
                        "tests": [], "log": "", "duration_ms": 5});
    s.finish(&id, 1, &result, t0 + 3).await.unwrap();
    let sub = s.get_submission(&id).await.unwrap().unwrap();
    assert_eq!(sub.state, SubmissionState::Finished);
    assert_eq!(sub.result.as_ref(), Some(&result));
    assert_eq!(sub.finished_at, Some(t0 + 3));

    // One result, ever: the same token cannot write again.
    let again = s
        .finish(&id, 1, &json!({"outcome": "failed"}), t0 + 4)
        .await;
    assert!(matches!(again, Err(StoreError::LeaseLost(_))), "{again:?}");
    assert_eq!(
        s.renew_lease(&id, 1, LEASE, t0 + 5).await.unwrap(),
        Lease::Lost
    );

    let events = s.events_after(&id, 0, 100).await.unwrap();
    let shape: Vec<(i64, EventKind)> = events.iter().map(|e| (e.seq, e.kind)).collect();
    assert_eq!(
        shape,
        [
            (1, EventKind::State),
            (2, EventKind::State),
            (3, EventKind::Result)
        ]
    );
    assert_eq!(events[0].data, json!({"state": "queued"}));
    assert_eq!(events[1].data, json!({"state": "running", "attempt": 1}));
    assert_eq!(events[2].data, result);
    assert!(s
        .get_submission(&SubmissionId::new())
        .await
        .unwrap()
        .is_none());
}

async fn duplicate_id_is_rejected(fx: &Fixture) {
    let new = new_submission(H1, json!({}));
    fx.store
        .create_submission(new.clone(), now_ms())
        .await
        .unwrap();
    let err = fx.store.create_submission(new, now_ms()).await;
    assert!(matches!(err, Err(StoreError::Duplicate(_))), "{err:?}");
}

async fn claims_oldest_first_and_only_known_versions(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    let old_v2 = new_submission("hash-v2", json!({}));
    let a = new_submission(H1, json!({}));
    let b = new_submission(H1, json!({}));
    s.create_submission(old_v2.clone(), t).await.unwrap();
    s.create_submission(b.clone(), t + 2).await.unwrap();
    s.create_submission(a.clone(), t + 1).await.unwrap();

    let first = s
        .claim("w", &hashes(&[H1]), LEASE, t + 3)
        .await
        .unwrap()
        .unwrap();
    let second = s
        .claim("w", &hashes(&[H1]), LEASE, t + 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.id, second.id), (a.id, b.id));
    // The v2 job is left for a worker that holds v2.
    assert!(s
        .claim("w", &hashes(&[H1]), LEASE, t + 3)
        .await
        .unwrap()
        .is_none());
    assert!(s.claim("w", &[], LEASE, t + 3).await.unwrap().is_none());
    let v2 = s
        .claim("w2", &hashes(&[H1, "hash-v2"]), LEASE, t + 3)
        .await
        .unwrap();
    assert_eq!(v2.unwrap().id, old_v2.id);
}

async fn claim_many_takes_the_oldest_in_order(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    let mut ids = Vec::new();
    for i in 0..5 {
        let new = new_submission(H1, json!({}));
        ids.push(new.id.clone());
        s.create_submission(new, t + i).await.unwrap();
    }
    let jobs = s
        .claim_many("w", &hashes(&[H1]), LEASE, t + 10, 3)
        .await
        .unwrap();
    let got: Vec<&SubmissionId> = jobs.iter().map(|j| &j.id).collect();
    assert_eq!(got, ids[..3].iter().collect::<Vec<_>>());
    assert!(jobs.iter().all(|j| j.attempt == 1 && j.fencing_token == 1));
    let rest = s
        .claim_many("w", &hashes(&[H1]), LEASE, t + 10, 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    assert!(s
        .claim_many("w", &hashes(&[H1]), LEASE, t + 10, 10)
        .await
        .unwrap()
        .is_empty());
    for id in &ids {
        let events = s.events_after(id, 0, 10).await.unwrap();
        assert_eq!(events.last().unwrap().data["state"], "running");
    }
}

async fn concurrent_claims_take_each_job_once(fx: &Fixture) {
    const JOBS: usize = 200;
    const CLAIMERS: usize = 12;
    let s = fx.store.clone();
    let mut ids = HashSet::new();
    for _ in 0..JOBS {
        let new = new_submission(H1, json!({}));
        ids.insert(new.id.clone());
        s.create_submission(new, now_ms()).await.unwrap();
    }
    let claimed: Arc<Mutex<Vec<SubmissionId>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..CLAIMERS {
        let s = s.clone();
        let claimed = claimed.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("w{w}");
            loop {
                match s
                    .claim(&worker, &hashes(&[H1]), LEASE, now_ms())
                    .await
                    .unwrap()
                {
                    Some(job) => {
                        claimed.lock().unwrap().push(job.id.clone());
                        let result = json!({"outcome": "passed", "score": 100, "by": worker});
                        s.finish(&job.id, job.fencing_token, &result, now_ms())
                            .await
                            .unwrap();
                    }
                    None => {
                        let c = s.queue_counts().await.unwrap();
                        if c.queued == 0 {
                            return;
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let claimed = claimed.lock().unwrap().clone();
    assert_eq!(claimed.len(), JOBS, "a job was claimed twice or not at all");
    let unique: HashSet<SubmissionId> = claimed.into_iter().collect();
    assert_eq!(unique, ids);
    for id in &ids {
        let sub = s.get_submission(id).await.unwrap().unwrap();
        assert_eq!(sub.state, SubmissionState::Finished);
        assert_eq!(sub.attempts, 1);
        let results = s
            .events_after(id, 0, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == EventKind::Result)
            .count();
        assert_eq!(results, 1);
    }
}

async fn expired_lease_requeues_with_attempts_plus_one(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    let new = new_submission(H1, json!({}));
    let id = new.id.clone();
    s.create_submission(new, t).await.unwrap();
    let job = s
        .claim("dead", &hashes(&[H1]), LEASE, t)
        .await
        .unwrap()
        .unwrap();

    // Not yet expired.
    let r = s.sweep_expired(t + 9_999).await.unwrap();
    assert!(r.requeued.is_empty() && r.failed.is_empty());
    assert_eq!(
        s.held_leases(t + 9_999).await.unwrap(),
        [HeldLease {
            id: id.clone(),
            fencing_token: job.fencing_token
        }]
    );

    let r = s.sweep_expired(t + 10_001).await.unwrap();
    assert_eq!(r.requeued, std::slice::from_ref(&id));
    assert!(s.held_leases(t + 10_001).await.unwrap().is_empty());
    let sub = s.get_submission(&id).await.unwrap().unwrap();
    assert_eq!(sub.state, SubmissionState::Queued);
    assert_eq!(sub.worker_id, None);

    let again = s
        .claim("alive", &hashes(&[H1]), LEASE, t + 10_002)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempt, 2);
    assert_eq!(again.fencing_token, job.fencing_token + 1);
    let kinds: Vec<serde_json::Value> = s
        .events_after(&id, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.data["state"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            json!("queued"),
            json!("running"),
            json!("queued"),
            json!("running")
        ]
    );
}

async fn max_attempts_finishes_with_internal_error(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    let mut new = new_submission(H1, json!({}));
    new.max_attempts = 2;
    let id = new.id.clone();
    s.create_submission(new, t).await.unwrap();
    s.claim("w", &hashes(&[H1]), LEASE, t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.sweep_expired(t + 20_000).await.unwrap().requeued,
        std::slice::from_ref(&id)
    );
    let j2 = s
        .claim("w", &hashes(&[H1]), LEASE, t + 20_001)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j2.attempt, 2);
    let r = s.sweep_expired(t + 40_000).await.unwrap();
    assert_eq!(r.failed, std::slice::from_ref(&id));
    assert!(r.requeued.is_empty());

    let sub = s.get_submission(&id).await.unwrap().unwrap();
    assert_eq!(sub.state, SubmissionState::Finished);
    let result = sub.result.unwrap();
    assert_eq!(result["outcome"], "internal_error");
    let reason = result["reason"].as_str().unwrap();
    assert!(reason.contains("lease expired on attempt 2"), "{reason}");
    assert!(s
        .claim("w", &hashes(&[H1]), LEASE, t + 40_001)
        .await
        .unwrap()
        .is_none());
    // A given-up job does not reach the leaderboard.
    assert!(s.leaderboard(None).await.unwrap().is_empty());
}

async fn zombie_result_is_rejected(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    let new = new_submission(H1, json!({}));
    let id = new.id.clone();
    s.create_submission(new, t).await.unwrap();
    let zombie = s
        .claim("a", &hashes(&[H1]), LEASE, t)
        .await
        .unwrap()
        .unwrap();
    s.sweep_expired(t + 60_000).await.unwrap();

    // Requeued but not yet reclaimed: the old holder still cannot write.
    let early = s
        .finish(
            &id,
            zombie.fencing_token,
            &json!({"outcome": "passed", "score": 100}),
            t + 60_001,
        )
        .await;
    assert!(matches!(early, Err(StoreError::LeaseLost(_))), "{early:?}");

    let live = s
        .claim("b", &hashes(&[H1]), LEASE, t + 60_002)
        .await
        .unwrap()
        .unwrap();
    let late = s
        .finish(
            &id,
            zombie.fencing_token,
            &json!({"outcome": "passed", "score": 100}),
            t + 60_003,
        )
        .await;
    assert!(matches!(late, Err(StoreError::LeaseLost(_))), "{late:?}");
    assert_eq!(
        s.renew_lease(&id, zombie.fencing_token, LEASE, t + 60_003)
            .await
            .unwrap(),
        Lease::Lost
    );
    let release = s.release(&id, zombie.fencing_token, t + 60_003).await;
    assert!(
        matches!(release, Err(StoreError::LeaseLost(_))),
        "{release:?}"
    );

    let good = json!({"outcome": "failed", "score": 40});
    s.finish(&id, live.fencing_token, &good, t + 60_004)
        .await
        .unwrap();
    let after = s
        .finish(
            &id,
            zombie.fencing_token,
            &json!({"outcome": "passed", "score": 100}),
            t + 60_005,
        )
        .await;
    assert!(matches!(after, Err(StoreError::LeaseLost(_))), "{after:?}");
    let sub = s.get_submission(&id).await.unwrap().unwrap();
    assert_eq!(sub.result, Some(good));
    assert_eq!(sub.worker_id.as_deref(), Some("b"));
}

async fn release_requeues_without_counting_the_attempt(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    let new = new_submission(H1, json!({}));
    let id = new.id.clone();
    s.create_submission(new, t).await.unwrap();
    let job = s
        .claim("w", &hashes(&[H1]), LEASE, t)
        .await
        .unwrap()
        .unwrap();
    s.release(&id, job.fencing_token, t + 1).await.unwrap();
    let sub = s.get_submission(&id).await.unwrap().unwrap();
    assert_eq!((sub.state, sub.attempts), (SubmissionState::Queued, 0));
    let again = s
        .claim("w", &hashes(&[H1]), LEASE, t + 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempt, 1);
    assert_eq!(again.fencing_token, job.fencing_token + 1);
}

async fn cancel_queued_running_finished_missing(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    let queued = new_submission(H1, json!({}));
    let running = new_submission(H1, json!({}));
    s.create_submission(queued.clone(), t).await.unwrap();
    s.create_submission(running.clone(), t + 1).await.unwrap();
    // The older one is claimed (running); the other stays queued.
    let job = s
        .claim("w", &hashes(&[H1]), LEASE, t + 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.id, queued.id);
    let (run_id, queued_id) = (job.id.clone(), running.id.clone());

    assert_eq!(
        s.cancel(&queued_id, "by admin", t + 4).await.unwrap(),
        CancelOutcome::Cancelled
    );
    let sub = s.get_submission(&queued_id).await.unwrap().unwrap();
    assert_eq!(sub.state, SubmissionState::Finished);
    assert_eq!(sub.result.unwrap()["outcome"], "internal_error");
    assert_eq!(
        s.cancel(&queued_id, "again", t + 5).await.unwrap(),
        CancelOutcome::AlreadyFinished
    );

    assert_eq!(
        s.cancel(&run_id, "by admin", t + 5).await.unwrap(),
        CancelOutcome::Requested
    );
    assert!(
        s.get_submission(&run_id)
            .await
            .unwrap()
            .unwrap()
            .cancel_requested
    );
    assert_eq!(
        s.renew_lease(&run_id, job.fencing_token, LEASE, t + 6)
            .await
            .unwrap(),
        Lease::Renewed {
            cancel_requested: true
        }
    );
    assert_eq!(
        s.cancel(&SubmissionId::new(), "x", t).await.unwrap(),
        CancelOutcome::NotFound
    );
    // Its worker dies before seeing the request: the sweep finishes it as cancelled
    // instead of running it again.
    let swept = s.sweep_expired(t + 3_600_000).await.unwrap();
    assert_eq!(swept.failed, std::slice::from_ref(&run_id));
    let result = s
        .get_submission(&run_id)
        .await
        .unwrap()
        .unwrap()
        .result
        .unwrap();
    assert!(
        result["reason"].as_str().unwrap().starts_with("cancelled"),
        "{result}"
    );
    assert!(s
        .claim("w", &hashes(&[H1]), LEASE, t + 7)
        .await
        .unwrap()
        .is_none());
}

async fn unservable_versions_fail_with_a_reason(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    s.register_worker("w-v1", &hashes(&[H1]), t).await.unwrap();
    let servable = new_submission(H1, json!({}));
    let orphan = new_submission("hash-gone", json!({}));
    let young = new_submission("hash-gone", json!({}));
    s.create_submission(servable.clone(), t).await.unwrap();
    s.create_submission(orphan.clone(), t).await.unwrap();
    s.create_submission(young.clone(), t + 1_000).await.unwrap();

    let failed = s
        .fail_unservable(t + 500, t - 30_000, t + 1_001)
        .await
        .unwrap();
    assert_eq!(failed, std::slice::from_ref(&orphan.id));
    let result = s
        .get_submission(&orphan.id)
        .await
        .unwrap()
        .unwrap()
        .result
        .unwrap();
    assert_eq!(result["outcome"], "internal_error");
    assert!(result["reason"].as_str().unwrap().contains("hash-gone"));
    for id in [&servable.id, &young.id] {
        assert_eq!(
            s.get_submission(id).await.unwrap().unwrap().state,
            SubmissionState::Queued
        );
    }
    // A worker that is no longer live does not count.
    let failed = s
        .fail_unservable(t + 2_000, t + 1, t + 2_001)
        .await
        .unwrap();
    let mut expected = vec![servable.id.clone(), young.id.clone()];
    expected.sort();
    let mut failed = failed;
    failed.sort();
    assert_eq!(failed, expected);
}

async fn events_are_numbered_in_order(fx: &Fixture) {
    let s = fx.store.clone();
    let t = now_ms();
    let new = new_submission(H1, json!({}));
    let id = new.id.clone();
    s.create_submission(new, t).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..25 {
                let data = json!({"stream": "test", "line": format!("{w}-{i}")});
                seqs.push(
                    s.append_event(&id, EventKind::Log, &data, t + i)
                        .await
                        .unwrap(),
                );
            }
            seqs
        }));
    }
    let mut per_task_increasing = true;
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.unwrap();
        per_task_increasing &= seqs.windows(2).all(|w| w[0] < w[1]);
        all.extend(seqs);
    }
    assert!(per_task_increasing);
    all.sort();
    assert_eq!(
        all,
        (2..=101).collect::<Vec<i64>>(),
        "seqs are 2..=101 with no gap or repeat"
    );

    let events = s.events_after(&id, 0, 1000).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=101).collect::<Vec<_>>()
    );
    // SSE resume: Last-Event-ID 40 continues at 41; limits page.
    let page = s.events_after(&id, 40, 10).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (41..=50).collect::<Vec<_>>()
    );
    assert!(s.events_after(&id, 101, 10).await.unwrap().is_empty());
}

async fn leaderboard_best_score_earliest_wins_ties(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    // Each name belongs to the session that claims it first; "mallory" submits under
    // alice's name too, and does not appear.
    let finish_as = |session: &'static str,
                     name: &'static str,
                     exercise: &'static str,
                     at: i64,
                     result: serde_json::Value| {
        let s = s.clone();
        async move {
            s.claim_display_name(name, session, at).await.unwrap();
            let mut new = new_submission(H1, json!({}));
            new.session_id = session.into();
            new.display_name = name.into();
            new.exercise_id = exercise.into();
            let id = new.id.clone();
            s.create_submission(new, at).await.unwrap();
            let job = s
                .claim("w", &hashes(&[H1]), LEASE, at)
                .await
                .unwrap()
                .unwrap();
            s.finish(&job.id, job.fencing_token, &result, at)
                .await
                .unwrap();
            id
        }
    };
    let finish =
        |name: &'static str, exercise: &'static str, at: i64, result: serde_json::Value| {
            finish_as(name, name, exercise, at, result)
        };
    let score = |n: i64| json!({"outcome": if n == 100 {"passed"} else {"failed"}, "score": n});
    finish("alice", "ex-a", t, score(50)).await;
    finish_as("mallory", "Alice", "ex-a", t, score(100)).await;
    let alice_best = finish("alice", "ex-a", t + 1, score(80)).await;
    finish("alice", "ex-a", t + 2, score(80)).await;
    let bob_best = finish("bob", "ex-a", t + 3, score(80)).await;
    let carol = finish("carol", "ex-a", t + 4, score(100)).await;
    finish("dave", "ex-a", t + 5, internal_error()).await;
    let alice_b = finish("alice", "ex-b", t + 6, score(10)).await;

    let board = s.leaderboard(Some("ex-a")).await.unwrap();
    let rows: Vec<(&str, i64, &SubmissionId)> = board
        .iter()
        .map(|e| (e.display_name.as_str(), e.score, &e.submission_id))
        .collect();
    assert_eq!(
        rows,
        [
            ("carol", 100, &carol),
            ("alice", 80, &alice_best),
            ("bob", 80, &bob_best)
        ]
    );
    let all = s.leaderboard(None).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[3].submission_id, alice_b);
    assert!(s.leaderboard(Some("nope")).await.unwrap().is_empty());
}

fn internal_error() -> serde_json::Value {
    gauntlet_queue::store::internal_error_result("boom")
}

async fn counts_for_caps(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    for (i, session) in ["s1", "s1", "s1", "s2"].into_iter().enumerate() {
        let mut new = new_submission(H1, json!({}));
        new.session_id = session.into();
        s.create_submission(new, t + i as i64).await.unwrap();
    }
    s.claim("w", &hashes(&[H1]), LEASE, t + 10)
        .await
        .unwrap()
        .unwrap();
    let c = s.queue_counts().await.unwrap();
    assert_eq!((c.queued, c.running), (3, 1));
    let c = s.session_counts("s1").await.unwrap();
    assert_eq!((c.queued, c.running), (2, 1));
    let c = s.session_counts("nobody").await.unwrap();
    assert_eq!((c.queued, c.running), (0, 0));
    let active = s.list_active(100).await.unwrap();
    assert_eq!(active.len(), 4);
    assert_eq!(active[0].state, SubmissionState::Running);
    assert!(active
        .windows(2)
        .all(|w| w[0].created_at <= w[1].created_at));
    assert_eq!(s.list_active(2).await.unwrap().len(), 2);
}

async fn display_names_belong_to_the_first_session(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    assert_eq!(s.display_name_owner("Ada").await.unwrap(), None);
    assert_eq!(s.claim_display_name("Ada", "s1", t).await.unwrap(), "s1");
    // Any case is the same name, and stays the first session's.
    assert_eq!(s.claim_display_name("ADA", "s2", t).await.unwrap(), "s1");
    assert_eq!(
        s.display_name_owner("ada").await.unwrap().as_deref(),
        Some("s1")
    );
    assert!(s.release_display_name("aDa").await.unwrap());
    assert!(!s.release_display_name("ada").await.unwrap());
    assert_eq!(s.claim_display_name("ada", "s2", t).await.unwrap(), "s2");
    // Per-address counts use the client key.
    for (i, key) in ["2001:db8::/64", "2001:db8::/64", "192.0.2.1"]
        .into_iter()
        .enumerate()
    {
        let mut new = new_submission(H1, json!({}));
        new.client_key = key.into();
        s.create_submission(new, t + i as i64).await.unwrap();
    }
    let c = s.client_counts("2001:db8::/64").await.unwrap();
    assert_eq!((c.queued, c.running), (2, 0));
    let c = s.client_counts("192.0.2.9").await.unwrap();
    assert_eq!((c.queued, c.running), (0, 0));
}

async fn job_signal_wakes_other_handles(fx: &Fixture) {
    let other = fx.second_store().await;
    let mut jobs = other.job_signal();
    let mut events = other.subscribe_events();
    jobs.borrow_and_update();
    let new = new_submission(H1, json!({}));
    let id = new.id.clone();
    fx.store.create_submission(new, now_ms()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), jobs.changed())
        .await
        .expect("the job signal fired")
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .expect("the event signal fired")
        .unwrap();
    assert_eq!(seen, id);
    // A requeue signals too.
    let job = fx
        .store
        .claim("w", &hashes(&[H1]), LEASE, now_ms())
        .await
        .unwrap()
        .unwrap();
    jobs.borrow_and_update();
    fx.store
        .release(&job.id, job.fencing_token, now_ms())
        .await
        .unwrap();
    eventually("requeue signal", Duration::from_secs(20), || {
        let changed = jobs.has_changed().unwrap();
        async move { changed.then_some(()) }
    })
    .await;
}

async fn workers_registry(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    s.register_worker("w1", &hashes(&["b", "a"]), t)
        .await
        .unwrap();
    s.register_worker("w2", &[], t).await.unwrap();
    s.touch_worker("w2", t + 100).await.unwrap();
    let live = s.live_workers(t).await.unwrap();
    assert_eq!(live.len(), 2);
    assert_eq!(live[0].exercise_hashes, ["a", "b"]);
    assert_eq!(s.live_workers(t + 50).await.unwrap().len(), 1);
    s.register_worker("w1", &hashes(&["c"]), t + 200)
        .await
        .unwrap();
    let live = s.live_workers(t + 150).await.unwrap();
    assert_eq!(live[0].exercise_hashes, ["c"]);
    assert_eq!(live[0].started_at, t);
    s.deregister_worker("w1").await.unwrap();
    assert_eq!(s.live_workers(0).await.unwrap().len(), 1);
    s.ping().await.unwrap();
}

async fn host_failures_retry_later_then_give_up_with_every_reason(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    let new = new_submission(H1, json!({}));
    let id = new.id.clone();
    s.create_submission(new, t).await.unwrap();
    let mut token = 0;
    for attempt in 1..=3u32 {
        let now = t + 10_000 * i64::from(attempt);
        let job = s
            .claim("w", &hashes(&[H1]), LEASE, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.attempt, attempt);
        token = job.fencing_token;
        let reason = format!("sandbox setup failed at mount-overlay (try {attempt})");
        let retry_at = now + 5_000;
        let outcome = s
            .fail_attempt(&id, token, &reason, retry_at, now + 1)
            .await
            .unwrap();
        if attempt < 3 {
            assert_eq!(outcome, AttemptOutcome::Retrying { retry_at });
            // Not claimable before its time, claimable from then on.
            assert!(s
                .claim("w", &hashes(&[H1]), LEASE, retry_at - 1)
                .await
                .unwrap()
                .is_none());
            let sub = s.get_submission(&id).await.unwrap().unwrap();
            assert_eq!(
                (sub.state, sub.attempts),
                (SubmissionState::Queued, attempt)
            );
        } else {
            assert_eq!(outcome, AttemptOutcome::GaveUp);
        }
    }
    let sub = s.get_submission(&id).await.unwrap().unwrap();
    assert_eq!(sub.state, SubmissionState::Finished);
    let result = sub.result.unwrap();
    assert_eq!(result["outcome"], "internal_error");
    let reason = result["reason"].as_str().unwrap();
    for attempt in 1..=3 {
        assert!(
            reason.contains(&format!(
                "attempt {attempt}: sandbox setup failed at mount-overlay (try {attempt})"
            )),
            "{reason}"
        );
    }
    assert_eq!(result["failed_attempts"].as_array().unwrap().len(), 3);
    // One result, ever: the old holder can neither fail nor finish it again.
    let again = s.fail_attempt(&id, token, "late", t, t).await;
    assert!(matches!(again, Err(StoreError::LeaseLost(_))), "{again:?}");
    let states: Vec<serde_json::Value> = s
        .events_after(&id, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::State)
        .map(|e| e.data["state"].clone())
        .collect();
    assert_eq!(
        states,
        ["queued", "running", "queued", "running", "queued", "running"]
    );
    assert!(s.leaderboard(None).await.unwrap().is_empty());
}

async fn a_lost_lease_and_a_host_failure_both_count(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    let mut new = new_submission(H1, json!({}));
    new.max_attempts = 2;
    let id = new.id.clone();
    s.create_submission(new, t).await.unwrap();
    s.claim("dead", &hashes(&[H1]), LEASE, t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.sweep_expired(t + 20_000).await.unwrap().requeued,
        std::slice::from_ref(&id)
    );
    let job = s
        .claim("w", &hashes(&[H1]), LEASE, t + 20_001)
        .await
        .unwrap()
        .unwrap();
    let outcome = s
        .fail_attempt(
            &id,
            job.fencing_token,
            "layer preparation failed",
            t,
            t + 20_002,
        )
        .await
        .unwrap();
    assert_eq!(outcome, AttemptOutcome::GaveUp);
    let result = s
        .get_submission(&id)
        .await
        .unwrap()
        .unwrap()
        .result
        .unwrap();
    let reason = result["reason"].as_str().unwrap();
    assert!(
        reason.contains("attempt 1: the job's lease expired on attempt 1"),
        "{reason}"
    );
    assert!(
        reason.contains("attempt 2: layer preparation failed"),
        "{reason}"
    );
}

async fn a_cancel_pending_at_a_host_failure_is_final(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    let new = new_submission(H1, json!({}));
    let id = new.id.clone();
    s.create_submission(new, t).await.unwrap();
    let job = s
        .claim("w", &hashes(&[H1]), LEASE, t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.cancel(&id, "by admin", t + 1).await.unwrap(),
        CancelOutcome::Requested
    );
    let outcome = s
        .fail_attempt(&id, job.fencing_token, "netns pool busy", t, t + 2)
        .await
        .unwrap();
    assert_eq!(outcome, AttemptOutcome::GaveUp);
    let result = s
        .get_submission(&id)
        .await
        .unwrap()
        .unwrap()
        .result
        .unwrap();
    assert!(
        result["reason"].as_str().unwrap().starts_with("cancelled"),
        "{result}"
    );
}

async fn log_batches_keep_their_order(fx: &Fixture) {
    let s = &fx.store;
    let t = now_ms();
    let new = new_submission(H1, json!({}));
    let id = new.id.clone();
    s.create_submission(new, t).await.unwrap();
    // More than one statement's worth of events in one call.
    let lines: Vec<serde_json::Value> = (0..250)
        .map(|i| json!({"stream": "stdout", "line": format!("line {i}")}))
        .collect();
    let last = s
        .append_events(&id, EventKind::Log, &lines, t)
        .await
        .unwrap();
    assert_eq!(last, 251);
    let seq = s
        .append_event(&id, EventKind::Log, &lines[0], t)
        .await
        .unwrap();
    assert_eq!(seq, 252);
    let events = s.events_after(&id, 1, 1000).await.unwrap();
    assert_eq!(events.len(), 251);
    for (i, e) in events.iter().take(250).enumerate() {
        assert_eq!(e.seq, i as i64 + 2);
        assert_eq!(e.data["line"], format!("line {i}"));
    }
    let missing = s
        .append_events(&SubmissionId::new(), EventKind::Log, &lines[..1], t)
        .await;
    assert!(missing.is_err());
}
