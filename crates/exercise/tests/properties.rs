//! Property tests: unit round trips, submission path whitelisting, parsers that never
//! panic and never exceed their caps.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::exercise;
use gauntlet_exercise::{
    parse_duration, parse_junit, parse_size, parse_tap, score, validate_files, Scoring,
    SubmissionKind, TestResult, TestStatus,
};
use proptest::prelude::*;

proptest! {
    #[test]
    fn durations_round_trip(n in 0u64..1_000_000, unit in prop::sample::select(vec![("ms", 1u64), ("s", 1000), ("m", 60_000)])) {
        let d = parse_duration(&format!("{n}{}", unit.0)).unwrap();
        prop_assert_eq!(d, Duration::from_millis(n * unit.1));
    }

    #[test]
    fn sizes_round_trip(n in 0u64..1_000_000, unit in prop::sample::select(vec![("", 1u64), ("B", 1), ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)])) {
        prop_assert_eq!(parse_size(&format!("{n}{}", unit.0)).unwrap(), n * unit.1);
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
