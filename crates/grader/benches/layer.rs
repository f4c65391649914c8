//! Per-job set-up cost against the size of the prepared layer (driven by
//! bench/grade/layer.sh). Loads each exercise once, as the server does, then grades
//! its solution `RUNS` times, interleaving exercises so machine noise hits both alike,
//! and prints the median of each and their ratio.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use gauntlet_exercise::{self as exercise, Maxima};
use gauntlet_grader::{Grader, GraderConfig, Registry, Submission};

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let data = PathBuf::from(args.next().expect("usage: layer DATA_DIR EXERCISE_DIR…"));
    let dirs: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let grader = Grader::new(GraderConfig::new(data), Registry::system()).expect("grader");
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
