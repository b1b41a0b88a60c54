//! The conformance cases, one `pub async fn` per name listed in `conformance_suite!`, grouped
//! by topic. Each case gets a fresh, empty backend and only writes under its own prefix.

// Test binaries that only need a backend harness include this module without expanding the
// suite, leaving the re-exports unused.
#![allow(unused_imports)]

mod compaction;
mod integrity;
mod lists;
mod model;
mod model_based;
mod support;
mod watches;
mod writes;

pub use compaction::*;
pub use integrity::*;
pub use lists::*;
pub use model_based::*;
pub use watches::*;
pub use writes::*;
