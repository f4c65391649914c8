//! Load generator for the HTTP API on loopback (bench/api/run.sh drives it).
//!
//! `latency`: N submissions one after another, each timed from POST to its `result`
//! event on the event stream, with the hops between (the 202, the `running` state
//! event, the result). `throughput`: C clients in a closed loop (submit, wait for
//! the result, repeat) for a fixed time; reports finished submissions per second.
//! Every submission is the files of `--files DIR` for `--exercise ID`. Display names
//! carry the process id: a name belongs to the session that first used it, and each
//! run is a new set of sessions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// Base URL of the API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Exercise id.
    #[arg(long)]
    exercise: String,
    /// Folder whose files (relative paths) are the submission.
    #[arg(long)]
    files: PathBuf,
    /// Give every submission a new last line in each file (a comment), so that no
    /// compile output of an earlier one can be reused: a learner's novel edit.
    #[arg(long)]
    novel: bool,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    Latency {
        #[arg(long, default_value_t = 20)]
        n: usize,
        /// Unmeasured submissions first.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
    },
    Throughput {
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

fn read_files(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).expect("read --files") {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read_to_string(&p).expect("UTF-8 file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// When one submission's steps were seen by the client, from the start of its POST.
struct Hops {
    /// The POST's 202.
    accepted: Duration,
    /// The `state: running` event (a worker claimed the job).
    running: Option<Duration>,
    /// The `result` event.
    result: Duration,
}

/// POSTs one submission and waits for its result; returns when each step was seen and
/// the outcome. Keeps the session cookie in `cookie`, as a browser would: a display
/// name belongs to the session that first used it.
async fn one(
    c: &reqwest::Client,
    url: &str,
    body: &Value,
    cookie: &mut Option<String>,
) -> Result<(Hops, String), String> {
    let t = Instant::now();
    let mut post = c.post(format!("{url}/api/v1/submissions")).json(body);
    if let Some(v) = cookie.as_deref() {
        post = post.header("cookie", v);
    }
    let r = post.send().await.map_err(|e| e.to_string())?;
    if let Some(v) = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()) {
        *cookie = v.split(';').next().map(str::to_owned);
    }
    if r.status() != 202 {
        return Err(format!(
            "{} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        ));
    }
    let id = r.json::<Value>().await.map_err(|e| e.to_string())?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let accepted = t.elapsed();
    let mut get = c.get(format!("{url}/api/v1/submissions/{id}/events"));
    if let Some(v) = cookie.as_deref() {
        get = get.header("cookie", v);
    }
    let r = get.send().await.map_err(|e| e.to_string())?;
    let mut stream = r.bytes_stream();
    let mut text = String::new();
    let mut running = None;
    while let Some(chunk) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.map_err(|e| e.to_string())?));
        // Complete events only (each ends with a blank line).
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let kind = event.lines().find_map(|l| l.strip_prefix("event: "));
            let data = event.lines().find_map(|l| l.strip_prefix("data: "));
            match (kind, data) {
                (Some("state"), Some(d)) if running.is_none() && d.contains("\"running\"") => {
                    running = Some(t.elapsed());
                }
                (Some("result"), Some(d)) => {
                    let v: Value = serde_json::from_str(d).map_err(|e| e.to_string())?;
                    let outcome = v["outcome"].as_str().unwrap_or("?").to_owned();
                    let hops = Hops {
                        accepted,
                        running,
                        result: t.elapsed(),
                    };
                    return Ok((hops, outcome));
                }
                _ => {}
            }
        }
    }
    Err(format!("stream of {id} ended without a result"))
}

/// The submission's files, each with a comment line naming `n` when `novel`.
fn edition(files: &BTreeMap<String, String>, novel: bool, n: usize) -> BTreeMap<String, String> {
    if !novel {
        return files.clone();
    }
    let pid = std::process::id();
    files
        .iter()
        .map(|(path, text)| {
            let mark = if path.ends_with(".py") || path.ends_with(".sh") {
                "#"
            } else {
                "//"
            };
            let sep = if text.ends_with('\n') { "" } else { "\n" };
            (
                path.clone(),
                format!("{text}{sep}{mark} edit {n} of {pid}\n"),
            )
        })
        .collect()
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let files = read_files(&args.files);
    let url = args.url.trim_end_matches('/').to_owned();
    match args.mode {
        Mode::Latency { n, warmup } => {
            let c = reqwest::Client::builder()
                .tcp_nodelay(true)
                .build()
                .unwrap();
            let (mut times, mut accepted, mut claimed, mut ran) = (vec![], vec![], vec![], vec![]);
            let mut cookie = None;
            for i in 0..warmup + n {
                let body = json!({"exercise": args.exercise, "files": edition(&files, args.novel, i),
                                  "display_name": format!("bench{}-{}", i % 1000, std::process::id())});
                let (hops, outcome) = one(&c, &url, &body, &mut cookie).await.expect("submission");
                // A benchmark of failures measures nothing: the reference solution must pass.
                assert_eq!(outcome, "passed", "submission {i} did not pass");
                if i >= warmup {
                    let d = hops.result;
                    times.push(d);
                    accepted.push(hops.accepted);
                    // The running event is seen after the stream opened, which the
                    // client does after the 202: a claim before that shows as at the 202.
                    if let Some(r) = hops.running {
                        claimed.push(r.saturating_sub(hops.accepted));
                        ran.push(d.saturating_sub(r));
                    }
                    eprintln!(
                        "{:>3}: {:8.1} ms  {outcome}",
                        i - warmup,
                        d.as_secs_f64() * 1000.0
                    );
                }
            }
            times.sort();
            accepted.sort();
            claimed.sort();
            ran.sort();
            let mean =
                times.iter().map(Duration::as_secs_f64).sum::<f64>() / times.len() as f64 * 1000.0;
            let p50 = |v: &[Duration]| if v.is_empty() { 0.0 } else { pct(v, 0.5) };
            println!(
                "{}",
                json!({"mode": "latency", "n": n, "p50_ms": pct(&times, 0.5), "p90_ms": pct(&times, 0.9),
                       "min_ms": pct(&times, 0.0), "mean_ms": mean,
                       "hops_p50_ms": {"post_to_202": p50(&accepted), "202_to_running_event": p50(&claimed),
                                       "running_event_to_result_event": p50(&ran)}})
            );
        }
        Mode::Throughput {
            concurrency,
            seconds,
        } => {
            let done = Arc::new(AtomicU64::new(0));
            let refused = Arc::new(AtomicU64::new(0));
            let start = Instant::now();
            let end = start + Duration::from_secs(seconds);
            let mut tasks = Vec::new();
            for w in 0..concurrency {
                let novel = args.novel;
                let (done, refused, url, files, exercise) = (
                    done.clone(),
                    refused.clone(),
                    url.clone(),
                    files.clone(),
                    args.exercise.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    let c = reqwest::Client::builder().tcp_nodelay(true).build().unwrap();
                    let mut lat = Vec::new();
                    let mut cookie = None;
                    let mut n = 0;
                    while Instant::now() < end {
                        n += 1;
                        let body = json!({"exercise": exercise, "files": edition(&files, novel, w * 1_000_000 + n),
                                          "display_name": format!("load{w}-{}", std::process::id())});
                        match one(&c, &url, &body, &mut cookie).await {
                            Ok((hops, outcome)) if outcome == "passed" => {
                                done.fetch_add(1, Ordering::Relaxed);
                                lat.push(hops.result);
                            }
                            Ok((_, outcome)) => {
                                refused.fetch_add(1, Ordering::Relaxed);
                                eprintln!("not passed: {outcome}");
                            }
                            Err(e) => {
                                refused.fetch_add(1, Ordering::Relaxed);
                                if refused.load(Ordering::Relaxed) < 5 {
                                    eprintln!("refused: {e}");
                                }
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    }
                    lat
                }));
            }
            let mut lat = Vec::new();
            for t in tasks {
                lat.extend(t.await.unwrap());
            }
            let elapsed = start.elapsed().as_secs_f64();
            lat.sort();
            let n = done.load(Ordering::Relaxed);
            println!(
                "{}",
                json!({"mode": "throughput", "concurrency": concurrency, "seconds": elapsed,
                       "finished": n, "refused_or_failed": refused.load(Ordering::Relaxed),
                       "per_second": n as f64 / elapsed,
                       "p50_ms": if lat.is_empty() { 0.0 } else { pct(&lat, 0.5) },
                       "p99_ms": if lat.is_empty() { 0.0 } else { pct(&lat, 0.99) }})
            );
        }
    }
}
