//! The TCP listeners, and changing them at run time (CONFIG SET port /
//! bind), like Redis's changeListenPort and changeBindAddr: the new
//! sockets are all bound first; only if that succeeds are the old accept
//! loops stopped and new ones started, so a failed change leaves the
//! server listening where it was.

use super::{conn, Server, Shared};
use crate::log_warning;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::task::AbortHandle;

/// The running accept loops and a way to start new ones.
#[derive(Default)]
pub struct Listeners {
    tasks: Vec<AbortHandle>,
    /// The shared server, for new accept loops (None in unit tests).
    shared: Option<Weak<parking_lot::Mutex<Server>>>,
}

/// Addresses to listen on from `bind` (a leading `-` marks an optional
/// address whose failure is not fatal).
pub fn bind_addrs(bind: &[String]) -> Vec<(String, bool)> {
    bind.iter()
        .map(|b| {
            let (optional, addr) = match b.strip_prefix('-') {
                Some(a) => (true, a),
                None => (false, b.as_str()),
            };
            let addr = match addr {
                "*" => "0.0.0.0".to_string(),
                "::*" => "::".to_string(),
                a => a.to_string(),
            };
            (addr, optional)
        })
        .collect()
}

/// Binds every address of `bind` on `port`. Optional addresses that are
/// not available are skipped.
pub fn bind_all(bind: &[String], port: u16) -> Result<Vec<std::net::TcpListener>, String> {
    let mut out = Vec::new();
    for (addr, optional) in bind_addrs(bind) {
        match std::net::TcpListener::bind((addr.as_str(), port)) {
            Ok(l) => out.push(l),
            Err(e) => {
                let unavailable = e.kind() == std::io::ErrorKind::AddrNotAvailable
                    || addr == "::"
                    || e.raw_os_error() == Some(libc::EAFNOSUPPORT);
                if optional && unavailable {
                    continue;
                }
                log_warning!(
                    "Warning: Could not create server TCP listening socket {}:{}: {}",
                    addr,
                    port,
                    crate::config::special::strerror(&e)
                );
                return Err(e.to_string());
            }
        }
    }
    Ok(out)
}

/// Starts accepting connections on `l` and remembers the task.
pub fn spawn_accept(srv: &mut Server, shared: &Shared, l: tokio::net::TcpListener) {
    srv.listeners.shared = Some(Arc::downgrade(shared));
    let shared = shared.clone();
    let task = tokio::spawn(async move {
        loop {
            match l.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let laddr = stream
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream) as i64;
                    tokio::spawn(conn::serve(
                        shared.clone(),
                        stream,
                        addr.to_string(),
                        laddr,
                        fd,
                        false,
                    ));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    });
    srv.listeners.tasks.push(task.abort_handle());
}

/// CONFIG SET port/bind: listen on `bind`:`port` instead (port 0: no
/// TCP listener, as in Redis). On failure nothing changes. The old
/// sockets are closed only after the new ones are bound, so changing
/// `bind` alone to an address that overlaps the current one on the same
/// port fails with "Failed to bind to specified addresses.".
pub fn change_listeners(
    srv: &mut Server,
    bind: &[String],
    port: u16,
    port_change: bool,
) -> Result<(), String> {
    let Some(shared) = srv.listeners.shared.as_ref().and_then(Weak::upgrade) else {
        // Not serving (unit tests): nothing is listening to change.
        return Ok(());
    };
    let new = if port == 0 {
        Vec::new()
    } else {
        bind_all(bind, port).map_err(|_| {
            if port_change {
                "Unable to listen on this port. Check server logs.".to_string()
            } else {
                "Failed to bind to specified addresses.".to_string()
            }
        })?
    };
    let mut tokio_listeners = Vec::new();
    for l in new {
        let l = l
            .set_nonblocking(true)
            .and_then(|_| tokio::net::TcpListener::from_std(l))
            .map_err(|e| e.to_string())?;
        tokio_listeners.push(l);
    }
    for t in srv.listeners.tasks.drain(..) {
        t.abort();
    }
    for l in tokio_listeners {
        spawn_accept(srv, &shared, l);
    }
    srv.port = port;
    Ok(())
}
