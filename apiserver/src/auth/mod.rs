//! Who is calling ([`authenticate`]) and what they may do ([`authorize`] from the URL,
//! [`node_restriction`] from a node's request body).

pub mod authenticate;
pub mod authorize;
pub mod node_restriction;
pub mod user;

pub use user::UserInfo;
