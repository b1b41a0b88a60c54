//! The HTTPS listener: TLS (rustls, ALPN h2 and http/1.1), HTTP/1.1 and HTTP/2 on one port,
//! the client certificate handed to the router as a request extension, and graceful shutdown.

mod listener;
mod shutdown;
mod tls;

pub use listener::{ServingConfig, serve};
pub use shutdown::shutdown_signal;
pub use tls::{PeerCertificates, server_tls_config};
