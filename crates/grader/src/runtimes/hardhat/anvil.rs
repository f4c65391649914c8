//! A pool of Anvil chains, each in a jail of its own with its own network namespace.
//! A job borrows one: its jail joins the chain's namespace, so `127.0.0.1:8545` is its
//! chain and nothing else.
//!
//! Each chain's namespace is held by a descriptor opened while its jail was alive
//! ([`NetNs`]), never named by `/proc/<pid>/ns/net`: a dead chain's PID may be reused
//! by anyone, its descriptor still names its own (then empty) namespace. Before a
//! chain is lent it is checked alive, both ways: its jail's init has not died, and it
//! answers `eth_chainId` with our chain id; a chain that died idle is replaced on the
//! spot, never handed to a job. On return the chain is reset, then checked to really
//! be fresh (a reset does not restore chain id, automine, gas limit or balances, and
//! can race with mining); a chain that is not fresh, or not healthy, is restarted.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use gauntlet_sandbox::{
    self as sandbox, Bind, Control, Limits, NetNs, Network, OutputSink, Spec, Stream,
};
use serde_json::{json, Value};

use super::toolchain::ANVIL_BIN;
use crate::runtimes::runtime::{Lease, RuntimeError};

/// Where the toolchain is bound inside jails.
pub const TOOLCHAIN_INSIDE: &str = "/opt/gauntlet/hardhat";
pub const RPC_PORT: u16 = 8545;
pub const CHAIN_ID: u64 = 31337;
pub const GAS_LIMIT: u64 = 30_000_000;
/// Anvil's first dev account and its starting balance (10000 ETH).
pub const DEV_ACCOUNT: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
pub const DEV_BALANCE_WEI: u128 = 10_000 * 1_000_000_000_000_000_000;
const MNEMONIC: &str = "test test test test test test test test test test test junk";

/// How the pool is set up.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The prepared toolchain tree (holds the Anvil binary).
    pub toolchain: PathBuf,
    /// Chains kept running.
    pub size: usize,
    /// How long a job waits for a free chain before it is refused.
    pub acquire_timeout: Duration,
    /// How long a fresh chain may take to answer.
    pub ready_timeout: Duration,
    /// How often idle chains are checked.
    pub health_interval: Duration,
    /// How long a chain may take to answer the check before it is lent.
    pub lend_check_timeout: Duration,
}

impl PoolConfig {
    pub fn new(toolchain: PathBuf, size: usize) -> Self {
        PoolConfig {
            toolchain,
            size: size.max(1),
            acquire_timeout: Duration::from_secs(60),
            ready_timeout: Duration::from_secs(10),
            health_interval: Duration::from_secs(15),
            lend_check_timeout: Duration::from_secs(2),
        }
    }
}

/// Counters the server exports as metrics.
#[derive(Debug, Default)]
pub struct PoolStats {
    pub leases: AtomicU64,
    pub restarts: AtomicU64,
    pub failed_resets: AtomicU64,
    /// Total microseconds jobs waited for a chain.
    pub wait_micros: AtomicU64,
    pub timeouts: AtomicU64,
    /// Idle chains found dead (jail gone, or no answer) when about to be lent, and
    /// replaced.
    pub dead_on_lend: AtomicU64,
}

/// A snapshot of the pool for metrics and the admin view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolStatus {
    pub size: usize,
    pub idle: usize,
    pub lent: usize,
}

/// One running chain.
struct Chain {
    control: Arc<Control>,
    netns: NetNs,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Chain {
    /// A chain never outlives its handle: the pool dropping (the process ending
    /// normally) stops every chain it holds.
    fn drop(&mut self) {
        self.control.kill();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct State {
    idle: VecDeque<Chain>,
    lent: usize,
    closed: bool,
}

struct Inner {
    cfg: PoolConfig,
    state: Mutex<State>,
    freed: Condvar,
    stats: PoolStats,
}

/// The pool. Clones share it.
#[derive(Clone)]
pub struct AnvilPool {
    inner: Arc<Inner>,
}

/// Errors of one chain, named by step.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("anvil did not start: {0}")]
    Start(String),
    #[error("anvil did not answer within {0:?}")]
    NotReady(Duration),
    #[error("rpc {method}: {detail}")]
    Rpc { method: String, detail: String },
    #[error("chain not fresh after reset: {0}")]
    NotFresh(String),
    #[error("chain is dead: {0}")]
    Dead(String),
}

impl AnvilPool {
    /// Starts `cfg.size` chains. Fails if the first cannot start (no point in a pool
    /// that cannot run anything); later failures are retried by the health check.
    pub fn start(cfg: PoolConfig) -> Result<Self, ChainError> {
        let inner = Arc::new(Inner {
            cfg,
            state: Mutex::new(State {
                idle: VecDeque::new(),
                lent: 0,
                closed: false,
            }),
            freed: Condvar::new(),
            stats: PoolStats::default(),
        });
        let pool = AnvilPool { inner };
        for i in 0..pool.inner.cfg.size {
            match pool.inner.spawn_chain() {
                Ok(chain) => pool.inner.give_back(chain),
                Err(e) if i == 0 => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "anvil chain did not start; the health check retries")
                }
            }
        }
        let weak = Arc::downgrade(&pool.inner);
        thread::Builder::new()
            .name("anvil-health".into())
            .spawn(move || health_loop(weak))
            .map_err(|e| ChainError::Start(e.to_string()))?;
        Ok(pool)
    }

    pub fn stats(&self) -> &PoolStats {
        &self.inner.stats
    }

    pub fn status(&self) -> PoolStatus {
        let st = self.inner.lock();
        PoolStatus {
            size: self.inner.cfg.size,
            idle: st.idle.len(),
            lent: st.lent,
        }
    }

    /// Borrows a chain only if one is idle now (for a warm jail, which is not worth
    /// a wait).
    pub fn try_acquire(&self) -> Result<ChainLease, RuntimeError> {
        if self.inner.lock().idle.is_empty() {
            return Err(RuntimeError::NotReady {
                runtime: "hardhat".into(),
                reason: "no idle chain".into(),
            });
        }
        self.acquire()
    }

    /// Borrows a live chain, waiting up to the configured bound. An idle chain that
    /// died is replaced before it could be lent.
    pub fn acquire(&self) -> Result<ChainLease, RuntimeError> {
        let started = Instant::now();
        let deadline = started + self.inner.cfg.acquire_timeout;
        loop {
            let chain = self.inner.take_idle(deadline)?;
            let chain = match self.inner.check_alive(&chain) {
                Ok(()) => chain,
                Err(why) => {
                    tracing::warn!(error = %why, "an idle chain died: replacing it before lending");
                    self.inner
                        .stats
                        .dead_on_lend
                        .fetch_add(1, Ordering::Relaxed);
                    drop(chain);
                    match self.inner.restart() {
                        Some(fresh) => fresh,
                        None => {
                            // Counted as lent while checked: give the place back.
                            self.inner.lock().lent -= 1;
                            self.inner.freed.notify_one();
                            continue;
                        }
                    }
                }
            };
            self.inner.stats.leases.fetch_add(1, Ordering::Relaxed);
            self.inner.stats.wait_micros.fetch_add(
                u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            return Ok(ChainLease {
                pool: self.inner.clone(),
                chain: Some(chain),
            });
        }
    }

    /// Stops every idle chain and refuses new leases; lent chains stop when returned.
    pub fn shutdown(&self) {
        let chains: Vec<Chain> = {
            let mut st = self.inner.lock();
            st.closed = true;
            st.idle.drain(..).collect()
        };
        for c in chains {
            drop(c);
        }
        self.inner.freed.notify_all();
    }
}

fn not_ready(reason: &str) -> RuntimeError {
    RuntimeError::NotReady {
        runtime: "hardhat".into(),
        reason: reason.into(),
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes an idle chain, waiting until `deadline`; it counts as lent from here.
    fn take_idle(&self, deadline: Instant) -> Result<Chain, RuntimeError> {
        let mut st = self.lock();
        loop {
            if st.closed {
                return Err(not_ready("the chain pool is shut down"));
            }
            if let Some(chain) = st.idle.pop_front() {
                st.lent += 1;
                return Ok(chain);
            }
            let now = Instant::now();
            if now >= deadline {
                self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(not_ready(&format!(
                    "no free chain within {:?} ({} in the pool)",
                    self.cfg.acquire_timeout, self.cfg.size
                )));
            }
            st = self
                .freed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The chain's jail is alive (its init neither dead nor reaped) and the chain
    /// answers with our chain id.
    fn check_alive(&self, chain: &Chain) -> Result<(), ChainError> {
        if !chain.control.is_alive() {
            return Err(ChainError::Dead("its jail has ended".into()));
        }
        let id = rpc_within(
            &chain.netns,
            "eth_chainId",
            json!([]),
            self.cfg.lend_check_timeout,
        )?;
        let id = id
            .as_str()
            .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok());
        if id != Some(CHAIN_ID) {
            return Err(ChainError::Dead(format!("it answers chain id {id:?}")));
        }
        Ok(())
    }

    fn give_back(&self, chain: Chain) {
        let mut st = self.lock();
        if st.closed {
            drop(st);
            drop(chain);
            return;
        }
        st.idle.push_back(chain);
        drop(st);
        self.freed.notify_one();
    }

    /// Starts one chain in its own jail and waits until it answers.
    fn spawn_chain(&self) -> Result<Chain, ChainError> {
        let control = Arc::new(Control::new());
        let spec = anvil_spec(&self.cfg.toolchain);
        let ctl = control.clone();
        let (failed_tx, failed_rx) = std::sync::mpsc::channel::<String>();
        let thread = thread::Builder::new()
            .name("anvil".into())
            .spawn(move || {
                let mut sink = DiscardSink;
                match sandbox::run_controlled(&spec, &mut sink, &ctl) {
                    Ok(report) => {
                        tracing::debug!(status = ?report.status, "anvil exited");
                        let _ = failed_tx.send(format!(
                            "anvil ended: {:?} {}",
                            report.status,
                            report.error.unwrap_or_default()
                        ));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "anvil jail failed");
                        let _ = failed_tx.send(e.to_string());
                    }
                }
            })
            .map_err(|e| ChainError::Start(e.to_string()))?;
        let Some(netns) = control
            .wait_started(self.cfg.ready_timeout)
            .and_then(|_| control.netns())
        else {
            control.kill();
            let _ = thread.join();
            let why = failed_rx
                .try_recv()
                .unwrap_or_else(|_| "the jail did not start in time".into());
            return Err(ChainError::Start(why));
        };
        let chain = Chain {
            control,
            netns,
            thread: Some(thread),
        };
        let deadline = Instant::now() + self.cfg.ready_timeout;
        loop {
            match rpc(&chain.netns, "eth_chainId", json!([])) {
                Ok(_) => return Ok(chain),
                Err(_) if Instant::now() < deadline && !chain.control.finished() => {
                    thread::sleep(Duration::from_millis(5));
                }
                Err(_) => {
                    drop(chain);
                    return Err(ChainError::NotReady(self.cfg.ready_timeout));
                }
            }
        }
    }

    /// Takes back a lent chain: reset and verify, or replace it.
    fn take_back(&self, chain: Chain) {
        let fresh = reset(&chain.netns).and_then(|()| verify_fresh(&chain.netns));
        let chain = match fresh {
            Ok(()) => Some(chain),
            Err(e) => {
                tracing::info!(error = %e, "restarting a chain that did not come back fresh");
                self.stats.failed_resets.fetch_add(1, Ordering::Relaxed);
                drop(chain);
                self.restart()
            }
        };
        {
            let mut st = self.lock();
            st.lent -= 1;
        }
        if let Some(chain) = chain {
            self.give_back(chain);
        } else {
            self.freed.notify_one();
        }
    }

    fn restart(&self) -> Option<Chain> {
        self.stats.restarts.fetch_add(1, Ordering::Relaxed);
        match self.spawn_chain() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "could not restart a chain");
                None
            }
        }
    }
}

/// Checks idle chains now and then, restarts the unhealthy ones and refills the pool.
fn health_loop(pool: std::sync::Weak<Inner>) {
    loop {
        let interval = match pool.upgrade() {
            Some(p) => p.cfg.health_interval,
            None => return,
        };
        thread::sleep(interval);
        let Some(p) = pool.upgrade() else { return };
        let idle: Vec<Chain> = {
            let mut st = p.lock();
            if st.closed {
                return;
            }
            st.idle.drain(..).collect()
        };
        let mut count = idle.len();
        for chain in idle {
            if p.check_alive(&chain).is_ok() {
                p.give_back(chain);
            } else {
                tracing::warn!("an idle chain is unhealthy: restarting it");
                drop(chain);
                match p.restart() {
                    Some(c) => p.give_back(c),
                    None => count -= 1,
                }
            }
        }
        let missing = {
            let st = p.lock();
            p.cfg.size.saturating_sub(count + st.lent)
        };
        for _ in 0..missing {
            if let Some(c) = p.restart() {
                p.give_back(c);
            }
        }
    }
}

/// A chain lent to one job; dropping it resets the chain and returns it.
pub struct ChainLease {
    pool: Arc<Inner>,
    chain: Option<Chain>,
}

impl ChainLease {
    pub fn netns(&self) -> &NetNs {
        &self.chain.as_ref().expect("lease holds a chain").netns
    }
}

impl Lease for ChainLease {
    fn network(&self) -> Network {
        Network::Join(self.netns().clone())
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![("RPC_URL".into(), format!("http://127.0.0.1:{RPC_PORT}"))]
    }
}

impl Drop for ChainLease {
    fn drop(&mut self) {
        if let Some(chain) = self.chain.take() {
            self.pool.take_back(chain);
        }
    }
}

struct DiscardSink;

impl OutputSink for DiscardSink {
    fn output(&mut self, _stream: Stream, _bytes: &[u8]) {}
}

/// The jail of one chain: the toolchain read-only, its own empty network, no time
/// limits (it lives as long as the pool), modest memory.
fn anvil_spec(toolchain: &Path) -> Spec {
    let inside = Path::new(TOOLCHAIN_INSIDE);
    let args = [
        inside.join(ANVIL_BIN).to_string_lossy().into_owned(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        RPC_PORT.to_string(),
        "--silent".into(),
        "--chain-id".into(),
        CHAIN_ID.to_string(),
        "--hardfork".into(),
        "prague".into(),
        "--gas-limit".into(),
        GAS_LIMIT.to_string(),
        "--accounts".into(),
        "10".into(),
        "--balance".into(),
        "10000".into(),
        "--mnemonic".into(),
        MNEMONIC.into(),
    ];
    let mut spec = Spec::new(args);
    spec.limits = Limits {
        wall_time: Duration::from_secs(365 * 24 * 3600),
        idle_timeout: None,
        cpu_time: Duration::from_secs(365 * 24 * 3600),
        memory: 1 << 30,
        pids: 64,
        tmp_size: 16 << 20,
        output_limit: 64 << 10,
    };
    spec.ro_binds.push(Bind {
        host: toolchain.to_owned(),
        inside: inside.to_owned(),
    });
    spec.network = Network::None;
    spec
}

/// Resets the chain to its genesis.
fn reset(netns: &NetNs) -> Result<(), ChainError> {
    rpc(netns, "anvil_reset", json!([])).map(|_| ())
}

/// The chain is fresh: block 0, our chain id, automine on, our gas limit, and the
/// first dev account's full balance.
fn verify_fresh(netns: &NetNs) -> Result<(), ChainError> {
    let hex_u128 = |v: &Value| -> Option<u128> {
        u128::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
    };
    let block = rpc(netns, "eth_blockNumber", json!([]))?;
    if hex_u128(&block) != Some(0) {
        return Err(ChainError::NotFresh(format!("block number {block}")));
    }
    let chain_id = rpc(netns, "eth_chainId", json!([]))?;
    if hex_u128(&chain_id) != Some(u128::from(CHAIN_ID)) {
        return Err(ChainError::NotFresh(format!("chain id {chain_id}")));
    }
    let automine = rpc(netns, "anvil_getAutomine", json!([]))?;
    if automine != Value::Bool(true) {
        return Err(ChainError::NotFresh(format!("automine {automine}")));
    }
    let latest = rpc(netns, "eth_getBlockByNumber", json!(["latest", false]))?;
    if hex_u128(&latest["gasLimit"]) != Some(u128::from(GAS_LIMIT)) {
        return Err(ChainError::NotFresh(format!(
            "gas limit {}",
            latest["gasLimit"]
        )));
    }
    let balance = rpc(netns, "eth_getBalance", json!([DEV_ACCOUNT, "latest"]))?;
    if hex_u128(&balance) != Some(DEV_BALANCE_WEI) {
        return Err(ChainError::NotFresh(format!("dev balance {balance}")));
    }
    Ok(())
}

/// One JSON-RPC call to the chain in `netns`.
///
/// Written by hand rather than with an HTTP client crate: the socket must be opened
/// from inside the chain's network namespace (`sandbox::connect_tcp_in`), and the
/// exchange is one small POST with a `Content-Length` answer from a known server.
pub fn rpc(netns: &NetNs, method: &str, params: Value) -> Result<Value, ChainError> {
    rpc_within(netns, method, params, Duration::from_secs(5))
}

/// [`rpc`] with its own bound on connecting, sending and reading.
fn rpc_within(
    netns: &NetNs,
    method: &str,
    params: Value,
    timeout: Duration,
) -> Result<Value, ChainError> {
    let err = |detail: String| ChainError::Rpc {
        method: method.to_owned(),
        detail,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], RPC_PORT));
    let stream = sandbox::connect_tcp_in(netns, addr, timeout).map_err(|e| err(e.to_string()))?;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let answer = http_post(stream, &body, timeout).map_err(|e| err(e.to_string()))?;
    let v: Value = serde_json::from_slice(&answer).map_err(|e| err(format!("bad JSON: {e}")))?;
    if let Some(e) = v.get("error") {
        return Err(err(e.to_string()));
    }
    Ok(v.get("result").cloned().unwrap_or(Value::Null))
}

const MAX_RPC_ANSWER: usize = 4 << 20;

fn http_post(mut stream: TcpStream, body: &str, timeout: Duration) -> io::Result<Vec<u8>> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    )?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    if !status.starts_with("HTTP/1.1 200") && !status.starts_with("HTTP/1.0 200") {
        return Err(io::Error::other(format!("status {}", status.trim())));
    }
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = Vec::new();
    match length {
        Some(n) if n <= MAX_RPC_ANSWER => {
            body.resize(n, 0);
            reader.read_exact(&mut body)?;
        }
        Some(n) => {
            return Err(io::Error::other(format!(
                "answer of {n} bytes is too large"
            )))
        }
        None => {
            reader.take(MAX_RPC_ANSWER as u64).read_to_end(&mut body)?;
        }
    }
    Ok(body)
}
