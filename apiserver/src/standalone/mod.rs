//! Standalone mode: no Kubernetes cluster. The server keeps its own certificate authority in
//! the data directory, authenticates clients by certificate (refusing revoked node
//! certificates), renews its own certificates before they expire, and writes a kubeconfig for
//! the admin.

pub mod cert_renewal;
pub mod kubeconfig;
pub mod node_certificates;
pub mod node_kubeconfig;
pub mod pki;
