//! Shared helpers: a valid manifest, package folders on disk, ZIP builders and patchers.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use gauntlet_exercise::{
    Exercise, ExerciseId, ExerciseLimits, RelPath, Scoring, StarterFile, SubmissionKind,
};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

pub const MANIFEST: &str = "\
id: reverse-words
title: Reverse words
runtime: python
submission: files
starter:
  files:
    - path: words.py
      max_bytes: 65536
limits:
  wall_time: 20s
  idle_timeout: 10s
  memory: 512MiB
test:
  command: [\"python3\", \"tests/run.py\"]
  results: tap
scoring: per-test
";

/// An in-memory exercise; no package folder behind it.
pub fn exercise(kind: SubmissionKind, starter: &[(&str, u64)]) -> Exercise {
    Exercise {
        id: ExerciseId::parse("demo").unwrap(),
        title: "Demo".into(),
        runtime: "shell".into(),
        submission: kind,
        starter_files: starter
            .iter()
            .map(|&(p, max_bytes)| StarterFile {
                path: RelPath::parse(p).unwrap(),
                max_bytes,
            })
            .collect(),
        limits: ExerciseLimits::default(),
        test: None,
        scoring: Scoring::PerTest,
        dir: PathBuf::from("/nonexistent/demo"),
        hidden: Vec::new(),
        dependencies: None,
        build: None,
        isolation: Default::default(),
        statement: None,
        content_hash: String::new(),
    }
}

/// Writes `files` (path → contents) under `root`, making parents.
pub fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (p, c) in files {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    }
}

/// A valid package folder `<tmp>/reverse-words`.
pub fn package(tmp: &Path) -> PathBuf {
    let dir = tmp.join("reverse-words");
    write_tree(
        &dir,
        &[
            ("exercise.yaml", MANIFEST),
            ("starter/words.py", "def reverse(s):\n    return s\n"),
            (
                "solution/words.py",
                "def reverse(s):\n    return ' '.join(s.split()[::-1])\n",
            ),
            ("tests/run.py", "print('1..1')\n"),
        ],
    );
    dir
}

/// One ZIP entry to build.
pub enum Item<'a> {
    File(&'a str, &'a [u8]),
    Stored(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

pub fn zip(items: &[Item]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflate = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for item in items {
        match item {
            Item::File(name, data) => {
                w.start_file(*name, deflate).unwrap();
                w.write_all(data).unwrap();
            }
            Item::Stored(name, data) => {
                w.start_file(*name, stored).unwrap();
                w.write_all(data).unwrap();
            }
            Item::Dir(name) => w.add_directory(*name, stored).unwrap(),
            Item::Symlink(name, target) => w.add_symlink(*name, *target, stored).unwrap(),
        }
    }
    w.finish().unwrap().into_inner()
}

fn find_all(hay: &[u8], sig: &[u8; 4]) -> Vec<usize> {
    hay.windows(4)
        .enumerate()
        .filter(|(_, w)| w == sig)
        .map(|(i, _)| i)
        .collect()
}

/// Offsets of the local file headers (`PK\3\4`).
pub fn local_headers(zip: &[u8]) -> Vec<usize> {
    find_all(zip, b"PK\x03\x04")
}

/// Offsets of the central directory headers (`PK\1\2`).
pub fn central_headers(zip: &[u8]) -> Vec<usize> {
    find_all(zip, b"PK\x01\x02")
}

pub fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// Sets the unix mode (upper half of the external attributes) of entry `n`, and marks
/// the entry as made on unix.
pub fn set_unix_mode(zip: &mut [u8], n: usize, mode: u32) {
    let c = central_headers(zip)[n];
    put_u16(zip, c + 4, (3 << 8) | 20); // version made by: unix
    put_u32(zip, c + 38, mode << 16);
}

/// Sets general-purpose flag bits on entry `n` in both headers.
pub fn set_flags(zip: &mut [u8], n: usize, bits: u16) {
    let l = local_headers(zip)[n];
    let v = get_u16(zip, l + 6) | bits;
    put_u16(zip, l + 6, v);
    let c = central_headers(zip)[n];
    let v = get_u16(zip, c + 8) | bits;
    put_u16(zip, c + 8, v);
}

/// Claims an uncompressed size for entry `n` in both headers.
pub fn set_uncompressed_size(zip: &mut [u8], n: usize, size: u32) {
    let l = local_headers(zip)[n];
    put_u32(zip, l + 22, size);
    let c = central_headers(zip)[n];
    put_u32(zip, c + 24, size);
}

/// Lists every path under `root`, relative, sorted; folders end in `/`.
pub fn listing(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if e.file_type().unwrap().is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &e.path(), out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}
