//! Network namespaces prepared ahead of runs and lent to one jail at a time.
//!
//! Creating a network namespace is the most expensive part of a jail's `clone`
//! (every per-network subsystem registers its sysctls and devices; `lo` comes up), and
//! tearing it down afterwards keeps a kernel worker busy on the same two cores. A jail
//! that asks for no network needs only an empty one: loopback up, no other device,
//! no route. So the first run to use a slot creates one, pins it with a bind mount at
//! `/run/gauntlet/netns/slot-<k>` (as `ip netns add` does), and later runs join it.
//!
//! Guarantees, and why they keep a lent namespace as good as a fresh one:
//! - **One jail at a time.** A slot is held by an exclusive `flock` on its lock file
//!   from before the clone until the jail's init is reaped; when the lock is free, no
//!   process is inside (the PID namespace, and so every process of the run, is dead by
//!   then; a killed supervisor frees its lock only after its own death, when its jail's
//!   init has been SIGKILLed by the parent-death signal). Jails that lend their
//!   network to others (`run_controlled`: an Anvil chain and the jobs that join it)
//!   never get a slot, since the joiners hold no lock. (A fork-like clone elsewhere
//!   in the process holds a copy of every descriptor until it closes them, a jail's
//!   init until close-inherited-fds; that can only make a free slot look busy for a moment.)
//! - **The jail has no power over it.** The namespace belongs to the host's user
//!   namespace, so the jail (whose own user namespace is a child of it) holds no
//!   capability there: it cannot add devices, addresses, routes, firewall rules or
//!   sysctls, and even its init could not bring `lo` down.
//! - **Nothing lingers.** Sockets close with their processes. TIME_WAIT entries (which
//!   would make the next run's `bind` fail with EADDRINUSE for a minute) are disabled
//!   with `net.ipv4.tcp_max_tw_buckets = 0`. What a later run can still see are the
//!   namespace's aggregate counters (`/proc/net/snmp`, `lo` byte counts): numbers, not
//!   data; docs/sandbox.md lists this.
//! - **Checked on every use.** A slot file that is not a network namespace (a reboot
//!   emptied `/run`, a copied `/run`, someone replaced it) is rebuilt.
//!
//! Without root (no CAP_SYS_ADMIN to pin a namespace) or with every slot busy, a run
//! gets a fresh namespace of its own exactly as before: the pool is only ever a
//! shortcut, never a requirement.

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};

#[cfg(test)]
use crate::netns::in_netns;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where slots live. Root-only (0700): entering a slot needs its path.
pub const DIR: &str = "/run/gauntlet/netns";
/// Slots per host: more concurrent jails than this get fresh namespaces.
pub const SLOTS: usize = 64;

/// Set when this host refuses to pin a namespace (no privilege over its mount
/// namespace, a read-only /run); runs then create their own namespaces.
static UNUSABLE: AtomicBool = AtomicBool::new(false);

/// A network namespace lent to one run; the slot is free again when this drops.
#[derive(Debug)]
pub struct Lease {
    /// The namespace, for `setns`.
    pub ns: OwnedFd,
    /// Holds the slot's `flock`.
    _lock: fs::File,
    /// The slot number (tests check which slot a lease got).
    #[allow(dead_code)]
    pub slot: usize,
}

/// Lends a prepared network namespace, creating it on a slot's first use. `None`
/// when the pool cannot be used here (not root, no `/run`, every slot busy): the
/// caller then creates a fresh namespace for the run.
pub fn lease() -> Option<Lease> {
    // SAFETY: a getter without side effects.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    lease_in(Path::new(DIR))
}

fn lease_in(dir: &Path) -> Option<Lease> {
    // A host that refused to pin one (no CAP_SYS_ADMIN over its mount namespace,
    // read-only /run) is not asked again by this process.
    if UNUSABLE.load(Ordering::Relaxed) {
        return None;
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .ok()?;
    // Only a directory that is ours alone: nobody else may plant or swap slots.
    let meta = fs::symlink_metadata(dir).ok()?;
    // SAFETY: a getter without side effects.
    let euid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != euid || meta.mode() & 0o077 != 0 {
        return None;
    }
    // Lowest free slot first: sequential runs keep reusing the same few namespaces,
    // and the pool grows only as far as the host's real concurrency.
    for slot in 0..SLOTS {
        let Some(lock) = try_lock(&dir.join(format!("slot-{slot}.lock"))) else {
            continue;
        };
        let path = dir.join(format!("slot-{slot}"));
        if let Some(ns) = open_checked(&path) {
            return Some(Lease {
                ns,
                _lock: lock,
                slot,
            });
        }
        // First use, or the slot is stale: (re)build it while we hold its lock.
        return match create(&path) {
            Ok(ns) => Some(Lease {
                ns,
                _lock: lock,
                slot,
            }),
            Err(e) => {
                // A refusal is for good; anything else (out of descriptors, say) may
                // pass, and the next run tries again.
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EPERM | libc::EACCES | libc::EROFS | libc::ENOSYS)
                ) {
                    UNUSABLE.store(true, Ordering::Relaxed);
                }
                None
            }
        };
    }
    None
}

fn try_lock(path: &Path) -> Option<fs::File> {
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    (rc == 0).then_some(f)
}

/// Opens `path` if it is a pinned network namespace. Only the type is checked on
/// each use: what is inside was set at creation, and nothing but host root can change
/// it (the jails hold no capability there).
fn open_checked(path: &Path) -> Option<OwnedFd> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    crate::netns::is_netns_file(&f).then(|| OwnedFd::from(f))
}

/// Creates an empty network namespace with `lo` up and TIME_WAIT disabled, and pins
/// it at `path`.
fn create(path: &Path) -> std::io::Result<OwnedFd> {
    // Whatever was there (a stale file, an old mount) goes first.
    let c = cpath(path)?;
    // SAFETY: umount2 on a NUL-terminated path; failure (not mounted) is fine.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) };
    let _ = fs::remove_file(path);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let r = crate::netns::in_new_netns(|| {
        crate::sys::loopback_up().map_err(std::io::Error::from_raw_os_error)?;
        // /proc/sys/net is the opening thread's namespace's.
        fs::OpenOptions::new()
            .write(true)
            .open("/proc/sys/net/ipv4/tcp_max_tw_buckets")?
            .write_all(b"0")?;
        let src = CString::new("/proc/thread-self/ns/net").expect("no NUL");
        // SAFETY: bind mount between NUL-terminated paths.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                c.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    })
    .map(|(ns, ())| ns);
    if r.is_err() {
        // SAFETY: as above; undo a half-made slot.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) };
        let _ = fs::remove_file(path);
    }
    r
}

/// True when the current thread's network namespace has exactly one device, `lo`,
/// and it is up.
#[cfg(test)]
fn only_loopback_up() -> bool {
    // if_nameindex lists this thread's namespace's devices.
    // SAFETY: if_nameindex returns a malloc'd array ended by a zero entry, freed below.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            return false;
        }
        let mut n = 0;
        let mut lo = false;
        let mut p = list;
        while (*p).if_index != 0 {
            n += 1;
            lo |= std::ffi::CStr::from_ptr((*p).if_name).to_bytes() == b"lo";
            p = p.add(1);
        }
        libc::if_freenameindex(list);
        n == 1 && lo && crate::sys::loopback_is_up()
    }
}

/// One line for `sandbox doctor`: where the pool is and how many slots are pinned.
pub fn describe() -> String {
    // SAFETY: a getter without side effects.
    if unsafe { libc::geteuid() } != 0 {
        return "off without root: each run creates its own network namespace".into();
    }
    let pinned = fs::read_dir(DIR)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().extension().is_none())
                .filter(|e| open_checked(&e.path()).is_some())
                .count()
        })
        .unwrap_or(0);
    format!("{DIR}: {pinned} of {SLOTS} slots prepared (created on first use)")
}

/// True when the current thread's network namespace keeps no TIME_WAIT sockets.
#[cfg(test)]
fn no_time_wait() -> bool {
    fs::read_to_string("/proc/sys/net/ipv4/tcp_max_tw_buckets").is_ok_and(|v| v.trim() == "0")
}

fn cpath(p: &Path) -> std::io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn private_dir(name: &str) -> Option<std::path::PathBuf> {
        // SAFETY: a getter.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: the network-namespace pool needs root");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("gauntlet-{name}-{}", std::process::id()));
        fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        Some(dir)
    }

    fn unpin_all(dir: &Path) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let c = cpath(&e.path()).unwrap();
            // SAFETY: unpinning the test's own namespaces; not mounted is fine.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        fs::remove_dir_all(dir).unwrap();
    }

    /// A lease of `slot`, retried briefly: a fork-like clone elsewhere in this
    /// process (a jail, or another test) holds a copy of every descriptor until it
    /// closes them, so a just-released slot can look busy for a moment.
    fn lease_slot(dir: &Path, slot: usize) -> Lease {
        for _ in 0..200 {
            let l = lease_in(dir).expect("a slot");
            if l.slot == slot {
                return l;
            }
            drop(l);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("slot {slot} never came free");
    }

    fn ino(fd: &OwnedFd) -> u64 {
        // SAFETY: fstat into a zeroed struct on our fd.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            assert_eq!(libc::fstat(fd.as_raw_fd(), &mut st), 0);
            st.st_ino
        }
    }

    #[test]
    fn a_slot_is_lent_to_one_holder_at_a_time_and_reused() {
        let Some(dir) = private_dir("netpool-reuse") else {
            return;
        };
        let a = lease_in(&dir).expect("a slot");
        let b = lease_in(&dir).expect("a second slot");
        assert_ne!(a.slot, b.slot, "two live leases never share a slot");
        assert_ne!(ino(&a.ns), ino(&b.ns), "nor a namespace");
        let (slot, first) = (a.slot, ino(&a.ns));
        drop(a);
        let c = lease_slot(&dir, slot);
        assert_eq!(ino(&c.ns), first, "a free slot is reused, not rebuilt");
        assert!(in_netns(c.ns.as_fd(), || only_loopback_up() && no_time_wait()).unwrap());
        // The namespace is not this process's own.
        let own = OwnedFd::from(fs::File::open("/proc/self/ns/net").unwrap());
        assert_ne!(ino(&own), first);
        drop((b, c));
        unpin_all(&dir);
    }

    #[test]
    fn a_directory_others_can_write_is_not_used() {
        let Some(dir) = private_dir("netpool-perms") else {
            return;
        };
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            lease_in(&dir).is_none(),
            "a world-writable pool directory is refused"
        );
        assert!(
            fs::read_dir(&dir).unwrap().next().is_none(),
            "and left untouched"
        );
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let l = lease_in(&dir).expect("a private one is used");
        drop(l);
        unpin_all(&dir);
    }

    #[test]
    fn a_stale_slot_is_rebuilt() {
        let Some(dir) = private_dir("netpool-stale") else {
            return;
        };
        // A plain file where a namespace should be (what a copied /run would leave).
        fs::write(dir.join("slot-0"), b"not a namespace").unwrap();
        let l = lease_slot(&dir, 0);
        assert!(in_netns(l.ns.as_fd(), || only_loopback_up() && no_time_wait()).unwrap());
        let built = ino(&l.ns);
        drop(l);
        let l = lease_slot(&dir, 0);
        assert_eq!(ino(&l.ns), built, "now it is kept");
        drop(l);
        unpin_all(&dir);
    }
}
