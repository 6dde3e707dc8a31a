//! The TCP listeners, and changing them at run time (CONFIG SET port /
//! bind), like Redis's changeListenPort and changeBindAddr: a failed
//! change leaves the server listening where it was.

use super::{conn, Server, Shared};
use crate::log_warning;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::task::AbortHandle;

/// The running accept loops and a way to start new ones.
#[derive(Default)]
pub struct Listeners {
    /// Each accept loop and the fd of its listening socket.
    tasks: Vec<(AbortHandle, std::os::fd::RawFd)>,
    /// The shared server, for new accept loops (None in unit tests).
    shared: Option<Weak<parking_lot::Mutex<Server>>>,
}

impl Listeners {
    /// The shared server (None in unit tests): for tasks a command starts
    /// (the replication link).
    pub fn shared(&self) -> Option<Shared> {
        self.shared.as_ref().and_then(Weak::upgrade)
    }
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

/// Binds every address of `bind` on `port`, logging a failure as Redis
/// does. Optional addresses that are not available are skipped.
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

/// Lets CONFIG SET port/bind start accept loops later (called once the
/// server is shared, even when it starts with no TCP listener).
pub fn attach(srv: &mut Server, shared: &Shared) {
    srv.listeners.shared = Some(Arc::downgrade(shared));
}

/// Starts accepting connections on `l` and remembers the task.
pub fn spawn_accept(srv: &mut Server, shared: &Shared, l: tokio::net::TcpListener) {
    attach(srv, shared);
    let shared = shared.clone();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&l);
    let task = tokio::spawn(async move {
        loop {
            match l.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let keepalive = shared.lock().config.tcp_keepalive;
                    if keepalive > 0 {
                        set_keepalive(&stream, keepalive);
                    }
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
    srv.listeners.tasks.push((task.abort_handle(), fd));
}

/// CONFIG SET port/bind: listen on `new_bind`:`new_port` instead (port
/// 0: no TCP listener, as in Redis). On failure the server keeps (or gets
/// back) its old listeners and the error is Redis's message.
///
/// A new port is bound before the old sockets are closed. A new `bind`
/// on the same port would collide with the old sockets, so, like Redis's
/// changeBindAddr, the old ones are closed first and re-opened if the new
/// addresses cannot be bound.
pub fn change_listeners(
    srv: &mut Server,
    old: (&[String], u16),
    new: (&[String], u16),
) -> Result<(), String> {
    let Some(shared) = srv.listeners.shared.as_ref().and_then(Weak::upgrade) else {
        // Not serving (unit tests): nothing is listening to change.
        return Ok(());
    };
    let port_change = old.1 != new.1;
    let bound = if new.1 == 0 {
        Ok(Vec::new())
    } else if port_change {
        bind_all(new.0, new.1)
    } else {
        stop_accepting(srv);
        match bind_all(new.0, new.1) {
            Ok(v) => Ok(v),
            Err(e) => {
                // Put the old listeners back.
                if let Ok(v) = bind_all(old.0, old.1) {
                    start_accepting(srv, &shared, v);
                }
                Err(e)
            }
        }
    };
    let listeners = bound.map_err(|_| {
        if port_change {
            "Unable to listen on this port. Check server logs.".to_string()
        } else {
            "Failed to bind to specified addresses.".to_string()
        }
    })?;
    if port_change || new.1 == 0 {
        stop_accepting(srv);
    }
    start_accepting(srv, &shared, listeners);
    srv.port = new.1;
    Ok(())
}

/// Closes the listening sockets now and stops their accept loops.
///
/// An aborted task is dropped later, by whichever runtime thread polls
/// it, and that thread may be waiting for the engine lock we hold; so the
/// socket is released synchronously instead: /dev/null is dup2'ed over
/// its fd, which drops the kernel's last reference to the socket (the
/// port is free at once) while the fd number stays owned by the task, and
/// the task later closes /dev/null instead. The fd cannot have been
/// reused meanwhile: the task that owns it is still alive until abort().
fn stop_accepting(srv: &mut Server) {
    let devnull = std::fs::File::open("/dev/null");
    for (task, fd) in srv.listeners.tasks.drain(..) {
        if let Ok(null) = &devnull {
            let _ = nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(null), fd);
        }
        task.abort();
    }
}

fn start_accepting(srv: &mut Server, shared: &Shared, ls: Vec<std::net::TcpListener>) {
    for l in ls {
        let l = l
            .set_nonblocking(true)
            .and_then(|_| tokio::net::TcpListener::from_std(l));
        match l {
            Ok(l) => spawn_accept(srv, shared, l),
            Err(e) => log_warning!("Could not start listening: {}", e),
        }
    }
}

/// TCP keepalive as Redis's anetKeepAlive: probes after `secs` idle, then
/// every secs/3, 3 probes.
fn set_keepalive(stream: &tokio::net::TcpStream, secs: u64) {
    let ka = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(secs))
        .with_interval(Duration::from_secs((secs / 3).max(1)))
        .with_retries(3);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
}
