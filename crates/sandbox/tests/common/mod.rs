//! Helpers shared by the sandbox's integration tests: run a spec, capture its
//! output, build python and shell specs, make scratch folders.

#![allow(dead_code)]

use std::path::PathBuf;

use gauntlet_sandbox::{run, Isolation, OutputSink, Report, Spec, Status, Stream};

pub const PY: &str = "/usr/bin/python3";

#[derive(Default)]
pub struct Capture {
    pub out: Vec<u8>,
    pub err: Vec<u8>,
}

impl OutputSink for Capture {
    fn output(&mut self, stream: Stream, bytes: &[u8]) {
        match stream {
            Stream::Stdout => self.out.extend_from_slice(bytes),
            Stream::Stderr => self.err.extend_from_slice(bytes),
        }
    }
}

pub struct Ran {
    pub report: Report,
    pub out: String,
    pub err: String,
}

pub fn jail(spec: &Spec) -> Ran {
    let mut cap = Capture::default();
    let report = run(spec, &mut cap).expect("sandbox run");
    Ran {
        report,
        out: String::from_utf8_lossy(&cap.out).into_owned(),
        err: String::from_utf8_lossy(&cap.err).into_owned(),
    }
}

/// The isolation these tests run under: `GAUNTLET_TEST_ISOLATION` (`namespaces`,
/// the default, or `gvisor`). scripts/test.sh runs the hostile tests under both.
pub fn isolation() -> Isolation {
    match std::env::var("GAUNTLET_TEST_ISOLATION") {
        Ok(v) => v.parse().expect("GAUNTLET_TEST_ISOLATION"),
        Err(_) => Isolation::Namespaces,
    }
}

pub fn gvisor() -> bool {
    isolation() == Isolation::Gvisor
}

/// A spec for `argv` under the tests' isolation.
pub fn spec<I, S>(argv: I) -> Spec
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString>,
{
    let mut s = Spec::new(argv);
    s.isolation = isolation();
    s
}

pub fn py(code: &str) -> Spec {
    spec([PY, "-c", code])
}

pub fn sh(script: &str) -> Spec {
    spec(["/bin/sh", "-c", script])
}

/// Runs `spec` and requires a clean exit 0, showing the output otherwise.
pub fn ok(spec: &Spec) -> Ran {
    let r = jail(spec);
    assert_eq!(
        (r.report.status, r.report.exit_code),
        (Status::Exited, Some(0)),
        "stdout:\n{}\nstderr:\n{}",
        r.out,
        r.err
    );
    r
}

pub fn tempdir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "gauntlet-sandbox-test-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Host processes whose command line contains `marker`.
pub fn host_processes_with(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .count()
}
