#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| prepull_storage::fuzzing::embedded_record(data));
