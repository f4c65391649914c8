//! `RelPath` validation: a table of verdicts, and properties over arbitrary strings.

use gauntlet_exercise::{PathError, RelPath};
use proptest::prelude::*;

fn check(input: &str, want: &str) {
    let got = match RelPath::parse(input) {
        Ok(p) => format!("ok {p}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(got, want, "RelPath::parse({input:?})");
}

#[test]
fn table() {
    let long_segment = "a".repeat(256);
    let deep = vec!["a"; 33].join("/");
    let table: &[(&str, &str)] = &[
        ("words.py", "ok words.py"),
        ("src/lib/words.py", "ok src/lib/words.py"),
        (".hidden", "ok .hidden"),
        ("a..b", "ok a..b"),
        ("...", "ok ..."),
        ("with space.txt", "ok with space.txt"),
        ("ünïcode.txt", "ok ünïcode.txt"),
        ("", "empty path"),
        ("/etc/passwd", "path \"/etc/passwd\" is absolute"),
        ("//x", "path \"//x\" is absolute"),
        ("../x", "path \"../x\" has a `..` segment"),
        ("a/../../x", "path \"a/../../x\" has a `..` segment"),
        ("..", "path \"..\" has a `..` segment"),
        ("a/..", "path \"a/..\" has a `..` segment"),
        (".", "path \".\" has a `.` segment"),
        ("./a", "path \"./a\" has a `.` segment"),
        ("a/./b", "path \"a/./b\" has a `.` segment"),
        ("a//b", "path \"a//b\" has an empty segment"),
        ("a/", "path \"a/\" has an empty segment"),
        ("a\\b", "path \"a\\\\b\" contains a backslash"),
        ("..\\..\\x", "path \"..\\\\..\\\\x\" contains a backslash"),
        ("C:\\x", "path \"C:\\\\x\" contains a backslash"),
        ("a\0b", "path \"a\\0b\" contains a NUL byte"),
        ("a\nb", "path \"a\\nb\" contains a control character"),
        ("a\u{7f}", "path \"a\\u{7f}\" contains a control character"),
        (
            &long_segment,
            &format!("path {long_segment:?} has a segment longer than 255 bytes"),
        ),
        (&deep, &format!("path {deep:?} has more than 32 segments")),
    ];
    for (input, want) in table {
        check(input, want);
    }
    // Over the length cap the path is cut in the message.
    let e = RelPath::parse(&"ab/".repeat(400)).unwrap_err();
    assert!(matches!(e, PathError::TooLong { .. }));
    assert!(e.to_string().len() < 120, "{e}");
}

#[test]
fn bytes_must_be_utf8() {
    assert_eq!(
        RelPath::parse_bytes(b"a\xffb").unwrap_err().to_string(),
        "path \"a\u{fffd}b\" is not valid UTF-8"
    );
    assert_eq!(RelPath::parse_bytes(b"a/b").unwrap().as_str(), "a/b");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever string comes in, an accepted path is normal: joining it onto a root
    /// never leaves the root, and it survives a round trip unchanged.
    #[test]
    fn accepted_paths_are_normal(s in r"[a-z./\\\x00 ]{0,12}|\PC{0,20}") {
        if let Ok(p) = RelPath::parse(&s) {
            prop_assert_eq!(p.as_str(), s.as_str());
            prop_assert!(!s.starts_with('/'));
            prop_assert!(!s.contains('\\') && !s.contains('\0'));
            for seg in p.segments() {
                prop_assert!(!seg.is_empty() && seg != "." && seg != "..");
            }
            let root = std::path::Path::new("/root");
            let joined = p.under(root);
            prop_assert!(joined.starts_with(root));
            // Every component past the root is a plain name.
            for c in joined.strip_prefix(root).unwrap().components() {
                prop_assert!(matches!(c, std::path::Component::Normal(_)), "{:?}", c);
            }
            // Folding it the way a filesystem would changes nothing.
            let folded: Vec<&str> = s.split('/').filter(|x| !x.is_empty() && *x != ".").collect();
            prop_assert_eq!(folded.join("/"), s);
        }
    }

    /// Segments built only from safe characters always pass, in any number up to the cap.
    #[test]
    fn safe_segments_pass(segs in prop::collection::vec("[a-zA-Z0-9_-][a-zA-Z0-9_.-]{0,15}", 1..10)) {
        let s = segs.join("/");
        prop_assume!(segs.iter().all(|x| x != "." && x != ".."));
        let p = RelPath::parse(&s).unwrap();
        prop_assert_eq!(p.segments().count(), segs.len());
        prop_assert_eq!(p.ancestors().count(), segs.len() - 1);
    }

    /// Any path with a `..`, `.` or empty segment injected is refused.
    #[test]
    fn injected_bad_segments_fail(
        segs in prop::collection::vec("[a-z]{1,5}", 0..5),
        bad in prop::sample::select(vec!["..", ".", ""]),
        at in 0usize..6,
    ) {
        let mut v: Vec<&str> = segs.iter().map(String::as_str).collect();
        let at = at.min(v.len());
        v.insert(at, bad);
        let s = v.join("/");
        prop_assert!(RelPath::parse(&s).is_err(), "{:?} accepted", s);
    }
}
