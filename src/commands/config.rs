//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP, as Redis 7.0's
//! config.c answers them.
//!
//! CONFIG SET is atomic: every pair is checked (known, settable, not
//! repeated), then every value is set; if any set or apply step fails, the
//! whole previous configuration is put back and nothing changes. Setting a
//! directive that drives running machinery applies it (maxmemory runs
//! eviction, loglevel reconfigures the log, port/bind re-listen, dir
//! changes the working directory).

use super::table::{flags::*, CommandDef, KeyPos};
use super::{reply_help, Ctx};
use crate::config::directives::{self, Directive, HIDDEN, IMMUTABLE, PROTECTED, SENSITIVE};
use crate::config::Config;
use crate::util::glob::glob_match;
use crate::{log_verbose, log_warning};
use bytes::Bytes;

const FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandDef] =
    &[
        CommandDef::new("config", -2, 0, KeyPos::None, super::container_help)
            .doc(
                "server",
                "2.0.0",
                "A container for server configuration commands",
                "Depends on subcommand.",
            )
            .subs(CONFIG_SUBS),
    ];

static CONFIG_SUBS: &[CommandDef] = &[
    CommandDef::new("get", -3, FLAGS, KeyPos::None, config_get).doc(
        "server",
        "2.0.0",
        "Get the values of configuration parameters",
        "O(N) when N is the number of configuration parameters provided",
    ),
    CommandDef::new("set", -4, FLAGS, KeyPos::None, config_set).doc(
        "server",
        "2.0.0",
        "Set configuration parameters to the given values",
        "O(N) when N is the number of configuration parameters provided",
    ),
    CommandDef::new("resetstat", 2, FLAGS, KeyPos::None, config_resetstat).doc(
        "server",
        "2.0.0",
        "Reset the stats returned by INFO",
        "O(1)",
    ),
    CommandDef::new("rewrite", 2, FLAGS, KeyPos::None, config_rewrite).doc(
        "server",
        "2.8.0",
        "Rewrite the configuration file with the in memory configuration",
        "O(1)",
    ),
    CommandDef::new("help", 2, LOADING | STALE, KeyPos::None, config_help).doc(
        "server",
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
];

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The names and directives CONFIG GET answers for `patterns`.
pub fn get_matches(patterns: &[String]) -> Vec<(String, &'static Directive)> {
    let mut matches: Vec<(String, &'static Directive)> = Vec::new();
    let has = |m: &Vec<(String, &Directive)>, n: &str| m.iter().any(|(k, _)| k == n);
    for pat in patterns {
        if !pat.contains(['[', '*', '?']) {
            if has(&matches, pat) {
                continue;
            }
            if let Some(d) = directives::find(pat) {
                matches.push((pat.clone(), d));
            }
            continue;
        }
        // Hidden directives are returned only for their exact name.
        for (name, d) in directives::all_names() {
            if d.has(HIDDEN) || has(&matches, name) {
                continue;
            }
            if glob_match(pat.as_bytes(), name.as_bytes(), true) {
                matches.push((name.to_string(), d));
            }
        }
    }
    matches
}

fn config_get(ctx: &mut Ctx, args: &[Bytes]) {
    let patterns: Vec<String> = args[2..].iter().map(text).collect();
    let matches = get_matches(&patterns);
    ctx.out.map_len(matches.len());
    for (name, d) in matches {
        ctx.out.bulk_str(&name);
        ctx.out.bulk_str(&d.show(&ctx.srv.config));
    }
}

fn is_local_client(ctx: &Ctx) -> bool {
    crate::server::conn::is_local_addr(&ctx.client.addr, ctx.client.flags.unix_socket)
}

/// allowProtectedAction for enable-protected-configs.
fn protected_allowed(ctx: &Ctx) -> bool {
    match ctx
        .srv
        .config
        .get_text("enable-protected-configs")
        .as_deref()
    {
        Some("yes") => true,
        Some("local") => is_local_client(ctx),
        _ => false,
    }
}

/// Positions in a CONFIG SET argv of the values that must not be shown
/// (SENSITIVE directives: requirepass, masterauth, masteruser), which
/// Redis replaces by "(redacted)" in the slow log and MONITOR output.
pub fn sensitive_value_positions(args: &[Bytes]) -> Vec<usize> {
    (2..args.len())
        .step_by(2)
        .filter(|&i| i + 1 < args.len())
        .filter(|&i| directives::find(&text(&args[i])).is_some_and(|d| d.has(SENSITIVE)))
        .map(|i| i + 1)
        .collect()
}

fn config_set(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() % 2 == 1 {
        ctx.out.error(super::err::SYNTAX);
        return;
    }
    let pairs: Vec<(String, String)> = args[2..]
        .chunks(2)
        .map(|p| (text(&p[0]), text(&p[1])))
        .collect();
    // Phase 1: every name must be known, settable and not repeated.
    let mut chosen: Vec<&'static Directive> = Vec::new();
    let mut unknown: Option<&str> = None;
    let mut failure: Option<(String, String)> = None;
    for (name, _) in &pairs {
        let Some(d) = directives::find(name) else {
            unknown = Some(name);
            break;
        };
        if d.has(IMMUTABLE) || (d.has(PROTECTED) && !protected_allowed(ctx)) {
            let why = if d.has(IMMUTABLE) {
                "can't set immutable config"
            } else {
                "can't set protected config"
            };
            failure = Some((name.clone(), why.into()));
            break;
        }
        if chosen.iter().any(|c| std::ptr::eq(*c, d)) {
            failure = Some((name.clone(), "duplicate parameter".into()));
            break;
        }
        chosen.push(d);
    }
    if let Some(name) = unknown {
        ctx.out.error(&format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
        ));
        return;
    }
    if failure.is_none() {
        failure = set_all(ctx, &chosen, &pairs).err();
    }
    match failure {
        None => ctx.out.ok(),
        Some((name, why)) => ctx.out.error(&format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
        )),
    }
}

/// Phases 2 and 3 of CONFIG SET: set every value, then apply the
/// changes; on any failure the old configuration is restored.
fn set_all(
    ctx: &mut Ctx,
    chosen: &[&'static Directive],
    pairs: &[(String, String)],
) -> Result<(), (String, String)> {
    let old = ctx.srv.config.clone();
    let old_cwd = std::env::current_dir().ok();
    let restore = |ctx: &mut Ctx, old: Config| {
        if let Some(cwd) = &old_cwd {
            let _ = std::env::set_current_dir(cwd);
        }
        ctx.srv.config = old;
    };
    for (d, (_, value)) in chosen.iter().zip(pairs) {
        let argv = directives::split_set_value(d, value);
        if let Err(e) = d.set(&mut ctx.srv.config, &argv) {
            restore(ctx, old);
            return Err((d.name.to_string(), e));
        }
    }
    if let Err((name, e)) = apply(ctx, &old) {
        log_warning!(
            "Failed applying new configuration. Possibly related to new {} setting. Restoring previous settings.",
            name
        );
        restore(ctx, old);
        return Err((name.to_string(), e));
    }
    Ok(())
}

/// Makes the running server follow the configuration (Redis's apply
/// functions), comparing with the previous configuration `old`.
fn apply(ctx: &mut Ctx, old: &Config) -> Result<(), (&'static str, String)> {
    let new = &ctx.srv.config;
    if new.port != old.port || new.bind != old.bind {
        let name = if new.port != old.port { "port" } else { "bind" };
        let (bind, port) = (new.bind.clone(), new.port);
        crate::server::listen::change_listeners(ctx.srv, (&old.bind, old.port), (&bind, port))
            .map_err(|e| (name, e))?;
    }
    // Redis's resizeReplicationBacklog keeps at least 16k.
    let backlog = |c: &Config| c.get_text("repl-backlog-size").unwrap_or_default();
    if backlog(&ctx.srv.config) != backlog(old)
        && backlog(&ctx.srv.config).parse::<u64>().unwrap_or(0) < 16 * 1024
    {
        let cfg = &mut ctx.srv.config;
        cfg.other.insert("repl-backlog-size".into(), "16384".into());
    }
    if ctx.srv.config.appendonly != old.appendonly {
        if ctx.srv.config.appendonly {
            crate::persistence::aof::control::start_runtime(ctx.srv)
                .map_err(|e| ("appendonly", e))?;
        } else {
            crate::persistence::aof::control::stop(ctx.srv);
        }
    }
    if old.aof_disable_auto_gc && !ctx.srv.config.aof_disable_auto_gc {
        crate::persistence::aof::control::delete_history(ctx.srv);
    }
    if ctx.srv.config.aof_timestamp_enabled != old.aof_timestamp_enabled {
        let on = ctx.srv.config.aof_timestamp_enabled;
        if let Some(w) = ctx.srv.aof.writer.as_mut() {
            w.timestamps = on;
        }
    }
    if ctx.srv.config.appendfsync != old.appendfsync {
        let p = ctx.srv.config.appendfsync;
        crate::persistence::aof::control::set_policy(ctx.srv, p);
    }
    let new = &ctx.srv.config;
    if new.loglevel != old.loglevel || new.logfile != old.logfile {
        crate::server::log::configure(new.loglevel, &new.logfile);
    }
    if new.maxmemory != old.maxmemory && new.maxmemory != 0 {
        let used = crate::server::evict::used_memory();
        if new.maxmemory < used {
            log_warning!(
                "WARNING: the new maxmemory value set via CONFIG SET ({}) is smaller than the current memory usage ({}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.",
                new.maxmemory,
                used
            );
        }
        // Redis's startEvictionTimeProc: keys are evicted by the cron (or
        // before the next command), not inside CONFIG SET, so a
        // transaction that lowers maxmemory runs on unchanged data.
        ctx.srv.evict_pending = true;
    }
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx, _args: &[Bytes]) {
    reset_server_stats(&mut ctx.srv.stats);
    ctx.out.ok();
}

/// Redis's resetServerStats + resetCommandTableStats +
/// resetErrorTableStats: every INFO counter goes back to zero except the
/// ones Redis keeps (client buffer-limit disconnections), and keel's
/// internal propagation count. The slow log and latency events are
/// untouched (SLOWLOG RESET / LATENCY RESET clear them).
pub fn reset_server_stats(stats: &mut crate::server::Stats) {
    let keep_qbuf = stats.client_qbuf_limit_disconnections;
    let keep_obuf = stats.client_outbuf_limit_disconnections;
    let keep_prop = stats.propagated_cmds;
    stats.reset();
    stats.client_qbuf_limit_disconnections = keep_qbuf;
    stats.client_outbuf_limit_disconnections = keep_obuf;
    stats.propagated_cmds = keep_prop;
}

fn config_rewrite(ctx: &mut Ctx, _args: &[Bytes]) {
    let Some(path) = ctx.srv.config.config_file.clone() else {
        ctx.out
            .error("ERR The server is running without a config file");
        return;
    };
    match crate::config::rewrite::rewrite_file(&ctx.srv.config, &path, false) {
        Ok(()) => {
            log_verbose!("Rewritten config file ({}) successfully", path);
            log_warning!("CONFIG REWRITE executed with success.");
            ctx.out.ok();
        }
        Err(e) => {
            let msg = crate::config::special::strerror(&e);
            log_warning!("CONFIG REWRITE failed: {}", msg);
            ctx.out.error(&format!("ERR Rewriting config file: {msg}"));
        }
    }
}

fn config_help(ctx: &mut Ctx, _args: &[Bytes]) {
    reply_help(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &[&str]) -> Vec<String> {
        let p: Vec<String> = p.iter().map(|s| s.to_string()).collect();
        get_matches(&p).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn get_patterns_aliases_hidden() {
        let all = names(&["*"]);
        assert_eq!(all.len(), 192);
        assert!(all.contains(&"slaveof".to_string()) && all.contains(&"replicaof".to_string()));
        assert!(!all.contains(&"key-load-delay".to_string()));
        assert_eq!(names(&["key-load-delay"]), vec!["key-load-delay"]);
        let r = names(&["maxmemory", "maxmemory*", "bind", "*of"]);
        let mut dedup = r.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), r.len());
        assert!(r.contains(&"maxmemory-clients".to_string()));
        // An exact name is echoed as typed.
        assert_eq!(names(&["MAXMEMORY"]), vec!["MAXMEMORY"]);
        assert!(names(&["nosuch"]).is_empty());
    }

    /// Runs one command through the real dispatcher; returns the raw reply.
    fn run(srv: &mut crate::server::Server, args: &[&str]) -> String {
        let mut client = crate::server::client::Client::new(
            1,
            "127.0.0.1:5000".into(),
            "127.0.0.1:6379".into(),
            7,
            crate::server::now_ms(),
            true,
        );
        let mut out = crate::protocol::Reply::new(2);
        let argv = args.iter().map(|a| Bytes::from(a.to_string())).collect();
        srv.clock_us = crate::server::now_us();
        crate::commands::dispatch::process_command(srv, &mut client, argv, &mut out);
        String::from_utf8_lossy(&out.buf).into_owned()
    }

    #[test]
    fn set_is_atomic_and_errors_match_redis() {
        let mut srv = crate::server::Server::new(crate::commands::testutil::test_config());
        let s = &mut srv;
        assert_eq!(
            run(s, &["config", "set", "maxmemory", "10mb", "timeout", "5"]),
            "+OK\r\n"
        );
        assert_eq!(s.config.maxmemory, 10 << 20);
        assert_eq!(
            run(s, &["config", "set", "maxmemory", "1", "maxmemory-clients", "200%", "timeout", "x"]),
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100\r\n"
        );
        assert_eq!(s.config.maxmemory, 10 << 20, "rolled back");
        assert_eq!(
            run(s, &["config", "set", "hash-max-ziplist-entries", "x"]),
            "-ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - argument couldn't be parsed into an integer\r\n"
        );
        assert_eq!(
            run(s, &["config", "set", "maxmemory", "1", "MAXMEMORY", "2"]),
            "-ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter\r\n"
        );
        assert_eq!(
            run(s, &["config", "set", "daemonize", "yes"]),
            "-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config\r\n"
        );
        assert_eq!(
            run(s, &["config", "set", "dir", "/tmp"]),
            "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n"
        );
        assert_eq!(
            run(s, &["config", "set", "nosuch", "1"]),
            "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"
        );
        assert_eq!(
            run(s, &["config", "set", "a", "b", "c"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            run(s, &["config", "get", "timeout", "maxmemory"]),
            "*4\r\n$7\r\ntimeout\r\n$1\r\n5\r\n$9\r\nmaxmemory\r\n$8\r\n10485760\r\n"
        );
        assert_eq!(
            run(s, &["config", "rewrite"]),
            "-ERR The server is running without a config file\r\n"
        );
        assert_eq!(run(s, &["config", "resetstat"]), "+OK\r\n");
        assert!(run(s, &["config", "help"]).starts_with("*11\r\n+CONFIG <subcommand>"));
    }

    #[test]
    fn sensitive_values() {
        let argv: Vec<Bytes> = [
            "config",
            "set",
            "maxmemory",
            "1",
            "requirepass",
            "x",
            "masterauth",
        ]
        .iter()
        .map(|s| Bytes::from(s.to_string()))
        .collect();
        assert_eq!(sensitive_value_positions(&argv), vec![5]);
    }

    #[test]
    fn resetstat_keeps_what_redis_keeps() {
        let mut s = crate::server::Stats {
            keyspace_hits: 5,
            client_qbuf_limit_disconnections: 2,
            ..Default::default()
        };
        s.record_error("ERR");
        reset_server_stats(&mut s);
        assert_eq!(s.keyspace_hits, 0);
        assert!(s.errors.is_empty());
        assert_eq!(s.client_qbuf_limit_disconnections, 2);
    }
}
