//! Property tests: unit round trips, submission path whitelisting, parsers that never
//! panic and never exceed their caps.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::exercise;
use gauntlet_exercise::{
    parse_duration, parse_junit, parse_size, parse_tap, score, validate_files, Scoring, Size, Span,
    SubmissionKind, TestResult, TestStatus, UnitError,
};
use proptest::prelude::*;

proptest! {
    #[test]
    fn durations_round_trip(n in 0u64..100_000, unit in prop::sample::select(vec![("ms", 1u64), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]), space in prop::bool::ANY) {
        let sep = if space { " " } else { "" };
        let d = parse_duration(&format!("{n}{sep}{}", unit.0)).unwrap();
        prop_assert_eq!(d, Duration::from_millis(n * unit.1));
    }

    #[test]
    fn sizes_round_trip(n in 0u64..1_000_000, unit in prop::sample::select(vec![("", 1u64), ("B", 1), ("K", 1 << 10), ("KB", 1 << 10), ("KiB", 1 << 10), ("M", 1 << 20), ("MB", 1 << 20), ("MiB", 1 << 20), ("G", 1 << 30), ("GB", 1 << 30), ("GiB", 1 << 30)])) {
        prop_assert_eq!(parse_size(&format!("{n}{}", unit.0)).unwrap(), n * unit.1);
    }

    /// What `Size` prints parses back to the same number of bytes, for every `u64`.
    #[test]
    fn size_display_parses_back(n in prop_oneof![any::<u64>(), (0u64..1 << 34).prop_map(|k| k << 10), (0u64..1 << 20).prop_map(|k| k << 30)]) {
        let text = Size(n).to_string();
        prop_assert_eq!(parse_size(&text), Ok(n), "{}", text);
    }

    /// What `Span` prints parses back to the same duration, down to the nanosecond.
    #[test]
    fn span_display_parses_back(nanos in prop_oneof![0u64..u64::MAX, (0u64..1 << 40).prop_map(|ms| ms * 1_000_000), (0u64..1 << 20).prop_map(|s| s * 60_000_000_000)]) {
        let d = Duration::from_nanos(nanos);
        let text = Span(d).to_string();
        prop_assert_eq!(parse_duration(&text), Ok(d), "{}", text);
    }

    /// A decimal is read exactly: `W.F<unit>` is `W × unit + F × unit / 10^digits`
    /// when that is whole, and refused (never rounded) when it is not.
    #[test]
    fn decimals_are_exact_or_refused(whole in 0u64..10_000, frac in "[0-9]{1,6}", unit in prop::sample::select(vec![("KiB", 1u128 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)])) {
        let scaled = frac.parse::<u128>().unwrap() * unit.1;
        let denominator = 10u128.pow(frac.len() as u32);
        let got = parse_size(&format!("{whole}.{frac}{}", unit.0));
        if scaled.is_multiple_of(denominator) {
            let want = u128::from(whole) * unit.1 + scaled / denominator;
            prop_assert_eq!(got.map(u128::from), Ok(want));
        } else {
            let is_inexact = matches!(got, Err(UnitError::Inexact { .. }));
            prop_assert!(is_inexact, "{:?}", got);
        }
    }

    /// Any text: an answer or an error, never a panic; and an accepted size or duration
    /// prints back to something that reads the same.
    #[test]
    fn units_never_panic(s in r"\PC{0,24}|[0-9. ]{0,12}(ms|s|m|h|d|B|K|KB|KiB|M|MB|MiB|G|GB|GiB|x)?") {
        if let Ok(n) = parse_size(&s) {
            prop_assert_eq!(parse_size(&Size(n).to_string()), Ok(n));
        }
        if let Ok(d) = parse_duration(&s) {
            prop_assert_eq!(parse_duration(&Span(d).to_string()), Ok(d));
        }
    }

    /// Whatever the path, a submission is accepted only for a starter path, verbatim.
    #[test]
    fn only_starter_paths_are_written(
        path in prop_oneof![
            Just("a.py".to_owned()), Just("lib/b.py".to_owned()),
            r"[a-z./\\]{0,10}", "(tests|lib|./lib|lib/)/[a-z.]{0,6}", r"\PC{0,12}",
        ],
        content in "[a-z\r\n\x00]{0,50}",
    ) {
        let ex = exercise(SubmissionKind::Files, &[("a.py", 1024), ("lib/b.py", 1024)]);
        let files = BTreeMap::from([(path.clone(), content.clone())]);
        match validate_files(&ex, &files) {
            Ok(v) => {
                prop_assert!(path == "a.py" || path == "lib/b.py", "{:?} accepted", path);
                let written = v.0.values().next().unwrap();
                prop_assert!(!written.contains(&b'\r') && !written.contains(&0));
                prop_assert_eq!(written.len(), content.replace(['\r', '\0'], "").len());
            }
            Err(_) => prop_assert!(path != "a.py" && path != "lib/b.py"),
        }
    }

    #[test]
    fn tap_never_panics_and_keeps_caps(lines in prop::collection::vec(
        prop_oneof![
            Just("ok".to_owned()), Just("not ok".to_owned()), Just("  ---".to_owned()),
            Just("  ...".to_owned()), Just("1..3".to_owned()), Just("    ok 1 - sub".to_owned()),
            Just("Bail out!".to_owned()), "\\PC{0,30}", "(not )?ok [0-9]{1,3}( - [a-z #\\\\]{0,20})?",
        ], 0..40)) {
        let tests = parse_tap(&lines.join("\n"));
        for t in &tests {
            prop_assert!(t.name.chars().count() <= 201);
        }
    }

    #[test]
    fn junit_never_panics(body in prop::collection::vec(
        prop_oneof![
            Just("<testsuite name=\"s\">"), Just("</testsuite>"), Just("<testcase name=\"t\">"),
            Just("</testcase>"), Just("<testcase name=\"e\"/>"), Just("<failure message=\"m\">"),
            Just("</failure>"), Just("<skipped/>"), Just("text &amp; &lt; &#65; &bogus;"),
            Just("<![CDATA[<x>]]>"), Just("<"), Just("\""),
        ], 0..30)) {
        let xml = format!("<testsuites>{}</testsuites>", body.concat());
        let _ = parse_junit(xml.as_bytes());
    }

    /// per-test score is ⌊100·passed/total⌋, 100 exactly when every test passed.
    #[test]
    fn per_test_score(statuses in prop::collection::vec(0u8..4, 0..50)) {
        let tests: Vec<TestResult> = statuses.iter().map(|&s| TestResult {
            name: "t".into(),
            status: [TestStatus::Pass, TestStatus::Fail, TestStatus::Error, TestStatus::Skip][s as usize],
            message: None,
        }).collect();
        let passed = statuses.iter().filter(|&&s| s == 0).count() as u32;
        let s = score(&tests, Scoring::PerTest);
        prop_assert_eq!(s.points, passed);
        prop_assert_eq!(s.max_points, tests.len() as u32);
        prop_assert_eq!(s.score == 100, !tests.is_empty() && passed == tests.len() as u32);
        prop_assert!(s.score <= 100);
        let a = score(&tests, Scoring::AllOrNothing);
        prop_assert_eq!(a.score, if s.score == 100 { 100 } else { 0 });
    }
}
