#![no_main]
//! Fuzz target: `swarm::fuzzing::event_stream` on arbitrary bytes (see fuzz/README.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| swarm::fuzzing::event_stream(data));
