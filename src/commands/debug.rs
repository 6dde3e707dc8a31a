//! DEBUG: the testing hooks Redis's own test suite relies on (SLEEP,
//! OBJECT, SET-ACTIVE-EXPIRE, PAUSE-CRON, DIGEST, DIGEST-VALUE, POPULATE, LOG,
//! PROTOCOL, ERROR). Allowed by `enable-debug-command` (yes, or `local`
//! for loopback and unix-socket clients), checked by the dispatcher
//! because DEBUG is flagged PROTECTED.

use super::digest::{dataset_digest, hex, object_digest};
use super::table::{flags::*, CommandDef, KeyPos};
use super::{err, Ctx};
use crate::keyspace::Value;
use crate::server::client::Client;
use crate::server::Server;
use bytes::Bytes;

pub static COMMANDS: &[CommandDef] = &[CommandDef::new(
    "debug",
    -2,
    ADMIN | NOSCRIPT | LOADING | STALE | PROTECTED,
    KeyPos::None,
    debug,
)
.doc(
    "server",
    "1.0.0",
    "A container for debugging commands",
    "Depends on subcommand.",
)];

pub const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// Redis's islocalClient: unix socket, or a loopback peer.
pub fn is_local_client(c: &Client) -> bool {
    if c.flags.unix_socket {
        return true;
    }
    let ip = match c.addr.rsplit_once(':') {
        Some((ip, _)) => ip,
        None => c.addr.as_str(),
    };
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    ip == "127.0.0.1" || ip == "::1"
}

/// enable-debug-command: yes, local (loopback/unix only) or no.
pub fn debug_allowed(s: &Server, c: &Client) -> bool {
    match s.config.enable_debug_command.to_ascii_lowercase().as_str() {
        "yes" => true,
        "local" => is_local_client(c),
        _ => false,
    }
}

const HELP: &[&str] = &[
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
];

fn debug(ctx: &mut Ctx, args: &[Bytes]) {
    let sub = args[1].to_ascii_lowercase();
    let argc = args.len();
    match (sub.as_slice(), argc) {
        (b"help", 2) => super::reply_help(ctx, "DEBUG", HELP),
        (b"sleep", 3) => {
            let secs = crate::util::num::parse_f64(&args[2])
                .or_else(|| leading_f64(&args[2]))
                .unwrap_or(0.0);
            let us = (secs * 1_000_000.0) as i64;
            if us > 0 {
                std::thread::sleep(std::time::Duration::from_micros(us as u64));
            }
            ctx.out.ok();
        }
        (b"set-active-expire", 3) => {
            ctx.srv.active_expire = atoi(&args[2]) != 0;
            ctx.out.ok();
        }
        (b"set-skip-checksum-validation", 3) => {
            ctx.srv.skip_checksum_validation = atoi(&args[2]) != 0;
            ctx.out.ok();
        }
        (b"set-disable-deny-scripts", 3) => {
            ctx.srv.scripting.disable_deny_script = atoi(&args[2]) != 0;
            ctx.out.ok();
        }
        (b"pause-cron", 3) => {
            ctx.srv.pause_cron = atoi(&args[2]) != 0;
            ctx.out.ok();
        }
        (b"log", 3) => {
            crate::log_warning!("DEBUG LOG: {}", String::from_utf8_lossy(&args[2]));
            ctx.out.ok();
        }
        (b"error", 3) => {
            // Written raw, as Redis does: "-" + text, not an error reply
            // the error statistics see.
            let text: Vec<u8> = args[2]
                .iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
                .collect();
            ctx.out.raw(b"-");
            ctx.out.raw(&text);
            ctx.out.raw(b"\r\n");
        }
        (b"object", 3) => object(ctx, &args[2]),
        (b"config-rewrite-force-all", 2) => {
            let result = match ctx.srv.config.config_file.clone() {
                Some(path) => crate::config::rewrite::rewrite_file(&ctx.srv.config, &path, true),
                None => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
            };
            match result {
                Ok(()) => ctx.out.ok(),
                Err(e) => ctx.out.error(&format!(
                    "ERR CONFIG-REWRITE-FORCE-ALL failed: {}",
                    crate::config::special::strerror(&e)
                )),
            }
        }
        (b"quicklist-packed-threshold", 3) => {
            match crate::keyspace::list::set_packed_threshold(&String::from_utf8_lossy(&args[2])) {
                Ok(()) => ctx.out.ok(),
                Err(e) => ctx.out.error(e),
            }
        }
        (b"digest", 2) => {
            let d = dataset_digest(&ctx.srv.dbs);
            ctx.out.simple(&hex(&d));
        }
        (b"digest-value", _) => {
            ctx.out.array_len(argc - 2);
            let db = ctx.client.db;
            for k in &args[2..] {
                // Logically expired keys count too: no lookup, no expiry.
                let mut d = [0u8; 20];
                if let Some(e) = ctx.srv.dbs[db].get(k) {
                    object_digest(&mut d, &e.value, e.expire);
                }
                ctx.out.simple(&hex(&d));
            }
        }
        (b"populate", 3..=5) => populate(ctx, args),
        (b"reload", _) => reload(ctx, args),
        (b"aof-flush-sleep", 3) => {
            ctx.srv.aof.flush_sleep_us = atoi(&args[2]).max(0) as u64;
            ctx.out.ok();
        }
        (b"loadaof", 2) => {
            if crate::persistence::aof::control::debug_loadaof(ctx.srv) {
                ctx.out.ok();
            } else {
                // As Redis: the dataset is gone and the AOF cannot give
                // it back, so serving on would answer from nothing.
                crate::log_warning!("Exiting: DEBUG LOADAOF could not load the AOF");
                std::process::exit(1);
            }
        }
        (b"segfault", 2) => {
            // The crash handler logs the report, then the process dies.
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSEGV);
            ctx.out.ok();
        }
        (b"protocol", 3) => protocol(ctx, &args[2]),
        _ => super::subcommand_syntax_error(ctx, args),
    }
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, flush, load back.
fn reload(ctx: &mut Ctx, args: &[Bytes]) {
    let (mut flush, mut save, mut merge) = (true, true, false);
    for a in &args[2..] {
        match a.to_ascii_lowercase().as_slice() {
            b"merge" => merge = true,
            b"noflush" => flush = false,
            b"nosave" => save = false,
            _ => {
                ctx.out
                    .error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
                return;
            }
        }
    }
    if save && crate::persistence::snapshot::save(ctx.srv).is_err() {
        ctx.out.error("ERR");
        return;
    }
    if flush {
        for db in ctx.srv.dbs.iter_mut() {
            db.clear();
        }
        ctx.srv.snapshots.functions.clear();
    }
    if !crate::persistence::loading::reload(ctx.srv, merge) {
        ctx.out
            .error("ERR Error trying to load the RDB dump, check server logs.");
        return;
    }
    crate::log_warning!("DB reloaded by DEBUG RELOAD");
    ctx.out.ok();
}

/// C's atoi: optional sign and leading digits, 0 otherwise.
fn atoi(b: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_start();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let n: i64 = digits
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |acc, c| {
            acc.wrapping_mul(10).wrapping_add(c as i64 - '0' as i64)
        });
    if neg {
        -n
    } else {
        n
    }
}

/// strtod on a prefix ("0.5abc" -> 0.5), as DEBUG SLEEP parses.
fn leading_f64(b: &[u8]) -> Option<f64> {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_start();
    (1..=s.len())
        .rev()
        .filter(|&i| s.is_char_boundary(i))
        .find_map(|i| s[..i].parse::<f64>().ok())
}

/// Length of a string in RDB form (length prefix + bytes, or the
/// integer encodings), as rdbSavedObjectLen reports it.
fn rdb_string_len(v: &Value) -> usize {
    fn int_len(n: i64) -> Option<usize> {
        if (i8::MIN as i64..=i8::MAX as i64).contains(&n) {
            Some(2)
        } else if (i16::MIN as i64..=i16::MAX as i64).contains(&n) {
            Some(3)
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&n) {
            Some(5)
        } else {
            None
        }
    }
    fn len_prefix(n: usize) -> usize {
        if n < 1 << 6 {
            1
        } else if n < 1 << 14 {
            2
        } else if n <= u32::MAX as usize {
            5
        } else {
            9
        }
    }
    let bytes = v.as_bytes().unwrap_or_default();
    if let Value::Int(n) = v {
        if let Some(l) = int_len(*n) {
            return l;
        }
    } else if bytes.len() <= 11 {
        if let Some(n) = crate::util::num::parse_i64(&bytes) {
            if itoa::Buffer::new().format(n).as_bytes() == &bytes[..] {
                if let Some(l) = int_len(n) {
                    return l;
                }
            }
        }
    }
    len_prefix(bytes.len()) + bytes.len()
}

fn object(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.client.db;
    let shared_ints = ctx.srv.config.maxmemory == 0 || !lru_or_lfu(&ctx.srv.config);
    let Some(e) = ctx.srv.dbs[db].get(key) else {
        ctx.out.error(err::NO_KEY);
        return;
    };
    // Small integers are Redis's shared objects (refcount INT_MAX) unless
    // an LRU/LFU policy needs per-key access data.
    let refcount: i64 = match e.value {
        Value::Int(n) if (0..10000).contains(&n) && shared_ints => i32::MAX as i64,
        _ => 1,
    };
    let line = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        &e.value as *const Value,
        refcount,
        e.value.encoding(),
        rdb_string_len(&e.value),
        e.lru,
        crate::server::evict::idle_secs(e.lru)
    );
    ctx.out.simple(&line);
}

fn lru_or_lfu(cfg: &crate::config::Config) -> bool {
    use crate::config::EvictionPolicy::*;
    matches!(
        cfg.maxmemory_policy,
        VolatileLru | VolatileLfu | AllkeysLru | AllkeysLfu
    )
}

fn populate(ctx: &mut Ctx, args: &[Bytes]) {
    const POSITIVE: &str = "ERR value is out of range, must be positive";
    let Some(count) = crate::util::num::parse_i64(&args[2]).filter(|&n| n >= 0) else {
        ctx.out.error(POSITIVE);
        return;
    };
    let mut size = 0usize;
    if args.len() == 5 {
        match crate::util::num::parse_i64(&args[4]).filter(|&n| n >= 0) {
            Some(n) => size = n as usize,
            None => {
                ctx.out.error(POSITIVE);
                return;
            }
        }
    }
    let prefix: &[u8] = if args.len() >= 4 { &args[3] } else { b"key" };
    for j in 0..count {
        let mut key = prefix.to_vec();
        key.extend_from_slice(format!(":{j}").as_bytes());
        if ctx.lookup_write(&key).is_some() {
            continue;
        }
        let mut val = format!("value:{j}").into_bytes();
        if size > 0 {
            val.resize(size, 0);
        }
        // Never integer-encoded, not propagated, no dirty count (as Redis).
        ctx.set_key(&key, Value::string_no_int(&val), false);
    }
    ctx.out.ok();
}

// Redis's test value is the literal 3.141, not an approximation of pi.
#[allow(clippy::approx_constant)]
fn protocol(ctx: &mut Ctx, kind: &[u8]) {
    let out = &mut *ctx.out;
    match kind.to_ascii_lowercase().as_slice() {
        b"string" => out.bulk(b"Hello World"),
        b"integer" => out.int(12345),
        b"double" => out.double(3.141),
        b"bignum" => out.big_number("1234567999999999999999999999999999999"),
        b"null" => out.null(),
        b"array" => {
            out.array_len(3);
            (0..3).for_each(|j| out.int(j));
        }
        b"set" => {
            out.set_len(3);
            (0..3).for_each(|j| out.int(j));
        }
        b"map" => {
            out.map_len(3);
            for j in 0..3 {
                out.int(j);
                out.bool(j == 1);
            }
        }
        b"attrib" => {
            if out.is_resp3() {
                out.raw(b"|1\r\n");
                out.bulk(b"key-popularity");
                out.array_len(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !out.is_resp3() {
                out.error("ERR RESP2 is not supported by this command");
                return;
            }
            out.push_len(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        b"true" => out.bool(true),
        b"false" => out.bool(false),
        b"verbatim" => out.verbatim(b"This is a verbatim\nstring", "txt"),
        _ => out.error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"),
    }
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::{run, setup};

    #[test]
    fn gating() {
        let (mut srv, mut c) = setup();
        srv.config.enable_debug_command = "no".into();
        let r = run(&mut srv, &mut c, &["debug", "help"]);
        assert!(r.starts_with("-ERR DEBUG command not allowed."), "{r}");
        srv.config.enable_debug_command = "local".into();
        assert!(run(&mut srv, &mut c, &["debug", "help"]).starts_with('*'));
        c.addr = "10.0.0.1:5555".into();
        assert!(run(&mut srv, &mut c, &["debug", "help"]).starts_with("-ERR DEBUG"));
    }

    #[test]
    fn object_and_digest() {
        let (mut srv, mut c) = setup();
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "digest"]),
            format!("+{}\r\n", "0".repeat(40))
        );
        run(&mut srv, &mut c, &["set", "foo", "bar"]);
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "digest"]),
            "+d2ab4820c1be0580ea28efbfe8bfa1dc05bb802a\r\n"
        );
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "digest-value", "foo", "none"]),
            format!(
                "*2\r\n+68467c70ae30376e7ce005bcc8827f5ba7fd67dc\r\n+{}\r\n",
                "0".repeat(40)
            )
        );
        let r = run(&mut srv, &mut c, &["debug", "object", "foo"]);
        assert!(
            r.contains(" refcount:1 encoding:embstr serializedlength:4 lru:"),
            "{r}"
        );
        run(&mut srv, &mut c, &["set", "n", "5"]);
        let r = run(&mut srv, &mut c, &["debug", "object", "n"]);
        assert!(
            r.contains("refcount:2147483647 encoding:int serializedlength:2 "),
            "{r}"
        );
        run(&mut srv, &mut c, &["set", "big", "1234567890123"]);
        let r = run(&mut srv, &mut c, &["debug", "object", "big"]);
        assert!(r.contains("serializedlength:14 "), "{r}");
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "object", "nokey"]),
            "-ERR no such key\r\n"
        );
    }

    #[test]
    fn populate_and_errors() {
        let (mut srv, mut c) = setup();
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "populate", "3"]),
            "+OK\r\n"
        );
        assert_eq!(srv.dbs[0].len(), 3);
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "populate", "2", "p", "10"]),
            "+OK\r\n"
        );
        let v = srv.dbs[0]
            .get(b"p:1")
            .unwrap()
            .value
            .as_bytes()
            .unwrap()
            .into_owned();
        assert_eq!(v, b"value:1\0\0\0".to_vec());
        assert_eq!(srv.dirty, 0);
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "populate", "-1"]),
            "-ERR value is out of range, must be positive\r\n"
        );
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "foo"]),
            "-ERR unknown subcommand or wrong number of arguments for 'foo'. Try DEBUG HELP.\r\n"
        );
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "set-active-expire", "0"]),
            "+OK\r\n"
        );
        assert!(!srv.active_expire);
        assert_eq!(run(&mut srv, &mut c, &["debug", "sleep", "0"]), "+OK\r\n");
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "pause-cron", "1"]),
            "+OK\r\n"
        );
        assert!(srv.pause_cron);
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "error", "WRONGTYPE x"]),
            "-WRONGTYPE x\r\n"
        );
        assert_eq!(
            run(&mut srv, &mut c, &["debug", "error", "-WRONGTYPE x"]),
            "--WRONGTYPE x\r\n"
        );
    }
}
