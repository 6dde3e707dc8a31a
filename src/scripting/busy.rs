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
//! reads), answers the complete commands found there, and leaves any
//! other bytes in the socket for the task. Commands that need the engine
//! (the other ALLOW_BUSY ones: MULTI, WATCH, AUTH, HELLO ...) stop the
//! helper for that client: they and what follows run when the script ends.
//! The helper only talks to the script through [`BusyState`]'s atomics.
//!
//! Not covered: clients that connect while the script runs (their accept
//! waits for the script), and clients with a partial command buffered in
//! their task.

use crate::commands::table::{flags, CommandTable, Resolved};
use crate::protocol::{ParseLimits, RequestParser};
use crate::server::Server;
use bytes::BytesMut;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub const BUSY: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const UNKILLABLE_MASTER: &[u8] = b"-UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.\r\n";
const UNKILLABLE_WRITE: &[u8] = b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";

/// What the helper and the running script share.
#[derive(Default)]
pub struct BusyState {
    pub kill: AtomicBool,
    pub shutdown: AtomicBool,
    pub write_dirty: AtomicBool,
    pub obey: AtomicBool,
    stop: AtomicBool,
    /// Commands refused with BUSY (full names), and error codes replied:
    /// charged to the statistics by the script's hook.
    pub rejected: Mutex<Vec<(Option<String>, &'static str)>>,
}

impl BusyState {
    /// Resets the flags for a new script run.
    pub fn reset(&self, obey: bool) {
        self.kill.store(false, Ordering::Relaxed);
        self.shutdown.store(false, Ordering::Relaxed);
        self.write_dirty.store(false, Ordering::Relaxed);
        self.obey.store(obey, Ordering::Relaxed);
        self.stop.store(false, Ordering::Relaxed);
        self.rejected.lock().clear();
    }

    /// Charges what the helper refused to the statistics.
    pub fn apply_stats(&self, srv: &mut Server) {
        for (name, code) in self.rejected.lock().drain(..) {
            if let Some(n) = name {
                srv.stats.command_stat(&n).rejected_calls += 1;
            }
            srv.stats.record_error(code);
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
        let fds: Vec<i32> = srv
            .clients
            .values()
            .filter(|c| {
                c.fd >= 0
                    && !c.flags.master
                    && !c.flags.replica
                    && !c.flags.monitor
                    && !c.flags.close_asap
                    && c.blocked.is_none()
                    && c.qbuf == 0
            })
            .map(|c| c.fd as i32)
            .collect();
        let table = srv.commands.clone();
        let limits = ParseLimits {
            max_bulk_len: srv.config.proto_max_bulk_len,
            unauthenticated: false,
        };
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name("keel-busy".into())
            .spawn(move || serve(fds, &table, &st, limits))
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

fn serve(mut fds: Vec<i32>, table: &CommandTable, st: &BusyState, limits: ParseLimits) {
    while !st.stop.load(Ordering::Relaxed) && !fds.is_empty() {
        let mut polls: Vec<libc::pollfd> = fds
            .iter()
            .map(|&fd| libc::pollfd {
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
        for p in &polls {
            let hung_up = p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
            if hung_up || (p.revents & libc::POLLIN != 0 && !serve_client(p.fd, table, st, limits))
            {
                done.push(p.fd);
            }
        }
        fds.retain(|fd| !done.contains(fd));
    }
}

/// Answers the complete commands waiting on `fd`. False when the helper
/// must leave this client alone from now on.
fn serve_client(fd: i32, table: &CommandTable, st: &BusyState, limits: ParseLimits) -> bool {
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
    if n <= 0 {
        return false;
    }
    let n = n as usize;
    let mut buf = BytesMut::from(&peek[..n]);
    let mut parser = RequestParser::new();
    let mut consumed = 0;
    let mut out = Vec::new();
    let mut keep = true;
    while let Ok(Some(args)) = parser.next(&mut buf, limits) {
        let used = n - buf.len();
        if args.is_empty() {
            consumed = used;
            continue;
        }
        match answer(&args, table, st, &mut out) {
            Answer::Replied => consumed = used,
            Answer::Leave => {
                keep = false;
                break;
            }
            Answer::Shutdown => {
                consumed = used;
                keep = false;
                break;
            }
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
    if !out.is_empty() {
        // SAFETY: `out` is readable for its length.
        #[allow(unsafe_code)]
        unsafe {
            libc::send(
                fd,
                out.as_ptr() as *const libc::c_void,
                out.len(),
                libc::MSG_NOSIGNAL,
            );
        }
    }
    keep
}

enum Answer {
    Replied,
    /// Needs the engine: stop reading this client.
    Leave,
    Shutdown,
}

/// Redis's processCommand while a script is timed out.
fn answer(
    args: &[bytes::Bytes],
    table: &CommandTable,
    st: &BusyState,
    out: &mut Vec<u8>,
) -> Answer {
    let refuse = |out: &mut Vec<u8>, name: Option<String>, msg: &[u8], code: &'static str| {
        out.extend_from_slice(msg);
        st.rejected.lock().push((name, code));
        Answer::Replied
    };
    let (cmd, sub) = match table.resolve(args) {
        Resolved::Found(c, s) => (c, s),
        _ => {
            let msg = format!(
                "-{}\r\n",
                crate::commands::dispatch::unknown_command_error(args)
            );
            return refuse(out, None, msg.as_bytes(), "ERR");
        }
    };
    let def = sub.unwrap_or(cmd);
    let name = crate::commands::dispatch::full_name(cmd, sub).into_owned();
    let argc = args.len() as i32;
    let arity_ok = |a: i32| if a > 0 { argc == a } else { argc >= -a };
    if !arity_ok(cmd.arity) || !arity_ok(def.arity) {
        let msg = format!("-ERR wrong number of arguments for '{name}' command\r\n");
        return refuse(out, Some(name), msg.as_bytes(), "ERR");
    }
    if name == "script|kill" {
        if st.obey.load(Ordering::Relaxed) {
            return refuse(out, None, UNKILLABLE_MASTER, "UNKILLABLE");
        }
        if st.write_dirty.load(Ordering::Relaxed) {
            return refuse(out, None, UNKILLABLE_WRITE, "UNKILLABLE");
        }
        st.kill.store(true, Ordering::Relaxed);
        out.extend_from_slice(b"+OK\r\n");
        return Answer::Replied;
    }
    if name == "shutdown" {
        if args[1..].iter().any(|a| a.eq_ignore_ascii_case(b"nosave")) {
            st.shutdown.store(true, Ordering::Relaxed);
            return Answer::Shutdown;
        }
        return refuse(out, Some(name), BUSY, "BUSY");
    }
    if def.has(flags::ALLOW_BUSY) {
        return Answer::Leave;
    }
    refuse(out, Some(name), BUSY, "BUSY")
}
