//! Entry points shared by the `cargo fuzz` targets in `fuzz/` and the corpus test in
//! `tests/fuzz_corpus.rs`: each feeds one input through a public function and panics when
//! an invariant breaks (a panic inside the function is a finding too).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::results::{MAX_MESSAGE_CHARS, MAX_NAME_CHARS};
use crate::{
    extract_archive, parse_junit, parse_manifest, parse_tap, ArchiveError, ArchiveLimits, Exercise,
    ExerciseId, ExerciseLimits, Maxima, RelPath, Scoring, SubmissionKind,
};

/// `exercise.yaml` bytes: loads or fails; never panics, and a loaded manifest obeys the caps.
pub fn manifest(data: &[u8]) {
    if let Ok(m) = parse_manifest(
        data,
        Path::new("fuzz/exercise.yaml"),
        None,
        &Maxima::default(),
    ) {
        assert!(m.starter_files.len() <= crate::package::MAX_STARTER_FILES);
        assert!(m
            .starter_files
            .iter()
            .all(|f| f.max_bytes > 0 && f.max_bytes <= crate::package::MAX_MAX_BYTES));
        let max = Maxima::default();
        assert!(m.limits.wall_time.is_none_or(|t| t <= max.wall_time));
        assert!(m.limits.memory.is_none_or(|b| b <= max.memory));
    }
}

/// ZIP bytes: extracted into a fresh folder under the temp dir, then removed. On success
/// every file is a regular file inside the folder, outside `tests/`; on failure the folder
/// does not exist.
pub fn archive(data: &[u8]) {
    static N: AtomicU64 = AtomicU64::new(0);
    let dest = std::env::temp_dir().join(format!(
        "gauntlet-fuzz-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let limits = ArchiveLimits {
        max_compressed_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        max_entries: 64,
        max_entry_bytes: 1 << 20,
        ..ArchiveLimits::default()
    };
    let protected = [RelPath::parse("node_modules").expect("valid")];
    let result = extract_archive(&archive_exercise(), data, &dest, &protected, &limits);
    match result {
        Ok(files) => {
            let tests = RelPath::parse("tests").expect("valid");
            for f in &files.files {
                assert!(!f.is_within(&tests) && !f.is_within(&protected[0]), "{f}");
                let meta = std::fs::symlink_metadata(f.under(&dest)).expect("written file");
                assert!(meta.is_file(), "{f}");
            }
            assert_no_symlinks(&dest);
            std::fs::remove_dir_all(&dest).expect("cleanup");
        }
        Err(ArchiveError::Write { .. }) if dest.exists() => {
            panic!("write error left {dest:?} behind")
        }
        Err(_) => assert!(!dest.exists(), "refused archive left {dest:?} behind"),
    }
}

fn assert_no_symlinks(dir: &Path) {
    for e in std::fs::read_dir(dir).expect("readable") {
        let e = e.expect("entry");
        let ft = e.file_type().expect("file type");
        assert!(!ft.is_symlink(), "{:?}", e.path());
        if ft.is_dir() {
            assert_no_symlinks(&e.path());
        }
    }
}

fn archive_exercise() -> Exercise {
    Exercise {
        id: ExerciseId::parse("fuzz").expect("valid"),
        title: "Fuzz".into(),
        runtime: "shell".into(),
        submission: SubmissionKind::Archive,
        starter_files: Vec::new(),
        limits: ExerciseLimits::default(),
        test: None,
        scoring: Scoring::PerTest,
        dir: PathBuf::from("/nonexistent"),
        hidden: Vec::new(),
        dependencies: None,
        build: None,
        isolation: Default::default(),
        statement: None,
        content_hash: String::new(),
    }
}

/// TAP text (lossy UTF-8): parses; names and messages within their caps.
pub fn tap(data: &[u8]) {
    let tests = parse_tap(&String::from_utf8_lossy(data));
    check_caps(&tests);
}

/// JUnit bytes: parses or fails; names and messages within their caps.
pub fn junit(data: &[u8]) {
    if let Ok(tests) = parse_junit(data) {
        check_caps(&tests);
    }
}

fn check_caps(tests: &[crate::TestResult]) {
    assert!(tests.len() <= crate::results::MAX_TESTS);
    for t in tests {
        assert!(t.name.chars().count() <= MAX_NAME_CHARS + 1);
        assert!(t
            .message
            .as_ref()
            .is_none_or(|m| m.chars().count() <= MAX_MESSAGE_CHARS + 1));
    }
}
