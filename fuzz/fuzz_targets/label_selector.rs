#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| prepull_api::fuzzing::label_selector(data));
