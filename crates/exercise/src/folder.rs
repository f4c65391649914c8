//! The package folder on disk: [`load`] reads and checks one package (layout, sizes,
//! no links or devices, a solution a learner could submit) and [`content_hash`] names
//! its version. The manifest itself is [`crate::package`]'s.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::deps::{
    check_package_lock, check_requirements, DepsError, DepsFile, MAX_LOCK_BYTES,
    MAX_PACKAGE_JSON_BYTES, MAX_REQUIREMENTS_BYTES,
};
use crate::fsutil::open_nofollow;
use crate::package::{
    parse_in_context, tests_dir, Dependencies, Exercise, LoadError, LoadOptions, Maxima,
    SubmissionKind, MANIFEST, MAX_MANIFEST_BYTES, MAX_MAX_BYTES, MAX_PACKAGE_BYTES,
    MAX_PACKAGE_FILES,
};
use crate::path::RelPath;
use crate::statement::{check_statement, MAX_STATEMENT_BYTES, STATEMENT};
use crate::submission::validate_file_bytes;
use crate::units::format_size;

/// Deepest folder nesting in a package.
const MAX_PACKAGE_DEPTH: usize = 32;

/// Loads and validates one package folder against the server's `maxima`.
///
/// Checks, in order: the folder is a real folder (not a symlink); `exercise.yaml` is at
/// most [`MAX_MANIFEST_BYTES`] and valid ([`parse_manifest`], `id` equal to the folder
/// name); no symlink, device or fifo anywhere in the package; `starter/`, `tests/` and
/// `solution/` are folders; every `starter.files` path is a file in `starter/` within its
/// `max_bytes`; the lock files of `dependencies:` are files of the package that
/// [`crate::deps`] accepts; every file in `solution/` is one a submission may write.
pub fn load(dir: &Path, maxima: &Maxima) -> Result<Exercise, LoadError> {
    let options = LoadOptions {
        maxima: maxima.clone(),
        runtimes: None,
    };
    load_with(dir, &options)
}

/// [`load`] against [`LoadOptions`]: with the runtimes this build knows, an unknown
/// `runtime:` is refused with its line and the valid choices.
pub fn load_with(dir: &Path, options: &LoadOptions) -> Result<Exercise, LoadError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| LoadError::Io { path, source }
    };
    let meta = std::fs::symlink_metadata(dir).map_err(io(dir))?;
    if meta.file_type().is_symlink() {
        return Err(LoadError::Symlink { path: dir.into() });
    }
    if !meta.is_dir() {
        return Err(LoadError::Layout {
            path: dir.into(),
            message: "not a folder".into(),
        });
    }
    let folder = match dir.file_name() {
        Some(name) => name.to_owned(),
        None => dir
            .canonicalize()
            .map_err(io(dir))?
            .file_name()
            .map(ToOwned::to_owned)
            .unwrap_or_default(),
    };
    let folder = folder.to_str().ok_or_else(|| LoadError::NotUtf8Name {
        path: dir.to_owned(),
    })?;

    let manifest_path = dir.join(MANIFEST);
    let yaml = read_capped(&manifest_path, MAX_MANIFEST_BYTES)?;
    // The folder is read first so that test.command's paths are checked (with their
    // line) while the YAML is; a manifest error is still reported before a folder one.
    let tree = walk(dir);
    let tests = tree
        .as_ref()
        .ok()
        .filter(|t| t.dirs.contains("tests"))
        .map(|t| {
            t.files
                .keys()
                .chain(t.dirs.iter())
                .filter_map(|p| p.strip_prefix("tests/"))
                .map(str::to_owned)
                .collect()
        });
    let m = parse_in_context(&yaml, &manifest_path, Some(folder), options, tests)?;
    let tree = tree?;
    for sub in ["starter", "tests", "solution"] {
        if !tree.dirs.contains(sub) {
            return Err(LoadError::Layout {
                path: dir.join(sub),
                message: "missing folder".into(),
            });
        }
    }
    for f in &m.starter_files {
        let rel = format!("starter/{}", f.path);
        match tree.files.get(&rel) {
            None => {
                return Err(LoadError::Layout {
                    path: dir.join(&rel),
                    message: "listed in starter.files but not a file in starter/".into(),
                })
            }
            Some(&len) if len > f.max_bytes => {
                return Err(LoadError::Layout {
                    path: dir.join(&rel),
                    message: format!(
                        "starter file is larger than its max_bytes ({})",
                        format_size(f.max_bytes)
                    ),
                })
            }
            Some(_) => {}
        }
    }
    for h in &m.hidden {
        let rel = format!("starter/{h}");
        if !tree.files.contains_key(&rel) && !tree.dirs.contains(&rel) {
            return Err(LoadError::Layout {
                path: dir.join(&rel),
                message: "listed in hidden but not a file or folder in starter/ (tests/ is \
                          always hidden)"
                    .into(),
            });
        }
    }
    if let Some(deps) = &m.dependencies {
        check_dependencies(dir, &tree, deps)?;
    }
    let statement = read_statement(dir, &tree)?;
    let content_hash = hash_tree(dir, &tree)?;
    let exercise = Exercise {
        id: m.id,
        title: m.title,
        runtime: m.runtime,
        submission: m.submission,
        starter_files: m.starter_files,
        limits: m.limits,
        test: m.test,
        scoring: m.scoring,
        hidden: m.hidden,
        dependencies: m.dependencies,
        build: m.build,
        isolation: m.isolation,
        statement,
        dir: dir.to_owned(),
        content_hash,
    };
    check_solution(&exercise, &tree)?;
    Ok(exercise)
}

/// `statement.md`, when the package has one: UTF-8, within its cap, and what
/// [`check_statement`] accepts.
fn read_statement(dir: &Path, tree: &Tree) -> Result<Option<String>, LoadError> {
    if !tree.files.contains_key(STATEMENT) {
        return Ok(None);
    }
    let path = dir.join(STATEMENT);
    let bytes = read_capped(&path, MAX_STATEMENT_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|_| LoadError::Layout {
        path: path.clone(),
        message: "not UTF-8 text".into(),
    })?;
    check_statement(&text).map_err(|e| LoadError::Layout {
        path,
        message: e.to_string(),
    })?;
    Ok(Some(text))
}

/// Each lock file of `dependencies:` is a file of the package (the walk saw only
/// regular files) that [`check_requirements`] or [`check_package_lock`] accepts.
fn check_dependencies(dir: &Path, tree: &Tree, deps: &Dependencies) -> Result<(), LoadError> {
    let read = |rel: &str, key: &str, max: u64| -> Result<String, LoadError> {
        let path = dir.join(rel);
        if !tree.files.contains_key(rel) {
            return Err(LoadError::Layout {
                path,
                message: format!("named by {key} but not a file in the package"),
            });
        }
        let bytes = read_capped(&path, max)?;
        String::from_utf8(bytes).map_err(|_| LoadError::Layout {
            path,
            message: "not UTF-8 text".into(),
        })
    };
    let refused = |path: &Path, e: DepsError| LoadError::Deps {
        path: path.to_owned(),
        line: e.line,
        message: e.message,
    };
    if let Some(p) = &deps.python {
        let text = read(p.as_str(), "dependencies.python", MAX_REQUIREMENTS_BYTES)?;
        check_requirements(&text).map_err(|e| refused(&dir.join(p.as_str()), e))?;
    }
    if let Some(p) = &deps.node {
        let manifest = match p.as_str().rsplit_once('/') {
            Some((folder, _)) => format!("{folder}/package.json"),
            None => "package.json".to_owned(),
        };
        if !tree.files.contains_key(&manifest) {
            return Err(LoadError::Layout {
                path: dir.join(&manifest),
                message: format!(
                    "dependencies.node needs package.json beside {p}: npm ci reads both"
                ),
            });
        }
        let lock = read(p.as_str(), "dependencies.node", MAX_LOCK_BYTES)?;
        let package_json = read(&manifest, "dependencies.node", MAX_PACKAGE_JSON_BYTES)?;
        check_package_lock(&lock, &package_json).map_err(|e| {
            let path = match e.file {
                DepsFile::PackageJson => dir.join(&manifest),
                DepsFile::PackageLock | DepsFile::Requirements => dir.join(p.as_str()),
            };
            refused(&path, e)
        })?;
    }
    Ok(())
}

/// The solution must be something a learner could submit.
fn check_solution(ex: &Exercise, tree: &Tree) -> Result<(), LoadError> {
    let mut files = BTreeMap::new();
    let mut archive_paths = Vec::new();
    for rel in tree.files.keys() {
        let Some(inner) = rel.strip_prefix("solution/") else {
            continue;
        };
        let path = ex.dir.join(rel);
        let p = RelPath::parse(inner).map_err(|e| LoadError::Layout {
            path: path.clone(),
            message: e.to_string(),
        })?;
        match ex.submission {
            SubmissionKind::Files => {
                files.insert(inner.to_owned(), read_capped(&path, MAX_MAX_BYTES)?);
            }
            SubmissionKind::Archive if p.is_within(&tests_dir()) => {
                return Err(LoadError::Layout {
                    path,
                    message: "solution file is inside tests/, which submissions never write".into(),
                })
            }
            SubmissionKind::Archive => archive_paths.push(p),
        }
    }
    if ex.submission == SubmissionKind::Archive {
        if let Some(e) = crate::archive::layout_error(ex, &archive_paths) {
            return Err(LoadError::Layout {
                path: ex.dir.join("solution"),
                message: format!("the solution would be refused as an archive: {e}"),
            });
        }
    }
    if ex.submission == SubmissionKind::Files && files.is_empty() {
        let expected: Vec<String> = ex
            .starter_files
            .iter()
            .map(|f| format!("solution/{}", f.path))
            .collect();
        return Err(LoadError::Layout {
            path: ex.dir.join("solution"),
            message: format!(
                "the solution has no files: expected {} (the reference answer, at the \
                 paths of starter.files)",
                expected.join(", ")
            ),
        });
    }
    if ex.submission == SubmissionKind::Files {
        validate_file_bytes(ex, &files).map_err(|e| LoadError::Layout {
            path: ex.dir.join("solution"),
            message: format!("solution is not a valid submission: {e}"),
        })?;
    }
    Ok(())
}

fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let file = open_nofollow(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            LoadError::Symlink { path: path.into() }
        } else {
            io(e)
        }
    })?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(LoadError::NotRegular { path: path.into() });
    }
    if meta.len() > max {
        return Err(LoadError::TooLarge {
            path: path.into(),
            max,
        });
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > max {
        return Err(LoadError::TooLarge {
            path: path.into(),
            max,
        });
    }
    Ok(buf)
}

/// Every folder and regular file of a package, by `/`-separated path relative to it.
struct Tree {
    dirs: BTreeSet<String>,
    /// Path → size.
    files: BTreeMap<String, u64>,
}

fn walk(root: &Path) -> Result<Tree, LoadError> {
    let mut tree = Tree {
        dirs: BTreeSet::new(),
        files: BTreeMap::new(),
    };
    let mut total = 0u64;
    walk_into(root, root, "", 0, &mut tree, &mut total)?;
    Ok(tree)
}

fn walk_into(
    root: &Path,
    dir: &Path,
    prefix: &str,
    depth: usize,
    tree: &mut Tree,
    total: &mut u64,
) -> Result<(), LoadError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| LoadError::Io { path, source }
    };
    if depth > MAX_PACKAGE_DEPTH {
        return Err(LoadError::Layout {
            path: dir.into(),
            message: format!("folders nested deeper than {MAX_PACKAGE_DEPTH}"),
        });
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| LoadError::NotUtf8Name { path: path.clone() })?;
        let rel = format!("{prefix}{name}");
        // file_type() does not follow symlinks.
        let ft = entry.file_type().map_err(io(&path))?;
        if ft.is_symlink() {
            return Err(LoadError::Symlink { path });
        } else if ft.is_dir() {
            walk_into(root, &path, &format!("{rel}/"), depth + 1, tree, total)?;
            tree.dirs.insert(rel);
        } else if ft.is_file() {
            let len = entry.metadata().map_err(io(&path))?.len();
            *total = total.saturating_add(len);
            if tree.files.len() >= MAX_PACKAGE_FILES || *total > MAX_PACKAGE_BYTES {
                return Err(LoadError::PackageTooLarge { path: root.into() });
            }
            tree.files.insert(rel, len);
        } else {
            return Err(LoadError::NotRegular { path });
        }
    }
    Ok(())
}

/// Hex SHA-256 of a package: for every regular file in byte order of its `/`-separated
/// path relative to `dir`, the path, a NUL, the length as 8 big-endian bytes, then the
/// contents. Refuses symlinks, devices and fifos like [`load`].
pub fn content_hash(dir: &Path) -> Result<String, LoadError> {
    let tree = walk(dir)?;
    hash_tree(dir, &tree)
}

fn hash_tree(dir: &Path, tree: &Tree) -> Result<String, LoadError> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    for (rel, &len) in &tree.files {
        let path = dir.join(rel);
        let io = |source| LoadError::Io {
            path: path.clone(),
            source,
        };
        let mut file = open_nofollow(&path).map_err(io)?;
        h.update(rel.as_bytes());
        h.update([0u8]);
        h.update(len.to_be_bytes());
        let mut seen = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            seen += n as u64;
            if seen > len {
                break;
            }
            h.update(&buf[..n]);
        }
        if seen != len {
            return Err(LoadError::Layout {
                path,
                message: "file changed while the package was read".into(),
            });
        }
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
