//! Who is calling ([`authenticate`]) and what they may do ([`authorize`]).

pub mod authenticate;
pub mod authorize;
pub mod user;

pub use user::UserInfo;
