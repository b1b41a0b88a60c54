//! Router-level tests: the whole HTTP surface over a real embedded store, without sockets.

mod errors;
mod full_disk;
mod resources;
mod support;
mod watch;
