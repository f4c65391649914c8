//! [`RelPath`]: a relative, normal, `/`-separated path inside a workspace.
//! It can only be built by [`RelPath::parse`], so an unchecked path never reaches the filesystem.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Longest accepted path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest accepted segment, in bytes (the usual `NAME_MAX`).
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Deepest accepted path, in segments.
pub const MAX_DEPTH: usize = 32;

/// Why a string is not a [`RelPath`]. Each message names the offending path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty path")]
    Empty,
    #[error("path {path:?} is longer than {MAX_PATH_BYTES} bytes")]
    TooLong { path: String },
    #[error("path {path:?} has more than {MAX_DEPTH} segments")]
    TooDeep { path: String },
    #[error("path {path:?} has a segment longer than {MAX_SEGMENT_BYTES} bytes")]
    SegmentTooLong { path: String },
    #[error("path {path:?} is absolute")]
    Absolute { path: String },
    #[error("path {path:?} contains a backslash")]
    Backslash { path: String },
    #[error("path {path:?} contains a NUL byte")]
    Nul { path: String },
    #[error("path {path:?} contains a control character")]
    Control { path: String },
    #[error("path {path:?} has an empty segment")]
    EmptySegment { path: String },
    #[error("path {path:?} has a `.` segment")]
    Dot { path: String },
    #[error("path {path:?} has a `..` segment")]
    DotDot { path: String },
    #[error("path {path:?} is not valid UTF-8")]
    NotUtf8 { path: String },
}

/// A relative path inside a workspace: `/`-separated, no empty, `.` or `..`
/// segments, no backslash, no NUL or other control character, not absolute,
/// at most [`MAX_PATH_BYTES`] long; only built by validation.
///
/// Because every accepted path is already normal, two different `RelPath`s
/// never name the same file (`a/./b` and `a//b` are refused, not folded to `a/b`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RelPath(String);

impl RelPath {
    /// Validates `s`; the error names `s` and the first rule it breaks.
    pub fn parse(s: &str) -> Result<Self, PathError> {
        let owned = || s.to_owned();
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.len() > MAX_PATH_BYTES {
            // Do not echo a huge path back: keep the start of it.
            let mut end = 64;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            return Err(PathError::TooLong {
                path: format!("{}…", &s[..end]),
            });
        }
        if s.contains('\0') {
            return Err(PathError::Nul { path: owned() });
        }
        if s.contains('\\') {
            return Err(PathError::Backslash { path: owned() });
        }
        if s.chars().any(char::is_control) {
            return Err(PathError::Control { path: owned() });
        }
        if s.starts_with('/') {
            return Err(PathError::Absolute { path: owned() });
        }
        let mut depth = 0;
        for segment in s.split('/') {
            depth += 1;
            match segment {
                "" => return Err(PathError::EmptySegment { path: owned() }),
                "." => return Err(PathError::Dot { path: owned() }),
                ".." => return Err(PathError::DotDot { path: owned() }),
                _ if segment.len() > MAX_SEGMENT_BYTES => {
                    return Err(PathError::SegmentTooLong { path: owned() })
                }
                _ => {}
            }
        }
        if depth > MAX_DEPTH {
            return Err(PathError::TooDeep { path: owned() });
        }
        Ok(RelPath(s.to_owned()))
    }

    /// Like [`RelPath::parse`] for raw bytes (ZIP entry names, directory listings).
    pub fn parse_bytes(b: &[u8]) -> Result<Self, PathError> {
        match std::str::from_utf8(b) {
            Ok(s) => Self::parse(s),
            Err(_) => Err(PathError::NotUtf8 {
                path: String::from_utf8_lossy(b).into_owned(),
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path relative to a workspace root, for joining onto it.
    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }

    /// `root/self`.
    pub fn under(&self, root: &Path) -> PathBuf {
        root.join(&self.0)
    }

    /// The `/`-separated segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The proper ancestors, shortest first: `a/b/c` gives `a`, `a/b`.
    pub fn ancestors(&self) -> impl Iterator<Item = RelPath> + '_ {
        self.0
            .match_indices('/')
            .map(|(i, _)| RelPath(self.0[..i].to_owned()))
    }

    /// Whether `self` is `dir` or lies inside it, segment-wise (`tests2` is not
    /// inside `tests`). ASCII case is ignored, so `Tests/x` counts as inside `tests`.
    pub fn is_within(&self, dir: &RelPath) -> bool {
        let (me, d) = (self.0.as_bytes(), dir.0.as_bytes());
        me.len() >= d.len()
            && me[..d.len()].eq_ignore_ascii_case(d)
            && (me.len() == d.len() || me[d.len()] == b'/')
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RelPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for RelPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_and_within() {
        let p = RelPath::parse("a/b/c.txt").unwrap();
        let anc: Vec<_> = p.ancestors().map(|a| a.0).collect();
        assert_eq!(anc, ["a", "a/b"]);
        let tests = RelPath::parse("tests").unwrap();
        assert!(RelPath::parse("tests").unwrap().is_within(&tests));
        assert!(RelPath::parse("tests/x.py").unwrap().is_within(&tests));
        assert!(RelPath::parse("Tests/x.py").unwrap().is_within(&tests));
        assert!(!RelPath::parse("tests2/x.py").unwrap().is_within(&tests));
        assert!(!RelPath::parse("src/tests").unwrap().is_within(&tests));
    }
}
