//! Test bed for Prepull: starts the real programs its users run (etcd, kube-apiserver,
//! kube-controller-manager, kubectl) on loopback ports in temp dirs, and stops them when dropped.
//! A failing test prints the logs of the services it started.
//!
//! Start reading at [`Etcd`] (the simplest service), then [`eventually`] (how tests wait for
//! something to happen without sleeping), then [`KubeApiserver`] and the certificates it runs
//! with ([`KubePki`], [`CertificateAuthority`]).

mod aggregated_api;
mod blackhole_proxy;
pub mod case_harness;
mod certs;
mod containerd;
mod etcd;
mod etcd_cluster;
mod eventually;
mod faulty_proxy;
mod hanging_registry;
mod http_probe;
mod kruise;
mod kube_apiserver;
mod kube_binaries;
mod kube_controller_manager;
mod kube_pki;
mod kubeconfig;
mod kubectl;
pub mod kubectl_steps;
mod pod_runner;
mod ports;
mod registry;
mod registry_push;
mod service_process;
pub mod system;
mod test_image;
mod throttled_proxy;
mod tls_client;
mod tmpfs;

pub use aggregated_api::AggregatedApi;
pub use blackhole_proxy::BlackholeProxy;
pub use certs::{
    CertificateAuthority, IssuedCert, PemFiles, ServiceAccountKeyFiles, ServiceAccountKeys,
};
pub use containerd::{CONTAINERD_BINARY, Containerd};
pub use etcd::{ETCD_BINARY, ETCD_CLIENT_NAME, Etcd, EtcdTls};
pub use etcd_cluster::EtcdCluster;
pub use eventually::{assert_eventually, eventually};
pub use faulty_proxy::{FaultyProxy, ProxyFault};
pub use hanging_registry::HangingRegistry;
pub use http_probe::{HttpAnswer, http_get, https_get};
pub use kruise::{
    KRUISE_BUILD_SCRIPT, KRUISE_DIR_ENV, Kruise, KruiseBuild, KruiseDaemon, create_ready_node,
};
pub use kube_apiserver::{KubeApiserver, SERVICE_ACCOUNT_ISSUER};
pub use kube_binaries::{KUBE_BIN_DIR_ENV, KUBE_BUILD_SCRIPT, KubeBinaries};
pub use kube_controller_manager::{DEFAULT_CONTROLLERS, KubeControllerManager};
pub use kube_pki::{ADMIN_GROUP, ADMIN_USER, FRONT_PROXY_CLIENT_NAME, KubePki};
pub use kubeconfig::write_kubeconfig;
pub use kubectl::{KUBECTL_BINARY, Kubectl, VERSIONED_KUBECTLS};
pub use pod_runner::{PodRunner, RunningPod, host_ip};
pub use ports::free_loopback_port;
pub use registry::{ImageInfo, REGISTRY_BINARY, Registry, RegistryOptions};
pub use test_image::{Blob, TestImage, incompressible_bytes, sha256_digest};
pub use throttled_proxy::ThrottledProxy;
pub use tls_client::tls_client_config;
pub use tmpfs::Tmpfs;
