//! The warm preambles (`runners/warm.py`, `runners/warm.js`) against their protocol,
//! outside any jail: `warm_preambles.py` beside this file holds the cases (files and
//! modes, the environment, in-process runs and exit statuses, fd 3, every refusal).
//! Through the real sandbox they are tested in `warm_pool.rs`.

#[test]
fn the_preambles_keep_their_protocol() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/warm_preambles.py");
    let out = std::process::Command::new("python3")
        .args([script, "--timings", "0"])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
