#![no_main]
//! Fuzz target: `swarm::fuzzing::scenario` on arbitrary bytes (see fuzz/README.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| swarm::fuzzing::scenario(data));
