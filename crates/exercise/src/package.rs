//! Exercise packages (the format is exercises/README.md's): `exercise.yaml` read strictly,
//! and the types of a loaded [`Exercise`]. Reading the package folder around it (layout,
//! sizes, version hash) is [`crate::folder`]'s.
//!
//! Every value is checked while the YAML is read (a visitor per kind of scalar), so an
//! error carries the file, the key path (`limits.wall_time`) and the line. Aliases are
//! bounded three ways: the file is capped at [`MAX_MANIFEST_BYTES`] before parsing, every
//! list and string has a cap that is checked element by element, and the YAML library
//! refuses documents whose alias expansions exceed a budget (a "billion laughs" fails with
//! `repetition limit exceeded`).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::path::RelPath;
use crate::scoring::Scoring;
use crate::units::{format_duration, format_size, parse_duration, parse_size};

/// Largest accepted `exercise.yaml`, checked before it is parsed.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 10;
/// `max_bytes` of a starter file when the YAML leaves it out.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 10;
/// Largest `max_bytes` a starter file may declare.
pub const MAX_MAX_BYTES: u64 = 256 << 10;
/// Longest `title`, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Most entries in `starter.files`.
pub const MAX_STARTER_FILES: usize = 64;
/// Most entries in `hidden`.
pub const MAX_HIDDEN: usize = 64;
/// Most arguments in `test.command`.
pub const MAX_COMMAND_ARGS: usize = 64;
/// Longest argument of `test.command`, in bytes.
pub const MAX_ARG_BYTES: usize = 4096;
/// Most regular files in a package (all folders together).
pub const MAX_PACKAGE_FILES: usize = 10_000;
/// Most bytes in a package (all files together).
pub const MAX_PACKAGE_BYTES: u64 = 256 << 20;

/// The manifest's file name inside a package.
pub const MANIFEST: &str = "exercise.yaml";

/// `[a-z0-9][a-z0-9-]{0,63}`; only built by validation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ExerciseId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("exercise id {id:?} does not match [a-z0-9][a-z0-9-]{{0,63}}")]
    Invalid { id: String },
}

impl ExerciseId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 64
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        if ok {
            Ok(ExerciseId(s.to_owned()))
        } else {
            Err(IdError::Invalid {
                id: s.chars().take(80).collect(),
            })
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExerciseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionKind {
    Files,
    Archive,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarterFile {
    pub path: RelPath,
    pub max_bytes: u64,
}

/// Optional per-exercise limits; `None` means "the server's default".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExerciseLimits {
    pub wall_time: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub cpu_time: Option<Duration>,
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    pub output: Option<u64>,
}

/// The server's ceilings: an exercise may ask for less, never for more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maxima {
    pub wall_time: Duration,
    pub idle_timeout: Duration,
    pub cpu_time: Duration,
    pub memory: u64,
    pub pids: u64,
    pub output: u64,
}

impl Default for Maxima {
    fn default() -> Self {
        Maxima {
            wall_time: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            cpu_time: Duration::from_secs(30),
            memory: 1 << 30,
            pids: 256,
            output: 1 << 20,
        }
    }
}

/// Where a test command's results come from (`test.results`). The trust each one
/// gives is in exercises/README.md, "Results you can trust".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultsFormat {
    /// TAP on stdout.
    Tap,
    /// A JUnit XML file at this workspace path.
    Junit(RelPath),
    /// The test command's exit code: one test, passed on 0.
    ExitCode,
    /// TAP on the results channel (fd 3, `GAUNTLET_RESULTS_FD`), which only the
    /// runner holds.
    ChannelTap,
    /// JUnit XML on the results channel.
    ChannelJunit,
}

impl ResultsFormat {
    /// Whether the results arrive on the results channel.
    pub fn is_channel(&self) -> bool {
        matches!(
            self,
            ResultsFormat::ChannelTap | ResultsFormat::ChannelJunit
        )
    }
}

impl fmt::Display for ResultsFormat {
    /// As written in `exercise.yaml`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResultsFormat::Tap => f.write_str("tap"),
            ResultsFormat::Junit(p) => write!(f, "junit:{p}"),
            ResultsFormat::ExitCode => f.write_str("exit-code"),
            ResultsFormat::ChannelTap => f.write_str("channel:tap"),
            ResultsFormat::ChannelJunit => f.write_str("channel:junit"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSpec {
    pub command: Vec<String>,
    pub results: ResultsFormat,
}

/// `dependencies:`: lock files of the package, by path from its root (never under
/// `starter/`, `tests/` or `solution/`). Their contents are checked when the package
/// is loaded ([`crate::deps`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependencies {
    /// A pip requirements file, every line pinned with `--hash`
    /// ([`crate::deps::check_requirements`]); runtimes `python` and `shell`.
    pub python: Option<RelPath>,
    /// An npm `package-lock.json` (or `npm-shrinkwrap.json`), with `package.json` in
    /// the same folder ([`crate::deps::check_package_lock`]); runtime `node`.
    pub node: Option<RelPath>,
}

/// `build:`: a command run before the tests, in a jail of its own over the submission
/// laid over the starter (no `tests/`), writing its output to `/build`. A non-zero exit
/// is a `compile_error`; the test run then sees `/build` read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSpec {
    /// Same rules as `test.command`, and no `tests/…` argument (the step runs without
    /// `tests/`).
    pub command: Vec<String>,
    /// Whether the test run's workspace has the submission's files (default `true`);
    /// `false` leaves the starter and the tests, and the build's output in `/build`.
    pub keep_sources: bool,
}

/// `isolation:`: the least isolation every run of the exercise's submissions gets (the
/// test run, and the build step when there is one). The server's own setting may make it
/// stronger, never weaker, and nothing in a request changes it. The grader maps it onto
/// the sandbox's isolation; this crate knows only the names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// The jail's own layers on the host kernel (the default).
    #[default]
    Namespaces,
    /// gVisor's user-space kernel inside the jail. Ordered after
    /// [`Isolation::Namespaces`], so `max` gives the stronger of two.
    Gvisor,
}

impl Isolation {
    pub const ALL: [Isolation; 2] = [Isolation::Namespaces, Isolation::Gvisor];

    /// The name `exercise.yaml` uses.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::Namespaces => "namespaces",
            Isolation::Gvisor => "gvisor",
        }
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `exercise.yaml` says, validated; [`Exercise`] adds the folder and the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub id: ExerciseId,
    pub title: String,
    /// `[a-z0-9-]{1,32}`; whether the server knows it is the caller's check.
    pub runtime: String,
    pub submission: SubmissionKind,
    pub starter_files: Vec<StarterFile>,
    pub limits: ExerciseLimits,
    pub test: Option<TestSpec>,
    pub scoring: Scoring,
    /// Workspace paths the code under test may not read, besides `tests/` (always
    /// hidden): files or folders of `starter/` that only the tests need.
    pub hidden: Vec<RelPath>,
    /// Lock files of third-party packages to install for the runs.
    pub dependencies: Option<Dependencies>,
    /// A build step before the test run.
    pub build: Option<BuildSpec>,
    /// The least isolation the exercise's submissions run under (`isolation:`).
    pub isolation: Isolation,
}

/// A loaded, validated package.
#[derive(Debug, Clone)]
pub struct Exercise {
    pub id: ExerciseId,
    pub title: String,
    pub runtime: String,
    pub submission: SubmissionKind,
    pub starter_files: Vec<StarterFile>,
    pub limits: ExerciseLimits,
    /// `None` when the runtime supplies the default.
    pub test: Option<TestSpec>,
    pub scoring: Scoring,
    /// Workspace paths the code under test may not read, besides `tests/`
    /// ([`Manifest::hidden`]).
    pub hidden: Vec<RelPath>,
    /// Lock files of third-party packages, checked at load ([`Manifest::dependencies`]).
    pub dependencies: Option<Dependencies>,
    /// A build step before the test run ([`Manifest::build`]).
    pub build: Option<BuildSpec>,
    /// The least isolation the exercise's submissions run under
    /// ([`Manifest::isolation`]): the grader runs them under the stronger of this and
    /// its own default.
    pub isolation: Isolation,
    /// `statement.md`'s Markdown, when the package has one ([`crate::statement`]).
    pub statement: Option<String>,
    /// The package folder.
    pub dir: PathBuf,
    /// Hex SHA-256 over every file of the package (paths and contents): the version.
    /// See [`content_hash`] for the exact framing.
    pub content_hash: String,
}

impl Exercise {
    /// The starter entry for `path`, if a submission may write it.
    pub fn starter_file(&self, path: &RelPath) -> Option<&StarterFile> {
        self.starter_files.iter().find(|f| &f.path == path)
    }
}

/// Why a package was refused. Every message names the file (and, for YAML, the key and
/// the line when the YAML library knows it).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: file is larger than the {} cap", path.display(), format_size(*max))]
    TooLarge { path: PathBuf, max: u64 },
    #[error("{}", yaml_message(file, *line, key, message))]
    Yaml {
        file: PathBuf,
        line: Option<usize>,
        /// The key path, such as `limits.wall_time` or `starter.files[0].path`; empty for the root.
        key: String,
        message: String,
    },
    #[error("{}: symlinks are not allowed in a package", path.display())]
    Symlink { path: PathBuf },
    #[error("{}: not a regular file or folder", path.display())]
    NotRegular { path: PathBuf },
    #[error("{}: file name is not valid UTF-8", path.display())]
    NotUtf8Name { path: PathBuf },
    #[error("{}: {message}", path.display())]
    Layout { path: PathBuf, message: String },
    /// A lock file of `dependencies:` refused by [`crate::deps`].
    #[error("{}", deps_message(path, *line, message))]
    Deps {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("{}: package has more than {MAX_PACKAGE_FILES} files or {} in total", path.display(), format_size(MAX_PACKAGE_BYTES))]
    PackageTooLarge { path: PathBuf },
}

fn deps_message(path: &Path, line: Option<usize>, message: &str) -> String {
    match line {
        Some(line) => format!("{}:{line}: {message}", path.display()),
        None => format!("{}: {message}", path.display()),
    }
}

fn yaml_message(file: &Path, line: Option<usize>, key: &str, message: &str) -> String {
    let mut s = file.display().to_string();
    if let Some(line) = line {
        s.push_str(&format!(":{line}"));
    }
    if !key.is_empty() {
        s.push_str(": ");
        s.push_str(key);
    }
    s.push_str(": ");
    s.push_str(message);
    s
}

// ---------------------------------------------------------------------------
// Reading exercise.yaml

/// What a value's check needs besides the value: the server maxima and the folder name.
/// Set for the duration of one [`parse_manifest`] call on this thread, so that every check
/// runs inside the YAML visitor and its error gets the line of the offending value.
struct Context {
    maxima: Maxima,
    folder: Option<String>,
    /// The runtimes the caller knows, when it knows them (`runtime:` is checked against
    /// them, so an unknown one is refused with its line and the valid choices).
    runtimes: Option<Vec<String>>,
    /// The package's files and folders under `tests/`, when the folder was read: a
    /// `test.command` argument naming a `tests/…` path that is not there is refused.
    tests: Option<BTreeSet<String>>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

fn with_context<T>(ctx: Context, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Context>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CONTEXT.with(|c| *c.borrow_mut() = prev);
        }
    }
    let prev = CONTEXT.with(|c| c.borrow_mut().replace(ctx));
    let _restore = Restore(prev);
    f()
}

fn context<T>(f: impl FnOnce(&Context) -> T) -> T {
    CONTEXT.with(|c| match c.borrow().as_ref() {
        Some(ctx) => f(ctx),
        None => f(&Context {
            maxima: Maxima::default(),
            folder: None,
            runtimes: None,
            tests: None,
        }),
    })
}

/// What a package is checked against beyond its own rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The server's ceilings on `limits`.
    pub maxima: Maxima,
    /// The runtimes this build knows; `None` accepts any well-formed name (the caller
    /// then checks it), `Some` refuses others with the line and the valid choices.
    pub runtimes: Option<Vec<String>>,
}

/// Parses and checks `exercise.yaml` text. `file` is only used in messages; `folder`,
/// when given, is the package folder's name, which `id` must equal.
pub fn parse_manifest(
    yaml: &[u8],
    file: &Path,
    folder: Option<&str>,
    maxima: &Maxima,
) -> Result<Manifest, LoadError> {
    let options = LoadOptions {
        maxima: maxima.clone(),
        runtimes: None,
    };
    parse_manifest_with(yaml, file, folder, &options)
}

/// [`parse_manifest`] against [`LoadOptions`] (the runtimes this build knows).
pub fn parse_manifest_with(
    yaml: &[u8],
    file: &Path,
    folder: Option<&str>,
    options: &LoadOptions,
) -> Result<Manifest, LoadError> {
    parse_in_context(yaml, file, folder, options, None)
}

pub(crate) fn parse_in_context(
    yaml: &[u8],
    file: &Path,
    folder: Option<&str>,
    options: &LoadOptions,
    tests: Option<BTreeSet<String>>,
) -> Result<Manifest, LoadError> {
    if yaml.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(LoadError::TooLarge {
            path: file.to_owned(),
            max: MAX_MANIFEST_BYTES,
        });
    }
    let ctx = Context {
        maxima: options.maxima.clone(),
        folder: folder.map(str::to_owned),
        runtimes: options.runtimes.clone(),
        tests,
    };
    let raw: RawManifest = with_context(ctx, || {
        serde_path_to_error::deserialize(serde_norway::Deserializer::from_slice(yaml))
    })
    .map_err(|e| yaml_error(file, e))?;
    let manifest = Manifest {
        id: raw.id,
        title: raw.title,
        runtime: raw.runtime,
        submission: raw.submission,
        starter_files: raw.starter.files,
        limits: raw.limits.into(),
        test: raw.test.map(|t| TestSpec {
            command: t.command.into_iter().map(|a| a.0).collect(),
            results: t.results,
        }),
        scoring: raw.scoring,
        hidden: raw.hidden,
        dependencies: raw.dependencies,
        build: raw.build.map(|b| BuildSpec {
            command: b.command.into_iter().map(|a| a.0).collect(),
            keep_sources: b.keep_sources,
        }),
        isolation: raw.isolation,
    };
    if let Some(message) = manifest
        .dependencies
        .as_ref()
        .and_then(|d| runtime_misfit(&manifest.runtime, d))
    {
        return Err(LoadError::Yaml {
            file: file.to_owned(),
            line: None,
            key: "dependencies".into(),
            message,
        });
    }
    if let Some((hidden, starter)) = manifest.hidden.iter().find_map(|h| {
        manifest
            .starter_files
            .iter()
            .find(|f| f.path.is_within(h) || h.is_within(&f.path))
            .map(|f| (h, &f.path))
    }) {
        return Err(LoadError::Yaml {
            file: file.to_owned(),
            line: None,
            key: "hidden".into(),
            message: format!(
                "{hidden} overlaps the starter file {starter}: the code under test must read \
                 what a submission writes"
            ),
        });
    }
    if manifest.submission == SubmissionKind::Files && manifest.starter_files.is_empty() {
        return Err(LoadError::Yaml {
            file: file.to_owned(),
            line: None,
            key: "starter.files".into(),
            message: "a files exercise needs at least one starter file".into(),
        });
    }
    Ok(manifest)
}

fn yaml_error(file: &Path, e: serde_path_to_error::Error<serde_norway::Error>) -> LoadError {
    let key = match e.path().to_string() {
        k if k == "." => String::new(),
        k => k,
    };
    let inner = e.into_inner();
    let line = inner.location().map(|l| l.line());
    let mut message = inner.to_string();
    // The library appends " at line L column C" and may prefix its own key path;
    // both are said once, by LoadError's message.
    if let Some(i) = message.rfind(" at line ") {
        let tail = &message[i + " at line ".len()..];
        let is_mark = tail
            .split(" column ")
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_mark {
            message.truncate(i);
        }
    }
    if let Some((prefix, rest)) = message.split_once(": ") {
        if !prefix.is_empty() && !prefix.contains(char::is_whitespace) {
            message = rest.to_owned();
        }
    }
    LoadError::Yaml {
        file: file.to_owned(),
        line,
        key,
        message,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(deserialize_with = "de_id")]
    id: ExerciseId,
    #[serde(deserialize_with = "de_title")]
    title: String,
    #[serde(deserialize_with = "de_runtime")]
    runtime: String,
    submission: SubmissionKind,
    starter: RawStarter,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    test: Option<RawTest>,
    scoring: Scoring,
    #[serde(default, deserialize_with = "de_hidden")]
    hidden: Vec<RelPath>,
    #[serde(default)]
    dependencies: Option<Dependencies>,
    #[serde(default)]
    build: Option<RawBuild>,
    #[serde(default, deserialize_with = "de_isolation")]
    isolation: Isolation,
}

/// `dependencies:` read key by key (rather than derived), so that an empty map is
/// refused inside the visitor, with its line.
impl<'de> Deserialize<'de> for Dependencies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const KEYS: &[&str] = &["python", "node"];
        /// Refuses an unknown key while its value is read, so that the error carries
        /// the key path and the line.
        struct Unknown(String);
        impl<'de> de::DeserializeSeed<'de> for Unknown {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                de::IgnoredAny::deserialize(d)?;
                Err(de::Error::unknown_field(&self.0, KEYS))
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Dependencies;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map with python or node")
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Dependencies, A::Error> {
                let mut deps = Dependencies {
                    python: None,
                    node: None,
                };
                while let Some(key) = map.next_key::<String>()? {
                    let (slot, lock) = match key.as_str() {
                        "python" => (&mut deps.python, map.next_value::<PythonLock>()?.0),
                        "node" => (&mut deps.node, map.next_value::<NodeLock>()?.0),
                        _ => {
                            map.next_value_seed(Unknown(key))?;
                            continue;
                        }
                    };
                    if slot.replace(lock).is_some() {
                        return Err(de::Error::custom(format!("duplicate field `{key}`")));
                    }
                }
                if deps.python.is_none() && deps.node.is_none() {
                    return Err(de::Error::custom(
                        "give python (a hashed requirements.txt) or node (a \
                         package-lock.json), or leave dependencies out",
                    ));
                }
                Ok(deps)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    #[serde(deserialize_with = "de_command")]
    command: Vec<BuildArg>,
    #[serde(default = "default_keep_sources")]
    keep_sources: bool,
}

fn default_keep_sources() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStarter {
    #[serde(deserialize_with = "de_starter_files")]
    files: Vec<StarterFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStarterFile {
    #[serde(deserialize_with = "de_starter_path")]
    path: RelPath,
    #[serde(default = "default_max_bytes", deserialize_with = "de_max_bytes")]
    max_bytes: u64,
}

fn default_max_bytes() -> u64 {
    DEFAULT_MAX_BYTES
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default, deserialize_with = "de_wall_time")]
    wall_time: Option<Duration>,
    #[serde(default, deserialize_with = "de_idle_timeout")]
    idle_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_cpu_time")]
    cpu_time: Option<Duration>,
    #[serde(default, deserialize_with = "de_memory")]
    memory: Option<u64>,
    #[serde(default, deserialize_with = "de_pids")]
    pids: Option<u64>,
    #[serde(default, deserialize_with = "de_output")]
    output: Option<u64>,
}

impl From<RawLimits> for ExerciseLimits {
    fn from(r: RawLimits) -> Self {
        ExerciseLimits {
            wall_time: r.wall_time,
            idle_timeout: r.idle_timeout,
            cpu_time: r.cpu_time,
            memory: r.memory,
            pids: r.pids,
            output: r.output,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    #[serde(deserialize_with = "de_command")]
    command: Vec<Arg>,
    #[serde(deserialize_with = "de_results")]
    results: ResultsFormat,
}

/// One argument of `test.command`.
struct Arg(String);

impl<'de> Deserialize<'de> for Arg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar(d, "a command argument", |s| {
            check_arg(s)?;
            context(|ctx| check_tests_path(s, ctx.tests.as_ref()))?;
            Ok(Arg(s.to_owned()))
        })
    }
}

/// One argument of `build.command`: as `test.command`'s, but the build step has no
/// `tests/` to name.
struct BuildArg(String);

impl<'de> Deserialize<'de> for BuildArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar(d, "a command argument", |s| {
            check_arg(s)?;
            let rel = s.strip_prefix("./").unwrap_or(s);
            if rel
                .get(..6)
                .is_some_and(|h| h.eq_ignore_ascii_case("tests/"))
            {
                return Err(format!(
                    "{s}: the build step runs without tests/ (it sees the submission over \
                     the starter): build from those, test in test.command"
                ));
            }
            Ok(BuildArg(s.to_owned()))
        })
    }
}

/// The rules every command argument keeps.
fn check_arg(s: &str) -> Result<(), String> {
    if s.len() > MAX_ARG_BYTES {
        Err(format!("argument is longer than {MAX_ARG_BYTES} bytes"))
    } else if s.contains('\0') {
        Err("argument contains a NUL byte".into())
    } else {
        Ok(())
    }
}

impl<'de> Deserialize<'de> for StarterFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawStarterFile::deserialize(d)?;
        Ok(StarterFile {
            path: raw.path,
            max_bytes: raw.max_bytes,
        })
    }
}

/// Deserializes one scalar as text and checks it with `check` inside the visitor, so a
/// refusal carries the scalar's line.
fn scalar<'de, D, T, F>(d: D, expecting: &'static str, check: F) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(&str) -> Result<T, String>,
{
    struct V<F>(&'static str, F);
    impl<'de, T, F: FnOnce(&str) -> Result<T, String>> Visitor<'de> for V<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.1)(v).map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            (self.1)(&v.to_string()).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            (self.1)(&v.to_string()).map_err(E::custom)
        }
    }
    d.deserialize_str(V(expecting, check))
}

/// A list read element by element, refused as soon as it has more than `max` entries.
fn capped_seq<'de, D, T>(d: D, max: usize, what: &'static str) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(usize, &'static str, PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list of at most {} {}", self.0, self.1)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(x) = seq.next_element()? {
                if out.len() == self.0 {
                    return Err(de::Error::custom(format!(
                        "more than {} {}",
                        self.0, self.1
                    )));
                }
                out.push(x);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V(max, what, PhantomData))
}

fn de_id<'de, D: Deserializer<'de>>(d: D) -> Result<ExerciseId, D::Error> {
    scalar(d, "an exercise id", |s| {
        let id = ExerciseId::parse(s).map_err(|e| e.to_string())?;
        context(|ctx| match &ctx.folder {
            Some(folder) if folder != s => Err(format!(
                "id {s:?} differs from the package folder name {folder:?}"
            )),
            _ => Ok(id),
        })
    })
}

fn de_title<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    scalar(d, "a title", |s| {
        let s = s.trim();
        if s.is_empty() {
            Err("title is empty".into())
        } else if s.chars().count() > MAX_TITLE_CHARS {
            Err(format!("title is longer than {MAX_TITLE_CHARS} characters"))
        } else if s.chars().any(char::is_control) {
            Err("title contains a control character".into())
        } else {
            Ok(s.to_owned())
        }
    })
}

fn de_runtime<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    scalar(d, "a runtime name", |s| {
        let shown = s.chars().take(40).collect::<String>();
        let known = context(|ctx| ctx.runtimes.clone());
        if let Some(known) = known.filter(|k| !k.is_empty()) {
            if known.iter().any(|k| k == s) {
                return Ok(s.to_owned());
            }
            return Err(format!(
                "unknown runtime {shown:?}: expected one of {}{}",
                known.join(", "),
                did_you_mean(s, &known)
            ));
        }
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        if ok {
            Ok(s.to_owned())
        } else {
            Err(format!(
                "runtime {shown:?} does not match [a-z0-9-]{{1,32}}"
            ))
        }
    })
}

/// ` (did you mean "python"?)` when one choice is close to what was written.
fn did_you_mean(s: &str, choices: &[String]) -> String {
    let lower = s.to_lowercase();
    choices
        .iter()
        .map(|c| {
            let prefix = lower.starts_with(c.as_str()) || c.starts_with(lower.as_str());
            let d = if prefix && !lower.is_empty() {
                0.0
            } else {
                1.0 - strsim::jaro_winkler(&lower, c)
            };
            (d, c)
        })
        .filter(|(d, _)| *d < 0.2)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

/// A `test.command` argument that names a path under `tests/` must name one the package
/// has: a typo there would otherwise surface only as a failed run (`No such file`).
fn check_tests_path(arg: &str, tests: Option<&BTreeSet<String>>) -> Result<(), String> {
    let Some(tests) = tests else {
        return Ok(());
    };
    let rel = arg.strip_prefix("./").unwrap_or(arg);
    let Some(inner) = rel.strip_prefix("tests/") else {
        return Ok(());
    };
    let inner = inner.trim_end_matches('/');
    if inner.is_empty() || tests.contains(inner) {
        return Ok(());
    }
    let mut have: Vec<&str> = tests
        .iter()
        .map(String::as_str)
        .filter(|p| !p.contains('/'))
        .collect();
    have.truncate(12);
    let have = if have.is_empty() {
        "it is empty".to_owned()
    } else {
        format!("it has {}", have.join(", "))
    };
    Err(format!(
        "{arg} is not in the package's tests/ folder ({have}): check the path"
    ))
}

fn de_starter_files<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<StarterFile>, D::Error> {
    let files: Vec<StarterFile> = capped_seq(d, MAX_STARTER_FILES, "starter files")?;
    let mut seen = BTreeSet::new();
    for f in &files {
        if !seen.insert(&f.path) {
            return Err(de::Error::custom(format!(
                "{} is listed twice",
                f.path.as_str()
            )));
        }
    }
    Ok(files)
}

fn de_starter_path<'de, D: Deserializer<'de>>(d: D) -> Result<RelPath, D::Error> {
    scalar(d, "a relative path", |s| {
        let p = RelPath::parse(s).map_err(|e| e.to_string())?;
        if p.is_within(&tests_dir()) {
            Err(format!(
                "{p} is inside tests/, which submissions never write"
            ))
        } else {
            Ok(p)
        }
    })
}

/// One entry of `hidden`.
struct Hidden(RelPath);

impl<'de> Deserialize<'de> for Hidden {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar(d, "a relative path", |s| {
            let p = RelPath::parse(s).map_err(|e| e.to_string())?;
            let runner = RelPath::parse(".gauntlet").expect("valid");
            if p.is_within(&tests_dir()) {
                Err(format!("{p} is inside tests/, which is always hidden"))
            } else if p.is_within(&runner) || runner.is_within(&p) {
                Err(format!(
                    "{p} would hide the test runners (.gauntlet/), which the code under test \
                     runs in"
                ))
            } else {
                Ok(Hidden(p))
            }
        })
    }
}

fn de_hidden<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<RelPath>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<RelPath>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list of at most {MAX_HIDDEN} paths")
        }
        // Checked element by element, so an error carries the list's line.
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<RelPath>, A::Error> {
            let mut out: Vec<RelPath> = Vec::new();
            while let Some(Hidden(p)) = seq.next_element()? {
                if out.len() == MAX_HIDDEN {
                    return Err(de::Error::custom(format!(
                        "more than {MAX_HIDDEN} hidden paths"
                    )));
                }
                if out.contains(&p) {
                    return Err(de::Error::custom(format!("{p} is listed twice")));
                }
                out.push(p);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V)
}

fn de_max_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    scalar(d, "a size in bytes", |s| {
        let n = parse_size(s).map_err(|e| e.to_string())?;
        if n == 0 {
            Err("max_bytes must be above zero".into())
        } else if n > MAX_MAX_BYTES {
            Err(format!(
                "max_bytes {} is above the {} ceiling",
                format_size(n),
                format_size(MAX_MAX_BYTES)
            ))
        } else {
            Ok(n)
        }
    })
}

fn de_command<'de, D, A>(d: D) -> Result<Vec<A>, D::Error>
where
    D: Deserializer<'de>,
    A: Deserialize<'de>,
{
    let args: Vec<A> = capped_seq(d, MAX_COMMAND_ARGS, "arguments")?;
    if args.is_empty() {
        return Err(de::Error::custom("command is empty"));
    }
    Ok(args)
}

/// A `dependencies:` path: a relative path of the package, outside the folders a
/// submission writes over or the code under test cannot read.
fn check_lock_path(s: &str) -> Result<RelPath, String> {
    let p = RelPath::parse(s).map_err(|e| e.to_string())?;
    let inside = |dir: &str| p.is_within(&RelPath::parse(dir).expect("valid"));
    if inside("starter") {
        Err(format!(
            "{p} is inside starter/, which a submission could override: put it at the \
             package root"
        ))
    } else if inside("tests") {
        Err(format!(
            "{p} is inside tests/, which is hidden from the runs: put it at the package root"
        ))
    } else if inside("solution") {
        Err(format!(
            "{p} is inside solution/, the reference answer, which no run sees: put it at \
             the package root"
        ))
    } else {
        Ok(p)
    }
}

/// `dependencies.python`.
struct PythonLock(RelPath);

impl<'de> Deserialize<'de> for PythonLock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar(d, "a relative path", |s| check_lock_path(s).map(PythonLock))
    }
}

/// `dependencies.node`: named as npm ci reads it.
struct NodeLock(RelPath);

impl<'de> Deserialize<'de> for NodeLock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar(d, "a relative path", |s| {
            let p = check_lock_path(s)?;
            let base = p.segments().last().unwrap_or_default();
            if base == "package-lock.json" || base == "npm-shrinkwrap.json" {
                Ok(NodeLock(p))
            } else {
                Err(format!(
                    "{p} is not named package-lock.json (or npm-shrinkwrap.json), which is \
                     what npm ci reads beside package.json"
                ))
            }
        })
    }
}

/// Why these dependencies do not fit `runtime`, if they do not.
fn runtime_misfit(runtime: &str, deps: &Dependencies) -> Option<String> {
    if deps.python.is_some() && !matches!(runtime, "python" | "shell") {
        return Some(format!(
            "python dependencies need runtime python or shell, not {runtime}{}",
            hardhat_note(runtime)
        ));
    }
    if deps.node.is_some() && runtime != "node" {
        return Some(format!(
            "node dependencies need runtime node, not {runtime}{}",
            hardhat_note(runtime)
        ));
    }
    None
}

fn hardhat_note(runtime: &str) -> &'static str {
    if runtime == "hardhat" {
        " (hardhat has its own toolchain, and what its tests can require is fixed)"
    } else {
        ""
    }
}

fn de_isolation<'de, D: Deserializer<'de>>(d: D) -> Result<Isolation, D::Error> {
    scalar(d, "namespaces or gvisor", |s| {
        if let Some(i) = Isolation::ALL.into_iter().find(|i| i.name() == s) {
            return Ok(i);
        }
        let names = Isolation::ALL.map(|i| i.name().to_owned()).to_vec();
        Err(format!(
            "unknown isolation {:?}: expected {}{}",
            s.chars().take(40).collect::<String>(),
            names.join(" or "),
            did_you_mean(s, &names)
        ))
    })
}

const RESULTS_CHOICES: &str = "channel:tap, channel:junit, tap, junit:<path> or exit-code";

fn de_results<'de, D: Deserializer<'de>>(d: D) -> Result<ResultsFormat, D::Error> {
    scalar(d, RESULTS_CHOICES, |s| match s {
        "tap" => Ok(ResultsFormat::Tap),
        "exit-code" => Ok(ResultsFormat::ExitCode),
        "channel:tap" => Ok(ResultsFormat::ChannelTap),
        "channel:junit" => Ok(ResultsFormat::ChannelJunit),
        _ => match s.strip_prefix("junit:") {
            Some(p) => RelPath::parse(p.trim())
                .map(ResultsFormat::Junit)
                .map_err(|e| e.to_string()),
            None => Err(format!(
                "results {:?} is not {RESULTS_CHOICES}",
                s.chars().take(40).collect::<String>()
            )),
        },
    })
}

fn duration_limit<'de, D: Deserializer<'de>>(
    d: D,
    key: &'static str,
    max: fn(&Maxima) -> Duration,
) -> Result<Option<Duration>, D::Error> {
    scalar(d, "a duration such as 20s", |s| {
        let v = parse_duration(s).map_err(|e| e.to_string())?;
        let max = context(|ctx| max(&ctx.maxima));
        if v.is_zero() {
            Err(format!("{key} must be above zero"))
        } else if v > max {
            Err(format!(
                "{key} {} is above the server maximum {}",
                format_duration(v),
                format_duration(max)
            ))
        } else {
            Ok(Some(v))
        }
    })
}

/// A size (`parse` is [`parse_size`]) or a count (`parse` takes digits only).
fn size_limit<'de, D: Deserializer<'de>>(
    d: D,
    key: &'static str,
    max: fn(&Maxima) -> u64,
    parse: fn(&str) -> Result<u64, String>,
    unit: fn(u64) -> String,
) -> Result<Option<u64>, D::Error> {
    scalar(d, "a size such as 512MiB", |s| {
        let v = parse(s)?;
        let max = context(|ctx| max(&ctx.maxima));
        if v == 0 {
            Err(format!("{key} must be above zero"))
        } else if v > max {
            Err(format!(
                "{key} {} is above the server maximum {}",
                unit(v),
                unit(max)
            ))
        } else {
            Ok(Some(v))
        }
    })
}

fn de_wall_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration_limit(d, "wall_time", |m| m.wall_time)
}
fn de_idle_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration_limit(d, "idle_timeout", |m| m.idle_timeout)
}
fn de_cpu_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration_limit(d, "cpu_time", |m| m.cpu_time)
}
fn de_memory<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    size_limit(d, "memory", |m| m.memory, parse_bytes, format_size)
}
fn de_output<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    size_limit(d, "output", |m| m.output, parse_bytes, format_size)
}
fn de_pids<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    size_limit(d, "pids", |m| m.pids, parse_count, |n| n.to_string())
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    parse_size(s).map_err(|e| e.to_string())
}

fn parse_count(s: &str) -> Result<u64, String> {
    match s.trim() {
        t if !t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit()) => t
            .parse()
            .map_err(|_| format!("{s:?} is not a whole number")),
        _ => Err(format!(
            "{:?} is not a whole number",
            s.chars().take(40).collect::<String>()
        )),
    }
}

pub(crate) fn tests_dir() -> RelPath {
    RelPath::parse("tests").expect("`tests` is a valid path")
}
