//! Git submissions through the service: `POST /api/v1/submissions` with a `git` body,
//! fetched by a worker from a loopback git server the operator allows
//! (`GAUNTLET_GIT_HOSTS`); refusals at the API (400) and after the fetch
//! (`compile_error` with the reason); the proxy's counts in `/metrics`.

mod cluster;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use cluster::{http, submission, wait_for, Node};
use serde_json::{json, Value};

fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct GitServer(Child, u16);

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git_server(root: &Path) -> GitServer {
    let mut child = Command::new("python3")
        .arg(repo_root().join("crates/grader/tests/fixtures/git_http_server.py"))
        .arg(root)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("a port");
    GitServer(child, port)
}

fn git(dir: &Path, args: &[&str]) -> String {
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

/// A bare repository `<root>/<name>.git` with one commit; `extra` runs in its work
/// tree before the commit. Returns the commit.
fn repository(root: &Path, name: &str, words_py: &str, extra: &dyn Fn(&Path)) -> String {
    let work = root.join(format!("{name}.work"));
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    std::fs::write(work.join("words.py"), words_py).unwrap();
    extra(&work);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-qm", "submission"]);
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

fn post(addr: &str, body: &Value) -> (u16, Value) {
    let (status, text) = http(
        "POST",
        &format!("http://{addr}/api/v1/submissions"),
        Some(body),
    )
    .expect("the server answers");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn finished(addr: &str, id: &str) -> Value {
    let mut result = Value::Null;
    wait_for("the git submission's result", 120, || {
        match submission(addr, id) {
            Some(s) if s["state"] == "finished" => {
                result = s["result"].clone();
                true
            }
            _ => false,
        }
    });
    result
}

#[test]
fn git_submissions_through_the_service() {
    let tmp = tempfile::tempdir().unwrap();
    let repos = tmp.path().join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let solution =
        std::fs::read_to_string(repo_root().join("exercises/reverse-words/solution/words.py"))
            .unwrap();
    let commit = repository(&repos, "good", &solution, &|_| {});
    repository(&repos, "linked", &solution, &|w| {
        std::os::unix::fs::symlink("/etc/shadow", w.join("shadow")).unwrap();
    });
    let server = git_server(&repos);
    let exercises = repo_root().join("exercises").display().to_string();
    let env = [
        ("WORKER_ENABLED", "true".to_owned()),
        ("RUN_UNTRUSTED_CODE", "true".to_owned()),
        ("GAUNTLET_RATE_LIMITS", "off".to_owned()),
        ("GAUNTLET_GIT_HOSTS", format!("127.0.0.1:{}", server.1)),
    ];
    let mut node = Node::new(
        "git",
        &["serve", "--exercises", &exercises],
        tmp.path().join("data"),
        &env,
    );
    node.start();
    let addr = node.addr.clone().unwrap();
    let url = |name: &str| format!("http://127.0.0.1:{}/{name}.git", server.1);

    let (status, body) = post(
        &addr,
        &json!({"exercise": "reverse-words", "git": {"url": url("good"), "ref": "main"}, "display_name": "gitter1"}),
    );
    assert_eq!(status, 202, "{body}");
    let result = finished(&addr, body["id"].as_str().unwrap());
    assert_eq!(result["outcome"], "passed", "{result}");
    assert_eq!(result["commit"], commit.as_str());

    // Refused before queueing: a host the operator does not allow, files and git both.
    let (status, body) = post(
        &addr,
        &json!({"exercise": "reverse-words", "git": {"url": "https://github.com/a/b"}, "display_name": "gitter2"}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string()
            .contains("not a git host this server allows"),
        "{body}"
    );
    let (status, _) = post(
        &addr,
        &json!({"exercise": "reverse-words", "git": {"url": url("good")}, "files": {}, "display_name": "gitter3"}),
    );
    assert_eq!(status, 400);

    // Refused once fetched: the learner's repository, not the service, is at fault.
    let (status, body) = post(
        &addr,
        &json!({"exercise": "reverse-words", "git": {"url": url("linked")}, "display_name": "gitter4"}),
    );
    assert_eq!(status, 202, "{body}");
    let result = finished(&addr, body["id"].as_str().unwrap());
    assert_eq!(result["outcome"], "compile_error", "{result}");
    assert!(
        result["log"].as_str().unwrap().contains("symlink"),
        "{result}"
    );

    let (_, metrics) = http("GET", &format!("http://{addr}/metrics"), None).unwrap();
    let allowed = metrics
        .lines()
        .find(|l| l.starts_with("gauntlet_egress_requests_total{decision=\"allowed\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(allowed >= 2, "{metrics}");
    node.stop();
}
