//! The build step (`build:` in `exercise.yaml`): build once, test sealed.
//!
//! The author's command runs in a jail of its own over the submission (the
//! submission's files over a copy of the starter: the build never sees the hidden
//! tests), under the exercise's limits and with no network. It writes what the tests need into `/build`, a size-capped
//! copy-on-write folder. When it exits 0, a trusted step in the same jail packs
//! `/build` as a ZIP (refusing links and special files), which the host reads back
//! through the jail's collect channel and extracts with the archive checks and caps
//! (`extract_build_output`), keeping execute bits. The test run then sees that folder
//! read-only at `/build`, and, when the package says `keep_sources: false`, a workspace
//! without the submission's files. Any other ending of the build is the grade's
//! `compile_error`, with the build's output as its log.

use std::fs;
use std::path::{Path, PathBuf};

use gauntlet_exercise::{self as exercise, BuildSpec};
use gauntlet_sandbox::{self as sandbox, Bind, Collect, Limits, Overlay, Spec};

use crate::log::LogBuilder;
use crate::WORKSPACE;

/// Where the build's output is, in both jails.
pub const BUILD_INSIDE: &str = "/build";
/// Where the packed output waits to be collected.
const PACKED: &str = "/tmp/.gauntlet-build.zip";

/// Runs the build command ("$@"), then packs /build when it succeeded. The packer is
/// python's zipfile: the jail has python3 in every runtime that builds.
const SCRIPT: &str = r#"
"$@" || exit $?
exec /usr/bin/python3 -I -c '
import os, stat, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for top, dirs, files in os.walk("/build"):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(top, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, "/build")
            if stat.S_ISDIR(st.st_mode):
                info = zipfile.ZipInfo(rel + "/")
                info.external_attr = (stat.S_IFDIR | 0o755) << 16
                z.writestr(info, b"")
            elif stat.S_ISREG(st.st_mode):
                info = zipfile.ZipInfo(rel)
                info.external_attr = (stat.S_IFREG | (0o755 if st.st_mode & 0o111 else 0o644)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(path, "rb") as f:
                    z.writestr(info, f.read())
            else:
                print("build: /build/" + rel + " is not a file or a folder", file=sys.stderr)
                sys.exit(125)
' "$0"
"#;

/// What the build step gave the test run.
pub enum Built {
    /// The output folder (host side), for a read-only bind at [`BUILD_INSIDE`].
    Output(PathBuf),
    /// The build failed, for this reason: the grade is `compile_error`.
    Failed { why: String, wall_ms: u64 },
}

/// Runs `build` over the submission (`upper`) laid over a copy of the exercise's
/// starter, under `isolation`, with the exercise's dependencies, its output going to
/// `log`, and extracts what it left in `/build` into `<job_dir>/build`. An error is
/// the sandbox's own (the caller concludes the grade with it).
#[allow(clippy::too_many_arguments)]
pub fn run(
    build: &BuildSpec,
    upper: &Path,
    starter: &Path,
    job_dir: &Path,
    limits: &Limits,
    isolation: sandbox::Isolation,
    workspace_size: u64,
    archive_limits: &exercise::ArchiveLimits,
    deps: &crate::deps::Installed,
    log: &mut LogBuilder<'_>,
) -> Result<Built, sandbox::Error> {
    let setup = |source| sandbox::Error::Setup {
        step: "build-folder",
        source,
    };
    let empty = job_dir.join("empty");
    fs::create_dir(&empty).map_err(setup)?;
    // The package's starter may sit in a folder the jail's user cannot reach (an
    // author's 0700 home): the build gets a copy, as the layer is one.
    let base = job_dir.join("build-base");
    fs::create_dir(&base).map_err(setup)?;
    crate::tree::copy_tree(starter, &base).map_err(setup)?;
    let mut argv = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        SCRIPT.to_owned(),
        PACKED.to_owned(),
    ];
    argv.extend(build.command.iter().cloned());
    let mut spec = Spec::new(argv);
    spec.limits = limits.clone();
    // The build runs the learner's code too (a Makefile, a build script of theirs):
    // under the grade's isolation.
    spec.isolation = isolation;
    spec.ro_binds = deps.binds();
    spec.env = deps.env();
    let mut lowers = vec![upper.to_owned(), base];
    lowers.extend(deps.lowers());
    spec.overlays = vec![
        Overlay {
            lowers,
            inside: WORKSPACE.into(),
            size: workspace_size,
        },
        Overlay {
            lowers: vec![empty],
            inside: BUILD_INSIDE.into(),
            size: workspace_size,
        },
    ];
    spec.workdir = WORKSPACE.into();
    spec.collect = vec![Collect {
        inside: PACKED.into(),
        max_bytes: archive_limits.max_compressed_bytes,
    }];
    log.note(&format!("build: {}", build.command.join(" ")));
    let mut report = crate::held_to(isolation, sandbox::run(&spec, log))?;
    let wall_ms = report.wall_ms;
    let failed = |why: String| Ok(Built::Failed { why, wall_ms });
    let succeeded = report.status == sandbox::Status::Exited && report.exit_code == Some(0);
    if !succeeded {
        let ending = match (report.status, report.exit_code, report.signal) {
            (sandbox::Status::Exited, Some(125), _) => {
                "it left something in /build that is not a file or a folder".to_owned()
            }
            (sandbox::Status::Exited, Some(code), _) => format!("exit {code}"),
            (sandbox::Status::Signaled, _, Some(sig)) => format!("killed by signal {sig}"),
            (status, ..) => serde_json::to_value(status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{status:?}")),
        };
        return failed(format!("the build step failed ({ending})"));
    }
    let Some(packed) = report.collected.pop().flatten() else {
        return failed(format!(
            "the build's output is larger than {} packed",
            crate::log::approx_size(archive_limits.max_compressed_bytes)
        ));
    };
    let out = job_dir.join("build");
    if let Err(e) = exercise::extract_build_output(&packed, &out, archive_limits) {
        return failed(format!("the build's output was refused: {e}"));
    }
    Ok(Built::Output(out))
}

/// The test run's read-only view of the build's output.
pub fn bind(out: &Path) -> Bind {
    Bind {
        host: out.to_owned(),
        inside: BUILD_INSIDE.into(),
    }
}
