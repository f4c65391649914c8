//! `files` submissions: the validation table and writing into a fresh folder.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, PermissionsExt};

use common::{exercise, listing};
use gauntlet_exercise::{
    validate_file_bytes, validate_files, write_files, Exercise, SubmissionError, SubmissionKind,
};

fn ex() -> Exercise {
    exercise(
        SubmissionKind::Files,
        &[
            ("words.py", 100),
            ("lib/util.py", 64 << 10),
            ("notes.md", 256 << 10),
        ],
    )
}

fn check(files: &[(&str, &str)], want: &str) {
    let map: BTreeMap<String, String> = files
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
    let got = match validate_files(&ex(), &map) {
        Ok(v) => {
            let mut s = String::from("ok");
            for (p, c) in &v.0 {
                s.push_str(&format!(" {p}={:?}", String::from_utf8_lossy(c)));
            }
            s
        }
        Err(e) => e.to_string(),
    };
    assert_eq!(got, want, "{files:?}");
}

#[test]
fn table() {
    let big = "x".repeat(101);
    let exact = "x".repeat(100);
    let crlf = format!("{}\r\n", "x".repeat(99));
    check(&[("words.py", "print(1)\n")], r#"ok words.py="print(1)\n""#);
    check(
        &[("words.py", "a"), ("lib/util.py", "b")],
        r#"ok lib/util.py="b" words.py="a""#,
    );
    check(&[("words.py", "a\r\nb\0c\r")], r#"ok words.py="a\nbc""#);
    check(&[("words.py", &exact)], &format!("ok words.py={exact:?}"));
    // \r is stripped before the size check: 99 x + \r\n is 100 bytes after.
    check(
        &[("words.py", &crlf)],
        &format!("ok words.py={:?}", format!("{}\n", "x".repeat(99))),
    );
    check(
        &[("words.py", &big)],
        "words.py: 101 bytes, more than its max_bytes of 100 bytes",
    );
    check(
        &[],
        "no files submitted: this exercise takes words.py, lib/util.py, notes.md",
    );
    check(
        &[("other.py", "x")],
        "other.py: not a starter file of this exercise",
    );
    check(&[("lib", "x")], "lib: not a starter file of this exercise");
    check(
        &[("lib/util.py/x", "x")],
        "lib/util.py/x: not a starter file of this exercise",
    );
    check(
        &[("Words.py", "x")],
        "Words.py: not a starter file of this exercise",
    );
    check(
        &[("tests/run.py", "x")],
        "tests/run.py: inside tests/, which submissions never write",
    );
    check(
        &[("tests", "x")],
        "tests: inside tests/, which submissions never write",
    );
    check(&[("/words.py", "x")], "path \"/words.py\" is absolute");
    check(
        &[("../words.py", "x")],
        "path \"../words.py\" has a `..` segment",
    );
    check(
        &[("./words.py", "x")],
        "path \"./words.py\" has a `.` segment",
    );
    check(
        &[("lib//util.py", "x")],
        "path \"lib//util.py\" has an empty segment",
    );
    check(
        &[("lib\\util.py", "x")],
        "path \"lib\\\\util.py\" contains a backslash",
    );
    check(
        &[("words.py\0", "x")],
        "path \"words.py\\0\" contains a NUL byte",
    );
    check(&[("", "x")], "empty path");
}

#[test]
fn count_and_total_caps() {
    // More files than allowed, even before looking at paths.
    let many: BTreeMap<String, String> =
        (0..65).map(|i| (format!("f{i}"), String::new())).collect();
    assert_eq!(
        validate_files(&ex(), &many).unwrap_err().to_string(),
        "65 files submitted, more than the 64 allowed"
    );
    // Each file within its own cap, the sum over 1 MiB.
    let names: Vec<String> = (0..5).map(|i| format!("f{i}.txt")).collect();
    let starter: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), 256 << 10)).collect();
    let ex = exercise(SubmissionKind::Files, &starter);
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for n in &names[..4] {
        files.insert(n.clone(), "y".repeat(256 << 10));
    }
    assert!(validate_files(&ex, &files).is_ok(), "exactly 1 MiB is fine");
    files.insert(names[4].clone(), "y".into());
    assert_eq!(
        validate_files(&ex, &files).unwrap_err().to_string(),
        "f4.txt: the submission passes the 1MiB total cap here"
    );
}

#[test]
fn bytes_variant_refuses_non_utf8() {
    let mut files = BTreeMap::new();
    files.insert("words.py".to_string(), b"ok\r\n".to_vec());
    let v = validate_file_bytes(&ex(), &files).unwrap();
    assert_eq!(v.0.values().next().unwrap(), b"ok\n");
    files.insert("notes.md".to_string(), vec![0xff, 0xfe]);
    assert_eq!(
        validate_file_bytes(&ex(), &files).unwrap_err().to_string(),
        "notes.md: not valid UTF-8 text"
    );
}

#[test]
fn archive_exercise_refuses_files() {
    let ex = exercise(SubmissionKind::Archive, &[("words.py", 100)]);
    let files = BTreeMap::from([("words.py".to_string(), "x".to_string())]);
    assert!(matches!(
        validate_files(&ex, &files),
        Err(SubmissionError::WrongKind)
    ));
}

fn validated() -> gauntlet_exercise::ValidatedFiles {
    let files = BTreeMap::from([
        ("words.py".to_string(), "w".to_string()),
        ("lib/util.py".to_string(), "u".to_string()),
    ]);
    validate_files(&ex(), &files).unwrap()
}

#[test]
fn write_files_creates_a_fresh_tree() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("out");
    write_files(&validated(), &dest).unwrap();
    assert_eq!(listing(&dest), ["lib/", "lib/util.py", "words.py"]);
    assert_eq!(
        std::fs::read_to_string(dest.join("lib/util.py")).unwrap(),
        "u"
    );
    let mode = |p: &str| {
        std::fs::metadata(dest.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    // The umask may only remove bits.
    assert_eq!(mode("words.py") & !0o644, 0);
    assert_eq!(mode("lib") & !0o755, 0);
    assert_ne!(mode("lib") & 0o700, 0);
}

#[test]
fn write_files_refuses_an_existing_dest() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("out");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("keep"), "mine").unwrap();
    let e = write_files(&validated(), &dest).unwrap_err();
    assert!(matches!(e, SubmissionError::Write { .. }), "{e}");
    // Somebody else's folder is left exactly as it was.
    assert_eq!(listing(&dest), ["keep"]);
}

#[test]
fn write_files_needs_the_parent() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("missing/out");
    assert!(write_files(&validated(), &dest).is_err());
    assert!(
        !t.path().join("missing").exists(),
        "no create_dir_all of the parent"
    );
}

#[test]
fn write_files_does_not_follow_a_dest_symlink() {
    let t = tempfile::tempdir().unwrap();
    let target = t.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let dest = t.path().join("out");
    symlink(&target, &dest).unwrap();
    assert!(write_files(&validated(), &dest).is_err());
    assert_eq!(listing(&target), Vec::<String>::new());
}

#[test]
fn write_files_removes_dest_when_a_write_fails() {
    // `a` as a file, then `a/b` needs `a` as a folder: the second create fails after
    // the first succeeded, and nothing may be left behind.
    let files = gauntlet_exercise::ValidatedFiles(BTreeMap::from([
        (
            gauntlet_exercise::RelPath::parse("a").unwrap(),
            b"1".to_vec(),
        ),
        (
            gauntlet_exercise::RelPath::parse("a/b").unwrap(),
            b"2".to_vec(),
        ),
    ]));
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("out");
    let e = write_files(&files, &dest).unwrap_err();
    assert!(e.to_string().contains("a/b"), "{e}");
    assert!(!dest.exists(), "partial output left behind");
}
