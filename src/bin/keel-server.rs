//! keel-server: starts a node like redis-server does:
//! `keel-server [/path/to/redis.conf] [--directive value ...]`.

use keel::config::{load, Config};
use std::io::Read;

/// jemalloc, counting the usable size of every live block with
/// `keel::server::alloc_count` (Redis's zmalloc used_memory), so that
/// INFO used_memory and maxmemory see exact figures at every instant.
struct CountingJemalloc;

use keel::server::alloc_count::add;
use std::alloc::{GlobalAlloc, Layout};
use tikv_jemallocator::{usable_size, Jemalloc};

// SAFETY: every method forwards to jemalloc with the caller's arguments
// unchanged, so the GlobalAlloc contract holds as it does for Jemalloc;
// `usable_size` is only called on pointers jemalloc returned and that are
// still live (before dealloc, after alloc/realloc succeeded).
unsafe impl GlobalAlloc for CountingJemalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { Jemalloc.alloc(layout) };
        if !p.is_null() {
            // SAFETY: p is a live jemalloc block.
            add(unsafe { usable_size(p) } as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { Jemalloc.alloc_zeroed(layout) };
        if !p.is_null() {
            // SAFETY: p is a live jemalloc block.
            add(unsafe { usable_size(p) } as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr is live until the dealloc below.
        add(-(unsafe { usable_size(ptr) } as isize));
        // SAFETY: same contract as the caller's.
        unsafe { Jemalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: ptr is live until realloc succeeds.
        let old = unsafe { usable_size(ptr) };
        // SAFETY: same contract as the caller's.
        let p = unsafe { Jemalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // SAFETY: p is the live block that replaced ptr.
            let new = unsafe { usable_size(p) };
            add(new as isize - old as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingJemalloc = CountingJemalloc;

fn usage() -> ! {
    eprintln!("Usage: ./keel-server [/path/to/redis.conf] [options] [-]");
    eprintln!("       ./keel-server - (read config from stdin)");
    eprintln!("       ./keel-server -v or --version");
    eprintln!("       ./keel-server -h or --help");
    eprintln!("       ./keel-server --test-memory <megabytes>");
    eprintln!("       ./keel-server --check-system");
    eprintln!();
    eprintln!("Examples:");
    eprintln!("       ./keel-server (run the server with default conf)");
    eprintln!("       echo 'maxmemory 128mb' | ./keel-server -");
    eprintln!("       ./keel-server /etc/redis/6379.conf");
    eprintln!("       ./keel-server --port 7777");
    eprintln!("       ./keel-server --port 7777 --replicaof 127.0.0.1 8888");
    eprintln!("       ./keel-server /etc/myredis.conf --loglevel verbose -");
    eprintln!("       ./keel-server /etc/myredis.conf --loglevel verbose\n");
    std::process::exit(1);
}

/// Fatal signals: log Redis's crash report with a stack trace, then die
/// of the same signal (the default action).
extern "C" fn on_fatal_signal(sig: libc::c_int) {
    keel::server::log::crash_report(sig);
    if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
        // SAFETY: restoring the default action installs no handler.
        let _ = unsafe { nix::sys::signal::signal(s, nix::sys::signal::SigHandler::SigDfl) };
        let _ = nix::sys::signal::raise(s);
    }
}

fn install_crash_handlers() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let act = SigAction::new(
        SigHandler::Handler(on_fatal_signal),
        SaFlags::SA_NODEFER | SaFlags::SA_RESETHAND,
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGFPE,
        Signal::SIGILL,
        Signal::SIGABRT,
    ] {
        // SAFETY: the handler only formats and writes the report (as
        // Redis's sigsegvHandler does) and then re-raises the signal with
        // the default action; it never returns into the faulting code.
        let _ = unsafe { sigaction(sig, &act) };
    }
}

fn main() {
    install_crash_handlers();
    // A file-size limit (RLIMIT_FSIZE) must fail the write with EFBIG,
    // which the AOF handles (MISCONF, or exit under always), rather than
    // kill the server with SIGXFSZ.
    // SAFETY: ignoring a signal installs no handler code.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGXFSZ,
            nix::sys::signal::SigHandler::SigIgn,
        )
    };
    let args: Vec<String> = std::env::args().collect();
    let mut cfg = Config::default();
    let mut warnings = Vec::new();
    if args.len() >= 2 {
        match args[1].as_str() {
            "-v" | "--version" => {
                println!(
                    "Redis server v={} sha=00000000:0 malloc=jemalloc bits=64 build=keel-{}",
                    keel::server::run::REDIS_VERSION,
                    keel::server::run::KEEL_VERSION
                );
                return;
            }
            "-h" | "--help" => usage(),
            "--test-memory" => {
                if args.len() == 3 {
                    eprintln!("keel-server does not implement the memory test; use memtester.");
                } else {
                    eprintln!("Please specify the amount of memory to test in megabytes.");
                    eprintln!("Example: ./keel-server --test-memory 4096\n");
                }
                std::process::exit(1);
            }
            "--check-system" => {
                eprintln!("keel-server does not implement --check-system.");
                std::process::exit(1);
            }
            _ => {}
        }
        let cl = load::parse_command_line(&args[1..]);
        // CONFIG REWRITE needs the absolute path (the server may chdir).
        cfg.config_file = cl.config_file.as_ref().map(|f| absolute(f));
        let stdin_text = cl.stdin.then(|| {
            let mut s = String::new();
            let _ = std::io::stdin().read_to_string(&mut s);
            s
        });
        let file = cfg.config_file.clone();
        match load::load_server_config(
            &mut cfg,
            file.as_deref(),
            stdin_text.as_deref(),
            &cl.options,
        ) {
            Ok(w) => warnings = w,
            Err(e) => {
                eprint!("{e}");
                std::process::exit(1);
            }
        }
        if cl.stdin {
            warnings.insert(0, "Reading config from stdin".into());
        }
    }
    let loaded = args.len() >= 2;
    if cfg.daemonize {
        // Like Redis's daemonize(): before any thread exists, fork into
        // the background (the parent exits), start a new session, keep
        // the working directory and point stdio at /dev/null.
        if let Err(e) = nix::unistd::daemon(true, false) {
            eprintln!("Can't daemonize: {e}");
            std::process::exit(1);
        }
        if cfg.pidfile.is_empty() {
            cfg.pidfile = "/var/run/redis.pid".into();
        }
    }
    std::process::exit(keel::server::run::run(cfg, loaded, warnings));
}

/// Redis's getAbsolutePath (without resolving symlinks).
fn absolute(f: &str) -> String {
    if f.starts_with('/') {
        return f.to_string();
    }
    match std::env::current_dir() {
        Ok(d) => d.join(f).display().to_string(),
        Err(_) => f.to_string(),
    }
}
