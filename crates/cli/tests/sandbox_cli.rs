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
        &["--cpu-time", "1fortnight"],
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
fn doctor_prints_a_summary_and_json_for_scripts() {
    let out = gauntlet(&["sandbox", "doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "kernel ",
        "mode ",
        "cgroups ",
        "landlock ",
        "network pool ",
        "seccomp ",
        "gvisor ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(row)),
            "{row} missing in\n{text}"
        );
    }
    assert!(text.contains("\nok: a probe jail ran /bin/true"), "{text}");

    let out = gauntlet(&["sandbox", "doctor", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["ok"], true);
    assert_eq!(d["probe"], "exited");
    // The shape scripts rely on is kept.
    for key in [
        "kernel",
        "rootless",
        "max_user_namespaces",
        "cgroup",
        "landlock_abi",
        "network_pool",
        "seccomp_denied_syscalls",
        "seccomp_policy",
        "layers",
        "gvisor",
    ] {
        assert!(d.get(key).is_some(), "{key} missing in {d}");
    }
    // gVisor: usable (with its platform and a probe that ran) or why not.
    let g = &d["gvisor"];
    match g["platform"].as_str() {
        Some(p) => {
            assert!(p == "ptrace" || p == "kvm", "{g}");
            assert_eq!(g["probe"], "exited", "{g}");
        }
        None => assert!(g["runsc"].as_str().unwrap().contains("gVisor"), "{g}"),
    }
    let denied = d["seccomp_denied_syscalls"].as_array().unwrap();
    assert!(denied.len() > 40 && denied.contains(&"ptrace".into()));
    assert_eq!(d["seccomp_unknown"], "ENOSYS");
}

/// The report is the last line of stderr, on a line of its own, even when the
/// command's last output did not end its line (on stderr, or on stdout when both
/// go to the same place).
#[test]
fn the_report_starts_on_a_line_of_its_own() {
    let out = gauntlet(&[
        "sandbox",
        "run",
        "--",
        "/bin/sh",
        "-c",
        "printf 'no newline' >&2",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("no newline\n{"), "{stderr}");
    assert_eq!(report_from_stderr(&out)["status"], "exited");

    let both = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "'{}' sandbox run -- /bin/sh -c 'printf out; printf err >&2; printf more' 2>&1",
            env!("CARGO_BIN_EXE_gauntlet")
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&both.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with("{\"status\":\"exited\""), "{text}");

    // A command that ends its lines gets no extra blank line.
    let out = gauntlet(&["sandbox", "run", "--", "/bin/sh", "-c", "echo fine >&2"]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("fine\n{"));
}

/// `--env` values are the command's own: its environment has them, the jail's init
/// (a fork of the supervisor, whose command line held them) shows none.
#[test]
fn env_values_are_not_visible_in_the_jails_init() {
    let secret = "s3cr3t-value-for-the-payload";
    let out = gauntlet(&[
        "sandbox",
        "run",
        "--env",
        &format!("TOKEN={secret}"),
        "--",
        "/bin/sh",
        "-c",
        "tr '\\0' ' ' < /proc/1/cmdline; echo; cat /proc/1/environ 2>&1; echo; echo \"own=$TOKEN\"",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (init, own) = stdout.split_once("own=").unwrap();
    assert!(!init.contains(secret), "/proc/1 shows {secret}:\n{stdout}");
    assert!(!init.contains("sandbox run"), "{stdout}");
    assert!(init.starts_with("gauntlet-init"), "{stdout}");
    assert_eq!(own.trim(), secret);
}

#[test]
fn results_flag_saves_the_channel() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results.tap");
    let f = file.to_str().unwrap();
    let script = "echo 'ok 1' >&$GAUNTLET_RESULTS_FD; echo printed";
    let out = gauntlet(&[
        "sandbox",
        "run",
        "--results",
        f,
        "--",
        "/bin/sh",
        "-c",
        script,
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "ok 1\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "printed\n");
    assert_eq!(report_from_stderr(&out)["results_bytes"], 5);

    std::fs::remove_file(&file).unwrap();
    let out = gauntlet(&[
        "sandbox",
        "run",
        "--results",
        f,
        "--results-limit",
        "2",
        "--",
        "/bin/sh",
        "-c",
        script,
    ]);
    assert!(!file.exists(), "over the cap nothing is written");
    assert!(String::from_utf8_lossy(&out.stderr).contains("over --results-limit"));
    assert_eq!(report_from_stderr(&out)["results_bytes"], 5);
    // Without --results there is no channel, and no results_bytes in the report.
    let out = gauntlet(&["sandbox", "run", "--", "/bin/sh", "-c", "echo x >&3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(report_from_stderr(&out).get("results_bytes").is_none());
}

/// As root, `--ro-bind` and `--overlay` sources under a folder only root may enter
/// (a clone in `/root`) are reached: the sandbox opens them itself.
#[test]
fn binds_under_a_private_folder() {
    use std::os::unix::fs::PermissionsExt;
    if gauntlet_sandbox::rootless() {
        eprintln!("skipped: rootless, the jail user is the caller");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("home");
    let data = private.join("clone/data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(data.join("given.txt"), "given\n").unwrap();
    let d = data.to_str().unwrap();
    let out = gauntlet(&[
        "sandbox",
        "run",
        "--ro-bind",
        &format!("{d}:/ro"),
        "--overlay",
        &format!("{d}:/work"),
        "--",
        "/bin/sh",
        "-c",
        "cat /ro/given.txt /work/given.txt",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "given\ngiven\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

/// runsc is installed where CI runs (scripts/setup.sh); elsewhere the gVisor tests
/// say they are skipped.
fn gvisor_available() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let runsc = std::path::Path::new(
        &std::env::var_os("GAUNTLET_RUNSC").unwrap_or_else(|| "/usr/bin/runsc".into()),
    )
    .exists();
    if !root || !runsc {
        eprintln!("skipped: gVisor runs need root and /usr/bin/runsc (apt install runsc)");
    }
    root && runsc
}

#[test]
fn isolation_gvisor_runs_the_command_under_gvisor_and_says_so() {
    if !gvisor_available() {
        return;
    }
    let out = gauntlet(&[
        "sandbox",
        "run",
        "--isolation",
        "gvisor",
        "--",
        "/bin/sh",
        "-c",
        "echo inside; exit 4",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "inside\n");
    let r = report_from_stderr(&out);
    assert_eq!(
        (&r["status"], &r["exit_code"]),
        (&"exited".into(), &4.into())
    );
    assert_eq!(r["layers"]["isolation"], "gvisor");
    assert!(r["layers"]["gvisor_platform"].is_string(), "{r}");
    let out = gauntlet(&["sandbox", "run", "--isolation", "gvisr", "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn isolation_gvisor_fails_closed_with_exit_3_when_runsc_is_missing_or_broken() {
    let marker =
        std::env::temp_dir().join(format!("gauntlet-gvisor-missing-{}", std::process::id()));
    for (runsc, says) in [
        ("/usr/bin/no-such-runsc", "runsc is not installed"),
        ("/usr/bin/false", "--version` failed"),
        ("/tmp/runsc", "is not under /usr"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
            .args([
                "sandbox",
                "run",
                "--isolation",
                "gvisor",
                "--",
                "/bin/sh",
                "-c",
            ])
            .arg(format!("echo ran > {}", marker.display()))
            .env("GAUNTLET_RUNSC", runsc)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{runsc}: {stderr}");
        assert!(stderr.contains(says), "{runsc}: {stderr}");
        assert!(stderr.contains("gVisor was asked for"), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!marker.exists(), "nothing runs without gVisor");
    }
}
