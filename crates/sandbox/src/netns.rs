//! Network namespaces held by an open descriptor ([`NetNs`]), and what the host does
//! inside one: run a closure there ([`in_netns`]), open a TCP connection from there
//! ([`connect_tcp_in`]), or make a fresh one with a listener of the host's inside
//! ([`NetNs::with_listener`]: the egress proxy's front door).
//!
//! A descriptor names one namespace for as long as it is open, whatever happens to
//! the processes that were in it; a `/proc/<pid>/ns/net` path names whatever process
//! holds that PID *now*, which after the process died and the PID was reused is an
//! unrelated one.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const NSFS_MAGIC: i64 = 0x6e73_6673;
/// ioctl(NS_GET_NSTYPE) = _IO(0xb7, 0x3).
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// A network namespace, held open: it lives at least as long as this handle (and
/// its clones), and always means the same namespace.
#[derive(Clone)]
pub struct NetNs {
    fd: Arc<OwnedFd>,
    /// (st_dev, st_ino) of the nsfs file: the namespace's identity.
    id: (u64, u64),
}

impl NetNs {
    /// Opens the network namespace at `path` (an nsfs file: `/proc/PID/ns/net`, a
    /// pinned `/run/netns/NAME`). Refuses anything that is not a network namespace.
    pub fn open(path: &Path) -> io::Result<NetNs> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)?;
        NetNs::from_fd(f.into()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{} is not a network namespace ({e})", path.display()),
            )
        })
    }

    /// Takes `fd`, which must refer to a network namespace.
    pub fn from_fd(fd: OwnedFd) -> io::Result<NetNs> {
        let id = check_netns(fd.as_fd())?;
        Ok(NetNs {
            fd: Arc::new(fd),
            id,
        })
    }

    /// A fresh network namespace with only `lo`, up, and a TCP listener of the
    /// caller's bound at `addr` in it (127.0.0.1:3128, say): a jail that joins it
    /// ([`crate::Network::Join`]) reaches that listener and nothing else. The namespace
    /// belongs to the host's user namespace, so the jail holds no capability in it (no
    /// devices, routes or sysctls of its own), as with the pool's (netpool.rs). The
    /// listener's accepted connections are served from the host side. Needs
    /// CAP_SYS_ADMIN (root); rootless callers get the `unshare` error.
    pub fn with_listener(addr: SocketAddr) -> io::Result<(NetNs, TcpListener)> {
        let (ns, listener) = in_new_netns(|| {
            crate::sys::loopback_up().map_err(io::Error::from_raw_os_error)?;
            TcpListener::bind(addr)
        })?;
        Ok((NetNs::from_fd(ns)?, listener))
    }

    /// The namespace's inode number, as `readlink /proc/self/ns/net` shows it
    /// (`net:[INODE]`).
    pub fn inode(&self) -> u64 {
        self.id.1
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl PartialEq for NetNs {
    fn eq(&self, other: &NetNs) -> bool {
        self.id == other.id
    }
}

impl Eq for NetNs {}

impl fmt::Debug for NetNs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetNs(net:[{}])", self.id.1)
    }
}

/// The identity of `fd` if it is a network namespace, else `EINVAL`.
fn check_netns(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    // SAFETY: fstatfs and fstat into zeroed structs, and an argument-less ioctl, on a
    // descriptor the caller keeps open across the calls.
    unsafe {
        let mut sfs: libc::statfs = std::mem::zeroed();
        if libc::fstatfs(fd.as_raw_fd(), &mut sfs) != 0 {
            return Err(io::Error::last_os_error());
        }
        if sfs.f_type as i64 != NSFS_MAGIC
            || libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) != libc::CLONE_NEWNET
        {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_raw_fd(), &mut st) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((st.st_dev, st.st_ino))
    }
}

/// True when `path` is a network namespace (the pool's check of its slots).
pub(crate) fn is_netns_file(f: &File) -> bool {
    check_netns(f.as_fd()).is_ok()
}

/// Runs `f` with this thread inside the network namespace `ns`, then returns to its
/// own. Needs CAP_SYS_ADMIN over `ns`; an error means `f` did not run.
pub(crate) fn in_netns<T>(ns: BorrowedFd<'_>, f: impl FnOnce() -> T) -> io::Result<T> {
    let orig = File::open("/proc/thread-self/ns/net")?;
    // SAFETY: setns on a namespace fd; affects only this thread, restored below.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let out = f();
    // SAFETY: back to this thread's own network namespace.
    if unsafe { libc::setns(orig.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        // This thread would keep working inside `ns`: never continue.
        eprintln!("gauntlet-sandbox: cannot restore the network namespace; aborting");
        std::process::abort();
    }
    Ok(out)
}

/// Runs `f` with this thread inside a new, empty network namespace, then returns to
/// its own; gives back that namespace (which lives on while the descriptor is open)
/// and what `f` made there. Needs CAP_SYS_ADMIN; an error means nothing is left
/// behind but what `f` undid itself.
pub(crate) fn in_new_netns<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<(OwnedFd, T)> {
    let orig = File::open("/proc/thread-self/ns/net")?;
    // SAFETY: unshare affects only this thread's network namespace; it is restored
    // below before anything else runs on this thread.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let made = f().and_then(|t| Ok((OwnedFd::from(File::open("/proc/thread-self/ns/net")?), t)));
    // SAFETY: back to this thread's own network namespace.
    if unsafe { libc::setns(orig.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        // This thread would keep working inside the new namespace: never continue.
        eprintln!("gauntlet-sandbox: cannot restore the network namespace; aborting");
        std::process::abort();
    }
    made
}

/// Opens a TCP connection to `addr` from inside `netns` (e.g. a controlled jail's,
/// [`crate::Control::netns`]). The socket is created in that namespace by this
/// thread, which then returns to its own; needs CAP_SYS_ADMIN over it (root).
pub fn connect_tcp_in(netns: &NetNs, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let (fd, socket_err) = in_netns(netns.as_fd(), || {
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
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        let n = crate::sys::poll_one(fd, libc::POLLOUT, ms);
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
