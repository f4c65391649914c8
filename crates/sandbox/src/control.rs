//! Long-lived jails (e.g. an Anvil chain lent to test runs): a [`Control`] lets
//! another thread learn the jail's host PID, stop it, and see that it ended; and
//! [`connect_tcp_in`] opens a TCP connection from inside a jail's network namespace.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::sys;

#[derive(Default)]
struct State {
    pid: Option<u32>,
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

    /// Waits until the jail is set up and returns the host PID of its init (a
    /// process in every namespace of the jail: `/proc/PID/ns/net` is its network),
    /// or `None` on timeout or when the run ended first.
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

    pub(crate) fn kill_fd(&self) -> i32 {
        self.kill_r.as_raw_fd()
    }

    pub(crate) fn started(&self, pid: u32) {
        self.lock().pid = Some(pid);
        self.changed.notify_all();
    }

    pub(crate) fn ended(&self) {
        self.lock().finished = true;
        self.changed.notify_all();
    }
}

/// Opens a TCP connection to `addr` from inside the network namespace at `netns`
/// (e.g. `/proc/PID/ns/net` of a jail). The socket is created in that namespace by
/// this thread, which then returns to its own; needs CAP_SYS_ADMIN (root).
pub fn connect_tcp_in(netns: &Path, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let target = File::open(netns)?;
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let (fd, socket_err) = crate::netpool::in_netns(target.as_fd(), || {
        // SAFETY: creating a socket; the descriptor is owned below.
        let fd = unsafe {
            libc::socket(
                domain,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        (fd, io::Error::last_os_error())
    })?;
    if fd < 0 {
        return Err(socket_err);
    }
    // SAFETY: a fresh descriptor we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
    let rc = unsafe { libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: poll on one pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"));
        }
        let mut err: libc::c_int = 0;
        let mut elen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: SO_ERROR into a c_int of the given size.
        unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut elen,
            )
        };
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
    }
    let stream = TcpStream::from(sock);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}
