//! Fuzz target: see `gauntlet_exercise::fuzzing::archive` for the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gauntlet_exercise::fuzzing::archive(data));
