#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| prepull_api::fuzzing::image_reference(data));
