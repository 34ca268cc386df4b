#![no_main]
//! Fuzz target: `swarm::fuzzing::h1_response` on arbitrary bytes (see fuzz/README.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| swarm::fuzzing::h1_response(data));
