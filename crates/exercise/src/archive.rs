//! `archive` submissions: a ZIP checked entry by entry and extracted by our own loop
//! into a fresh folder, which is removed again if anything is refused.
//!
//! Two passes. The first reads only the central directory and refuses, before anything is
//! written: too many entries, bad or protected paths, duplicates (also ones differing only
//! in case), a path that is both a file and a folder, symlinks, devices, fifos, encrypted
//! entries, compression methods other than stored and deflate, and files that are not
//! where the exercise expects them (see "Layout" below). The second inflates each file and
//! counts the bytes as they come out (the sizes in the headers are never trusted),
//! stopping one byte past whichever cap applies: per entry, in total, or the ratio.
//!
//! Layout: the archive's root is the workspace root, so its paths must match the
//! exercise's `starter.files`. At least one starter file must be in the archive at its
//! path, and, when every starter file lives in a folder (`textstats/core.py`), every
//! file must be inside one of those top folders. Zipping a folder wraps everything in
//! that folder (`mini-package/textstats/core.py`): when one top folder wraps every entry
//! and stripping it makes the layout match, it is stripped, and [`Extracted::notes`]
//! says so. macOS metadata (`__MACOSX/`, `.DS_Store`) is skipped, also with a note. An
//! exercise without starter files has no layout to match.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use zip::{CompressionMethod, ZipArchive};

use crate::fsutil::FreshDir;
use crate::package::{tests_dir, Exercise, SubmissionKind};
use crate::path::{PathError, RelPath};
use crate::units::format_size;

/// The caps of one archive submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Largest ZIP accepted, in bytes.
    pub max_compressed_bytes: u64,
    /// Most bytes all entries may inflate to together.
    pub max_total_bytes: u64,
    /// Most entries (files and folders).
    pub max_entries: usize,
    /// Most bytes one entry may inflate to.
    pub max_entry_bytes: u64,
    /// Most an entry may inflate relative to its compressed size (`100` means 100:1).
    /// Entries that inflate to at most [`ArchiveLimits::ratio_grace_bytes`] are exempt, so
    /// a small file of repeated characters is not refused.
    pub max_ratio: u64,
    pub ratio_grace_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_compressed_bytes: 10 << 20,
            max_total_bytes: 50 << 20,
            max_entries: 1000,
            max_entry_bytes: 10 << 20,
            max_ratio: 100,
            ratio_grace_bytes: 64 << 10,
        }
    }
}

/// Why an archive was refused, or could not be written. One line naming the entry.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("this exercise takes files, not an archive")]
    WrongKind,
    #[error("archive is {len} bytes, more than the {} cap", format_size(*max))]
    TooLarge { len: u64, max: u64 },
    #[error("not a valid ZIP archive: {reason}")]
    Malformed { reason: String },
    #[error("archive has {count} entries, more than the {max} allowed")]
    TooManyEntries { count: usize, max: usize },
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("{path}: symlinks are not allowed")]
    Symlink { path: String },
    #[error("{path}: devices, fifos and sockets are not allowed")]
    Special { path: String },
    #[error("{path}: encrypted entries are not allowed")]
    Encrypted { path: String },
    #[error("{path}: compression method {method} is not supported (use stored or deflate)")]
    UnsupportedMethod { path: String, method: String },
    #[error("{path}: appears twice in the archive")]
    Duplicate { path: String },
    #[error("{path}: differs from {other} only in letter case")]
    CaseDuplicate { path: String, other: String },
    #[error("{path}: is both a file and a folder in the archive")]
    FileDirConflict { path: String },
    #[error("{path}: inside the protected path {protected}/")]
    Protected { path: String, protected: String },
    #[error(
        "the archive's files are not where this exercise expects them: it expects {expected} \
         (paths from the archive's root), and the archive has {found}"
    )]
    Layout { expected: String, found: String },
    #[error(
        "{path}: outside the exercise's layout: files go under {roots} (it expects {expected})"
    )]
    Outside {
        path: String,
        roots: String,
        expected: String,
    },
    #[error("{path}: this exercise takes only its starter files ({expected}), nothing else")]
    NotStarter { path: String, expected: String },
    #[error("{path}: inflates to more than the {} per-file cap", format_size(*max))]
    EntryTooLarge { path: String, max: u64 },
    #[error("{path}: the archive inflates to more than the {} total cap here", format_size(*max))]
    TotalTooLarge { path: String, max: u64 },
    #[error("{path}: compression ratio above {max_ratio}:1")]
    Ratio { path: String, max_ratio: u64 },
    #[error("{path}: cannot be read: {reason}")]
    Read { path: String, reason: String },
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;

/// One entry, checked.
struct Entry {
    index: usize,
    path: RelPath,
    is_dir: bool,
    compressed: u64,
    /// Any execute bit in its Unix mode (kept only by [`extract_build_output`]).
    executable: bool,
    /// The name as the archive spells it, for messages.
    shown: String,
}

/// What an accepted archive gave: the files written, and what was done to fit the
/// exercise's layout (a wrapping folder stripped, macOS metadata skipped), one line
/// each, for the grading log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub files: Vec<RelPath>,
    pub notes: Vec<String>,
}

/// Checks `bytes` as a ZIP for `exercise` and extracts it into `dest`, which this call
/// creates (its parent must exist, `dest` must not). Nothing may land in `tests/` or any
/// of `protected` (paths relative to the workspace root, such as a runtime's
/// `node_modules`), and the files must match the exercise's layout (module docs). On
/// any error `dest` is removed again.
pub fn extract_archive(
    exercise: &Exercise,
    bytes: &[u8],
    dest: &Path,
    protected: &[RelPath],
    limits: &ArchiveLimits,
) -> Result<Extracted, ArchiveError> {
    if exercise.submission != SubmissionKind::Archive {
        return Err(ArchiveError::WrongKind);
    }
    let mut archive = open(bytes, limits)?;
    let mut protected = protected.to_vec();
    protected.push(tests_dir());
    let (entries, notes) = check_entries(&archive, exercise, &protected, limits)?;
    let files = write_entries(&mut archive, &entries, dest, limits, false)?;
    Ok(Extracted { files, notes })
}

/// Extracts the ZIP a build step made of its `/build` folder into `dest` (created by
/// this call): the same entry checks and caps as a submission's archive, no layout,
/// and a file's execute bits kept (a compiled program must run). On any error `dest`
/// is removed again.
pub fn extract_build_output(
    bytes: &[u8],
    dest: &Path,
    limits: &ArchiveLimits,
) -> Result<Vec<RelPath>, ArchiveError> {
    let mut archive = open(bytes, limits)?;
    let (entries, _) = read_entries(&archive, limits)?;
    check_paths(&entries, &[])?;
    write_entries(&mut archive, &entries, dest, limits, true)
}

/// The second pass: creates `dest` and writes each checked entry, counting the bytes
/// as they inflate against the caps.
fn write_entries(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    entries: &[Entry],
    dest: &Path,
    limits: &ArchiveLimits,
    keep_exec: bool,
) -> Result<Vec<RelPath>, ArchiveError> {
    let err = |path: PathBuf| move |source| ArchiveError::Write { path, source };
    let root = FreshDir::create(dest).map_err(err(dest.to_owned()))?;
    let mut total = 0u64;
    let mut written = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    for e in entries {
        let target = e.path.under(dest);
        if e.is_dir {
            root.create_dir_all(&e.path).map_err(err(target))?;
            continue;
        }
        let read_err = |z: zip::result::ZipError| ArchiveError::Read {
            path: e.path.to_string(),
            reason: z.to_string(),
        };
        let reader = archive.by_index(e.index).map_err(read_err)?;
        let mut out = root.create_file(&e.path).map_err(err(target.clone()))?;

        // The most this entry may inflate to, and which cap that is.
        let ratio_cap = e
            .compressed
            .saturating_mul(limits.max_ratio)
            .max(limits.ratio_grace_bytes);
        let total_left = limits.max_total_bytes - total;
        let budget = limits.max_entry_bytes.min(total_left).min(ratio_cap);
        let over = || {
            let path = e.path.to_string();
            if budget == total_left {
                ArchiveError::TotalTooLarge {
                    path,
                    max: limits.max_total_bytes,
                }
            } else if budget == limits.max_entry_bytes {
                ArchiveError::EntryTooLarge {
                    path,
                    max: limits.max_entry_bytes,
                }
            } else {
                ArchiveError::Ratio {
                    path,
                    max_ratio: limits.max_ratio,
                }
            }
        };
        // Never inflate more than one byte past the budget.
        let mut reader = reader.take(budget + 1);
        let mut n_entry = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(|io| ArchiveError::Read {
                path: e.path.to_string(),
                reason: io.to_string(),
            })?;
            if n == 0 {
                break;
            }
            n_entry += n as u64;
            if n_entry > budget {
                return Err(over());
            }
            out.write_all(&buf[..n]).map_err(err(target.clone()))?;
        }
        if keep_exec && e.executable {
            use std::os::unix::fs::PermissionsExt;
            out.set_permissions(std::fs::Permissions::from_mode(0o755))
                .map_err(err(target.clone()))?;
        }
        total += n_entry;
        written.push(e.path.clone());
    }
    root.keep();
    Ok(written)
}

/// The starter files of a `files` exercise, read out of an archive whose root is the
/// workspace root (a git tree, say): the same entry checks as [`extract_archive`] (no
/// symlinks, devices, encryption, odd methods, bombs), folders ignored, and every file
/// must be one of the exercise's `starter.files` paths. The contents go on to
/// [`crate::validate_file_bytes`] like any `files` submission.
pub fn starter_files_from_archive(
    exercise: &Exercise,
    bytes: &[u8],
    limits: &ArchiveLimits,
) -> Result<BTreeMap<String, Vec<u8>>, ArchiveError> {
    let mut archive = open(bytes, limits)?;
    let (entries, _) = read_entries(&archive, limits)?;
    let expected = || {
        exercise
            .starter_files
            .iter()
            .map(|f| f.path.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut files = BTreeMap::new();
    for e in entries.iter().filter(|e| !e.is_dir) {
        if exercise.starter_file(&e.path).is_none() {
            return Err(ArchiveError::NotStarter {
                path: e.path.to_string(),
                expected: expected(),
            });
        }
        let reader = archive.by_index(e.index).map_err(|z| ArchiveError::Read {
            path: e.path.to_string(),
            reason: z.to_string(),
        })?;
        let mut content = Vec::new();
        reader
            .take(limits.max_entry_bytes + 1)
            .read_to_end(&mut content)
            .map_err(|io| ArchiveError::Read {
                path: e.path.to_string(),
                reason: io.to_string(),
            })?;
        if content.len() as u64 > limits.max_entry_bytes {
            return Err(ArchiveError::EntryTooLarge {
                path: e.path.to_string(),
                max: limits.max_entry_bytes,
            });
        }
        files.insert(e.path.to_string(), content);
    }
    if files.is_empty() {
        return Err(ArchiveError::Layout {
            expected: expected(),
            found: "none of them".into(),
        });
    }
    Ok(files)
}

fn open<'a>(
    bytes: &'a [u8],
    limits: &ArchiveLimits,
) -> Result<ZipArchive<Cursor<&'a [u8]>>, ArchiveError> {
    let len = bytes.len() as u64;
    if len > limits.max_compressed_bytes {
        return Err(ArchiveError::TooLarge {
            len,
            max: limits.max_compressed_bytes,
        });
    }
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| ArchiveError::Malformed {
        reason: e.to_string(),
    })?;
    if archive.len() > limits.max_entries {
        return Err(ArchiveError::TooManyEntries {
            count: archive.len(),
            max: limits.max_entries,
        });
    }
    // The library keeps one entry per name, silently: find the name it folded.
    if archive.has_duplicate_names() {
        let name = first_duplicate_name(bytes, archive.central_directory_start())
            .unwrap_or_else(|| "an entry".to_owned());
        return Err(ArchiveError::Duplicate { path: name });
    }
    // Entries sharing compressed data ("overlapping" bombs) inflate the same bytes many
    // times; the total cap would stop them, but no honest archive has them.
    if archive.has_overlapping_entries().unwrap_or(true) {
        return Err(ArchiveError::Malformed {
            reason: "entries overlap each other".into(),
        });
    }
    Ok(archive)
}

/// Walks the central directory from `start` and returns the first name seen twice.
fn first_duplicate_name(bytes: &[u8], start: u64) -> Option<String> {
    let u16_at = |at: usize| -> Option<usize> {
        Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as usize)
    };
    let mut seen = BTreeSet::new();
    let mut at = usize::try_from(start).ok()?;
    while bytes.get(at..at + 4)? == b"PK\x01\x02" {
        let (name_len, extra_len, comment_len) =
            (u16_at(at + 28)?, u16_at(at + 30)?, u16_at(at + 32)?);
        let name = bytes.get(at + 46..at + 46 + name_len)?;
        if !seen.insert(name) {
            return Some(String::from_utf8_lossy(name).chars().take(200).collect());
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    None
}

/// The first pass: the central directory only, nothing inflated or written. Each
/// entry's kind, method and sizes are checked as it is read; its path is checked once
/// the layout is settled (a wrapping folder may be stripped first).
fn check_entries(
    archive: &ZipArchive<Cursor<&[u8]>>,
    exercise: &Exercise,
    protected: &[RelPath],
    limits: &ArchiveLimits,
) -> Result<(Vec<Entry>, Vec<String>), ArchiveError> {
    let (entries, skipped) = read_entries(archive, limits)?;
    let mut notes = Vec::new();
    if skipped > 0 {
        notes.push(format!(
            "skipped {skipped} macOS metadata entr{} (__MACOSX/, .DS_Store) in the archive",
            if skipped == 1 { "y" } else { "ies" }
        ));
    }
    let layout = Layout::of(exercise);
    let entries = fit_layout(entries, &layout, &mut notes)?;
    check_paths(&entries, protected)?;
    if let Some(e) = entries.iter().find(|e| !layout.contains(e)) {
        return Err(ArchiveError::Outside {
            path: e.path.to_string(),
            roots: layout.roots(),
            expected: layout.expected(),
        });
    }
    Ok((entries, notes))
}

/// Every entry of the central directory, its kind, encryption, method and declared
/// sizes checked; macOS metadata left out and counted.
fn read_entries(
    archive: &ZipArchive<Cursor<&[u8]>>,
    limits: &ArchiveLimits,
) -> Result<(Vec<Entry>, usize), ArchiveError> {
    let mut entries = Vec::with_capacity(archive.len());
    let mut declared_total = 0u64;
    let mut skipped = 0usize;
    for index in 0..archive.len() {
        let data = archive
            .by_index_data(index)
            .map_err(|e| ArchiveError::Malformed {
                reason: e.to_string(),
            })?;
        let raw = data.name_raw();
        let shown = String::from_utf8_lossy(raw)
            .chars()
            .take(200)
            .collect::<String>();
        let (name, dir_by_name) = match raw.strip_suffix(b"/") {
            Some(stripped) => (stripped, true),
            None => (raw, false),
        };
        let path = RelPath::parse_bytes(name)?;
        let mode = data.unix_mode().unwrap_or(0);
        let is_dir = match mode & S_IFMT {
            0 | S_IFREG if !dir_by_name => false,
            0 | S_IFDIR if dir_by_name => true,
            S_IFDIR => true,
            S_IFLNK => return Err(ArchiveError::Symlink { path: shown }),
            S_IFREG => {
                // A "regular file" whose name ends in `/` cannot be created as written.
                return Err(ArchiveError::FileDirConflict { path: shown });
            }
            _ => return Err(ArchiveError::Special { path: shown }),
        };
        if data.encrypted() {
            return Err(ArchiveError::Encrypted { path: shown });
        }
        let method = data.compression();
        if !is_dir
            && !matches!(
                method,
                CompressionMethod::Stored | CompressionMethod::Deflated
            )
        {
            return Err(ArchiveError::UnsupportedMethod {
                path: shown,
                method: method.to_string(),
            });
        }
        // Header sizes are never trusted to accept, but a declared size over a cap is
        // reason enough to refuse before inflating anything.
        if data.size() > limits.max_entry_bytes {
            return Err(ArchiveError::EntryTooLarge {
                path: shown,
                max: limits.max_entry_bytes,
            });
        }
        declared_total = declared_total.saturating_add(data.size());
        if declared_total > limits.max_total_bytes {
            return Err(ArchiveError::TotalTooLarge {
                path: shown,
                max: limits.max_total_bytes,
            });
        }
        if is_macos_metadata(&path) {
            skipped += 1;
            continue;
        }
        entries.push(Entry {
            index,
            path,
            is_dir,
            compressed: data.compressed_size(),
            executable: mode & 0o111 != 0,
            shown,
        });
    }
    Ok((entries, skipped))
}

/// The entries as they will land: as they are when a starter file is among them, else
/// without the one folder that wraps them all when that makes one appear (noted).
fn fit_layout(
    entries: Vec<Entry>,
    layout: &Layout,
    notes: &mut Vec<String>,
) -> Result<Vec<Entry>, ArchiveError> {
    if layout.anchored(&entries) {
        return Ok(entries);
    }
    match wrapping_folder(&entries) {
        Some(top) if layout.anchored_without(&entries, &top) => {
            notes.push(format!(
                "every entry of the archive was inside one folder, {top}/ (what zipping \
                 a folder gives): it was stripped, so {} land where the exercise expects them",
                layout.expected()
            ));
            Ok(strip(entries, &top))
        }
        _ => Err(ArchiveError::Layout {
            expected: layout.expected(),
            found: found(&entries),
        }),
    }
}

/// Paths where they land: none protected, none twice (also in another letter case),
/// none both a file and a folder.
fn check_paths(entries: &[Entry], protected: &[RelPath]) -> Result<(), ArchiveError> {
    let mut exact = BTreeSet::new();
    let mut folded: BTreeMap<String, String> = BTreeMap::new();
    for e in entries {
        if let Some(p) = protected.iter().find(|p| e.path.is_within(p)) {
            return Err(ArchiveError::Protected {
                path: e.shown.clone(),
                protected: p.to_string(),
            });
        }
        if !exact.insert(e.path.clone()) {
            return Err(ArchiveError::Duplicate {
                path: e.shown.clone(),
            });
        }
        let key = e.path.as_str().to_lowercase();
        if let Some(other) = folded.insert(key, e.path.to_string()) {
            return Err(ArchiveError::CaseDuplicate {
                path: e.shown.clone(),
                other,
            });
        }
    }
    // A file may not also be a folder, explicitly or as some other entry's ancestor.
    let files: BTreeSet<&RelPath> = entries
        .iter()
        .filter(|e| !e.is_dir)
        .map(|e| &e.path)
        .collect();
    for e in entries {
        if let Some(a) = e.path.ancestors().find(|a| files.contains(a)) {
            return Err(ArchiveError::FileDirConflict {
                path: a.to_string(),
            });
        }
    }
    Ok(())
}

/// Why files at `paths` (workspace-relative) would not match `exercise`'s layout as an
/// archive, if they would not: the package loader holds a solution to the rules its
/// learners' archives must follow. No folder is stripped here.
pub(crate) fn layout_error(exercise: &Exercise, paths: &[RelPath]) -> Option<ArchiveError> {
    let entries: Vec<Entry> = paths
        .iter()
        .map(|p| Entry {
            index: 0,
            path: p.clone(),
            is_dir: false,
            compressed: 0,
            executable: false,
            shown: p.to_string(),
        })
        .collect();
    let layout = Layout::of(exercise);
    if !layout.anchored(&entries) {
        return Some(ArchiveError::Layout {
            expected: layout.expected(),
            found: found(&entries),
        });
    }
    entries
        .iter()
        .find(|e| !layout.contains(e))
        .map(|e| ArchiveError::Outside {
            path: e.path.to_string(),
            roots: layout.roots(),
            expected: layout.expected(),
        })
}

/// Finder's resource forks (`__MACOSX/…`) and folder settings (`.DS_Store`): never part
/// of a submission, present in most ZIPs made on a Mac.
fn is_macos_metadata(path: &RelPath) -> bool {
    let mut segments = path.segments();
    segments.next() == Some("__MACOSX") || path.segments().last() == Some(".DS_Store")
}

/// Where an exercise's files go: its starter files, and the top folders they live in.
struct Layout {
    starter: Vec<RelPath>,
    /// First segments of the starter files; `None` when a starter file sits at the
    /// root, which makes the root the layout (any path fits).
    tops: Option<BTreeSet<String>>,
}

impl Layout {
    fn of(exercise: &Exercise) -> Self {
        let starter: Vec<RelPath> = exercise
            .starter_files
            .iter()
            .map(|f| f.path.clone())
            .collect();
        let mut tops = Some(BTreeSet::new());
        for p in &starter {
            let segments: Vec<&str> = p.segments().collect();
            match (&mut tops, segments.as_slice()) {
                (Some(t), [first, _, ..]) => {
                    t.insert((*first).to_owned());
                }
                _ => tops = None,
            }
        }
        Layout { starter, tops }
    }

    /// At least one starter file is in the archive at its path (always true without
    /// starter files: nothing to match).
    fn anchored(&self, entries: &[Entry]) -> bool {
        self.starter.is_empty()
            || entries
                .iter()
                .any(|e| !e.is_dir && self.starter.contains(&e.path))
    }

    fn anchored_without(&self, entries: &[Entry], top: &str) -> bool {
        entries.iter().any(|e| {
            !e.is_dir && without_top(&e.path, top).is_some_and(|p| self.starter.contains(&p))
        })
    }

    fn contains(&self, e: &Entry) -> bool {
        let Some(tops) = &self.tops else {
            return true;
        };
        if self.starter.is_empty() {
            return true;
        }
        let mut segments = e.path.segments();
        let first = segments.next().unwrap_or_default();
        tops.contains(first) && (e.is_dir || segments.next().is_some())
    }

    fn expected(&self) -> String {
        list(self.starter.iter().map(RelPath::as_str))
    }

    fn roots(&self) -> String {
        let tops = self.tops.iter().flatten().map(|t| format!("{t}/"));
        let tops: Vec<String> = tops.collect();
        tops.join(" or ")
    }
}

/// The one top folder every entry is in, when there is one (a folder that was zipped).
fn wrapping_folder(entries: &[Entry]) -> Option<String> {
    let mut top: Option<&str> = None;
    let mut nested = false;
    for e in entries {
        let mut segments = e.path.segments();
        let first = segments.next()?;
        let deeper = segments.next().is_some();
        if !deeper && !e.is_dir {
            return None; // a file at the root
        }
        nested |= deeper;
        match top {
            Some(t) if t != first => return None,
            _ => top = Some(first),
        }
    }
    top.filter(|_| nested).map(str::to_owned)
}

fn without_top(path: &RelPath, top: &str) -> Option<RelPath> {
    let rest = path.as_str().strip_prefix(top)?.strip_prefix('/')?;
    RelPath::parse(rest).ok()
}

/// The entries with `top/` taken off their paths; the folder entry `top/` itself goes.
fn strip(entries: Vec<Entry>, top: &str) -> Vec<Entry> {
    entries
        .into_iter()
        .filter_map(|e| {
            let path = without_top(&e.path, top)?;
            Some(Entry { path, ..e })
        })
        .collect()
}

/// The archive's files for a message: the first few, and how many more.
fn found(entries: &[Entry]) -> String {
    let files: Vec<&str> = entries
        .iter()
        .filter(|e| !e.is_dir)
        .map(|e| e.path.as_str())
        .collect();
    if files.is_empty() {
        return "no files".to_owned();
    }
    list(files.into_iter())
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    const SHOWN: usize = 8;
    let items: Vec<&str> = items.collect();
    let mut out = items
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        out.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    out
}
