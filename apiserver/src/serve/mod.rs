//! The HTTPS listener: TLS (rustls, ALPN h2 and http/1.1), HTTP/1.1 and HTTP/2 on one port,
//! the client certificate handed to the router as a request extension, and graceful shutdown.
//! Standalone mode verifies client certificates in the handshake ([`server_tls_config`]);
//! cluster mode serves a certificate re-read from its files ([`ReloadingServingCert`]) and
//! verifies client certificates per request ([`cluster_tls_config`]).

mod client_cert_request;
mod listener;
mod serving_cert;
mod shutdown;
mod tls;

pub use client_cert_request::{RequestClientCertificate, cluster_tls_config};
pub use listener::{HEADER_READ_TIMEOUT, ServingConfig, serve, serve_on};
pub use serving_cert::{ReloadingServingCert, ServingCertError};
pub use shutdown::shutdown_signal;
pub use tls::{PeerCertificates, server_tls_config, server_tls_config_resolving};
