//! Copies of bundled packages under other ids, and whether a package registry can be
//! reached: shared by the egress tests and bench (which includes this file by path).

#![allow(dead_code)]

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A copy of the bundled package `name` under `root`, renamed to `id`.
pub fn copy_package(name: &str, root: &Path, id: &str) -> PathBuf {
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../exercises");
    let to = root.join(id);
    let status = Command::new("cp")
        .arg("-r")
        .arg(bundled.join(name))
        .arg(&to)
        .status()
        .expect("cp");
    assert!(status.success(), "cp -r {name}");
    let yaml = to.join("exercise.yaml");
    let text = std::fs::read_to_string(&yaml).expect("exercise.yaml");
    let text = text.replacen(&format!("id: {name}"), &format!("id: {id}"), 1);
    std::fs::write(&yaml, text).expect("write exercise.yaml");
    to
}

/// Whether `host:443` answers a TCP connect within 5 s; why not otherwise.
pub fn reachable(host: &str) -> Result<(), String> {
    let addr = (host, 443)
        .to_socket_addrs()
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map(drop)
        .map_err(|e| format!("{host}:443 is not reachable: {e}"))
}
