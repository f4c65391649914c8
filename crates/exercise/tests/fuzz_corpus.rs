//! Runs the fuzz regression corpus (`fuzz/corpus/<target>/`) through the same entry
//! points as the `cargo fuzz` targets, on stable, so CI replays every saved input.
//! Add a crashing input from `fuzz/artifacts/` to the corpus once it is fixed.

mod common;

use std::path::PathBuf;

use gauntlet_exercise::fuzzing;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

fn replay(target: &str, entry: fn(&[u8])) {
    for (name, data) in corpus(target) {
        let r = std::panic::catch_unwind(|| entry(&data));
        assert!(r.is_ok(), "fuzz/corpus/{target}/{name} breaks an invariant");
    }
}

#[test]
fn archive_corpus() {
    replay("archive", fuzzing::archive);
}

#[test]
fn manifest_corpus() {
    replay("manifest", fuzzing::manifest);
}

#[test]
fn tap_corpus() {
    replay("tap", fuzzing::tap);
}

#[test]
fn junit_corpus() {
    replay("junit", fuzzing::junit);
}

/// The seeds say what they are: only `valid*` inputs are accepted.
#[test]
fn corpus_verdicts() {
    use gauntlet_exercise::{extract_archive, parse_manifest, ArchiveLimits, Maxima};
    for (name, data) in corpus("manifest") {
        let ok = parse_manifest(&data, "x.yaml".as_ref(), None, &Maxima::default()).is_ok();
        let want = name.starts_with("valid") || name.starts_with("archive-");
        assert_eq!(ok, want, "manifest/{name}");
    }
    let ex = common::exercise(gauntlet_exercise::SubmissionKind::Archive, &[]);
    for (name, data) in corpus("archive") {
        let t = tempfile::tempdir().unwrap();
        let r = extract_archive(
            &ex,
            &data,
            &t.path().join("ws"),
            &[],
            &ArchiveLimits::default(),
        );
        assert_eq!(
            r.is_ok(),
            name.starts_with("valid"),
            "archive/{name}: {r:?}"
        );
    }
}
