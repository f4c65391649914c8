//! The architecture invariants of ARCHITECTURE.md, checked on the code itself:
//!
//! - crates depend on each other only downwards, as [`ALLOWED_EDGES`] declares (a new
//!   crate or edge has to be placed there on purpose);
//! - `gauntlet-sandbox` depends only on what [`SANDBOX_MAY_USE`] lists, and nothing it
//!   pulls in is an async runtime, an HTTP stack or a database driver;
//! - every crate but the sandbox forbids `unsafe` at its root;
//! - within each crate, the files' imports (`use crate::…`, `use super::…`, and inline
//!   `crate::…`/`super::…` paths) form no cycle.
//!
//! The crate graph comes from `cargo metadata`; the module graph from a small lexer
//! that skips comments and literals (a parser like `syn` would be the heavier way to
//! read the same `use` lines).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Which workspace crates each crate may depend on (normal, build or dev
/// dependencies): `cli → server → queue → grader → {sandbox, exercise}`.
const ALLOWED_EDGES: &[(&str, &[&str])] = &[
    (
        "gauntlet-cli",
        &[
            "gauntlet-server",
            "gauntlet-queue",
            "gauntlet-grader",
            "gauntlet-sandbox",
            "gauntlet-exercise",
        ],
    ),
    (
        "gauntlet-server",
        &[
            "gauntlet-queue",
            "gauntlet-grader",
            "gauntlet-sandbox",
            "gauntlet-exercise",
        ],
    ),
    (
        "gauntlet-queue",
        &["gauntlet-grader", "gauntlet-sandbox", "gauntlet-exercise"],
    ),
    (
        "gauntlet-grader",
        &["gauntlet-sandbox", "gauntlet-exercise"],
    ),
    // Only itself, with the `fuzzing` feature, for its corpus test.
    ("gauntlet-exercise", &["gauntlet-exercise"]),
    ("gauntlet-sandbox", &[]),
];

/// The sandbox's direct dependencies: the C library, serialisation of the report and
/// the wire messages, error enums.
const SANDBOX_MAY_USE: &[&str] = &["libc", "serde", "serde_json", "thiserror"];

/// Crates the sandbox must never pull in, directly or not.
const SANDBOX_MUST_NOT_REACH: &[&str] = &[
    "tokio",
    "async-std",
    "mio",
    "futures",
    "futures-util",
    "hyper",
    "axum",
    "tower",
    "reqwest",
    "sqlx",
    "sqlx-core",
    "redis",
    "tracing",
];

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata JSON")
}

struct Workspace {
    meta: Value,
    /// Workspace member package ids by name.
    members: BTreeMap<String, String>,
}

impl Workspace {
    fn load() -> Workspace {
        let meta = metadata();
        let ids: BTreeSet<&str> = meta["workspace_members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let members = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| ids.contains(p["id"].as_str().unwrap()))
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_owned(),
                    p["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        Workspace { meta, members }
    }

    fn package(&self, name: &str) -> &Value {
        self.meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no package {name}"))
    }

    fn node(&self, id: &str) -> &Value {
        self.meta["resolve"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id)
            .unwrap_or_else(|| panic!("no resolve node {id}"))
    }

    fn name_of(&self, id: &str) -> String {
        self.meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .and_then(|p| p["name"].as_str())
            .unwrap_or(id)
            .to_owned()
    }

    /// The resolved dependencies of a package, with their kinds (`normal`, `dev`, `build`).
    fn deps(&self, id: &str) -> Vec<(String, String, BTreeSet<String>)> {
        self.node(id)["deps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let kinds = d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k["kind"].as_str().unwrap_or("normal").to_owned())
                    .collect();
                let dep_id = d["pkg"].as_str().unwrap().to_owned();
                (self.name_of(&dep_id), dep_id, kinds)
            })
            .collect()
    }

    /// The source folder of a member: where its library (or, failing that, its
    /// binary) root lives.
    fn src_root(&self, name: &str) -> PathBuf {
        let targets = self.package(name)["targets"].as_array().unwrap();
        let root = targets
            .iter()
            .find(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "lib"))
            .or_else(|| {
                targets
                    .iter()
                    .find(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
            })
            .unwrap_or_else(|| panic!("{name} has no lib or bin target"));
        PathBuf::from(root["src_path"].as_str().unwrap())
    }
}

#[test]
fn crates_depend_only_downwards() {
    let ws = Workspace::load();
    let table: BTreeMap<&str, &[&str]> = ALLOWED_EDGES.iter().copied().collect();
    let mut wrong = Vec::new();
    for (name, id) in &ws.members {
        let Some(allowed) = table.get(name.as_str()) else {
            wrong.push(format!(
                "{name} is not in ALLOWED_EDGES: place the new crate in the layering on purpose"
            ));
            continue;
        };
        for (dep, _, kinds) in ws.deps(id) {
            if ws.members.contains_key(&dep) && !allowed.contains(&dep.as_str()) {
                wrong.push(format!("{name} -> {dep} ({kinds:?}) points up or sideways"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_sandbox_depends_only_on_what_it_may() {
    let ws = Workspace::load();
    let id = &ws.members["gauntlet-sandbox"];
    let direct: Vec<String> = ws
        .deps(id)
        .into_iter()
        .filter(|(_, _, kinds)| !kinds.iter().all(|k| k == "dev"))
        .map(|(name, _, _)| name)
        .collect();
    let extra: Vec<&String> = direct
        .iter()
        .filter(|d| !SANDBOX_MAY_USE.contains(&d.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "gauntlet-sandbox depends on {extra:?}, beyond {SANDBOX_MAY_USE:?}"
    );
    // Everything reachable through normal and build dependencies.
    let mut seen = BTreeSet::new();
    let mut todo = vec![id.clone()];
    while let Some(next) = todo.pop() {
        for (name, dep_id, kinds) in ws.deps(&next) {
            if kinds.iter().all(|k| k == "dev") || !seen.insert(name.clone()) {
                continue;
            }
            todo.push(dep_id);
        }
    }
    let reached: Vec<&&str> = SANDBOX_MUST_NOT_REACH
        .iter()
        .filter(|c| seen.contains(**c))
        .collect();
    assert!(
        reached.is_empty(),
        "gauntlet-sandbox reaches {reached:?} (through {seen:?})"
    );
}

#[test]
fn every_crate_but_the_sandbox_forbids_unsafe() {
    let ws = Workspace::load();
    for name in ws.members.keys() {
        if name == "gauntlet-sandbox" {
            continue;
        }
        let root = ws.src_root(name);
        let text = std::fs::read_to_string(&root).unwrap();
        let code = blank_comments_and_literals(&text);
        assert!(
            code.contains("#![forbid(unsafe_code)]"),
            "{} lacks #![forbid(unsafe_code)]",
            root.display()
        );
    }
}

#[test]
fn no_module_cycle_in_any_crate() {
    let ws = Workspace::load();
    let mut cycles = Vec::new();
    for name in ws.members.keys() {
        let root = ws.src_root(name);
        let graph = module_graph(&root);
        for cycle in cycles_of(&graph) {
            cycles.push(format!("{name}: {}", cycle.join(" -> ")));
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

/// The lexer's own checks: it must see what a reader sees, and nothing a comment or
/// a literal only mentions.
#[test]
fn the_import_reader_reads_what_rust_does() {
    let src = r##"
        //! See [`crate::doc_only`] and `crate::also_doc`.
        use crate::{a::X, b::{c::Y, Z}, d};
        use super::e::*;
        pub(crate) use crate::f as g;
        /* crate::in_block_comment */
        fn f() -> char { let _s = "crate::in_string"; let _r = r#"crate::raw"#; 'x' }
        fn h<'a>(x: &'a str) { crate::i::call(x); super::super::j::k(); }
        mod inner { use super::*; fn l() { super::m(); } }
        #[cfg(test)]
        mod tests { use super::*; use crate::n::Helper; }
    "##;
    let refs = references(src, &["p".into(), "q".into()]);
    let want: BTreeSet<Vec<String>> = [
        "a::X",
        "b::c::Y",
        "b::Z",
        "d",
        "p::e",
        "f",
        "i::call",
        "j::k",
        "p::q",
        "p::q::m",
        "n::Helper",
    ]
    .iter()
    .map(|s| s.split("::").map(str::to_owned).collect())
    .collect();
    assert_eq!(refs, want);
}

// --- the module graph -------------------------------------------------------------

/// File → files it imports from (sideways or up; a module's own children are part of it).
type Graph = BTreeMap<PathBuf, BTreeSet<PathBuf>>;

fn module_graph(root_file: &Path) -> Graph {
    let src = root_file.parent().unwrap();
    let mut modules: BTreeMap<Vec<String>, PathBuf> = BTreeMap::new();
    collect_modules(src, src, root_file, &mut modules);
    let mut graph = Graph::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        let mut targets = BTreeSet::new();
        for path in references(&text, module) {
            // The longest prefix of the path that is a file of this crate.
            let target = (0..=path.len())
                .rev()
                .find_map(|n| modules.get(&path[..n]))
                .expect("the crate root matches every path");
            if target != file {
                targets.insert(target.clone());
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

/// Every `.rs` file under `src` by module path (`lib.rs`/`main.rs` is `[]`, `a/mod.rs`
/// and `a.rs` are `[a]`, `a/b.rs` is `[a, b]`). Other binaries' roots are left out.
fn collect_modules(
    src: &Path,
    dir: &Path,
    root_file: &Path,
    out: &mut BTreeMap<Vec<String>, PathBuf>,
) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path != src.join("bin") {
                collect_modules(src, &path, root_file, out);
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(src).unwrap();
        let mut module: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if path == root_file {
            module.clear();
        } else if module.len() == 1 && (module[0] == "lib" || module[0] == "main") {
            continue; // the other root of a crate with both
        } else if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        out.insert(module, path);
    }
}

/// Cycles of the graph, one per strongly connected component of two files or more.
fn cycles_of(graph: &Graph) -> Vec<Vec<String>> {
    let name = |p: &PathBuf| {
        let s = p.to_string_lossy();
        s.split("/src/").last().unwrap_or(&s).to_owned()
    };
    let mut cycles = Vec::new();
    let mut reported: BTreeSet<PathBuf> = BTreeSet::new();
    for start in graph.keys() {
        if reported.contains(start) {
            continue;
        }
        // A path back to `start`, breadth first (the shortest cycle through it).
        let mut prev: BTreeMap<&PathBuf, &PathBuf> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut found = None;
        while let Some(at) = queue.pop_front() {
            for next in &graph[at] {
                if next == start {
                    found = Some(at);
                    break;
                }
                if !prev.contains_key(next) && graph.contains_key(next) {
                    prev.insert(next, at);
                    queue.push_back(next);
                }
            }
            if found.is_some() {
                break;
            }
        }
        if let Some(mut at) = found {
            let mut cycle = vec![name(start)];
            let mut back = vec![];
            while at != start {
                back.push(at);
                at = prev[at];
            }
            for p in back.iter().rev() {
                cycle.push(name(p));
                reported.insert((*p).clone());
            }
            cycle.push(name(start));
            reported.insert(start.clone());
            cycles.push(cycle);
        }
    }
    cycles
}

// --- reading imports ----------------------------------------------------------------

/// `text` with comments, string, raw-string and char literals replaced by spaces.
fn blank_comments_and_literals(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, from: &[char]| {
        for ch in from {
            out.push(if *ch == '\n' { '\n' } else { ' ' });
        }
    };
    while i < c.len() {
        let rest = &c[i..];
        let end = if rest.starts_with(&['/', '/']) {
            i + rest.iter().position(|&ch| ch == '\n').unwrap_or(rest.len())
        } else if rest.starts_with(&['/', '*']) {
            let mut depth = 0;
            let mut j = i;
            loop {
                if c[j..].starts_with(&['/', '*']) {
                    depth += 1;
                    j += 2;
                } else if c[j..].starts_with(&['*', '/']) {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break j;
                    }
                } else if j + 1 >= c.len() {
                    break c.len();
                } else {
                    j += 1;
                }
            }
        } else if rest[0] == 'r'
            && (i == 0 || !is_ident(c[i - 1]))
            && rest.len() > 1
            && (rest[1] == '"' || rest[1] == '#')
        {
            let hashes = rest[1..].iter().take_while(|&&ch| ch == '#').count();
            if rest.get(1 + hashes) != Some(&'"') {
                out.push(rest[0]);
                i += 1;
                continue;
            }
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let body = i + 2 + hashes;
            (body..c.len())
                .find(|&j| c[j..].starts_with(&close))
                .map_or(c.len(), |j| j + close.len())
        } else if rest[0] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            (j + 1).min(c.len())
        } else if rest[0] == '\'' && rest.get(1) == Some(&'\\') {
            i + 2
                + rest[2..]
                    .iter()
                    .position(|&ch| ch == '\'')
                    .map_or(0, |p| p + 1)
        } else if rest[0] == '\'' && rest.get(2) == Some(&'\'') {
            i + 3
        } else {
            out.push(rest[0]);
            i += 1;
            continue;
        };
        blank(&mut out, &c[i..end]);
        i = end;
    }
    out
}

fn is_ident(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Path, // ::
    Open,
    Close,
    Semi,
    Comma,
    Star,
    Other,
}

fn tokens(code: &str) -> Vec<Tok> {
    let c: Vec<char> = code.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if is_ident(ch) {
            let start = i;
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
            toks.push(Tok::Ident(c[start..i].iter().collect()));
            continue;
        }
        toks.push(match ch {
            ':' if c.get(i + 1) == Some(&':') => {
                i += 1;
                Tok::Path
            }
            '{' => Tok::Open,
            '}' => Tok::Close,
            ';' => Tok::Semi,
            ',' => Tok::Comma,
            '*' => Tok::Star,
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            _ => Tok::Other,
        });
        i += 1;
    }
    toks
}

/// Every path rooted at `crate::` or `super::` in `text`, as module paths from the
/// crate root, for a file whose module is `module`. Inline modules (`mod x { … }`) move
/// what `super` means inside them.
fn references(text: &str, module: &[String]) -> BTreeSet<Vec<String>> {
    let toks = tokens(&blank_comments_and_literals(text));
    let mut refs = BTreeSet::new();
    // Inline modules: (name, brace depth inside them).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let here: Vec<String> = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(n, _)| n.clone()))
            .collect();
        match &toks[i] {
            Tok::Open => depth += 1,
            Tok::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Open)) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    depth += 1;
                    inline.push((name.clone(), depth));
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(kw) if kw == "use" => {
                let end = toks[i..]
                    .iter()
                    .position(|t| *t == Tok::Semi)
                    .map_or(toks.len(), |p| i + p);
                let mut paths = Vec::new();
                use_tree(&toks[i + 1..end], &[], &mut paths);
                for p in paths {
                    if let Some(abs) = absolute(&p, &here) {
                        refs.insert(abs);
                    }
                }
                i = end + 1;
                continue;
            }
            Tok::Ident(first) if first == "crate" || first == "super" => {
                let preceded_by_path = i > 0 && toks[i - 1] == Tok::Path;
                if !preceded_by_path {
                    let mut path = vec![first.clone()];
                    let mut j = i + 1;
                    while let (Some(Tok::Path), Some(Tok::Ident(seg))) =
                        (toks.get(j), toks.get(j + 1))
                    {
                        path.push(seg.clone());
                        j += 2;
                    }
                    if path.len() > 1 {
                        if let Some(abs) = absolute(&path, &here) {
                            refs.insert(abs);
                        }
                    }
                    i = j;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    refs
}

/// Expands a use tree (`crate::{a::X, b::{Y, Z}}`) into its paths; `*` and `self` end a
/// path where they stand, `as` renames are dropped.
fn use_tree(toks: &[Tok], prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Ident(kw) if kw == "as" => i += 1, // skip the new name too
            Tok::Ident(seg) if seg == "self" && !path.is_empty() => {}
            Tok::Ident(seg) => path.push(seg.clone()),
            Tok::Open => {
                // Split the group at top-level commas.
                let mut depth = 0;
                let mut start = i + 1;
                let mut j = i + 1;
                while j < toks.len() {
                    match toks[j] {
                        Tok::Open => depth += 1,
                        Tok::Close if depth == 0 => break,
                        Tok::Close => depth -= 1,
                        Tok::Comma if depth == 0 => {
                            use_tree(&toks[start..j], &path, out);
                            start = j + 1;
                        }
                        _ => {}
                    }
                    j += 1;
                }
                use_tree(&toks[start..j], &path, out);
                return;
            }
            _ => {}
        }
        i += 1;
    }
    if path.len() > prefix.len() || !prefix.is_empty() {
        out.push(path);
    }
}

/// A path from a `use` or an expression, from the crate root: `crate::a` is `[a]`,
/// `super::a` in module `[p, q]` is `[p, a]`. `None` for paths relative to the module
/// itself (its children) or to other crates.
fn absolute(path: &[String], here: &[String]) -> Option<Vec<String>> {
    match path.first().map(String::as_str) {
        Some("crate") => Some(path[1..].to_vec()),
        Some("super") => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            let base = here.len().checked_sub(ups)?;
            Some(
                here[..base]
                    .iter()
                    .cloned()
                    .chain(path[ups..].iter().cloned())
                    .collect(),
            )
        }
        _ => None,
    }
}
