//! Package folders on disk: layout rules, symlinks, and the content hash.

mod common;

use std::os::unix::fs::symlink;

use common::{package, write_tree, MANIFEST};
use gauntlet_exercise::{content_hash, load, LoadError, Maxima};

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
