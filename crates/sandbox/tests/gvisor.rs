//! What only the gVisor isolation has to show: its envelope (the whole tree dies
//! with the run, output reaches the supervisor whole), and the report. The
//! hostile, leak and results-channel tests run under gVisor too
//! (`GAUNTLET_TEST_ISOLATION=gvisor`, scripts/test.sh).

use std::time::{Duration, Instant};

use gauntlet_sandbox::{Isolation, Status};

mod common;
use common::*;

/// runsc is installed here (scripts/test.sh installs it); a host without it skips
/// these tests, saying so.
fn runsc_installed() -> bool {
    let here = match std::env::var_os("GAUNTLET_RUNSC") {
        Some(p) => std::path::Path::new(&p).exists(),
        None => ["/usr/bin/runsc", "/usr/sbin/runsc", "/usr/local/bin/runsc"]
            .iter()
            .any(|p| std::path::Path::new(p).exists()),
    };
    if !here {
        eprintln!("skipped: runsc is not installed (apt install runsc; or GAUNTLET_RUNSC)");
    }
    here
}

fn under_gvisor(mut spec: gauntlet_sandbox::Spec) -> gauntlet_sandbox::Spec {
    spec.isolation = Isolation::Gvisor;
    spec
}

/// Host processes running as one of gVisor's ids in the jail (runsc, the gofer,
/// the sentry and its stubs).
fn gvisor_processes() -> Vec<u32> {
    let ids = [990_001u32, 990_002];
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(format!("/proc/{pid}"))
                .map(|m| ids.contains(&m.uid()))
                .unwrap_or(false)
        })
        .collect()
}

/// One test at a time may count gVisor's host processes.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_report_names_gvisor_and_its_platform() {
    if !runsc_installed() || gauntlet_sandbox::rootless() {
        return;
    }
    let r = ok(&under_gvisor(sh("echo inside")));
    assert_eq!(r.out, "inside\n");
    let l = &r.report.layers;
    assert_eq!(l.isolation, Isolation::Gvisor);
    assert!(matches!(l.gvisor_platform, Some("ptrace" | "kvm")), "{l:?}");
    let json = serde_json::to_value(&r.report).unwrap();
    assert_eq!(json["layers"]["isolation"], "gvisor");
    assert!(json["layers"]["gvisor_platform"].is_string());
    // Namespace runs say so, and name no platform.
    let r = ok(&sh("true"));
    let json = serde_json::to_value(&r.report).unwrap();
    assert_eq!(json["layers"]["isolation"], isolation().name());
}

#[test]
fn a_timeout_kills_runsc_the_gofer_the_sentry_and_the_command() {
    if !runsc_installed() || gauntlet_sandbox::rootless() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut spec = under_gvisor(sh("sleep 1000 & sleep 1000"));
    spec.limits.wall_time = Duration::from_millis(1500);
    spec.limits.idle_timeout = None;
    let watcher = std::thread::spawn(|| {
        let deadline = Instant::now() + Duration::from_millis(1200);
        let mut most = 0;
        while Instant::now() < deadline {
            most = most.max(gvisor_processes().len());
            std::thread::sleep(Duration::from_millis(50));
        }
        most
    });
    let r = jail(&spec);
    let seen = watcher.join().unwrap();
    assert_eq!(r.report.status, Status::WallTimeout);
    // While it ran, gVisor's processes were there to be seen (so the count below
    // would catch one left behind)...
    assert!(seen >= 3, "saw {seen} of gVisor's processes while it ran");
    // ...and the kill took every one of them with the jail.
    assert_eq!(gvisor_processes(), Vec::<u32>::new());
}

#[test]
fn large_single_writes_reach_the_supervisor_whole() {
    if !runsc_installed() || gauntlet_sandbox::rootless() {
        return;
    }
    // With the ptrace platform, one write of more than 64 KiB to a host pipe comes
    // back short (64 KiB), where Linux writes a blocking pipe whole: a program that
    // does not loop on short writes loses the rest. The jail gives runsc sockets,
    // which take the whole write.
    let mut spec = under_gvisor(py(
        "import os\nn = os.write(1, b'x' * (1 << 20))\nm = os.write(2, b'y' * (300 << 10))\n\
         os.write(2, b' %d %d' % (n, m))\n",
    ));
    spec.limits.output_limit = 4 << 20;
    let r = ok(&spec);
    assert!(
        r.err.ends_with(" 1048576 307200"),
        "{}",
        &r.err[r.err.len() - 40..]
    );
    assert_eq!(r.report.stdout_bytes, 1 << 20);
    assert_eq!(r.out.len(), 1 << 20);
}

#[test]
fn the_limits_cover_the_command_not_gvisors_own_threads() {
    if !runsc_installed() || gauntlet_sandbox::rootless() {
        return;
    }
    // A small pids limit still lets gVisor start (its threads have an allowance of
    // their own) and still stops the command's processes.
    let mut spec = under_gvisor(sh(
        "for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait; echo done",
    ));
    spec.limits.pids = 4;
    spec.limits.wall_time = Duration::from_secs(8);
    let r = jail(&spec);
    assert_eq!(r.report.status, Status::PidsLimit, "{}{}", r.out, r.err);
    let mut spec = under_gvisor(sh("sleep 0.1 & sleep 0.1 & wait; echo done"));
    spec.limits.pids = 4;
    let r = ok(&spec);
    assert_eq!(r.out, "done\n");
}

#[test]
fn warm_jails_are_refused_under_gvisor() {
    if !runsc_installed() || gauntlet_sandbox::rootless() {
        return;
    }
    let mut spec = under_gvisor(sh("true"));
    spec.warm = Some(gauntlet_sandbox::Warm {
        max_wait: Duration::from_secs(1),
        preamble_cpu: Duration::from_secs(1),
        nice: 0,
    });
    let ctl = gauntlet_sandbox::Control::new();
    let err = gauntlet_sandbox::run_controlled(&spec, &mut Capture::default(), &ctl).unwrap_err();
    assert!(err.to_string().contains("warm jails"), "{err}");
}

#[test]
fn rootless_gvisor_fails_closed() {
    if !runsc_installed() {
        return;
    }
    if !gauntlet_sandbox::rootless() {
        eprintln!("skipped: runs as an unprivileged user (tests/rootless/run.sh)");
        return;
    }
    let err =
        gauntlet_sandbox::run(&under_gvisor(sh("true")), &mut Capture::default()).unwrap_err();
    assert!(
        matches!(&err, gauntlet_sandbox::Error::Unsupported(m) if m.contains("root")),
        "{err}"
    );
}
