//! Start-up and shutdown: listeners, the cron task, signal handling, and
//! Redis's start-up and shutdown log lines.

use super::shutdown::ShutdownSignal;
use super::{conn, cron, Server, Shared};
use crate::config::Config;
use crate::{log_notice, log_warning};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};

pub const REDIS_VERSION: &str = "7.0.15";
pub const KEEL_VERSION: &str = env!("CARGO_PKG_VERSION");

fn logo(port: u16, pid: u32) -> String {
    format!(
        concat!(
            "                _._                                                  \n",
            "           _.-``__ ''-._                                             \n",
            "      _.-``    `.  `_.  ''-._           keel {} (Redis {} compatible) 64 bit\n",
            "  .-`` .-```.  ```\\/    _.,_ ''-._                                  \n",
            " (    '      ,       .-`  | `,    )     Running in standalone mode\n",
            " |`-._`-...-` __...-.``-._|'` _.-'|     Port: {}\n",
            " |    `-._   `._    /     _.-'    |     PID: {}\n",
            "  `-._    `-._  `-./  _.-'    _.-'                                   \n",
            "      `-._    `-.__.-'    _.-'                                       \n",
            "          `-._        _.-'                                           \n",
            "              `-.__.-'                                               \n\n"
        ),
        KEEL_VERSION, REDIS_VERSION, port, pid
    )
}

/// Runs the server until shutdown. Returns the process exit code.
pub fn run(config: Config, config_loaded: bool, warnings: Vec<String>) -> i32 {
    super::log::configure(config.loglevel, &config.logfile);
    let pid = std::process::id();
    log_warning!("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
    log_warning!(
        "Redis version={}, bits=64, commit=00000000, modified=0, pid={}, just started",
        REDIS_VERSION,
        pid
    );
    if config_loaded {
        log_warning!("Configuration loaded");
    } else {
        log_warning!("Warning: no config file specified, using the default config. In order to specify a config file use keel-server /path/to/redis.conf");
    }
    for w in &warnings {
        log_warning!("{}", w);
    }
    // One event-loop thread by default, Redis's own model: commands run
    // in arrival order with no lock contention. KEEL_THREADS=N runs N
    // tokio workers instead (the engine lock keeps the order either way).
    let threads: usize = std::env::var("KEEL_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let built = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            // Converting a deeply nested Lua reply recurses (as in Redis,
            // whose main thread has an 8 MB stack).
            .thread_stack_size(8 << 20)
            .enable_all()
            .build()
    };
    let rt = match built {
        Ok(rt) => rt,
        Err(e) => {
            log_warning!("Failed creating the runtime: {}", e);
            return 1;
        }
    };
    rt.block_on(async_main(config))
}

async fn async_main(config: Config) -> i32 {
    let pid = std::process::id();
    let mut listeners = Vec::new();
    for (addr, optional) in super::listen::bind_addrs(&config.bind) {
        match TcpListener::bind((addr.as_str(), config.port)).await {
            Ok(l) => listeners.push(l),
            Err(e) => {
                if optional && e.kind() == std::io::ErrorKind::AddrNotAvailable {
                    continue;
                }
                if optional && addr == "::" {
                    continue;
                }
                log_warning!(
                    "Warning: Could not create server TCP listening socket {}:{}: {}",
                    addr,
                    config.port,
                    e
                );
                log_warning!("Failed listening on port {} (tcp), aborting.", config.port);
                return 1;
            }
        }
    }
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
        .unwrap_or(config.port);
    let unix = if !config.unixsocket.is_empty() {
        let _ = std::fs::remove_file(&config.unixsocket);
        match UnixListener::bind(&config.unixsocket) {
            Ok(l) => {
                if config.unixsocketperm != 0 {
                    use std::os::unix::fs::PermissionsExt;
                    let perm = std::fs::Permissions::from_mode(config.unixsocketperm);
                    let _ = std::fs::set_permissions(&config.unixsocket, perm);
                }
                Some(l)
            }
            Err(e) => {
                log_warning!("Failed opening Unix socket: {}", e);
                return 1;
            }
        }
    } else {
        None
    };
    let show_logo = config.always_show_logo || (config.logfile.is_empty() && is_tty_stdout());
    if show_logo {
        super::log::raw(&logo(port, pid));
    } else {
        log_notice!("Running mode=standalone, port={}.", port);
    }
    if !config.pidfile.is_empty() {
        if let Err(e) = std::fs::write(&config.pidfile, format!("{pid}\n")) {
            log_warning!("Failed to write PID file: {}", e);
        }
    }
    let hz = config.hz.max(1);
    let unixsocket = config.unixsocket.clone();
    let pidfile = config.pidfile.clone();
    let mut server = Server::new(config);
    server.port = port;
    let shared: Shared = Arc::new(parking_lot::Mutex::new(server));
    log_warning!("Server initialized");
    {
        let mut s = shared.lock();
        super::listen::attach(&mut s, &shared);
        for l in listeners {
            super::listen::spawn_accept(&mut s, &shared, l);
        }
    }
    let has_unix = unix.is_some();
    let ready = move || {
        log_notice!("Ready to accept connections tcp");
        if has_unix {
            log_notice!("Ready to accept connections unix");
        }
    };
    // Without AOF, the RDB file is loaded (on a thread: clients get
    // -LOADING meanwhile); "Ready to accept" follows the load, as in Redis.
    match crate::persistence::loading::start_loading(&shared, ready) {
        Ok(true) => {}
        Ok(false) => ready(),
        Err(e) => {
            log_warning!(
                "Fatal error loading the DB: {}. Exiting.",
                crate::config::special::strerror(&e)
            );
            return 1;
        }
    }
    // `replicaof` in the config: follow that master from the start.
    {
        let mut s = shared.lock();
        if let Some((host, port)) = s.config.replicaof.clone() {
            crate::replication::follow::set_master(&mut s, host, port);
            // Nothing to continue from: the first sync is a full one.
            s.follow.cached = None;
        }
    }
    if let Some(l) = unix {
        let shared = shared.clone();
        let path = unixsocket.clone();
        tokio::spawn(async move {
            loop {
                if let Ok((stream, _)) = l.accept().await {
                    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream) as i64;
                    tokio::spawn(conn::serve(
                        shared.clone(),
                        stream,
                        path.clone(),
                        path.clone(),
                        fd,
                        true,
                    ));
                }
            }
        });
    }
    // The end of each event-loop round for the AOF (Redis's beforeSleep).
    tokio::spawn(crate::persistence::aof::round::run(shared.clone()));
    // Cron.
    {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                let period = Duration::from_millis(1000 / shared.lock().config.hz.max(1) as u64);
                tokio::time::sleep(period).await;
                cron::tick(&mut shared.lock());
            }
        });
    }
    let _ = hz;
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    let main_notify = shared.lock().main_notify.clone();
    loop {
        tokio::select! {
            _ = async { match sigterm.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {
                if signal_shutdown(&shared, ShutdownSignal::Term) {
                    break;
                }
            }
            _ = async { match sigint.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {
                if signal_shutdown(&shared, ShutdownSignal::Int) {
                    break;
                }
            }
            _ = main_notify.notified() => {
                if shared.lock().shutdown.is_some() {
                    break;
                }
            }
        }
    }
    shutdown(&shared, &pidfile, &unixsocket);
    0
}

/// A shutdown asked by a signal: recorded, then started at once (the
/// cron step Redis runs after its signal handler). True when the process
/// exits now.
fn signal_shutdown(shared: &Shared, sig: ShutdownSignal) -> bool {
    let mut s = shared.lock();
    super::shutdown::signal(&mut s, sig);
    super::shutdown::cron(&mut s, super::now_ms());
    s.shutdown.is_some()
}

/// The end of Redis's finishShutdown (the final save already happened in
/// shutdown::finish, under the command, signal or cron that ended it).
fn shutdown(shared: &Shared, pidfile: &str, unixsocket: &str) {
    let s = shared.lock();
    if !pidfile.is_empty() {
        log_notice!("Removing the pid file.");
        let _ = std::fs::remove_file(pidfile);
    }
    if !unixsocket.is_empty() {
        log_notice!("Removing the unix socket file.");
        let _ = std::fs::remove_file(unixsocket);
    }
    drop(s);
    log_warning!("Redis is now ready to exit, bye bye...");
}

fn is_tty_stdout() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}
