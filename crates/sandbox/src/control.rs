//! Long-lived jails (e.g. an Anvil chain lent to test runs): a [`Control`] lets
//! another thread learn the jail's host PID and network namespace, see whether it is
//! still alive, stop it, and see that it ended.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::{sys, NetNs};

#[derive(Default)]
struct State {
    pid: Option<u32>,
    /// The jail's network namespace, opened while its init was alive.
    netns: Option<NetNs>,
    /// A copy of the supervisor's pidfd of init: readable once init has died.
    pidfd: Option<OwnedFd>,
    finished: bool,
    /// A warm jail's end of its job socket, until the job is delivered.
    job: Option<OwnedFd>,
    /// The preamble wrote its `R`.
    ready: bool,
    delivered: bool,
    /// The supervisor has taken the delivery in: the run's clocks started and the
    /// preamble's niceness was put back.
    acknowledged: bool,
    /// The job socket after delivery, kept open (write side shut) so a preamble that
    /// says `R` late is not hit by EPIPE.
    spent_job: Option<OwnedFd>,
}

/// A handle on one `run_controlled` call, shared with other threads.
pub struct Control {
    state: Mutex<State>,
    changed: Condvar,
    /// The supervisor polls the read end; `kill` writes one byte.
    kill_r: OwnedFd,
    kill_w: OwnedFd,
    /// The supervisor polls the read end; `deliver` writes one byte before the job.
    deliver_r: OwnedFd,
    deliver_w: OwnedFd,
    /// The run's memory now, as the supervisor last read it.
    memory: AtomicU64,
}

impl Default for Control {
    fn default() -> Self {
        Self::new()
    }
}

impl Control {
    pub fn new() -> Control {
        let (kill_r, kill_w) = nonblocking_pipe();
        let (deliver_r, deliver_w) = nonblocking_pipe();
        Control {
            state: Mutex::default(),
            changed: Condvar::new(),
            kill_r,
            kill_w,
            deliver_r,
            deliver_w,
            memory: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the run (its whole PID namespace) as soon as the supervisor sees it;
    /// the report then says `signaled` with signal 9. Idempotent.
    pub fn kill(&self) {
        let _ = sys::write_all(self.kill_w.as_raw_fd(), b"k");
    }

    /// True once [`Control::kill`] has been called.
    pub fn kill_requested(&self) -> bool {
        // Nothing is read: the supervisor still sees the byte.
        sys::poll_one(self.kill_r.as_raw_fd(), libc::POLLIN, 0) > 0
    }

    /// True once `run_controlled` has returned (or failed).
    pub fn finished(&self) -> bool {
        self.lock().finished
    }

    /// Waits until the jail is set up and returns the host PID of its init, or `None`
    /// on timeout or when the run ended first. (To join its network use
    /// [`Control::netns`], never `/proc/PID/ns/net`: once the jail is gone that PID
    /// may belong to anyone.)
    pub fn wait_started(&self, timeout: Duration) -> Option<u32> {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if let Some(pid) = st.pid {
                return (!st.finished).then_some(pid);
            }
            if st.finished {
                return None;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            st = self
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The jail's network namespace, once it has started (kept after it ended: the
    /// handle then holds an empty namespace that nothing listens in; check
    /// [`Control::is_alive`] before lending it).
    pub fn netns(&self) -> Option<NetNs> {
        self.lock().netns.clone()
    }

    /// True while the jail's init is alive: started, and neither dead nor reaped.
    pub fn is_alive(&self) -> bool {
        let st = self.lock();
        if st.finished {
            return false;
        }
        let Some(pidfd) = &st.pidfd else {
            return false;
        };
        // A pidfd turns readable when the process has exited.
        sys::poll_one(pidfd.as_raw_fd(), libc::POLLIN, 0) == 0
    }

    /// Memory charged to the run's cgroup, as last read by the supervisor (every
    /// 20 ms while it runs).
    pub fn memory_bytes(&self) -> u64 {
        self.memory.load(Ordering::Relaxed)
    }

    /// A warm jail's job has been delivered.
    pub fn delivered(&self) -> bool {
        self.lock().delivered
    }

    /// A warm jail's preamble has said it is ready (its `R` arrived). Never blocks.
    pub fn is_ready(&self) -> bool {
        let mut st = self.lock();
        poll_ready(&mut st, 0)
    }

    /// Waits up to `timeout` for a warm jail's preamble to say it is ready; false on
    /// timeout, or when the jail ended or its job was already delivered.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let mut st = self.lock();
            if poll_ready(&mut st, 0) {
                return true;
            }
            if st.finished || st.job.is_none() && st.pid.is_some() {
                return false;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            if st.job.is_some() {
                // Short slices, so `deliver` and `kill` never wait long for the lock.
                let slice = left.min(Duration::from_millis(50));
                if poll_ready(&mut st, slice.as_millis() as i32) {
                    return true;
                }
            } else {
                drop(
                    self.changed
                        .wait_timeout(st, left.min(Duration::from_millis(50)))
                        .unwrap_or_else(|e| e.into_inner()),
                );
            }
        }
    }

    /// Hands a warm jail its job: starts the run's clocks, writes `job` to the job
    /// socket (giving up after `timeout`) and closes it, so the preamble reads EOF
    /// after the last byte. Once only; returns whether the preamble was ready. An
    /// error means the job did not get through (the preamble is gone or stuck): stop
    /// the jail with [`Control::kill`], its report says how it ended.
    pub fn deliver(&self, job: &[u8], timeout: Duration) -> io::Result<bool> {
        // A jail taken right after it was asked for may still be on its way up.
        let _ = self.wait_started(timeout);
        let (fd, ready) = {
            let mut st = self.lock();
            let ready = poll_ready(&mut st, 0);
            let Some(fd) = st.job.take() else {
                return Err(io::Error::other(if st.delivered {
                    "the job was already delivered"
                } else {
                    "not a warm jail, or it has not started"
                }));
            };
            st.delivered = true;
            (fd, ready)
        };
        sys::write_all(self.deliver_w.as_raw_fd(), b"d").map_err(io::Error::from_raw_os_error)?;
        // The job goes in only once the supervisor has started the clocks and reset
        // the niceness: sent earlier, a quick preamble could run part of its job
        // still niced and off the clocks (a busy machine delays the supervisor's wake).
        let deadline = Instant::now() + timeout;
        {
            let mut st = self.lock();
            while !st.acknowledged && !st.finished {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    break;
                };
                st = self
                    .changed
                    .wait_timeout(st, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        sys::send_all(fd.as_raw_fd(), job, deadline).map_err(io::Error::from_raw_os_error)?;
        // SAFETY: shutdown on a socket we own.
        unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_WR) };
        self.lock().spent_job = Some(fd);
        Ok(ready)
    }

    pub(crate) fn kill_fd(&self) -> i32 {
        self.kill_r.as_raw_fd()
    }

    pub(crate) fn deliver_fd(&self) -> i32 {
        self.deliver_r.as_raw_fd()
    }

    pub(crate) fn set_memory(&self, bytes: u64) {
        self.memory.store(bytes, Ordering::Relaxed);
    }

    /// The supervisor took the delivery in ([`Control::deliver`] waits for this).
    pub(crate) fn acknowledge_delivery(&self) {
        self.lock().acknowledged = true;
        self.changed.notify_all();
    }

    /// Whether the preamble's `R` had arrived, read by the supervisor at delivery.
    pub(crate) fn was_ready(&self) -> bool {
        self.lock().ready
    }

    pub(crate) fn started(&self, pid: u32, netns: NetNs, pidfd: OwnedFd, job: Option<OwnedFd>) {
        {
            let mut st = self.lock();
            st.pid = Some(pid);
            st.netns = Some(netns);
            st.pidfd = Some(pidfd);
            st.job = job;
        }
        self.changed.notify_all();
    }

    pub(crate) fn ended(&self) {
        {
            let mut st = self.lock();
            st.finished = true;
            st.pidfd = None;
            st.job = None;
            st.spent_job = None;
        }
        self.changed.notify_all();
    }
}

fn nonblocking_pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    assert!(rc == 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: both descriptors were just created and belong to nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Reads the preamble's `R` from the job socket if it has come, waiting up to
/// `timeout_ms`. Anything else the preamble writes there is ignored.
fn poll_ready(st: &mut State, timeout_ms: i32) -> bool {
    if st.ready {
        return true;
    }
    let Some(fd) = &st.job else { return false };
    if sys::poll_one(fd.as_raw_fd(), libc::POLLIN, timeout_ms) <= 0 {
        return false;
    }
    let mut b = [0u8; 1];
    // SAFETY: a non-blocking read of one byte into a local buffer.
    let n = unsafe { libc::recv(fd.as_raw_fd(), b.as_mut_ptr().cast(), 1, libc::MSG_DONTWAIT) };
    if n == 1 && b[0] == b'R' {
        st.ready = true;
    }
    st.ready
}
