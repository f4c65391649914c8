//! The results channel (`Spec::results`): fd 3 of the command, read by the
//! supervisor. What arrives is kept up to its cap; only the processes that were
//! handed the descriptor can write to it.

use gauntlet_sandbox::{Spec, Status};

mod common;
use common::*;

fn with_channel(mut spec: Spec, cap: u64) -> Spec {
    spec.results = Some(cap);
    spec
}

#[test]
fn results_arrive_on_fd_3() {
    let r = ok(&with_channel(
        py(r#"
import os
fd = int(os.environ['GAUNTLET_RESULTS_FD'])
os.write(fd, b'ok 1 - first\n')
os.write(fd, b'ok 2 - second\n')
print('fd', fd)
"#),
        1 << 20,
    ));
    assert_eq!(r.out, "fd 3\n");
    assert_eq!(
        r.report.results.as_deref(),
        Some(&b"ok 1 - first\nok 2 - second\n"[..])
    );
    assert_eq!(r.report.results_bytes, Some(27));
    let json = serde_json::to_value(&r.report).unwrap();
    assert_eq!(json["results_bytes"], 27);
    assert!(
        json.get("results").is_none(),
        "the bytes are never serialized"
    );
}

#[test]
fn an_empty_channel_is_empty_not_absent() {
    let r = ok(&with_channel(spec(["/bin/true"]), 16));
    assert_eq!(r.report.results.as_deref(), Some(&b""[..]));
    assert_eq!(r.report.results_bytes, Some(0));
}

#[test]
fn results_over_the_cap_are_not_kept() {
    // Byte by byte, and then a megabyte in as few writes as the kernel takes (a
    // single write over 64 KiB is what gVisor's ptrace platform cuts on a pipe).
    for (size, kept) in [(100, true), (101, false), (1 << 20, false)] {
        let r = ok(&with_channel(
            py(&format!(
                "import os\n\
                 if {size} < 1000:\n    for i in range({size}): os.write(3, b'x')\n\
                 else:\n    b = b'x' * {size}\n    while b: b = b[os.write(3, b):]\n"
            )),
            100,
        ));
        assert_eq!(r.report.results_bytes, Some(size), "{size}");
        assert_eq!(r.report.results.is_some(), kept, "{size}");
    }
}

#[test]
fn without_the_channel_fd_3_and_the_variable_are_absent() {
    let mut spec = py(r#"
import os
try:
    os.fstat(3); print('fd 3 OPEN')
except OSError as e:
    print('fd 3', e.errno)
print(os.environ.get('GAUNTLET_RESULTS_FD'))
"#);
    // A caller cannot fake the variable into pointing at something.
    spec.env = vec![("GAUNTLET_RESULTS_FD".into(), "7".into())];
    let r = ok(&spec);
    assert_eq!(r.out, "fd 3 9\n7\n", "EBADF, and the caller's own variable");
    assert_eq!(r.report.results, None);
    assert_eq!(r.report.results_bytes, None);
    let json = serde_json::to_value(&r.report).unwrap();
    assert!(json.get("results_bytes").is_none());
    // With the channel on, the variable is always the real one.
    let r = ok(&with_channel(spec, 64));
    assert_eq!(r.out.lines().nth(1), Some("3"));
}

/// The trust model the runners build on: a runner that makes itself non-dumpable
/// and starts the learner's code without fd 3 is the only writer of the channel.
/// The child cannot reopen the pipe through `/proc/<runner>/fd/3` (nor through
/// init's). The same attack against a dumpable parent succeeds, which shows the
/// test would see a leak.
#[test]
fn a_child_started_without_fd_3_cannot_reach_it() {
    let runner = |dumpable: bool| {
        format!(
            r#"
import ctypes, os, subprocess, sys
if not {}:
    assert ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) == 0   # PR_SET_DUMPABLE 0
learner = r'''
import os
for pid in (os.getppid(), 1):
    for path in ('/proc/%d/fd/3' % pid, '/proc/%d/fd/10' % pid):
        try:
            with open(path, 'wb') as f: f.write(b'ok 1 - forged\n')
            print('FORGED', path)
        except OSError as e:
            print('refused', path, e.errno)
'''
subprocess.run([sys.executable, '-c', learner], close_fds=True, check=True)
os.write(3, b'ok 1 - real\n')
"#,
            if dumpable { "True" } else { "False" }
        )
    };
    let r = ok(&with_channel(py(&runner(false)), 4096));
    assert!(!r.out.contains("FORGED"), "{}", r.out);
    assert!(r.out.contains("refused"), "{}", r.out);
    assert_eq!(r.report.results.as_deref(), Some(&b"ok 1 - real\n"[..]));

    if gvisor() {
        // Under gVisor the channel is a host socket passed in by runsc, which no one
        // can reopen through /proc (ENXIO), dumpable runner or not.
        let r = ok(&with_channel(py(&runner(true)), 4096));
        assert!(!r.out.contains("FORGED"), "{}", r.out);
        assert_eq!(r.report.results.as_deref(), Some(&b"ok 1 - real\n"[..]));
        return;
    }
    // Control: a dumpable runner lends its descriptors through /proc.
    let r = ok(&with_channel(py(&runner(true)), 4096));
    assert!(r.out.contains(&"FORGED /proc/".to_string()), "{}", r.out);
    assert!(
        String::from_utf8_lossy(r.report.results.as_deref().unwrap()).contains("forged"),
        "{:?}",
        r.report.results
    );
}

#[test]
fn the_channel_survives_a_failed_exec_as_setup_error() {
    let r = jail(&with_channel(spec(["/no/such/program"]), 64));
    // Under gVisor the shell that hands fd 3 over fails to exec it (127).
    match gvisor() {
        true => assert_eq!(r.report.exit_code, Some(127), "{}", r.err),
        false => assert_eq!(r.report.status, Status::SetupError),
    }
    assert_eq!(r.report.results.as_deref(), Some(&b""[..]));
}
