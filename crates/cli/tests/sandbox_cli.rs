//! `gauntlet sandbox run|doctor` end to end through the real binary: flags, exit
//! codes (docs/sandbox.md, docs/cli.md), the report on stderr or in `--report`, pass-through and
//! capping of output. The containment itself is proven in crates/sandbox/tests.

use std::process::{Command, Output};

fn gauntlet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .env("GAUNTLET_TEST_SECRET", "hunter2")
        .output()
        .expect("run gauntlet")
}

fn report_from_stderr(out: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().expect("a report line");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

#[test]
fn true_exits_zero_with_a_contract_report() {
    let out = gauntlet(&["sandbox", "run", "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(0));
    let r = report_from_stderr(&out);
    for key in [
        "status",
        "exit_code",
        "signal",
        "wall_ms",
        "cpu_ms",
        "peak_memory_bytes",
        "stdout_bytes",
        "stderr_bytes",
        "truncated",
    ] {
        assert!(r.get(key).is_some(), "{key} missing in {r}");
    }
    assert_eq!(r["status"], "exited");
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["signal"], serde_json::Value::Null);
}

#[test]
fn output_passes_through_and_report_goes_to_file() {
    let dir = std::env::temp_dir().join(format!("gauntlet-cli-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("report.json");
    let out = gauntlet(&[
        "sandbox",
        "run",
        "--report",
        report.to_str().unwrap(),
        "--env",
        "GREETING=hi",
        "--",
        "/bin/sh",
        "-c",
        "echo $GREETING; echo ${GAUNTLET_TEST_SECRET:-clean} >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(1), "the command failed: exit 1");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "clean\n");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(
        (r["status"].as_str(), r["exit_code"].as_i64()),
        (Some("exited"), Some(3))
    );
    assert_eq!(r["stdout_bytes"], 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_limit_flag_is_honoured() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--wall-time",
                "300ms",
                "--idle-timeout",
                "off",
                "--",
                "/bin/sleep",
                "5",
            ],
            "wall_timeout",
        ),
        (
            &["--idle-timeout", "200ms", "--", "/bin/sleep", "5"],
            "idle_timeout",
        ),
        (
            &[
                "--cpu-time",
                "200ms",
                "--",
                "/bin/sh",
                "-c",
                "while :; do :; done",
            ],
            "cpu_timeout",
        ),
        (
            &[
                "--memory",
                "32MiB",
                "--",
                "/usr/bin/python3",
                "-c",
                "x = bytearray(128 << 20)",
            ],
            "memory_limit",
        ),
        (
            &[
                "--pids",
                "4",
                "--",
                "/bin/sh",
                "-c",
                "sleep 5 & sleep 5 & sleep 5 & sleep 5 & wait",
            ],
            "pids_limit",
        ),
        (
            &[
                "--output-limit",
                "1KiB",
                "--",
                "/bin/sh",
                "-c",
                "while :; do echo spam; done",
            ],
            "output_limit",
        ),
        (&["--", "/bin/sh", "-c", "kill -KILL $$"], "signaled"),
        (&["--", "/no/such/binary"], "setup_error"),
    ];
    for (args, status) in cases {
        let mut all = vec!["sandbox", "run"];
        all.extend_from_slice(args);
        let out = gauntlet(&all);
        let r = report_from_stderr(&out);
        assert_eq!(r["status"], *status, "{args:?}: {r}");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
}

#[test]
fn output_limit_truncates_with_marker() {
    let out = gauntlet(&[
        "sandbox",
        "run",
        "--output-limit",
        "100",
        "--",
        "/bin/sh",
        "-c",
        "while :; do echo 0123456789; done",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.ends_with("\n[gauntlet: output truncated]\n"),
        "{stdout}"
    );
    assert_eq!(stdout.len(), 100 + "\n[gauntlet: output truncated]\n".len());
    assert_eq!(report_from_stderr(&out)["truncated"], true);
}

#[test]
fn binds_and_overlay_flags() {
    let base = std::env::temp_dir().join(format!("gauntlet-cli-binds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(base.join("ro")).unwrap();
    std::fs::create_dir_all(base.join("lower")).unwrap();
    std::fs::write(base.join("ro/in.txt"), "ro-data\n").unwrap();
    std::fs::write(base.join("lower/l.txt"), "lower-data\n").unwrap();
    let rw = base.join("rw");
    gauntlet_sandbox::create_jail_dir(&rw).unwrap();
    let ro_arg = format!("{}:/data", base.join("ro").display());
    let rw_arg = format!("{}:/out", rw.display());
    let ov_arg = format!("{}:/workspace:1MiB", base.join("lower").display());
    let out = gauntlet(&[
        "sandbox",
        "run",
        "--ro-bind",
        &ro_arg,
        "--rw-bind",
        &rw_arg,
        "--overlay",
        &ov_arg,
        "--workdir",
        "/workspace",
        "--",
        "/bin/sh",
        "-c",
        "cat /data/in.txt l.txt; echo new > mine.txt; echo result > /out/r.txt; pwd",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ro-data\nlower-data\n/workspace\n"
    );
    assert_eq!(
        std::fs::read_to_string(rw.join("r.txt")).unwrap(),
        "result\n"
    );
    assert!(!base.join("lower/mine.txt").exists());
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn malformed_flags_exit_2_with_one_line() {
    let cases: &[&[&str]] = &[
        &["--memory", "12XB"],
        &["--memory", "0MiB"],
        &["--tmp-size", "lots"],
        &["--output-limit=-1"],
        &["--wall-time", "10"],
        &["--cpu-time", "1h"],
        &["--idle-timeout", "soon"],
        &["--pids", "0"],
        &["--ro-bind", "/definitely/not/here:/x"],
        &["--ro-bind", "/usr:relative"],
        &["--rw-bind", "/tmp"],
        &["--ro-bind", "/usr:/proc/x"],
        &["--overlay", "/usr"],
        &["--overlay", "/usr:/w:12XB"],
        &["--workdir", "relative"],
        &["--env", "NOEQUALS"],
        &["--network", "/no/such/netns"],
    ];
    for flags in cases {
        let mut all = vec!["sandbox", "run"];
        all.extend_from_slice(flags);
        all.extend_from_slice(&["--", "/bin/true"]);
        let out = gauntlet(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{flags:?}: {stderr}");
    }
}

#[test]
fn doctor_reports_a_working_host() {
    let out = gauntlet(&["sandbox", "doctor"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["ok"], true);
    assert_eq!(d["probe"], "exited");
    assert!(d["seccomp_denied_syscalls"].as_array().unwrap().len() > 40);
}

/// Host processes whose command line is exactly `argv` (NUL-separated).
fn processes_running(argv: &[&str]) -> usize {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == want))
        .count()
}

#[test]
fn the_jail_dies_with_its_supervisor() {
    let marker = "76543210";
    let mut child = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args([
            "sandbox",
            "run",
            "--wall-time",
            "60s",
            "--idle-timeout",
            "off",
            "--",
        ])
        .args(["/bin/sh", "-c", &format!("sleep {marker} & sleep {marker}")])
        .spawn()
        .unwrap();
    let pattern = ["sleep", marker];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while processes_running(&pattern) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the jail never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup code runs in the supervisor
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while processes_running(&pattern) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "jail outlived its supervisor"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn fails_closed_with_exit_3_when_a_layer_is_missing() {
    // An unprivileged user without a delegated cgroup cannot get memory/pids limits:
    // the command must not run at all.
    let has_setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if !has_setpriv || !is_root {
        eprintln!("skipped: needs root and setpriv to become an unprivileged user");
        return;
    }
    let marker = std::env::temp_dir().join(format!("gauntlet-failclosed-{}", std::process::id()));
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["sandbox", "run", "--", "/bin/sh", "-c"])
        .arg(format!("echo ran > {}", marker.display()))
        .current_dir("/")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cgroup"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!marker.exists());
}
