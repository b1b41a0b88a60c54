//! Standalone mode: no Kubernetes cluster. The server keeps its own certificate authority in
//! the data directory, authenticates clients by certificate and writes a kubeconfig for the
//! admin.

pub mod kubeconfig;
pub mod node_kubeconfig;
pub mod pki;
