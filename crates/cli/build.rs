//! Links the `gauntlet` binary as a position-dependent executable: every jail is
//! started by a fresh `gauntlet sandbox run`, and a PIE's start-up spends a measurable
//! part of that (tens of thousands of relative relocations, and the page faults of
//! writing them) before any jail work begins. The code is still compiled as PIC; only
//! the final link fixes the addresses. Full RELRO and the other hardening flags stay.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("x86_64-") && target.contains("-linux-") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
