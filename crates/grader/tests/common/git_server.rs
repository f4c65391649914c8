//! A loopback git smart-HTTP server for tests (`git http-backend` behind
//! tests/fixtures/git_http_server.py), and repositories to serve. Shared by the
//! grader's egress tests and the CLI's service test (included there by path).

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A loopback git smart-HTTP server over the repositories in `root`.
pub struct GitServer {
    child: Child,
    pub port: u16,
}

impl GitServer {
    pub fn start(root: &Path) -> GitServer {
        let script = Path::new(file!())
            .parent()
            .and_then(Path::parent)
            .map(|tests| tests.join("fixtures/git_http_server.py"))
            .expect("tests/common/");
        let mut child = Command::new("python3")
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .arg(script)
            .arg(root)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        GitServer {
            child,
            port: line.trim().parse().expect("a port"),
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }

    /// The `host:port` an operator lists to allow it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare repository `<root>/<name>` with one commit of `files` (and `extra` git steps
/// run in its work tree before the commit); returns the commit.
pub fn repository(
    root: &Path,
    name: &str,
    files: &[(&str, &str)],
    extra: &dyn Fn(&Path),
) -> String {
    let work = root.join(format!("{name}.work"));
    fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    for (path, content) in files {
        let p = work.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    extra(&work);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-qm", "submission"]);
    git(&work, &["tag", "v1"]);
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            &format!("{name}.git"),
        ],
    );
    git(&work, &["rev-parse", "HEAD"])
}
