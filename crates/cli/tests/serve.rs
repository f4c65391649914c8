//! `gauntlet serve` and `gauntlet worker` refuse to start, saying why, when the kill
//! switch is not acknowledged or the exercises folder holds an invalid package.

use std::path::Path;
use std::process::Command;

fn gauntlet(args: &[&str], data: &Path, env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gauntlet"));
    cmd.args(args).arg("--data-dir").arg(data);
    if args[0] == "serve" {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    cmd.env_remove("WORKER_ENABLED")
        .env_remove("RUN_UNTRUSTED_CODE")
        .env_remove("DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn gauntlet");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn workers_refuse_to_start_without_the_kill_switch() {
    let tmp = tempfile::tempdir().unwrap();
    // (arguments, environment, what the refusal must say)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            &["serve"],
            &[],
            &[
                "WORKER_ENABLED is not true",
                "RUN_UNTRUSTED_CODE is not true",
            ],
        ),
        (
            &["serve"],
            &[("WORKER_ENABLED", "true")],
            &["RUN_UNTRUSTED_CODE is not true"],
        ),
        (
            &["worker"],
            &[("RUN_UNTRUSTED_CODE", "true")],
            &["WORKER_ENABLED is not true"],
        ),
        (
            &["serve", "--run-untrusted-code"],
            &[],
            &["WORKER_ENABLED is not true"],
        ),
    ];
    for (args, env, says) in cases {
        let (code, stderr) = gauntlet(args, &tmp.path().join("data"), env);
        assert_eq!(code, 2, "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains("refuse to start"), "{stderr}");
        for s in *says {
            assert!(
                stderr.contains(s),
                "{args:?} {env:?} should say {s}: {stderr}"
            );
        }
    }
}

#[test]
fn an_invalid_exercise_stops_the_server_listing_every_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let exercises = tmp.path().join("exercises");
    for (id, yaml) in [
        ("unknown-key", "id: unknown-key\ntitle: T\nruntime: shell\nsubmission: files\nstarter:\n  files:\n    - path: a.sh\ntest:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: tap\nscoring: per-test\ncolour: blue\n"),
        ("bad-runtime", "id: bad-runtime\ntitle: T\nruntime: cobol\nsubmission: files\nstarter:\n  files:\n    - path: a.sh\ntest:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: tap\nscoring: per-test\n"),
    ] {
        let dir = exercises.join(id);
        for d in ["starter", "solution", "tests"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(dir.join("exercise.yaml"), yaml).unwrap();
        std::fs::write(dir.join("starter/a.sh"), "").unwrap();
        std::fs::write(dir.join("solution/a.sh"), "").unwrap();
        std::fs::write(dir.join("tests/run.sh"), "echo 1..0\n").unwrap();
    }
    let ex = exercises.to_string_lossy().into_owned();
    let (code, stderr) = gauntlet(
        &["serve", "--exercises", &ex],
        &tmp.path().join("data"),
        &[("WORKER_ENABLED", "true"), ("RUN_UNTRUSTED_CODE", "true")],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("colour"), "{stderr}");
    assert!(stderr.contains("cobol"), "{stderr}");
}

#[test]
fn a_worker_without_a_shared_store_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let ack = [("WORKER_ENABLED", "true"), ("RUN_UNTRUSTED_CODE", "true")];
    let (code, stderr) = gauntlet(&["worker"], &tmp.path().join("data"), &ack);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(stderr.contains("sqlite:PATH"), "{stderr}");
    assert!(
        !tmp.path().join("data/gauntlet.db").exists(),
        "no private store was made"
    );
}

#[test]
fn worker_help_shows_only_what_a_worker_reads() {
    let out = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["worker", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    for flag in [
        "--worker-enabled",
        "--database-url",
        "--data-dir",
        "--drain-grace",
    ] {
        assert!(help.contains(flag), "worker --help lacks {flag}:\n{help}");
    }
    for flag in [
        "--listen",
        "--admin-token",
        "--redis-url",
        "--max-queue",
        "--no-workers",
    ] {
        assert!(!help.contains(flag), "worker --help lists {flag}:\n{help}");
    }
}

#[test]
fn bad_usage_is_exit_2_with_a_one_line_reason() {
    let cases: &[(&[&str], &str)] = &[
        (&["frobnicate"], "frobnicate"),
        (&["grade"], "--exercise"),
        (&["sandbox", "run", "--bogus", "--", "/bin/true"], "--bogus"),
        (&["sandbox", "run", "/bin/true"], "/bin/true"),
        (&["serve", "--listen", "not-an-address"], "not-an-address"),
        (&["exercises", "check", "--jobs", "many"], "many"),
    ];
    for (args, names) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
            .args(*args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains(names),
            "{args:?} should name {names}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
