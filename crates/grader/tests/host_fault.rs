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

/// A binary run away from its source tree has no Hardhat toolchain sources: the other
/// runtimes still grade, and a Solidity exercise is told why it cannot be.
#[test]
fn without_the_toolchain_sources_only_hardhat_is_unavailable() {
    use gauntlet_grader::{Grader, GraderConfig, Toolchains};
    let tmp = tempfile::tempdir().unwrap();
    let grader = Grader::standard(
        GraderConfig::new(tmp.path().join("data")),
        Toolchains {
            sources: tmp.path().join("no-sources"),
            prepared: tmp.path().join("toolchains"),
            anvil_pool: 1,
        },
    )
    .expect("a grader for the other runtimes");
    assert!(grader.hardhat().is_none());
    for name in ["python", "node", "shell"] {
        assert!(grader.registry().get(name).is_ok(), "{name}");
    }
    match grader.registry().get("hardhat") {
        Err(RuntimeError::NotReady { runtime, reason }) => {
            assert_eq!(runtime, "hardhat");
            assert!(reason.contains("package-lock.json"), "{reason}");
        }
        other => panic!("hardhat: {:?}", other.map(|_| ())),
    }
    assert!(matches!(
        grader.registry().get("cobol"),
        Err(RuntimeError::Unknown(_))
    ));
}
