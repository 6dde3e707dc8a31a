//! Running one command for a client, as Redis's processCommand + call():
//! lookup, arity, authentication, MULTI queuing, the pub/sub context,
//! the OOM check, CLIENT PAUSE, then the handler, then statistics, slow
//! log, latency monitor, MONITOR feed and propagation.

use super::ctx::Ctx;
use super::table::{flags, CommandDef, Resolved};
use crate::protocol::Reply;
use crate::server::client::{BlockReason, Blocked, Client};
use crate::server::{evict, Server};
use bytes::Bytes;
use std::time::Instant;

/// What happened to the command.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// The client is blocked; its connection stops reading commands until
    /// it is released (the reply is written by whoever releases it).
    Blocked,
}

/// Full name as Redis prints it ("client|list").
pub fn full_name(cmd: &CommandDef, sub: Option<&CommandDef>) -> String {
    match sub {
        Some(s) => format!("{}|{}", cmd.name, s.name),
        None => cmd.name.to_string(),
    }
}

fn unknown_command_error(args: &[Bytes]) -> String {
    let mut a = String::new();
    for arg in args.iter().skip(1) {
        if a.len() >= 128 {
            break;
        }
        let room = 128 - a.len();
        let s = String::from_utf8_lossy(arg);
        let s: String = s.chars().take(room).collect();
        a.push_str(&format!("'{}' ", s));
    }
    let name: String = String::from_utf8_lossy(&args[0])
        .chars()
        .take(128)
        .collect();
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        name, a
    )
}

fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = argc as i32;
    if arity > 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// Looks up and checks a command; on failure writes the error and
/// returns None (also counting the rejection).
fn resolve(
    srv: &mut Server,
    args: &[Bytes],
    out: &mut Reply,
) -> Option<(&'static CommandDef, Option<&'static CommandDef>)> {
    let table = srv.commands.clone();
    match table.resolve(args) {
        Resolved::Unknown => {
            out.error(&unknown_command_error(args));
            None
        }
        Resolved::UnknownSub(c) => {
            let sub: String = String::from_utf8_lossy(&args[1])
                .chars()
                .take(128)
                .collect();
            out.error(&format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                sub,
                c.name.to_ascii_uppercase()
            ));
            None
        }
        Resolved::Found(c, sub) => {
            let def = sub.unwrap_or(c);
            if !arity_ok(c.arity, args.len()) || !arity_ok(def.arity, args.len()) {
                out.error(&format!(
                    "ERR wrong number of arguments for '{}' command",
                    full_name(c, sub)
                ));
                srv.stats
                    .commands
                    .entry(full_name(c, sub))
                    .or_default()
                    .rejected_calls += 1;
                return None;
            }
            Some((c, sub))
        }
    }
}

/// Runs (or queues, or rejects) one command.
pub fn process_command(
    srv: &mut Server,
    client: &mut Client,
    args: Vec<Bytes>,
    out: &mut Reply,
) -> Outcome {
    let now = crate::server::now_ms();
    client.last_interaction = now;
    out.last_error = None;
    let before_errors = out.errors;
    // While the command runs, CLIENT LIST shows it in the query buffer
    // and in argv-mem, as Redis does (its query buffer still holds it).
    let (qbuf_extra, argv_mem) = command_sizes(&args);
    client.qbuf += qbuf_extra;
    client.argv_mem = argv_mem;
    let outcome = process_inner(srv, client, args, out, now);
    client.qbuf = client.qbuf.saturating_sub(qbuf_extra);
    client.argv_mem = 0;
    if out.errors > before_errors {
        if let Some(code) = out.last_error.take() {
            srv.stats.record_error(&code);
        }
    }
    outcome
}

/// (size of the command in RESP form, sum of its argument lengths).
fn command_sizes(args: &[Bytes]) -> (usize, usize) {
    let digits = |n: usize| itoa::Buffer::new().format(n).len();
    let argv: usize = args.iter().map(|a| a.len()).sum();
    let resp =
        3 + digits(args.len()) + args.iter().map(|a| 5 + digits(a.len())).sum::<usize>() + argv;
    (resp, argv)
}

fn process_inner(
    srv: &mut Server,
    client: &mut Client,
    args: Vec<Bytes>,
    out: &mut Reply,
    now: i64,
) -> Outcome {
    let Some((cmd, sub)) = resolve(srv, &args, out) else {
        if client.flags.multi {
            client.flags.dirty_exec = true;
        }
        return Outcome::Done;
    };
    let def = sub.unwrap_or(cmd);
    let name = full_name(cmd, sub);
    client.last_cmd = name.clone();

    let reject = |srv: &mut Server, client: &mut Client, out: &mut Reply, msg: &str| {
        out.error(msg);
        srv.stats
            .commands
            .entry(name.clone())
            .or_default()
            .rejected_calls += 1;
        if client.flags.multi {
            client.flags.dirty_exec = true;
        }
        Outcome::Done
    };

    if cmd.has(flags::PROTECTED) && !super::debug::debug_allowed(srv, client) {
        return reject(srv, client, out, super::debug::DEBUG_NOT_ALLOWED);
    }
    if srv.config.requirepass.is_some() && !client.authenticated && !def.has(flags::NO_AUTH) {
        return reject(srv, client, out, super::err::NOAUTH);
    }
    if client.flags.multi && def.has(flags::NO_MULTI) {
        return reject(
            srv,
            client,
            out,
            "ERR Command not allowed inside a transaction",
        );
    }
    if client.in_pubsub_context() && !def.has(flags::PUBSUB_CONTEXT) {
        let msg = format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            name
        );
        return reject(srv, client, out, &msg);
    }
    // OOM: evict first, then refuse commands that may grow memory.
    if srv.config.maxmemory > 0 && !client.flags.multi {
        let res = evict::perform_evictions(srv);
        let deny = def.has(flags::DENYOOM)
            || (cmd.name == "exec" && client.multi_queue.iter().any(|a| queued_denyoom(srv, a)));
        if res == evict::EvictResult::Fail && deny {
            return reject(srv, client, out, super::err::OOM);
        }
    }
    // Queue inside MULTI.
    if client.flags.multi
        && !matches!(
            cmd.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
    {
        client.multi_queue.push(args);
        out.simple("QUEUED");
        return Outcome::Done;
    }
    // CLIENT PAUSE: hold writes (or everything) until the pause ends.
    if let Some(p) = srv.pause {
        if p.until > now && pause_applies(p.write_only, cmd, def, client) {
            client.blocked = Some(Blocked {
                args,
                deadline: Some(p.until),
                reason: BlockReason::Pause,
            });
            return Outcome::Blocked;
        }
    }
    call(srv, client, out, cmd, sub, &args, now)
}

fn queued_denyoom(srv: &Server, args: &[Bytes]) -> bool {
    match srv.commands.resolve(args) {
        Resolved::Found(c, s) => s.unwrap_or(c).has(flags::DENYOOM),
        _ => false,
    }
}

fn pause_applies(write_only: bool, cmd: &CommandDef, def: &CommandDef, client: &Client) -> bool {
    if !write_only {
        return true;
    }
    // EXEC of a transaction with writes counts as a write.
    def.has(flags::WRITE)
        || def.has(flags::MAY_REPLICATE)
        || (cmd.name == "exec" && !client.multi_queue.is_empty())
}

/// Executes a resolved command and does the bookkeeping after it.
pub fn call(
    srv: &mut Server,
    client: &mut Client,
    out: &mut Reply,
    cmd: &'static CommandDef,
    sub: Option<&'static CommandDef>,
    args: &[Bytes],
    now: i64,
) -> Outcome {
    let def = sub.unwrap_or(cmd);
    let errors_before = out.errors;
    let attributed_before = srv.stats.attributed_errors;
    let start = Instant::now();
    let mut ctx = Ctx {
        srv,
        client,
        out,
        cmd: def,
        now_ms: now,
        dirty: 0,
        propagate_as: None,
        block: None,
    };
    (def.handler)(&mut ctx, args);
    let Ctx {
        srv,
        client,
        out,
        dirty,
        propagate_as,
        block,
        ..
    } = ctx;
    let dur_ns = start.elapsed().as_nanos() as i64;
    let dur_us = (dur_ns / 1000) as u64;

    if let Some(b) = block {
        client.blocked = Some(b);
        return Outcome::Blocked;
    }

    let name = full_name(cmd, sub);
    // Errors already charged to commands run inside this one (EXEC's
    // queued commands) do not make this command fail too.
    let new_errors = (out.errors - errors_before) as u64;
    let nested = srv
        .stats
        .attributed_errors
        .saturating_sub(attributed_before);
    let failed = new_errors > nested;
    if failed {
        srv.stats.attributed_errors += new_errors - nested;
    }
    let st = srv.stats.commands.entry(name.clone()).or_default();
    st.calls += 1;
    st.usec += dur_us;
    if failed {
        st.failed_calls += 1;
    }
    srv.stats.total_commands_processed += 1;
    if srv.config.latency_tracking {
        srv.stats.record_latency(&name, dur_ns);
    }
    client.tot_cmds += 1;

    if !def.has(flags::SKIP_SLOWLOG) && !def.has(flags::BLOCKING) {
        let thr = srv.config.slowlog_log_slower_than;
        if thr >= 0 && dur_us as i64 >= thr {
            let peer = super::client::peer_id(client);
            let cname = client
                .name
                .as_ref()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default();
            let max = srv.config.slowlog_max_len;
            // Secrets (AUTH passwords ...) never reach the slow log.
            srv.slowlog.push(
                &super::monitoring::redact_args(&name, args),
                dur_us,
                peer,
                cname,
                max,
            );
        }
        let event = if def.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        let thr = srv.config.latency_monitor_threshold;
        srv.latency.add_if_needed(thr, event, dur_us / 1000);
    }

    if !srv.monitors.is_empty() && !def.has(flags::SKIP_MONITOR) && !def.has(flags::ADMIN) {
        crate::server::conn::feed_monitors(
            srv,
            client,
            &super::monitoring::redact_args(&name, args),
            now,
        );
    }

    if dirty > 0 {
        srv.dirty += dirty;
        let db = client.db;
        match propagate_as {
            Some(cmds) => {
                for c in cmds {
                    srv.propagate(db, c);
                }
            }
            None if def.has(flags::WRITE) => srv.propagate(db, args.to_vec()),
            None => {}
        }
    }
    Outcome::Done
}
