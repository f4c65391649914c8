//! Toolchains as an operator meets them: `gauntlet serve` with the Hardhat toolchain
//! missing (and told not to prepare it) lists the Solidity exercises as unavailable and
//! refuses their submissions at POST with 503, the reason and Retry-After, while the
//! other exercises are graded as usual. (Preparing at start-up is the same code as
//! `gauntlet toolchains prepare`; its states are tested in crates/server/src/toolchains.rs.)

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `gauntlet serve` and returns it with its address, read from its JSON log.
fn serve(data: &Path, exercises: &Path, toolchains: &Path, extra: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .arg("serve")
        .arg("--data-dir")
        .arg(data)
        .arg("--exercises")
        .arg(exercises)
        .arg("--toolchains-dir")
        .arg(toolchains)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("GAUNTLET_LOG_FORMAT", "json")
        .env("WORKER_ENABLED", "true")
        .env("RUN_UNTRUSTED_CODE", "true")
        .env("GAUNTLET_RATE_LIMITS", "off")
        .env_remove("DATABASE_URL")
        .env_remove("GAUNTLET_PREPARE_TOOLCHAINS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gauntlet");
    let stderr = child.stderr.take().unwrap();
    let found: Arc<Mutex<(Option<String>, Vec<String>)>> = Arc::default();
    let seen = found.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut s = seen.lock().unwrap();
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["message"] == "listening" {
                    s.0 = v["addr"].as_str().map(str::to_owned);
                }
            }
            s.1.push(line);
        }
    });
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        {
            let s = found.lock().unwrap();
            if let Some(addr) = &s.0 {
                return (server, format!("http://{addr}"));
            }
            if Instant::now() > deadline || matches!(server.0.try_wait(), Ok(Some(_))) {
                panic!("gauntlet serve did not start:\n{}", s.1.join("\n"));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn http(method: &str, url: &str, body: Option<&Value>) -> (u16, Option<String>, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let r = match body {
        Some(b) => agent.post(url).send_json(b),
        None if method == "GET" => agent.get(url).call(),
        None => unreachable!(),
    }
    .expect("request");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json = r.into_body().read_json().unwrap_or(Value::Null);
    (status, retry, json)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_missing_toolchain_makes_its_exercises_unavailable_and_their_submissions_503() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../exercises");
    let exercises = tmp.path().join("exercises");
    copy_dir(
        &repo.join("erc20-allowances"),
        &exercises.join("erc20-allowances"),
    );
    copy_dir(
        &repo.join("reverse-words"),
        &exercises.join("reverse-words"),
    );
    let empty = tmp.path().join("no-toolchains");
    std::fs::create_dir(&empty).unwrap();
    let (_server, base) = serve(
        &tmp.path().join("data"),
        &exercises,
        &empty,
        &["--prepare-toolchains=false"],
    );

    let (status, _, list) = http("GET", &format!("{base}/api/v1/exercises"), None);
    assert_eq!(status, 200);
    let find = |id: &str| {
        list["exercises"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()
            .clone()
    };
    let sol = find("erc20-allowances");
    assert_eq!(sol["available"], false, "{sol:#}");
    let reason = sol["unavailable_reason"].as_str().unwrap();
    assert!(
        reason.contains("not prepared") && reason.contains("gauntlet toolchains prepare"),
        "{reason}"
    );
    assert_eq!(find("reverse-words")["available"], true);
    assert!(find("reverse-words").get("unavailable_reason").is_none());

    // A Solidity submission is refused now, with the reason and when to retry.
    let contract = std::fs::read_to_string(
        exercises.join("erc20-allowances/solution/contracts/AllowanceToken.sol"),
    )
    .unwrap();
    let (status, retry, body) = http(
        "POST",
        &format!("{base}/api/v1/submissions"),
        Some(
            &json!({"exercise": "erc20-allowances", "display_name": "ada",
                     "files": {"contracts/AllowanceToken.sol": contract}}),
        ),
    );
    assert_eq!(status, 503, "{body:#}");
    assert_eq!(body["error"]["code"], "exercise_unavailable", "{body:#}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("erc20-allowances") && message.contains("gauntlet toolchains prepare"),
        "{message}"
    );
    assert!(retry.is_some_and(|s| s.parse::<u64>().unwrap() > 0));

    // Other runtimes are not affected.
    let (status, _, body) = http(
        "POST",
        &format!("{base}/api/v1/submissions"),
        Some(&json!({"exercise": "reverse-words", "display_name": "ada",
                     "files": {"words.py": "def reverse_words(s):\n    return s\n"}})),
    );
    assert_eq!(status, 202, "{body:#}");
}
