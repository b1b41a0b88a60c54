//! The watch cache on the embedded (redb) backend: the storage conformance suite through the
//! cache, and the cache's own cases. Each case gets its own temporary directory.

mod cache_cases;
mod conformance;

use cache_cases::Cached;
use conformance::embedded::EmbeddedBackend;

conformance_suite!(Cached<EmbeddedBackend>);
cache_suite!(EmbeddedBackend);
