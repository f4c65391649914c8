//! The `gauntlet` binary: argument parsing and wiring only.

fn main() {
    println!("gauntlet");
}
