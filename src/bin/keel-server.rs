//! keel-server: starts a node like redis-server does:
//! `keel-server [/path/to/redis.conf] [--directive value ...]`.

use keel::config::{load, Config};
use std::io::Read;

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn usage() -> ! {
    eprintln!("Usage: ./keel-server [/path/to/redis.conf] [options] [-]");
    eprintln!("       ./keel-server - (read config from stdin)");
    eprintln!("       ./keel-server -v or --version");
    eprintln!("       ./keel-server -h or --help");
    eprintln!("       ./keel-server --test-memory <megabytes>\n");
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 2 {
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
            _ => {}
        }
    }
    let mut text = String::new();
    let mut rest = &args[1..];
    let mut config_file = None;
    if let Some(first) = rest.first() {
        if !first.starts_with("--") && first != "-" {
            match std::fs::read_to_string(first) {
                Ok(t) => {
                    text = t;
                    config_file = Some(first.clone());
                }
                Err(e) => {
                    eprintln!("Fatal error, can't open config file '{}': {}", first, e);
                    std::process::exit(1);
                }
            }
            rest = &rest[1..];
        }
    }
    let mut opts: Vec<String> = Vec::new();
    for a in rest {
        if a == "-" {
            let mut s = String::new();
            let _ = std::io::stdin().read_to_string(&mut s);
            text.push('\n');
            text.push_str(&s);
        } else {
            opts.push(a.clone());
        }
    }
    if !opts.is_empty() {
        if !opts[0].starts_with("--") {
            eprintln!("Invalid option '{}': options must start with --", opts[0]);
            std::process::exit(1);
        }
        text.push('\n');
        text.push_str(&load::options_to_text(&opts));
    }
    let mut cfg = Config {
        config_file: config_file.as_ref().map(|f| {
            std::fs::canonicalize(f)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| f.clone())
        }),
        ..Config::default()
    };
    let warnings = match load::load_text(&mut cfg, &text) {
        Ok(w) => w,
        Err(e) => {
            eprint!("{e}");
            std::process::exit(1);
        }
    };
    let loaded = config_file.is_some() || !opts.is_empty();
    std::process::exit(keel::server::run::run(cfg, loaded, warnings));
}
