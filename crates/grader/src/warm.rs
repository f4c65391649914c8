//! The warm pool: single-use jails started ahead of demand, one exercise version each,
//! every isolation layer already on, running their runtime's trusted preamble (the
//! interpreter with the runner imported; node with Hardhat and the compiler loaded).
//! A job takes a ready one and hands it the submission through the jail's job socket
//! (`sandbox::Control::deliver`): the preamble writes the files into its own
//! workspace, so the host never writes into a jail-writable path. The jail serves that
//! one job and is destroyed; nothing carries over between learners.
//!
//! Why one exercise version per jail: the workspace (the prepared layer, read-only
//! under the jail's own tmpfs) is mounted when the jail is made, and after that no
//! process in the jail may mount. So the pool keeps jails for the exercises that were
//! graded last; another exercise starts cold and is warmed from then on.
//!
//! Sizing (docs/queue.md, "Warm jails"): at most `max_jails` jails, whose memory
//! limits together stay under `max_memory`, and a held jail takes one of the worker's
//! `slots` (its concurrency) as a running grade does: jails are held in idle slots
//! only, so a busy worker runs its jobs, not warm-ups. Each waits at most `max_wait`
//! and is then stopped and replaced only if its exercise was graded meanwhile, so an
//! idle pool empties. A preamble that fails (ends, prints, overruns its CPU or is not ready in
//! time) is logged with its output; after [`FAILURES_TO_PAUSE`] in a row its exercise
//! is not warmed for [`PAUSE`].

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use gauntlet_sandbox::{self as sandbox, Control, OutputSink, Report, Spec, Stream};

use crate::runtimes::Lease;

/// Failed preambles in a row after which an exercise is not warmed for [`PAUSE`].
pub const FAILURES_TO_PAUSE: u32 = 3;
pub const PAUSE: Duration = Duration::from_secs(600);
/// How long a preamble may take to say it is ready.
pub const READY_WITHIN: Duration = Duration::from_secs(60);

/// The pool's settings.
#[derive(Debug, Clone)]
pub struct WarmConfig {
    /// Jails held at most (0: no pool).
    pub max_jails: usize,
    /// What the held jails' memory limits may add up to.
    pub max_memory: u64,
    /// How long a jail waits for a job before it is stopped.
    pub max_wait: Duration,
    /// CPU a preamble may spend before its job.
    pub preamble_cpu: Duration,
    /// Grades the worker runs at once (its concurrency; 0: no bound). A held jail
    /// counts as one: running grades plus held jails stay within it, so jails are
    /// started in idle slots only (a worker with one slot holds none).
    pub slots: usize,
}

impl Default for WarmConfig {
    fn default() -> Self {
        WarmConfig {
            max_jails: 2,
            max_memory: 2 << 30,
            max_wait: Duration::from_secs(600),
            preamble_cpu: Duration::from_secs(30),
            slots: 0,
        }
    }
}

/// Counters and gauges for `/metrics`.
#[derive(Debug, Default)]
pub struct WarmStats {
    /// Jobs that took a ready jail.
    pub hits: AtomicU64,
    /// Jobs that took a jail whose preamble was still loading.
    pub warming_hits: AtomicU64,
    /// Jobs that found no jail for their exercise and started cold.
    pub misses: AtomicU64,
    /// Preambles that failed before their job.
    pub preamble_failures: AtomicU64,
    /// Jails stopped unused after `max_wait`, or to make room.
    pub expired: AtomicU64,
    /// Jails started.
    pub started: AtomicU64,
    /// Sum and count of how long the jails that were taken had waited, in ms.
    pub waited_ms_sum: AtomicU64,
    pub waited_count: AtomicU64,
    /// Jails whose supervising thread has not ended (held, or running a job).
    pub alive: AtomicU64,
}

/// What the pool holds now.
#[derive(Debug, Clone, Copy, Default)]
pub struct WarmGauges {
    pub jails: usize,
    pub ready: usize,
    /// Memory the held jails use now (their cgroups).
    pub memory_bytes: u64,
    /// What their memory limits add up to.
    pub memory_limit_bytes: u64,
}

/// Which jails fit which job: the prepared layer (one exercise version on one runtime
/// version) and the limits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WarmKey {
    pub layer: PathBuf,
    pub limits: sandbox::Limits,
}

/// What the jail's supervising thread sends the job that took it.
pub enum JailMsg {
    Output(Stream, Vec<u8>),
    Done {
        report: Box<Result<Report, sandbox::Error>>,
        service_log: Vec<String>,
    },
}

/// A held jail.
struct Held {
    key: WarmKey,
    runtime: &'static str,
    control: Arc<Control>,
    /// Where the jail's output and end go once a job has taken it.
    attach: Arc<Mutex<Attach>>,
    started: Instant,
    memory_limit: u64,
}

#[derive(Default)]
struct Attach {
    tx: Option<mpsc::Sender<JailMsg>>,
    /// Output before delivery (a broken preamble's words), for the log.
    early: Vec<u8>,
}

/// A jail taken for one job.
pub struct Taken {
    pub control: Arc<Control>,
    pub rx: mpsc::Receiver<JailMsg>,
    /// The preamble had said it was ready.
    pub ready: bool,
    pub waited: Duration,
}

#[derive(Default)]
struct State {
    held: Vec<Held>,
    /// Consecutive preamble failures and the pause, per key.
    failures: HashMap<WarmKey, (u32, Option<Instant>)>,
    /// When each key was last asked for.
    demand: HashMap<WarmKey, Instant>,
    /// Grades in progress (see [`WarmPool::grade_started`]).
    running: usize,
    closed: bool,
}

pub struct WarmPool {
    cfg: WarmConfig,
    state: Arc<Mutex<State>>,
    stats: Arc<WarmStats>,
}

impl WarmPool {
    pub fn new(cfg: WarmConfig) -> Self {
        WarmPool {
            cfg,
            state: Arc::default(),
            stats: Arc::default(),
        }
    }

    pub fn config(&self) -> &WarmConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &WarmStats {
        &self.stats
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn gauges(&self) -> WarmGauges {
        let st = self.lock();
        let mut g = WarmGauges::default();
        for h in st.held.iter().filter(|h| !h.control.finished()) {
            g.jails += 1;
            g.ready += usize::from(h.control.is_ready());
            g.memory_bytes += h.control.memory_bytes();
            g.memory_limit_bytes += h.memory_limit;
        }
        g
    }

    /// Takes a jail for `key`, ready ones first; records the demand either way, and a
    /// miss when there is none ([`WarmPool::count_start`] counts the rest).
    pub fn take(&self, key: &WarmKey) -> Option<Taken> {
        let mut st = self.lock();
        st.demand.insert(key.clone(), Instant::now());
        st.held.retain(|h| !h.control.finished());
        let candidates: Vec<usize> = (0..st.held.len())
            .filter(|&i| st.held[i].key == *key)
            .collect();
        let pick = candidates
            .iter()
            .copied()
            .find(|&i| st.held[i].control.is_ready())
            .or_else(|| candidates.first().copied());
        let Some(i) = pick else {
            self.stats.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let held = st.held.swap_remove(i);
        drop(st);
        let (tx, rx) = mpsc::channel();
        {
            let mut a = lock(&held.attach);
            a.tx = Some(tx);
        }
        Some(Taken {
            ready: held.control.is_ready(),
            waited: held.started.elapsed(),
            control: held.control,
            rx,
        })
    }

    /// Counts how a grade that took a jail started, once it is known: a hit (or a
    /// warming one) when the jail ran the job, a miss when its preamble was gone and
    /// the grade started cold. (A grade that found no jail is counted by `take`.)
    pub fn count_start(&self, taken: &Taken, ran: bool) {
        if !ran {
            self.stats.misses.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let counter = if taken.ready {
            &self.stats.hits
        } else {
            &self.stats.warming_hits
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.stats
            .waited_ms_sum
            .fetch_add(taken.waited.as_millis() as u64, Ordering::Relaxed);
        self.stats.waited_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a jail for `key` may be started now: the pool is open, the key is not
    /// paused, and the count and memory caps leave room. To make room, the jail whose
    /// exercise was asked for least recently is stopped, if it is not of this key.
    pub fn room_for(&self, key: &WarmKey, memory_limit: u64) -> bool {
        let mut st = self.lock();
        if st.closed || self.cfg.max_jails == 0 || memory_limit > self.cfg.max_memory {
            return false;
        }
        if let Some((_, Some(until))) = st.failures.get(key) {
            if Instant::now() < *until {
                return false;
            }
        }
        st.held.retain(|h| !h.control.finished());
        loop {
            let used: u64 = st.held.iter().map(|h| h.memory_limit).sum();
            // The grade asking is still running: a new jail needs another idle slot.
            let busy = st.held.len() + st.running;
            if st.held.len() < self.cfg.max_jails
                && used + memory_limit <= self.cfg.max_memory
                && (self.cfg.slots == 0 || busy < self.cfg.slots)
            {
                return true;
            }
            if !self.stop_least_wanted(&mut st, |h| h.key != *key) {
                return false;
            }
        }
    }

    /// Counts a grade as running until the guard is dropped; when running grades and
    /// held jails then exceed the worker's slots, the least wanted jails are stopped
    /// (a jail this grade took is no longer held). Call it after [`WarmPool::take`].
    pub fn grade_started(&self) -> GradeSlot {
        let mut st = self.lock();
        st.running += 1;
        st.held.retain(|h| !h.control.finished());
        while self.cfg.slots > 0 && st.held.len() + st.running > self.cfg.slots {
            if !self.stop_least_wanted(&mut st, |_| true) {
                break;
            }
        }
        GradeSlot {
            state: self.state.clone(),
        }
    }

    /// Stops one held jail of `runtime` (the least recently asked for) to free what it
    /// holds, e.g. an Anvil chain a cold job is waiting for. True if one was stopped.
    pub fn evict_one(&self, runtime: &str) -> bool {
        let mut st = self.lock();
        st.held.retain(|h| !h.control.finished());
        self.stop_least_wanted(&mut st, |h| h.runtime == runtime)
    }

    /// Stops the held jail, among those `which` picks, whose exercise was asked for
    /// least recently; false if `which` picks none.
    fn stop_least_wanted(&self, st: &mut State, which: impl Fn(&Held) -> bool) -> bool {
        let demand = &st.demand;
        let victim = st
            .held
            .iter()
            .enumerate()
            .filter(|(_, h)| which(h))
            .min_by_key(|(_, h)| demand.get(&h.key).copied())
            .map(|(i, _)| i);
        let Some(i) = victim else { return false };
        let h = st.held.swap_remove(i);
        h.control.kill();
        self.stats.expired.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Starts a warm jail for `key` on a thread of its own (call [`WarmPool::room_for`]
    /// first). `lease` is what the runtime lends it (a chain), held until it ends.
    pub fn spawn(
        &self,
        key: WarmKey,
        runtime: &'static str,
        spec: Spec,
        lease: Option<Box<dyn Lease>>,
    ) -> io::Result<()> {
        let control = Arc::new(Control::new());
        let attach = Arc::new(Mutex::new(Attach::default()));
        let memory_limit = spec.limits.memory;
        let max_wait = spec.warm.as_ref().map_or(self.cfg.max_wait, |w| w.max_wait);
        {
            let mut st = self.lock();
            if st.closed {
                return Ok(());
            }
            st.held.push(Held {
                key: key.clone(),
                runtime,
                control: control.clone(),
                attach: attach.clone(),
                started: Instant::now(),
                memory_limit,
            });
        }
        self.stats.started.fetch_add(1, Ordering::Relaxed);
        self.stats.alive.fetch_add(1, Ordering::Relaxed);
        let state = self.state.clone();
        let stats = self.stats.clone();
        let ctl = control.clone();
        let spawned = thread::Builder::new()
            .name("gauntlet-warm".into())
            .spawn(move || supervise(spec, lease, ctl, attach, key, state, stats, max_wait));
        if let Err(e) = spawned {
            control.kill();
            self.stats.alive.fetch_sub(1, Ordering::Relaxed);
            return Err(e);
        }
        // A preamble that never says it is ready is broken too: stop it after a bound.
        let watch = control.clone();
        let _ = thread::Builder::new()
            .name("gauntlet-warm-ready".into())
            .spawn(move || {
                if !watch.wait_ready(READY_WITHIN) && !watch.finished() && !watch.delivered() {
                    watch.kill();
                }
            });
        Ok(())
    }

    /// Stops every held jail; the pool stays open and warms again on demand.
    pub fn clear(&self) {
        let mut st = self.lock();
        for h in st.held.drain(..) {
            h.control.kill();
        }
    }

    /// Stops every held jail and takes no more (a draining worker).
    pub fn shutdown(&self) {
        let mut st = self.lock();
        st.closed = true;
        for h in st.held.drain(..) {
            h.control.kill();
        }
    }

    /// Waits up to `timeout` until no jail of the pool is alive; true if none is.
    pub fn wait_stopped(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.stats.alive.load(Ordering::Relaxed) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

impl Drop for WarmPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The jail's own thread: runs it, relays its output to the job that takes it, and
/// sends the report there; a jail that ends untaken is a preamble failure unless it
/// was stopped by the pool or waited out its time.
#[allow(clippy::too_many_arguments)]
fn supervise(
    spec: Spec,
    lease: Option<Box<dyn Lease>>,
    control: Arc<Control>,
    attach: Arc<Mutex<Attach>>,
    key: WarmKey,
    state: Arc<Mutex<State>>,
    stats: Arc<WarmStats>,
    max_wait: Duration,
) {
    struct Alive(Arc<WarmStats>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.alive.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let _alive = Alive(stats.clone());
    let mut lease = lease;
    let mut relay = Relay {
        attach: attach.clone(),
    };
    let report = sandbox::run_controlled(&spec, &mut relay, &control);
    let service_log = lease.as_mut().map(|l| l.service_log()).unwrap_or_default();
    // The chain (if any) goes back, reset, before anyone hears the end.
    drop(lease);
    let tx = lock(&attach).tx.take();
    if let Some(tx) = tx {
        let _ = tx.send(JailMsg::Done {
            report: Box::new(report),
            service_log,
        });
        lock(&state).failures.remove(&key);
        return;
    }
    // Never taken: why did it end? One the pool stopped (to make room, on shutdown) is
    // no longer held; one that waited out its time expired; anything else failed.
    let mut st = lock(&state);
    let held = st.held.iter().any(|h| Arc::ptr_eq(&h.control, &control));
    st.held.retain(|h| !Arc::ptr_eq(&h.control, &control));
    let waited_out = matches!(&report, Ok(r) if r.status == sandbox::Status::WallTimeout
        && r.warm.is_some_and(|w| w.waited_ms >= max_wait.as_millis() as u64));
    if !held || waited_out {
        if held {
            stats.expired.fetch_add(1, Ordering::Relaxed);
        }
        return;
    }
    stats.preamble_failures.fetch_add(1, Ordering::Relaxed);
    let entry = st.failures.entry(key.clone()).or_insert((0, None));
    entry.0 += 1;
    let paused = entry.0 >= FAILURES_TO_PAUSE;
    if paused {
        entry.1 = Some(Instant::now() + PAUSE);
        entry.0 = 0;
    }
    drop(st);
    let early = String::from_utf8_lossy(&lock(&attach).early).into_owned();
    let how = match &report {
        Ok(r) => format!("{:?} exit {:?} {:?}", r.status, r.exit_code, r.warm),
        Err(e) => e.to_string(),
    };
    tracing::error!(
        layer = %key.layer.display(),
        ended = %how,
        output = %early.chars().take(2000).collect::<String>(),
        paused_for_s = if paused { PAUSE.as_secs() } else { 0 },
        "a warm jail's preamble failed before its job"
    );
}

/// A grade in progress, for [`WarmConfig::slots`]; counted until dropped.
pub struct GradeSlot {
    state: Arc<Mutex<State>>,
}

impl Drop for GradeSlot {
    fn drop(&mut self) {
        let mut st = lock(&self.state);
        st.running = st.running.saturating_sub(1);
    }
}

/// The warm jail's output sink: to the job once one has taken the jail, kept (capped)
/// before that for the failure log.
struct Relay {
    attach: Arc<Mutex<Attach>>,
}

impl OutputSink for Relay {
    fn output(&mut self, stream: Stream, bytes: &[u8]) {
        let mut a = lock(&self.attach);
        match &a.tx {
            Some(tx) => {
                let _ = tx.send(JailMsg::Output(stream, bytes.to_vec()));
            }
            None => {
                let room = (64usize << 10).saturating_sub(a.early.len());
                let n = room.min(bytes.len());
                a.early.extend_from_slice(&bytes[..n]);
            }
        }
    }
}

/// The job a warm jail's preamble reads (the protocol of `.gauntlet/runner/warm.py`):
/// `GJOB1\n`, a length-prefixed JSON header with the environment to add, then the
/// submission folder's directories and files, then `E`. The folder is the one the host
/// just wrote the validated submission into; anything but plain directories and
/// files there is refused.
pub fn job_bundle(env: &[(String, String)], submission: &Path) -> io::Result<Vec<u8>> {
    let mut out = b"GJOB1\n".to_vec();
    let env: serde_json::Map<String, serde_json::Value> = env
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let header = serde_json::to_vec(&serde_json::json!({ "env": env }))?;
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(&header);
    add_dir(&mut out, submission, "")?;
    out.push(b'E');
    Ok(out)
}

fn add_dir(out: &mut Vec<u8>, dir: &Path, prefix: &str) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let name = name
            .to_str()
            .ok_or_else(|| io::Error::other(format!("a name that is not UTF-8: {name:?}")))?;
        let rel = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        let meta = fs::symlink_metadata(e.path())?;
        let mode = meta.permissions().mode() & 0o777;
        let path = rel.as_bytes();
        let len = u16::try_from(path.len()).map_err(|_| io::Error::other("path too long"))?;
        if meta.is_dir() {
            out.push(b'D');
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(path);
            out.extend_from_slice(&mode.to_be_bytes());
            add_dir(out, &e.path(), &rel)?;
        } else if meta.is_file() {
            let bytes = fs::read(e.path())?;
            out.push(b'F');
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(path);
            out.extend_from_slice(&mode.to_be_bytes());
            out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            out.extend_from_slice(&bytes);
        } else {
            return Err(io::Error::other(format!(
                "{rel}: not a plain file or folder"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_lists_folders_before_their_files() {
        let dir = std::env::temp_dir().join(format!("warm-bundle-{}", std::process::id()));
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::write(dir.join("src/a.py"), b"x = 1\n").unwrap();
        fs::write(dir.join("main.py"), b"").unwrap();
        let b = job_bundle(&[("RUN_OVERRIDES".into(), "main.py".into())], &dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert!(b.starts_with(b"GJOB1\n"));
        let hlen = u32::from_be_bytes(b[6..10].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&b[10..10 + hlen]).unwrap();
        assert_eq!(header["env"]["RUN_OVERRIDES"], "main.py");
        let rest = &b[10 + hlen..];
        assert_eq!(rest[0], b'F');
        assert_eq!(&rest[3..10], b"main.py");
        let d = rest.iter().position(|&c| c == b'D').unwrap();
        let f = rest.windows(8).position(|w| w == b"src/a.py").unwrap();
        assert!(d < f);
        assert_eq!(*rest.last().unwrap(), b'E');
    }
}
