//! Serving other clients while a script runs past busy-reply-threshold
//! (lua-time-limit): they get `-BUSY`, and SCRIPT KILL / SHUTDOWN NOSAVE
//! work, as in Redis.
//!
//! Redis does this by re-entering its event loop from the Lua hook. keel
//! cannot: a command runs synchronously inside one connection task that
//! holds the engine lock, and the default runtime has a single thread, so
//! no other task runs until the script returns. Instead, when the script
//! times out, the hook starts a helper thread ([`BusyServer`]) that polls
//! the sockets of the idle clients directly (their tasks are parked on
//! reads), takes the complete commands found there (any other bytes stay
//! in the socket for the task) and queues them in [`BusyState::inbox`].
//! The hook, which runs inside the script with the engine, then runs them
//! through the normal dispatch path (which answers -BUSY to all but the
//! ALLOW_BUSY commands, as Redis does while a script is timed out) and
//! sends the replies.
//!
//! Not covered: clients that connect while the script runs (their accept
//! waits for the script), and clients with a partial command buffered in
//! their task.

use crate::protocol::{ParseLimits, Reply, RequestParser};
use crate::server::client::ClientId;
use crate::server::Server;
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const UNKILLABLE_MASTER: &str = "UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.";
pub const UNKILLABLE_WRITE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

/// What the helper and the running script share.
#[derive(Default)]
pub struct BusyState {
    pub kill: AtomicBool,
    pub shutdown: AtomicBool,
    pub write_dirty: AtomicBool,
    pub obey: AtomicBool,
    stop: AtomicBool,
    /// Commands read by the helper, for the hook to run: (client, socket,
    /// arguments), in arrival order.
    pub inbox: Mutex<Vec<(ClientId, i32, Vec<Bytes>)>>,
    /// Replicas whose connection closed meanwhile (dropped by the hook, so
    /// that INFO and min-replicas see it, as Redis does).
    pub gone: Mutex<Vec<ClientId>>,
}

impl BusyState {
    /// Resets the flags for a new script run.
    pub fn reset(&self, obey: bool) {
        self.kill.store(false, Ordering::Relaxed);
        self.shutdown.store(false, Ordering::Relaxed);
        self.write_dirty.store(false, Ordering::Relaxed);
        self.obey.store(obey, Ordering::Relaxed);
        self.stop.store(false, Ordering::Relaxed);
        self.inbox.lock().clear();
        self.gone.lock().clear();
    }
}

/// Runs the commands the helper read (from the script's hook, with the
/// engine): the normal dispatch path, replies sent on the client's socket.
pub fn run_inbox(srv: &mut Server, state: &BusyState) {
    for id in std::mem::take(&mut *state.gone.lock()) {
        if srv.clients.contains_key(&id) {
            crate::server::conn::unregister(srv, id);
        }
    }
    let items = std::mem::take(&mut *state.inbox.lock());
    for (id, fd, args) in items {
        let Some(mut client) = srv.clients.remove(&id) else {
            continue;
        };
        let mut r = Reply::new(client.resp);
        r.buf = std::mem::take(&mut client.out);
        r.suppress = client.flags.reply_off || client.flags.reply_skip;
        srv.clock_us = crate::server::now_us();
        crate::commands::dispatch::process_command(srv, &mut client, args, &mut r);
        client.tot_net_out += r.buf.len() as u64;
        srv.stats.total_net_output_bytes += r.buf.len() as u64;
        send_all(fd, &r.buf);
        srv.clients.insert(id, client);
    }
}

/// Sends a reply on a client's (non-blocking) socket: when the socket is
/// full, waits for it to take more, up to a second in all (a client that
/// does not read loses the rest, as the script must go on).
fn send_all(fd: i32, mut buf: &[u8]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while !buf.is_empty() {
        // SAFETY: `buf` is readable for its length.
        #[allow(unsafe_code)]
        let n = unsafe {
            libc::send(
                fd,
                buf.as_ptr() as *const libc::c_void,
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n > 0 {
            buf = &buf[n as usize..];
            continue;
        }
        let err = std::io::Error::last_os_error().kind();
        if n == 0
            || !matches!(
                err,
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
            )
        {
            return;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: `p` is one valid pollfd.
        #[allow(unsafe_code)]
        let ready = unsafe { libc::poll(&mut p, 1, left.as_millis().max(1) as libc::c_int) };
        if ready < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// The helper thread answering clients during a timed-out script.
pub struct BusyServer {
    state: Arc<BusyState>,
    thread: Option<JoinHandle<()>>,
}

impl BusyServer {
    /// Starts serving the idle clients of `srv`.
    pub fn start(srv: &Server, state: Arc<BusyState>) -> BusyServer {
        let fds: Vec<(ClientId, i32, bool)> = srv
            .clients
            .values()
            .filter(|c| {
                c.fd >= 0
                    && !c.flags.master
                    && !c.flags.monitor
                    && !c.flags.close_asap
                    && c.blocked.is_none()
                    && c.qbuf == 0
            })
            .map(|c| (c.id, c.fd as i32, c.flags.replica))
            .collect();
        let limits = ParseLimits {
            max_bulk_len: srv.config.proto_max_bulk_len,
            unauthenticated: false,
        };
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name("keel-busy".into())
            .spawn(move || serve(fds, &st, limits))
            .ok();
        BusyServer { state, thread }
    }

    /// Stops the helper (before the script's caller goes on).
    pub fn finish(mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut fds: Vec<(ClientId, i32, bool)>, st: &BusyState, limits: ParseLimits) {
    while !st.stop.load(Ordering::Relaxed) && !fds.is_empty() {
        let mut polls: Vec<libc::pollfd> = fds
            .iter()
            .map(|&(_, fd, _)| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `polls` is a valid array of pollfd for its length.
        #[allow(unsafe_code)]
        let n = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, 10) };
        if n <= 0 {
            continue;
        }
        let mut done = Vec::new();
        for (p, &(id, _, replica)) in polls.iter().zip(fds.iter()) {
            let hung_up = p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
            let state = if hung_up {
                Taken::Closed
            } else if p.revents & libc::POLLIN != 0 {
                take_commands(id, p.fd, st, limits)
            } else {
                Taken::Keep
            };
            if state == Taken::Closed && replica {
                st.gone.lock().push(id);
            }
            if state != Taken::Keep {
                done.push(p.fd);
            }
        }
        fds.retain(|(_, fd, _)| !done.contains(fd));
    }
}

#[derive(PartialEq, Eq)]
enum Taken {
    Keep,
    /// Nothing readable after all: leave the client to its task.
    Stop,
    /// The peer closed the connection.
    Closed,
}

/// Moves the complete commands waiting on `fd` to the inbox.
fn take_commands(id: ClientId, fd: i32, st: &BusyState, limits: ParseLimits) -> Taken {
    let mut peek = vec![0u8; 64 * 1024];
    // SAFETY: `peek` is writable for its length; MSG_PEEK leaves the bytes.
    #[allow(unsafe_code)]
    let n = unsafe {
        libc::recv(
            fd,
            peek.as_mut_ptr() as *mut libc::c_void,
            peek.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n == 0 {
        return Taken::Closed;
    }
    if n < 0 {
        return Taken::Stop;
    }
    let n = n as usize;
    let mut buf = BytesMut::from(&peek[..n]);
    let mut parser = RequestParser::new();
    let mut consumed = 0;
    let mut cmds = Vec::new();
    while let Ok(Some(args)) = parser.next(&mut buf, limits) {
        consumed = n - buf.len();
        if !args.is_empty() {
            cmds.push((id, fd, args));
        }
    }
    if consumed > 0 {
        // SAFETY: drains bytes already seen with MSG_PEEK into `peek`.
        #[allow(unsafe_code)]
        unsafe {
            libc::recv(
                fd,
                peek.as_mut_ptr() as *mut libc::c_void,
                consumed,
                libc::MSG_DONTWAIT,
            );
        }
    }
    st.inbox.lock().extend(cmds);
    Taken::Keep
}
