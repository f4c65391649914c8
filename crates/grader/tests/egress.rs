//! Controlled egress end to end: dependency installs through the proxy (once, shared,
//! sealed; another host refused), git submissions from a loopback git server (graded
//! right; malicious repositories refused), and the build step.
//!
//! The dependency tests need PyPI through this machine's network; without it they
//! print why and skip.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use gauntlet_exercise::{self as exercise, Exercise, Maxima, Outcome};
use gauntlet_grader::egress::parse_host_list;
use gauntlet_grader::git::GitSource;
use gauntlet_grader::{GradeError, Grader, GraderConfig, Registry, Submission};

mod common;
use common::git_server::{git, repository, GitServer};
use common::packages::{copy_package, reachable};
use common::repo;

fn grader(data: &Path, cfg: impl FnOnce(&mut GraderConfig)) -> Grader {
    let mut c = GraderConfig::new(data.to_owned());
    cfg(&mut c);
    Grader::new(c, Registry::system()).expect("grader")
}

fn load(g: &Grader, dir: &Path) -> Exercise {
    exercise::load_with(dir, &g.load_options(Maxima::default())).expect("package")
}

fn grade(g: &Grader, ex: &Exercise, sub: &Submission) -> Result<exercise::GradeResult, GradeError> {
    let id = gauntlet_grader::local_job_id();
    g.grade(ex, sub, &id, &mut |_| {})
}

#[test]
fn dependencies_install_once_are_shared_and_sealed() {
    if let Err(why) = reachable("pypi.org") {
        eprintln!("SKIP dependencies_install_once_are_shared_and_sealed: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let g = grader(&tmp.path().join("data"), |_| {});
    let one = load(
        &g,
        &copy_package("pytest-anagrams", tmp.path(), "anagrams-one"),
    );
    let two = load(
        &g,
        &copy_package("pytest-anagrams", tmp.path(), "anagrams-two"),
    );
    let first = g.dependencies(&one).expect("installed");
    let set = first.python.as_ref().expect("a python set");
    assert!(set.info.fresh, "the first exercise installs");
    assert!(
        set.info.bytes > 100_000 && set.info.files > 10,
        "{:?}",
        set.info
    );
    let second = g.dependencies(&two).expect("installed");
    let shared = second.python.as_ref().unwrap();
    assert!(
        !shared.info.fresh,
        "the second exercise, on the same lock, reuses the set"
    );
    assert_eq!(shared.dir, set.dir);
    // Sealed: root's, with no write bit anywhere (a job cannot change it).
    for entry in walk(&set.dir) {
        let meta = fs::symlink_metadata(&entry).unwrap();
        assert_eq!(meta.uid(), 0, "{}", entry.display());
        if !meta.file_type().is_symlink() {
            assert_eq!(meta.mode() & 0o222, 0, "{} is writable", entry.display());
        }
    }
    // And the exercise grades on it, offline.
    let result = grade(&g, &two, &Submission::PackageDir(two.dir.join("solution"))).unwrap();
    assert_eq!(
        (result.outcome, result.score),
        (Outcome::Passed, 100),
        "{}",
        result.log
    );
    let starter = grade(&g, &two, &Submission::PackageDir(two.dir.join("starter"))).unwrap();
    assert!(starter.score < 100, "{}", starter.log);
    // A bare `pytest`: the set's commands are on PATH, and the learner's modules are
    // importable as with `python3 -m pytest`.
    let bare = copy_package("pytest-anagrams", tmp.path(), "anagrams-bare");
    let yaml = bare.join("exercise.yaml");
    let text = fs::read_to_string(&yaml).unwrap();
    fs::write(
        &yaml,
        text.replacen(
            "    - python3\n    - -m\n    - pytest\n",
            "    - pytest\n",
            1,
        ),
    )
    .unwrap();
    let bare = load(&g, &bare);
    assert_eq!(bare.test.as_ref().unwrap().command[0], "pytest");
    let r = grade(
        &g,
        &bare,
        &Submission::PackageDir(bare.dir.join("solution")),
    )
    .unwrap();
    assert_eq!((r.outcome, r.score), (Outcome::Passed, 100), "{}", r.log);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn an_install_that_reaches_for_another_host_fails_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    // The operator allows one host; pip asks for pypi.org.
    let g = grader(&tmp.path().join("data"), |c| {
        c.packages.hosts = parse_host_list("registry.npmjs.org", 443).unwrap();
    });
    let ex = load(&g, &copy_package("pytest-anagrams", tmp.path(), "anagrams"));
    let err = g.dependencies(&ex).expect_err("pypi.org is not allowed");
    let text = err.to_string();
    assert!(text.contains("did not install"), "{text}");
    assert!(
        text.contains("egress refused: pypi.org:443 is not on the allow-list"),
        "{text}"
    );
    assert!(!tmp.path().join("data/deps").read_dir().unwrap().any(|e| {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        name.starts_with("python-") && !name.ends_with(".lock")
    }));
}

#[test]
fn git_submissions_grade_right_and_malicious_repositories_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let repos = tmp.path().join("repos");
    fs::create_dir_all(&repos).unwrap();
    let server = GitServer::start(&repos);
    let solution =
        fs::read_to_string(repo().join("exercises/reverse-words/solution/words.py")).unwrap();
    let starter =
        fs::read_to_string(repo().join("exercises/reverse-words/starter/words.py")).unwrap();
    let good = repository(&repos, "good", &[("words.py", &solution)], &|_| {});
    let wrong = repository(&repos, "wrong", &[("words.py", &starter)], &|_| {});
    let hosts = parse_host_list(&server.host(), 443).unwrap();
    let mut g = grader(&tmp.path().join("data"), |c| c.git_hosts = hosts.clone());
    let ex = load(&g, &repo().join("exercises/reverse-words"));
    let sub = |name: &str, reference: Option<&str>| {
        Submission::Git(GitSource {
            url: server.url(&format!("{name}.git")),
            reference: reference.map(str::to_owned),
        })
    };
    // The remote's HEAD, a tag and a full hash all grade the same commit.
    for reference in [None, Some("v1"), Some("main"), Some(good.as_str())] {
        let r = grade(&g, &ex, &sub("good", reference)).expect("graded");
        assert_eq!(
            (r.outcome, r.score),
            (Outcome::Passed, 100),
            "{reference:?}: {}",
            r.log
        );
        assert_eq!(r.commit.as_deref(), Some(good.as_str()));
        assert!(r.log.contains(&format!("at commit {good}")), "{}", r.log);
    }
    let r = grade(&g, &ex, &sub("wrong", None)).expect("graded");
    assert!(r.score < 100);
    assert_eq!(r.commit.as_deref(), Some(wrong.as_str()));

    let refused = |g: &Grader, name: &str, reference: Option<&str>| match grade(
        g,
        &ex,
        &sub(name, reference),
    ) {
        Err(GradeError::Rejected(why)) => why,
        other => panic!("{name}: expected a refusal, got {other:?}"),
    };
    // A symlink to a host file, a submodule, files beyond the starter's, a missing ref.
    repository(&repos, "symlink", &[("words.py", &solution)], &|w| {
        std::os::unix::fs::symlink("/etc/passwd", w.join("passwd")).unwrap();
    });
    assert!(refused(&g, "symlink", None).contains("symlink"));
    repository(&repos, "submodule", &[("words.py", &solution)], &|w| {
        git(
            w,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("160000,{good},vendor"),
            ],
        );
        fs::write(
            w.join(".gitmodules"),
            "[submodule \"vendor\"]\n\tpath = vendor\n\turl = https://example.org/x\n",
        )
        .unwrap();
    });
    assert!(refused(&g, "submodule", None).contains("submodule"));
    repository(
        &repos,
        "extra",
        &[("words.py", &solution), ("notes/secret.txt", "x")],
        &|_| {},
    );
    assert!(refused(&g, "extra", None).contains("only its starter files"));
    assert!(refused(&g, "good", Some("no-such-branch")).contains("could not fetch"));
    // A hook planted in the tree never runs: nothing is checked out, hooks are off.
    repository(
        &repos,
        "hooked",
        &[
            ("words.py", &solution),
            (".githooks/post-checkout", "#!/bin/sh\ntouch /tmp/hooked\n"),
        ],
        &|w| {
            git(w, &["config", "core.hooksPath", ".githooks"]);
        },
    );
    assert!(refused(&g, "hooked", None).contains("only its starter files"));
    // A huge tree: more objects than the cap.
    let many: Vec<(String, String)> = (0..40)
        .map(|i| (format!("d/f{i}.txt"), format!("{i}")))
        .collect();
    let many_refs: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    repository(&repos, "huge", &many_refs, &|_| {});
    let mut cfg = g.config().clone();
    cfg.git_limits.max_objects = 20;
    g = Grader::new(cfg, Registry::system()).unwrap();
    assert!(refused(&g, "huge", None).contains("more than the 20 allowed"));
    // Hosts: not on the list, credentials, plain http elsewhere, git turned off.
    let url = |u: &str| {
        Submission::Git(GitSource {
            url: u.into(),
            reference: None,
        })
    };
    for (u, why) in [
        (
            "https://github.com/a/b",
            "not a git host this server allows",
        ),
        (
            &format!("http://user:pw@127.0.0.1:{}/good.git", server.port),
            "credentials",
        ),
        ("ssh://127.0.0.1/good.git", "use https"),
    ] {
        match grade(&g, &ex, &url(u)) {
            Err(GradeError::Rejected(m)) => assert!(m.contains(why), "{u}: {m}"),
            other => panic!("{u}: {other:?}"),
        }
    }
    let off = grader(&tmp.path().join("data2"), |_| {});
    match grade(&off, &ex, &sub("good", None)) {
        Err(GradeError::Rejected(m)) => assert!(m.contains("off on this server"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_build_step_seals_its_output_and_a_broken_build_is_a_compile_error() {
    let tmp = tempfile::tempdir().unwrap();
    let g = grader(&tmp.path().join("data"), |_| {});
    let ex = load(&g, &repo().join("exercises/c-checksum"));
    let r = grade(&g, &ex, &Submission::PackageDir(ex.dir.join("solution"))).unwrap();
    assert_eq!((r.outcome, r.score), (Outcome::Passed, 100), "{}", r.log);
    let broken = tmp.path().join("broken");
    fs::create_dir_all(&broken).unwrap();
    fs::write(
        broken.join("checksum.c"),
        "int main(void) { return nope; }\n",
    )
    .unwrap();
    let r = grade(&g, &ex, &Submission::PackageDir(broken)).unwrap();
    assert_eq!(r.outcome, Outcome::CompileError, "{}", r.log);
    assert!(
        r.log.contains("nope"),
        "the build log is the result's: {}",
        r.log
    );
    assert!(
        r.log.contains("the build step failed (exit 1)"),
        "{}",
        r.log
    );
    // The build cannot read the hidden tests, and the test run cannot write /build.
    let spy = tmp.path().join("spy");
    fs::create_dir_all(&spy).unwrap();
    fs::write(
        spy.join("checksum.c"),
        "#include <stdio.h>\nint main(void){return 0;}\n",
    )
    .unwrap();
    let mut spec = ex.build.clone().unwrap();
    spec.command = vec![
        "/bin/sh".into(),
        "-c".into(),
        "test ! -e tests/run.py && gcc -o /build/checksum checksum.c".into(),
    ];
    let mut spied = ex.clone();
    spied.build = Some(spec);
    let r = grade(&g, &spied, &Submission::PackageDir(spy)).unwrap();
    assert_ne!(
        r.outcome,
        Outcome::CompileError,
        "the build saw tests/: {}",
        r.log
    );
}

/// Makes `<dir>/gauntletdemo-1.0-py3-none-any.whl` (a module `gauntletdemo` with
/// `VALUE = 42`) and returns its SHA-256.
fn demo_wheel(dir: &Path) -> String {
    let script = r#"
import base64, hashlib, sys, zipfile
files = {
    "gauntletdemo/__init__.py": b"VALUE = 42\n",
    "gauntletdemo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: gauntletdemo\nVersion: 1.0\n",
    "gauntletdemo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = "".join(
    f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()},{len(b)}\n"
    for p, b in files.items()
) + "gauntletdemo-1.0.dist-info/RECORD,,\n"
path = sys.argv[1] + "/gauntletdemo-1.0-py3-none-any.whl"
with zipfile.ZipFile(path, "w") as z:
    for p, b in files.items():
        z.writestr(p, b)
    z.writestr("gauntletdemo-1.0.dist-info/RECORD", record)
print(hashlib.sha256(open(path, "rb").read()).hexdigest())
"#;
    let out = Command::new("python3")
        .args(["-c", script, dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn dependencies_install_offline_from_a_local_wheelhouse() {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheelhouse");
    fs::create_dir_all(&wheels).unwrap();
    let hash = demo_wheel(&wheels);
    let pkg = tmp.path().join("uses-demo");
    for d in ["starter", "solution", "tests"] {
        fs::create_dir_all(pkg.join(d)).unwrap();
    }
    fs::write(
        pkg.join("exercise.yaml"),
        "id: uses-demo\ntitle: Uses a wheel\nruntime: python\nsubmission: files\n\
         starter:\n  files:\n    - path: answer.py\ndependencies:\n  python: requirements.txt\n\
         test:\n  command: [\"python3\", \"tests/run.py\"]\n  results: tap\nscoring: per-test\n",
    )
    .unwrap();
    fs::write(
        pkg.join("requirements.txt"),
        format!("gauntletdemo==1.0 --hash=sha256:{hash}\n"),
    )
    .unwrap();
    fs::write(
        pkg.join("starter/answer.py"),
        "def answer():\n    return 0\n",
    )
    .unwrap();
    fs::write(
        pkg.join("solution/answer.py"),
        "import gauntletdemo\n\ndef answer():\n    return gauntletdemo.VALUE\n",
    )
    .unwrap();
    fs::write(
        pkg.join("tests/run.py"),
        "import sys\nsys.path.insert(0, '.')\nfrom answer import answer\nprint('1..1')\n\
         print('ok 1 - answer' if answer() == 42 else 'not ok 1 - answer')\n",
    )
    .unwrap();
    // No host at all: the proxy never opens, the install reads the wheelhouse alone.
    let g = grader(&tmp.path().join("data"), |c| {
        c.packages.hosts = Vec::new();
        c.packages.pip_find_links = Some(wheels.clone());
    });
    let ex = load(&g, &pkg);
    let set = g.dependencies(&ex).expect("installed offline");
    assert!(set
        .python
        .unwrap()
        .dir
        .join("gauntletdemo/__init__.py")
        .is_file());
    let r = grade(&g, &ex, &Submission::PackageDir(pkg.join("solution"))).unwrap();
    assert_eq!((r.outcome, r.score), (Outcome::Passed, 100), "{}", r.log);
    // A wheel whose bytes do not match the pinned hash is refused.
    let other = tmp.path().join("wheelhouse2");
    fs::create_dir_all(&other).unwrap();
    demo_wheel(&other);
    let wheel = other.join("gauntletdemo-1.0-py3-none-any.whl");
    let mut bytes = fs::read(&wheel).unwrap();
    bytes.extend_from_slice(b"tampered");
    fs::write(&wheel, bytes).unwrap();
    let g2 = grader(&tmp.path().join("data2"), |c| {
        c.packages.hosts = Vec::new();
        c.packages.pip_find_links = Some(other.clone());
    });
    let err = g2.dependencies(&ex).expect_err("the hash does not match");
    assert!(err.to_string().contains("did not install"), "{err}");
}

#[test]
fn a_jail_with_a_gateway_reaches_the_allowed_host_and_nothing_else() {
    use gauntlet_grader::egress::{Counters, Policy};
    use gauntlet_grader::gateway::{proxy_env, Gateway};
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::Arc;
    // Two services on the host's loopback: one the operator allows, one not.
    let serve = |reply: &'static [u8]| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let mut buf = [0u8; 64];
                let _ = c.read(&mut buf);
                let _ = c.write_all(reply);
            }
        });
        port
    };
    let allowed = serve(b"allowed service");
    let other = serve(b"other service");
    let counters = Arc::new(Counters::default());
    let policy = Policy::new(parse_host_list(&format!("127.0.0.1:{allowed}"), 443).unwrap());
    let gateway = Gateway::open(policy, "test-job", counters.clone()).expect("gateway");
    let script = format!(
        r#"
import socket
def via_proxy(target):
    s = socket.create_connection(('127.0.0.1', 3128), timeout=5)
    s.sendall(('CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n' % (target, target)).encode())
    head = s.recv(4096).decode(errors='replace')
    status = head.split(' ')[1] if ' ' in head else '?'
    if status == '200':
        s.sendall(b'hi')
        return status + ' ' + s.recv(64).decode()
    return status
print('allowed', via_proxy('127.0.0.1:{allowed}'))
print('other', via_proxy('127.0.0.1:{other}'))
print('private', via_proxy('10.0.0.1:80'))
print('metadata', via_proxy('169.254.169.254:80'))
print('name', via_proxy('pypi.org:443'))
for where in [('127.0.0.1', {allowed}), ('127.0.0.1', {other}), ('10.0.0.1', 80)]:
    try:
        socket.create_connection(where, timeout=1); print('direct reached', where)
    except OSError:
        print('direct refused')
try:
    socket.getaddrinfo('pypi.org', 443); print('dns answered')
except OSError:
    print('no dns')
"#
    );
    let mut spec = gauntlet_sandbox::Spec::new(["/usr/bin/python3", "-c", script.as_str()]);
    spec.network = gateway.network();
    spec.env.extend(proxy_env());
    struct Out(Vec<u8>);
    impl gauntlet_sandbox::OutputSink for Out {
        fn output(&mut self, _: gauntlet_sandbox::Stream, b: &[u8]) {
            self.0.extend_from_slice(b);
        }
    }
    let mut out = Out(Vec::new());
    let report = gauntlet_sandbox::run(&spec, &mut out).unwrap();
    let stats = gateway.close();
    let text = String::from_utf8_lossy(&out.0).into_owned();
    assert_eq!(report.exit_code, Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "allowed 200 allowed service",
            "other 403",
            "private 403",
            "metadata 403",
            "name 403",
            "direct refused",
            "direct refused",
            "direct refused",
            "no dns",
        ],
        "{text}"
    );
    assert_eq!((stats.allowed, stats.denied), (1, 4), "{stats:?}");
    assert!(
        stats
            .denials
            .iter()
            .any(|d| d.contains("not on the allow-list")),
        "{stats:?}"
    );
    use std::sync::atomic::Ordering;
    assert_eq!(counters.denied.load(Ordering::Relaxed), 4);
}

#[test]
fn node_dependencies_install_through_the_proxy_and_offline_from_an_npm_cache() {
    if let Err(why) = reachable("registry.npmjs.org") {
        eprintln!(
            "SKIP node_dependencies_install_through_the_proxy_and_offline_from_an_npm_cache: {why}"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let g = grader(&tmp.path().join("data"), |_| {});
    let ex = load(&g, &copy_package("jest-isbn", tmp.path(), "isbn"));
    let installed = g.dependencies(&ex).expect("installed through the proxy");
    let set = installed.node.expect("a node set");
    // Where npm would put them, `.bin` links included, and read-only.
    let bin = set.dir.join("node_modules/.bin/jest");
    assert!(fs::symlink_metadata(&bin).unwrap().file_type().is_symlink());
    assert!(set.dir.join("node_modules/jest/bin/jest.js").is_file());
    assert!(!set.dir.join("package.json").exists());
    let r = grade(&g, &ex, &Submission::PackageDir(ex.dir.join("solution"))).unwrap();
    assert_eq!((r.outcome, r.score), (Outcome::Passed, 100), "{}", r.log);
    // A bare `jest` (node_modules/.bin on PATH) and `npx jest` (offline) work too.
    for (name, command) in [
        ("isbn-bare", "    - jest\n"),
        ("isbn-npx", "    - npx\n    - jest\n"),
    ] {
        let dir = copy_package("jest-isbn", tmp.path(), name);
        let yaml = dir.join("exercise.yaml");
        let text = fs::read_to_string(&yaml).unwrap();
        let text = text.replacen(
            "    - node\n    - node_modules/jest/bin/jest.js\n",
            command,
            1,
        );
        // npx starts jest without fd 3: the JUnit report goes to a file.
        let text = text.replacen("results: channel:junit", "results: junit:junit.xml", 1);
        fs::write(&yaml, text).unwrap();
        let config = dir.join("tests/jest.config.js");
        let js = fs::read_to_string(&config).unwrap();
        fs::write(
            &config,
            js.replace(
                "outputDirectory: '/dev/fd'",
                "outputDirectory: '/workspace'",
            )
            .replace("outputName: '3'", "outputName: 'junit.xml'"),
        )
        .unwrap();
        let ex = load(&g, &dir);
        let r = grade(&g, &ex, &Submission::PackageDir(dir.join("solution"))).unwrap();
        assert_eq!(
            (r.outcome, r.score),
            (Outcome::Passed, 100),
            "{name}: {}",
            r.log
        );
    }
    // A submission cannot bring its own node_modules.
    assert!(g
        .protected_paths(&ex)
        .unwrap()
        .iter()
        .any(|p| p.as_str() == "node_modules"));

    // Offline: an npm cache the operator filled, and no host at all.
    let cache = tmp.path().join("npm-cache");
    let work = tmp.path().join("fill");
    fs::create_dir_all(&work).unwrap();
    for f in ["package.json", "package-lock.json"] {
        fs::copy(ex.dir.join(f), work.join(f)).unwrap();
    }
    let filled = Command::new("npm")
        .current_dir(&work)
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--cache",
        ])
        .arg(&cache)
        .output()
        .unwrap();
    assert!(
        filled.status.success(),
        "{}",
        String::from_utf8_lossy(&filled.stderr)
    );
    let offline = grader(&tmp.path().join("data2"), |c| {
        c.packages.hosts = Vec::new();
        c.packages.npm_cache = Some(cache.clone());
    });
    let set = offline
        .dependencies(&ex)
        .expect("installed offline")
        .node
        .unwrap();
    assert!(set.info.fresh);
    let r = grade(
        &offline,
        &ex,
        &Submission::PackageDir(ex.dir.join("solution")),
    )
    .unwrap();
    assert_eq!((r.outcome, r.score), (Outcome::Passed, 100), "{}", r.log);
}
