//! Runs one command in the sandbox with default limits: `cargo run -p gauntlet-sandbox
//! --example jail -- CMD ARGS…`. For working on the sandbox crate alone.

use std::io::Write;

struct Out;
impl gauntlet_sandbox::OutputSink for Out {
    fn output(&mut self, s: gauntlet_sandbox::Stream, b: &[u8]) {
        let _ = match s {
            gauntlet_sandbox::Stream::Stdout => std::io::stdout().write_all(b),
            gauntlet_sandbox::Stream::Stderr => std::io::stderr().write_all(b),
        };
    }
}

fn main() {
    let spec = gauntlet_sandbox::Spec::new(std::env::args_os().skip(1));
    match gauntlet_sandbox::run(&spec, &mut Out) {
        Ok(r) => eprintln!("{}", serde_json::to_string(&r).unwrap_or_default()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(3);
        }
    }
}
