//! `exercise.yaml` rules, as a table: each case edits the valid manifest and states the
//! whole one-line error (file, line, key, reason) or that it loads.

mod common;

use std::path::Path;
use std::time::Duration;

use common::MANIFEST;
use gauntlet_exercise::{
    parse_manifest, BuildSpec, Dependencies, Isolation, LoadError, Manifest, Maxima, RelPath,
    ResultsFormat, Scoring, SubmissionKind,
};

fn parse(yaml: &str) -> Result<Manifest, LoadError> {
    parse_manifest(
        yaml.as_bytes(),
        Path::new("reverse-words/exercise.yaml"),
        Some("reverse-words"),
        &Maxima::default(),
    )
}

/// Replaces the line starting with `from` (after indentation) by `to` (same indentation),
/// or appends `to` when `from` is empty.
fn edit(from: &str, to: &str) -> String {
    if from.is_empty() {
        return format!("{MANIFEST}{to}\n");
    }
    let mut found = false;
    let out: Vec<String> = MANIFEST
        .lines()
        .map(|l| {
            let indent = &l[..l.len() - l.trim_start().len()];
            if !found && l.trim_start().starts_with(from) {
                found = true;
                to.lines()
                    .map(|t| format!("{indent}{t}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(found, "no line starts with {from:?}");
    out.join("\n") + "\n"
}

fn check(yaml: &str, want: &str) {
    let got = match parse(yaml) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    assert_eq!(got, want, "for\n{yaml}");
    assert!(!got.contains('\n'), "error is one line: {got:?}");
}

const F: &str = "reverse-words/exercise.yaml";

#[test]
fn valid_manifest_loads_with_every_field() {
    let m = parse(MANIFEST).unwrap();
    assert_eq!(m.id.as_str(), "reverse-words");
    assert_eq!(m.title, "Reverse words");
    assert_eq!(m.runtime, "python");
    assert_eq!(m.submission, SubmissionKind::Files);
    assert_eq!(m.starter_files.len(), 1);
    assert_eq!(m.starter_files[0].path.as_str(), "words.py");
    assert_eq!(m.starter_files[0].max_bytes, 65536);
    assert_eq!(m.limits.wall_time, Some(Duration::from_secs(20)));
    assert_eq!(m.limits.idle_timeout, Some(Duration::from_secs(10)));
    assert_eq!(m.limits.memory, Some(512 << 20));
    assert_eq!(m.limits.cpu_time, None);
    let test = m.test.unwrap();
    assert_eq!(test.command, ["python3", "tests/run.py"]);
    assert_eq!(test.results, ResultsFormat::Tap);
    assert_eq!(m.scoring, Scoring::PerTest);
}

#[test]
fn optional_parts() {
    // max_bytes defaults to 64 KiB.
    let m = parse(&edit("max_bytes:", "")).unwrap();
    assert_eq!(m.starter_files[0].max_bytes, 64 << 10);
    // test may be left out (the runtime supplies it); so may limits.
    let yaml: String = MANIFEST
        .lines()
        .filter(|l| {
            ![
                "test:",
                "  command",
                "  results",
                "limits:",
                "  wall_time",
                "  idle",
                "  memory",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let m = parse(&yaml).unwrap();
    assert!(m.test.is_none());
    assert_eq!(m.limits, Default::default());
}

#[test]
fn values_table() {
    let ok = |from: &str, to: &str| (edit(from, to), "ok".to_owned());
    let err = |from: &str, to: &str, want: &str| (edit(from, to), format!("{F}:{want}"));
    let table = [
        // Unknown and missing keys.
        err("", "colour: blue", "17: colour: unknown field `colour`, expected one of `id`, `title`, `runtime`, `submission`, `starter`, `limits`, `test`, `scoring`, `hidden`, `dependencies`, `build`, `isolation`"),
        err("memory:", "memory: 512MiB\nswap: 1GiB", "13: limits.swap: unknown field `swap`, expected one of `wall_time`, `idle_timeout`, `cpu_time`, `memory`, `pids`, `output`"),
        err("- path:", "- path: words.py\n  mode: 0755", "8: starter.files[0].mode: unknown field `mode`, expected `path` or `max_bytes`"),
        err("scoring:", "", "1: missing field `scoring`"),
        err("id:", "id: reverse-words\nid: other", "1: duplicate field `id`"),
        // id.
        err("id:", "id: Reverse_Words", "1: id: exercise id \"Reverse_Words\" does not match [a-z0-9][a-z0-9-]{0,63}"),
        err("id:", "id: -leading-dash", "1: id: exercise id \"-leading-dash\" does not match [a-z0-9][a-z0-9-]{0,63}"),
        err("id:", "id: reverse-word", "1: id: id \"reverse-word\" differs from the package folder name \"reverse-words\""),
        // title and runtime.
        err("title:", "title: \"\"", "2: title: title is empty"),
        err("title:", &format!("title: {}", "x".repeat(201)), "2: title: title is longer than 200 characters"),
        err("runtime:", "runtime: Python!", "3: runtime: runtime \"Python!\" does not match [a-z0-9-]{1,32}"),
        ok("runtime:", "runtime: hardhat"),
        // submission and scoring enums.
        ok("submission:", "submission: archive"),
        err("submission:", "submission: zip", "4: submission: unknown variant `zip`, expected `files` or `archive`"),
        ok("scoring:", "scoring: all-or-nothing"),
        err("scoring:", "scoring: best-of", "16: scoring: unknown variant `best-of`, expected `per-test` or `all-or-nothing`"),
        // starter files.
        err("- path:", "- path: ../words.py", "7: starter.files[0].path: path \"../words.py\" has a `..` segment"),
        err("- path:", "- path: /etc/passwd", "7: starter.files[0].path: path \"/etc/passwd\" is absolute"),
        err("- path:", "- path: 'a\\b.py'", "7: starter.files[0].path: path \"a\\\\b.py\" contains a backslash"),
        err("- path:", "- path: tests/run.py", "7: starter.files[0].path: tests/run.py is inside tests/, which submissions never write"),
        err("- path:", "- path: words.py\n  max_bytes: 1024\n- path: words.py", "6: starter.files: words.py is listed twice"),
        err("max_bytes:", "max_bytes: 262145", "8: starter.files[0].max_bytes: max_bytes 262145 bytes is above the 256KiB ceiling"),
        ok("max_bytes:", "max_bytes: 256KiB"),
        err("max_bytes:", "max_bytes: 0", "8: starter.files[0].max_bytes: max_bytes must be above zero"),
        // limits: units and server maxima.
        ok("wall_time:", "wall_time: 1500ms"),
        ok("wall_time:", "wall_time: 1m"),
        err("wall_time:", "wall_time: 20 seconds", "10: limits.wall_time: \"20 seconds\" is not a duration: expected a number and a unit (ms, s, m, h or d), such as 20s or 1.5s"),
        err("wall_time:", "wall_time: 20", "10: limits.wall_time: \"20\" is not a duration: expected a number and a unit (ms, s, m, h or d), such as 20s or 1.5s"),
        err("wall_time:", "wall_time: 90s", "10: limits.wall_time: wall_time 90s is above the server maximum 1m"),
        err("wall_time:", "wall_time: 0s", "10: limits.wall_time: wall_time must be above zero"),
        err("idle_timeout:", "idle_timeout: 31s", "11: limits.idle_timeout: idle_timeout 31s is above the server maximum 30s"),
        err("memory:", "memory: 2GiB", "12: limits.memory: memory 2GiB is above the server maximum 1GiB"),
        // One grammar with the command line: 1G and 512MB read as on `serve` and `sandbox run`.
        ok("memory:", "memory: 512MB"),
        ok("memory:", "memory: 1G"),
        ok("wall_time:", "wall_time: 1.5s"),
        err("memory:", "memory: 512mb", "12: limits.memory: \"512mb\" is not a size: expected a number of bytes, or a number and a unit (KiB, MiB, GiB; K, M, G and KB, MB, GB are the same powers of 1024), such as 512MiB"),
        ok("memory:", "memory: 1073741824"),
        err("memory:", "cpu_time: 31s", "12: limits.cpu_time: cpu_time 31s is above the server maximum 30s"),
        err("memory:", "pids: 257", "12: limits.pids: pids 257 is above the server maximum 256"),
        err("memory:", "pids: 1KiB", "12: limits.pids: \"1KiB\" is not a whole number"),
        err("memory:", "output: 2MiB", "12: limits.output: output 2MiB is above the server maximum 1MiB"),
        ok("memory:", "pids: 64\noutput: 64KiB\ncpu_time: 5s"),
        // test.
        ok("results:", "results: exit-code"),
        ok("results:", "results: channel:tap"),
        ok("results:", "results: channel:junit"),
        err("results:", "results: channel:xml", "15: test.results: results \"channel:xml\" is not channel:tap, channel:junit, tap, junit:<path> or exit-code"),
        // hidden: paths of starter/ the code under test may not read.
        ok("", "hidden: [data/answers.json, fixtures]"),
        err("", "hidden: [tests/expected.json]", "17: hidden[0]: tests/expected.json is inside tests/, which is always hidden"),
        err("", "hidden: [.gauntlet/runner]", "17: hidden[0]: .gauntlet/runner would hide the test runners (.gauntlet/), which the code under test runs in"),
        err("", "hidden: [../x]", "17: hidden[0]: path \"../x\" has a `..` segment"),
        err("", "hidden:\n  - a\n  - a", "18: hidden: a is listed twice"),
        err("", "hidden: [words.py]", " hidden: words.py overlaps the starter file words.py: the code under test must read what a submission writes"),
        (edit("- path:", "- path: lib/words.py") + "hidden: [lib]\n", format!("{F}: hidden: lib overlaps the starter file lib/words.py: the code under test must read what a submission writes")),
        ok("results:", "results: junit:reports/junit.xml"),
        err("results:", "results: junit:../out.xml", "15: test.results: path \"../out.xml\" has a `..` segment"),
        err("results:", "results: xunit", "15: test.results: results \"xunit\" is not channel:tap, channel:junit, tap, junit:<path> or exit-code"),
        err("command:", "command: []", "14: test.command: command is empty"),
        err("command:", "command: python3 tests/run.py", "14: test.command: invalid type: string \"python3 tests/run.py\", expected a list of at most 64 arguments"),
        err("command:", &format!("command: [{}]", vec!["x"; 65].join(", ")), "14: test.command: more than 64 arguments"),
        err("command:", &format!("command: [\"{}\"]", "x".repeat(4097)), "14: test.command[0]: argument is longer than 4096 bytes"),
        err("results:", "", "14: test: missing field `results`"),
        // isolation: one of two names, exactly.
        ok("", "isolation: namespaces"),
        ok("", "isolation: gvisor"),
        err("", "isolation: runsc", "17: isolation: unknown isolation \"runsc\": expected namespaces or gvisor"),
        err("", "isolation: gVisor", "17: isolation: unknown isolation \"gVisor\": expected namespaces or gvisor (did you mean \"gvisor\"?)"),
        err("", "isolation: [gvisor]", "17: isolation: invalid type: sequence, expected namespaces or gvisor"),
    ];
    let mut failures = Vec::new();
    for (yaml, want) in table {
        let got = match parse(&yaml) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        if got != want {
            failures.push(format!("want {want}\n got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn isolation_is_namespaces_unless_the_manifest_asks_for_gvisor() {
    assert_eq!(parse(MANIFEST).unwrap().isolation, Isolation::Namespaces);
    let m = parse(&edit("", "isolation: gvisor")).unwrap();
    assert_eq!(m.isolation, Isolation::Gvisor);
    assert_eq!(m.isolation.to_string(), "gvisor");
    // The stronger of two is their maximum: what the grader runs under.
    assert_eq!(
        Isolation::Namespaces.max(Isolation::Gvisor),
        Isolation::Gvisor
    );
    // A bad value is refused with its line and both valid choices.
    let err = parse(&edit("", "isolation: docker"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("{F}:17: isolation: unknown isolation \"docker\": expected namespaces or gvisor")
    );
}

#[test]
fn dependencies_and_build_parse() {
    let m = parse(MANIFEST).unwrap();
    assert_eq!((m.dependencies, m.build), (None, None));
    let yaml = format!(
        "{MANIFEST}dependencies:\n  python: deps/requirements.txt\nbuild:\n  command: [\"python3\", \"-m\", \"compileall\", \"-b\", \"/build\"]\n"
    );
    let m = parse(&yaml).unwrap();
    assert_eq!(
        m.dependencies,
        Some(Dependencies {
            python: Some(RelPath::parse("deps/requirements.txt").unwrap()),
            node: None,
        })
    );
    // keep_sources defaults to true.
    assert_eq!(
        m.build,
        Some(BuildSpec {
            command: ["python3", "-m", "compileall", "-b", "/build"]
                .map(String::from)
                .to_vec(),
            keep_sources: true,
        })
    );
    let yaml = edit("runtime:", "runtime: node")
        + "dependencies:\n  node: package-lock.json\nbuild:\n  command: [tsc]\n  keep_sources: false\n";
    let m = parse(&yaml).unwrap();
    let deps = m.dependencies.unwrap();
    assert_eq!(
        (deps.python, deps.node.unwrap().as_str()),
        (None, "package-lock.json")
    );
    assert!(!m.build.unwrap().keep_sources);
}

#[test]
fn dependencies_and_build_table() {
    let with = |runtime: &str, extra: &str| {
        edit("runtime:", &format!("runtime: {runtime}")) + extra + "\n"
    };
    let py = |extra: &str| with("python", extra);
    let table: Vec<(String, String)> = vec![
        (py("dependencies:\n  python: requirements.txt"), "ok".into()),
        (with("shell", "dependencies:\n  python: requirements.txt"), "ok".into()),
        (with("node", "dependencies:\n  node: package-lock.json"), "ok".into()),
        (with("node", "dependencies:\n  node: js/npm-shrinkwrap.json"), "ok".into()),
        (py("dependencies: {}"), format!("{F}:17: dependencies: give python (a hashed requirements.txt) or node (a package-lock.json), or leave dependencies out")),
        (py("dependencies:\n  python: a.txt\n  python: b.txt"), format!("{F}:18: dependencies: duplicate field `python`")),
        (py("dependencies: [requirements.txt]"), format!("{F}:17: dependencies: invalid type: sequence, expected a map with python or node")),
        (py("dependencies:\n  ruby: Gemfile.lock"), format!("{F}:18: dependencies.ruby: unknown field `ruby`, expected `python` or `node`")),
        (py("dependencies:\n  python: starter/requirements.txt"), format!("{F}:18: dependencies.python: starter/requirements.txt is inside starter/, which a submission could override: put it at the package root")),
        (py("dependencies:\n  python: Starter/requirements.txt"), format!("{F}:18: dependencies.python: Starter/requirements.txt is inside starter/, which a submission could override: put it at the package root")),
        (py("dependencies:\n  python: tests/requirements.txt"), format!("{F}:18: dependencies.python: tests/requirements.txt is inside tests/, which is hidden from the runs: put it at the package root")),
        (py("dependencies:\n  python: solution/requirements.txt"), format!("{F}:18: dependencies.python: solution/requirements.txt is inside solution/, the reference answer, which no run sees: put it at the package root")),
        (py("dependencies:\n  python: ../requirements.txt"), format!("{F}:18: dependencies.python: path \"../requirements.txt\" has a `..` segment")),
        (py("dependencies:\n  python: /etc/requirements.txt"), format!("{F}:18: dependencies.python: path \"/etc/requirements.txt\" is absolute")),
        (with("node", "dependencies:\n  node: deps/lock.json"), format!("{F}:18: dependencies.node: deps/lock.json is not named package-lock.json (or npm-shrinkwrap.json), which is what npm ci reads beside package.json")),
        (with("node", "dependencies:\n  node: starter/package-lock.json"), format!("{F}:18: dependencies.node: starter/package-lock.json is inside starter/, which a submission could override: put it at the package root")),
        // The runtime must be able to use them.
        (py("dependencies:\n  node: package-lock.json"), format!("{F}: dependencies: node dependencies need runtime node, not python")),
        (with("node", "dependencies:\n  python: requirements.txt"), format!("{F}: dependencies: python dependencies need runtime python or shell, not node")),
        (with("hardhat", "dependencies:\n  node: package-lock.json"), format!("{F}: dependencies: node dependencies need runtime node, not hardhat (hardhat has its own toolchain, and what its tests can require is fixed)")),
        // build.
        (py("build:\n  command: [gcc, -o, /build/prog, words.c]\n  keep_sources: true"), "ok".into()),
        (py("build:\n  command: []"), format!("{F}:18: build.command: command is empty")),
        (py("build:\n  command: make all"), format!("{F}:18: build.command: invalid type: string \"make all\", expected a list of at most 64 arguments")),
        (py(&format!("build:\n  command: [{}]", vec!["x"; 65].join(", "))), format!("{F}:18: build.command: more than 64 arguments")),
        (py(&format!("build:\n  command: [\"{}\"]", "x".repeat(4097))), format!("{F}:18: build.command[0]: argument is longer than 4096 bytes")),
        (py("build:\n  command: [\"a\\0b\"]"), format!("{F}:18: build.command[0]: argument contains a NUL byte")),
        (py("build:\n  command: [cc, ./tests/helper.c]"), format!("{F}:18: build.command[1]: ./tests/helper.c: the build step runs without tests/ (it sees the submission over the starter): build from those, test in test.command")),
        (py("build:\n  command: [make, tests]"), "ok".into()),
        (py("build:\n  keep_sources: false"), format!("{F}:18: build: missing field `command`")),
        (py("build:\n  command: [make]\n  keep_sources: maybe"), format!("{F}:19: build.keep_sources: invalid type: string \"maybe\", expected a boolean")),
        (py("build:\n  command: [make]\n  output: /build"), format!("{F}:19: build.output: unknown field `output`, expected `command` or `keep_sources`")),
    ];
    let mut failures = Vec::new();
    for (yaml, want) in table {
        let got = match parse(&yaml) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        if got != want {
            failures.push(format!("want {want}\n got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn files_exercise_needs_a_starter_file() {
    let yaml = MANIFEST.replace(
        "  files:\n    - path: words.py\n      max_bytes: 65536\n",
        "  files: []\n",
    );
    check(
        &yaml,
        &format!("{F}: starter.files: a files exercise needs at least one starter file"),
    );
    // An archive exercise may start from nothing.
    assert!(parse(&yaml.replace("submission: files", "submission: archive")).is_ok());
}

#[test]
fn syntax_errors_name_the_line() {
    let yaml = MANIFEST.replace("title: Reverse words", "title: a: b");
    let e = parse(&yaml).unwrap_err();
    let LoadError::Yaml { line, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(*line, Some(2), "{e}");
    assert!(
        e.to_string().contains("mapping values are not allowed"),
        "{e}"
    );
}

#[test]
fn whole_document_errors() {
    check("", &format!("{F}:1: missing field `id`"));
    check(
        "- a\n- b\n",
        &format!("{F}:1: invalid type: sequence, expected struct RawManifest"),
    );
    check(
        &format!("{MANIFEST}---\n{MANIFEST}"),
        &format!("{F}: deserializing from YAML containing more than one document is not supported"),
    );
}

#[test]
fn oversized_file_is_refused_before_parsing() {
    // 64 KiB + 1 of valid YAML (a long comment): refused for its size alone.
    let mut yaml = MANIFEST.to_owned();
    yaml.push('#');
    yaml.push_str(&"x".repeat((64 << 10) - yaml.len()));
    assert_eq!(yaml.len(), 64 << 10);
    assert!(parse(&yaml).is_ok(), "exactly the cap loads");
    yaml.push('x');
    check(&yaml, &format!("{F}: file is larger than the 64KiB cap"));
}

/// Nine levels of nine aliases each: 9^9 (387 million) strings if expanded.
fn laughs(indent: &str) -> String {
    let mut yaml = format!("{indent}- &a0 [\"lol\"]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        yaml.push_str(&format!(
            "{indent}- &a{i} [{}]\n",
            [prev.as_str(); 9].join(", ")
        ));
    }
    yaml
}

#[test]
fn billion_laughs_is_refused() {
    // Aimed at the only lists the manifest reads. It must fail fast, never expand.
    for (key, indent) in [("command:", "    "), ("files:", "    ")] {
        let at = MANIFEST.find(key).unwrap();
        let line_end = at + MANIFEST[at..].find('\n').unwrap();
        let bomb = format!(
            "{}{key}\n{}{}",
            &MANIFEST[..at],
            laughs(indent),
            &MANIFEST[line_end + 1..]
        );
        let start = std::time::Instant::now();
        let err = parse(&bomb).unwrap_err().to_string();
        assert!(err.contains("invalid type: sequence"), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "took {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn yaml_library_budgets_alias_expansion() {
    // What the manifest relies on if a future field accepts nested lists: the YAML
    // library itself refuses to expand the bomb into a generic value.
    let bomb = format!("root:\n{}", laughs("  "));
    let start = std::time::Instant::now();
    let err = serde_norway::from_str::<serde_norway::Value>(&bomb).unwrap_err();
    assert!(
        err.to_string().contains("repetition limit exceeded"),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn aliases_count_against_list_caps() {
    // An alias to a long scalar expands to a copy each time; the list cap is checked
    // element by element, so the 65th copy is refused before it is made.
    let long = "y".repeat(4000);
    let mut yaml = MANIFEST.replace(
        "command: [\"python3\", \"tests/run.py\"]",
        &format!("command: [&s \"{long}\", {}]", vec!["*s"; 63].join(", ")),
    );
    // 64 aliased 4000-byte strings is within every cap: it loads.
    assert!(parse(&yaml).is_ok());
    // One more is over the list cap, refused while reading, not after.
    yaml = yaml.replace("*s]", "*s, *s]");
    assert_eq!(
        parse(&yaml).unwrap_err().to_string(),
        format!("{F}:14: test.command: more than 64 arguments")
    );
}

#[test]
fn maxima_are_the_callers() {
    let tight = Maxima {
        wall_time: Duration::from_secs(10),
        ..Maxima::default()
    };
    let e = parse_manifest(MANIFEST.as_bytes(), Path::new("x.yaml"), None, &tight).unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.yaml:10: limits.wall_time: wall_time 20s is above the server maximum 10s"
    );
    // Without a folder name the id is not compared.
    let loose = Maxima::default();
    assert!(parse_manifest(MANIFEST.as_bytes(), Path::new("x.yaml"), None, &loose).is_ok());
}
