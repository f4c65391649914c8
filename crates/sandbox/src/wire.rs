//! The protocol between the supervisor and the jail, in one place (youki's
//! `process/channel.rs` is the model: each side holds a typed end and calls named
//! methods; nobody frames bytes by hand).
//!
//! Two channels, both opened by the supervisor before the clone:
//!
//! - **supervisor → jail**, a stream socket pair: [`ToJail::start`] once the id maps
//!   are written, then [`ToJail::cgroup`] with the v1 `tasks` descriptors attached
//!   (`SCM_RIGHTS`; none on v2). One byte per message. The jail's end,
//!   [`FromSupervisor`], sees EOF when the supervisor is gone.
//! - **jail → supervisor**, a pipe: [`ToSupervisor`] sends a failed step, the
//!   payload's wait status, and collected files in chunks; the supervisor reads the
//!   whole stream while it watches the run and [`decode`]s it at the end. Every
//!   message starts with a 13-byte header: a tag and three little-endian `u32`s.
//!
//! The jail's side is async-signal-safe: no allocation, no locks, raw syscalls.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::steps::{Failure, Step};
use crate::sys;

const START: u8 = b'g';
const CGROUP: u8 = b'c';

/// The supervisor's end of the sync socket.
pub struct ToJail(pub OwnedFd);

impl ToJail {
    /// The id maps are written: the jail may go on.
    pub fn start(&self) -> io::Result<()> {
        self.send(START, &[])
    }

    /// The run's cgroup is ready; on v1 `tasks` holds one `tasks` file per
    /// hierarchy, for the jail to write itself into (at most three).
    pub fn cgroup(&self, tasks: &[BorrowedFd<'_>]) -> io::Result<()> {
        let mut raw = [-1; 3];
        for (r, t) in raw.iter_mut().zip(tasks) {
            *r = t.as_raw_fd();
        }
        self.send(CGROUP, &raw[..tasks.len().min(3)])
    }

    fn send(&self, tag: u8, fds: &[RawFd]) -> io::Result<()> {
        sys::send_fds(self.0.as_raw_fd(), tag, fds).map_err(io::Error::from_raw_os_error)
    }
}

/// The jail's end of the sync socket.
#[derive(Clone, Copy)]
pub struct FromSupervisor(pub RawFd);

/// Descriptors received with a message, closed when dropped.
pub struct Received([RawFd; 3]);

impl Received {
    pub fn fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.0.iter().copied().filter(|fd| *fd >= 0)
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        for fd in self.fds() {
            sys::close(fd);
        }
    }
}

impl FromSupervisor {
    /// Blocks until [`ToJail::start`]. `EPIPE`: the supervisor is gone.
    pub fn wait_for_start(self) -> sys::SysResult {
        self.expect(START).map(drop)
    }

    /// Blocks until [`ToJail::cgroup`] and returns the descriptors that came with it.
    pub fn wait_for_cgroup(self) -> sys::SysResult<Received> {
        self.expect(CGROUP)
    }

    fn expect(self, tag: u8) -> sys::SysResult<Received> {
        let (got, fds) = sys::recv_fds(self.0)?;
        let received = Received(fds);
        if got != tag {
            return Err(libc::EPROTO);
        }
        Ok(received)
    }
}

const FAILED: u8 = 1;
const EXITED: u8 = 2;
const CHUNK: u8 = 3;
const COLLECT_END: u8 = 4;
const HEADER: usize = 13;

fn header(tag: u8, a: u32, b: u32, c: u32) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0] = tag;
    h[1..5].copy_from_slice(&a.to_le_bytes());
    h[5..9].copy_from_slice(&b.to_le_bytes());
    h[9..13].copy_from_slice(&c.to_le_bytes());
    h
}

/// The jail's end of the message pipe. Sends are best effort: a supervisor that is
/// gone reads nothing anyway.
#[derive(Clone, Copy)]
pub struct ToSupervisor(pub RawFd);

impl ToSupervisor {
    pub fn failed(self, f: Failure) {
        let h = header(FAILED, f.step as u32, f.errno as u32, f.detail);
        let _ = sys::write_all(self.0, &h);
    }

    /// The payload's wait status.
    pub fn exited(self, status: i32) {
        let _ = sys::write_all(self.0, &header(EXITED, status as u32, 0, 0));
    }

    /// Part of collect file `index`.
    pub fn chunk(self, index: u32, bytes: &[u8]) -> sys::SysResult {
        sys::write_all(self.0, &header(CHUNK, index, bytes.len() as u32, 0))?;
        sys::write_all(self.0, bytes)
    }

    /// Collect file `index` is complete (`ok`), or must be dropped.
    pub fn collect_end(self, index: u32, ok: bool) {
        let _ = sys::write_all(self.0, &header(COLLECT_END, index, ok as u32, 0));
    }
}

/// One message from the jail.
#[derive(Debug, PartialEq, Eq)]
pub enum Message<'a> {
    Failed(Failure),
    Exited(i32),
    Chunk { index: u32, bytes: &'a [u8] },
    CollectEnd { index: u32, ok: bool },
}

/// The messages in `stream`, in order, up to the first incomplete or unknown one.
pub fn decode(mut stream: &[u8]) -> Vec<Message<'_>> {
    let mut out = Vec::new();
    while stream.len() >= HEADER {
        let word =
            |i: usize| u32::from_le_bytes([stream[i], stream[i + 1], stream[i + 2], stream[i + 3]]);
        let (a, b, c) = (word(1), word(5), word(9));
        let (msg, len) = match stream[0] {
            FAILED => match Step::from_u32(a) {
                Some(step) => (
                    Message::Failed(Failure {
                        step,
                        errno: b as i32,
                        detail: c,
                    }),
                    0,
                ),
                None => break,
            },
            EXITED => (Message::Exited(a as i32), 0),
            CHUNK => {
                let len = b as usize;
                match stream.get(HEADER..HEADER + len) {
                    Some(bytes) => (Message::Chunk { index: a, bytes }, len),
                    None => break,
                }
            }
            COLLECT_END => (
                Message::CollectEnd {
                    index: a,
                    ok: b == 1,
                },
                0,
            ),
            _ => break,
        };
        out.push(msg);
        stream = &stream[HEADER + len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::NO_DETAIL;
    use std::os::fd::{AsFd, FromRawFd};

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut p = [0; 2];
        // SAFETY: pipe2 fills the array with two fresh descriptors, owned below.
        unsafe {
            assert_eq!(libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC), 0);
            (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1]))
        }
    }

    #[test]
    fn what_the_jail_sends_the_supervisor_decodes() {
        let (r, w) = pipe();
        let to = ToSupervisor(w.as_raw_fd());
        let fail = Failure {
            step: Step::BindPaths,
            errno: libc::EACCES,
            detail: 2,
        };
        to.failed(fail);
        to.exited(0x0100);
        to.chunk(1, b"<testsuite/>").unwrap();
        to.chunk(1, b"").unwrap();
        to.collect_end(1, true);
        to.collect_end(0, false);
        drop(w);
        let mut buf = vec![0u8; 4096];
        let n = sys::read(r.as_raw_fd(), &mut buf).unwrap();
        // A truncated message at the end is ignored, not misread.
        let mut stream = buf[..n].to_vec();
        stream.extend_from_slice(&[CHUNK, 0, 0, 0, 0, 9, 0, 0, 0]);
        assert_eq!(
            decode(&stream),
            vec![
                Message::Failed(fail),
                Message::Exited(0x0100),
                Message::Chunk {
                    index: 1,
                    bytes: b"<testsuite/>"
                },
                Message::Chunk {
                    index: 1,
                    bytes: b""
                },
                Message::CollectEnd { index: 1, ok: true },
                Message::CollectEnd {
                    index: 0,
                    ok: false
                },
            ]
        );
        let unknown_step = header(FAILED, 9999, 1, NO_DETAIL);
        assert_eq!(decode(&unknown_step), vec![]);
    }

    #[test]
    fn the_sync_socket_carries_its_two_messages_in_order() {
        let mut sv = [0; 2];
        // SAFETY: socketpair fills the array with two fresh descriptors, owned below.
        let (a, b) = unsafe {
            assert_eq!(
                libc::socketpair(
                    libc::AF_UNIX,
                    libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                    0,
                    sv.as_mut_ptr()
                ),
                0
            );
            (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1]))
        };
        let (r, w) = pipe();
        let to = ToJail(a);
        to.start().unwrap();
        to.cgroup(&[w.as_fd()]).unwrap();
        let from = FromSupervisor(b.as_raw_fd());
        from.wait_for_start().unwrap();
        let got = from.wait_for_cgroup().unwrap();
        let fd = got.fds().next().expect("a descriptor came along");
        sys::write_all(fd, b"x").unwrap();
        drop(got);
        drop(w);
        let mut buf = [0u8; 4];
        assert_eq!(sys::read(r.as_raw_fd(), &mut buf), Ok(1));
        // Out of order is a protocol error; EOF says the supervisor is gone.
        to.start().unwrap();
        assert_eq!(from.wait_for_cgroup().err(), Some(libc::EPROTO));
        drop(to);
        assert_eq!(from.wait_for_start().err(), Some(libc::EPIPE));
    }
}
