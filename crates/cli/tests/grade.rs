//! End-to-end tests of `gauntlet grade` and `gauntlet exercises check`: the real
//! binary, the real sandbox, bundled and hostile exercises.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The binary, with the toolchains every test shares (prepared once per test run;
/// `scripts/test.sh` prepares them first, so this is a no-op there).
fn bin() -> Command {
    static PREPARED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let tools = PREPARED.get_or_init(|| {
        let dir = std::env::var_os("GAUNTLET_TOOLCHAINS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(gauntlet_grader::locations::default_toolchains_dir);
        fs::create_dir_all(&dir).unwrap();
        let dir = dir.canonicalize().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
            .args(["toolchains", "prepare", "--toolchains-dir"])
            .arg(&dir)
            .output()
            .expect("spawn gauntlet");
        assert!(
            out.status.success(),
            "toolchains prepare: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gauntlet"));
    cmd.env("GAUNTLET_TOOLCHAINS_DIR", tools);
    cmd
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn exercise(id: &str) -> PathBuf {
    repo().join("exercises").join(id)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("spawn gauntlet");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn grade(data: &Path, ex: &Path, how: &str, sub: &Path) -> Run {
    run(bin()
        .arg("grade")
        .arg("--data-dir")
        .arg(data)
        .arg("--exercise")
        .arg(ex)
        .arg(how)
        .arg(sub))
}

/// Nothing of a job may be left behind in the data dir's local-runs/.
fn assert_no_job_left(data: &Path) {
    let runs = data.join("local-runs");
    if runs.exists() {
        let left: Vec<_> = fs::read_dir(&runs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "job folders left behind: {left:?}");
    }
}

/// A small shell exercise written into `dir`, with `limits` YAML lines and a learner
/// file `answer.sh` that the tests source.
fn shell_exercise(dir: &Path, id: &str, limits: &str) -> PathBuf {
    let ex = dir.join(id);
    fs::create_dir_all(ex.join("starter")).unwrap();
    fs::create_dir_all(ex.join("solution")).unwrap();
    fs::create_dir_all(ex.join("tests")).unwrap();
    fs::write(
        ex.join("exercise.yaml"),
        format!(
            "id: {id}\ntitle: Probe\nruntime: shell\nsubmission: files\nstarter:\n  files:\n    - path: answer.sh\n{limits}test:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: tap\nscoring: per-test\n"
        ),
    )
    .unwrap();
    fs::write(ex.join("starter/answer.sh"), "answer() { echo no; }\n").unwrap();
    fs::write(ex.join("solution/answer.sh"), "answer() { echo yes; }\n").unwrap();
    fs::write(
        ex.join("tests/run.sh"),
        "echo 1..1\n. ./answer.sh\nif [ \"$(answer)\" = yes ]; then echo 'ok 1 - says yes'; else echo 'not ok 1 - says yes'; fi\n",
    )
    .unwrap();
    ex
}

fn submission(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    let sub = dir.join(format!(
        "sub-{}",
        files.len() + dir.read_dir().unwrap().count()
    ));
    for (path, content) in files {
        let p = sub.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    sub
}

fn zip(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (name, content) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(content.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn solution_passes_and_starter_fails_with_per_test_results() {
    let tmp = tempfile::tempdir().unwrap();
    let ex = exercise("reverse-words");
    let good = grade(tmp.path(), &ex, "--files", &ex.join("solution"));
    assert_eq!(good.code, 0, "{}", good.stderr);
    let r = good.json();
    assert_eq!(r["outcome"], "passed", "{r:#}");
    assert_eq!(r["score"], 100);
    assert_eq!(r["points"], r["max_points"]);
    assert!(r["tests"].as_array().unwrap().len() >= 4);

    let bad = grade(tmp.path(), &ex, "--files", &ex.join("starter"));
    assert_eq!(
        bad.code, 0,
        "a grade below 100 is still exit 0: {}",
        bad.stderr
    );
    let r = bad.json();
    assert_eq!(r["outcome"], "failed");
    assert!(r["score"].as_u64().unwrap() < 100);
    let failing = r["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "fail")
        .count();
    assert!(failing > 0, "{r:#}");
    assert_no_job_left(tmp.path());
}

#[test]
fn results_print_as_exercism_v3_or_junit() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ex = exercise("reverse-words");
    let with_format = |format: &str, sub: &Path| {
        run(bin()
            .arg("grade")
            .arg("--data-dir")
            .arg(&data)
            .arg("--exercise")
            .arg(&ex)
            .arg("--files")
            .arg(sub)
            .args(["--format", format]))
    };
    let r = with_format("exercism", &ex.join("starter"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    assert_eq!(doc["version"], 3);
    assert_eq!(doc["status"], "fail");
    assert!(doc["message"].is_null());
    let tests = doc["tests"].as_array().unwrap();
    assert!(tests.iter().any(|t| t["status"] == "pass"), "{doc:#}");
    assert!(tests.iter().any(|t| t["status"] == "fail"), "{doc:#}");

    let r = with_format("junit", &ex.join("solution"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let back = gauntlet_exercise::parse_junit(r.stdout.as_bytes()).unwrap();
    assert!(back.len() >= 4, "{}", r.stdout);
    assert!(back
        .iter()
        .all(|t| t.status == gauntlet_exercise::TestStatus::Pass));
    assert!(r
        .stdout
        .contains(r#"<property name="outcome" value="passed"/>"#));

    let r = with_format("xml", &ex.join("solution"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("json") && r.stderr.contains("exercism") && r.stderr.contains("junit"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_refused_submission_is_exit_2_naming_the_path_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ex = exercise("reverse-words");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("tests/run.py", "print('ok 1')")], "tests/run.py"),
        (&[("other.py", "x = 1")], "other.py"),
        (&[("words.py", "x")], ""), // valid: a control
    ];
    for (files, needle) in cases {
        let sub = submission(tmp.path(), files);
        let r = grade(&data, &ex, "--files", &sub);
        if needle.is_empty() {
            assert_eq!(r.code, 0, "{}", r.stderr);
            continue;
        }
        assert_eq!(r.code, 2, "{files:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
        let line = r.stderr.trim();
        assert_eq!(line.lines().count(), 1, "one-line reason: {line}");
        assert!(line.contains(needle), "{line} should name {needle}");
    }
    // A link in the submission folder is refused, never followed.
    let sub = tmp.path().join("linked");
    fs::create_dir(&sub).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", sub.join("words.py")).unwrap();
    let r = grade(&data, &ex, "--files", &sub);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("words.py"), "{}", r.stderr);
    assert_no_job_left(&data);
}

#[test]
fn archive_submissions_are_graded_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ex = exercise("mini-package");
    let sol = ex.join("solution/textstats");
    let mut entries = Vec::new();
    for f in fs::read_dir(&sol).unwrap() {
        let f = f.unwrap();
        let name = format!("textstats/{}", f.file_name().to_string_lossy());
        entries.push((name, fs::read_to_string(f.path()).unwrap()));
    }
    let refs: Vec<(&str, &str)> = entries
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let good = tmp.path().join("good.zip");
    fs::write(&good, zip(&refs)).unwrap();
    let r = grade(&data, &ex, "--archive", &good);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["outcome"], "passed", "{}", r.stdout);

    // Zipping the package folder wraps everything in one folder: stripped, and said so.
    let wrapped: Vec<(String, &str)> = refs
        .iter()
        .map(|(n, c)| (format!("my-attempt/{n}"), *c))
        .collect();
    let wrapped: Vec<(&str, &str)> = wrapped.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    let path = tmp.path().join("wrapped.zip");
    fs::write(&path, zip(&wrapped)).unwrap();
    let r = grade(&data, &ex, "--archive", &path);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let result = r.json();
    assert_eq!(result["outcome"], "passed", "{result:#}");
    assert!(
        result["log"].as_str().unwrap().contains(
            "inside one folder, my-attempt/ (what zipping a folder gives): it was stripped"
        ),
        "{result:#}"
    );

    // The files at the root instead of under textstats/: refused, naming what it expects.
    let flat: Vec<(&str, &str)> = refs
        .iter()
        .map(|(n, c)| (n.trim_start_matches("textstats/"), *c))
        .collect();
    let path = tmp.path().join("flat.zip");
    fs::write(&path, zip(&flat)).unwrap();
    let r = grade(&data, &ex, "--archive", &path);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .contains("it expects textstats/__init__.py, textstats/core.py"),
        "{}",
        r.stderr
    );

    // An archive that reaches into tests/ is refused before anything runs.
    let mut evil = refs.clone();
    evil.push(("tests/run.py", "print('ok 1 - forged')"));
    let bad = tmp.path().join("bad.zip");
    fs::write(&bad, zip(&evil)).unwrap();
    let r = grade(&data, &ex, "--archive", &bad);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("tests/run.py"), "{}", r.stderr);

    // So is one that would replace the runtime's judge (a judge that always says ok).
    let mut evil = refs.clone();
    evil.push((".gauntlet/runner/judge.py", "print('1..1\nok 1 - forged')"));
    let bad = tmp.path().join("bad-runner.zip");
    fs::write(&bad, zip(&evil)).unwrap();
    let r = grade(&data, &ex, "--archive", &bad);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(".gauntlet"), "{}", r.stderr);

    // The wrong kind of submission for the exercise is bad usage.
    let r = grade(&data, &ex, "--files", &ex.join("solution"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--archive"), "{}", r.stderr);
    assert_no_job_left(&data);
}

#[test]
fn hostile_submissions_cannot_touch_the_tests_or_fill_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ex = shell_exercise(tmp.path(), "probe", "");

    // Rewriting the hidden tests from inside the run fails: they are read-only.
    let forge = submission(
        tmp.path(),
        &[(
            "answer.sh",
            "echo 'echo ok 1 - says yes' > tests/run.sh 2>/dev/null\nrm -f tests/run.sh 2>/dev/null\nanswer() { echo no; }\n",
        )],
    );
    let r = grade(&data, &ex, "--files", &forge);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["outcome"], "failed", "{}", r.stdout);
    assert_eq!(
        fs::read_to_string(ex.join("tests/run.sh"))
            .unwrap()
            .lines()
            .count(),
        3
    );

    // Filling the workspace hits the cap (ENOSPC) and the host keeps its space.
    let before = free_bytes(tmp.path());
    let fill = submission(
        tmp.path(),
        &[(
            "answer.sh",
            "dd if=/dev/zero of=big bs=1M count=4096 2>/dev/null\nanswer() { if [ -s big ]; then echo yes; fi; }\n",
        )],
    );
    let r = grade(&data, &ex, "--files", &fill);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let result = r.json();
    assert_eq!(
        result["outcome"], "passed",
        "the run ends cleanly: {result:#}"
    );
    let after = free_bytes(tmp.path());
    assert!(
        before.abs_diff(after) < 32 << 20,
        "host free space moved by {} MiB",
        before.abs_diff(after) >> 20
    );
    assert_no_job_left(&data);
}

fn free_bytes(p: &Path) -> u64 {
    let out = Command::new("df")
        .arg("-B1")
        .arg("--output=avail")
        .arg(p)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn limits_end_the_run_with_a_helpful_outcome() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ex = shell_exercise(
        tmp.path(),
        "slow",
        "limits:\n  wall_time: 8s\n  idle_timeout: 1s\n",
    );
    let idle = submission(
        tmp.path(),
        &[("answer.sh", "sleep 30\nanswer() { echo yes; }\n")],
    );
    let r = grade(&data, &ex, "--files", &idle);
    let result = r.json();
    assert_eq!(result["outcome"], "idle_timeout", "{result:#}");
    assert_ne!(result["score"], 100);
    let log = result["log"].as_str().unwrap();
    assert!(
        log.contains("no output for 1 s: is the program waiting for input or stuck in a loop?"),
        "{log}"
    );

    let noisy = submission(tmp.path(), &[("answer.sh", "yes 'spam spam spam'\n")]);
    let r = grade(&data, &ex, "--files", &noisy);
    let result = r.json();
    assert_eq!(result["outcome"], "output_limit", "{result:#}");
    assert!(result["log"].as_str().unwrap().len() <= 64 << 10);
    assert_no_job_left(&data);
}

#[test]
fn a_compile_error_is_reported_with_the_message() {
    let tmp = tempfile::tempdir().unwrap();
    let ex = exercise("reverse-words");
    let sub = submission(
        tmp.path(),
        &[("words.py", "def reverse_words(s)\n    return s\n")],
    );
    let r = grade(&tmp.path().join("data"), &ex, "--files", &sub);
    let result = r.json();
    // The exercise's own runner reports an import failure per test, or nothing at all:
    // either way nothing passes and the log carries Python's message.
    assert_ne!(result["outcome"], "passed", "{result:#}");
    assert_eq!(result["score"], 0);
    let text = result.to_string();
    assert!(
        text.contains("SyntaxError") || text.contains("expected ':'"),
        "{result:#}"
    );
}

#[test]
fn exercises_check_accepts_the_bundled_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let r = run(bin()
        .args(["exercises", "check", "--data-dir"])
        .arg(&data)
        .arg(repo().join("exercises")));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("PACKAGE"), "{}", r.stdout);
    for id in [
        "reverse-words",
        "word-frequency",
        "csv-column",
        "erc20-allowances",
        "pytest-anagrams",
        "jest-isbn",
        "c-checksum",
    ] {
        let row = r
            .stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id}: {}", r.stdout));
        assert!(row.contains("100 passed") && row.ends_with("ok"), "{row}");
    }
    assert_eq!(
        r.stderr.trim().lines().last().unwrap(),
        "checked 14 packages: all OK"
    );
    // Each dependency set is installed before the grades and reported.
    for (id, kind) in [("pytest-anagrams", "python"), ("jest-isbn", "node")] {
        let at = r
            .stdout
            .find(&format!("\n{id} ("))
            .unwrap_or_else(|| panic!("{id}: {}", r.stdout));
        let section = r.stdout[at..].lines().nth(2).unwrap_or_default();
        assert!(
            section.starts_with(&format!("  dependencies: {kind} "))
                && section.contains("installed in"),
            "{id}: {section}\n{}",
            r.stdout
        );
    }
}

#[test]
fn exercises_check_from_a_private_folder_lists_every_problem_with_its_cause() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // An author's folder: nobody but its owner may enter it (like every home folder).
    let home = tmp.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
    let set = home.join("exercises");

    shell_exercise(&set, "good", "");
    let a = shell_exercise(&set, "bad-solution", "");
    fs::write(a.join("solution/answer.sh"), "answer() { echo no; }\n").unwrap();
    let b = shell_exercise(&set, "easy-starter", "");
    fs::write(b.join("starter/answer.sh"), "answer() { echo yes; }\n").unwrap();
    let c = shell_exercise(&set, "bad-yaml", "");
    let yaml = fs::read_to_string(c.join("exercise.yaml")).unwrap();
    fs::write(c.join("exercise.yaml"), yaml.clone() + "colour: blue\n").unwrap();
    let d = shell_exercise(&set, "typo-runtime", "");
    let yaml = fs::read_to_string(d.join("exercise.yaml")).unwrap();
    fs::write(
        d.join("exercise.yaml"),
        yaml.replace("runtime: shell", "runtime: python3"),
    )
    .unwrap();
    let e = shell_exercise(&set, "slow", "limits:\n  cpu_time: 1s\n");
    fs::write(e.join("tests/run.sh"), "echo 1..1\nwhile :; do :; done\n").unwrap();
    let f = shell_exercise(&set, "silent", "");
    fs::write(f.join("tests/run.sh"), "exit 0\n").unwrap();
    let g = shell_exercise(&set, "wrong-path", "");
    let yaml = fs::read_to_string(g.join("exercise.yaml")).unwrap();
    fs::write(
        g.join("exercise.yaml"),
        yaml.replace("tests/run.sh", "tests/runs.sh"),
    )
    .unwrap();

    let h = shell_exercise(&set, "html-statement", "");
    fs::write(
        h.join("statement.md"),
        "# Answer\n\nSay yes.\n\n<img src=x onerror=alert(1)>\n",
    )
    .unwrap();

    let r = run(bin()
        .current_dir(&home)
        .args(["exercises", "check", "--data-dir"])
        .arg(&data)
        .arg("exercises"));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let out = &r.stdout;
    let row = |id: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no row for {id}: {out}"))
            .to_owned()
    };
    assert!(out.starts_with("PACKAGE"), "{out}");
    let good = row("good");
    assert!(
        good.contains("100 passed") && good.contains("0 failed") && good.ends_with("ok"),
        "{good}"
    );
    for (id, cells) in [
        ("bad-solution", &["0 failed", "FAILED (1 problem)"][..]),
        ("easy-starter", &["100 passed", "FAILED (1 problem)"]),
        ("bad-yaml", &["FAILED (1 problem)"]),
        ("slow", &["0 cpu_timeout", "FAILED (1 problem)"]),
        ("silent", &["0 failed", "FAILED (1 problem)"]),
    ] {
        let line = row(id);
        for cell in cells {
            assert!(line.contains(cell), "{id}: {line:?} lacks {cell:?}");
        }
    }
    // Every problem with what caused it.
    for needle in [
        // The failing test, by name, with its status.
        "solution scored 0 (failed), must score 100",
        "FAIL  says yes",
        "starter scored 100 (passed), it must not",
        "bad-yaml/exercise.yaml:12: colour: unknown field `colour`",
        "exercise.yaml:3: runtime: unknown runtime \"python3\": expected one of hardhat, node, python, shell (did you mean \"python\"?)",
        "exercise.yaml:9: test.command[1]: tests/runs.sh is not in the package's tests/ folder (it has run.sh)",
        "CPU time limit reached (1 s)",
        "raise limits.cpu_time in exercise.yaml if the solution is right but needs more (now 1s; default 5s, at most 30s)",
        "the test command ended cleanly but reported no results: `results: tap` reads TAP from stdout",
        "html-statement/statement.md: line 5: raw HTML (<img src=x onerror=alert(1)>) is not shown to learners",
        // A package without a statement is fine, with a word of advice.
        "warning: no statement.md: the web app shows learners only the starter files",
    ] {
        assert!(out.contains(needle), "lacks {needle:?}:\n{out}");
    }
    // Outcomes as the result JSON spells them.
    assert!(
        !out.contains("CompileError") && !out.contains("CpuTimeout"),
        "{out}"
    );
    assert_eq!(
        r.stderr.trim().lines().last().unwrap(),
        "checked 9 packages: 8 failed, 1 OK",
        "{}",
        r.stderr
    );
}

#[test]
fn exercises_new_scaffolds_a_package_that_passes_check_for_every_runtime() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
    for runtime in ["python", "node", "shell", "hardhat"] {
        let r = run(bin().current_dir(&home).args([
            "exercises",
            "new",
            &format!("first-{runtime}"),
            "--runtime",
            runtime,
        ]));
        assert_eq!(r.code, 0, "{runtime}: {}", r.stderr);
        assert!(
            r.stderr.contains("gauntlet exercises check"),
            "{}",
            r.stderr
        );
        let statement = fs::read_to_string(home.join(format!("first-{runtime}/statement.md")));
        assert!(
            statement
                .unwrap()
                .starts_with(&format!("# First {runtime}\n")),
            "{runtime}"
        );
    }
    // A title full of markup and comment closers still makes a package that checks: the
    // statement escapes it, the starter's comment line defuses it.
    let r = run(bin().current_dir(&home).args([
        "exercises",
        "new",
        "odd-title",
        "--runtime",
        "node",
        "--title",
        "Sum <b>all</b> [x](y) `*/` @dev",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(bin()
        .current_dir(&home)
        .args(["exercises", "check", "--data-dir"])
        .arg(tmp.path().join("data"))
        .arg("."));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for runtime in ["python", "node", "shell", "hardhat"] {
        let row = r
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("first-{runtime} ")))
            .unwrap_or_else(|| panic!("{runtime}: {}", r.stdout));
        assert!(row.contains(" 100 passed") && row.ends_with("ok"), "{row}");
        // The starter runs and fails some tests, passes others.
        assert!(
            !row.contains("compile_error") && row.contains(" failed"),
            "{row}"
        );
    }

    // An existing folder, a bad id and an unknown runtime are refused, and write nothing.
    let r = run(bin().current_dir(&home).args([
        "exercises",
        "new",
        "first-python",
        "--runtime",
        "python",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    let r =
        run(bin()
            .current_dir(&home)
            .args(["exercises", "new", "Bad_Id", "--runtime", "python"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("does not match"), "{}", r.stderr);
    let r = run(bin()
        .current_dir(&home)
        .args(["exercises", "new", "x", "--runtime", "python3"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("python"), "{}", r.stderr);
    assert!(!home.join("x").exists() && !home.join("Bad_Id").exists());
}

#[test]
fn solidity_exercises_grade_on_a_pooled_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ex = exercise("erc20-allowances");
    let r = grade(&data, &ex, "--files", &ex.join("solution"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let result = r.json();
    assert_eq!(result["outcome"], "passed", "{result:#}");
    assert!(result["max_points"].as_u64().unwrap() >= 4);

    // A contract that does not compile: compile_error, the compiler names the file.
    let sub = submission(
        tmp.path(),
        &[("contracts/AllowanceToken.sol", "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\ncontract AllowanceToken { function f( }\n")],
    );
    let r = grade(&data, &ex, "--files", &sub);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let result = r.json();
    assert_eq!(result["outcome"], "compile_error", "{result:#}");
    assert!(
        result["log"]
            .as_str()
            .unwrap()
            .contains("contracts/AllowanceToken.sol"),
        "{result:#}"
    );
    // Every chain the command started is gone with it.
    let anvils = Command::new("pgrep")
        .args(["-f", "anvil-linux-amd64/bin/anvil"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&anvils.stdout);
    assert!(
        !left
            .lines()
            .any(|pid| !pid.is_empty() && is_ours(pid, &data)),
        "anvil left running: {left}"
    );
}

/// Is this anvil process one of this test's (its jail's cwd or cmdline cannot tell,
/// so: is one of its ancestors a gauntlet grading this test's data dir)? Its parent
/// is the jail's init, which shows only `gauntlet-init`; the supervisor is above.
fn is_ours(pid: &str, data: &Path) -> bool {
    let parent = |pid: &str| -> String {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .unwrap_or("")
            .to_string()
    };
    let mut pid = pid.to_string();
    for _ in 0..3 {
        pid = parent(&pid);
        let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(&*data.to_string_lossy()) {
            return true;
        }
    }
    false
}

/// A data dir under a folder only its owner may enter (`/root`, every home
/// directory). As root the sandbox opens the layers and job folders itself and the
/// grade works; rootless the jail user is the caller, and a folder the caller cannot
/// enter is refused up front with a message that names it.
#[test]
fn a_data_dir_under_a_private_folder() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let closed = tmp.path().join("closed");
    fs::create_dir(&closed).unwrap();
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o700)).unwrap();
    let ex = exercise("reverse-words");
    let r = grade(&closed.join("data"), &ex, "--files", &ex.join("solution"));
    if !gauntlet_sandbox::rootless() {
        assert_eq!(r.code, 0, "{}", r.stderr);
        let result: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(result["score"], 100, "{}", r.stdout);
        return;
    }
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("not reachable by the sandbox user"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&*closed.to_string_lossy()),
        "{}",
        r.stderr
    );
}

#[test]
fn leftovers_of_a_killed_grade_are_swept_at_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // What a `gauntlet grade` killed mid-run leaves: its job folder, named by its pid.
    let dead = data.join("local-runs/local-999999999-0123456789abcdef/submission");
    fs::create_dir_all(&dead).unwrap();
    fs::write(dead.join("words.py"), "x = 1\n").unwrap();
    let ex = exercise("reverse-words");
    let r = grade(&data, &ex, "--files", &ex.join("solution"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !dead.parent().unwrap().exists(),
        "the dead grade's folder was swept"
    );
    assert_no_job_left(&data);
}
