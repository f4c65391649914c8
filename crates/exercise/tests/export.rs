//! Result exports, one case per kind of result: the Exercism document is checked against
//! the fields its v3 spec defines (status pass/fail/error, message when error,
//! tests[].name/status/message, version 3), and the JUnit document is read back with the
//! project's own JUnit parser, which must find every test with its status and message.

use gauntlet_exercise::export::{exercism, junit};
use gauntlet_exercise::{parse_junit, GradeResult, Outcome, TestResult, TestStatus};
use serde_json::Value;

fn t(name: &str, status: TestStatus, message: Option<&str>) -> TestResult {
    TestResult {
        name: name.into(),
        status,
        message: message.map(Into::into),
    }
}

fn result(outcome: Outcome, tests: Vec<TestResult>, log: &str) -> GradeResult {
    let passed = tests
        .iter()
        .filter(|t| t.status == TestStatus::Pass)
        .count() as u32;
    let total = tests.len() as u32;
    GradeResult {
        outcome,
        score: (passed * 100).checked_div(total).unwrap_or(0),
        points: passed,
        max_points: total,
        tests,
        log: log.into(),
        duration_ms: 1234,
        commit: None,
    }
}

/// Every key and value the v3 spec allows, and nothing it does not.
fn assert_exercism_v3(doc: &Value) {
    let obj = doc.as_object().expect("an object");
    for key in obj.keys() {
        assert!(
            ["version", "status", "message", "tests"].contains(&key.as_str()),
            "unknown key {key}"
        );
    }
    assert_eq!(doc["version"], 3);
    let status = doc["status"].as_str().expect("status is a string");
    assert!(["pass", "fail", "error"].contains(&status), "{status}");
    match status {
        "error" => assert!(doc["message"].is_string(), "an error has a message"),
        _ => assert!(doc["message"].is_null(), "only an error has a message"),
    }
    if status != "error" {
        assert!(doc["tests"].is_array(), "pass and fail list the tests");
    }
    if let Some(message) = doc["message"].as_str() {
        assert!(message.chars().count() <= 65_535);
    }
    for test in doc["tests"].as_array().into_iter().flatten() {
        let test = test.as_object().expect("a test is an object");
        for key in test.keys() {
            assert!(
                [
                    "name",
                    "status",
                    "message",
                    "output",
                    "test_code",
                    "task_id"
                ]
                .contains(&key.as_str()),
                "unknown test key {key}"
            );
        }
        assert!(test["name"].is_string());
        assert!(["pass", "fail", "error"].contains(&test["status"].as_str().unwrap()));
        assert!(test.get("message").is_none_or(Value::is_string));
    }
}

struct Case {
    what: &'static str,
    result: GradeResult,
    status: &'static str,
    /// Text the Exercism message must hold (`None`: no message).
    message_has: Option<&'static str>,
    /// What the JUnit document reads back as: (name, status, message holds).
    junit: Vec<(&'static str, TestStatus, &'static str)>,
}

#[test]
fn each_kind_of_result_exports_to_exercism_v3_and_junit() {
    use Outcome as O;
    use TestStatus as S;
    let cases = [
        Case {
            what: "all pass",
            result: result(O::Passed, vec![t("adds", S::Pass, None), t("subtracts", S::Pass, None)], "ok\n"),
            status: "pass",
            message_has: None,
            junit: vec![("adds", S::Pass, ""), ("subtracts", S::Pass, "")],
        },
        Case {
            what: "some fail, one skipped",
            result: result(
                O::Failed,
                vec![
                    t("adds", S::Pass, None),
                    t("keeps <b> & \"quotes\"", S::Fail, Some("add(1, 2): expected 3, but it returned 4\nyour code printed:\n| \u{1b}[31mred")),
                    t("later", S::Skip, Some("not yet")),
                ],
                "",
            ),
            status: "fail",
            message_has: None,
            junit: vec![
                ("adds", S::Pass, ""),
                ("keeps <b> & \"quotes\"", S::Fail, "expected 3, but it returned 4\nyour code printed:\n| \u{fffd}[31mred"),
                ("later", S::Skip, "not yet"),
            ],
        },
        Case {
            what: "compile error: no tests",
            result: result(O::CompileError, vec![], "  File \"words.py\", line 1\nSyntaxError: expected ':'\n"),
            status: "error",
            message_has: Some("SyntaxError: expected ':'"),
            junit: vec![("grading", S::Error, "compile_error")],
        },
        Case {
            what: "a limit after some tests ran",
            result: result(
                O::WallTimeout,
                vec![t("fast", S::Pass, None), t("limits", S::Error, Some("time limit reached: the tests ran for 10 s and were stopped"))],
                "",
            ),
            status: "fail",
            message_has: None,
            junit: vec![("fast", S::Pass, ""), ("limits", S::Error, "time limit reached")],
        },
        Case {
            what: "a limit before any test",
            result: result(
                O::IdleTimeout,
                vec![t("limits", S::Error, Some("no output for 5 s: is the program waiting for input or stuck in a loop?"))],
                "",
            ),
            status: "error",
            message_has: Some("limits: no output for 5 s"),
            junit: vec![("limits", S::Error, "no output for 5 s")],
        },
        Case {
            what: "the command reported nothing",
            result: result(O::Failed, vec![t("results", S::Error, Some("the test command reported no results"))], ""),
            status: "error",
            message_has: Some("reported no results"),
            junit: vec![("results", S::Error, "reported no results")],
        },
        Case {
            what: "internal error",
            result: result(O::InternalError, vec![], "internal error: sandbox failed\n"),
            status: "error",
            message_has: Some("Gauntlet could not grade this submission"),
            junit: vec![("grading", S::Error, "internal_error")],
        },
        Case {
            what: "a log longer than Exercism's cap keeps its end",
            result: result(O::CompileError, vec![], &format!("{}\nerror: the last line\n", "x".repeat(70_000))),
            status: "error",
            message_has: Some("error: the last line"),
            junit: vec![("grading", S::Error, "compile_error")],
        },
    ];
    for c in cases {
        let doc = serde_json::to_value(exercism(&c.result)).unwrap();
        assert_exercism_v3(&doc);
        assert_eq!(doc["status"], c.status, "{}: {doc:#}", c.what);
        match c.message_has {
            Some(needle) => assert!(
                doc["message"].as_str().unwrap().contains(needle),
                "{}: {doc:#}",
                c.what
            ),
            None => assert!(doc["message"].is_null(), "{}", c.what),
        }
        let exported: Vec<&Value> = doc["tests"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        assert_eq!(exported.len(), c.result.tests.len(), "{}", c.what);

        let xml = junit(&c.result, "demo-exercise");
        let back = parse_junit(xml.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}\n{xml}", c.what));
        assert_eq!(back.len(), c.junit.len(), "{}: {xml}", c.what);
        for (got, (name, status, has)) in back.iter().zip(&c.junit) {
            assert_eq!(
                got.name,
                format!("demo-exercise.{name}"),
                "{}: {xml}",
                c.what
            );
            assert_eq!(got.status, *status, "{}: {xml}", c.what);
            let msg = got.message.clone().unwrap_or_default();
            assert!(
                msg.contains(has),
                "{}: {msg:?} lacks {has:?}\n{xml}",
                c.what
            );
        }
    }
}

#[test]
fn junit_counts_and_properties_match_the_result() {
    use TestStatus as S;
    let r = result(
        Outcome::Failed,
        vec![
            t("a", S::Pass, None),
            t("b", S::Fail, Some("no")),
            t("c", S::Error, Some("boom")),
            t("d", S::Skip, None),
        ],
        "the log\n",
    );
    let xml = junit(&r, "demo");
    for needle in [
        r#"<testsuite name="demo" tests="4" failures="1" errors="1" skipped="1" time="1.234">"#,
        r#"<property name="outcome" value="failed"/>"#,
        r#"<property name="score" value="25"/>"#,
        r#"<property name="max_points" value="4"/>"#,
        "<system-out>the log\n</system-out>",
    ] {
        assert!(xml.contains(needle), "{needle}\n{xml}");
    }
    // Messages come back exactly (the attribute and the text hold the same message,
    // which a reader shows once).
    let back = parse_junit(xml.as_bytes()).unwrap();
    let messages: Vec<Option<&str>> = back.iter().map(|t| t.message.as_deref()).collect();
    assert_eq!(messages, [None, Some("no"), Some("boom"), None]);
}

#[test]
fn a_stored_result_reads_back_from_its_json() {
    let r = result(
        Outcome::Failed,
        vec![
            t("a", TestStatus::Pass, None),
            t("b", TestStatus::Fail, Some("no")),
        ],
        "log",
    );
    let json = serde_json::to_value(&r).unwrap();
    let back: GradeResult = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}
