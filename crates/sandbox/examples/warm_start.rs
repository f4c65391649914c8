//! Claim to payload start with a warm jail, side by side with bubblewrap starting
//! `/bin/true`, in the same run: `cargo run --release -p gauntlet-sandbox --example
//! warm_start -- [N]` (bench/sandbox/warm.sh runs it).
//!
//! Each round starts a warm jail whose preamble (`/bin/sh`) says it is ready and
//! waits; once it is ready the clock starts, the job is delivered, and it stops when
//! the supervisor sees the payload's first byte of output (the preamble prints as soon
//! as it has read its job). Then bwrap runs `/bin/true`, timed from spawn to exit. The
//! medians and their ratio are printed; issue 17 asks for <= 0.3, with a goal of 0.1.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gauntlet_sandbox::{run_controlled, Control, OutputSink, Spec, Stream, Warm};

struct FirstByte(Arc<Mutex<Option<Instant>>>);
impl OutputSink for FirstByte {
    fn output(&mut self, _: Stream, _: &[u8]) {
        self.0.lock().unwrap().get_or_insert_with(Instant::now);
    }
}

const BWRAP: &[&str] = &[
    "--unshare-all",
    "--die-with-parent",
    "--ro-bind",
    "/usr",
    "/usr",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
    "--symlink",
    "usr/bin",
    "/bin",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "/bin/true",
];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let (mut warm, mut bwrap) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let mut spec = Spec::new([
            "/bin/sh",
            "-c",
            "printf R >&4; read -r job <&4; echo \"$job\"",
        ]);
        spec.warm = Some(Warm {
            max_wait: Duration::from_secs(30),
            preamble_cpu: Duration::from_secs(5),
            nice: 0,
        });
        let control = Arc::new(Control::new());
        let first = Arc::new(Mutex::new(None));
        let (ctl, out) = (control.clone(), first.clone());
        let jail = std::thread::spawn(move || run_controlled(&spec, &mut FirstByte(out), &ctl));
        assert!(
            control.wait_ready(Duration::from_secs(10)),
            "the preamble never got ready"
        );
        let t = Instant::now();
        control
            .deliver(b"go\n", Duration::from_secs(5))
            .expect("delivered");
        let report = jail.join().unwrap().expect("a report");
        assert_eq!(report.exit_code, Some(0), "{report:?}");
        let seen = first.lock().unwrap().expect("the payload printed");
        warm.push(seen - t);

        let t = Instant::now();
        let status = Command::new("bwrap")
            .args(BWRAP)
            .status()
            .expect("bwrap runs");
        assert!(status.success());
        bwrap.push(t.elapsed());
    }
    let (w, b) = (median(warm), median(bwrap));
    println!(
        "claim to payload start, warm jail: median {:.3} ms",
        w.as_secs_f64() * 1e3
    );
    println!(
        "bwrap /bin/true:                   median {:.3} ms",
        b.as_secs_f64() * 1e3
    );
    println!(
        "ratio (warm / bwrap): {:.3}  (must <= 0.3, goal <= 0.1)",
        w.as_secs_f64() / b.as_secs_f64()
    );
}
