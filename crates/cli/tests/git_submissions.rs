//! Git submissions through the service: `POST /api/v1/submissions` with a `git` body,
//! fetched by a worker from a loopback git server the operator allows
//! (`GAUNTLET_GIT_HOSTS`); refusals at the API (400) and after the fetch
//! (`compile_error` with the reason); the proxy's counts in `/metrics`.

mod cluster;
#[path = "../../grader/tests/common/git_server.rs"]
mod git_server;

use std::path::Path;

use cluster::{http, submission, wait_for, Node};
use git_server::{repository, GitServer};
use serde_json::{json, Value};

fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
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

/// A git server over `<tmp>/repos`, which holds `good` (reverse-words' solution) and
/// whatever `more` adds (given the folder and that solution); returns `good`'s commit.
fn serve_repositories(tmp: &Path, more: impl FnOnce(&Path, &str)) -> (GitServer, String) {
    let repos = tmp.join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let solution =
        std::fs::read_to_string(repo_root().join("exercises/reverse-words/solution/words.py"))
            .unwrap();
    let commit = repository(&repos, "good", &[("words.py", &solution)], &|_| {});
    more(&repos, &solution);
    (GitServer::start(&repos), commit)
}

#[test]
fn git_submissions_through_the_service() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, commit) = serve_repositories(tmp.path(), |repos, solution| {
        repository(repos, "linked", &[("words.py", solution)], &|w| {
            std::os::unix::fs::symlink("/etc/shadow", w.join("shadow")).unwrap();
        });
    });
    let exercises = repo_root().join("exercises").display().to_string();
    let env = [
        ("WORKER_ENABLED", "true".to_owned()),
        ("RUN_UNTRUSTED_CODE", "true".to_owned()),
        ("GAUNTLET_RATE_LIMITS", "off".to_owned()),
        ("GAUNTLET_GIT_HOSTS", server.host()),
    ];
    let mut node = Node::new(
        "git",
        &["serve", "--exercises", &exercises],
        tmp.path().join("data"),
        &env,
    );
    node.start();
    let addr = node.addr.clone().unwrap();
    let url = |name: &str| server.url(&format!("{name}.git"));

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

#[test]
fn gauntlet_grade_takes_a_git_submission() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, commit) = serve_repositories(tmp.path(), |repos, solution| {
        let files = [("words.py", solution), ("README.md", "hi")];
        repository(repos, "extra", &files, &|_| {});
    });
    let grade = |url: &str, hosts: &str| {
        std::process::Command::new(cluster::binary())
            .args([
                "grade",
                "--exercise",
                "reverse-words",
                "--git",
                url,
                "--ref",
                "main",
            ])
            .arg("--data-dir")
            .arg(tmp.path().join("data"))
            .args(["--git-hosts", hosts])
            .current_dir(repo_root())
            .output()
            .unwrap()
    };
    let out = grade(&server.url("good.git"), &server.host());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["outcome"], "passed", "{result}");
    assert_eq!(result["commit"], commit.as_str());
    // Refused: bad input, exit 2, with the reason.
    let out = grade(&server.url("extra.git"), &server.host());
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("README.md") && said.contains("only its starter files"),
        "{said}"
    );
    let out = grade(&server.url("good.git"), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("git submissions are off"));
}
