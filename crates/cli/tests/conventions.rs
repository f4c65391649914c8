//! The command-line conventions of docs/cli.md, checked on the real binary: clap's tips
//! survive the one-line usage error, a closed pipe ends a command quietly, colour only
//! on a terminal and never with NO_COLOR, `--exercise` takes a bundled id, one grammar
//! for sizes and durations, and secrets kept off the command line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");
const DEADLINE: Duration = Duration::from_secs(60);
const TOKEN: &str = "conventions-admin-token-0123456789abcdef";

fn gauntlet(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn usage_errors_keep_clap_tips_on_one_line() {
    // (arguments, what the one line must contain)
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["sandbox", "run", "/bin/true"],
            &["'/bin/true'", "after '--'", "-- /bin/true"],
        ),
        (
            &["sandbox", "run", "--wall-time", "1s", "/bin/echo", "hi"],
            &["-- /bin/echo"],
        ),
        (
            &["grade", "--exrecise", "reverse-words"],
            &["--exrecise", "similar argument exists: '--exercise'"],
        ),
        (&["grdae"], &["similar subcommand exists: 'grade'"]),
        (
            &["sandbox", "run", "--memroy", "1G", "--", "/bin/true"],
            &["'--memory'"],
        ),
    ];
    for (args, wants) in cases {
        let out = gauntlet(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("gauntlet: "), "{stderr}");
        for want in *wants {
            assert!(
                stderr.contains(want),
                "{args:?} should say {want}: {stderr}"
            );
        }
        assert!(out.stdout.is_empty());
    }
}

/// Runs `args` with stdout a pipe whose reader is already gone.
fn with_closed_stdout(args: &[&str], cwd: &Path) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let sub = tmp.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(
        repo().join("exercises/reverse-words/solution/words.py"),
        sub.join("words.py"),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let cases: &[&[&str]] = &[
        &[
            "grade",
            "--exercise",
            "reverse-words",
            "--files",
            sub.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &["--help"],
        &["grade", "--help"],
        &["sandbox", "doctor", "--json"],
    ];
    for args in cases {
        let out = with_closed_stdout(args, tmp.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        // 0, or doctor's own 3 on a host that lacks a layer; never a panic's 101.
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{args:?}: {:?} {stderr}",
            out.status
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

#[test]
fn exercise_takes_a_bundled_id() {
    let tmp = tempfile::tempdir().unwrap();
    let sub = tmp.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(
        repo().join("exercises/reverse-words/solution/words.py"),
        sub.join("words.py"),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let grade = |exercise: &str| {
        let data = if exercise == "reverse-words" {
            data.clone()
        } else {
            tmp.path().join("data-unused")
        };
        Command::new(BIN)
            .args(["grade", "--exercise", exercise, "--files"])
            .arg(&sub)
            .arg("--data-dir")
            .arg(&data)
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };
    let out = grade("reverse-words");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["outcome"], "passed", "{result}");

    let out = grade("reverse-wrods");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("'reverse-words'"), "{stderr}");
    // A wrong id is refused before anything is set up: not even the data dir.
    assert!(!tmp.path().join("data-unused").exists());
    let out = grade("no-such-exercise-at-all");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bundled: ") && stderr.contains("reverse-words"),
        "{stderr}"
    );
}

#[test]
fn one_grammar_for_sizes_and_durations() {
    // Spellings that used to work for `serve` only now work for `sandbox run` too.
    let out = gauntlet(&[
        "sandbox",
        "run",
        "--memory",
        "1G",
        "--tmp-size",
        "64M",
        "--output-limit",
        "1.5KiB",
        "--wall-time",
        "1.5s",
        "--cpu-time",
        "1m",
        "--",
        "/bin/true",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for (args, names) in [
        (
            &["sandbox", "run", "--memory", "1 parsec", "--", "/bin/true"][..],
            "--memory",
        ),
        (
            &[
                "sandbox",
                "run",
                "--wall-time",
                "0.0000000001s",
                "--",
                "/bin/true",
            ][..],
            "nanoseconds",
        ),
        (&["serve", "--max-body", "2 mb"][..], "--max-body"),
    ] {
        let out = gauntlet(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(names), "{args:?}: {stderr}");
    }
}

/// A `serve --no-workers` over one tiny exercise, stopped on drop.
struct Server {
    child: Child,
    addr: String,
    log: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn exercises(root: &Path) -> PathBuf {
    let dir = root.join("exercises/echo");
    for d in ["starter", "solution", "tests"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(
        dir.join("exercise.yaml"),
        "id: echo\ntitle: Echo\nruntime: shell\nsubmission: files\nstarter:\n  files:\n    - path: a.sh\ntest:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: exit-code\nscoring: all-or-nothing\n",
    )
    .unwrap();
    std::fs::write(dir.join("starter/a.sh"), "exit 1\n").unwrap();
    std::fs::write(dir.join("solution/a.sh"), "exit 0\n").unwrap();
    std::fs::write(dir.join("tests/run.sh"), "sh a.sh\n").unwrap();
    root.join("exercises")
}

fn serve(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "serve",
        "--no-workers",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(root.join("data"))
    .arg("--exercises")
    .arg(exercises(root))
    .args(args)
    .env_remove("ADMIN_TOKEN")
    .env_remove("DATABASE_URL")
    .env_remove("REDIS_URL")
    .env_remove("SESSION_SECRET")
    .env("RUST_LOG", "info")
    .stderr(Stdio::piped())
    .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    // The log is read on a thread of its own (and drained for the server's whole life,
    // so it never blocks on a full pipe); lines come here, with a deadline.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stderr.lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line);
        }
    });
    let started = Instant::now();
    let mut log = String::new();
    loop {
        let left = DEADLINE.saturating_sub(started.elapsed());
        let line = match rx.recv_timeout(left) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve printed no plain `listening ... addr=` line:\n{log:?}");
            }
        };
        log.push_str(&line);
        log.push('\n');
        if let Some(at) = line.find("addr=") {
            let addr = line[at + 5..].split_whitespace().next().unwrap().to_owned();
            return Server { child, addr, log };
        }
    }
}

#[test]
fn a_log_to_a_file_or_pipe_has_no_colour() {
    let tmp = tempfile::tempdir().unwrap();
    let server = serve(tmp.path(), &[], &[]);
    assert!(server.log.contains("listening"), "{}", server.log);
    assert!(!server.log.contains('\x1b'), "{:?}", server.log);
}

/// Runs `command` (a shell line) on a pseudo-terminal with `script`, which prints what
/// the terminal showed. `None` when `script` is missing (util-linux).
fn on_a_terminal(command: &str, env: &[(&str, &str)]) -> Option<String> {
    let mut cmd = Command::new("script");
    cmd.args(["-qefc", command, "/dev/null"]);
    cmd.env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    match cmd.output() {
        Ok(out) => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("`script` (util-linux) is required in CI: {e}");
            }
            eprintln!("SKIPPED (colour on a terminal): cannot run `script`: {e}");
            None
        }
    }
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let tmp = tempfile::tempdir().unwrap();
    // A start-up that logs one warning (the secret on the command line) and stops (the
    // session secret file is missing).
    let line = format!(
        "{BIN} serve --no-workers --listen 127.0.0.1:0 --data-dir {data} --exercises {ex} \
         --admin-token {TOKEN} --session-secret-file {missing}",
        data = tmp.path().join("data").display(),
        ex = exercises(tmp.path()).display(),
        missing = tmp.path().join("missing").display(),
    );
    let Some(coloured) = on_a_terminal(&line, &[]) else {
        return;
    };
    assert!(
        coloured.contains("--admin-token on the command line"),
        "{coloured}"
    );
    assert!(
        coloured.contains('\x1b'),
        "a terminal gets colour: {coloured:?}"
    );
    let plain = on_a_terminal(&line, &[("NO_COLOR", "1")]).unwrap();
    assert!(
        plain.contains("--admin-token on the command line"),
        "{plain}"
    );
    assert!(!plain.contains('\x1b'), "NO_COLOR: {plain:?}");
}

fn admin_queue(addr: &str, token: &str) -> u16 {
    match ureq::get(&format!("http://{addr}/api/v1/admin/queue"))
        .header("authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(r) => r.status().as_u16(),
        Err(ureq::Error::StatusCode(code)) => code,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn secrets_on_the_command_line_are_warned_about_and_files_work() {
    let tmp = tempfile::tempdir().unwrap();
    // As a flag: it works, and the log says loudly what to do instead.
    let server = serve(tmp.path(), &["--admin-token", TOKEN], &[]);
    assert!(
        server
            .log
            .contains("--admin-token on the command line is visible to every local user"),
        "{}",
        server.log
    );
    for alternative in ["ADMIN_TOKEN", "--admin-token-file", "ADMIN_TOKEN_FILE"] {
        assert!(server.log.contains(alternative), "{}", server.log);
    }
    assert!(
        !server.log.contains(TOKEN),
        "the warning must not print the secret"
    );
    assert_eq!(admin_queue(&server.addr, TOKEN), 200);
    drop(server);

    // From a file (one trailing newline ignored) or the environment: no warning.
    let file = tmp.path().join("admin-token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    for env in [
        [("ADMIN_TOKEN_FILE", file.to_str().unwrap())],
        [("ADMIN_TOKEN", TOKEN)],
    ] {
        let root = tempfile::tempdir().unwrap();
        let server = serve(root.path(), &[], &env);
        assert!(
            !server.log.contains("on the command line"),
            "{}",
            server.log
        );
        assert_eq!(admin_queue(&server.addr, TOKEN), 200, "{env:?}");
        assert_eq!(admin_queue(&server.addr, "wrong-token"), 401);
    }

    // Refusals: both a value and a file; a missing or empty file.
    let empty = tmp.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("ADMIN_TOKEN", TOKEN),
                ("ADMIN_TOKEN_FILE", file.to_str().unwrap()),
            ],
            "--admin-token-file",
        ),
        (
            &[("ADMIN_TOKEN_FILE", "/no/such/file")],
            "ADMIN_TOKEN_FILE /no/such/file",
        ),
        (
            &[("REDIS_URL_FILE", empty.to_str().unwrap())],
            "REDIS_URL_FILE",
        ),
    ];
    for (env, says) in cases {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "serve",
            "--no-workers",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(tmp.path().join("data2"))
        .arg("--exercises")
        .arg(exercises(tmp.path()))
        .env_remove("ADMIN_TOKEN");
        for (k, v) in *env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {stderr}");
        assert!(stderr.contains(says), "{env:?} should say {says}: {stderr}");
    }
}

/// docs/cli.md is the reference of the command line: every flag and every variable that
/// `--help` shows must be in it.
#[test]
fn docs_cli_md_names_every_flag_and_variable() {
    let doc = std::fs::read_to_string(repo().join("docs/cli.md")).unwrap();
    let commands: &[&[&str]] = &[
        &["serve"],
        &["worker"],
        &["sandbox", "run"],
        &["sandbox", "doctor"],
        &["exercises", "check"],
        &["exercises", "new"],
        &["grade"],
        &["toolchains", "prepare"],
    ];
    let mut missing = Vec::new();
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = gauntlet(&args);
        assert_eq!(out.status.code(), Some(0), "{command:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        for word in help.split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '`')) {
            let word = word.trim_end_matches(['.', ')', ':']);
            let flag = word.starts_with("--")
                && word.len() > 2
                && word[2..]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-');
            if flag && word != "--help" && !doc.contains(&format!("`{word}")) {
                missing.push(format!("{command:?}: {word}"));
            }
        }
        for line in help.lines() {
            if let Some(rest) = line.trim().strip_prefix("[env: ") {
                let var = rest.trim_end_matches(']').trim_end_matches('=');
                if !doc.contains(var) {
                    missing.push(format!("{command:?}: {var}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/cli.md lacks:\n{}",
        missing.join("\n")
    );
    // And the other way: every flag the page names exists.
    let mut all_help = String::new();
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        all_help.push_str(&String::from_utf8_lossy(&gauntlet(&args).stdout));
    }
    let stale: Vec<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| code.split_whitespace().next())
        .filter(|w| {
            w.len() > 2
                && w.starts_with("--")
                && w[2..].chars().all(|c| c.is_ascii_lowercase() || c == '-')
        })
        .filter(|w| !matches!(*w, "--help" | "--version") && !all_help.contains(w))
        .collect();
    assert!(
        stale.is_empty(),
        "docs/cli.md names flags no command has: {stale:?}"
    );
}
