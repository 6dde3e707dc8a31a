//! Start-up and shutdown: listeners, the cron task, signal handling, and
//! Redis's start-up and shutdown log lines.

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

/// Addresses to listen on from `bind` (a leading `-` marks an optional
/// address whose failure is not fatal).
fn bind_addrs(cfg: &Config) -> Vec<(String, bool)> {
    cfg.bind
        .iter()
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

/// Runs the server until shutdown. Returns the process exit code.
pub fn run(config: Config, config_loaded: bool, warnings: Vec<String>) -> i32 {
    if config.daemonize {
        if let Err(e) = crate::persistence::fork::daemonize() {
            eprintln!("Can't daemonize: {e}");
            return 1;
        }
    }
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
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
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
    for (addr, optional) in bind_addrs(&config) {
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
            Ok(l) => Some(l),
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
    // Like Redis: a daemon without a pidfile setting still writes the
    // default one.
    let pidfile_path = if config.pidfile.is_empty() && config.daemonize {
        "/var/run/redis.pid".to_string()
    } else {
        config.pidfile.clone()
    };
    if !pidfile_path.is_empty() {
        if let Err(e) = std::fs::write(&pidfile_path, format!("{pid}\n")) {
            log_warning!("Failed to write PID file: {}", e);
        }
    }
    let hz = config.hz.max(1);
    let unixsocket = config.unixsocket.clone();
    let pidfile = pidfile_path.clone();
    let mut server = Server::new(config);
    server.port = port;
    let shared: Shared = Arc::new(parking_lot::Mutex::new(server));
    log_warning!("Server initialized");
    for l in listeners {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((mut stream, addr)) => {
                        let _ = stream.set_nodelay(true);
                        let (keepalive, protected) = {
                            let s = shared.lock();
                            (
                                s.config.tcp_keepalive,
                                s.config.protected_mode && s.config.requirepass.is_none(),
                            )
                        };
                        if keepalive > 0 {
                            set_keepalive(&stream, keepalive);
                        }
                        if protected && !addr.ip().is_loopback() {
                            shared.lock().stats.rejected_connections += 1;
                            let _ = tokio::io::AsyncWriteExt::write_all(
                                &mut stream,
                                PROTECTED_MODE_DENIED.as_bytes(),
                            )
                            .await;
                            continue;
                        }
                        let laddr = stream
                            .local_addr()
                            .map(|a| a.to_string())
                            .unwrap_or_default();
                        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream) as i64;
                        let shared = shared.clone();
                        tokio::spawn(conn::serve(
                            shared,
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
    }
    log_notice!("Ready to accept connections tcp");
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
        log_notice!("Ready to accept connections unix");
    }
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
                log_warning!("Received SIGTERM scheduling shutdown...");
                break;
            }
            _ = async { match sigint.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {
                log_warning!("Received SIGINT scheduling shutdown...");
                break;
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

/// Redis's prepareForShutdown + finishShutdown, without persistence (the
/// RDB/AOF issues add the final save and fsync here).
fn shutdown(shared: &Shared, pidfile: &str, unixsocket: &str) {
    let s = shared.lock();
    log_warning!("User requested shutdown...");
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

/// Redis's reply to a non-loopback client in protected mode.
const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// TCP keepalive as Redis's anetKeepAlive: probes after `secs` idle, then
/// every secs/3, 3 probes.
fn set_keepalive(stream: &tokio::net::TcpStream, secs: u64) {
    let ka = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(secs))
        .with_interval(Duration::from_secs((secs / 3).max(1)))
        .with_retries(3);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
}

fn is_tty_stdout() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}
