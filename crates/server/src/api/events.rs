//! `GET /api/v1/submissions/{id}/events`: Server-Sent Events of one submission (state
//! changes, log lines, then the result, which ends the stream), resumable with
//! `Last-Event-ID` (event ids are the store's per-submission sequence numbers).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::sync::{broadcast, mpsc};
use tracing::Instrument;

use super::error::{ApiError, ErrorBody};
use super::handlers::parse_id;
use super::AppState;
use crate::limits::{StreamRefusal, StreamSlot};

use gauntlet_queue::store::{EventKind, SubmissionEvent, SubmissionId, SubmissionState};

/// Events read from the store per round trip.
const PAGE: u32 = 256;
/// Re-read even without a notification this often (a missed one is never fatal).
const FALLBACK_POLL: Duration = Duration::from_secs(2);

/// Server-Sent Events of one submission. Each event has `id` (sequence number), `event`
/// (`state`, `log` or `result`) and JSON `data`; the stream ends after `result`.
#[utoipa::path(get, path = "/api/v1/submissions/{id}/events", tag = "submissions",
    params(
        ("id" = String, Path, description = "Submission id"),
        ("last-event-id" = Option<String>, Header, description = "Resume after this event id"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = String),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody, headers(("retry-after" = u64)), description = "Too many open streams for this session or address"),
        (status = 503, body = ErrorBody, headers(("retry-after" = u64)), description = "This server holds its most open streams"),
    ))]
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    tracing::Span::current().record("submission_id", tracing::field::display(&id));
    let session = super::session_of(&req)?;
    let after: i64 = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .filter(|n: &i64| *n >= 0)
        .unwrap_or(0);
    // Subscribe before the first read, so nothing appended in between is missed.
    let notes = state.store().subscribe_events();
    if state.store().get_submission(&id).await?.is_none() {
        return Err(ApiError::SubmissionNotFound(id.to_string()));
    }
    let (_, client) = state.client(&req);
    let slot = state
        .streams()
        .acquire(&session.id, &client)
        .await
        .map_err(|refusal| {
            state.metrics().rejected(refusal.reason());
            match refusal {
                StreamRefusal::Session(cap) => ApiError::TooManyStreams(cap),
                StreamRefusal::Ip(cap) => ApiError::TooManyStreamsFromIp(cap),
                StreamRefusal::Total(cap) => ApiError::StreamsFull(cap),
                StreamRefusal::Unavailable => ApiError::NotReady(
                    "the shared limits are unavailable while Redis is unreachable; retry shortly"
                        .into(),
                ),
            }
        })?;

    let (tx, rx) = mpsc::channel::<Event>(64);
    let span = tracing::info_span!("events", submission_id = %id);
    tokio::spawn(pump(state.clone(), id, after, notes, tx, slot).instrument(span));
    let body = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    let keepalive = state.settings().sse_keepalive;
    Ok(Sse::new(body)
        .keep_alive(KeepAlive::new().interval(keepalive))
        .into_response())
}

fn to_event(ev: &SubmissionEvent, secrets: &[String]) -> Event {
    let data = match ev.kind {
        // Log lines get their stream as a prefix, e.g. `[test] ok 1 - reverses`.
        EventKind::Log => {
            let mut d = ev.data.clone();
            if let (Some(stream), Some(line)) = (
                ev.data.get("stream").and_then(|v| v.as_str()),
                ev.data.get("line").and_then(|v| v.as_str()),
            ) {
                d["text"] = format!("[{stream}] {line}").into();
            }
            d
        }
        _ => ev.data.clone(),
    };
    // Defence in depth: the grader redacts logs before they are stored; the server's own
    // secrets are blanked here once more.
    let mut text = data.to_string();
    for secret in secrets {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "[redacted]");
        }
    }
    Event::default()
        .id(ev.seq.to_string())
        .event(ev.kind.as_str())
        .data(text)
}

/// Copies the submission's events into the stream until the result, the client leaves,
/// or the server shuts down. Holds the session's stream slot while it runs.
async fn pump(
    state: AppState,
    id: SubmissionId,
    mut after: i64,
    mut notes: broadcast::Receiver<SubmissionId>,
    tx: mpsc::Sender<Event>,
    _slot: StreamSlot,
) {
    let store = state.store().clone();
    let shutdown = state.shutdown_token().clone();
    let mut finished_seen = false;
    loop {
        let events = match store.events_after(&id, after, PAGE).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "event stream: store read failed");
                return;
            }
        };
        let full_page = events.len() as u32 == PAGE;
        for ev in &events {
            if tx.send(to_event(ev, state.redactions())).await.is_err() {
                return; // client gone
            }
            after = ev.seq;
            if ev.kind == EventKind::Result {
                return;
            }
        }
        if full_page {
            continue;
        }
        if events.is_empty() {
            // Resumed past the result, or finished without one: nothing more will come.
            // The state is read after the events, so when it says finished, one more read
            // of the events sees everything (the result is written with the state).
            match store.get_submission(&id).await {
                Ok(Some(s)) if s.state == SubmissionState::Finished => {
                    if finished_seen {
                        return;
                    }
                    finished_seen = true;
                    continue;
                }
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "event stream: store read failed");
                    return;
                }
            }
        }
        // Wait for news of this submission, the client leaving, or shutdown.
        let deadline = tokio::time::sleep(FALLBACK_POLL);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                _ = shutdown.cancelled() => return,
                _ = &mut deadline => break,
                note = notes.recv() => match note {
                    Ok(sid) if sid == id => break,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => {
                        // No more notifications: fall back to polling.
                        (&mut deadline).await;
                        break;
                    }
                },
            }
        }
    }
}
