//! TAP and JUnit parsing: real reports from node, mocha and pytest (captured from the
//! real tools into tests/data/results), a Surefire report, and tables of edge cases.

use gauntlet_exercise::{parse_junit, parse_tap, ResultsError, TestResult, TestStatus};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/results/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One line per test: `status name`, and ` | first line of the message` when present.
fn render(tests: &[TestResult]) -> String {
    tests
        .iter()
        .map(|t| {
            let status = match t.status {
                TestStatus::Pass => "pass",
                TestStatus::Fail => "fail",
                TestStatus::Error => "error",
                TestStatus::Skip => "skip",
            };
            match &t.message {
                Some(m) => format!("{status} {} | {}", t.name, m.lines().next().unwrap_or("")),
                None => format!("{status} {}", t.name),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn check_tap(input: &str, want: &str) {
    assert_eq!(render(&parse_tap(input)), want.trim(), "for\n{input}");
}

fn check_junit(input: &str, want: &str) {
    let got = match parse_junit(input.as_bytes()) {
        Ok(t) => render(&t),
        Err(e) => format!("error: {e}"),
    };
    assert_eq!(got, want.trim(), "for\n{input}");
}

// ---------------------------------------------------------------------------
// Real reports

#[test]
fn node_tap() {
    let input = String::from_utf8(data("node.tap")).unwrap();
    let tests = parse_tap(&input);
    assert_eq!(
        render(&tests),
        "\
pass reverse > reverses two words
fail reverse > keeps one word | Expected values to be strictly equal:
skip reverse > skips this | not yet
pass top level passes
skip todo one"
    );
    assert_eq!(
        tests[1].message.as_deref(),
        Some("Expected values to be strictly equal:\n\n'a' !== 'b'")
    );
}

#[test]
fn mocha_tap() {
    let input = String::from_utf8(data("mocha.tap")).unwrap();
    let tests = parse_tap(&input);
    assert_eq!(
        render(&tests),
        "\
pass reverse reverses two words
fail reverse edge cases keeps one word | Expected values to be strictly equal:
skip reverse edge cases skipped one"
    );
    let m = tests[1].message.as_deref().unwrap();
    assert!(
        m.contains("'a' !== 'b'") && m.contains("at Context.<anonymous>"),
        "{m}"
    );
}

#[test]
fn node_junit() {
    let tests = parse_junit(&data("node-junit.xml")).unwrap();
    assert_eq!(
        render(&tests),
        "\
pass reverse > reverses two words
fail reverse > keeps one word | Expected values to be strictly equal:'a' !== 'b'
skip reverse > skips this | not yet
pass top level passes
skip todo one | true"
    );
    // The text after the attribute, with &lt; resolved.
    assert!(tests[1]
        .message
        .as_deref()
        .unwrap()
        .contains("TestContext.<anonymous>"));
}

#[test]
fn pytest_junit() {
    let tests = parse_junit(&data("pytest-junit.xml")).unwrap();
    assert_eq!(
        render(&tests),
        "\
pass tests.test_words.test_two_words
fail tests.test_words.test_one_word | AssertionError: one word stays
skip tests.test_words.test_later | not yet
error tests.test_words.test_fixture | failed on setup with \"RuntimeError: fixture <broke> & died\"
pass tests.test_words.TestClass.test_method
skip tests.test_words.test_xfail | known bug"
    );
    let m = tests[1].message.as_deref().unwrap();
    assert!(
        m.starts_with("AssertionError: one word stays\nassert 'a' == 'b'"),
        "{m}"
    );
    assert!(
        m.contains("\n\ndef test_one_word():\n>       assert"),
        "{m}"
    );
}

#[test]
fn mocha_junit() {
    let tests = parse_junit(&data("mocha-junit.xml")).unwrap();
    assert_eq!(
        render(&tests),
        "\
pass reverse reverses two words
fail reverse edge cases keeps one word | Expected values to be strictly equal:  'a' !== 'b'"
    );
    // (the attribute's raw newlines are spaces after XML attribute normalisation)
    let m = tests[1].message.as_deref().unwrap();
    assert!(
        m.contains("'a' !== 'b'") && m.contains("+ expected - actual"),
        "{m}"
    );
}

#[test]
fn surefire_junit() {
    let tests = parse_junit(&data("surefire-junit.xml")).unwrap();
    assert_eq!(
        render(&tests),
        "\
pass com.example.words.ReverseTest.reversesTwoWords
fail com.example.words.ReverseTest.keepsOneWord | expected: <b> but was: <a>
error com.example.words.ReverseTest.handlesNull | Cannot invoke \"String.split(String)\" because \"s\" is null
skip com.example.words.ReverseTest.unicode | not implemented yet"
    );
    // system-out is not part of the message.
    assert!(!tests[1].message.as_deref().unwrap().contains("reversing"));
}

// ---------------------------------------------------------------------------
// TAP edge cases

#[test]
fn tap_table() {
    let table: &[(&str, &str)] = &[
        // Versions, plans, numbers optional, descriptions with or without dash.
        ("TAP version 14\n1..3\nok 1 - a\nnot ok 2 - b\nok 3 c\n", "pass a\nfail b\npass c"),
        ("ok\nnot ok\nok 7\n", "pass test 1\nfail test 2\npass test 7"),
        ("ok 1 -\n", "pass test 1"),
        // Directives, any case, with and without reason; escaped hash.
        ("ok 1 - a # SKIP no network\n", "skip a | no network"),
        ("ok 1 - a # skipped: later\n", "skip a | later"),
        ("not ok 1 - a # TODO not done\n", "skip a | not done"),
        ("ok 1 - a # todo\n", "skip a"),
        ("ok 1 - a \\# not a directive\n", "pass a # not a directive"),
        ("ok 1 - a # just a comment\n", "pass a"),
        // Lines that are not TAP are ignored; "okay" is not "ok".
        ("compiling...\nokay then\nnothing\nok 1 - a\nDone in 3s\n", "pass a"),
        // A YAML block is the message of a failing test, never parsed for test points.
        ("not ok 1 - a\n  ---\n  message: 'expected 1, got 2'\n  ok: true\n  ...\n", "fail a | expected 1, got 2"),
        ("not ok 1 - a\n  ---\n  message: |\n    line one\n    line two\n  ...\n", "fail a | line one"),
        ("not ok 1 - a\n  ---\n  got: 2\n  want: 1\n  ...\n", "fail a | got: 2"),
        ("ok 1 - a\n  ---\n  duration_ms: 3\n  ...\n", "pass a"),
        // Bail out.
        ("1..3\nok 1 - a\nBail out! database down\nok 2 - b\n", "pass a\nerror test 2 | not reported: the test run stopped early\nerror test 3 | not reported: the test run stopped early\nerror bail out | database down"),
        ("Bail out!\n", "error bail out | the test run bailed out"),
        // A plan larger than what ran: the missing tests are errors.
        ("1..3\nok 1 - a\n", "pass a\nerror test 2 | not reported: the test run stopped early\nerror test 3 | not reported: the test run stopped early"),
        ("ok 1 - a\nok 2 - b\n1..2\n", "pass a\npass b"),
        ("1..0 # SKIP nothing to do\n", ""),
        // Subtests (TAP 14): leaves flattened under their parents' names.
        ("# Subtest: outer\n    # Subtest: inner\n        ok 1 - leaf\n        1..1\n    ok 1 - inner\n    not ok 2 - other\n    1..2\nnot ok 1 - outer\n1..1\n",
         "pass outer > inner > leaf\nfail outer > other"),
        // A parent that fails with all children passing (a hook) keeps its own failure.
        ("    ok 1 - child\n    1..1\nnot ok 1 - parent\n  ---\n  error: 'afterAll hook failed'\n  ...\n",
         "pass parent > child\nfail parent | afterAll hook failed"),
        // A crash inside a subtest: what was reported still counts.
        ("# Subtest: outer\n    ok 1 - first\n    ok 2 - second\n", "pass first\npass second"),
    ];
    for (input, want) in table {
        check_tap(input, want);
    }
}

#[test]
fn tap_caps() {
    let long = "n".repeat(1000);
    let tests = parse_tap(&format!(
        "not ok 1 - {long}\n  ---\n  message: {long}{long}{long}{long}{long}\n  ...\n"
    ));
    assert_eq!(tests[0].name.chars().count(), 201);
    assert!(tests[0].name.ends_with('…'));
    assert_eq!(tests[0].message.as_ref().unwrap().chars().count(), 4001);

    let many: String = (0..10_050).map(|i| format!("ok {i}\n")).collect();
    assert_eq!(parse_tap(&many).len(), 10_000);

    // Nesting deeper than 16 levels is ignored, not walked level by level.
    let deep = format!("{}ok 1 - too deep\nok 1 - top\n", " ".repeat(4 * 17));
    assert_eq!(render(&parse_tap(&deep)), "pass top");
    let deep = format!("{}ok 1 - deep enough\nok 1 - top\n", " ".repeat(4 * 16));
    assert_eq!(render(&parse_tap(&deep)), "pass top > deep enough");
}

// ---------------------------------------------------------------------------
// JUnit edge cases

#[test]
fn junit_table() {
    let table: &[(&str, &str)] = &[
        // Garbage around the XML (a runner printing into the same file).
        ("npm WARN something\n<testsuites><testsuite name=\"s\"><testcase classname=\"c\" name=\"t\"/></testsuite></testsuites>\ntrailing <garbage\n",
         "pass c.t"),
        // A bare <testsuite> root; nested suites at any depth.
        ("<testsuite><testcase classname=\"c\" name=\"a\"/></testsuite>", "pass c.a"),
        ("<testsuites><testsuite name=\"a\"><testsuite name=\"b\"><testsuite name=\"c\"><testcase name=\"deep\" classname=\"test\"/></testsuite></testsuite></testsuite></testsuites>",
         "pass a > b > c > deep"),
        // Message from the attribute, else from the text; error beats failure.
        ("<testsuite><testcase name=\"t\"><failure>boom\nat line 3</failure></testcase></testsuite>", "fail t | boom"),
        ("<testsuite><testcase name=\"t\"><failure message=\"m\"/><error message=\"e\"/></testcase></testsuite>", "error t | m"),
        ("<testsuite><testcase name=\"t\"><skipped/></testcase></testsuite>", "skip t"),
        // Names: empty names get an ordinal; a classname inside the name is not repeated.
        ("<testsuite><testcase/><testcase name=\"\"/></testsuite>", "pass test 1\npass test 2"),
        ("<testsuite><testcase classname=\"Suite\" name=\"Suite does x\"/></testsuite>", "pass Suite does x"),
        // Entities: the predefined ones and character references only.
        ("<testsuite><testcase name=\"a&amp;b &#955;\"><failure>x &lt; y &#x3bb;</failure></testcase></testsuite>", "fail a&b λ | x < y λ"),
        // No XML at all, or something else.
        ("just some output\n", "error: results file holds no JUnit XML (no <testsuites> or <testsuite> element)"),
        ("<?xml version=\"1.0\"?><html><body/></html>", "error: results file holds no JUnit XML (no <testsuites> or <testsuite> element)"),
        ("<testsuites></testsuites>", ""),
        ("<testsuites/>", ""),
    ];
    for (input, want) in table {
        check_junit(input, want);
    }
}

#[test]
fn junit_truncated_or_broken() {
    for input in [
        "<testsuites><testsuite><testcase name=\"a\"/>",
        "<testsuites><testsuite></testsuites>",
    ] {
        let r = parse_junit(input.as_bytes());
        assert!(
            matches!(r, Err(ResultsError::Malformed { .. })),
            "{input}: {r:?}"
        );
    }
}

#[test]
fn junit_entity_bomb_is_not_expanded() {
    let mut dtd = String::from("<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    dtd.push_str("]>\n");
    let xml = format!(
        "<?xml version=\"1.0\"?>\n{dtd}<testsuites><testsuite><testcase name=\"t\"><failure>&lol9;</failure></testcase></testsuite></testsuites>"
    );
    let start = std::time::Instant::now();
    let tests = parse_junit(xml.as_bytes()).unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(render(&tests), "fail t | &lol9;");
}

#[test]
fn junit_size_cap() {
    let mut xml = b"<testsuites>".to_vec();
    xml.resize(8 << 20, b' ');
    assert!(matches!(
        parse_junit(&xml),
        Err(ResultsError::Malformed { .. })
    ));
    xml.push(b' ');
    assert_eq!(
        parse_junit(&xml).unwrap_err().to_string(),
        "results file is larger than the 8388608-byte cap"
    );
}

#[test]
fn junit_deep_suites_name_the_outer_eight() {
    let open: String = (1..=10)
        .map(|i| format!("<testsuite name=\"s{i}\">"))
        .collect();
    let close = "</testsuite>".repeat(10);
    let xml = format!("<testsuites>{open}<testcase name=\"t\"/>{close}<testsuite name=\"after\"><testcase name=\"u\"/></testsuite></testsuites>");
    let tests = parse_junit(xml.as_bytes()).unwrap();
    assert_eq!(
        render(&tests),
        "pass s1 > s2 > s3 > s4 > s5 > s6 > s7 > s8 > t\npass after > u"
    );
}
