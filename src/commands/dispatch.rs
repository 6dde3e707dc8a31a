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

/// What happened to the command.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// The client is blocked; its connection stops reading commands until
    /// it is released (the reply is written by whoever releases it).
    Blocked,
}

/// Full name as Redis prints it ("client|list").
pub fn full_name(
    cmd: &'static CommandDef,
    sub: Option<&CommandDef>,
) -> std::borrow::Cow<'static, str> {
    match sub {
        Some(s) => std::borrow::Cow::Owned(format!("{}|{}", cmd.name, s.name)),
        None => std::borrow::Cow::Borrowed(cmd.name),
    }
}

pub fn unknown_command_error(args: &[Bytes]) -> String {
    let mut a = String::new();
    for arg in args.iter().skip(1) {
        if a.len() >= 128 {
            break;
        }
        let room = 128 - a.len();
        let s: String = c_str(arg).chars().take(room).collect();
        a.push_str(&format!("'{}' ", s));
    }
    let name: String = c_str(&args[0]).chars().take(128).collect();
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

/// A command that was refused before running.
struct Rejection {
    msg: String,
    /// The command, when it was found (for its rejected_calls stat).
    name: Option<String>,
    is_exec: bool,
}

/// Looks up and checks a command (existence, arity).
fn resolve(
    srv: &mut Server,
    args: &[Bytes],
) -> Result<(&'static CommandDef, Option<&'static CommandDef>), Rejection> {
    match srv.commands.resolve_cached(&mut srv.cmd_cache, args) {
        Resolved::Unknown => Err(Rejection {
            msg: unknown_command_error(args),
            name: None,
            is_exec: false,
        }),
        Resolved::UnknownSub(c) => {
            let sub: String = c_str(&args[1]).chars().take(128).collect();
            Err(Rejection {
                msg: format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    sub,
                    c.name.to_ascii_uppercase()
                ),
                name: None,
                is_exec: false,
            })
        }
        Resolved::Found(c, sub) => {
            let def = sub.unwrap_or(c);
            if !arity_ok(c.arity, args.len()) || !arity_ok(def.arity, args.len()) {
                let name = full_name(c, sub).into_owned();
                return Err(Rejection {
                    msg: format!("ERR wrong number of arguments for '{}' command", name),
                    name: Some(name),
                    is_exec: c.name == "exec",
                });
            }
            Ok((c, sub))
        }
    }
}

/// Redis's rejectCommand: flags the transaction, counts the rejection,
/// and for EXEC aborts the transaction with EXECABORT.
fn reject(srv: &mut Server, client: &mut Client, out: &mut Reply, r: Rejection) -> Outcome {
    if client.flags.multi {
        client.flags.dirty_exec = true;
    }
    if let Some(n) = &r.name {
        srv.stats.command_stat(n).rejected_calls += 1;
    }
    if r.is_exec {
        super::multi::discard_transaction(srv, client);
        // Like Redis: generated errors lose their ERR code, shared ones
        // (NOAUTH, OOM...) keep theirs.
        let e = r.msg.strip_prefix("ERR ").unwrap_or(&r.msg);
        out.error(&format!("EXECABORT Transaction discarded because of: {e}"));
    } else {
        out.error(&r.msg);
    }
    Outcome::Done
}

/// The bytes up to the first NUL, as C's `%s` prints them.
fn c_str(b: &[u8]) -> std::borrow::Cow<'_, str> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end])
}

/// Runs (or queues, or rejects) one command.
pub fn process_command(
    srv: &mut Server,
    client: &mut Client,
    args: Vec<Bytes>,
    out: &mut Reply,
) -> Outcome {
    // The clock as of the end of the previous command of this batch (the
    // connection refreshes it at every batch): one clock read per command.
    let now_us = srv.clock_us;
    let now = now_us / 1000;
    srv.cached_lru = ((now / 1000) as u32) & evict::LRU_CLOCK_MAX;
    client.last_interaction = now;
    out.last_error = None;
    let before_errors = out.errors;
    // While the command runs, CLIENT LIST shows it in the query buffer
    // and in argv-mem, as Redis does (its query buffer still holds it).
    let (qbuf_extra, argv_mem) = command_sizes(&args);
    client.qbuf += qbuf_extra;
    client.argv_mem = argv_mem;
    let outcome = process_inner(srv, client, args, out, now_us);
    client.qbuf = client.qbuf.saturating_sub(qbuf_extra);
    client.argv_mem = 0;
    if !srv.blocking.ready.is_empty() && !srv.scripting.timed_out {
        // Serve clients blocked on keys this command made ready, before
        // anything else runs (handleClientsBlockedOnKeys); not while a
        // timed-out script is still running (its effects are not done).
        let id = client.id;
        let prev = srv.cur_client;
        srv.cur_client = id;
        crate::server::blocking::serve_ready_keys(srv);
        srv.cur_client = prev;
        srv.apply_cur_touches(client);
    }
    if !srv.detached_dirty_cas.is_empty() {
        let id = client.id;
        if srv.detached_dirty_cas.contains(&id) {
            client.flags.dirty_cas = true;
        }
        srv.detached_dirty_cas.retain(|&c| c != id);
    }
    if out.errors > before_errors {
        if let Some(code) = out.last_error.take() {
            srv.stats.record_error(&code);
        }
    }
    outcome
}

/// (size of the command in RESP form, sum of its argument lengths).
fn command_sizes(args: &[Bytes]) -> (usize, usize) {
    let digits = |n: usize| match n {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        _ => n.ilog10() as usize + 1,
    };
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
    now_us: i64,
) -> Outcome {
    let now = now_us / 1000;
    let (cmd, sub) = match resolve(srv, &args) {
        Ok(found) => found,
        Err(r) => return reject(srv, client, out, r),
    };
    let def = sub.unwrap_or(cmd);
    // What the checks below see (a script's shebang flags for EVAL).
    let dflags = crate::scripting::command_flags(srv, def, &args);
    let name = full_name(cmd, sub);
    client.last_cmd.clear();
    client.last_cmd.push_str(&name);

    let is_exec = cmd.name == "exec";
    let rejection = |msg: &str| Rejection {
        msg: msg.to_string(),
        name: Some(name.to_string()),
        is_exec,
    };

    if cmd.has(flags::PROTECTED) && !super::debug::debug_allowed(srv, client) {
        return reject(srv, client, out, rejection(super::debug::DEBUG_NOT_ALLOWED));
    }
    if srv.config.requirepass.is_some() && !client.authenticated && !def.has(flags::NO_AUTH) {
        return reject(srv, client, out, rejection(super::err::NOAUTH));
    }
    if client.flags.multi && def.has(flags::NO_MULTI) {
        return reject(
            srv,
            client,
            out,
            rejection("ERR Command not allowed inside a transaction"),
        );
    }
    if client.in_pubsub_context() && !def.has(flags::PUBSUB_CONTEXT) {
        let msg = format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            name
        );
        return reject(srv, client, out, rejection(&msg));
    }
    // OOM: evict first, then refuse commands that may grow memory. Inside
    // MULTI every queued command counts (queuing itself uses memory),
    // except the ones that end the transaction.
    let obey = client.flags.aof_loader || client.flags.master;
    if srv.config.maxmemory > 0 && !obey && !srv.scripting.timed_out {
        let res = evict::perform_evictions(srv);
        let ends_multi = matches!(cmd.name, "exec" | "discard" | "quit" | "reset");
        let deny = dflags & flags::DENYOOM != 0
            || (client.flags.multi && !ends_multi)
            || (cmd.name == "exec" && client.multi_queue.iter().any(|a| queued_denyoom(srv, a)));
        if res == evict::EvictResult::Fail && deny {
            return reject(srv, client, out, rejection(super::err::OOM));
        }
    }
    // min-replicas-to-write: keel has no replicas yet, so no replica is
    // "good" and writes are refused whenever the option is on, as Redis
    // refuses them with too few good replicas.
    let is_write = dflags & flags::WRITE != 0
        || (is_exec
            && client
                .multi_queue
                .iter()
                .any(|a| queued_has(srv, a, flags::WRITE)));
    // A failed BGSAVE with stop-writes-on-bgsave-error: refuse writes
    // (and PING, as Redis does) until a save succeeds.
    if (is_write || cmd.name == "ping") && !obey {
        if crate::persistence::snapshot::writes_denied(srv) {
            return reject(
                srv,
                client,
                out,
                rejection(crate::persistence::snapshot::MISCONF),
            );
        }
        if let Some(e) = crate::persistence::aof::control::write_error(srv) {
            return reject(srv, client, out, rejection(&e));
        }
    }
    if is_write
        && !srv.follow.is_replica()
        && srv.config.min_replicas_to_write > 0
        && srv.config.min_replicas_max_lag > 0
        && crate::replication::good_replicas(srv, now) < srv.config.min_replicas_to_write as usize
    {
        return reject(
            srv,
            client,
            out,
            rejection("NOREPLICAS Not enough good replicas to write."),
        );
    }
    // A read-only replica takes writes only from its master.
    if srv.follow.is_replica() && is_write && !obey && replica_opt(srv, "replica-read-only") {
        return reject(
            srv,
            client,
            out,
            rejection("READONLY You can't write against a read only replica."),
        );
    }
    // replica-serve-stale-data no: only STALE commands while the link is down.
    if srv.follow.is_replica()
        && !srv.follow.connected()
        && !replica_opt(srv, "replica-serve-stale-data")
        && (dflags & flags::STALE == 0
            || (is_exec
                && client
                    .multi_queue
                    .iter()
                    .any(|a| !queued_has(srv, a, flags::STALE))))
    {
        return reject(
            srv,
            client,
            out,
            rejection(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            ),
        );
    }
    if srv.snapshots.loading.is_some() && !def.has(flags::LOADING) && !client.flags.aof_loader {
        return reject(
            srv,
            client,
            out,
            rejection("LOADING Redis is loading the dataset in memory"),
        );
    }
    // A script runs past busy-reply-threshold: only ALLOW_BUSY commands.
    if srv.scripting.timed_out && !def.has(flags::ALLOW_BUSY) {
        return reject(srv, client, out, rejection(crate::scripting::busy::BUSY));
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
    // A shutdown waiting for its replicas holds writes with no deadline.
    if let (Some(p), false) = (
        crate::server::effective_pause(srv, now),
        client.flags.master,
    ) {
        if pause_applies(p.write_only, cmd, dflags, client) {
            client.blocked = Some(Blocked {
                args,
                deadline: (p.until != i64::MAX).then_some(p.until),
                reason: BlockReason::Pause,
                keys: Vec::new(),
            });
            return Outcome::Blocked;
        }
    }
    call(srv, client, out, cmd, sub, &args, now_us)
}

/// A yes/no replication option (default yes).
fn replica_opt(srv: &Server, name: &str) -> bool {
    srv.config.get_text(name).is_none_or(|v| v == "yes")
}

fn queued_denyoom(srv: &Server, args: &[Bytes]) -> bool {
    queued_has(srv, args, flags::DENYOOM)
}

/// True if a queued command has flag `f`.
fn queued_has(srv: &Server, args: &[Bytes], f: u32) -> bool {
    match srv.commands.resolve(args) {
        Resolved::Found(c, s) => {
            crate::scripting::command_flags(srv, s.unwrap_or(c), args) & f != 0
        }
        _ => false,
    }
}

fn pause_applies(write_only: bool, cmd: &CommandDef, dflags: u32, client: &Client) -> bool {
    if !write_only {
        return true;
    }
    // EXEC of a transaction with writes counts as a write.
    dflags & (flags::WRITE | flags::MAY_REPLICATE) != 0
        || (cmd.name == "exec" && !client.multi_queue.is_empty())
}

/// Executes a resolved command and does the bookkeeping after it.
/// `start_us` is the unix time in microseconds when the command started.
pub fn call(
    srv: &mut Server,
    client: &mut Client,
    out: &mut Reply,
    cmd: &'static CommandDef,
    sub: Option<&'static CommandDef>,
    args: &[Bytes],
    start_us: i64,
) -> Outcome {
    let offset_before = srv.repl.offset;
    srv.call_depth += 1;
    let outcome = run_and_account(srv, client, out, cmd, sub, args, start_us);
    srv.call_depth -= 1;
    if srv.call_depth == 0 {
        let def = sub.unwrap_or(cmd);
        srv.propagate_pending(def.has(flags::TOUCHES_ARBITRARY_KEYS));
    }
    // A writable replica expires the keys its own clients gave a TTL.
    if srv.follow.is_replica() && !client.flags.master && sub.unwrap_or(cmd).has(flags::WRITE) {
        crate::replication::follow::remember_expiring_keys(
            srv,
            client.db,
            sub.unwrap_or(cmd),
            args,
        );
    }
    // WAIT waits for the offset right after the client's last write.
    if srv.repl.offset != offset_before {
        client.woff = srv.repl.offset;
    }
    outcome
}

/// [`call`] without the propagation unit: the handler, then blocking,
/// statistics, slow log, latency, MONITOR and what to propagate.
fn run_and_account(
    srv: &mut Server,
    client: &mut Client,
    out: &mut Reply,
    cmd: &'static CommandDef,
    sub: Option<&'static CommandDef>,
    args: &[Bytes],
    start_us: i64,
) -> Outcome {
    let def = sub.unwrap_or(cmd);
    let errors_before = out.errors;
    let now = start_us / 1000;
    let outer_client = srv.cur_client;
    srv.cur_client = client.id;
    let attributed_before = srv.stats.attributed_errors;
    let script_now = srv.script_time_ms;
    let mut ctx = Ctx {
        srv,
        client,
        out,
        cmd: def,
        now_ms: script_now.unwrap_or(now),
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
    srv.apply_cur_touches(client);
    srv.cur_client = outer_client;
    let end_us = crate::server::now_us();
    srv.clock_us = srv.clock_us.max(end_us);
    let dur_us = (end_us - start_us).max(0) as u64;
    let dur_ns = dur_us as i64 * 1000;

    if let Some(req) = block {
        if req.shutdown {
            client.blocked = Some(Blocked {
                args: args.to_vec(),
                deadline: None,
                reason: BlockReason::Shutdown,
                keys: Vec::new(),
            });
            return Outcome::Blocked;
        }
        if let Some((offset, replicas)) = req.wait_acks {
            srv.waiting_acks.push(client.id);
            client.blocked = Some(Blocked {
                args: args.to_vec(),
                deadline: req.deadline,
                reason: BlockReason::Wait { offset, replicas },
                keys: Vec::new(),
            });
            return Outcome::Blocked;
        }
        crate::server::blocking::register(srv, client, &req.keys);
        client.blocked = Some(Blocked {
            args: req.rerun_args.unwrap_or_else(|| args.to_vec()),
            deadline: req.deadline,
            reason: BlockReason::Keys,
            keys: req.keys,
        });
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
    let st = srv.stats.command_stat(&name);
    st.calls += 1;
    st.usec += dur_us;
    if failed {
        st.failed_calls += 1;
    }
    if srv.config.latency_tracking {
        st.latency.get_or_insert_default().record(dur_ns);
    }
    srv.stats.total_commands_processed += 1;
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

    // A handler that names what to propagate forces propagation even
    // without changes (Redis's forceCommandPropagation: FLUSHALL on empty
    // databases still reaches the AOF and replicas).
    if dirty > 0 || propagate_as.is_some() {
        srv.dirty += dirty;
        let db = client.db;
        match propagate_as {
            Some(cmds) => {
                for c in cmds {
                    srv.propagate(db, &c);
                }
            }
            None if def.has(flags::WRITE) => srv.propagate(db, args),
            None => {}
        }
    }
    Outcome::Done
}
