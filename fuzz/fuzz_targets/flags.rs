#![no_main]
// The body lives in the library (remesos::fuzzing::flags) so that
// core/tests/fuzz_corpora.rs replays this target's corpus without nightly.
libfuzzer_sys::fuzz_target!(|data: &[u8]| remesos::fuzzing::flags(data));
