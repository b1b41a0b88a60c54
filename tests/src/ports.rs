//! Ephemeral loopback ports for services the harness starts.

use std::net::{Ipv4Addr, TcpListener};

/// Returns a loopback TCP port that was free a moment ago.
///
/// The kernel picks it (bind to port 0), then the listener is closed so the service can bind it.
/// Another process may grab the port in between; callers retry their start on a port clash.
pub fn free_loopback_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_can_be_bound_right_away() {
        let port = free_loopback_port().expect("the kernel hands out a port");
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the port is still free");
    }
}
