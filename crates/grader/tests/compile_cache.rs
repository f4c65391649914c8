//! The Hardhat compile cache is trimmed inside a jail: the newest entries stay, the
//! rest go, and a link planted in the (jail-writable) cache cannot make the trim
//! delete anything on the host.

use std::fs;

use gauntlet_grader::runtimes::hardhat::trim_compile_cache;
use gauntlet_sandbox::{Bind, OutputSink, Spec, Status, Stream};

struct Discard;
impl OutputSink for Discard {
    fn output(&mut self, _: Stream, _: &[u8]) {}
}

#[test]
fn the_trim_keeps_the_newest_entries_and_touches_nothing_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    gauntlet_sandbox::create_jail_dir(&cache).unwrap();
    let outside = tmp.path().join("host-secret.json");
    fs::write(&outside, "keep me").unwrap();

    // A jail fills the cache as test runs do: entries of known ages, and a planted link.
    let script = format!(
        "for i in 1 2 3 4 5 6; do d=/cache/0$i; mkdir -p $d; echo {{}} > $d/e$i.json; \
         touch -d @$((1700000000 + i * 60)) $d/e$i.json; done; \
         ln -s {} /cache/01/link.json; true",
        outside.display()
    );
    let mut spec = Spec::new(["/bin/sh", "-c", script.as_str()]);
    spec.rw_binds.push(Bind {
        host: cache.clone(),
        inside: "/cache".into(),
    });
    let r = gauntlet_sandbox::run(&spec, &mut Discard).unwrap();
    assert_eq!((r.status, r.exit_code), (Status::Exited, Some(0)), "{r:?}");

    trim_compile_cache(&cache, 2).expect("trim");

    let mut left: Vec<String> = Vec::new();
    for d in fs::read_dir(&cache).unwrap() {
        for e in fs::read_dir(d.unwrap().path()).unwrap() {
            left.push(e.unwrap().file_name().to_string_lossy().into_owned());
        }
    }
    left.sort();
    assert_eq!(
        left,
        ["e5.json", "e6.json", "link.json"],
        "newest two kept, links ignored"
    );
    assert_eq!(fs::read_to_string(&outside).unwrap(), "keep me");
}
