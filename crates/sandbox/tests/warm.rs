//! Warm jails (`Spec::warm`): started before their job, handed it through the job
//! socket, with the run's clocks starting at delivery. Each test runs a small python
//! preamble in a real jail.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Capture, PY};
use gauntlet_sandbox::{run_controlled, Control, Report, Spec, Status, Warm};

/// A preamble that says it is ready, reads its job to EOF, and then runs the job as
/// python code (the "job" here is just a program).
const PREAMBLE: &str = r#"
import os, sys
fd = int(os.environ["GAUNTLET_JOB_FD"])
os.write(fd, b"R")
chunks = []
while True:
    b = os.read(fd, 65536)
    if not b:
        break
    chunks.append(b)
exec(b"".join(chunks).decode())
"#;

fn warm_spec(preamble: &str) -> Spec {
    let mut spec = Spec::new([PY, "-c", preamble]);
    spec.warm = Some(Warm {
        max_wait: Duration::from_secs(20),
        preamble_cpu: Duration::from_secs(5),
        nice: 10,
    });
    spec
}

struct Started {
    control: Arc<Control>,
    done: thread::JoinHandle<(Report, Capture)>,
}

fn start(spec: Spec) -> Started {
    let control = Arc::new(Control::new());
    let ctl = control.clone();
    let done = thread::spawn(move || {
        let mut cap = Capture::default();
        let report = run_controlled(&spec, &mut cap, &ctl).expect("sandbox run");
        (report, cap)
    });
    control
        .wait_started(Duration::from_secs(10))
        .expect("the warm jail started");
    Started { control, done }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_delivered_job_runs_with_its_clocks_from_delivery() {
    let mut spec = warm_spec(PREAMBLE);
    spec.limits.wall_time = Duration::from_secs(2);
    let w = start(spec);
    assert!(w.control.wait_ready(Duration::from_secs(10)), "never ready");
    // Waiting longer than the job's own wall time does not count against it.
    thread::sleep(Duration::from_millis(2500));
    let job = b"import os; print('job ran', os.getuid(), os.getpriority(os.PRIO_PROCESS, 0))";
    let ready = w.control.deliver(job, Duration::from_secs(5)).unwrap();
    assert!(ready);
    let (report, cap) = w.done.join().unwrap();
    assert_eq!(
        (report.status, report.exit_code),
        (Status::Exited, Some(0)),
        "{}",
        text(&cap.err)
    );
    let out = text(&cap.out);
    assert!(out.starts_with("job ran 1000 "), "{out}");
    if !gauntlet_sandbox::rootless() {
        // As root, the supervisor put the preamble back to niceness 0 at delivery.
        assert_eq!(out.trim(), "job ran 1000 0");
    }
    let warm = report.warm.expect("a warm report");
    assert!(warm.delivered && warm.ready_at_delivery && !warm.early_output);
    assert!(warm.waited_ms >= 2500, "{warm:?}");
    assert!(
        report.wall_ms < 2000,
        "wall counted from delivery: {report:?}"
    );
    // A second delivery is refused: one jail, one job.
    assert!(w.control.deliver(b"", Duration::from_secs(1)).is_err());
}

/// Where the kernel groups sessions for scheduling (autogroups), a task's niceness
/// only orders it within its session, and each jail is a session of its own: as root,
/// the supervisor gives the waiting preamble's autogroup its niceness too, and puts it
/// back to 0 at delivery.
#[test]
fn a_waiting_preamble_yields_across_sessions_too() {
    let enabled = std::fs::read_to_string("/proc/sys/kernel/sched_autogroup_enabled")
        .map(|s| s.trim() == "1")
        .unwrap_or(false);
    if !enabled || gauntlet_sandbox::rootless() {
        eprintln!("skipped: needs root and scheduler autogroups (sched_autogroup_enabled=1)");
        return;
    }
    // It waits (up to 5 s) to see its autogroup lowered before it says it is ready,
    // and (up to 2 s) to see it back at 0 once its job is in.
    let preamble = r#"
import os, time
def group():
    return open("/proc/self/autogroup").read().strip()
deadline = time.monotonic() + 5
while not group().endswith(" nice 10") and time.monotonic() < deadline:
    time.sleep(0.01)
before = group()
fd = int(os.environ["GAUNTLET_JOB_FD"])
os.write(fd, b"R")
while os.read(fd, 65536):
    pass
# The supervisor hears of the delivery beside the job itself: give it a moment.
deadline = time.monotonic() + 2
while not group().endswith(" nice 0") and time.monotonic() < deadline:
    time.sleep(0.005)
print("before:", before)
print("after:", group())
"#;
    let w = start(warm_spec(preamble));
    assert!(w.control.wait_ready(Duration::from_secs(10)), "never ready");
    w.control.deliver(b"", Duration::from_secs(5)).unwrap();
    let (report, cap) = w.done.join().unwrap();
    assert_eq!(report.exit_code, Some(0), "{}", text(&cap.err));
    let out = text(&cap.out);
    assert!(
        out.starts_with("before: /autogroup-") && out.contains(" nice 10\n"),
        "{out}"
    );
    assert!(out.trim_end().ends_with(" nice 0"), "{out}");
}

#[test]
fn the_job_gets_its_own_cpu_limit_after_the_preamble() {
    // The preamble burns ~0.6 s of CPU; the job's limit is 0.5 s and the job itself is
    // quick, so it must not be charged for the preamble's.
    let burn = format!(
        "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\n{PREAMBLE}"
    );
    let mut spec = warm_spec(&burn);
    spec.limits.cpu_time = Duration::from_millis(500);
    let w = start(spec);
    assert!(w.control.wait_ready(Duration::from_secs(10)));
    w.control
        .deliver(b"print('quick')", Duration::from_secs(5))
        .unwrap();
    let (report, cap) = w.done.join().unwrap();
    assert_eq!(report.status, Status::Exited, "{}", text(&cap.err));
    let warm = report.warm.unwrap();
    assert!(warm.preamble_cpu_ms >= 500, "{warm:?}");
    assert!(report.cpu_ms < 400, "{report:?}");

    // And a job that burns past its own limit is stopped for it.
    let mut spec = warm_spec(PREAMBLE);
    spec.limits.cpu_time = Duration::from_millis(300);
    let w = start(spec);
    w.control
        .deliver(b"while True: pass", Duration::from_secs(5))
        .unwrap();
    let (report, _) = w.done.join().unwrap();
    assert_eq!(report.status, Status::CpuTimeout, "{report:?}");
}

#[test]
fn a_preamble_that_prints_before_its_job_is_stopped() {
    let w = start(warm_spec(&format!(
        "print('hello', flush=True)\n{PREAMBLE}"
    )));
    let (report, cap) = w.done.join().unwrap();
    let warm = report.warm.unwrap();
    assert!(!warm.delivered && warm.early_output, "{warm:?}");
    assert_eq!(report.status, Status::Signaled);
    assert!(text(&cap.out).contains("hello"));
}

#[test]
fn a_preamble_that_dies_is_reported_undelivered() {
    let w = start(warm_spec("import sys; sys.exit(7)"));
    let (report, _) = w.done.join().unwrap();
    assert_eq!(report.exit_code, Some(7));
    assert!(!report.warm.unwrap().delivered);
    // Delivering to it now fails instead of hanging.
    assert!(w.control.deliver(b"x", Duration::from_secs(1)).is_err());
}

#[test]
fn a_jail_that_waits_too_long_is_stopped() {
    let mut spec = warm_spec(PREAMBLE);
    spec.warm.as_mut().unwrap().max_wait = Duration::from_millis(700);
    let t = Instant::now();
    let w = start(spec);
    let (report, _) = w.done.join().unwrap();
    assert_eq!(report.status, Status::WallTimeout);
    assert!(!report.warm.unwrap().delivered);
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_preamble_that_never_reads_cannot_block_delivery_for_ever() {
    // Ready, then asleep: a job larger than the socket's buffer cannot get through.
    let sleeper = r#"
import os, time
os.write(int(os.environ["GAUNTLET_JOB_FD"]), b"R")
time.sleep(60)
"#;
    let w = start(warm_spec(sleeper));
    assert!(w.control.wait_ready(Duration::from_secs(10)));
    let big = vec![b'#'; 8 << 20];
    let t = Instant::now();
    let err = w
        .control
        .deliver(&big, Duration::from_millis(500))
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(3), "{err}");
    w.control.kill();
    let (report, _) = w.done.join().unwrap();
    assert_eq!(report.status, Status::Signaled);
}

#[test]
fn a_warm_spec_without_a_control_is_refused() {
    let spec = warm_spec(PREAMBLE);
    let err = gauntlet_sandbox::run(&spec, &mut Capture::default()).unwrap_err();
    assert!(err.to_string().contains("Control"), "{err}");
}
