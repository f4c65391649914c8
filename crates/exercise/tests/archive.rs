//! `archive` submissions: ZIPs built in the test (and patched where the writer would not
//! produce the attack), checked against the limits table. Every refusal must leave no
//! `dest` behind.

mod common;

use common::{
    central_headers, exercise, listing, local_headers, set_flags, set_uncompressed_size,
    set_unix_mode, zip, Item,
};
use gauntlet_exercise::{
    extract_archive, ArchiveError, ArchiveLimits, Exercise, Extracted, RelPath, SubmissionKind,
};

/// An archive exercise without starter files, so without a layout to match: the entry
/// rules alone ([`layout_table`] covers the layout).
fn ex() -> Exercise {
    exercise(SubmissionKind::Archive, &[])
}

fn run(bytes: &[u8], limits: &ArchiveLimits) -> (Result<Extracted, ArchiveError>, Vec<String>) {
    run_for(&ex(), bytes, limits)
}

fn run_for(
    ex: &Exercise,
    bytes: &[u8],
    limits: &ArchiveLimits,
) -> (Result<Extracted, ArchiveError>, Vec<String>) {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("ws");
    let protected = [RelPath::parse("node_modules").unwrap()];
    let r = extract_archive(ex, bytes, &dest, &protected, limits);
    let files = if dest.exists() {
        listing(&dest)
    } else {
        Vec::new()
    };
    if r.is_err() {
        assert!(
            !dest.exists(),
            "refused, yet {dest:?} is left behind: {files:?}"
        );
    }
    (r, files)
}

fn check(bytes: &[u8], want: &str) {
    check_with(bytes, &ArchiveLimits::default(), want)
}

fn check_with(bytes: &[u8], limits: &ArchiveLimits, want: &str) {
    let (r, files) = run(bytes, limits);
    let got = match r {
        Ok(_) => format!("ok {}", files.join(" ")),
        Err(e) => e.to_string(),
    };
    assert_eq!(got, want);
}

/// Bytes that deflate poorly (a simple LCG), so sizes are not ratio-bound.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

/// Renames entry `n` to `name` (same length) in both headers.
fn rename(zip: &mut [u8], n: usize, name: &[u8]) {
    for at in [local_headers(zip)[n] + 30, central_headers(zip)[n] + 46] {
        zip[at..at + name.len()].copy_from_slice(name);
    }
}

#[test]
fn extracts_files_and_folders() {
    let z = zip(&[
        Item::File("main.sh", b"echo hi\n"),
        Item::Dir("lib/"),
        Item::File("lib/util.sh", b"x=1\n"),
        Item::Stored("deep/er/file.txt", b"stored"),
        Item::Dir("empty/"),
    ]);
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("ws");
    let written = extract_archive(&ex(), &z, &dest, &[], &ArchiveLimits::default()).unwrap();
    assert!(written.notes.is_empty(), "{:?}", written.notes);
    let written: Vec<&str> = written.files.iter().map(RelPath::as_str).collect();
    assert_eq!(written, ["main.sh", "lib/util.sh", "deep/er/file.txt"]);
    assert_eq!(
        listing(&dest),
        [
            "deep/",
            "deep/er/",
            "deep/er/file.txt",
            "empty/",
            "lib/",
            "lib/util.sh",
            "main.sh"
        ]
    );
    assert_eq!(
        std::fs::read(dest.join("deep/er/file.txt")).unwrap(),
        b"stored"
    );
}

#[test]
fn paths_table() {
    let table: &[(&str, &str)] = &[
        ("../evil.sh", "path \"../evil.sh\" has a `..` segment"),
        (
            "a/../../evil.sh",
            "path \"a/../../evil.sh\" has a `..` segment",
        ),
        ("/etc/cron.d/x", "path \"/etc/cron.d/x\" is absolute"),
        ("a\\..\\x", "path \"a\\\\..\\\\x\" contains a backslash"),
        ("a/./b", "path \"a/./b\" has a `.` segment"),
        ("./a", "path \"./a\" has a `.` segment"),
        ("a//b", "path \"a//b\" has an empty segment"),
        (
            "tests/run.py",
            "tests/run.py: inside the protected path tests/",
        ),
        (
            "Tests/run.py",
            "Tests/run.py: inside the protected path tests/",
        ),
        ("tests", "tests: inside the protected path tests/"),
        (
            "node_modules/x/index.js",
            "node_modules/x/index.js: inside the protected path node_modules/",
        ),
        ("tests2/ok.py", "ok tests2/ tests2/ok.py"),
        ("src/tests/ok.py", "ok src/ src/tests/ src/tests/ok.py"),
    ];
    for (name, want) in table {
        check(&zip(&[Item::File(name, b"x")]), want);
    }
    // Folder entries are checked the same way.
    check(
        &zip(&[Item::Dir("tests/")]),
        "tests/: inside the protected path tests/",
    );
    check(
        &zip(&[Item::Dir("../up/")]),
        "path \"../up\" has a `..` segment",
    );
}

#[test]
fn non_utf8_names_are_refused() {
    let mut z = zip(&[Item::File("abc", b"x")]);
    rename(&mut z, 0, b"a\xffc");
    check(&z, "path \"a\u{fffd}c\" is not valid UTF-8");
}

#[test]
fn duplicates_table() {
    // Exact duplicates: the writer refuses them, so rename the second entry.
    let mut z = zip(&[Item::File("a.txt", b"1"), Item::File("b.txt", b"2")]);
    rename(&mut z, 1, b"a.txt");
    check(&z, "a.txt: appears twice in the archive");
    check(
        &zip(&[Item::File("Main.sh", b"1"), Item::File("main.sh", b"2")]),
        "main.sh: differs from Main.sh only in letter case",
    );
    check(
        &zip(&[Item::File("lib", b"1"), Item::File("lib/x", b"2")]),
        "lib: is both a file and a folder in the archive",
    );
    check(
        &zip(&[Item::File("lib/x", b"2"), Item::File("lib", b"1")]),
        "lib: is both a file and a folder in the archive",
    );
    check(
        &zip(&[Item::Dir("lib/"), Item::File("lib", b"1")]),
        "lib: appears twice in the archive",
    );
    // A folder entry repeated implicitly by its files is fine.
    check(
        &zip(&[Item::Dir("lib/"), Item::File("lib/x", b"1")]),
        "ok lib/ lib/x",
    );
}

#[test]
fn entry_kinds_table() {
    check(
        &zip(&[Item::Symlink("link", "/etc/passwd")]),
        "link: symlinks are not allowed",
    );
    for (mode, what) in [
        (0o010644, "fifo"),
        (0o020644, "char device"),
        (0o060644, "block device"),
        (0o140644, "socket"),
    ] {
        let mut z = zip(&[Item::File("thing", b"")]);
        set_unix_mode(&mut z, 0, mode);
        let (r, _) = run(&z, &ArchiveLimits::default());
        assert_eq!(
            r.unwrap_err().to_string(),
            "thing: devices, fifos and sockets are not allowed",
            "{what}"
        );
    }
    // A symlink mode on an entry the writer made as a file.
    let mut z = zip(&[Item::File("main.sh", b"/etc/shadow")]);
    set_unix_mode(&mut z, 0, 0o120777);
    check(&z, "main.sh: symlinks are not allowed");
    // Encrypted flag (general purpose bit 0).
    let mut z = zip(&[Item::File("main.sh", b"echo")]);
    set_flags(&mut z, 0, 1);
    check(&z, "main.sh: encrypted entries are not allowed");
    // Compression methods other than stored and deflate (12 is bzip2).
    let mut z = zip(&[Item::Stored("main.sh", b"echo")]);
    for at in [local_headers(&z)[0] + 8, central_headers(&z)[0] + 10] {
        z[at..at + 2].copy_from_slice(&12u16.to_le_bytes());
    }
    let (r, _) = run(&z, &ArchiveLimits::default());
    let e = r.unwrap_err().to_string();
    assert!(e.starts_with("main.sh: compression method"), "{e}");
}

#[test]
fn archive_caps_table() {
    let small = ArchiveLimits {
        max_compressed_bytes: 4096,
        max_total_bytes: 3 << 20,
        max_entries: 3,
        max_entry_bytes: 1 << 20,
        max_ratio: 100,
        ratio_grace_bytes: 64 << 10,
    };
    let noisy = noise(2 << 20);
    let z = zip(&[Item::Stored("big.bin", &noisy[..5000])]);
    check_with(
        &z,
        &small,
        &format!("archive is {} bytes, more than the 4KiB cap", z.len()),
    );

    let z = zip(&[
        Item::File("a", b"1"),
        Item::File("b", b"2"),
        Item::File("c", b"3"),
        Item::File("d", b"4"),
    ]);
    check_with(&z, &small, "archive has 4 entries, more than the 3 allowed");

    let roomy = ArchiveLimits {
        max_compressed_bytes: 64 << 20,
        ..small.clone()
    };
    // Honest header over the per-entry cap: refused before inflating.
    let z = zip(&[Item::Stored("big.bin", &noisy[..(1 << 20) + 1])]);
    check_with(
        &z,
        &roomy,
        "big.bin: inflates to more than the 1MiB per-file cap",
    );
    let z = zip(&[Item::Stored("big.bin", &noisy[..1 << 20])]);
    check_with(&z, &roomy, "ok big.bin");

    // Each entry within its cap, together over the total.
    let z = zip(&[
        Item::Stored("a.bin", &noisy[..1 << 20]),
        Item::Stored("b.bin", &noisy[..1 << 20]),
        Item::Stored("c.bin", &noisy[..(1 << 20) - 1]),
    ]);
    check_with(
        &z,
        &ArchiveLimits {
            max_total_bytes: (3 << 20) - 2,
            ..roomy.clone()
        },
        "c.bin: the archive inflates to more than the 3145726 bytes total cap here",
    );
    check_with(
        &z,
        &ArchiveLimits {
            max_total_bytes: (3 << 20) - 1,
            ..roomy.clone()
        },
        "ok a.bin b.bin c.bin",
    );
}

#[test]
fn ratio_bomb_is_stopped_while_inflating() {
    // 900 KiB of zeros deflates to about 1 KiB: ratio ~900:1, each under the entry cap.
    let zeros = vec![0u8; 900 << 10];
    let z = zip(&[
        Item::File("main.sh", b"echo ok\n"),
        Item::File("zeros.bin", &zeros),
    ]);
    check(&z, "zeros.bin: compression ratio above 100:1");
    // Small repetitive files stay under the grace size and pass.
    let z = zip(&[Item::File("spaces.txt", &[b' '; 60 << 10])]);
    check(&z, "ok spaces.txt");
    // With the ratio relaxed the same archive extracts.
    let z = zip(&[Item::File("zeros.bin", &zeros)]);
    check_with(
        &z,
        &ArchiveLimits {
            max_ratio: 10_000,
            ..Default::default()
        },
        "ok zeros.bin",
    );
}

#[test]
fn zip_bomb_with_lying_headers_is_counted_not_trusted() {
    // 8 MiB of zeros deflates to ~8 KiB; the headers then claim 100 bytes.
    let zeros = vec![0u8; 8 << 20];
    let mut z = zip(&[Item::File("bomb.bin", &zeros)]);
    set_uncompressed_size(&mut z, 0, 100);
    let limits = ArchiveLimits {
        max_entry_bytes: 1 << 20,
        max_ratio: u64::MAX / 2,
        ..Default::default()
    };
    let (r, _) = run(&z, &limits);
    let e = r.unwrap_err();
    // Either our count stops it at the cap, or the ZIP library notices the lie (today it
    // does: "file is larger than its declared uncompressed size"); both refuse, and `run`
    // has checked nothing is left behind. The ratio and total tests show our own count.
    assert!(
        matches!(
            e,
            ArchiveError::EntryTooLarge { .. } | ArchiveError::Read { .. }
        ),
        "{e}"
    );

    // Honest headers, a total cap smaller than one entry: refused from the declared
    // sizes before inflating (the count, shown by the ratio test, is the second line).
    let z = zip(&[Item::File("bomb.bin", &zeros)]);
    let limits = ArchiveLimits {
        max_entry_bytes: 16 << 20,
        max_total_bytes: 1 << 20,
        max_ratio: u64::MAX / 2,
        ..Default::default()
    };
    check_with(
        &z,
        &limits,
        "bomb.bin: the archive inflates to more than the 1MiB total cap here",
    );
}

#[test]
fn malformed_and_wrong_kind() {
    let (r, _) = run(b"PK\x03\x04 this is not a zip", &ArchiveLimits::default());
    assert!(matches!(r, Err(ArchiveError::Malformed { .. })), "{r:?}");
    let (r, _) = run(b"", &ArchiveLimits::default());
    assert!(matches!(r, Err(ArchiveError::Malformed { .. })), "{r:?}");
    let files_ex = exercise(SubmissionKind::Files, &[("main.sh", 10)]);
    let t = tempfile::tempdir().unwrap();
    let z = zip(&[Item::File("main.sh", b"x")]);
    let r = extract_archive(
        &files_ex,
        &z,
        &t.path().join("ws"),
        &[],
        &ArchiveLimits::default(),
    );
    assert!(matches!(r, Err(ArchiveError::WrongKind)));
}

#[test]
fn existing_dest_is_refused_and_untouched() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("ws");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("mine"), "keep").unwrap();
    let z = zip(&[Item::File("main.sh", b"x")]);
    let r = extract_archive(&ex(), &z, &dest, &[], &ArchiveLimits::default());
    assert!(matches!(r, Err(ArchiveError::Write { .. })), "{r:?}");
    assert_eq!(listing(&dest), ["mine"]);
}

#[test]
fn late_refusal_removes_earlier_files() {
    // The first entries extract, the last trips the ratio cap: nothing may remain.
    let zeros = vec![0u8; 900 << 10];
    let z = zip(&[
        Item::File("a.txt", b"a"),
        Item::Dir("lib/"),
        Item::File("lib/b.txt", b"b"),
        Item::File("z.bin", &zeros),
    ]);
    let (r, _) = run(&z, &ArchiveLimits::default());
    assert!(matches!(r, Err(ArchiveError::Ratio { .. })), "{r:?}");
}

#[test]
fn overlapping_entries_are_refused() {
    // Point the second central entry at the first entry's data: the shared-data bomb.
    let mut z = zip(&[Item::File("a.txt", b"aaaa"), Item::File("b.txt", b"bbbb")]);
    let first_local = local_headers(&z)[0] as u32;
    let c = central_headers(&z)[1];
    common::put_u32(&mut z, c + 42, first_local);
    check(&z, "not a valid ZIP archive: entries overlap each other");
}

/// The mini-package layout: two starter files in `textstats/`, and a root-level one.
#[test]
#[rustfmt::skip]
fn layout_table() {
    use Item::{Dir, File};
    let package = exercise(SubmissionKind::Archive, &[("textstats/__init__.py", 1024), ("textstats/core.py", 1024)]);
    let root = exercise(SubmissionKind::Archive, &[("main.py", 1024), ("lib/util.py", 1024)]);
    let expects = "it expects textstats/__init__.py, textstats/core.py (paths from the archive's root)";
    let stripped = |top: &str| format!("every entry of the archive was inside one folder, {top}/ (what zipping a folder gives): it was stripped, so textstats/__init__.py, textstats/core.py land where the exercise expects them");
    let macos = "skipped 2 macOS metadata entries (__MACOSX/, .DS_Store) in the archive";
    // (exercise, entries, the files written or the refusal, the notes)
    let table: Vec<(&Exercise, Vec<Item>, String, Vec<String>)> = vec![
        // As expected; a new module in the package's folder is fine.
        (&package, vec![File("textstats/__init__.py", b"x"), File("textstats/core.py", b"x"), File("textstats/report.py", b"x")],
            "ok textstats/ textstats/__init__.py textstats/core.py textstats/report.py".into(), vec![]),
        // Only some of the starter files (the others stay the starter's).
        (&package, vec![File("textstats/core.py", b"x")], "ok textstats/ textstats/core.py".into(), vec![]),
        // The case: the files at the root instead of under textstats/.
        (&package, vec![File("__init__.py", b"x"), File("core.py", b"x"), File("report.py", b"x")],
            format!("the archive's files are not where this exercise expects them: {expects}, and the archive has __init__.py, core.py, report.py"), vec![]),
        // Zipping the package folder: one wrapping folder, stripped, and said so.
        (&package, vec![Dir("mini-package/"), Dir("mini-package/textstats/"), File("mini-package/textstats/__init__.py", b"x"), File("mini-package/textstats/core.py", b"x")],
            "ok textstats/ textstats/__init__.py textstats/core.py".into(), vec![stripped("mini-package")]),
        (&package, vec![File("solution/textstats/core.py", b"x")], "ok textstats/ textstats/core.py".into(), vec![stripped("solution")]),
        // A wrapping folder that does not make the layout match is not stripped.
        (&package, vec![File("work/__init__.py", b"x"), File("work/core.py", b"x")],
            format!("the archive's files are not where this exercise expects them: {expects}, and the archive has work/__init__.py, work/core.py"), vec![]),
        // Two levels of wrapping: only one is ever stripped.
        (&package, vec![File("a/b/textstats/core.py", b"x")],
            format!("the archive's files are not where this exercise expects them: {expects}, and the archive has a/b/textstats/core.py"), vec![]),
        // Two top folders: not a wrapped folder.
        (&package, vec![File("x/textstats/core.py", b"x"), File("y/textstats/core.py", b"x")],
            format!("the archive's files are not where this exercise expects them: {expects}, and the archive has x/textstats/core.py, y/textstats/core.py"), vec![]),
        // No files at all.
        (&package, vec![Dir("textstats/")], format!("the archive's files are not where this exercise expects them: {expects}, and the archive has no files"), vec![]),
        // A stray file next to the package.
        (&package, vec![File("textstats/core.py", b"x"), File("notes.txt", b"x")],
            "notes.txt: outside the exercise's layout: files go under textstats/ (it expects textstats/__init__.py, textstats/core.py)".into(), vec![]),
        (&package, vec![File("textstats/core.py", b"x"), File("other/core.py", b"x")],
            "other/core.py: outside the exercise's layout: files go under textstats/ (it expects textstats/__init__.py, textstats/core.py)".into(), vec![]),
        // After stripping, the protected paths still hold.
        (&package, vec![File("pkg/textstats/core.py", b"x"), File("pkg/tests/run.py", b"x")],
            "pkg/tests/run.py: inside the protected path tests/".into(), vec![]),
        // macOS metadata is skipped, with a note, and does not hide a wrapping folder.
        (&package, vec![File("mini/textstats/core.py", b"x"), File("__MACOSX/mini/textstats/._core.py", b"x"), File("mini/.DS_Store", b"x")],
            "ok textstats/ textstats/core.py".into(), vec![macos.into(), stripped("mini")]),
        // A starter file at the root: the root is the layout, any folder fits.
        (&root, vec![File("main.py", b"x"), File("helpers/extra.py", b"x")], "ok helpers/ helpers/extra.py main.py".into(), vec![]),
        (&root, vec![File("proj/main.py", b"x"), File("proj/lib/util.py", b"x")], "ok lib/ lib/util.py main.py".into(),
            vec!["every entry of the archive was inside one folder, proj/ (what zipping a folder gives): it was stripped, so main.py, lib/util.py land where the exercise expects them".into()]),
        (&root, vec![File("helpers/extra.py", b"x")],
            "the archive's files are not where this exercise expects them: it expects main.py, lib/util.py (paths from the archive's root), and the archive has helpers/extra.py".into(), vec![]),
    ];
    let mut failures = Vec::new();
    for (ex, items, want, want_notes) in table {
        let names: Vec<String> = items.iter().map(|i| match i { File(n, _) | Dir(n) => n.to_string(), _ => String::new() }).collect();
        let (r, files) = run_for(ex, &zip(&items), &ArchiveLimits::default());
        let (got, notes) = match r {
            Ok(x) => (format!("ok {}", files.join(" ")), x.notes),
            Err(e) => (e.to_string(), Vec::new()),
        };
        if got != want || notes != want_notes {
            failures.push(format!("{names:?}\n want {want} {want_notes:?}\n  got {got} {notes:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
