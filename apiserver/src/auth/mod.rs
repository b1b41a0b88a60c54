//! Who is calling ([`authenticate`]) and what they may do ([`authorize`] from the URL,
//! [`node_restriction`] from a node's request body). Standalone mode decides locally; cluster
//! mode delegates both to kube-apiserver ([`delegated`]).

pub mod authenticate;
pub mod authorize;
pub mod delegated;
pub mod node_restriction;
pub mod ttl_cache;
pub mod user;

pub use user::UserInfo;
