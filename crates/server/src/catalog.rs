//! The exercises catalogue in memory: every package of the exercises folder, validated as
//! a whole (one bad package refuses the whole set, listing every problem), swapped
//! atomically on an admin reload so a bad package never replaces a good one.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use gauntlet_exercise::{Exercise, Maxima, SubmissionKind};

/// Checks the catalogue and submissions need beyond the exercise crate's own: whether
/// the server knows an exercise's runtime, and an archive's full validation (the grader's
/// `check_archive`, which knows the runtime's protected paths).
pub trait SubmissionGate: Send + Sync + 'static {
    /// Extra start-up check of a loaded package (e.g. "unknown runtime").
    fn check_exercise(&self, _exercise: &Exercise) -> Result<(), String> {
        Ok(())
    }
    /// The limits a run of `exercise` gets. Without a grader at hand: the grader's
    /// defaults, overridden by the exercise's own.
    fn limits(&self, exercise: &Exercise) -> gauntlet_sandbox::Limits {
        let defaults = gauntlet_grader::GraderConfig::new(std::path::PathBuf::new()).defaults;
        gauntlet_grader::limits_over(&defaults, exercise)
    }
    /// Validates a ZIP for `exercise` without grading it; `Err` is a 400.
    fn check_archive(&self, exercise: &Exercise, zip: &[u8]) -> Result<(), String>;
    /// Checks a git submission's URL and ref against the operator's git hosts before it
    /// is queued (the clone itself happens when a worker grades it).
    fn check_git(&self, _url: &str, _reference: Option<&str>) -> Result<(), String> {
        Err("git submissions are off on this server".into())
    }
    /// The runtimes packages may name, when the gate knows them: an unknown one is then
    /// refused while `exercise.yaml` is read, with its line and the valid choices.
    fn runtimes(&self) -> Option<Vec<String>> {
        None
    }
    /// Why `exercise` cannot be graded right now (its runtime's toolchain is missing or
    /// being prepared), when it cannot: its submissions are then refused with 503.
    fn unavailable(&self, _exercise: &Exercise) -> Option<crate::toolchains::Unavailable> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid exercises in {}:\n  {}", dir.display(), problems.join("\n  "))]
pub struct CatalogError {
    pub dir: PathBuf,
    /// One line per problem, each naming the package file.
    pub problems: Vec<String>,
}

/// A starter file and its contents, as `GET /api/v1/exercises/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarterContent {
    pub path: String,
    pub max_bytes: u64,
    pub content: String,
}

/// One loaded exercise and what the API shows of it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub exercise: Arc<Exercise>,
    pub starter: Vec<StarterContent>,
    /// `statement.md`, rendered once when the catalogue is loaded.
    pub statement: Option<Statement>,
}

/// A statement as the API shows it: the author's Markdown and its sanitised HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub markdown: String,
    pub html: String,
}

impl Entry {
    pub fn id(&self) -> &str {
        self.exercise.id.as_str()
    }
    pub fn kind(&self) -> SubmissionKind {
        self.exercise.submission
    }
}

/// An immutable set of exercises, by id.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub exercises: BTreeMap<String, Entry>,
}

/// The current catalogue; cheap to read, replaced whole on reload.
pub struct Catalog {
    dir: PathBuf,
    maxima: Maxima,
    gate: Arc<dyn SubmissionGate>,
    current: RwLock<Arc<Snapshot>>,
}

impl Catalog {
    /// Loads and validates every package under `dir` (each sub-folder is one package).
    /// Blocking: call it from a blocking thread in async code.
    pub fn load(
        dir: &Path,
        maxima: Maxima,
        gate: Arc<dyn SubmissionGate>,
    ) -> Result<Self, CatalogError> {
        let snapshot = load_snapshot(dir, &maxima, gate.as_ref())?;
        Ok(Catalog {
            dir: dir.to_owned(),
            maxima,
            gate,
            current: RwLock::new(Arc::new(snapshot)),
        })
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn get(&self, id: &str) -> Option<Entry> {
        self.snapshot().exercises.get(id).cloned()
    }

    pub fn gate(&self) -> &dyn SubmissionGate {
        self.gate.as_ref()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Content hashes of every exercise version in the catalogue.
    pub fn hashes(&self) -> Vec<String> {
        self.snapshot()
            .exercises
            .values()
            .map(|e| e.exercise.content_hash.clone())
            .collect()
    }

    /// Validates the folder again and swaps it in only when every package is valid;
    /// otherwise the catalogue stays as it was. Blocking.
    pub fn reload(&self) -> Result<Arc<Snapshot>, CatalogError> {
        let fresh = Arc::new(load_snapshot(&self.dir, &self.maxima, self.gate.as_ref())?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
        Ok(fresh)
    }
}

fn load_snapshot(
    dir: &Path,
    maxima: &Maxima,
    gate: &dyn SubmissionGate,
) -> Result<Snapshot, CatalogError> {
    let fail = |problems| CatalogError {
        dir: dir.to_owned(),
        problems,
    };
    let entries = fs::read_dir(dir).map_err(|e| fail(vec![format!("{}: {e}", dir.display())]))?;
    let mut folders = Vec::new();
    let mut problems = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => {
                let name = e.file_name();
                if name.to_string_lossy().starts_with('.') {
                    continue;
                }
                match e.file_type() {
                    Ok(t) if t.is_dir() => folders.push(e.path()),
                    Ok(t) if t.is_symlink() => problems.push(format!(
                        "{}: symlinks are not allowed in the exercises folder",
                        e.path().display()
                    )),
                    Ok(_) => {} // README and friends
                    Err(err) => problems.push(format!("{}: {err}", e.path().display())),
                }
            }
            Err(err) => problems.push(format!("{}: {err}", dir.display())),
        }
    }
    folders.sort();
    let options = gauntlet_exercise::LoadOptions {
        maxima: maxima.clone(),
        runtimes: gate.runtimes(),
    };
    let mut loaded = Vec::new();
    for folder in &folders {
        match gauntlet_exercise::load_with(folder, &options) {
            Ok(ex) => loaded.push(ex),
            Err(e) => problems.push(e.to_string()),
        }
    }
    let snapshot = assemble(loaded, gate, &mut problems);
    if folders.is_empty() && problems.is_empty() {
        problems.push(format!("{}: no exercise packages found", dir.display()));
    }
    if problems.is_empty() {
        Ok(snapshot)
    } else {
        Err(fail(problems))
    }
}

fn assemble(
    loaded: Vec<Exercise>,
    gate: &dyn SubmissionGate,
    problems: &mut Vec<String>,
) -> Snapshot {
    let mut exercises = BTreeMap::new();
    for ex in loaded {
        if let Err(e) = gate.check_exercise(&ex) {
            problems.push(format!("{}: {e}", ex.dir.display()));
            continue;
        }
        let mut starter = Vec::new();
        for f in &ex.starter_files {
            let path = ex.dir.join("starter").join(f.path.as_str());
            match fs::read(&path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(content) => starter.push(StarterContent {
                        path: f.path.as_str().to_owned(),
                        max_bytes: f.max_bytes,
                        content,
                    }),
                    Err(_) => {
                        problems.push(format!("{}: starter file is not UTF-8", path.display()))
                    }
                },
                // A starter file may be listed without shipping contents (archive exercises).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    starter.push(StarterContent {
                        path: f.path.as_str().to_owned(),
                        max_bytes: f.max_bytes,
                        content: String::new(),
                    })
                }
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        let id = ex.id.as_str().to_owned();
        if exercises.contains_key(&id) {
            problems.push(format!("{}: duplicate exercise id {id}", ex.dir.display()));
            continue;
        }
        exercises.insert(
            id,
            Entry {
                statement: ex.statement.as_ref().map(|markdown| Statement {
                    html: crate::markdown::to_safe_html(markdown),
                    markdown: markdown.clone(),
                }),
                exercise: Arc::new(ex),
                starter,
            },
        );
    }
    Snapshot { exercises }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Open;
    impl SubmissionGate for Open {
        fn check_archive(&self, _: &Exercise, _: &[u8]) -> Result<(), String> {
            Ok(())
        }
    }

    fn write(dir: &Path, id: &str, yaml: &str) {
        let p = dir.join(id);
        fs::create_dir_all(p.join("starter")).unwrap();
        fs::create_dir_all(p.join("tests")).unwrap();
        fs::create_dir_all(p.join("solution")).unwrap();
        fs::write(p.join("exercise.yaml"), yaml).unwrap();
        fs::write(p.join("starter/a.sh"), "echo starter\n").unwrap();
        fs::write(p.join("solution/a.sh"), "echo ok\n").unwrap();
        fs::write(p.join("tests/run.sh"), "exit 0\n").unwrap();
    }

    fn good(id: &str) -> String {
        format!(
            "id: {id}\ntitle: T {id}\nruntime: shell\nsubmission: files\nstarter:\n  files:\n    - path: a.sh\ntest:\n  command: [\"sh\", \"tests/run.sh\"]\n  results: exit-code\nscoring: all-or-nothing\n"
        )
    }

    #[test]
    fn loads_lists_every_problem_and_reload_keeps_the_good_set() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "one", &good("one"));
        write(dir.path(), "two", &good("two"));
        let cat = Catalog::load(dir.path(), Maxima::default(), Arc::new(Open)).unwrap();
        assert_eq!(cat.snapshot().exercises.len(), 2);
        assert_eq!(cat.get("one").unwrap().starter[0].content, "echo starter\n");

        write(dir.path(), "bad1", "id: bad1\nbogus: 1\n");
        write(dir.path(), "bad2", &good("not-bad2"));
        let err = cat.reload().unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(
            err.to_string().contains("bad1") && err.to_string().contains("bad2"),
            "{err}"
        );
        // The good set is still served.
        assert_eq!(cat.snapshot().exercises.len(), 2);
        let err = Catalog::load(dir.path(), Maxima::default(), Arc::new(Open))
            .err()
            .unwrap();
        assert_eq!(err.problems.len(), 2);

        fs::remove_dir_all(dir.path().join("bad1")).unwrap();
        fs::remove_dir_all(dir.path().join("bad2")).unwrap();
        write(dir.path(), "three", &good("three"));
        assert_eq!(cat.reload().unwrap().exercises.len(), 3);
    }

    #[test]
    fn gate_rejections_are_problems() {
        struct NoShell;
        impl SubmissionGate for NoShell {
            fn check_exercise(&self, e: &Exercise) -> Result<(), String> {
                Err(format!("unknown runtime {}", e.runtime))
            }
            fn check_archive(&self, _: &Exercise, _: &[u8]) -> Result<(), String> {
                Ok(())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "one", &good("one"));
        let err = Catalog::load(dir.path(), Maxima::default(), Arc::new(NoShell))
            .err()
            .unwrap();
        assert!(err.problems[0].contains("unknown runtime shell"));
        let empty = tempfile::tempdir().unwrap();
        assert!(Catalog::load(empty.path(), Maxima::default(), Arc::new(NoShell)).is_err());
    }
}
