//! Shared harness for the integration tests: start real servers (the
//! cargo-built `keel-server`, or a real `redis-server` for differential
//! tests) on free loopback ports in private temp directories, and talk to
//! them over raw sockets with a RESP reader that returns each reply's exact
//! bytes.
//!
//! Ports: each server gets a port P such that both P and P+10000 are free
//! (a cluster node binds its bus at P+10000). The range is 20000-29999
//! unless `KEEL_TEST_PORTS=lo-hi` says otherwise (lo..=hi, hi+10000 must
//! stay below 65536). Two tests could still race for the same port between
//! the probe and the server's bind, so a server that exits at startup is
//! retried on another port.
//!
//! Synchronisation is by condition with a deadline (the server answers
//! PING; a reply arrives; the peer closes), never by sleeping for a fixed
//! time.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod raw;
pub mod rdb;
pub mod rdb_newer;
pub mod rdb_server;

pub use raw::*;

/// How long a server may take to answer its first PING.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// How long a test waits for one reply before calling it missing.
pub const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// Polls `cond` until it holds (true) or `timeout` passes (false). The
/// one pause of the test harness: it only limits the polling rate (1 ms,
/// doubling up to 50 ms); what a test waits for is always `cond`.
pub fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Which program a [`Server`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Keel,
    Redis,
}

/// A running server process; killed (and its directory removed, when the
/// server owns it) on drop.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    child: Child,
    dir: PathBuf,
    /// The temp dir this server created (removed on drop); None for a
    /// server started in a caller's directory ([`Server::start_in`]).
    _owned: Option<tempfile::TempDir>,
    log_path: PathBuf,
}

/// Why [`Server::try_start_in`] got no running server.
#[derive(Debug)]
pub struct StartFailure {
    /// The exit status, when the process exited (None: no PONG in time).
    pub status: Option<std::process::ExitStatus>,
    /// Its stdout and stderr.
    pub log: String,
}

fn server_program(kind: Kind) -> PathBuf {
    match kind {
        Kind::Keel => PathBuf::from(env!("CARGO_BIN_EXE_keel-server")),
        Kind::Redis => PathBuf::from("redis-server"),
    }
}

/// The base command line every test server gets (`--appendonly no` may be
/// overridden by `extra`, later arguments win).
fn base_command(kind: Kind, port: u16, dir: &Path, log: &Path) -> Command {
    let log = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(server_program(kind));
    cmd.arg("--port")
        .arg(port.to_string())
        .arg("--bind")
        .arg("127.0.0.1")
        .arg("--dir")
        .arg(dir)
        .arg("--save")
        .arg("")
        .arg("--appendonly")
        .arg("no")
        .arg("--daemonize")
        .arg("no");
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log);
    cmd
}

fn port_range() -> (u16, u16) {
    if let Ok(r) = std::env::var("KEEL_TEST_PORTS") {
        if let Some((lo, hi)) = r.split_once('-') {
            if let (Ok(lo), Ok(hi)) = (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
                if lo <= hi && (hi as u32) + 10000 < 65536 {
                    return (lo, hi);
                }
            }
        }
        panic!("KEEL_TEST_PORTS must be lo-hi with hi+10000 < 65536, got {r:?}");
    }
    (20000, 29999)
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A port P with P and P+10000 free on 127.0.0.1. Successive calls in one
/// process walk the range from a per-process starting point, so parallel
/// tests of one binary never get the same port.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let (lo, hi) = port_range();
    let span = (hi - lo) as u32 + 1;
    if NEXT.load(Ordering::Relaxed) == u32::MAX {
        // Start somewhere depending on the pid so concurrent test binaries
        // (or people) rarely probe the same ports.
        let start = (std::process::id().wrapping_mul(7919)) % span;
        let _ = NEXT.compare_exchange(u32::MAX, start, Ordering::Relaxed, Ordering::Relaxed);
    }
    for _ in 0..span {
        let off = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let port = lo + off as u16;
        if port_free(port) && port_free(port + 10000) {
            return port;
        }
    }
    panic!("no free port pair in {lo}-{hi}");
}

/// True if `redis-server` can be run. Differential tests skip (with a
/// message) when it cannot; CI installs it.
pub fn redis_available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// True if `redis-cli` can be run.
pub fn redis_cli_available() -> bool {
    Command::new("redis-cli")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Returns a real redis-server, or None after printing why the caller
/// skips its test.
pub fn redis_or_skip(test: &str) -> Option<Server> {
    if !redis_available() {
        eprintln!("SKIPPED {test}: redis-server is not installed (apt-get install redis-server)");
        return None;
    }
    Some(Server::redis())
}

impl Server {
    /// Starts the cargo-built keel-server with default settings.
    pub fn keel() -> Server {
        Server::start(Kind::Keel, &[])
    }

    /// Starts keel-server with extra `--directive value` arguments.
    pub fn keel_with(extra: &[&str]) -> Server {
        Server::start(Kind::Keel, extra)
    }

    /// Starts a real redis-server (panics if it is not installed: use
    /// [`redis_or_skip`] to skip instead).
    pub fn redis() -> Server {
        Server::start(Kind::Redis, &[])
    }

    pub fn redis_with(extra: &[&str]) -> Server {
        Server::start(Kind::Redis, extra)
    }

    /// Starts `kind` on a free port, retrying on another port if the
    /// process exits before it answers (someone took the port meanwhile).
    pub fn start(kind: Kind, extra: &[&str]) -> Server {
        Server::start_seeded(kind, extra, &|_| {})
    }

    /// Like [`Server::start`], with `seed` called on the (empty) server
    /// directory before the process starts, e.g. to put an RDB file there.
    pub fn start_seeded(kind: Kind, extra: &[&str], seed: &dyn Fn(&Path)) -> Server {
        Server::start_inner(kind, extra, seed, false)
    }

    /// Like [`Server::start_seeded`], but returns as soon as the server
    /// answers PING at all, -LOADING included (it may still be loading).
    pub fn start_seeded_loading(kind: Kind, extra: &[&str], seed: &dyn Fn(&Path)) -> Server {
        Server::start_inner(kind, extra, seed, true)
    }

    /// Spawns `kind` on `port` with `--dir dir` (not waiting for it).
    fn spawn(
        kind: Kind,
        port: u16,
        dir: PathBuf,
        owned: Option<tempfile::TempDir>,
        log_path: PathBuf,
        extra: &[&str],
    ) -> Server {
        let mut cmd = base_command(kind, port, &dir, &log_path);
        cmd.args(extra);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {kind:?}: {e}"));
        Server {
            kind,
            port,
            child,
            dir,
            _owned: owned,
            log_path,
        }
    }

    fn start_inner(kind: Kind, extra: &[&str], seed: &dyn Fn(&Path), loading_ok: bool) -> Server {
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let dir = tempfile::Builder::new()
                .prefix("keel-test-")
                .tempdir()
                .expect("temp dir");
            seed(dir.path());
            let log_path = dir.path().join("server.log");
            let path = dir.path().to_path_buf();
            let mut srv = Server::spawn(kind, port, path, Some(dir), log_path, extra);
            match srv.wait_ready(loading_ok) {
                Ok(()) => return srv,
                Err(why) => {
                    last_log = format!("{why}\n--- log ---\n{}", srv.log());
                    // Drop kills it; try another port.
                }
            }
        }
        panic!("{kind:?} server did not start: {last_log}");
    }

    /// Starts `kind` with `--dir dir` (an existing directory the caller
    /// owns and that outlives the server: it is not removed on drop), e.g.
    /// to restart a server on the files a killed one left. Panics if the
    /// server does not come up.
    pub fn start_in(kind: Kind, dir: &Path, extra: &[&str]) -> Server {
        Server::try_start_in(kind, dir, extra)
            .unwrap_or_else(|f| panic!("{kind:?} server did not start in {}: {f:?}", dir.display()))
    }

    /// Like [`Server::start_in`]: Ok once it answers PING (after loading),
    /// Err with its exit status and log when it exits (or never answers).
    /// Each start logs to its own file in `dir` (`server-<n>.log`). A
    /// start that fails because the port was taken is retried elsewhere.
    pub fn try_start_in(kind: Kind, dir: &Path, extra: &[&str]) -> Result<Server, StartFailure> {
        static STARTS: AtomicU32 = AtomicU32::new(0);
        let mut last = None;
        for _attempt in 0..5 {
            let port = free_port();
            let n = STARTS.fetch_add(1, Ordering::Relaxed);
            let log_path = dir.join(format!("server-{}-{n}.log", std::process::id()));
            let mut srv = Server::spawn(kind, port, dir.to_path_buf(), None, log_path, extra);
            match srv.wait_ready(false) {
                Ok(()) => return Ok(srv),
                Err(_) => {
                    let status = srv.child.try_wait().ok().flatten();
                    srv.kill9();
                    let log = srv.log();
                    let port_taken =
                        log.contains("in use") || log.contains("Could not create server TCP");
                    let f = StartFailure { status, log };
                    if !port_taken {
                        return Err(f);
                    }
                    last = Some(f);
                }
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// Starts `kind` on a given `port` (e.g. again where a stopped server
    /// listened, for peers configured with its address).
    pub fn start_on_port(kind: Kind, port: u16, extra: &[&str]) -> Server {
        let owned = tempfile::tempdir().expect("temp dir");
        let dir = owned.path().to_path_buf();
        let log_path = dir.join("server.log");
        let mut srv = Server::spawn(kind, port, dir, Some(owned), log_path, extra);
        if let Err(e) = srv.wait_ready(false) {
            panic!(
                "{kind:?} server did not start on port {port}: {e}: {}",
                srv.log()
            );
        }
        srv
    }

    /// Kills the server with SIGKILL (no shutdown code runs: a crash) and
    /// reaps it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // std's kill sends SIGKILL
        let _ = self.child.wait();
    }

    /// Waits until the server answers PING (+PONG, or -NOAUTH when a
    /// password is required), or fails if it
    /// exits or the deadline passes.
    fn wait_ready(&mut self, loading_ok: bool) -> Result<(), String> {
        let mut exited = None;
        let addr = self.addr();
        let ready = poll_until(START_DEADLINE, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                exited = Some(status);
                return true;
            }
            let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
                return false;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            // +PONG, or -NOAUTH when started with requirepass.
            let mut buf = [0u8; 7];
            s.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok()
                && s.read_exact(&mut buf).is_ok()
                && (&buf == b"+PONG\r\n"
                    || &buf == b"-NOAUTH"
                    || (loading_ok && &buf == b"-LOADIN"))
        });
        match (exited, ready) {
            (Some(status), _) => Err(format!("exited at startup with {status}")),
            (None, true) => Ok(()),
            (None, false) => Err("no PONG before the deadline".into()),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's log so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// A new raw connection.
    pub fn conn(&self) -> RawConn {
        RawConn::connect(self.addr())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (up to `wait`) for the process to exit; its status, if it did.
    pub fn wait_exit(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        poll_until(wait, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        status
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
