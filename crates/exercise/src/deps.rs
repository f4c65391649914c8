//! The lock files of `dependencies:` (exercises/README.md, "Dependencies"), checked
//! strictly: pip's `requirements.txt` with a hash on every requirement
//! ([`check_requirements`]) and npm's `package-lock.json` with its `package.json`
//! ([`check_package_lock`]). Pure functions over text: reading the files is
//! [`crate::folder`]'s, installing them the grader's.
//!
//! What passes is what the installer can fetch by exact version and verify by digest,
//! from a registry the operator allows, with no code run at install time: no includes,
//! no index or link options, no URL, path or VCS requirement, no package that needs its
//! install scripts.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// Largest accepted `requirements.txt`.
pub const MAX_REQUIREMENTS_BYTES: u64 = 4 << 20;
/// Most requirements in a `requirements.txt`.
pub const MAX_REQUIREMENTS: usize = 5000;
/// Largest accepted `package-lock.json`.
pub const MAX_LOCK_BYTES: u64 = 8 << 20;
/// Largest accepted `package.json`.
pub const MAX_PACKAGE_JSON_BYTES: u64 = 1 << 20;
/// Most entries in a lock's `packages` map (the root included).
pub const MAX_LOCK_ENTRIES: usize = 5000;

/// Which file a [`DepsError`] is about: [`check_package_lock`] reads two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepsFile {
    Requirements,
    PackageLock,
    PackageJson,
}

/// Why a lock file was refused: the file, the line (1-based; for a requirement, the
/// physical line where its logical line starts) when it is known, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", match line { Some(l) => format!("line {l}: {message}"), None => message.clone() })]
pub struct DepsError {
    pub file: DepsFile,
    pub line: Option<usize>,
    pub message: String,
}

/// One line of a hash-checked `requirements.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedRequirement {
    /// As written (extras left out); compare with [`normalize_name`].
    pub name: String,
    /// The exact version after `==` (or `===`).
    pub version: String,
    /// The environment marker after `;`, trimmed.
    pub marker: Option<String>,
    /// `alg:hex`, such as `sha256:…`, in the order written.
    pub hashes: Vec<String>,
}

/// What [`check_package_lock`] found in an accepted lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockSummary {
    /// Entries of `packages` besides the root: the packages `npm ci` installs.
    pub packages: usize,
    /// The hosts (`host` or `host:port`, lowercase) of every `resolved` URL: the
    /// installer must be allowed to reach them.
    pub registry_hosts: BTreeSet<String>,
}

/// A distribution name as PEP 503 compares them: lowercase, every run of `-`, `_`
/// and `.` one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

// ---------------------------------------------------------------------------
// requirements.txt

/// Checks a pip requirements file for `pip install --require-hashes --only-binary
/// :all:`: one `name==version` per logical line, each with at least one `--hash`, and
/// nothing else. Returns the requirements in file order.
pub fn check_requirements(text: &str) -> Result<Vec<PinnedRequirement>, DepsError> {
    let err = |line: usize, message: String| DepsError {
        file: DepsFile::Requirements,
        line: Some(line),
        message,
    };
    if text.len() as u64 > MAX_REQUIREMENTS_BYTES {
        return Err(DepsError {
            file: DepsFile::Requirements,
            line: None,
            message: format!(
                "requirements file is larger than {} MiB",
                MAX_REQUIREMENTS_BYTES >> 20
            ),
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<PinnedRequirement> = Vec::new();
    // Normalized name → the line it was first pinned on.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (line, logical) in logical_lines(text) {
        let content = strip_comment(&logical).trim();
        if content.is_empty() {
            continue;
        }
        let req = parse_requirement_line(content).map_err(|m| err(line, m))?;
        let key = normalize_name(&req.name);
        if let Some(first) = seen.get(&key) {
            return Err(err(
                line,
                format!(
                    "{} is pinned twice (first on line {first}): pin each package once",
                    req.name
                ),
            ));
        }
        if out.len() == MAX_REQUIREMENTS {
            return Err(err(
                line,
                format!("more than {MAX_REQUIREMENTS} requirements"),
            ));
        }
        seen.insert(key, line);
        out.push(req);
    }
    if out.is_empty() {
        return Err(DepsError {
            file: DepsFile::Requirements,
            line: None,
            message: "no requirement in the file: pin at least one package (name==version \
                      --hash=sha256:…), or leave dependencies.python out"
                .into(),
        });
    }
    Ok(out)
}

/// pip's logical lines with the physical line each starts on: a line ending in `\`
/// continues on the next, unless it is a comment line (a `#` first, after optional
/// whitespace), which also ends a continuation.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let comment_line = raw.trim_start().starts_with('#');
        match raw.strip_suffix('\\') {
            Some(head) if !comment_line => match &mut pending {
                Some((_, acc)) => acc.push_str(head),
                None => pending = Some((n, head.to_owned())),
            },
            _ => match pending.take() {
                Some((start, mut acc)) => {
                    // A comment line ends the continuation as a comment of its own.
                    if comment_line {
                        acc.push(' ');
                    }
                    acc.push_str(raw);
                    out.push((start, acc));
                }
                None => out.push((n, raw.to_owned())),
            },
        }
    }
    out.extend(pending);
    out
}

/// The line up to a `#` that starts it or follows whitespace (`a#b` keeps its `#`).
fn strip_comment(line: &str) -> &str {
    let mut prev_ws = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_ws {
            return &line[..i];
        }
        prev_ws = c.is_whitespace();
    }
    line
}

fn parse_requirement_line(content: &str) -> Result<PinnedRequirement, String> {
    let tokens: Vec<&str> = content.split_whitespace().collect();
    // As pip splits a line: the requirement is every token before the first option.
    let first_opt = tokens
        .iter()
        .position(|t| t.starts_with('-'))
        .unwrap_or(tokens.len());
    if first_opt == 0 {
        return Err(refuse_option(tokens[0]));
    }
    let spec = tokens[..first_opt].join(" ");
    let mut req = parse_requirement(&spec)?;
    let mut rest = tokens[first_opt..].iter();
    while let Some(&tok) = rest.next() {
        let value = if tok == "--hash" {
            match rest.next() {
                Some(v) => *v,
                None => return Err("--hash needs a value: --hash=sha256:<hex digest>".into()),
            }
        } else if let Some(v) = tok.strip_prefix("--hash=") {
            v
        } else {
            return Err(refuse_option(tok));
        };
        let hash = check_hash(value)?;
        if !req.hashes.contains(&hash) {
            req.hashes.push(hash);
        }
    }
    if req.hashes.is_empty() {
        return Err(format!(
            "{}=={} has no --hash: every requirement needs its digests \
             (--hash=sha256:…), so that pip installs exactly the files they name",
            req.name, req.version
        ));
    }
    Ok(req)
}

/// The refusal of an option line, or of an option after a requirement, by what it does.
fn refuse_option(tok: &str) -> String {
    let name = match tok.split_once('=') {
        Some((n, _)) => n,
        None if tok.starts_with("--") => tok,
        // Short options may carry their value glued on: `-rbase.txt`.
        None => tok.get(..2).unwrap_or(tok),
    };
    let shown: String = name.chars().take(40).collect();
    let why = match name {
        "-r" | "--requirement" => {
            "includes another requirements file: list every requirement in this one"
        }
        "-c" | "--constraint" => {
            "names a constraints file: pin every requirement in this one instead"
        }
        "-i" | "--index-url" | "--extra-index-url" | "--no-index" | "-f" | "--find-links"
        | "--trusted-host" => {
            "chooses where packages come from, which is the operator's setting \
             (GAUNTLET_PACKAGE_HOSTS, mirrors), not the package's"
        }
        "-e" | "--editable" => {
            "installs a local or VCS project, which cannot be pinned by a hash: \
             pin a released version"
        }
        _ => {
            "is not allowed: each line is one requirement, name==version, with its \
              --hash options and nothing else"
        }
    };
    format!("option {shown} {why}")
}

/// `name[extras] ==version ; marker`, refused unless it is exactly that.
fn parse_requirement(spec: &str) -> Result<PinnedRequirement, String> {
    let shown: String = spec.chars().take(80).collect();
    let lower = spec.to_ascii_lowercase();
    let vcs = ["git+", "hg+", "svn+", "bzr+"];
    if vcs.iter().any(|p| lower.starts_with(p)) {
        return Err(format!(
            "{shown:?} is a VCS requirement: pin a released version, name==version with \
             its --hash"
        ));
    }
    let (head, marker) = match spec.split_once(';') {
        Some((h, m)) => (h.trim(), Some(m.trim())),
        None => (spec.trim(), None),
    };
    if let Some((_, target)) = head.split_once('@') {
        let target = target.trim().to_ascii_lowercase();
        let what = if vcs.iter().any(|p| target.starts_with(p)) {
            "a VCS requirement"
        } else {
            "a direct reference (name @ URL)"
        };
        return Err(format!(
            "{shown:?} is {what}: pin a released version from the index, name==version \
             with its --hash"
        ));
    }
    if lower.contains("://") {
        return Err(format!(
            "{shown:?} is a URL: pin a released version from the index, name==version \
             with its --hash"
        ));
    }
    let archive = [".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip"];
    if head.starts_with(['.', '/', '~'])
        || head.contains(['/', '\\'])
        || archive.iter().any(|s| lower.trim_end().ends_with(s))
    {
        return Err(format!(
            "{shown:?} is a path: a package's files are not installed from it; pin a \
             released version, name==version with its --hash"
        ));
    }
    // The name.
    let end = head
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(head.len());
    let name = &head[..end];
    if !valid_name(name) {
        return Err(format!(
            "{shown:?} does not start with a package name (letters, digits, -, _ and ., \
             starting and ending with a letter or digit)"
        ));
    }
    let mut rest = head[end..].trim_start();
    // Extras.
    if let Some(after) = rest.strip_prefix('[') {
        let Some((extras, tail)) = after.split_once(']') else {
            return Err(format!("{shown:?}: the extras' [ is not closed"));
        };
        for extra in extras.split(',') {
            if !valid_name(extra.trim()) {
                return Err(format!(
                    "{shown:?}: extra {:?} is not a valid name",
                    extra.trim()
                ));
            }
        }
        rest = tail.trim_start();
    }
    // The one exact pin.
    let not_pinned = || {
        format!(
            "{name} is not pinned to one version: write {name}==<version> (an exact \
             pin; ranges such as >=, ~=, <, != and wildcards are refused)"
        )
    };
    let (exact, version) = if let Some(v) = rest.strip_prefix("===") {
        (true, v.trim())
    } else if let Some(v) = rest.strip_prefix("==") {
        (false, v.trim())
    } else {
        return Err(not_pinned());
    };
    let version_ok = !version.is_empty()
        && if exact {
            !version.contains(|c: char| c.is_whitespace() || matches!(c, ',' | '*'))
        } else {
            version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b'!'))
                && version.as_bytes()[0].is_ascii_alphanumeric()
        };
    if !version_ok {
        return Err(not_pinned());
    }
    let marker = match marker {
        Some("") => return Err(format!("{shown:?}: nothing after the marker's ;")),
        Some(m) => Some(m.to_owned()),
        None => None,
    };
    Ok(PinnedRequirement {
        name: name.to_owned(),
        version: version.to_owned(),
        marker,
        hashes: Vec::new(),
    })
}

/// A PEP 508 name: ASCII letters and digits, with `-`, `_`, `.` inside.
fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `alg:hex` with an algorithm pip accepts and a digest of its length.
fn check_hash(value: &str) -> Result<String, String> {
    let shown: String = value.chars().take(140).collect();
    let Some((alg, hex)) = value.split_once(':') else {
        return Err(format!(
            "--hash {shown:?} is not <algorithm>:<hex digest> (sha256:…)"
        ));
    };
    let len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(format!(
                "--hash algorithm {:?} is not sha256, sha384 or sha512",
                alg.chars().take(20).collect::<String>()
            ))
        }
    };
    if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "--hash {shown:?}: a {alg} digest is {len} hex digits"
        ));
    }
    if hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "--hash {shown:?}: write the digest in lowercase, as pip hash prints it"
        ));
    }
    Ok(value.to_owned())
}

// ---------------------------------------------------------------------------
// package-lock.json

/// The lifecycle scripts `npm ci` would run for the root package.
const INSTALL_SCRIPTS: [&str; 6] = [
    "preinstall",
    "install",
    "postinstall",
    "prepare",
    "preprepare",
    "postprepare",
];

/// The dependency maps of package.json, compared with the lock's root entry.
const DEP_KEYS: [&str; 3] = ["dependencies", "devDependencies", "optionalDependencies"];

/// Checks an npm lock (`lockfileVersion` 2 or 3) and its `package.json` for `npm ci
/// --ignore-scripts`: every package from an `https` registry tarball, pinned by
/// `integrity`, none needing its install scripts, and the lock in step with
/// `package.json`.
pub fn check_package_lock(lock: &str, package_json: &str) -> Result<LockSummary, DepsError> {
    let pkg = check_package_json(package_json)?;
    let lerr = |line: Option<usize>, message: String| DepsError {
        file: DepsFile::PackageLock,
        line,
        message,
    };
    if lock.len() as u64 > MAX_LOCK_BYTES {
        return Err(lerr(
            None,
            format!(
                "package-lock.json is larger than {} MiB",
                MAX_LOCK_BYTES >> 20
            ),
        ));
    }
    let doc: Value = serde_json::from_str(lock).map_err(|e| {
        lerr(
            Some(e.line()),
            format!("not valid JSON: {}", json_reason(&e)),
        )
    })?;
    let Value::Object(doc) = doc else {
        return Err(lerr(Some(1), "not a JSON object".into()));
    };
    let version_line = key_line(lock, "lockfileVersion");
    match doc.get("lockfileVersion").and_then(Value::as_u64) {
        Some(2 | 3) => {}
        Some(1) => {
            return Err(lerr(
                version_line,
                "lockfileVersion 1 has no packages map: regenerate with npm ≥ 7 (npm \
                 install --package-lock-only --ignore-scripts)"
                    .into(),
            ))
        }
        Some(v) => {
            return Err(lerr(
                version_line,
                format!("lockfileVersion {v} is not 2 or 3"),
            ))
        }
        None => {
            return Err(lerr(
                version_line.or(Some(1)),
                "no lockfileVersion (2 or 3): is this an npm package-lock.json?".into(),
            ))
        }
    }
    let Some(Value::Object(packages)) = doc.get("packages") else {
        return Err(lerr(
            key_line(lock, "packages").or(Some(1)),
            "no packages map: regenerate with npm ≥ 7".into(),
        ));
    };
    if packages.len() > MAX_LOCK_ENTRIES {
        return Err(lerr(
            key_line(lock, "packages"),
            format!(
                "{} packages, more than the {MAX_LOCK_ENTRIES} Gauntlet installs",
                packages.len() - 1
            ),
        ));
    }
    let Some(Value::Object(root)) = packages.get("") else {
        return Err(lerr(
            key_line(lock, "packages"),
            "packages has no root entry (\"\"): regenerate with npm install \
             --package-lock-only --ignore-scripts"
                .into(),
        ));
    };
    check_in_sync(&pkg, root, packages).map_err(|m| lerr(key_line(lock, ""), m))?;

    let mut hosts = BTreeSet::new();
    for (key, entry) in packages {
        if key.is_empty() {
            continue;
        }
        let line = key_line(lock, key);
        let shown: String = key.chars().take(200).collect();
        let Some(name) = key
            .rfind("node_modules/")
            .map(|i| &key[i + "node_modules/".len()..])
            .filter(|n| !n.is_empty())
        else {
            return Err(lerr(
                line,
                format!(
                    "{shown} is not under node_modules/: workspaces and local folders are \
                     not installed"
                ),
            ));
        };
        let Value::Object(entry) = entry else {
            return Err(lerr(line, format!("{name}: entry is not an object")));
        };
        if entry.get("link").and_then(Value::as_bool) == Some(true) {
            let to = entry.get("resolved").and_then(Value::as_str).unwrap_or("");
            return Err(lerr(
                line,
                format!(
                    "{name} is a link to a local folder ({}): only registry packages are \
                     installed",
                    to.chars().take(200).collect::<String>()
                ),
            ));
        }
        let optional = entry.get("optional").and_then(Value::as_bool) == Some(true);
        if entry.get("hasInstallScript").and_then(Value::as_bool) == Some(true) && !optional {
            return Err(lerr(
                line,
                format!(
                    "{name} wants lifecycle scripts (install/postinstall), which Gauntlet \
                     never runs: choose a package that works without them"
                ),
            ));
        }
        // A package bundled inside its parent's tarball comes with it, under the
        // parent's integrity.
        if entry.get("inBundle").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        // An alias (`"x": "npm:y@1"`) is installed at its key but fetched by its name.
        let real = match entry.get("name") {
            None => name,
            Some(Value::String(n)) => n.as_str(),
            Some(_) => return Err(lerr(line, format!("{name}: name is not a string"))),
        };
        let Some(version) = entry.get("version").and_then(Value::as_str) else {
            return Err(lerr(
                line,
                format!("{name} has no version: regenerate the lock"),
            ));
        };
        match entry.get("resolved") {
            None => {}
            Some(Value::String(url)) => {
                let host = check_resolved(url, real, version).map_err(|why| {
                    lerr(
                        line,
                        format!(
                            "{name} is resolved to {:?}: {why}",
                            url.chars().take(200).collect::<String>()
                        ),
                    )
                })?;
                hosts.insert(host);
            }
            Some(_) => return Err(lerr(line, format!("{name}: resolved is not a string"))),
        }
        match entry.get("integrity") {
            None => {
                return Err(lerr(
                    line,
                    format!(
                        "{name} is not pinned by integrity: regenerate the lock with npm \
                         ≥ 7 against a registry that serves integrity"
                    ),
                ))
            }
            Some(Value::String(sri)) => {
                check_integrity(sri).map_err(|why| lerr(line, format!("{name}: {why}")))?
            }
            Some(_) => return Err(lerr(line, format!("{name}: integrity is not a string"))),
        }
    }
    Ok(LockSummary {
        packages: packages.len() - 1,
        registry_hosts: hosts,
    })
}

/// package.json: an object, no install-time scripts, registry specs only.
fn check_package_json(text: &str) -> Result<Map<String, Value>, DepsError> {
    let err = |line: Option<usize>, message: String| DepsError {
        file: DepsFile::PackageJson,
        line,
        message,
    };
    if text.len() as u64 > MAX_PACKAGE_JSON_BYTES {
        return Err(err(
            None,
            format!(
                "package.json is larger than {} MiB",
                MAX_PACKAGE_JSON_BYTES >> 20
            ),
        ));
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        err(
            Some(e.line()),
            format!("not valid JSON: {}", json_reason(&e)),
        )
    })?;
    let Value::Object(doc) = doc else {
        return Err(err(Some(1), "not a JSON object".into()));
    };
    match doc.get("scripts") {
        None => {}
        Some(Value::Object(scripts)) => {
            if let Some(s) = INSTALL_SCRIPTS.iter().find(|s| scripts.contains_key(**s)) {
                return Err(err(
                    key_line(text, s),
                    format!(
                        "scripts.{s} would never run (dependencies install with \
                         --ignore-scripts): the package must not rely on it; remove it"
                    ),
                ));
            }
        }
        Some(_) => {
            return Err(err(
                key_line(text, "scripts"),
                "scripts is not an object".into(),
            ))
        }
    }
    for key in ["bundledDependencies", "bundleDependencies"] {
        if doc.contains_key(key) {
            return Err(err(
                key_line(text, key),
                format!("{key} is not supported: list them as dependencies"),
            ));
        }
    }
    for map in DEP_KEYS {
        let Some(deps) = doc.get(map) else {
            continue;
        };
        let Value::Object(deps) = deps else {
            return Err(err(key_line(text, map), format!("{map} is not an object")));
        };
        for (name, spec) in deps {
            let Value::String(spec) = spec else {
                return Err(err(
                    key_line(text, name),
                    format!("{map}.{name} is not a string"),
                ));
            };
            check_spec(spec).map_err(|why| {
                err(
                    key_line(text, name),
                    format!(
                        "{map}.{name} is {:?}: {why}; give a version range from the \
                         registry (\"^1.2.3\")",
                        spec.chars().take(200).collect::<String>()
                    ),
                )
            })?;
        }
    }
    Ok(doc)
}

/// A registry version range (or a registry alias, `npm:name@range`), not a git, URL
/// or local spec.
fn check_spec(spec: &str) -> Result<(), &'static str> {
    let s = spec.trim().to_ascii_lowercase();
    let s = match s.strip_prefix("npm:") {
        // The range is after the alias's last `@` (its first may start a scope).
        Some(alias) => match alias.rfind('@').filter(|&i| i > 0) {
            Some(i) => alias[i + 1..].to_owned(),
            None => String::new(),
        },
        None => s,
    };
    let refusals: [(&str, &'static str); 10] = [
        ("git+", "a git repository"),
        ("git:", "a git repository"),
        ("github:", "a GitHub repository"),
        ("gitlab:", "a GitLab repository"),
        ("bitbucket:", "a Bitbucket repository"),
        ("gist:", "a gist"),
        ("http:", "a tarball URL"),
        ("https:", "a tarball URL"),
        ("file:", "a local path"),
        ("link:", "a local link"),
    ];
    if let Some((_, why)) = refusals.iter().find(|(p, _)| s.starts_with(p)) {
        return Err(*why);
    }
    if s.starts_with("workspace:") {
        return Err("a workspace package");
    }
    let local = ["./", "../", "/", "~/"].iter().any(|p| s.starts_with(p)) || s == "." || s == "..";
    if local || s.ends_with(".tgz") || s.ends_with(".tar.gz") {
        return Err("a local path");
    }
    if s.contains('/') {
        return Err("a GitHub shorthand (user/repo)");
    }
    if s.contains(':') {
        return Err("not a registry version");
    }
    Ok(())
}

/// The lock's root entry lists what package.json does, and every required
/// dependency has its entry.
fn check_in_sync(
    pkg: &Map<String, Value>,
    root: &Map<String, Value>,
    packages: &Map<String, Value>,
) -> Result<(), String> {
    let out_of_date = |detail: String| {
        format!(
            "package-lock.json is out of date with package.json ({detail}): run npm install \
             --package-lock-only --ignore-scripts"
        )
    };
    let names = |m: &Map<String, Value>, key: &str| -> BTreeMap<String, Value> {
        match m.get(key) {
            Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => BTreeMap::new(),
        }
    };
    for key in DEP_KEYS {
        let want = names(pkg, key);
        let have = names(root, key);
        for (name, spec) in &want {
            let in_lock = have.get(name).or_else(|| {
                // npm may also list an optional dependency among the root's
                // dependencies.
                (key == "optionalDependencies")
                    .then(|| root.get("dependencies").and_then(|d| d.get(name)))
                    .flatten()
            });
            match in_lock {
                Some(s) if s == spec => {}
                Some(s) => {
                    return Err(out_of_date(format!(
                        "{key}.{name} is {spec} in package.json, {s} in the lock"
                    )))
                }
                None => {
                    return Err(out_of_date(format!(
                        "{key}.{name} is not in the lock's root entry"
                    )))
                }
            }
            if key != "optionalDependencies"
                && !packages.contains_key(&format!("node_modules/{name}"))
            {
                return Err(out_of_date(format!(
                    "node_modules/{name} is not in the lock"
                )));
            }
        }
        for name in have.keys() {
            let listed = want.contains_key(name)
                || (key == "dependencies" && names(pkg, "optionalDependencies").contains_key(name));
            if !listed {
                return Err(out_of_date(format!(
                    "the lock's root has {key}.{name}, package.json does not"
                )));
            }
        }
    }
    Ok(())
}

/// `https://<host>[/<prefix>]/<name>/-/<basename>-<version>.tgz`; returns the host.
fn check_resolved(url: &str, name: &str, version: &str) -> Result<String, String> {
    let Some(rest) = url.strip_prefix("https://") else {
        let what = if url.starts_with("git") || url.contains("git+") {
            "a git repository"
        } else if url.starts_with("file:") {
            "a local file"
        } else if url.starts_with("http://") {
            "a plain-http URL"
        } else {
            "not an https URL"
        };
        return Err(format!(
            "{what}: only registry tarballs over https are installed"
        ));
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() {
        return Err("no host".into());
    }
    if authority.contains('@') {
        return Err("the URL carries credentials: never commit them in a lock".into());
    }
    if url.contains(['?', '#']) {
        return Err("a registry tarball URL has no query or fragment".into());
    }
    let basename = name.rsplit('/').next().unwrap_or(name);
    let tail = format!("/-/{basename}-{version}.tgz");
    let path = format!("/{path}");
    let scoped_encoded = name.replacen('/', "%2f", 1);
    let at_name = |n: &str| {
        path.to_ascii_lowercase().ends_with(&format!(
            "/{}{}",
            n.to_ascii_lowercase(),
            tail.to_ascii_lowercase()
        ))
    };
    if !path.ends_with(&tail) || !(at_name(name) || at_name(&scoped_encoded)) {
        return Err(format!(
            "not a registry tarball of {name}@{version} (<registry>/{name}/-/{basename}-{version}.tgz)"
        ));
    }
    Ok(authority.to_ascii_lowercase())
}

/// Subresource-integrity text: one or more `alg-base64` digests, each of a known
/// algorithm and its length.
fn check_integrity(sri: &str) -> Result<(), String> {
    let mut any = false;
    for token in sri.split_whitespace() {
        any = true;
        let shown: String = token.chars().take(120).collect();
        let Some((alg, b64)) = token.split_once('-') else {
            return Err(format!("integrity {shown:?} is not <algorithm>-<base64>"));
        };
        let bytes: usize = match alg {
            "sha512" => 64,
            "sha384" => 48,
            "sha256" => 32,
            "sha1" => 20,
            _ => {
                return Err(format!(
                    "integrity algorithm {:?} is not sha512, sha384, sha256 or sha1",
                    alg.chars().take(20).collect::<String>()
                ))
            }
        };
        let len = bytes.div_ceil(3) * 4;
        let pad = (3 - bytes % 3) % 3;
        let body_ok = b64.len() == len
            && b64
                .bytes()
                .take(len - pad)
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
            && b64.bytes().skip(len - pad).all(|b| b == b'=');
        if !body_ok {
            return Err(format!(
                "integrity {shown:?} is not a {alg} digest in base64 ({len} characters)"
            ));
        }
    }
    if !any {
        return Err("integrity is empty".into());
    }
    Ok(())
}

/// serde_json's message without its " at line L column C".
fn json_reason(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// The line of the first `"key"` followed by `:` in JSON text (keys written with
/// escapes are not found).
fn key_line(text: &str, key: &str) -> Option<usize> {
    let needle = format!("\"{key}\"");
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let at = from + i;
        let after = text[at + needle.len()..].trim_start();
        if after.starts_with(':') {
            return Some(text[..at].bytes().filter(|&b| b == b'\n').count() + 1);
        }
        from = at + needle.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const H2: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    fn req_err(text: &str) -> (Option<usize>, String) {
        let e = check_requirements(text).unwrap_err();
        assert_eq!(e.file, DepsFile::Requirements);
        (e.line, e.message)
    }

    /// The message of refusing `line` as the only line of a file, checked to contain
    /// `want`, on line 1.
    fn refused(line: &str, want: &str) {
        let (n, m) = req_err(&format!("{line}\n"));
        assert_eq!(n, Some(1), "{line}: {m}");
        assert!(m.contains(want), "{line}:\n want …{want}…\n  got {m}");
    }

    #[test]
    fn a_hashed_requirements_file_is_accepted() {
        let text = format!(
            "# comment line\n\
             \n\
             requests==2.31.0 \\\n    --hash={H1} \\\n    --hash={H2}\n\
             Typing_Extensions[dev, test]===4.8.0 ; python_version >= \"3.8\" --hash {H1}  # why\n\
             pkg.name==1.0.post1+local --hash={}\n\
             sha512pkg==2!1.0 --hash=sha512:{}\n",
            H1.replace("sha256:0", "sha256:1"),
            "a".repeat(128)
        );
        let reqs = check_requirements(&text).unwrap();
        assert_eq!(reqs.len(), 4);
        assert_eq!(
            reqs[0],
            PinnedRequirement {
                name: "requests".into(),
                version: "2.31.0".into(),
                marker: None,
                hashes: vec![H1.into(), H2.into()],
            }
        );
        assert_eq!(reqs[1].name, "Typing_Extensions");
        assert_eq!(reqs[1].version, "4.8.0");
        assert_eq!(reqs[1].marker.as_deref(), Some("python_version >= \"3.8\""));
        assert_eq!(reqs[1].hashes, [H1]);
        assert_eq!(reqs[2].version, "1.0.post1+local");
        assert_eq!(reqs[3].version, "2!1.0");
        assert!(reqs[3].hashes[0].starts_with("sha512:"));
        // sha384 has its own length.
        let ok = check_requirements(&format!("a==1 --hash=sha384:{}\n", "0".repeat(96)));
        assert!(ok.is_ok(), "{ok:?}");
        // CRLF and a BOM.
        let ok = check_requirements(&format!("\u{feff}a==1 \\\r\n --hash={H1}\r\n"));
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn lines_join_and_comments_strip_as_pip_does() {
        // A `#` not after whitespace is not a comment: it stays in the version.
        refused(
            &format!("a==1#x --hash={H1}"),
            "a is not pinned to one version",
        );
        // A comment line ends a continuation: the hash on the next line is a line of
        // its own (an option line, refused), not part of `a==1`.
        let (n, m) = req_err(&format!("a==1 \\\n# note \\\n--hash={H1}\n"));
        assert_eq!(n, Some(1), "{m}");
        assert!(m.contains("a==1 has no --hash"), "{m}");
        // A comment on a continued line comments out the rest of the logical line.
        let (n, m) = req_err(&format!("\n\na==1 # note \\\n --hash={H1}\n"));
        assert_eq!(n, Some(3), "the line the logical line starts on: {m}");
        assert!(m.contains("has no --hash"), "{m}");
        // Errors name the physical line where the logical line starts.
        let text = format!("a==1 --hash={H1}\nb==2 \\\n  --hash={H1} \\\n  --hash=md5:00\n");
        let (n, m) = req_err(&text);
        assert_eq!(n, Some(2), "{m}");
        assert!(m.contains("not sha256, sha384 or sha512"), "{m}");
    }

    #[test]
    fn options_are_refused_by_what_they_do() {
        for (line, want) in [
            (
                "-r base.txt",
                "option -r includes another requirements file",
            ),
            ("-rbase.txt", "option -r includes another requirements file"),
            (
                "--requirement=base.txt",
                "option --requirement includes another",
            ),
            ("-c constraints.txt", "option -c names a constraints file"),
            (
                "--constraint c.txt",
                "option --constraint names a constraints file",
            ),
            (
                "-i https://example.org/simple",
                "option -i chooses where packages come from",
            ),
            (
                "--index-url=https://x/simple",
                "option --index-url chooses where",
            ),
            (
                "--extra-index-url https://x/simple",
                "option --extra-index-url chooses where",
            ),
            ("-f ./wheels", "option -f chooses where"),
            ("--find-links=./wheels", "option --find-links chooses where"),
            ("--no-index", "option --no-index chooses where"),
            (
                "--trusted-host example.org",
                "option --trusted-host chooses where",
            ),
            ("-e .", "option -e installs a local or VCS project"),
            (
                "--editable git+https://x/y",
                "option --editable installs a local",
            ),
            (
                "--pre",
                "option --pre is not allowed: each line is one requirement",
            ),
            ("--only-binary :all:", "option --only-binary is not allowed"),
        ] {
            refused(line, want);
        }
        // After a requirement too.
        refused(
            &format!("a==1 --hash={H1} --index-url https://x"),
            "option --index-url chooses where",
        );
        refused(
            "a==1 --global-option=x",
            "option --global-option is not allowed",
        );
    }

    #[test]
    fn urls_paths_and_vcs_are_refused() {
        for (line, want) in [
            (
                "pkg @ https://example.org/pkg-1.0.whl",
                "is a direct reference (name @ URL)",
            ),
            (
                "pkg@https://example.org/pkg-1.0.whl",
                "is a direct reference",
            ),
            ("pkg @ git+https://github.com/x/pkg", "is a VCS requirement"),
            ("https://example.org/pkg-1.0.tar.gz", "is a URL"),
            (
                "git+https://github.com/x/pkg#egg=pkg",
                "is a VCS requirement",
            ),
            ("hg+https://x/pkg", "is a VCS requirement"),
            ("svn+https://x/pkg", "is a VCS requirement"),
            ("bzr+https://x/pkg", "is a VCS requirement"),
            ("./pkg", "is a path"),
            ("/abs/pkg", "is a path"),
            ("pkg-1.0-py3-none-any.whl", "is a path"),
            ("pkg-1.0.tar.gz", "is a path"),
            ("sub/pkg", "is a path"),
        ] {
            refused(&format!("{line} --hash={H1}"), want);
        }
    }

    #[test]
    fn only_exact_pins_are_accepted() {
        for spec in [
            "pkg>=1.0",
            "pkg~=1.0",
            "pkg<2",
            "pkg!=1.0",
            "pkg==1.*",
            "pkg",
            "pkg>1",
            "pkg==1.0,<2",
            "pkg==",
            "pkg[x]",
            "pkg[x]>=1",
        ] {
            refused(
                &format!("{spec} --hash={H1}"),
                "is not pinned to one version",
            );
        }
        refused(
            &format!("pkg[x==1 --hash={H1}"),
            "the extras' [ is not closed",
        );
        refused(
            &format!("pkg[-x]==1 --hash={H1}"),
            "extra \"-x\" is not a valid name",
        );
        refused(&format!("-pkg==1 --hash={H1}"), "option -p");
        refused(
            &format!("pkg-==1 --hash={H1}"),
            "does not start with a package name",
        );
        refused(
            &format!("pkg==1 ; --hash={H1}"),
            "nothing after the marker's ;",
        );
    }

    #[test]
    fn every_requirement_needs_a_valid_hash() {
        refused("pkg==1.0", "pkg==1.0 has no --hash");
        refused("pkg==1.0 --hash", "--hash needs a value");
        refused("pkg==1.0 --hash=abc", "is not <algorithm>:<hex digest>");
        refused(
            "pkg==1.0 --hash=md5:d41d8cd98f00b204e9800998ecf8427e",
            "\"md5\" is not sha256",
        );
        refused(
            "pkg==1.0 --hash=sha256:abc",
            "a sha256 digest is 64 hex digits",
        );
        refused(
            &format!("pkg==1.0 --hash=sha256:{}", "g".repeat(64)),
            "a sha256 digest is 64 hex digits",
        );
        refused(
            &format!("pkg==1.0 --hash=sha512:{}", "a".repeat(64)),
            "a sha512 digest is 128 hex digits",
        );
        refused(
            &format!("pkg==1.0 --hash=sha384:{}", "a".repeat(64)),
            "a sha384 digest is 96 hex digits",
        );
        refused(
            &format!("pkg==1.0 --hash=sha256:{}", "A".repeat(64)),
            "write the digest in lowercase",
        );
    }

    #[test]
    fn duplicates_and_empty_files_are_refused() {
        let text = format!("Foo_Bar==1 --hash={H1}\nx==1 --hash={H1}\nfoo.bar==2 --hash={H2}\n");
        let (n, m) = req_err(&text);
        assert_eq!(n, Some(3));
        assert_eq!(
            m,
            "foo.bar is pinned twice (first on line 1): pin each package once"
        );
        for text in ["", "\n\n", "# only a comment\n   # another\n"] {
            let (n, m) = req_err(text);
            assert_eq!(n, None);
            assert!(m.starts_with("no requirement in the file"), "{m}");
        }
        assert_eq!(normalize_name("Foo__Bar.-baz"), "foo-bar-baz");
        let many: String = (0..=MAX_REQUIREMENTS)
            .map(|i| format!("p{i}==1 --hash={H1}\n"))
            .collect();
        assert_eq!(
            req_err(&many),
            (
                Some(MAX_REQUIREMENTS + 1),
                "more than 5000 requirements".to_owned()
            )
        );
        let big = "#".repeat(MAX_REQUIREMENTS_BYTES as usize + 1);
        assert!(req_err(&big).1.contains("larger than"));
    }

    // -- package-lock.json --------------------------------------------------

    /// A well-formed SRI digest of `alg` (all zero bytes).
    fn sri(alg: &str) -> String {
        let (chars, pad) = match alg {
            "sha512" => (86, "=="),
            "sha384" => (64, ""),
            "sha256" => (43, "="),
            "sha1" => (27, "="),
            _ => unreachable!(),
        };
        format!("{alg}-{}{pad}", "A".repeat(chars))
    }

    const PKG: &str = r#"{
  "name": "ex",
  "version": "1.0.0",
  "scripts": { "test": "node --test" },
  "dependencies": { "left-pad": "^1.3.0", "@scope/lib": "~2.0.0" },
  "devDependencies": { "chai": "4.3.10" },
  "optionalDependencies": { "fsevents": "^2.3.2" }
}"#;

    fn lock_json() -> Value {
        serde_json::json!({
            "name": "ex",
            "version": "1.0.0",
            "lockfileVersion": 3,
            "requires": true,
            "packages": {
                "": {
                    "name": "ex",
                    "version": "1.0.0",
                    "dependencies": { "left-pad": "^1.3.0", "@scope/lib": "~2.0.0" },
                    "devDependencies": { "chai": "4.3.10" },
                    "optionalDependencies": { "fsevents": "^2.3.2" }
                },
                "node_modules/left-pad": {
                    "version": "1.3.0",
                    "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
                    "integrity": sri("sha512")
                },
                "node_modules/@scope/lib": {
                    "version": "2.0.1",
                    "resolved": "https://npm.example.org:8443/api/npm/@scope/lib/-/lib-2.0.1.tgz",
                    "integrity": format!("{} {}", sri("sha1"), sri("sha256"))
                },
                "node_modules/@scope/lib/node_modules/dep": {
                    "version": "0.1.0",
                    "resolved": "https://registry.npmjs.org/dep/-/dep-0.1.0.tgz",
                    "integrity": sri("sha384")
                },
                "node_modules/@scope/lib/node_modules/bundled": {
                    "version": "0.2.0",
                    "inBundle": true
                },
                "node_modules/chai": {
                    "version": "4.3.10",
                    "resolved": "https://registry.npmjs.org/chai/-/chai-4.3.10.tgz",
                    "integrity": sri("sha512"),
                    "dev": true
                },
                "node_modules/fsevents": {
                    "version": "2.3.3",
                    "resolved": "https://registry.npmjs.org/fsevents/-/fsevents-2.3.3.tgz",
                    "integrity": sri("sha512"),
                    "hasInstallScript": true,
                    "optional": true
                },
                "node_modules/pad-alias": {
                    "name": "left-pad",
                    "version": "1.1.0",
                    "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.1.0.tgz",
                    "integrity": sri("sha512")
                }
            }
        })
    }

    fn lock_text(v: &Value) -> String {
        serde_json::to_string_pretty(v).unwrap()
    }

    fn entry<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
        v["packages"][key].as_object_mut().unwrap()
    }

    /// Checks `lock` with `pkg`; the error's file, line and message.
    fn lock_err(lock: &str, pkg: &str) -> (DepsFile, Option<usize>, String) {
        let e = check_package_lock(lock, pkg).unwrap_err();
        (e.file, e.line, e.message)
    }

    fn lock_refused(v: &Value, want: &str) -> (DepsFile, Option<usize>) {
        let (file, line, m) = lock_err(&lock_text(v), PKG);
        assert!(m.contains(want), "want …{want}…\n got {m}");
        (file, line)
    }

    #[test]
    fn a_valid_lock_is_accepted_with_its_hosts() {
        let s = check_package_lock(&lock_text(&lock_json()), PKG).unwrap();
        assert_eq!(s.packages, 7);
        let hosts: Vec<&str> = s.registry_hosts.iter().map(String::as_str).collect();
        assert_eq!(hosts, ["npm.example.org:8443", "registry.npmjs.org"]);
        // lockfileVersion 2, and an entry without resolved (fetched by name from the
        // configured registry, checked by integrity).
        let mut v = lock_json();
        v["lockfileVersion"] = 2.into();
        entry(&mut v, "node_modules/chai").remove("resolved");
        let s = check_package_lock(&lock_text(&v), PKG).unwrap();
        assert_eq!(s.registry_hosts.len(), 2);
        // A scope encoded as %2f.
        let mut v = lock_json();
        entry(&mut v, "node_modules/@scope/lib")["resolved"] =
            "https://r.example/@scope%2flib/-/lib-2.0.1.tgz".into();
        assert!(check_package_lock(&lock_text(&v), PKG).is_ok());
    }

    #[test]
    fn lock_versions_and_shape() {
        let mut v = lock_json();
        v["lockfileVersion"] = 1.into();
        let (_, line) = lock_refused(
            &v,
            "lockfileVersion 1 has no packages map: regenerate with npm ≥ 7",
        );
        let text = lock_text(&v);
        let want = text
            .lines()
            .position(|l| l.contains("\"lockfileVersion\""))
            .unwrap()
            + 1;
        assert_eq!(line, Some(want));
        v["lockfileVersion"] = 4.into();
        lock_refused(&v, "lockfileVersion 4 is not 2 or 3");
        v.as_object_mut().unwrap().remove("lockfileVersion");
        lock_refused(&v, "no lockfileVersion");
        let mut v = lock_json();
        v.as_object_mut().unwrap().remove("packages");
        lock_refused(&v, "no packages map");
        let mut v = lock_json();
        v["packages"].as_object_mut().unwrap().remove("");
        lock_refused(&v, "packages has no root entry");
        let (file, line, m) = lock_err("{\n  \"lockfileVersion\": 3,\n  oops\n}", PKG);
        assert_eq!((file, line), (DepsFile::PackageLock, Some(3)));
        assert!(m.starts_with("not valid JSON: key must be a string"), "{m}");
        assert_eq!(lock_err("[]", PKG).2, "not a JSON object");
    }

    #[test]
    fn lock_caps() {
        let big = " ".repeat(MAX_LOCK_BYTES as usize + 1);
        assert!(lock_err(&big, PKG).2.contains("larger than 8 MiB"));
        let mut v = lock_json();
        let packages = v["packages"].as_object_mut().unwrap();
        for i in 0..MAX_LOCK_ENTRIES {
            packages.insert(
                format!("node_modules/p{i}"),
                serde_json::json!({
                    "version": "1.0.0",
                    "resolved": format!("https://registry.npmjs.org/p{i}/-/p{i}-1.0.0.tgz"),
                    "integrity": sri("sha512"),
                }),
            );
        }
        lock_refused(&v, "more than the 5000 Gauntlet installs");
    }

    #[test]
    fn package_json_install_scripts_are_refused() {
        let lock = lock_text(&lock_json());
        for script in INSTALL_SCRIPTS {
            let pkg = PKG.replace("\"test\": \"node --test\"", &format!("\"{script}\": \"x\""));
            let (file, line, m) = lock_err(&lock, &pkg);
            assert_eq!((file, line), (DepsFile::PackageJson, Some(4)), "{m}");
            assert_eq!(
                m,
                format!(
                    "scripts.{script} would never run (dependencies install with \
                     --ignore-scripts): the package must not rely on it; remove it"
                )
            );
        }
        // Other scripts are the package's business.
        let pkg = PKG.replace("\"test\"", "\"build\"");
        assert!(check_package_lock(&lock, &pkg).is_ok());
    }

    #[test]
    fn package_json_specs_must_be_registry_ranges() {
        let lock = lock_text(&lock_json());
        for (spec, why) in [
            ("git+https://github.com/x/y.git", "a git repository"),
            ("git://github.com/x/y.git", "a git repository"),
            ("github:x/y", "a GitHub repository"),
            ("x/y", "a GitHub shorthand (user/repo)"),
            ("x/y#v1", "a GitHub shorthand"),
            ("https://example.org/y.tgz", "a tarball URL"),
            ("http://example.org/y.tgz", "a tarball URL"),
            ("file:../y", "a local path"),
            ("../y", "a local path"),
            ("link:../y", "a local link"),
            ("workspace:*", "a workspace package"),
            ("npm:other@github:x/y", "a GitHub repository"),
        ] {
            let pkg = PKG.replace("\"^1.3.0\"", &format!("{spec:?}"));
            let (file, line, m) = lock_err(&lock, &pkg);
            assert_eq!(
                (file, line),
                (DepsFile::PackageJson, Some(5)),
                "{spec}: {m}"
            );
            assert!(
                m.starts_with(&format!("dependencies.left-pad is {spec:?}: {why}")),
                "{spec}: {m}"
            );
        }
        for (map, name) in [
            ("devDependencies", "chai"),
            ("optionalDependencies", "fsevents"),
        ] {
            let pkg = PKG.replace(&format!("\"{name}\": \""), &format!("\"{name}\": \"file:"));
            let m = lock_err(&lock, &pkg).2;
            assert!(m.starts_with(&format!("{map}.{name} is \"file:")), "{m}");
        }
        for key in ["bundledDependencies", "bundleDependencies"] {
            let pkg = PKG.replace(
                "\"version\": \"1.0.0\",",
                &format!("\"{key}\": [\"left-pad\"],"),
            );
            let (file, _, m) = lock_err(&lock, &pkg);
            assert_eq!(file, DepsFile::PackageJson);
            assert!(m.starts_with(&format!("{key} is not supported")), "{m}");
        }
        for (pkg, want) in [
            (
                PKG.replace("{ \"chai\": \"4.3.10\" }", "[\"chai\"]"),
                "devDependencies is not an object",
            ),
            (
                PKG.replace("\"4.3.10\"", "4"),
                "devDependencies.chai is not a string",
            ),
            (
                PKG.replace("{ \"test\": \"node --test\" }", "\"x\""),
                "scripts is not an object",
            ),
            ("[]".to_owned(), "not a JSON object"),
        ] {
            let (file, _, m) = lock_err(&lock, &pkg);
            assert_eq!((file, m.as_str()), (DepsFile::PackageJson, want));
        }
        let (file, line, m) = lock_err(&lock, "{ \"name\": ");
        assert_eq!((file, line), (DepsFile::PackageJson, Some(1)));
        assert!(m.starts_with("not valid JSON"), "{m}");
        // A registry alias is a registry version.
        assert_eq!(check_spec("npm:@scope/other@^1.0.0"), Ok(()));
        assert_eq!(check_spec("latest"), Ok(()));
        assert_eq!(check_spec(">=1.2.3 <2 || 3.x"), Ok(()));
    }

    #[test]
    fn the_lock_must_match_package_json() {
        let lock = lock_text(&lock_json());
        for (pkg, want) in [
            (
                PKG.replace("^1.3.0", "^1.4.0"),
                "dependencies.left-pad is \"^1.4.0\" in package.json, \"^1.3.0\" in the lock",
            ),
            (
                PKG.replace(
                    "\"chai\": \"4.3.10\"",
                    "\"chai\": \"4.3.10\", \"mocha\": \"10.0.0\"",
                ),
                "devDependencies.mocha is not in the lock's root entry",
            ),
            (
                PKG.replace("\"fsevents\": \"^2.3.2\"", ""),
                "the lock's root has optionalDependencies.fsevents, package.json does not",
            ),
            (
                PKG.replace("\"left-pad\": \"^1.3.0\", ", ""),
                "the lock's root has dependencies.left-pad, package.json does not",
            ),
        ] {
            let (file, _, m) = lock_err(&lock, &pkg);
            assert_eq!(file, DepsFile::PackageLock);
            assert!(
                m.starts_with("package-lock.json is out of date with package.json ("),
                "{m}"
            );
            assert!(m.contains(want), "want …{want}…\n got {m}");
            assert!(
                m.ends_with("run npm install --package-lock-only --ignore-scripts"),
                "{m}"
            );
        }
        // A dependency the root lists but no entry installs.
        let mut v = lock_json();
        v["packages"]
            .as_object_mut()
            .unwrap()
            .remove("node_modules/chai");
        lock_refused(&v, "node_modules/chai is not in the lock");
        // An optional dependency may have no entry (another platform's).
        let mut v = lock_json();
        v["packages"]
            .as_object_mut()
            .unwrap()
            .remove("node_modules/fsevents");
        assert!(check_package_lock(&lock_text(&v), PKG).is_ok());
        // npm may also list an optional dependency among the root's dependencies.
        let mut v = lock_json();
        entry(&mut v, "")["dependencies"]["fsevents"] = "^2.3.2".into();
        assert!(check_package_lock(&lock_text(&v), PKG).is_ok());
    }

    #[test]
    fn entries_are_registry_tarballs_pinned_by_integrity() {
        let at = |key: &str, field: &str, value: Value, want: &str| {
            let mut v = lock_json();
            entry(&mut v, key).insert(field.into(), value);
            let text = lock_text(&v);
            let (file, line, m) = lock_err(&text, PKG);
            assert!(m.contains(want), "{key}.{field}: want …{want}…\n got {m}");
            let key_at = text
                .lines()
                .position(|l| l.contains(&format!("\"{key}\":")))
                .unwrap()
                + 1;
            assert_eq!((file, line), (DepsFile::PackageLock, Some(key_at)), "{m}");
        };
        let lp = "node_modules/left-pad";
        at(lp, "resolved", "git+ssh://git@github.com/x/left-pad.git#abc".into(),
            "left-pad is resolved to \"git+ssh://git@github.com/x/left-pad.git#abc\": a git repository");
        at(
            lp,
            "resolved",
            "file:../left-pad".into(),
            "left-pad is resolved to \"file:../left-pad\": a local file",
        );
        at(
            lp,
            "resolved",
            "http://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz".into(),
            "a plain-http URL",
        );
        at(
            lp,
            "resolved",
            "https://example.org/downloads/left-pad.tgz".into(),
            "not a registry tarball of left-pad@1.3.0 (<registry>/left-pad/-/left-pad-1.3.0.tgz)",
        );
        at(
            lp,
            "resolved",
            "https://registry.npmjs.org/left-pad/-/left-pad-1.2.0.tgz".into(),
            "not a registry tarball",
        );
        at(
            lp,
            "resolved",
            "https://registry.npmjs.org/evil/-/left-pad-1.3.0.tgz".into(),
            "not a registry tarball",
        );
        at(
            lp,
            "resolved",
            "https://u:p@registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz".into(),
            "carries credentials",
        );
        at(
            lp,
            "resolved",
            "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz?x=1".into(),
            "no query or fragment",
        );
        at(
            lp,
            "resolved",
            "https:///left-pad/-/left-pad-1.3.0.tgz".into(),
            "no host",
        );
        at(
            lp,
            "resolved",
            3.into(),
            "left-pad: resolved is not a string",
        );
        at(
            lp,
            "link",
            true.into(),
            "left-pad is a link to a local folder",
        );
        at(
            lp,
            "integrity",
            3.into(),
            "left-pad: integrity is not a string",
        );
        at(lp, "name", 3.into(), "left-pad: name is not a string");
        at(
            lp,
            "integrity",
            "md5-AAAA".into(),
            "integrity algorithm \"md5\" is not sha512",
        );
        at(
            lp,
            "integrity",
            "sha512-AAAA".into(),
            "is not a sha512 digest in base64 (88 characters)",
        );
        at(
            lp,
            "integrity",
            sri("sha512").replace("A==", "!==").into(),
            "is not a sha512 digest in base64",
        );
        at(lp, "integrity", "".into(), "integrity is empty");
        at(
            lp,
            "integrity",
            "deadbeef".into(),
            "is not <algorithm>-<base64>",
        );
        at(
            lp,
            "hasInstallScript",
            true.into(),
            "left-pad wants lifecycle scripts (install/postinstall), which Gauntlet never runs",
        );
        at(
            "node_modules/@scope/lib/node_modules/bundled",
            "hasInstallScript",
            true.into(),
            "bundled wants lifecycle scripts",
        );
        // Missing integrity, missing version.
        let mut v = lock_json();
        entry(&mut v, lp).remove("integrity");
        lock_refused(&v, "left-pad is not pinned by integrity");
        let mut v = lock_json();
        entry(&mut v, lp).remove("version");
        lock_refused(&v, "left-pad has no version");
        // An alias fetches its real name.
        let mut v = lock_json();
        entry(&mut v, "node_modules/pad-alias").remove("name");
        lock_refused(&v, "not a registry tarball of pad-alias@1.1.0");
        // Not under node_modules/ (a workspace folder).
        let mut v = lock_json();
        v["packages"]["packages/a"] = serde_json::json!({ "version": "1.0.0" });
        lock_refused(
            &v,
            "packages/a is not under node_modules/: workspaces and local folders",
        );
    }

    #[test]
    fn errors_show_their_line() {
        let e = DepsError {
            file: DepsFile::Requirements,
            line: Some(3),
            message: "m".into(),
        };
        assert_eq!(e.to_string(), "line 3: m");
        assert_eq!(DepsError { line: None, ..e }.to_string(), "m");
    }

    #[test]
    fn key_lines_are_found() {
        let text = "{\n  \"a\": {\n    \"b\": 1, \"x\" : \"b\"\n  },\n  \"b\": 2\n}";
        assert_eq!(key_line(text, "b"), Some(3));
        assert_eq!(key_line(text, "x"), Some(3));
        assert_eq!(key_line(text, "c"), None);
        let text = "{\"s\": \"b\",\n \"b\": 1}";
        assert_eq!(key_line(text, "b"), Some(2), "a value is not a key");
    }
}
