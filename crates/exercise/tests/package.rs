//! Package folders on disk: layout rules, symlinks, and the content hash.

mod common;

use std::os::unix::fs::symlink;

use common::{package, write_tree, MANIFEST};
use gauntlet_exercise::{content_hash, load, Isolation, LoadError, Maxima};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn valid_package_loads() {
    let t = tmp();
    let dir = package(t.path());
    let ex = load(&dir, &Maxima::default()).unwrap();
    assert_eq!(ex.id.as_str(), "reverse-words");
    assert_eq!(ex.dir, dir);
    assert_eq!(ex.content_hash.len(), 64);
    assert!(ex.content_hash.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(ex.content_hash, content_hash(&dir).unwrap());
}

#[test]
fn a_loaded_package_keeps_its_isolation() {
    let t = tmp();
    let dir = package(t.path());
    let ex = load(&dir, &Maxima::default()).unwrap();
    assert_eq!(ex.isolation, Isolation::Namespaces);
    std::fs::write(
        dir.join("exercise.yaml"),
        format!("{MANIFEST}isolation: gvisor\n"),
    )
    .unwrap();
    let ex = load(&dir, &Maxima::default()).unwrap();
    assert_eq!(ex.isolation, Isolation::Gvisor);
}

#[test]
fn content_hash_covers_paths_and_contents() {
    let t = tmp();
    let dir = package(t.path());
    let h0 = content_hash(&dir).unwrap();
    assert_eq!(h0, content_hash(&dir).unwrap(), "stable");

    // Contents.
    std::fs::write(dir.join("tests/run.py"), "print('1..2')\n").unwrap();
    let h1 = content_hash(&dir).unwrap();
    assert_ne!(h0, h1);
    // Path only: same bytes under another name.
    std::fs::rename(dir.join("tests/run.py"), dir.join("tests/run2.py")).unwrap();
    let h2 = content_hash(&dir).unwrap();
    assert_ne!(h1, h2);
    // A new empty file.
    std::fs::write(dir.join("tests/empty"), "").unwrap();
    assert_ne!(h2, content_hash(&dir).unwrap());
    // Framing: moving a byte from a path into contents changes the hash.
    let a = tmp();
    write_tree(a.path(), &[("ab", "c")]);
    let b = tmp();
    write_tree(b.path(), &[("a", "bc")]);
    assert_ne!(
        content_hash(a.path()).unwrap(),
        content_hash(b.path()).unwrap()
    );
}

/// (what to do to a valid package, the expected error with `{dir}` for the package path)
type Case = (&'static str, fn(&std::path::Path), &'static str);

#[test]
fn layout_table() {
    let table: &[Case] = &[
        ("symlink in tests", |d| symlink("/etc/passwd", d.join("tests/passwd")).unwrap(),
            "{dir}/tests/passwd: symlinks are not allowed in a package"),
        ("symlinked starter dir", |d| {
            std::fs::rename(d.join("starter"), d.join("real-starter")).unwrap();
            symlink("real-starter", d.join("starter")).unwrap();
        }, "{dir}/starter: symlinks are not allowed in a package"),
        ("exercise.yaml is a symlink", |d| {
            std::fs::rename(d.join("exercise.yaml"), d.join("other.yaml")).unwrap();
            symlink("other.yaml", d.join("exercise.yaml")).unwrap();
        }, "{dir}/exercise.yaml: symlinks are not allowed in a package"),
        ("fifo", |d| {
            let ok = std::process::Command::new("mkfifo").arg(d.join("tests/pipe")).status().unwrap();
            assert!(ok.success());
        }, "{dir}/tests/pipe: not a regular file or folder"),
        ("no tests/", |d| std::fs::remove_dir_all(d.join("tests")).unwrap(),
            "{dir}/tests: missing folder"),
        ("no solution/", |d| std::fs::remove_dir_all(d.join("solution")).unwrap(),
            "{dir}/solution: missing folder"),
        ("no starter/", |d| std::fs::remove_dir_all(d.join("starter")).unwrap(),
            "{dir}/starter: missing folder"),
        ("starter file missing", |d| std::fs::remove_file(d.join("starter/words.py")).unwrap(),
            "{dir}/starter/words.py: listed in starter.files but not a file in starter/"),
        ("starter file over max_bytes", |d| {
            std::fs::write(d.join("starter/words.py"), "x".repeat(65537)).unwrap()
        }, "{dir}/starter/words.py: starter file is larger than its max_bytes (64KiB)"),
        ("solution writes a non-starter path", |d| {
            std::fs::write(d.join("solution/helper.py"), "x = 1\n").unwrap()
        }, "{dir}/solution: solution is not a valid submission: helper.py: not a starter file of this exercise"),
        ("solution not UTF-8", |d| {
            std::fs::write(d.join("solution/words.py"), b"\xff\xfe").unwrap()
        }, "{dir}/solution: solution is not a valid submission: words.py: not valid UTF-8 text"),
        ("id differs from folder", |d| {
            std::fs::write(d.join("exercise.yaml"), MANIFEST.replace("id: reverse-words", "id: reverse")).unwrap()
        }, "{dir}/exercise.yaml:1: id: id \"reverse\" differs from the package folder name \"reverse-words\""),
        ("oversized exercise.yaml is not parsed", |d| {
            // Invalid YAML: had it been parsed, the error would be a YAML one.
            std::fs::write(d.join("exercise.yaml"), "[".repeat((64 << 10) + 1)).unwrap()
        }, "{dir}/exercise.yaml: file is larger than the 64KiB cap"),
        ("hidden path not in starter/", |d| {
            std::fs::write(d.join("exercise.yaml"), format!("{MANIFEST}hidden: [answers.json]\n")).unwrap()
        }, "{dir}/starter/answers.json: listed in hidden but not a file or folder in starter/ (tests/ is always hidden)"),
        ("solution folder empty", |d| std::fs::remove_file(d.join("solution/words.py")).unwrap(),
            "{dir}/solution: the solution has no files: expected solution/words.py (the reference answer, at the paths of starter.files)"),
        ("test command names a missing test file", |d| {
            std::fs::write(d.join("exercise.yaml"), MANIFEST.replace("tests/run.py", "tests/runn.py")).unwrap()
        }, "{dir}/exercise.yaml:14: test.command[1]: tests/runn.py is not in the package's tests/ folder (it has run.py): check the path"),
        ("test command names a missing test file, ./ spelling", |d| {
            std::fs::write(d.join("exercise.yaml"), MANIFEST.replace("tests/run.py", "./tests/run_all.py")).unwrap()
        }, "{dir}/exercise.yaml:14: test.command[1]: ./tests/run_all.py is not in the package's tests/ folder (it has run.py): check the path"),
        ("test command names a file of an empty tests/", |d| {
            std::fs::remove_file(d.join("tests/run.py")).unwrap()
        }, "{dir}/exercise.yaml:14: test.command[1]: tests/run.py is not in the package's tests/ folder (it is empty): check the path"),
        ("limits over the maxima", |d| {
            std::fs::write(d.join("exercise.yaml"), MANIFEST.replace("memory: 512MiB", "memory: 4GiB")).unwrap()
        }, "{dir}/exercise.yaml:12: limits.memory: memory 4GiB is above the server maximum 1GiB"),
    ];
    let mut failures = Vec::new();
    for (what, mutate, want) in table {
        let t = tmp();
        let dir = package(t.path());
        mutate(&dir);
        let want = want.replace("{dir}", dir.to_str().unwrap());
        match load(&dir, &Maxima::default()) {
            Ok(_) => failures.push(format!("{what}: loaded")),
            Err(e) if e.to_string() != want => {
                failures.push(format!("{what}:\n want {want}\n  got {e}"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hidden_paths_of_starter_load() {
    let t = tmp();
    let dir = package(t.path());
    std::fs::write(
        dir.join("exercise.yaml"),
        format!("{MANIFEST}hidden: [answers.json, data]\n"),
    )
    .unwrap();
    std::fs::write(dir.join("starter/answers.json"), "{}").unwrap();
    std::fs::create_dir(dir.join("starter/data")).unwrap();
    std::fs::write(dir.join("starter/data/x.txt"), "x").unwrap();
    let ex = load(&dir, &Maxima::default()).unwrap();
    let hidden: Vec<&str> = ex.hidden.iter().map(|p| p.as_str()).collect();
    assert_eq!(hidden, ["answers.json", "data"]);
}

#[test]
fn test_command_paths_that_exist_load() {
    // A folder under tests/, a nested file, and arguments that are not tests/ paths.
    let t = tmp();
    let dir = package(t.path());
    write_tree(&dir, &[("tests/unit/a_test.js", "")]);
    for command in [
        r#"["python3", "tests/run.py"]"#,
        r#"["node", "--test", "tests/unit/a_test.js"]"#,
        r#"["node", "--test", "tests/unit/"]"#,
        r#"["sh", "-c", "python3 tests/whatever.py"]"#,
        r#"["python3", "solution_helper.py", "tests"]"#,
    ] {
        let yaml = MANIFEST.replace(r#"["python3", "tests/run.py"]"#, command);
        std::fs::write(dir.join("exercise.yaml"), yaml).unwrap();
        if let Err(e) = load(&dir, &Maxima::default()) {
            panic!("{command}: {e}");
        }
    }
}

#[test]
fn an_unknown_runtime_names_the_line_and_the_choices() {
    use gauntlet_exercise::{load_with, LoadOptions};
    let known: Vec<String> = ["shell", "python", "node", "hardhat"]
        .map(String::from)
        .to_vec();
    let options = LoadOptions {
        maxima: Maxima::default(),
        runtimes: Some(known),
    };
    let t = tmp();
    let dir = package(t.path());
    let table = [
        (
            "python3",
            r#":3: runtime: unknown runtime "python3": expected one of shell, python, node, hardhat (did you mean "python"?)"#,
        ),
        (
            "nodejs",
            r#":3: runtime: unknown runtime "nodejs": expected one of shell, python, node, hardhat (did you mean "node"?)"#,
        ),
        (
            "bash",
            r#":3: runtime: unknown runtime "bash": expected one of shell, python, node, hardhat"#,
        ),
        (
            "Python",
            r#":3: runtime: unknown runtime "Python": expected one of shell, python, node, hardhat (did you mean "python"?)"#,
        ),
    ];
    for (runtime, want) in table {
        let yaml = MANIFEST.replace("runtime: python", &format!("runtime: {runtime}"));
        std::fs::write(dir.join("exercise.yaml"), yaml).unwrap();
        let got = load_with(&dir, &options).unwrap_err().to_string();
        let want = format!("{}{want}", dir.join("exercise.yaml").display());
        assert_eq!(got, want);
        // Without the list, any well-formed name loads (the caller checks it).
        if runtime != "Python" {
            assert!(load(&dir, &Maxima::default()).is_ok(), "{runtime}");
        }
    }
    std::fs::write(dir.join("exercise.yaml"), MANIFEST).unwrap();
    assert!(load_with(&dir, &options).is_ok());
}

#[test]
fn archive_solution_may_not_touch_tests() {
    let t = tmp();
    let dir = package(t.path());
    std::fs::write(
        dir.join("exercise.yaml"),
        MANIFEST.replace("submission: files", "submission: archive"),
    )
    .unwrap();
    write_tree(&dir, &[("solution/lib/extra.py", "x = 1\n")]);
    assert!(
        load(&dir, &Maxima::default()).is_ok(),
        "any other path is fine (the starter file is at the root)"
    );
    write_tree(&dir, &[("solution/tests/run.py", "print('1..0')\n")]);
    let e = load(&dir, &Maxima::default()).unwrap_err();
    assert!(matches!(e, LoadError::Layout { .. }), "{e}");
    assert!(
        e.to_string().ends_with(
            "solution/tests/run.py: solution file is inside tests/, which submissions never write"
        ),
        "{e}"
    );
}

#[test]
fn an_archive_solution_follows_the_layout_its_learners_must() {
    let t = tmp();
    let dir = package(t.path());
    let yaml = MANIFEST
        .replace("submission: files", "submission: archive")
        .replace("- path: words.py", "- path: pkg/words.py");
    std::fs::write(dir.join("exercise.yaml"), yaml).unwrap();
    std::fs::create_dir(dir.join("starter/pkg")).unwrap();
    std::fs::rename(
        dir.join("starter/words.py"),
        dir.join("starter/pkg/words.py"),
    )
    .unwrap();
    // The solution at the root instead of under pkg/: what a learner's archive may not be.
    let e = load(&dir, &Maxima::default()).unwrap_err().to_string();
    assert!(
        e.ends_with("solution: the solution would be refused as an archive: the archive's files are not where this exercise expects them: it expects pkg/words.py (paths from the archive's root), and the archive has words.py"),
        "{e}"
    );
    std::fs::create_dir(dir.join("solution/pkg")).unwrap();
    std::fs::rename(
        dir.join("solution/words.py"),
        dir.join("solution/pkg/words.py"),
    )
    .unwrap();
    write_tree(&dir, &[("solution/pkg/extra.py", "x = 1\n")]);
    assert!(load(&dir, &Maxima::default()).is_ok());
    write_tree(&dir, &[("solution/notes.txt", "x\n")]);
    let e = load(&dir, &Maxima::default()).unwrap_err().to_string();
    assert!(e.ends_with("notes.txt: outside the exercise's layout: files go under pkg/ (it expects pkg/words.py)"), "{e}");
}

#[test]
fn package_folder_itself_may_not_be_a_symlink() {
    let t = tmp();
    let dir = package(t.path());
    let link = t.path().join("link");
    symlink(&dir, &link).unwrap();
    assert!(matches!(
        load(&link, &Maxima::default()),
        Err(LoadError::Symlink { .. })
    ));
}

// ---------------------------------------------------------------------------
// dependencies:

const HASH: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn requirements() -> String {
    format!("# pinned\nrequests==2.31.0 \\\n    --hash={HASH}\n")
}

const PACKAGE_JSON: &str = r#"{
  "name": "ex",
  "dependencies": { "left-pad": "^1.3.0" }
}
"#;

fn package_lock() -> String {
    let sri = format!("sha512-{}==", "A".repeat(86));
    format!(
        r#"{{
  "lockfileVersion": 3,
  "packages": {{
    "": {{ "name": "ex", "dependencies": {{ "left-pad": "^1.3.0" }} }},
    "node_modules/left-pad": {{
      "version": "1.3.0",
      "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
      "integrity": "{sri}"
    }}
  }}
}}
"#
    )
}

/// The valid package with `dependencies: { python: requirements.txt }` and its file.
fn python_package(tmp: &std::path::Path) -> std::path::PathBuf {
    let dir = package(tmp);
    write_tree(
        &dir,
        &[
            (
                "exercise.yaml",
                &format!("{MANIFEST}dependencies:\n  python: requirements.txt\n"),
            ),
            ("requirements.txt", &requirements()),
        ],
    );
    dir
}

/// The valid package as a node one with `dependencies: { node: js/package-lock.json }`.
fn node_package(tmp: &std::path::Path) -> std::path::PathBuf {
    let dir = package(tmp);
    let yaml = MANIFEST.replace("runtime: python", "runtime: node")
        + "dependencies:\n  node: js/package-lock.json\n";
    write_tree(
        &dir,
        &[
            ("exercise.yaml", &yaml),
            ("js/package.json", PACKAGE_JSON),
            ("js/package-lock.json", &package_lock()),
        ],
    );
    dir
}

#[test]
fn packages_with_dependencies_load_and_hash_their_locks() {
    let t = tmp();
    let dir = python_package(t.path());
    let ex = load(&dir, &Maxima::default()).unwrap();
    let deps = ex.dependencies.unwrap();
    assert_eq!(deps.python.unwrap().as_str(), "requirements.txt");
    assert_eq!(deps.node, None);
    // The lock is part of the version.
    let before = ex.content_hash;
    std::fs::write(dir.join("requirements.txt"), requirements() + "\n").unwrap();
    assert_ne!(before, load(&dir, &Maxima::default()).unwrap().content_hash);

    let t = tmp();
    let dir = node_package(t.path());
    let ex = load(&dir, &Maxima::default()).unwrap();
    assert_eq!(
        ex.dependencies.unwrap().node.unwrap().as_str(),
        "js/package-lock.json"
    );
    let before = ex.content_hash;
    std::fs::write(
        dir.join("js/package.json"),
        PACKAGE_JSON.replace("ex", "ex2"),
    )
    .unwrap();
    assert_ne!(before, load(&dir, &Maxima::default()).unwrap().content_hash);
}

#[test]
fn build_loads_onto_the_exercise() {
    let t = tmp();
    let dir = package(t.path());
    std::fs::write(
        dir.join("exercise.yaml"),
        format!(
            "{MANIFEST}build:\n  command: [python3, -m, compileall, .]\n  keep_sources: false\n"
        ),
    )
    .unwrap();
    let build = load(&dir, &Maxima::default()).unwrap().build.unwrap();
    assert_eq!(build.command, ["python3", "-m", "compileall", "."]);
    assert!(!build.keep_sources);
}

#[test]
fn dependency_files_table() {
    let table: &[Case] = &[
        ("requirements.txt missing", |d| std::fs::remove_file(d.join("requirements.txt")).unwrap(),
            "{dir}/requirements.txt: named by dependencies.python but not a file in the package"),
        ("requirements.txt is a folder", |d| {
            std::fs::remove_file(d.join("requirements.txt")).unwrap();
            write_tree(d, &[("requirements.txt/x", "")]);
        }, "{dir}/requirements.txt: named by dependencies.python but not a file in the package"),
        ("requirements.txt is a symlink", |d| {
            std::fs::rename(d.join("requirements.txt"), d.join("real.txt")).unwrap();
            symlink("real.txt", d.join("requirements.txt")).unwrap();
        }, "{dir}/requirements.txt: symlinks are not allowed in a package"),
        ("requirement without a hash", |d| {
            std::fs::write(d.join("requirements.txt"), "# pinned\n\nrequests==2.31.0\n").unwrap()
        }, "{dir}/requirements.txt:3: requests==2.31.0 has no --hash: every requirement needs its digests (--hash=sha256:…), so that pip installs exactly the files they name"),
        ("requirement with an index", |d| {
            std::fs::write(d.join("requirements.txt"), "--index-url https://example.org/simple\n").unwrap()
        }, "{dir}/requirements.txt:1: option --index-url chooses where packages come from, which is the operator's setting (GAUNTLET_PACKAGE_HOSTS, mirrors), not the package's"),
        ("empty requirements", |d| std::fs::write(d.join("requirements.txt"), "# nothing\n").unwrap(),
            "{dir}/requirements.txt: no requirement in the file: pin at least one package (name==version --hash=sha256:…), or leave dependencies.python out"),
        ("requirements not UTF-8", |d| std::fs::write(d.join("requirements.txt"), b"\xff\xfe").unwrap(),
            "{dir}/requirements.txt: not UTF-8 text"),
        ("requirements too large", |d| {
            std::fs::write(d.join("requirements.txt"), "#".repeat((4 << 20) + 1)).unwrap()
        }, "{dir}/requirements.txt: file is larger than the 4MiB cap"),
    ];
    run_table(table, python_package);
    let table: &[Case] = &[
        ("lock missing", |d| std::fs::remove_file(d.join("js/package-lock.json")).unwrap(),
            "{dir}/js/package-lock.json: named by dependencies.node but not a file in the package"),
        ("package.json missing", |d| std::fs::remove_file(d.join("js/package.json")).unwrap(),
            "{dir}/js/package.json: dependencies.node needs package.json beside js/package-lock.json: npm ci reads both"),
        ("package.json only at the root", |d| {
            std::fs::rename(d.join("js/package.json"), d.join("package.json")).unwrap()
        }, "{dir}/js/package.json: dependencies.node needs package.json beside js/package-lock.json: npm ci reads both"),
        ("entry without integrity", |d| {
            let lock = package_lock();
            let cut = lock.find(",\n      \"integrity\"").unwrap();
            let end = lock[cut..].find('\n').unwrap() + cut;
            let end = lock[end + 1..].find('\n').unwrap() + end + 1;
            let lock = format!("{}{}", &lock[..cut], &lock[end..]);
            std::fs::write(d.join("js/package-lock.json"), lock).unwrap()
        }, "{dir}/js/package-lock.json:5: left-pad is not pinned by integrity: regenerate the lock with npm ≥ 7 against a registry that serves integrity"),
        ("lock out of date", |d| {
            std::fs::write(d.join("js/package.json"), PACKAGE_JSON.replace("^1.3.0", "^1.2.0")).unwrap()
        }, "{dir}/js/package-lock.json:4: package-lock.json is out of date with package.json (dependencies.left-pad is \"^1.2.0\" in package.json, \"^1.3.0\" in the lock): run npm install --package-lock-only --ignore-scripts"),
        ("package.json install script", |d| {
            std::fs::write(d.join("js/package.json"), PACKAGE_JSON.replace("\"name\": \"ex\",", "\"name\": \"ex\",\n  \"scripts\": { \"postinstall\": \"node setup.js\" },")).unwrap()
        }, "{dir}/js/package.json:3: scripts.postinstall would never run (dependencies install with --ignore-scripts): the package must not rely on it; remove it"),
        ("lock too large", |d| {
            std::fs::write(d.join("js/package-lock.json"), " ".repeat((8 << 20) + 1)).unwrap()
        }, "{dir}/js/package-lock.json: file is larger than the 8MiB cap"),
    ];
    run_table(table, node_package);
}

fn run_table(table: &[Case], make: fn(&std::path::Path) -> std::path::PathBuf) {
    let mut failures = Vec::new();
    for (what, mutate, want) in table {
        let t = tmp();
        let dir = make(t.path());
        assert!(
            load(&dir, &Maxima::default()).is_ok(),
            "{what}: the base loads"
        );
        mutate(&dir);
        let want = want.replace("{dir}", dir.to_str().unwrap());
        match load(&dir, &Maxima::default()) {
            Ok(_) => failures.push(format!("{what}: loaded")),
            Err(e) if e.to_string() != want => {
                failures.push(format!("{what}:\n want {want}\n  got {e}"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
