//! Jails per second through the library, as the server runs them: `THREADS` threads
//! each calling `gauntlet_sandbox::run` on `/bin/true` until `TOTAL` runs are done.
//! `cargo run --release -p gauntlet-sandbox --example throughput -- 2 1000`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

struct Discard;
impl gauntlet_sandbox::OutputSink for Discard {
    fn output(&mut self, _: gauntlet_sandbox::Stream, _: &[u8]) {}
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let left = AtomicUsize::new(total);
    let spec = gauntlet_sandbox::Spec::new(["/bin/true"]);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let r = gauntlet_sandbox::run(&spec, &mut Discard).expect("run");
                    assert_eq!(r.exit_code, Some(0));
                }
            });
        }
    });
    println!("{:.0}", total as f64 / start.elapsed().as_secs_f64());
}
