//! Running one script (Redis's evalGenericCommand, scriptPrepareForRun,
//! luaCallFunction, scriptCall): the checks before it starts, the
//! context `redis.call` reaches, the checks before each command it runs,
//! and turning its result or error into the reply.

// The Lua C API is only reachable through FFI (see `vm`).
#![allow(unsafe_code)]

use super::shebang::{ALLOW_OOM, ALLOW_STALE, COMPAT, NO_WRITES};
use super::vm::{push_bytes, to_bytes, REG_ERR_HANDLER, REG_REAL_GLOBALS, REG_RUN};
use super::{api, convert};
use crate::commands::dispatch;
use crate::commands::table::{flags, Resolved};
use crate::commands::Ctx;
use crate::protocol::Reply;
use crate::server::client::Client;
use crate::server::{evict, Server};
use bytes::Bytes;
use mlua::ffi;
use std::ffi::{c_char, CString};

pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// What a running script's `redis.*` functions reach.
pub struct RunCtx {
    srv: *mut Server,
    client: *mut Client,
    /// The caller must be obeyed (master link, AOF loading).
    obey: bool,
    read_only: bool,
    allow_oom: bool,
    oom_at_start: bool,
    /// A write command ran: the script can no longer be refused or killed.
    pub write_dirty: bool,
    /// redis.setresp.
    pub resp: u8,
    /// redis.set_repl flags.
    pub repl: u8,
    /// redis.call is running (recursion through debug hooks is refused).
    pub in_call: bool,
    /// The script's sha (Redis's funcname, for logs).
    name: String,
    start: std::time::Instant,
    /// busy-reply-threshold in ms (0: never busy).
    threshold_ms: u128,
    /// Set once the script timed out: the helper answering other clients.
    busy: Option<super::busy::BusyServer>,
}

impl RunCtx {
    /// True if `args` names a known command (redis.acl_check_cmd).
    pub fn command_exists(&self, args: &[Bytes]) -> bool {
        // SAFETY: the server outlives the script run.
        let srv = unsafe { &*self.srv };
        matches!(srv.commands.resolve(args), Resolved::Found(..))
    }

    /// Runs one command for redis.call: the encoded reply, or the error
    /// of a command refused before it ran.
    pub fn call_command(&mut self, args: Vec<Bytes>) -> Result<Vec<u8>, String> {
        // SAFETY: both pointers are valid for the whole script run and
        // nothing else uses them while Lua runs this call.
        let (srv, client) = unsafe { (&mut *self.srv, &mut *self.client) };
        let (cmd, sub) = match srv.commands.resolve(&args) {
            Resolved::Found(c, s) => (c, s),
            _ => {
                return Err(refuse(
                    srv,
                    None,
                    "Unknown Redis command called from script",
                ))
            }
        };
        let def = sub.unwrap_or(cmd);
        let name = dispatch::full_name(cmd, sub).into_owned();
        let arity_ok = |arity: i32| {
            let argc = args.len() as i32;
            if arity > 0 {
                argc == arity
            } else {
                argc >= -arity
            }
        };
        if !arity_ok(cmd.arity) || !arity_ok(def.arity) {
            return Err(refuse(
                srv,
                Some(&name),
                "Wrong number of args calling Redis command from script",
            ));
        }
        if let Some(e) = self.check(srv, def) {
            return Err(refuse(srv, Some(&name), &e));
        }
        if def.has(flags::WRITE) {
            self.write_dirty = true;
            srv.scripting
                .busy
                .write_dirty
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        client.resp = self.resp;
        let mut out = Reply::new(self.resp);
        let attributed = srv.stats.attributed_errors;
        let mask = std::mem::replace(&mut srv.propagate_mask, self.repl);
        dispatch::call(
            srv,
            client,
            &mut out,
            cmd,
            sub,
            &args,
            crate::server::now_us(),
        );
        srv.propagate_mask = mask;
        // The error went to the script, not to a client: it is charged to
        // the command here, and to EVAL only if the script fails with it.
        srv.stats.attributed_errors = attributed;
        if out.errors > 0 {
            if let Some(code) = out.last_error.take() {
                srv.stats.record_error(&code);
            }
        }
        Ok(out.buf)
    }

    /// Called by the Lua count hook: times the script out once it runs
    /// past busy-reply-threshold (starting the helper that answers other
    /// clients), and returns true if it must stop (SCRIPT KILL, SHUTDOWN
    /// NOSAVE).
    pub fn on_hook(&mut self) -> bool {
        // SAFETY: valid for the whole run; Lua is inside this call only.
        let srv = unsafe { &mut *self.srv };
        let state = srv.scripting.busy.clone();
        if self.busy.is_none() {
            let elapsed = self.start.elapsed().as_millis();
            if elapsed < self.threshold_ms {
                return false;
            }
            crate::log_warning!(
                "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the SCRIPT KILL command. Script name is: {}.",
                elapsed,
                self.name
            );
            srv.scripting.timed_out = true;
            self.busy = Some(super::busy::BusyServer::start(srv, state.clone()));
        }
        super::busy::run_inbox(srv, &state);
        // SHUTDOWN NOSAVE ends the script too.
        srv.shutdown.is_some() || state.kill.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Redis's scriptVerify* checks for one command.
    fn check(&self, srv: &mut Server, def: &crate::commands::CommandDef) -> Option<String> {
        if def.has(flags::NOSCRIPT) && !srv.scripting.disable_deny_script {
            return Some("This Redis command is not allowed from script".into());
        }
        if srv.follow.is_replica()
            && !srv.follow.connected()
            && !replica_opt(srv, "replica-serve-stale-data")
            && !def.has(flags::STALE)
        {
            return Some("Can not execute the command on a stale replica".into());
        }
        if self.read_only && (def.has(flags::WRITE) || def.has(flags::MAY_REPLICATE)) {
            return Some("Write commands are not allowed from read-only scripts.".into());
        }
        if def.has(flags::WRITE) && !self.write_dirty {
            if srv.follow.is_replica() && replica_opt(srv, "replica-read-only") && !self.obey {
                return Some("-READONLY You can't write against a read only replica.".into());
            }
            if crate::persistence::snapshot::writes_denied(srv) {
                return Some(format!("-{}", crate::persistence::snapshot::MISCONF));
            }
            if let Some(e) = crate::persistence::aof::control::write_error(srv) {
                return Some(format!("-{e}"));
            }
            if too_few_replicas(srv) {
                return Some("-NOREPLICAS Not enough good replicas to write.".into());
            }
        }
        if !self.allow_oom
            && srv.config.maxmemory > 0
            && !self.obey
            && !self.write_dirty
            && self.oom_at_start
            && def.has(flags::DENYOOM)
        {
            return Some(format!("-{}", crate::commands::err::OOM));
        }
        None
    }
}

/// Counts a command refused inside a script (rejected call, error stat)
/// and returns the error for the script.
fn refuse(srv: &mut Server, name: Option<&str>, err: &str) -> String {
    if let Some(n) = name {
        srv.stats.command_stat(n).rejected_calls += 1;
    }
    let code = match err.strip_prefix('-') {
        Some(rest) => convert::error_code(rest),
        None => "ERR".to_string(),
    };
    srv.stats.record_error(&code);
    err.to_string()
}

fn replica_opt(srv: &Server, name: &str) -> bool {
    srv.config.get_text(name).is_none_or(|v| v == "yes")
}

fn too_few_replicas(srv: &Server) -> bool {
    !srv.follow.is_replica()
        && srv.config.min_replicas_to_write > 0
        && srv.config.min_replicas_max_lag > 0
        && crate::replication::good_replicas(srv, crate::server::now_ms())
            < srv.config.min_replicas_to_write as usize
}

/// What luaExtractErrorInformation reads from an error table.
pub struct ErrorInfo {
    pub msg: String,
    pub source: Option<String>,
    pub line: Option<String>,
    pub ignore_stats: bool,
}

impl ErrorInfo {
    /// Reads the error table on top of the stack (left there).
    ///
    /// # Safety
    /// `l` must be a valid state with a table on top.
    pub unsafe fn extract(l: *mut ffi::lua_State) -> ErrorInfo {
        let field = |name: &[u8]| -> Option<String> {
            let cname = CString::new(name).unwrap_or_default();
            // SAFETY: a table is on top; one push, one pop.
            unsafe {
                ffi::lua_getfield(l, -1, cname.as_ptr());
                let v = to_bytes(l, -1).map(|b| String::from_utf8_lossy(&b).into_owned());
                ffi::lua_pop(l, 1);
                v
            }
        };
        // SAFETY: as above.
        let ignore_stats = unsafe {
            ffi::lua_getfield(l, -1, c"ignore_error_stats_update".as_ptr());
            let v = ffi::lua_isboolean(l, -1) != 0 && ffi::lua_toboolean(l, -1) != 0;
            ffi::lua_pop(l, 1);
            v
        };
        ErrorInfo {
            msg: field(b"err").unwrap_or_default(),
            source: field(b"source"),
            line: field(b"line"),
            ignore_stats,
        }
    }
}

/// EVAL / EVALSHA / EVAL_RO / EVALSHA_RO.
pub fn eval(ctx: &mut Ctx, args: &[Bytes], evalsha: bool, ro: bool) {
    // EVAL skips the generic MONITOR feed so that it shows before the
    // commands the script runs.
    if !ctx.srv.monitors.is_empty() {
        crate::server::conn::feed_monitors(ctx.srv, ctx.client, args, ctx.now_ms);
    }
    if evalsha && args[1].len() != 40 {
        ctx.out.error(NOSCRIPT);
        return;
    }
    let Some(numkeys) = crate::util::num::parse_i64(&args[2]) else {
        ctx.out.error("ERR value is not an integer or out of range");
        return;
    };
    if numkeys > args.len() as i64 - 3 {
        ctx.out
            .error("ERR Number of keys can't be greater than number of args");
        return;
    }
    if numkeys < 0 {
        ctx.out.error("ERR Number of keys can't be negative");
        return;
    }
    let sha = if evalsha {
        String::from_utf8_lossy(&args[1]).to_ascii_lowercase()
    } else {
        super::sha1_hex_string(&args[1])
    };
    if !ctx.srv.scripting.scripts.contains_key(&sha) {
        if evalsha {
            ctx.out.error(NOSCRIPT);
            return;
        }
        if let Err(e) = ctx.srv.scripting.create(&args[1]) {
            ctx.out.error(&e);
            return;
        }
    }
    let script_flags = ctx.srv.scripting.scripts[&sha].flags;
    let obey = ctx.client.flags.master || ctx.client.flags.aof_loader;
    let oom = ctx.srv.config.maxmemory > 0
        && !obey
        && evict::perform_evictions(ctx.srv) == evict::EvictResult::Fail;
    if let Err(e) = prepare(ctx.srv, script_flags, ro, obey, oom) {
        ctx.out.error(&e);
        return;
    }
    let n = numkeys as usize;
    let keys = &args[3..3 + n];
    let argv = &args[3 + n..];
    let mut run = RunCtx {
        srv: std::ptr::null_mut(),
        client: std::ptr::null_mut(),
        obey,
        read_only: ro || (script_flags & COMPAT == 0 && script_flags & NO_WRITES != 0),
        allow_oom: script_flags & COMPAT == 0 && script_flags & ALLOW_OOM != 0,
        oom_at_start: oom,
        write_dirty: false,
        resp: 2,
        repl: api::REPL_ALL,
        in_call: false,
        name: sha.clone(),
        start: std::time::Instant::now(),
        threshold_ms: ctx
            .srv
            .config
            .get_text("busy-reply-threshold")
            .and_then(|v| v.parse::<u128>().ok())
            .unwrap_or(0),
        busy: None,
    };
    ctx.srv.scripting.busy.reset(obey);
    call_function(ctx, &mut run, &sha, keys, argv);
}

/// scriptPrepareForRun's refusals.
fn prepare(srv: &Server, script_flags: u32, ro: bool, obey: bool, oom: bool) -> Result<(), String> {
    let stale = srv.follow.is_replica()
        && !srv.follow.connected()
        && !replica_opt(srv, "replica-serve-stale-data");
    if script_flags & COMPAT != 0 {
        if stale {
            return Err(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                    .into(),
            );
        }
        return Ok(());
    }
    if stale && script_flags & ALLOW_STALE == 0 {
        return Err("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.".into());
    }
    if script_flags & NO_WRITES == 0 {
        if srv.follow.is_replica() && replica_opt(srv, "replica-read-only") && !obey {
            return Err("READONLY Can not run script with write flag on readonly replica".into());
        }
        if !obey && crate::persistence::snapshot::writes_denied(srv) {
            return Err("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".into());
        }
        if let (false, Some(e)) = (obey, crate::persistence::aof::control::write_error(srv)) {
            let why = e.rsplit("AOF error: ").next().unwrap_or("").to_string();
            return Err(format!("MISCONF Redis is configured to persist data to AOF, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts. AOF error: {why}"));
        }
        if ro {
            return Err("Can not execute a script with write flag using *_ro command.".into());
        }
        if too_few_replicas(srv) {
            return Err("NOREPLICAS Not enough good replicas to write.".into());
        }
    }
    if oom && script_flags & (ALLOW_OOM | NO_WRITES) == 0 {
        return Err("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into());
    }
    Ok(())
}

/// luaCallFunction: runs `f_<sha>` with KEYS and ARGV set and writes the
/// reply (or the error) to the caller.
fn call_function(ctx: &mut Ctx, run: &mut RunCtx, sha: &str, keys: &[Bytes], argv: &[Bytes]) {
    let l = ctx.srv.scripting.vm.l;
    let mut sc = ctx
        .srv
        .scripting
        .client
        .take()
        .expect("the script client is back after every script");
    sc.db = ctx.client.db;
    sc.resp = 2;
    sc.flags.multi = ctx.client.flags.multi;
    run.client = &mut *sc;
    run.srv = &mut *ctx.srv;
    let fname = CString::new(format!("f_{sha}")).unwrap_or_default();
    let rc;
    // SAFETY: `l` is the interpreter of `ctx.srv`, which outlives this
    // call; `run` and `sc` outlive the pcall and the registry slot is
    // cleared before they go. Nothing touches `ctx.srv` while Lua runs
    // except through `run`.
    unsafe {
        ffi::lua_getfield(
            l,
            ffi::LUA_REGISTRYINDEX,
            REG_ERR_HANDLER.as_ptr() as *const c_char,
        );
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, fname.as_ptr());
        ffi::lua_pushlightuserdata(l, run as *mut RunCtx as *mut std::ffi::c_void);
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, REG_RUN.as_ptr() as *const c_char);
        ffi::lua_getfield(
            l,
            ffi::LUA_REGISTRYINDEX,
            REG_REAL_GLOBALS.as_ptr() as *const c_char,
        );
        for (name, list) in [(&b"KEYS"[..], keys), (&b"ARGV"[..], argv)] {
            push_bytes(l, name);
            ffi::lua_createtable(l, list.len() as i32, 0);
            for (i, a) in list.iter().enumerate() {
                push_bytes(l, a);
                ffi::lua_rawseti(l, -2, (i + 1) as ffi::lua_Integer);
            }
            ffi::lua_rawset(l, -3);
        }
        ffi::lua_pop(l, 1);
        (*run.srv).script_time_ms = Some(ctx.now_ms);
        if run.threshold_ms > 0 {
            ffi::lua_sethook(l, Some(api::timeout_hook), ffi::LUA_MASKCOUNT, 100_000);
        }
        rc = ffi::lua_pcall(l, 0, 1, -2);
        ffi::lua_sethook(l, None, 0, 0);
        (*run.srv).script_time_ms = None;
        ffi::lua_pushnil(l);
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, REG_RUN.as_ptr() as *const c_char);
    }
    if let Some(helper) = run.busy.take() {
        helper.finish();
        ctx.srv.scripting.timed_out = false;
        // Commands the helper read after the hook last ran.
        let state = ctx.srv.scripting.busy.clone();
        super::busy::run_inbox(ctx.srv, &state);
    }
    sc.flags.multi = false;
    ctx.srv.scripting.client = Some(sc);
    ctx.srv.scripting.gc_count += 1;
    // SAFETY: as above; the stack holds the error handler and the result.
    unsafe {
        if ctx.srv.scripting.gc_count >= 50 {
            ffi::lua_gc(l, ffi::LUA_GCSTEP, 50);
            ctx.srv.scripting.gc_count = 0;
        }
        if rc != 0 {
            write_failure(l, ctx.out, sha);
        } else {
            convert::write_value(l, ctx.out, run.resp);
        }
        ffi::lua_pop(l, 1);
    }
}

/// The reply for a script that raised an error (on top of the stack,
/// popped).
unsafe fn write_failure(l: *mut ffi::lua_State, out: &mut Reply, sha: &str) {
    // SAFETY: valid state with the error value on top.
    unsafe {
        if ffi::lua_istable(l, -1) == 0 {
            let msg = to_bytes(l, -1)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|| "execution failure".into());
            let msg: String = msg.chars().take(100).collect();
            out.error(&format!("Error running script {sha}, {msg}"));
        } else {
            let info = ErrorInfo::extract(l);
            let mut text = info.msg.clone();
            if let (Some(line), Some(source)) = (&info.line, &info.source) {
                text.push_str(&format!(" script: {sha}, on {source}:{line}."));
            }
            convert::write_error(out, &text, !info.ignore_stats);
        }
        ffi::lua_pop(l, 1);
    }
}
