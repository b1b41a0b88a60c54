//! Router-level tests: the whole HTTP surface over a real embedded store, without sockets.

mod errors;
mod full_disk;
mod hostile;
mod resources;
mod slow_clients;
mod support;
mod watch;
