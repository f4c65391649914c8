//! The proxy's threads: one accepting, one per connection (which reads the request,
//! decides, connects and pumps client → upstream), one more per tunnel (upstream →
//! client).
//!
//! Stopping must never hang, and a new connection must never wait: the accept thread
//! blocks in `accept(2)`, and stopping (by [`Proxy::stop`], or by a small timer thread
//! at the deadline) shuts the listening socket down (socket2's `shutdown`, which std
//! lacks), which wakes it. Every socket of every connection is registered so that
//! stopping (or the byte cap) can `shutdown(2)` it, which wakes whichever thread is
//! blocked on it. A thread stuck where no socket can wake it (a
//! name lookup, a connect in progress) is given up on after [`GRACE`]: it finds the
//! proxy closed when it comes back and ends.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{decide, parse_authority, quote, Cap, Counters, Denied, HostPort, Policy};

/// The largest request head (request line and headers) read.
const MAX_HEAD: usize = 16 << 10;
/// How long a client has to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The accept thread's sleep while `max_concurrent` connections are being served.
const POLL: Duration = Duration::from_millis(20);
/// How long stopping waits for connection threads to end once their sockets are shut.
const GRACE: Duration = Duration::from_millis(900);
/// How long [`Proxy::stop`] waits for the accept thread (which itself waits up to
/// [`GRACE`]).
const STOP_WAIT: Duration = Duration::from_millis(1500);
/// How many refusals and failures a proxy keeps as text for the job's log.
const MAX_NOTES: usize = 8;
/// One read or write of a tunnel.
const CHUNK: usize = 16 << 10;

/// What one proxy did, for the job's log and its record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: u64,
    /// Requests let through.
    pub allowed: u64,
    /// Requests refused.
    pub denied: u64,
    /// Bytes tunnelled, both directions.
    pub bytes: u64,
    /// Why the first few refused requests were refused, one sentence each.
    pub denials: Vec<String>,
    /// The first few allowed requests whose destination could not be reached.
    pub failures: Vec<String>,
}

impl ProxyStats {
    /// The lines to add to the job's log: `egress refused: …` for each kept refusal,
    /// `egress failed: …` for each kept failure, and a count of refusals not shown.
    pub fn log_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .denials
            .iter()
            .map(|d| format!("egress refused: {d}"))
            .collect();
        let unshown = self.denied.saturating_sub(self.denials.len() as u64);
        if unshown > 0 {
            lines.push(format!("egress refused {unshown} more request(s)"));
        }
        lines.extend(self.failures.iter().map(|f| format!("egress failed: {f}")));
        lines
    }
}

/// An egress proxy serving one job's listener. Stopped by [`Proxy::stop`], by being
/// dropped, or by its policy's `max_time`.
pub struct Proxy {
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Serves `listener` on threads of its own until [`Proxy::stop`], drop, or
    /// `policy.max_time`. `job` (the submission or job id) is on every log line; the
    /// process-wide `counters` are updated along with the proxy's own stats.
    pub fn serve(
        listener: TcpListener,
        policy: Policy,
        job: String,
        counters: Arc<Counters>,
    ) -> io::Result<Proxy> {
        let waker = listener.try_clone()?;
        let deadline = Instant::now().checked_add(policy.max_time);
        tracing::info!(
            submission_id = %job,
            allow = %policy.allow.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            "egress proxy serving"
        );
        let shared = Arc::new(Shared {
            policy,
            job,
            counters,
            stopping: AtomicBool::new(false),
            exhausted: AtomicBool::new(false),
            active: AtomicU32::new(0),
            connections: AtomicU64::new(0),
            allowed: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            notes: Mutex::new(Notes::default()),
            resolved: Mutex::default(),
            listener: Mutex::new(Some(waker)),
            stop_signal: (Mutex::new(false), std::sync::Condvar::new()),
            open: Mutex::new(Open::default()),
        });
        let acceptor = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("egress-accept".into())
                .spawn(move || accept_loop(listener, &shared))?
        };
        if let Some(deadline) = deadline {
            let shared = shared.clone();
            thread::Builder::new()
                .name("egress-deadline".into())
                .spawn(move || {
                    if shared.wait_stop_until(deadline) {
                        return;
                    }
                    tracing::info!(submission_id = %shared.job, "egress proxy reached its time limit");
                    shared.wake_acceptor();
                })?;
        }
        Ok(Proxy {
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// What this proxy has done so far.
    pub fn stats(&self) -> ProxyStats {
        self.shared.stats()
    }

    /// Closes the listener and every connection, waits (briefly: about a second at
    /// most) for the proxy's threads, and returns the final stats.
    pub fn stop(mut self) -> ProxyStats {
        self.halt();
        self.shared.stats()
    }

    fn halt(&mut self) {
        self.shared.wake_acceptor();
        self.shared.close_all(true);
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        let until = Instant::now() + STOP_WAIT;
        while !acceptor.is_finished() && Instant::now() < until {
            thread::sleep(Duration::from_millis(5));
        }
        if acceptor.is_finished() {
            if acceptor.join().is_err() {
                tracing::error!(submission_id = %self.shared.job, "the egress accept thread panicked");
            }
        } else {
            tracing::warn!(submission_id = %self.shared.job, "the egress proxy's threads did not end in time; left to finish on their own");
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.halt();
    }
}

/// What the proxy's threads share.
/// One name's lookup, shared by the requests that wait for it.
type Lookup = Arc<OnceLock<Result<Vec<SocketAddr>, String>>>;

struct Shared {
    policy: Policy,
    job: String,
    counters: Arc<Counters>,
    /// Set once, by stop or the deadline: no new connection is served.
    stopping: AtomicBool,
    /// Set once the byte cap is reached.
    exhausted: AtomicBool,
    /// Connections being served.
    active: AtomicU32,
    connections: AtomicU64,
    allowed: AtomicU64,
    denied: AtomicU64,
    bytes: AtomicU64,
    notes: Mutex<Notes>,
    open: Mutex<Open>,
    /// Names resolved for this proxy, each once: an install opens hundreds of tunnels
    /// to the same few hosts in seconds, and a resolver that rate-limits such bursts
    /// (this project's CI's does) would stall them for its timeout. The first lookup
    /// of a name runs while later ones wait for its answer. The cache lives as long as
    /// the proxy (one job) and holds answers, not decisions: each request is still
    /// checked against the policy.
    resolved: Mutex<HashMap<(String, u16), Lookup>>,
    /// A second handle on the listening socket, shut down to wake the blocked accept.
    listener: Mutex<Option<TcpListener>>,
    /// Set (and signalled) once the proxy is stopping: ends the deadline's timer.
    stop_signal: (Mutex<bool>, std::sync::Condvar),
}

impl Shared {
    /// Marks the proxy stopping and wakes the accept thread (and the deadline's timer).
    fn wake_acceptor(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(listener) = lock(&self.listener).take() {
            // Linux: shutdown(2) on a listening socket makes a blocked accept return.
            let _ = socket2::SockRef::from(&listener).shutdown(Shutdown::Both);
        }
        let (flag, signal) = &self.stop_signal;
        *lock(flag) = true;
        signal.notify_all();
    }

    /// Waits until the proxy stops (true) or `deadline` passes (false).
    fn wait_stop_until(&self, deadline: Instant) -> bool {
        let (flag, signal) = &self.stop_signal;
        let mut stopped = lock(flag);
        while !*stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            stopped = signal
                .wait_timeout(stopped, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let once = {
            let mut cache = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
            cache.entry((host.to_owned(), port)).or_default().clone()
        };
        let answer = once
            .get_or_init(|| system_resolve(host, port).map_err(|e| e.to_string()))
            .clone();
        if answer.is_err() {
            // A failure is not kept: the next request asks again.
            let mut cache = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
            if cache
                .get(&(host.to_owned(), port))
                .is_some_and(|kept| Arc::ptr_eq(kept, &once))
            {
                cache.remove(&(host.to_owned(), port));
            }
        }
        answer.map_err(io::Error::other)
    }
}

#[derive(Default)]
struct Notes {
    denials: Vec<String>,
    failures: Vec<String>,
}

/// Handles on every open socket, by connection, for shutting them from another thread.
#[derive(Default)]
struct Open {
    /// No socket may be added any more: the proxy is stopping.
    closed: bool,
    sockets: HashMap<u64, Vec<TcpStream>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // What these mutexes guard stays consistent at every point a panic could occur.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn stats(&self) -> ProxyStats {
        let notes = lock(&self.notes);
        ProxyStats {
            connections: self.connections.load(Ordering::Relaxed),
            allowed: self.allowed.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            denials: notes.denials.clone(),
            failures: notes.failures.clone(),
        }
    }

    /// Registers a socket of connection `id` for [`Shared::close_all`]; refused (and
    /// the socket shut) once the proxy is stopping.
    fn register(&self, id: u64, socket: &TcpStream) -> io::Result<()> {
        let handle = socket.try_clone()?;
        let mut open = lock(&self.open);
        if open.closed {
            let _ = socket.shutdown(Shutdown::Both);
            return Err(io::Error::other("the egress proxy is stopping"));
        }
        open.sockets.entry(id).or_default().push(handle);
        Ok(())
    }

    fn unregister(&self, id: u64) {
        lock(&self.open).sockets.remove(&id);
    }

    /// Shuts every open socket, waking every thread blocked on one; `last` also
    /// refuses sockets registered afterwards.
    fn close_all(&self, last: bool) {
        let mut open = lock(&self.open);
        open.closed |= last;
        for socket in open.sockets.values().flatten() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Takes up to `n` bytes from the byte cap; what it returns may be forwarded.
    fn take_bytes(&self, n: usize) -> usize {
        let max = self.policy.max_bytes;
        let mut used = self.bytes.load(Ordering::Relaxed);
        loop {
            let grant = max.saturating_sub(used).min(n as u64);
            if grant == 0 {
                return 0;
            }
            match self.bytes.compare_exchange_weak(
                used,
                used + grant,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.counters.bytes.fetch_add(grant, Ordering::Relaxed);
                    // `grant` ≤ `n`, a usize.
                    return grant as usize;
                }
                Err(now) => used = now,
            }
        }
    }

    /// The byte cap is reached: closes every tunnel (new requests are closed as they
    /// come, see [`handle`]). Logged and noted once.
    fn exhaust(&self, dest: &HostPort) {
        if !self.exhausted.swap(true, Ordering::SeqCst) {
            let reason = Denied::Capped {
                cap: Cap::Bytes(self.policy.max_bytes),
            }
            .to_string();
            tracing::warn!(
                submission_id = %self.job,
                host = %dest.host,
                port = dest.port,
                decision = "denied",
                reason = %reason,
                "egress byte cap reached: closing every tunnel"
            );
            self.note_denial(reason);
        }
        self.close_all(false);
    }

    fn note_denial(&self, reason: String) {
        let mut notes = lock(&self.notes);
        if notes.denials.len() < MAX_NOTES {
            notes.denials.push(reason);
        }
    }

    /// Counts, logs and notes a refused request.
    fn deny(&self, host: &str, port: u16, reason: &str) {
        self.denied.fetch_add(1, Ordering::Relaxed);
        self.counters.denied.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            submission_id = %self.job,
            host = %host,
            port,
            decision = "denied",
            reason = %reason,
            "egress refused"
        );
        self.note_denial(reason.to_owned());
    }

    fn allow(&self, dest: &HostPort, addrs: &[SocketAddr]) {
        self.allowed.fetch_add(1, Ordering::Relaxed);
        self.counters.allowed.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            submission_id = %self.job,
            host = %dest.host,
            port = dest.port,
            decision = "allowed",
            reason = "on the allow-list",
            addrs = ?addrs,
            "egress allowed"
        );
    }
}

/// Accepts until stopped or past `deadline`, then closes everything.
fn accept_loop(listener: TcpListener, shared: &Arc<Shared>) {
    let mut handlers: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id: u64 = 0;
    let max_concurrent = shared.policy.max_concurrent.max(1);
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        handlers.retain(|h| !h.is_finished());
        // At the limit, new connections wait in the listener's backlog.
        if shared.active.load(Ordering::SeqCst) >= max_concurrent {
            thread::sleep(POLL);
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                next_id += 1;
                let id = next_id;
                shared.connections.fetch_add(1, Ordering::Relaxed);
                shared.active.fetch_add(1, Ordering::SeqCst);
                let slot = Slot {
                    shared: shared.clone(),
                    id,
                };
                let spawned =
                    thread::Builder::new()
                        .name(format!("egress-{id}"))
                        .spawn(move || {
                            let slot = slot;
                            handle(&slot.shared, id, stream);
                        });
                match spawned {
                    Ok(h) => handlers.push(h),
                    // The closure, its slot and the stream are dropped: closed, freed.
                    Err(e) => {
                        tracing::warn!(submission_id = %shared.job, error = %e, "egress: no thread for a connection")
                    }
                }
            }
            // Woken by a stop: the listening socket was shut down.
            Err(_) if shared.stopping.load(Ordering::SeqCst) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                tracing::error!(submission_id = %shared.job, error = %e, "egress listener unusable");
                break;
            }
            // Out of descriptors, a connection aborted before it was accepted, …: passes.
            Err(e) => {
                tracing::warn!(submission_id = %shared.job, error = %e, "egress accept failed");
                thread::sleep(POLL * 5);
            }
        }
    }
    shared.stopping.store(true, Ordering::SeqCst);
    drop(listener);
    shared.close_all(true);
    let until = Instant::now() + GRACE;
    while handlers.iter().any(|h| !h.is_finished()) && Instant::now() < until {
        thread::sleep(Duration::from_millis(5));
    }
    let stats = shared.stats();
    tracing::info!(
        submission_id = %shared.job,
        connections = stats.connections,
        allowed = stats.allowed,
        denied = stats.denied,
        bytes = stats.bytes,
        "egress proxy stopped"
    );
}

/// One connection being served: counted in `active` and registered in `open` until
/// dropped, whichever way its thread ends.
struct Slot {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.unregister(self.id);
        self.shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A request the proxy understood.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    dest: HostPort,
    /// `CONNECT`: the client expects `200` and then speaks for itself.
    connect: bool,
    /// What to send upstream first: for plain HTTP the rewritten head.
    forward: Vec<u8>,
}

/// Serves one accepted connection to its end.
fn handle(shared: &Arc<Shared>, id: u64, client: TcpStream) {
    if shared.register(id, &client).is_err() {
        return;
    }
    let (head, rest) = match read_head(&client) {
        Ok(read) => read,
        Err(HeadError::Closed) => return,
        Err(HeadError::Timeout) => {
            let reason = format!(
                "the request head did not arrive within {} s",
                HEAD_TIMEOUT.as_secs()
            );
            shared.deny("", 0, &reason);
            respond(&client, "408 Request Timeout", &reason);
            return;
        }
        Err(HeadError::TooLarge) => {
            let reason = format!("the request head is larger than {} KiB", MAX_HEAD >> 10);
            shared.deny("", 0, &reason);
            respond(&client, "400 Bad Request", &reason);
            return;
        }
    };
    let request = match parse_request(&head) {
        Ok(request) => request,
        Err(reason) => {
            let reason = format!("malformed proxy request: {reason}");
            shared.deny("", 0, &reason);
            respond(&client, "400 Bad Request", &reason);
            return;
        }
    };
    let dest = &request.dest;
    let cap = shared.policy.max_connections;
    if id > u64::from(cap) {
        let reason = Denied::Capped {
            cap: Cap::Connections(cap),
        }
        .to_string();
        shared.deny(&dest.host, dest.port, &reason);
        respond(&client, "429 Too Many Requests", &reason);
        return;
    }
    if shared.exhausted.load(Ordering::SeqCst) {
        // Closed unanswered; the cap was noted once, when it was reached.
        shared.denied.fetch_add(1, Ordering::Relaxed);
        shared.counters.denied.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            submission_id = %shared.job,
            host = %dest.host,
            port = dest.port,
            decision = "denied",
            reason = %Denied::Capped { cap: Cap::Bytes(shared.policy.max_bytes) },
            "egress refused"
        );
        return;
    }
    let addrs = match decide(&shared.policy, &dest.host, dest.port, &|host, port| {
        shared.resolve(host, port)
    }) {
        Ok(addrs) => addrs,
        Err(denied) => {
            let reason = denied.to_string();
            shared.deny(&dest.host, dest.port, &reason);
            respond(&client, "403 Forbidden", &reason);
            return;
        }
    };
    shared.allow(dest, &addrs);
    let upstream = match connect(&addrs, shared.policy.connect_timeout, &shared.stopping) {
        Ok(upstream) => upstream,
        Err(e) => {
            let reason = format!("could not connect to {dest}: {e}");
            tracing::warn!(
                submission_id = %shared.job,
                host = %dest.host,
                port = dest.port,
                decision = "failed",
                reason = %reason,
                "egress upstream unreachable"
            );
            {
                let mut notes = lock(&shared.notes);
                if notes.failures.len() < MAX_NOTES {
                    notes.failures.push(reason.clone());
                }
            }
            respond(&client, "502 Bad Gateway", &reason);
            return;
        }
    };
    if shared.register(id, &upstream).is_err() {
        return;
    }
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if request.connect
        && (&client)
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .is_err()
    {
        return;
    }
    let mut first = request.forward;
    first.extend_from_slice(&rest);
    if !first.is_empty() && !forward(shared, dest, &first, &upstream) {
        return;
    }
    tunnel(shared, dest, client, upstream);
}

/// Why no request head was read.
#[derive(Debug)]
enum HeadError {
    /// The client went away (or the proxy shut it) before a whole head.
    Closed,
    Timeout,
    TooLarge,
}

/// Reads a request head: up to and including its blank line, and whatever followed in
/// the same reads (sent on, after the head, as the client's).
fn read_head(client: &TcpStream) -> Result<(Vec<u8>, Vec<u8>), HeadError> {
    let deadline = Instant::now() + HEAD_TIMEOUT;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HeadError::Timeout);
        }
        client
            .set_read_timeout(Some(left))
            .map_err(|_| HeadError::Closed)?;
        match (&*client).read(&mut chunk) {
            Ok(0) => return Err(HeadError::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HeadError::Timeout)
            }
            Err(_) => return Err(HeadError::Closed),
        }
        if let Some(end) = head_end(&buf) {
            if end > MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
            let rest = buf.split_off(end);
            client
                .set_read_timeout(None)
                .map_err(|_| HeadError::Closed)?;
            return Ok((buf, rest));
        }
        if buf.len() >= MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
    }
}

/// Where a head ends: after its first empty line (CRLF or bare LF endings).
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' {
            let line = &buf[line_start..i];
            if line.is_empty() || line == b"\r" {
                // The request line itself cannot be empty: an empty first line is the
                // head's end too, and parse_request refuses it.
                return Some(i + 1);
            }
            line_start = i + 1;
        }
    }
    None
}

/// Understands a request head: `CONNECT host:port HTTP/1.x`, or a plain-HTTP request in
/// absolute form, whose head is rewritten for the origin server (origin-form request
/// line, no `Proxy-Connection`/`Proxy-Authorization`). The error says what is wrong.
fn parse_request(head: &[u8]) -> Result<Request, String> {
    let line_end = head
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no request line")?;
    let line = std::str::from_utf8(&head[..line_end])
        .map_err(|_| "the request line is not text".to_string())?;
    let eol = if line.ends_with('\r') { "\r\n" } else { "\n" };
    let line = line.strip_suffix('\r').unwrap_or(line);
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(format!(
            "{} is not a request line (METHOD target HTTP/1.1)",
            quote(line)
        ));
    };
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if method.is_empty() || !method.chars().all(is_tchar) {
        return Err(format!("{} is not a method", quote(method)));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(format!("{} is not HTTP/1.0 or HTTP/1.1", quote(version)));
    }
    if method == "CONNECT" {
        let dest = parse_authority(target, None)
            .map_err(|why| format!("the CONNECT target {} {why}", quote(target)))?;
        return Ok(Request {
            dest,
            connect: true,
            forward: Vec::new(),
        });
    }
    let scheme = target.get(..7).unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("http://") {
        let https = target
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        return Err(if https {
            "https:// URLs go through CONNECT, not as plain requests".into()
        } else {
            format!(
                "the target {} is neither host:port (CONNECT) nor an http:// URL",
                quote(target)
            )
        });
    }
    let after = &target[7..];
    let split = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, path) = after.split_at(split);
    if authority.contains('@') {
        return Err("credentials in the URL are not allowed".into());
    }
    let dest = parse_authority(authority, Some(80))
        .map_err(|why| format!("the URL's host {} {why}", quote(authority)))?;
    let path = path.split('#').next().unwrap_or_default();
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let mut forward = format!("{method} {path} {version}{eol}").into_bytes();
    forward.extend(strip_proxy_headers(&head[line_end + 1..]));
    Ok(Request {
        dest,
        connect: false,
        forward,
    })
}

/// The header lines of a head (after its request line, through its blank line) without
/// `Proxy-Connection` and `Proxy-Authorization`, continuation lines of those included;
/// every other byte as it was.
fn strip_proxy_headers(headers: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(headers.len());
    let mut dropping = false;
    for line in headers.split_inclusive(|&b| b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            // An obsolete folded continuation of the line before.
            if !dropping {
                out.extend_from_slice(line);
            }
            continue;
        }
        let name = content.split(|&b| b == b':').next().unwrap_or_default();
        let name = name.trim_ascii();
        dropping = !content.is_empty()
            && (name.eq_ignore_ascii_case(b"proxy-connection")
                || name.eq_ignore_ascii_case(b"proxy-authorization"));
        if !dropping {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Answers a refused request with `status` and `reason` as its text body, then closes.
fn respond(client: &TcpStream, status: &str, reason: &str) {
    let body = format!("{reason}\n");
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.set_write_timeout(Some(Duration::from_secs(5)));
    if (&*client).write_all(response.as_bytes()).is_err() {
        return;
    }
    let _ = client.shutdown(Shutdown::Write);
    // Unread request bytes would turn the close into a reset that can destroy the
    // response before the client reads it: read them away, briefly.
    let until = Instant::now() + Duration::from_secs(1);
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < 64 << 10 {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || client.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match (&*client).read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Resolves with the host's resolver (getaddrinfo).
fn system_resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

/// Connects to the first of `addrs` that answers, within `timeout` for all of them
/// (each address gets an equal share of what is left, but at least a second of it).
fn connect(
    addrs: &[SocketAddr],
    timeout: Duration,
    stopping: &AtomicBool,
) -> io::Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    for (i, addr) in addrs.iter().enumerate() {
        if stopping.load(Ordering::SeqCst) {
            return Err(io::Error::other("the egress proxy is stopping"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let share = left / (addrs.len() - i) as u32;
        let attempt = share.max(left.min(Duration::from_secs(1)));
        match TcpStream::connect_timeout(addr, attempt) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "timed out")))
}

/// Sends `bytes` to `to` within the byte cap; false when the tunnel is over (the cap
/// reached, or `to` gone).
fn forward(shared: &Shared, dest: &HostPort, bytes: &[u8], to: &TcpStream) -> bool {
    let granted = shared.take_bytes(bytes.len());
    if granted > 0 && (&*to).write_all(&bytes[..granted]).is_err() {
        return false;
    }
    if granted < bytes.len() {
        shared.exhaust(dest);
        return false;
    }
    true
}

/// Pumps bytes both ways until both directions end: client → upstream on this thread,
/// upstream → client on another.
fn tunnel(shared: &Arc<Shared>, dest: &HostPort, client: TcpStream, upstream: TcpStream) {
    let down = match (upstream.try_clone(), client.try_clone()) {
        (Ok(from), Ok(to)) => {
            let (shared, dest) = (shared.clone(), dest.clone());
            thread::Builder::new()
                .name("egress-down".into())
                .spawn(move || pump(&shared, &dest, &from, &to))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let down = match down {
        Ok(down) => down,
        Err(e) => {
            tracing::warn!(submission_id = %shared.job, error = %e, "egress: no thread for a tunnel");
            return;
        }
    };
    pump(shared, dest, &client, &upstream);
    if down.join().is_err() {
        tracing::error!(submission_id = %shared.job, "an egress tunnel thread panicked");
    }
}

/// Copies `from` → `to` until `from` ends (then `to`'s write side is shut, leaving the
/// other direction flowing: a half-close) or fails (then both are shut).
fn pump(shared: &Shared, dest: &HostPort, from: &TcpStream, to: &TcpStream) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match (&*from).read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                if !forward(shared, dest, &buf[..n], to) {
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                let _ = from.shutdown(Shutdown::Both);
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::parse_host_list;
    use std::sync::mpsc;

    /// How long a test waits for what should come at once; a hang fails the test.
    const WAIT: Duration = Duration::from_secs(5);

    fn local_listener() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("its address");
        (listener, addr)
    }

    /// A server echoing each connection until its EOF, then half-closing it.
    fn echo_server() -> SocketAddr {
        let (listener, addr) = local_listener();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let (mut r, mut w) = (&stream, &stream);
                    let _ = io::copy(&mut r, &mut w);
                    let _ = stream.shutdown(Shutdown::Write);
                });
            }
        });
        addr
    }

    /// A one-request HTTP server: sends the head it received, answers `ok`, closes.
    fn http_server() -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
        let (listener, addr) = local_listener();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(WAIT));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match (&stream).read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let _ = tx.send(head);
            let _ = (&stream)
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        });
        (addr, rx)
    }

    fn allowing(addr: SocketAddr) -> Policy {
        Policy::new(vec![HostPort {
            host: addr.ip().to_string(),
            port: addr.port(),
        }])
    }

    fn start(policy: Policy) -> (Proxy, SocketAddr, Arc<Counters>) {
        let (listener, addr) = local_listener();
        let counters = Arc::new(Counters::default());
        let proxy = Proxy::serve(listener, policy, "job-1".into(), counters.clone())
            .expect("serve the listener");
        (proxy, addr, counters)
    }

    fn client(proxy: SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(proxy).expect("connect to the proxy");
        stream.set_read_timeout(Some(WAIT)).expect("set a timeout");
        stream
    }

    fn send(stream: &TcpStream, bytes: &[u8]) {
        (&*stream).write_all(bytes).expect("write to the proxy");
    }

    /// Reads up to and including a response head's blank line (or EOF).
    fn read_response_head(stream: &TcpStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match (&*stream).read(&mut byte) {
                Ok(0) => break,
                Ok(_) => head.push(byte[0]),
                Err(e) => panic!("reading a response head: {e}"),
            }
        }
        String::from_utf8_lossy(&head).into_owned()
    }

    /// Reads to EOF, which must come within [`WAIT`].
    fn read_all(stream: &TcpStream) -> Vec<u8> {
        let mut all = Vec::new();
        match (&*stream).read_to_end(&mut all) {
            Ok(_) => all,
            Err(e) => panic!("no EOF ({e}) after {:?}", String::from_utf8_lossy(&all)),
        }
    }

    fn read_all_text(stream: &TcpStream) -> String {
        String::from_utf8_lossy(&read_all(stream)).into_owned()
    }

    #[test]
    fn connect_tunnels_both_ways_with_half_close() {
        let echo = echo_server();
        let (proxy, addr, counters) = start(allowing(echo));
        let c = client(addr);
        // Bytes in the same write as the head are the client's too: they go upstream.
        send(
            &c,
            format!("CONNECT {echo} HTTP/1.1\r\nHost: {echo}\r\n\r\nearly ").as_bytes(),
        );
        assert_eq!(
            read_response_head(&c),
            "HTTP/1.1 200 Connection established\r\n\r\n"
        );
        send(&c, b"hello");
        // Our EOF reaches the server, whose answer still flows back after it.
        c.shutdown(Shutdown::Write).expect("half-close");
        assert_eq!(read_all(&c), b"early hello");
        let stats = proxy.stop();
        assert_eq!((stats.allowed, stats.denied, stats.bytes), (1, 0, 22));
        assert_eq!(counters.allowed.load(Ordering::Relaxed), 1);
        assert_eq!(counters.bytes.load(Ordering::Relaxed), 22);
        assert!(stats.log_lines().is_empty(), "{:?}", stats.log_lines());
    }

    #[test]
    fn plain_http_goes_in_origin_form_without_proxy_headers() {
        let (server, heads) = http_server();
        let (proxy, addr, _) = start(allowing(server));
        let c = client(addr);
        send(
            &c,
            format!(
                "GET http://{server}/simple/pkg/?q=1 HTTP/1.1\r\nHost: {server}\r\n\
                 Proxy-Connection: keep-alive\r\nproxy-authorization: Basic Zm9vOmJhcg==\r\n\
                 Accept: */*\r\n\r\n"
            )
            .as_bytes(),
        );
        let response = read_all_text(&c);
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\nok"), "{response}");
        let head = heads.recv_timeout(WAIT).expect("the server's request");
        assert_eq!(
            String::from_utf8_lossy(&head),
            format!("GET /simple/pkg/?q=1 HTTP/1.1\r\nHost: {server}\r\nAccept: */*\r\n\r\n")
        );
        assert_eq!(proxy.stop().allowed, 1);
    }

    #[test]
    fn refuses_hosts_off_the_list_with_403() {
        let allow = parse_host_list("pypi.org", 443).expect("list");
        let (proxy, addr, counters) = start(Policy::new(allow));
        let reason = "example.org:443 is not on the allow-list (allowed: pypi.org:443)";
        let c = client(addr);
        send(
            &c,
            b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n",
        );
        let response = read_all_text(&c);
        assert!(
            response.starts_with("HTTP/1.1 403 Forbidden\r\n"),
            "{response}"
        );
        assert!(response.contains("\r\nConnection: close\r\n"), "{response}");
        assert!(
            response.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"),
            "{response}"
        );
        assert!(
            response.ends_with(&format!("\r\n\r\n{reason}\n")),
            "{response}"
        );
        // Plain HTTP is held to the same list (port 80 by default).
        let c = client(addr);
        send(
            &c,
            b"GET http://pypi.org/simple/ HTTP/1.1\r\nHost: pypi.org\r\n\r\n",
        );
        let response = read_all_text(&c);
        assert!(
            response.starts_with("HTTP/1.1 403 Forbidden\r\n"),
            "{response}"
        );
        assert!(
            response.contains("pypi.org:80 is not on the allow-list"),
            "{response}"
        );
        let stats = proxy.stop();
        assert_eq!((stats.allowed, stats.denied), (0, 2));
        assert_eq!(counters.denied.load(Ordering::Relaxed), 2);
        assert_eq!(counters.allowed.load(Ordering::Relaxed), 0);
        assert_eq!(stats.log_lines()[0], format!("egress refused: {reason}"));
        assert_eq!(stats.denials.len(), 2);
    }

    #[test]
    fn refuses_malformed_requests_with_400() {
        let (proxy, addr, _) = start(Policy::new(vec![]));
        let heads: [&[u8]; 4] = [
            b"HELLO\r\n\r\n",
            b"GET /simple/ HTTP/1.1\r\nHost: pypi.org\r\n\r\n",
            b"CONNECT pypi.org HTTP/1.1\r\n\r\n",
            b"CONNECT pypi.org:443 HTTP/2.0\r\n\r\n",
        ];
        for head in heads {
            let c = client(addr);
            send(&c, head);
            let response = read_all_text(&c);
            assert!(
                response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
                "{}: {response}",
                String::from_utf8_lossy(head)
            );
            assert!(response.contains("malformed proxy request: "), "{response}");
        }
        // A head past 16 KiB.
        let c = client(addr);
        let mut big = b"CONNECT pypi.org:443 HTTP/1.1\r\n".to_vec();
        while big.len() <= MAX_HEAD {
            big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        send(&c, &big);
        let response = read_all_text(&c);
        assert!(
            response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{response}"
        );
        assert!(response.contains("larger than 16 KiB"), "{response}");
        assert_eq!(proxy.stop().denied, 5);
    }

    #[test]
    fn answers_502_when_the_destination_is_down() {
        // A port that was just free: nothing listens there.
        let (listener, dead) = local_listener();
        drop(listener);
        let (proxy, addr, _) = start(allowing(dead));
        let c = client(addr);
        send(&c, format!("CONNECT {dead} HTTP/1.1\r\n\r\n").as_bytes());
        let response = read_all_text(&c);
        assert!(
            response.starts_with("HTTP/1.1 502 Bad Gateway\r\n"),
            "{response}"
        );
        let stats = proxy.stop();
        assert_eq!((stats.allowed, stats.denied), (1, 0));
        assert_eq!(stats.failures.len(), 1);
        assert!(
            stats.log_lines()[0]
                .starts_with(&format!("egress failed: could not connect to {dead}")),
            "{:?}",
            stats.log_lines()
        );
    }

    #[test]
    fn closes_every_tunnel_past_the_byte_cap() {
        let echo = echo_server();
        let mut policy = allowing(echo);
        policy.max_bytes = 1000;
        let (proxy, addr, counters) = start(policy);
        let c = client(addr);
        send(&c, format!("CONNECT {echo} HTTP/1.1\r\n\r\n").as_bytes());
        assert_eq!(
            read_response_head(&c),
            "HTTP/1.1 200 Connection established\r\n\r\n"
        );
        // 600 up, then 600 echoed down: only 400 of them fit.
        send(&c, &[b'x'; 600]);
        let back = read_all(&c);
        assert_eq!(back.len(), 400);
        // New requests are closed unanswered.
        let c = client(addr);
        send(&c, format!("CONNECT {echo} HTTP/1.1\r\n\r\n").as_bytes());
        assert_eq!(read_all_text(&c), "");
        let stats = proxy.stop();
        assert_eq!(stats.bytes, 1000);
        assert_eq!(counters.bytes.load(Ordering::Relaxed), 1000);
        assert_eq!((stats.allowed, stats.denied), (1, 1));
        assert_eq!(
            stats.denials,
            ["the job has transferred all 1000 bytes its network access allows"]
        );
    }

    #[test]
    fn answers_429_past_the_connection_cap() {
        let mut policy = Policy::new(vec![]);
        policy.max_connections = 2;
        let (proxy, addr, _) = start(policy);
        for want in ["403 Forbidden", "403 Forbidden", "429 Too Many Requests"] {
            let c = client(addr);
            send(&c, b"CONNECT example.org:443 HTTP/1.1\r\n\r\n");
            let response = read_all_text(&c);
            assert!(
                response.starts_with(&format!("HTTP/1.1 {want}\r\n")),
                "{want}: {response}"
            );
        }
        let stats = proxy.stop();
        assert_eq!((stats.connections, stats.denied), (3, 3));
        assert_eq!(
            stats.denials[2],
            "the job has opened all 2 connections its network access allows"
        );
    }

    #[test]
    fn holds_connections_past_the_concurrency_cap() {
        let echo = echo_server();
        let mut policy = allowing(echo);
        policy.max_concurrent = 1;
        let (proxy, addr, _) = start(policy);
        let first = client(addr);
        send(
            &first,
            format!("CONNECT {echo} HTTP/1.1\r\n\r\n").as_bytes(),
        );
        assert_eq!(
            read_response_head(&first),
            "HTTP/1.1 200 Connection established\r\n\r\n"
        );
        let second = client(addr);
        send(
            &second,
            format!("CONNECT {echo} HTTP/1.1\r\n\r\n").as_bytes(),
        );
        second
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("set a timeout");
        let mut byte = [0u8; 1];
        let early = (&second).read(&mut byte);
        assert!(
            matches!(&early, Err(e) if e.kind() == io::ErrorKind::WouldBlock),
            "{early:?}"
        );
        // The first tunnel ends; the second is served.
        first.shutdown(Shutdown::Write).expect("half-close");
        assert_eq!(read_all(&first), b"");
        second.set_read_timeout(Some(WAIT)).expect("set a timeout");
        assert_eq!(
            read_response_head(&second),
            "HTTP/1.1 200 Connection established\r\n\r\n"
        );
        assert_eq!(proxy.stop().allowed, 2);
    }

    #[test]
    fn stops_promptly_with_idle_tunnels_and_half_heads() {
        let echo = echo_server();
        let (proxy, addr, _) = start(allowing(echo));
        let idle = client(addr);
        send(&idle, format!("CONNECT {echo} HTTP/1.1\r\n\r\n").as_bytes());
        assert_eq!(
            read_response_head(&idle),
            "HTTP/1.1 200 Connection established\r\n\r\n"
        );
        let half = client(addr);
        send(&half, b"CONNECT 127.0.0.1:");
        thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let stats = proxy.stop();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(stats.allowed, 1);
        assert_eq!(read_all(&idle), b"");
        assert_eq!(read_all(&half), b"");
        assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
    }

    #[test]
    fn stops_by_itself_at_max_time() {
        let echo = echo_server();
        let mut policy = allowing(echo);
        policy.max_time = Duration::from_millis(300);
        let (proxy, addr, _) = start(policy);
        let started = Instant::now();
        let idle = client(addr);
        send(&idle, format!("CONNECT {echo} HTTP/1.1\r\n\r\n").as_bytes());
        assert_eq!(
            read_response_head(&idle),
            "HTTP/1.1 200 Connection established\r\n\r\n"
        );
        assert_eq!(read_all(&idle), b"");
        let ended = started.elapsed();
        assert!(
            ended >= Duration::from_millis(250) && ended < Duration::from_secs(3),
            "{ended:?}"
        );
        let stopping = Instant::now();
        assert_eq!(proxy.stop().allowed, 1);
        assert!(stopping.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn parses_requests() {
        let connect = parse_request(b"CONNECT [2001:DB8::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("CONNECT");
        assert_eq!(
            connect,
            Request {
                dest: HostPort {
                    host: "2001:db8::1".into(),
                    port: 443
                },
                connect: true,
                forward: vec![],
            }
        );
        let get =
            parse_request(b"POST HTTP://Example.ORG?x=1 HTTP/1.0\nProxy-Connection: close\n\n")
                .expect("plain");
        assert_eq!(
            get.dest,
            HostPort {
                host: "example.org".into(),
                port: 80
            }
        );
        assert!(!get.connect);
        assert_eq!(get.forward, b"POST /?x=1 HTTP/1.0\n\n");
        let get = parse_request(b"GET http://example.org:8080 HTTP/1.1\r\n\r\n").expect("plain");
        assert_eq!(get.dest.port, 8080);
        assert_eq!(get.forward, b"GET / HTTP/1.1\r\n\r\n");
        for (head, why) in [
            (
                &b"GET https://pypi.org/ HTTP/1.1\r\n\r\n"[..],
                "go through CONNECT",
            ),
            (
                b"GET http://user:pw@pypi.org/ HTTP/1.1\r\n\r\n",
                "credentials",
            ),
            (
                b"GET http:///x HTTP/1.1\r\n\r\n",
                "the URL's host \"\" is empty",
            ),
            (
                b"GET  http://pypi.org/ HTTP/1.1\r\n\r\n",
                "not a request line",
            ),
            (b"G(T http://pypi.org/ HTTP/1.1\r\n\r\n", "not a method"),
            (b"CONNECT 10.0.0.1:99999 HTTP/1.1\r\n\r\n", "invalid port"),
            (
                b"CONNECT evil\r\n.org:443 HTTP/1.1\r\n\r\n",
                "not a request line",
            ),
            (b"\r\n", "not a request line"),
        ] {
            let err = parse_request(head).expect_err(why);
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn strips_proxy_headers_and_their_continuations() {
        let headers =
            b"Host: a\r\nProxy-Authorization: Basic x\r\n  folded-secret\r\nX-Kept: 1\r\n\
                        \tfolded-kept\r\nPROXY-CONNECTION : keep-alive\r\nProxy-Other: y\r\n\r\n";
        assert_eq!(
            String::from_utf8_lossy(&strip_proxy_headers(headers)),
            "Host: a\r\nX-Kept: 1\r\n\tfolded-kept\r\nProxy-Other: y\r\n\r\n"
        );
    }

    #[test]
    fn finds_head_ends() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody"), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\nA: b\n\nbody"), Some(21));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
    }
}
