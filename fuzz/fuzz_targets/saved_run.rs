#![no_main]
//! Fuzz target: `swarm::fuzzing::saved_run` on arbitrary bytes (see fuzz/README.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| swarm::fuzzing::saved_run(data));
