//! Which grading failures are the host's (a queue retries them with the job's attempts)
//! and which are the submission's or the exercise's (final at once).

use gauntlet_grader::{GradeError, RuntimeError};

#[test]
fn who_is_at_fault() {
    let io = |what: &str| GradeError::Io {
        what: what.into(),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    };
    let table: Vec<(GradeError, bool)> = vec![
        (
            GradeError::Host {
                reason: "sandbox setup failed at mount-overlay: No such file or directory".into(),
                log: String::new(),
            },
            true,
        ),
        (io("set the mode of /data/runs/x.1"), true),
        (
            GradeError::Isolation("isolation unavailable: cgroups".into()),
            true,
        ),
        (
            GradeError::Runtime(RuntimeError::NotReady {
                runtime: "hardhat".into(),
                reason: "not prepared".into(),
            }),
            true,
        ),
        (
            GradeError::Runtime(RuntimeError::Prepare {
                runtime: "python".into(),
                reason: "disk full".into(),
            }),
            true,
        ),
        (
            GradeError::Runtime(RuntimeError::Unknown("cobol".into())),
            false,
        ),
        (GradeError::Rejected("archive entry escapes".into()), false),
        (GradeError::Exercise("no test command".into()), false),
    ];
    for (error, host) in table {
        assert_eq!(error.is_host_fault(), host, "{error}");
    }
}
