//! The storage conformance suite against the embedded (redb) backend, each case in its own
//! temporary directory.

mod conformance;

use conformance::embedded::EmbeddedBackend;

conformance_suite!(EmbeddedBackend);
