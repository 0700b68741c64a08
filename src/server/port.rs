//! Making the listening port this process's alone.
//!
//! Every core binds the port with SO_REUSEPORT so the kernel spreads
//! connections over the cores. The kernel lets any process of the same user
//! join that group, so a second shardis started on the same port would not
//! fail as redis-server does: it would silently take half the connections.
//! A plain bind check alone leaves a window (two servers may both check
//! before either binds), so the port is first claimed under an abstract
//! Unix socket name, which only one process can hold and which the kernel
//! releases when the process dies, however it dies.

use std::net::ToSocketAddrs;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};

/// Held for the life of the server: while it exists, no other shardis can
/// claim the port.
pub struct PortClaim {
    _name: UnixListener,
}

/// Claims `addr`'s port for this process, then checks that no other
/// program listens on it. The claim is per port, whatever the address: two
/// shardis on one port and different addresses are refused too.
pub fn claim(addr: &str) -> Result<PortClaim, String> {
    let sockaddr = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve bind address {addr} (check --bind)"))?;
    let in_use = || {
        format!(
            "cannot listen on {addr}: address already in use (is another server running? choose another --port)"
        )
    };
    let name = format!("shardis/port/{}", sockaddr.port());
    let name = SocketAddr::from_abstract_name(name.as_bytes())
        .map_err(|e| format!("cannot name the port claim: {e}"))?;
    let claim = UnixListener::bind_addr(&name).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            in_use()
        } else {
            format!("cannot claim port {}: {e}", sockaddr.port())
        }
    })?;
    check_port_free(sockaddr, addr, in_use)?;
    Ok(PortClaim { _name: claim })
}

/// A plain bind (no listen: nobody can connect to it) fails while any other
/// program listens on the port.
fn check_port_free(
    sockaddr: std::net::SocketAddr,
    addr: &str,
    in_use: impl Fn() -> String,
) -> Result<(), String> {
    let domain = socket2::Domain::for_address(sockaddr);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)
        .map_err(|e| format!("cannot create a socket: {e}"))?;
    // TIME_WAIT leftovers are no conflict; a live listener still is.
    socket
        .set_reuse_address(true)
        .map_err(|e| format!("cannot set SO_REUSEADDR: {e}"))?;
    socket.bind(&sockaddr.into()).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            in_use()
        } else {
            format!("cannot listen on {addr}: {e} (check --bind and --port)")
        }
    })
}
