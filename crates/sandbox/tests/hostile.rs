//! Hostile programs against the real jail, one or more per layer and per report
//! status. Each asserts the containment itself (what the program could see or do),
//! not just an exit code. The harness runs these tests on many threads at once,
//! which is also the proof that `run()` is safe in a multi-threaded process.
//!
//! Order of trust: `pids_limit_is_enforced` and `memory_hog_gets_memory_limit`
//! prove the limits with bounded programs; the real fork bomb runs only inside the
//! jail, with both limits set.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_sandbox::{run, Bind, Collect, Error, Network, Overlay, Spec, Status};

mod common;
use common::*;

#[test]
fn true_exits_zero_with_every_layer() {
    let r = ok(&spec(["/bin/true"]));
    let l = &r.report.layers;
    assert_eq!(l.isolation, isolation());
    if gvisor() {
        // runsc keeps what the jail's own seccomp, Landlock and capability drop would
        // take from it (it builds its sandbox with them); the command inside gVisor
        // has none of them (identity_capabilities_and_flags_are_dropped).
        assert!(l.namespaces && l.pivot_root && l.no_new_privs);
        assert!(!l.seccomp && !l.landlock && !l.capabilities_dropped);
        assert!(matches!(l.gvisor_platform, Some("ptrace" | "kvm")), "{l:?}");
    } else {
        assert!(l.namespaces && l.pivot_root && l.seccomp && l.no_new_privs);
        assert!(l.capabilities_dropped && l.gvisor_platform.is_none());
    }
    assert!(l.cgroup == "v1" || l.cgroup == "v2");
    assert_eq!(l.network, "none");
    assert!(r.report.peak_memory_bytes > 0);
}

#[test]
fn identity_capabilities_and_flags_are_dropped() {
    let r = ok(&sh("cat /proc/self/status; id -G"));
    let field = |k: &str| -> String {
        r.out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:")))
            .unwrap_or_else(|| panic!("{k} missing in\n{}", r.out))
            .trim()
            .to_string()
    };
    assert_eq!(field("Uid"), "1000\t1000\t1000\t1000");
    assert_eq!(field("Gid"), "1000\t1000\t1000\t1000");
    // Rootless, `setgroups` is denied: the caller's own groups stay, its gid seen as
    // 1000 and any other as nogroup (65534). As root there are none.
    let want = if gauntlet_sandbox::rootless() {
        caller_groups_as_the_jail_sees_them()
    } else {
        Vec::new()
    };
    let mut groups: Vec<u32> = field("Groups")
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect();
    groups.sort_unstable();
    assert_eq!(groups, want, "supplementary groups");
    // gVisor's own /proc has no CapAmb or NoNewPrivs line, and no seccomp filter
    // on the command (the sentry takes its system calls; runsc filters the sentry's).
    let caps: &[&str] = match gvisor() {
        true => &["CapInh", "CapPrm", "CapEff", "CapBnd"],
        false => &["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"],
    };
    for cap in caps {
        assert_eq!(field(cap), "0000000000000000", "{cap}");
    }
    if !gvisor() {
        assert_eq!(field("NoNewPrivs"), "1");
        assert_eq!(field("Seccomp"), "2");
    }
    let id_g = r.out.lines().last().unwrap_or_default();
    if gauntlet_sandbox::rootless() {
        assert!(
            id_g.split(' ').all(|g| g == "1000" || g == "65534"),
            "{id_g}"
        );
    } else {
        assert_eq!(id_g, "1000", "supplementary groups");
    }
}

/// The caller's supplementary groups as a rootless jail sees them (`1000 <gid> 1` is
/// the only mapping: its gid is 1000, any other group nogroup, 65534), sorted.
fn caller_groups_as_the_jail_sees_them() -> Vec<u32> {
    let mut groups = vec![0; 256];
    // SAFETY: getgroups fills at most `groups.len()` entries of the buffer.
    let n = unsafe { libc::getgroups(groups.len() as i32, groups.as_mut_ptr()) };
    assert!(n >= 0, "getgroups");
    // SAFETY: a getter.
    let gid = unsafe { libc::getegid() };
    let mut seen: Vec<u32> = groups[..n as usize]
        .iter()
        .map(|&g| if g == gid { 1000 } else { 65534 })
        .collect();
    seen.sort_unstable();
    seen
}

#[test]
fn landlock_blocks_writes_the_mounts_would_allow() {
    if gvisor() {
        eprintln!(
            "skipped: Landlock is not applied under gVisor (runsc mounts), and /proc there is \
             gVisor's own: writing /proc/self/comm renames a task of gVisor's kernel"
        );
        return;
    }
    // /proc/self/comm is writable by its owner on a read-write proc mount: only
    // Landlock (read-only everywhere but the writable paths) stops this write.
    let r = jail(&py(r#"
import errno
try:
    open('/proc/self/comm', 'w').write('pwned')
    print('WROTE')
except OSError as e:
    print('denied', errno.errorcode[e.errno])
open('/tmp/ok', 'w').write('fine'); print('tmp ok')
"#));
    assert!(r.out.contains("denied EACCES"), "{}{}", r.out, r.err);
    assert!(r.out.contains("tmp ok"));
    assert!(r.report.layers.landlock);
}

#[test]
fn host_files_and_secrets_are_invisible() {
    // Listed with the shell's globs, not `ls`: the runsc of Debian 12 (2022-12)
    // answers coreutils 9's `statx(AT_NO_AUTOMOUNT)` with EINVAL.
    // Under gVisor `/sys` is gVisor's own synthetic one (CPUs and `lo`, nothing of
    // the host's), and `/.gvisor`, runsc's folder in the jail, is an empty tmpfs.
    let sys = if gvisor() { "" } else { "/sys" };
    let r = ok(&sh(&format!(
        "list() {{ cd $1 && for f in * .[!.]*; do [ -e \"$f\" ] && echo \"$f\"; done; }}; \
         list /; echo ---; list /etc; echo ---; \
         for p in /root /home /etc/shadow /var /run {sys} /opt /srv /proc/1/root/root \
                  /work /.oldroot /.gvisor/config.json /.gvisor/state; do \
           [ -e $p ] && echo VISIBLE $p; done; \
         cd /proc && for f in [0-9]*; do printf '%s ' $f; done"
    )));
    assert!(!r.out.contains("VISIBLE"), "{}", r.out);
    let mut parts = r.out.split("---\n");
    let root: Vec<&str> = parts.next().unwrap().lines().collect();
    for entry in &root {
        assert!(
            [
                "bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp",
                "usr"
            ]
            .contains(entry)
                || (gvisor() && ["sys", ".gvisor"].contains(entry)),
            "unexpected / entry {entry}"
        );
    }
    let etc: Vec<&str> = parts.next().unwrap().lines().collect();
    for entry in &etc {
        assert!(
            [
                "alternatives",
                "group",
                "hostname",
                "hosts",
                "ld.so.cache",
                "localtime",
                "nsswitch.conf",
                "passwd"
            ]
            .contains(entry),
            "unexpected /etc entry {entry}"
        );
    }
    // Only the jail's own processes: init (1), the shell and its children.
    let pids: Vec<u32> = parts
        .next()
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        pids.contains(&1) && pids.iter().all(|p| *p < 10),
        "{pids:?}"
    );
    // The namespace holds the jail's own mounts and nothing of the host's tree (the
    // old root was detached before the program started).
    let r = ok(&sh("cut -d' ' -f5 /proc/self/mountinfo"));
    if gvisor() {
        // gVisor's own mount table: its root is the jail's (read-only, served by the
        // gofer), the writable paths bound in, its own proc, sys and dev.
        for mount_point in r.out.lines() {
            assert!(
                ["/", "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/tmp", "/.gvisor"]
                    .contains(&mount_point),
                "unexpected mount {mount_point} in:\n{}",
                r.out
            );
        }
        return;
    }
    for mount_point in r.out.lines() {
        assert!(
            [
                "/",
                "/usr",
                "/etc/alternatives",
                "/etc/ld.so.cache",
                "/proc",
                "/proc/sys",
                "/proc/sysrq-trigger",
                "/proc/irq",
                "/proc/bus",
                "/proc/fs",
                // Docker's masked paths, those this kernel has (tests/leaks.rs).
                "/proc/asound",
                "/proc/acpi",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/proc/scsi",
                "/dev",
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/random",
                "/dev/urandom",
                "/dev/shm",
                "/tmp"
            ]
            .contains(&mount_point),
            "unexpected mount {mount_point} in:\n{}",
            r.out
        );
    }
}

#[test]
fn alternatives_and_system_runtimes_work() {
    let r = ok(&sh(
        "echo 'a b' | awk '{print $2}'; /usr/bin/python3 -c 'print(6*7)'; \
         node -e 'console.log(\"node\", 1+1)'; hostname",
    ));
    assert_eq!(r.out, "b\n42\nnode 2\ngauntlet\n");
}

#[test]
fn environment_is_exactly_the_spec_plus_minimum() {
    let mut spec = py("import os, json; print(json.dumps(dict(os.environ), sort_keys=True))");
    spec.env = vec![("RPC_URL".into(), "http://127.0.0.1:8545".into())];
    // Whatever the test process has (CARGO_*, RUST_*, maybe tokens) must not leak.
    let r = ok(&spec);
    let env: serde_json::Value = serde_json::from_str(r.out.trim()).unwrap();
    let keys: Vec<&str> = env
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["HOME", "LANG", "PATH", "RPC_URL"]);
}

#[test]
fn only_fds_0_to_2_reach_the_program() {
    // An fd opened without CLOEXEC in this (multi-threaded) process must not leak.
    let leaked = std::fs::File::open("/etc/hostname").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&leaked);
    // SAFETY: clearing FD_CLOEXEC on a descriptor we own.
    assert_eq!(unsafe { libc_fcntl_clear_cloexec(fd) }, 0);
    let r = ok(&py(r#"
import os
open_fds = []
for fd in range(3, 4096):
    try:
        os.fstat(fd); open_fds.append(fd)
    except OSError:
        pass
print(open_fds)
print(os.readlink('/proc/self/fd/0'))
"#));
    // gVisor shows a descriptor runsc passed in (its stdin, the jail's /dev/null)
    // as a host file.
    let stdin = if gvisor() { "host:[1]" } else { "/dev/null" };
    assert_eq!(r.out, format!("[]\n{stdin}\n"));
    drop(leaked);
}

/// fcntl(fd, F_SETFD, 0) without a libc dependency in the test crate.
unsafe fn libc_fcntl_clear_cloexec(fd: i32) -> i32 {
    extern "C" {
        fn fcntl(fd: i32, cmd: i32, ...) -> i32;
    }
    // SAFETY: F_SETFD (2) with flags 0 on a valid descriptor.
    unsafe { fcntl(fd, 2, 0) }
}

#[test]
fn no_tty_and_tiocsti_is_denied() {
    let r = ok(&py(r#"
import ctypes, errno, os, fcntl, termios
libc = ctypes.CDLL(None, use_errno=True)
print('isatty', [os.isatty(i) for i in range(3)])
try:
    open('/dev/tty'); print('tty OPEN')
except OSError as e:
    print('tty', errno.errorcode[e.errno])
for fd in range(3):
    c = ctypes.c_char(b'x')
    rc = libc.ioctl(fd, termios.TIOCSTI, ctypes.byref(c))
    print('tiocsti', fd, rc, errno.errorcode.get(ctypes.get_errno()))
print('sid', os.getsid(0) == os.getpid())
"#));
    assert!(r.out.contains("isatty [False, False, False]"), "{}", r.out);
    assert!(!r.out.contains("tty OPEN"));
    // Refused by the seccomp policy (under gVisor, by gVisor applying it).
    for fd in 0..3 {
        assert!(
            r.out.contains(&format!("tiocsti {fd} -1 EPERM")),
            "{}",
            r.out
        );
    }
    assert!(r.out.contains("sid True"));
}

#[test]
fn seccomp_denies_the_policy_with_eperm() {
    // (name, syscall number on x86_64, args) -> expected errno name.
    let r = ok(&py(r#"
import ctypes, errno, platform
assert platform.machine() == 'x86_64'
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(nr, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return rc, errno.errorcode.get(ctypes.get_errno(), '0')
probes = {
  'ptrace': (101, 0, 0, 0, 0),            # PTRACE_TRACEME
  'process_vm_readv': (310, 1, 0, 0, 0, 0, 0),
  'bpf': (321, 0, 0, 0),
  'perf_event_open': (298, 0, 0, -1, -1, 0),
  'userfaultfd': (323, 0),
  'io_uring_setup': (425, 1, 0),
  'keyctl': (250, 0, 0),
  'add_key': (248, 0, 0, 0, 0, 0),
  'request_key': (249, 0, 0, 0, 0),
  'mount': (165, 0, 0, 0, 0, 0),
  'umount2': (166, 0, 0),
  'fsopen': (430, 0, 0),
  'fsmount': (432, 0, 0, 0),
  'move_mount': (429, 0, 0, 0, 0, 0),
  'open_tree': (428, 0, 0, 0),
  'pivot_root': (155, 0, 0),
  'unshare': (272, 0x10000000),           # CLONE_NEWUSER
  'setns': (308, 0, 0),
  'clone_newuser': (56, 0x10000000 | 17, 0, 0, 0, 0),
  'kexec_load': (246, 0, 0, 0, 0),
  'init_module': (175, 0, 0, 0),
  'finit_module': (313, 0, 0, 0),
  'open_by_handle_at': (304, 0, 0, 0),
  'reboot': (169, 0, 0, 0, 0),
  'swapon': (167, 0, 0),
  'x32_getpid': (0x40000000 | 39,),
}
for name, (nr, *args) in probes.items():
    print(name, *call(nr, *args))
print('clone3', *call(435, 0, 0))
print('getpid', call(39)[0] > 0)
"#));
    for line in r.out.lines() {
        let mut it = line.split_whitespace();
        let (name, rc, err) = (it.next().unwrap(), it.next().unwrap(), it.next());
        if gvisor() {
            // The same policy, applied by gVisor inside its own kernel (runsc
            // --oci-seccomp); the x32 ABI does not exist there (ENOSYS).
            match name {
                "x32_getpid" | "clone3" => assert_eq!((rc, err), ("-1", Some("ENOSYS")), "{line}"),
                "getpid" => assert_eq!(rc, "True"),
                _ => assert_eq!((rc, err), ("-1", Some("EPERM")), "{line}"),
            }
            continue;
        }
        match name {
            "clone3" => assert_eq!((rc, err), ("-1", Some("ENOSYS")), "{line}"),
            "getpid" => assert_eq!(rc, "True"),
            _ => assert_eq!((rc, err), ("-1", Some("EPERM")), "{line}"),
        }
    }
    assert_eq!(r.out.lines().count(), 28, "{}", r.out);
}

#[test]
fn writes_outside_rw_paths_fail_and_rw_binds_reach_the_host() {
    let rw = tempdir("rw").join("jail-owned");
    gauntlet_sandbox::create_jail_dir(&rw).unwrap();
    let ro = tempdir("ro");
    std::fs::write(ro.join("given.txt"), "given").unwrap();
    let mut spec = sh(
        "for p in /x /usr/x /etc/x /dev/x /proc/sys/kernel/hostname /ro/x /ro/given.txt; do \
           (echo pwn > $p) 2>/dev/null && echo WROTE $p; done; \
         echo hello > /rw/out.txt && echo tmp > /tmp/t && echo shm > /dev/shm/s && echo done",
    );
    spec.ro_binds = vec![Bind {
        host: ro.clone(),
        inside: "/ro".into(),
    }];
    spec.rw_binds = vec![Bind {
        host: rw.clone(),
        inside: "/rw".into(),
    }];
    let r = ok(&spec);
    assert_eq!(r.out, "done\n", "{}", r.err);
    assert_eq!(
        std::fs::read_to_string(rw.join("out.txt")).unwrap(),
        "hello\n"
    );
    assert_eq!(
        std::fs::read_to_string(ro.join("given.txt")).unwrap(),
        "given"
    );
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 1);
    // The run's /tmp is gone: a second run does not see the first one's file.
    let r = ok(&sh(
        "for f in /tmp/* /tmp/.[!.]* /dev/shm/* /dev/shm/.[!.]*; do \
                      [ -e \"$f\" ] && echo \"$f\"; done; echo empty",
    ));
    assert_eq!(r.out, "empty\n");
}

#[test]
fn tmp_is_size_capped() {
    let mut spec = sh("dd if=/dev/zero of=/tmp/fill bs=64k count=64 2>&1; echo rc=$?");
    spec.limits.tmp_size = 1 << 20;
    let r = jail(&spec);
    assert!(r.out.contains("No space left on device"), "{}", r.out);
}

#[test]
fn network_is_loopback_only_and_host_services_unreachable() {
    let r = ok(&py(r#"
import socket, errno
for port in (5432, 6379, 8080):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(('127.0.0.1', port)); print('CONNECTED', port)
    except OSError as e:
        print(port, errno.errorcode.get(e.errno, e))
s = socket.socket(); s.settimeout(2)
try:
    s.connect(('1.1.1.1', 53)); print('CONNECTED out')
except OSError as e:
    print('out', errno.errorcode.get(e.errno, e))
print(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]))
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
c = socket.create_connection(srv.getsockname()); print('loopback works')
"#));
    assert!(!r.out.contains("CONNECTED"), "{}", r.out);
    assert!(r.out.contains("5432 ECONNREFUSED") && r.out.contains("6379 ECONNREFUSED"));
    // gVisor's own network stack says EHOSTUNREACH where Linux says ENETUNREACH.
    let unreachable = if gvisor() {
        "EHOSTUNREACH"
    } else {
        "ENETUNREACH"
    };
    assert!(r.out.contains(&format!("out {unreachable}")), "{}", r.out);
    assert!(r.out.contains("['lo']"), "{}", r.out);
    assert!(r.out.contains("loopback works"));
}

/// Runs without a network get an empty namespace lent from a pool (as root). One that
/// is lent again must carry nothing of the run before: no listener, no TIME_WAIT
/// that would make `bind` fail, and the jail can change nothing in it.
#[test]
fn a_lent_network_namespace_carries_nothing_between_runs() {
    if gauntlet_sandbox::rootless() {
        eprintln!("skipped: without root every run gets a fresh network namespace");
        return;
    }
    if gvisor() {
        eprintln!(
            "skipped: under gVisor the command's sockets live in gVisor's own network stack \
             (runsc --network=none), made afresh for each run; the lent namespace holds runsc only"
        );
        return;
    }
    let first = ok(&py(r#"
import os, socket
print(os.readlink('/proc/self/ns/net'))
srv = socket.socket(); srv.bind(('127.0.0.1', 8080)); srv.listen()
c = socket.create_connection(('127.0.0.1', 8080))
conn, _ = srv.accept()
conn.close()          # the server closes first: its side would sit in TIME_WAIT
c.recv(1); c.close()
daemon = socket.socket(); daemon.bind(('127.0.0.1', 8081)); daemon.listen()
u = socket.socket(socket.AF_UNIX); u.bind('\0gauntlet-left-behind')
if os.fork() == 0:
    os.setsid(); import time; time.sleep(30)   # a daemon holding the sockets
"#));
    let ns = first.out.lines().next().unwrap().to_string();
    // Parallel tests hold slots too: try until a run lands in the same namespace.
    let mut reused = None;
    for _ in 0..100 {
        let r = ok(&py(r#"
import os, socket, errno, fcntl, struct
print(os.readlink('/proc/self/ns/net'))
s = socket.socket(); s.bind(('127.0.0.1', 8080)); print('bind 8080 ok')
for port in (8080, 8081):
    c = socket.socket()
    try: c.connect(('127.0.0.1', port)); print('CONNECTED', port)
    except OSError as e: print(port, errno.errorcode[e.errno])
u = socket.socket(socket.AF_UNIX); u.bind('\0gauntlet-left-behind'); print('abstract ok')
try:
    fcntl.ioctl(s, 0x8914, struct.pack('16sH14x', b'lo', 0)); print('LO DOWN')
except OSError as e: print('lo', errno.errorcode[e.errno])
"#));
        if r.out.starts_with(&ns) {
            reused = Some(r);
            break;
        }
    }
    let r = reused.expect("a later run was lent the same network namespace");
    assert!(r.out.contains("bind 8080 ok"), "{}", r.out);
    assert!(!r.out.contains("CONNECTED"), "{}", r.out);
    assert!(r.out.contains("8081 ECONNREFUSED"), "{}", r.out);
    assert!(r.out.contains("abstract ok"), "{}", r.out);
    assert!(r.out.contains("lo EPERM"), "{}", r.out);
    assert_eq!(r.report.layers.network, "none");
}

#[test]
fn network_join_enters_the_given_namespace() {
    if gauntlet_sandbox::rootless() {
        // Joining needs CAP_SYS_ADMIN over the namespace and in the caller's own user
        // namespace: rootless, a join fails closed, even into the caller's own.
        let mut spec = sh("true");
        spec.network = Network::Join(
            gauntlet_sandbox::NetNs::open(Path::new("/proc/thread-self/ns/net")).unwrap(),
        );
        assert!(matches!(
            run(&spec, &mut Capture::default()),
            Err(Error::Unsupported(_))
        ));
        eprintln!(
            "skipped: joining a network namespace needs root (rootless it fails closed: checked)"
        );
        return;
    }
    // A helper netns (as the Anvil pool would lend one): `unshare --net sleep`.
    let mut holder = std::process::Command::new("unshare")
        .args(["--net", "sleep", "30"])
        .spawn()
        .expect("unshare");
    let ns = PathBuf::from(format!("/proc/{}/ns/net", holder.id()));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    let target = loop {
        let t = std::fs::read_link(&ns).unwrap();
        if t != own || std::time::Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_ne!(target, own);
    let mut spec = sh("readlink /proc/self/ns/net");
    spec.network = Network::Join(gauntlet_sandbox::NetNs::open(&ns).unwrap());
    let r = ok(&spec);
    let _ = holder.kill();
    let _ = holder.wait();
    // gVisor names its own namespaces: that the joined one is used (runsc
    // --network=host inside it) is shown by
    // a_listener_namespace_gives_the_jail_that_port_and_nothing_else.
    if !gvisor() {
        assert_eq!(r.out.trim(), target.to_str().unwrap());
    }
    assert_eq!(r.report.layers.network, "joined");
    // And this thread is back in its own namespace.
    assert_eq!(std::fs::read_link("/proc/thread-self/ns/net").unwrap(), own);
}

#[test]
fn a_listener_namespace_gives_the_jail_that_port_and_nothing_else() {
    use std::io::{Read, Write};
    // The egress proxy's front door: a host-owned namespace with the host's listener in it.
    let own = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:3128".parse().unwrap();
    if gauntlet_sandbox::rootless() {
        // `unshare(CLONE_NEWNET)` needs CAP_SYS_ADMIN: no egress rootless.
        assert!(gauntlet_sandbox::NetNs::with_listener(addr).is_err());
        assert_eq!(std::fs::read_link("/proc/thread-self/ns/net").unwrap(), own);
        eprintln!(
            "skipped: a listener namespace (egress) needs root (rootless it is refused: checked)"
        );
        return;
    }
    let (ns, listener) = gauntlet_sandbox::NetNs::with_listener(addr).unwrap();
    assert_eq!(std::fs::read_link("/proc/thread-self/ns/net").unwrap(), own);
    let served = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut got = [0u8; 5];
        c.read_exact(&mut got).unwrap();
        // One write: the client reads once.
        c.write_all(&[&b"front door:"[..], &got].concat()).unwrap();
    });
    let mut spec = py(r#"
import socket
c = socket.create_connection(('127.0.0.1', 3128), timeout=2); c.sendall(b'hello')
print(c.recv(64).decode())
for where in [('127.0.0.1', 5432), ('127.0.0.1', 6379), ('1.1.1.1', 443), ('10.0.0.1', 80)]:
    try:
        socket.create_connection(where, timeout=1); print('reached', where)
    except OSError as e:
        print('no', e.errno)
print(sorted(n for _, n in socket.if_nameindex()))
"#);
    spec.network = Network::Join(ns);
    let r = ok(&spec);
    served.join().unwrap();
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines[0], "front door:hello", "{}", r.out);
    assert!(!r.out.contains("reached"), "{}", r.out);
    assert_eq!(lines.last().copied(), Some("['lo']"), "{}", r.out);
}

#[test]
fn pids_limit_is_enforced() {
    let mut spec = py(r#"
import os, time
n = 0
for i in range(50):
    try:
        if os.fork() == 0:
            time.sleep(5); os._exit(0)
        n += 1
    except OSError:
        break
print('forked', n, flush=True)
time.sleep(5)
"#);
    spec.limits.pids = 8;
    let r = jail(&spec);
    assert_eq!(r.report.status, Status::PidsLimit, "{}{}", r.out, r.err);
    let forked: u32 = r
        .out
        .trim()
        .strip_prefix("forked ")
        .map_or(0, |n| n.parse().unwrap());
    assert!(forked < 8, "{}", r.out);
}

#[test]
fn memory_hog_gets_memory_limit() {
    let mut spec = py("x = bytearray(256 << 20); print('ALIVE')");
    spec.limits.memory = 64 << 20;
    let r = jail(&spec);
    assert_eq!(r.report.status, Status::MemoryLimit, "{}{}", r.out, r.err);
    assert!(!r.out.contains("ALIVE"));
    assert!(r.report.peak_memory_bytes > 32 << 20);
    // Under gVisor the cgroup also holds gVisor's own processes, with room for them.
    let allowance = if gvisor() {
        gauntlet_sandbox::GVISOR_MEMORY_ALLOWANCE
    } else {
        0
    };
    assert!(r.report.peak_memory_bytes <= (64 << 20) + allowance);
}

#[test]
fn fork_bomb_is_contained() {
    // Only after the two tests above prove pids and memory limits.
    let marker = format!("forkbomb-{}", std::process::id());
    // The classic bomb; the top shell stays (sleep) so the run lasts until the
    // supervisor sees the pids cgroup refuse forks.
    let mut spec = spec([
        "/bin/sh",
        "-c",
        "b() { b | b & }; b; sleep 30",
        marker.as_str(),
    ]);
    spec.limits.pids = 32;
    spec.limits.memory = 128 << 20;
    spec.limits.wall_time = Duration::from_secs(5);
    let r = jail(&spec);
    assert_eq!(r.report.status, Status::PidsLimit);
    assert!(r.report.wall_ms < 5000);
    assert_eq!(host_processes_with(&marker), 0);
}

#[test]
fn double_forked_daemon_dies_with_the_run() {
    let marker = "987654321";
    let r = ok(&sh(&format!(
        "(setsid sh -c 'exec sleep {marker}' </dev/null >/dev/null 2>&1 &); \
         sleep 0.1; echo parent-exits"
    )));
    assert_eq!(r.out, "parent-exits\n");
    assert_eq!(host_processes_with(&format!("sleep {marker}")), 0);
}

#[test]
fn wall_timeout_kills_everything() {
    let marker = "876543219";
    let mut spec = sh(&format!("sleep {marker} & sleep {marker}"));
    spec.limits.wall_time = Duration::from_millis(300);
    spec.limits.idle_timeout = None;
    let r = jail(&spec);
    assert_eq!(r.report.status, Status::WallTimeout);
    assert!(r.report.wall_ms >= 300 && r.report.wall_ms < 2000);
    assert_eq!(host_processes_with(&format!("sleep {marker}")), 0);
}

#[test]
fn idle_timeout_fires_on_silence() {
    let mut spec = sh("echo one; sleep 5; echo two");
    spec.limits.idle_timeout = Some(Duration::from_millis(300));
    let r = jail(&spec);
    assert_eq!(r.report.status, Status::IdleTimeout);
    assert_eq!(r.out, "one\n");
}

#[test]
fn cpu_timeout_on_busy_loop() {
    let mut spec = py("while True: pass");
    spec.limits.cpu_time = Duration::from_millis(300);
    spec.limits.idle_timeout = None;
    let r = jail(&spec);
    assert_eq!(r.report.status, Status::CpuTimeout);
    assert!(
        r.report.cpu_ms >= 300 && r.report.cpu_ms < 2000,
        "{}",
        r.report.cpu_ms
    );
}

#[test]
fn output_is_capped_with_a_marker() {
    let mut spec = sh("while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; echo yyyy >&2; done");
    spec.limits.output_limit = 1024;
    let r = jail(&spec);
    assert_eq!(r.report.status, Status::OutputLimit);
    assert!(r.report.truncated);
    assert_eq!(r.report.stdout_bytes + r.report.stderr_bytes, 1024);
    let marker = "\n[gauntlet: output truncated]\n";
    assert!(r.out.ends_with(marker) || r.err.ends_with(marker));
    assert_eq!(r.out.len() + r.err.len(), 1024 + marker.len());
}

#[test]
fn signals_and_exit_codes_are_reported() {
    let r = jail(&sh("kill -SEGV $$"));
    assert_eq!(
        (r.report.status, r.report.signal),
        (Status::Signaled, Some(11))
    );
    let r = jail(&sh("exit 7"));
    assert_eq!(
        (r.report.status, r.report.exit_code),
        (Status::Exited, Some(7))
    );
}

#[test]
fn missing_command_is_a_setup_error() {
    if gvisor() {
        // runsc looks the command up inside gVisor and exits 128 with its reason.
        for argv in ["/no/such/program", "no-such-program-on-path"] {
            let r = jail(&spec([argv]));
            assert_eq!(r.report.exit_code, Some(128), "{}", r.err);
            assert!(r.err.contains("no such file or directory"), "{}", r.err);
        }
        return;
    }
    let r = jail(&spec(["/no/such/program"]));
    assert_eq!(r.report.status, Status::SetupError);
    assert!(r.report.error.as_deref().unwrap().contains("No such file"));
    let r = jail(&spec(["no-such-program-on-path"]));
    assert_eq!(r.report.status, Status::SetupError);
}

#[test]
fn overlay_is_copy_on_write_capped_and_vanishes() {
    let lower = tempdir("lower");
    let extra = tempdir("lower2");
    std::fs::write(lower.join("given.txt"), "given\n").unwrap();
    std::fs::write(extra.join("given.txt"), "shadowed\n").unwrap();
    std::fs::write(extra.join("extra.txt"), "extra\n").unwrap();
    // What the jail may modify belongs to the jail user (the grader does the same
    // for submission files; tests/ would stay root-owned and so read-only).
    let (uid, gid) = gauntlet_sandbox::jail_host_ids();
    std::os::unix::fs::chown(lower.join("given.txt"), Some(uid), Some(gid)).unwrap();
    let mut spec = sh(
        "cat given.txt extra.txt; echo changed > given.txt; echo new > new.txt; cat given.txt; \
         dd if=/dev/zero of=big bs=64k count=64 2>&1 | grep -o 'No space left on device'",
    );
    spec.overlays = vec![Overlay {
        lowers: vec![lower.clone(), extra.clone()],
        inside: "/work".into(),
        size: 1 << 20,
    }];
    spec.workdir = "/work".into();
    let r = ok(&spec);
    assert_eq!(
        r.out, "given\nextra\nchanged\nNo space left on device\n",
        "{}",
        r.err
    );
    assert_eq!(
        std::fs::read_to_string(lower.join("given.txt")).unwrap(),
        "given\n"
    );
    assert!(!lower.join("new.txt").exists() && !extra.join("new.txt").exists());
}

#[test]
fn collect_reads_regular_files_only_never_symlinks() {
    let lower = tempdir("collect");
    let secret = tempdir("secret").join("host-secret");
    std::fs::write(&secret, "HOST SECRET").unwrap();
    let mut spec = sh(&format!(
        "echo '<testsuite/>' > report.xml; ln -s /etc/passwd jail-link; \
         ln -s {} host-link; mkfifo fifo; head -c 5000 /dev/zero > big; mkdir dir",
        secret.display()
    ));
    spec.overlays = vec![Overlay {
        lowers: vec![lower],
        inside: "/work".into(),
        size: 1 << 20,
    }];
    spec.workdir = "/work".into();
    spec.collect = [
        "report.xml",
        "jail-link",
        "host-link",
        "fifo",
        "big",
        "dir",
        "missing",
    ]
    .iter()
    .map(|f| Collect {
        inside: Path::new("/work").join(f),
        max_bytes: 4096,
    })
    .collect();
    let r = ok(&spec);
    let c = &r.report.collected;
    assert_eq!(c[0].as_deref(), Some(&b"<testsuite/>\n"[..]));
    assert!(c[1..].iter().all(Option::is_none), "{c:?}");
}

#[test]
fn symlinked_host_paths_are_refused() {
    // A sandbox-writable dir where a previous run planted a symlink to a host file.
    let rw = tempdir("planted");
    std::os::unix::fs::symlink("/etc", rw.join("planted")).unwrap();
    for (ro, overlay) in [(true, false), (false, true)] {
        let mut spec = spec(["/bin/true"]);
        if ro {
            spec.ro_binds = vec![Bind {
                host: rw.join("planted"),
                inside: "/x".into(),
            }];
        }
        if overlay {
            spec.overlays = vec![Overlay {
                lowers: vec![rw.join("planted")],
                inside: "/x".into(),
                size: 1 << 20,
            }];
        }
        let mut cap = Capture::default();
        match run(&spec, &mut cap) {
            Err(Error::InvalidSpec(m)) => assert!(m.contains("symlink"), "{m}"),
            other => panic!("expected InvalidSpec, got {other:?}"),
        }
    }
}

#[test]
fn bad_specs_are_rejected_before_anything_runs() {
    type Tweak = Box<dyn Fn(&mut Spec)>;
    let cases: Vec<(&str, Tweak)> = vec![
        (
            "relative inside",
            Box::new(|s| {
                s.ro_binds.push(Bind {
                    host: "/usr".into(),
                    inside: "x".into(),
                })
            }),
        ),
        (
            "dotdot inside",
            Box::new(|s| {
                s.rw_binds.push(Bind {
                    host: "/tmp".into(),
                    inside: "/a/../etc".into(),
                })
            }),
        ),
        (
            "reserved inside",
            Box::new(|s| {
                s.ro_binds.push(Bind {
                    host: "/usr".into(),
                    inside: "/proc/x".into(),
                })
            }),
        ),
        (
            "missing host",
            Box::new(|s| {
                s.ro_binds.push(Bind {
                    host: "/no/such/dir".into(),
                    inside: "/x".into(),
                })
            }),
        ),
        (
            "nested",
            Box::new(|s| {
                s.ro_binds.push(Bind {
                    host: "/usr".into(),
                    inside: "/a".into(),
                });
                s.ro_binds.push(Bind {
                    host: "/usr".into(),
                    inside: "/a/b".into(),
                });
            }),
        ),
        ("relative workdir", Box::new(|s| s.workdir = "work".into())),
        ("tiny memory", Box::new(|s| s.limits.memory = 1024)),
        (
            "bad env",
            Box::new(|s| s.env.push(("A=B".into(), "c".into()))),
        ),
        ("empty argv", Box::new(|s| s.argv.clear())),
    ];
    for (name, tweak) in cases {
        let mut spec = spec(["/bin/true"]);
        tweak(&mut spec);
        let mut cap = Capture::default();
        assert!(
            matches!(run(&spec, &mut cap), Err(Error::InvalidSpec(_))),
            "{name}"
        );
    }
}

#[test]
fn concurrent_runs_from_many_threads() {
    let handles: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || {
                let r = ok(&sh(&format!("echo run-{i}")));
                assert_eq!(r.out, format!("run-{i}\n"));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn controlled_jail_lends_its_network_and_stops_on_kill() {
    if gvisor() {
        eprintln!(
            "skipped: a jail that lends its network (an Anvil chain, a trusted program) runs \
             under namespaces; under gVisor its listeners would live in gVisor's own stack"
        );
        return;
    }
    use std::io::{Read, Write};
    use std::sync::Arc;
    // A long-lived service jail (as the Anvil pool runs), listening on its own lo.
    let mut spec = py(r#"
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 8545)); s.listen()
while True:
    c, _ = s.accept(); c.sendall(b'pong:' + c.recv(16)); c.close()
"#);
    spec.limits.idle_timeout = None;
    spec.limits.wall_time = Duration::from_secs(30);
    let control = Arc::new(gauntlet_sandbox::Control::new());
    let ctl = control.clone();
    let service = std::thread::spawn(move || {
        let mut cap = Capture::default();
        gauntlet_sandbox::run_controlled(&spec, &mut cap, &ctl).unwrap()
    });
    control
        .wait_started(Duration::from_secs(5))
        .expect("started");
    let netns = control
        .netns()
        .expect("a started jail has a network namespace");
    assert!(control.is_alive());
    // Its namespace is its own, never one of the pool's: the jobs that join it hold
    // no lease, so a pooled slot could be lent again while they are still inside.
    {
        use std::os::unix::fs::MetadataExt;
        let own = netns.inode();
        for slot in std::fs::read_dir("/run/gauntlet/netns")
            .into_iter()
            .flatten()
        {
            let slot = slot.unwrap().path();
            if slot.extension().is_none() {
                if let Ok(m) = std::fs::metadata(&slot) {
                    assert_ne!(
                        m.ino(),
                        own,
                        "{} is lent to a controlled jail",
                        slot.display()
                    );
                }
            }
        }
    }
    let addr: std::net::SocketAddr = "127.0.0.1:8545".parse().unwrap();
    if gauntlet_sandbox::rootless() {
        // Entering the jail's namespace (to connect, or for a jail to join it) needs
        // CAP_SYS_ADMIN in the caller's own user namespace: both fail closed.
        assert!(gauntlet_sandbox::connect_tcp_in(&netns, addr, Duration::from_secs(1)).is_err());
        let mut client = sh("true");
        client.network = Network::Join(netns);
        assert!(matches!(
            run(&client, &mut Capture::default()),
            Err(Error::Unsupported(_))
        ));
        eprintln!(
            "skipped: lending a jail's network needs root (rootless it fails closed: checked)"
        );
        control.kill();
        let report = service.join().unwrap();
        assert_eq!((report.status, report.signal), (Status::Signaled, Some(9)));
        return;
    }
    // The host reaches it only through the namespace, never on its own loopback.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut stream = loop {
        match gauntlet_sandbox::connect_tcp_in(&netns, addr, Duration::from_secs(1)) {
            Ok(s) => break s,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("connect_tcp_in: {e}"),
        }
    };
    stream.write_all(b"ping").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "pong:ping");
    assert!(std::net::TcpStream::connect(addr).is_err() || !host_listens_on_8545());
    // A test jail joins that namespace and reaches the service.
    let mut client = py(r#"
import socket
c = socket.create_connection(('127.0.0.1', 8545), timeout=2); c.sendall(b'hi'); print(c.recv(64).decode())
"#);
    client.network = Network::Join(netns);
    assert_eq!(ok(&client).out, "pong:hi\n");
    assert!(!control.finished());
    control.kill();
    let report = service.join().unwrap();
    assert_eq!((report.status, report.signal), (Status::Signaled, Some(9)));
    assert!(control.finished());
    assert!(!control.is_alive());
    assert_eq!(control.wait_started(Duration::from_millis(1)), None);
}

fn host_listens_on_8545() -> bool {
    std::fs::read_to_string("/proc/net/tcp")
        .map(|t| t.contains(":2161 "))
        .unwrap_or(false)
}

/// A chain's network namespace is held by a descriptor, so a handle kept after its
/// jail died still names that (now empty) namespace, never whatever process got the
/// PID next. The test makes PID reuse happen (`ns_last_pid`, as root): the path
/// `/proc/<pid>/ns/net` then names an unrelated namespace, the handle does not.
#[test]
fn a_netns_handle_never_names_another_namespace_after_its_jail_died() {
    if gvisor() {
        eprintln!(
            "skipped: a jail that lends its network (an Anvil chain, a trusted program) runs \
             under namespaces; under gVisor its listeners would live in gVisor's own stack"
        );
        return;
    }
    use std::sync::Arc;
    let mut spec = sh("exec sleep 30");
    spec.limits.idle_timeout = None;
    let control = Arc::new(gauntlet_sandbox::Control::new());
    let ctl = control.clone();
    let service = std::thread::spawn(move || {
        gauntlet_sandbox::run_controlled(&spec, &mut Capture::default(), &ctl).unwrap()
    });
    let pid = control
        .wait_started(Duration::from_secs(5))
        .expect("started");
    let handle = control.netns().unwrap();
    assert!(control.is_alive());
    control.kill();
    service.join().unwrap();
    assert!(!control.is_alive(), "a dead chain says so");
    let ours = format!("net:[{}]", handle.inode());

    // Give the dead jail's PID to a process in a namespace of its own.
    let mut impostor = None;
    // SAFETY: a getter.
    if unsafe { libc::geteuid() } == 0 {
        for _ in 0..200 {
            if std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).is_err() {
                break;
            }
            let child = std::process::Command::new("unshare")
                .args(["--net", "sleep", "30"])
                .spawn()
                .expect("unshare");
            if child.id() == pid {
                impostor = Some(child);
                break;
            }
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    match &mut impostor {
        Some(child) => {
            let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            let own = std::fs::read_link("/proc/self/ns/net").unwrap();
            // Wait until `unshare` has made its namespace.
            while std::fs::read_link(&path).unwrap() == own {
                assert!(std::time::Instant::now() < deadline, "unshare never ran");
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_ne!(
                std::fs::read_link(&path).unwrap().to_str(),
                Some(ours.as_str()),
                "the PID now names another namespace"
            );
            let _ = child.kill();
            let _ = child.wait();
        }
        None => eprintln!("PID {pid} was not reused (needs root): checking the handle only"),
    }
    let mut probe = sh("readlink /proc/self/ns/net; cat /proc/net/tcp | wc -l");
    if gauntlet_sandbox::rootless() {
        probe.network = Network::Join(handle);
        assert!(matches!(
            run(&probe, &mut Capture::default()),
            Err(Error::Unsupported(_))
        ));
        eprintln!("skipped: joining the handle's namespace needs root (rootless it fails closed: checked)");
        return;
    }
    probe.network = Network::Join(handle);
    let r = ok(&probe);
    assert_eq!(
        r.out,
        format!("{ours}\n1\n"),
        "the handle still names the dead jail's namespace, empty"
    );
}

/// As root the supervisor hands the jail its bind sources and overlay lowers as
/// detached mounts it opened itself: the jail user (990000) never walks the host
/// folders above them, so a data dir or a clone under `/root` (0700) works.
#[test]
fn binds_and_lowers_under_a_private_folder_are_reached() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: a getter.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: rootless, the jail user is the caller and walks its own folders");
        return;
    }
    let private = tempdir("private");
    let deep = private.join("home/clone");
    std::fs::create_dir_all(&deep).unwrap();
    for dir in [&private, &private.join("home"), &deep] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let (ro, lower) = (deep.join("ro"), deep.join("lower"));
    for (dir, file) in [(&ro, "given.txt"), (&lower, "starter.py")] {
        std::fs::create_dir(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join(file), file).unwrap();
    }
    // What the jail may change through the overlay is the jail user's.
    let (uid, gid) = gauntlet_sandbox::jail_host_ids();
    std::os::unix::fs::chown(lower.join("starter.py"), Some(uid), Some(gid)).unwrap();
    let rw = deep.join("rw");
    gauntlet_sandbox::create_jail_dir(&rw).unwrap();
    let mut spec = sh(
        "cat /ro/given.txt /work/starter.py && echo out > /rw/out.txt && \
                       echo changed > /work/starter.py && cat /work/starter.py",
    );
    spec.ro_binds = vec![Bind {
        host: ro,
        inside: "/ro".into(),
    }];
    spec.rw_binds = vec![Bind {
        host: rw.clone(),
        inside: "/rw".into(),
    }];
    spec.overlays = vec![Overlay {
        lowers: vec![lower.clone()],
        inside: "/work".into(),
        size: 1 << 20,
    }];
    let r = ok(&spec);
    assert_eq!(r.out, "given.txtstarter.pychanged\n");
    assert_eq!(
        std::fs::read_to_string(rw.join("out.txt")).unwrap(),
        "out\n"
    );
    assert_eq!(
        std::fs::read_to_string(lower.join("starter.py")).unwrap(),
        "starter.py"
    );
}
