#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| prepull_apiserver::registry::fuzzing::apply(data));
