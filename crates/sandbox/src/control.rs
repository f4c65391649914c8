//! Long-lived jails (e.g. an Anvil chain lent to test runs): a [`Control`] lets
//! another thread learn the jail's host PID and network namespace, see whether it is
//! still alive, stop it, and see that it ended.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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
}

/// A handle on one `run_controlled` call, shared with other threads.
pub struct Control {
    state: Mutex<State>,
    changed: Condvar,
    /// The supervisor polls the read end; `kill` writes one byte.
    kill_r: OwnedFd,
    kill_w: OwnedFd,
}

impl Default for Control {
    fn default() -> Self {
        Self::new()
    }
}

impl Control {
    pub fn new() -> Control {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the two-element array.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
        assert!(rc == 0, "pipe2: {}", io::Error::last_os_error());
        // SAFETY: both descriptors were just created and belong to nobody else.
        let (kill_r, kill_w) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Control {
            state: Mutex::default(),
            changed: Condvar::new(),
            kill_r,
            kill_w,
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
        let mut p = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: a non-blocking poll on one pollfd; a pidfd turns readable when the
        // process has exited.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n == 0
    }

    pub(crate) fn kill_fd(&self) -> i32 {
        self.kill_r.as_raw_fd()
    }

    pub(crate) fn started(&self, pid: u32, netns: NetNs, pidfd: OwnedFd) {
        {
            let mut st = self.lock();
            st.pid = Some(pid);
            st.netns = Some(netns);
            st.pidfd = Some(pidfd);
        }
        self.changed.notify_all();
    }

    pub(crate) fn ended(&self) {
        {
            let mut st = self.lock();
            st.finished = true;
            st.pidfd = None;
        }
        self.changed.notify_all();
    }
}
