//! Per-job set-up cost against the size of the prepared layer (driven by
//! bench/grade/layer.sh). Loads each exercise once, as the server does, then grades
//! its solution `RUNS` times, interleaving exercises so machine noise hits both alike,
//! and prints the median of each and their ratio.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use gauntlet_exercise::{self as exercise, Maxima};
use gauntlet_grader::{Grader, GraderConfig, Registry, Runtime, RuntimeError, Submission};

/// The shell runtime plus a preparation step that installs `LAYER_MB` of files, many
/// small and a few large, as a package manager would.
struct Bulk {
    mb: u64,
}

impl Runtime for Bulk {
    fn name(&self) -> &'static str {
        "bulk"
    }

    fn prepare(&self, layer: &std::path::Path) -> Result<(), RuntimeError> {
        let fail = |e: std::io::Error| RuntimeError::Prepare {
            runtime: "bulk".into(),
            reason: e.to_string(),
        };
        let (mut total, mut i) = (0u64, 0u64);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        while total < self.mb << 20 {
            let dir = layer.join(format!("node_modules/pkg{}/lib", i / 50));
            std::fs::create_dir_all(&dir).map_err(fail)?;
            let size = if i % 100 == 0 { 4 << 20 } else { 4096 };
            // Incompressible bytes (xorshift), so no filesystem shortcut helps.
            let bytes: Vec<u8> = (0..size)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            std::fs::write(dir.join(format!("f{i}.js")), bytes).map_err(fail)?;
            total += size as u64;
            i += 1;
        }
        eprintln!("bulk layer: {i} files, {} MiB", total >> 20);
        Ok(())
    }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let data = PathBuf::from(args.next().expect("usage: layer DATA_DIR EXERCISE_DIR…"));
    let dirs: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let mb = std::env::var("LAYER_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut registry = Registry::system();
    registry.register(std::sync::Arc::new(Bulk { mb }));
    let grader = Grader::new(GraderConfig::new(data), registry).expect("grader");
    let mut cases = Vec::new();
    for dir in &dirs {
        let ex = exercise::load(dir, &Maxima::default()).expect("load");
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir.join("solution")).expect("solution/") {
            let entry = entry.expect("entry");
            let name = entry.file_name().into_string().expect("utf-8 name");
            files.insert(name, std::fs::read(entry.path()).expect("read"));
        }
        let sub = Submission::Files(exercise::validate_file_bytes(&ex, &files).expect("valid"));
        cases.push((ex, sub, Vec::with_capacity(runs)));
    }
    for round in 0..runs + 3 {
        for (i, (ex, sub, times)) in cases.iter_mut().enumerate() {
            let start = Instant::now();
            let result = grader
                .grade(ex, sub, &format!("bench-{round}-{i}"), &mut |_| {})
                .expect("grade");
            let elapsed = start.elapsed();
            assert_eq!(result.score, 100, "{}: {}", ex.id.as_str(), result.log);
            if round >= 3 {
                times.push(elapsed.as_secs_f64() * 1000.0);
            }
        }
    }
    let mut medians = Vec::new();
    for (ex, _, times) in &mut cases {
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "{}: median {:.2} ms over {} grades",
            ex.id.as_str(),
            median,
            times.len()
        );
        medians.push(median);
    }
    if medians.len() == 2 {
        println!("ratio {:.3} (second / first)", medians[1] / medians[0]);
    }
}
