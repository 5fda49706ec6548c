#![no_main]
// The body lives in the library (remesos::fuzzing::agent_call) so that
// core/tests/fuzz_corpora.rs replays this target's corpus without nightly.
libfuzzer_sys::fuzz_target!(|data: &[u8]| remesos::fuzzing::agent_call(data));
