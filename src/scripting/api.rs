//! The `redis` table scripts see (redis.call, redis.pcall, redis.log ...)
//! and keel's math.random: Lua C functions written in Rust.
//!
//! Each function keeps Rust values with destructors in an inner function
//! and raises Lua errors only from the outer one (see `vm`'s rules).

// The Lua C API is only reachable through FFI (see `vm`).
#![allow(unsafe_code)]

use super::convert;
use super::run::RunCtx;
use super::vm::{push_bytes, push_error_table, set_field, to_bytes, REG_RUN};
use mlua::ffi;
use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicU64, Ordering};

type LuaFn = unsafe extern "C-unwind" fn(*mut ffi::lua_State) -> c_int;

/// Redis's log levels (LL_DEBUG ... LL_WARNING).
const LOG_LEVELS: [(&[u8], f64); 4] = [
    (b"LOG_DEBUG", 0.0),
    (b"LOG_VERBOSE", 1.0),
    (b"LOG_NOTICE", 2.0),
    (b"LOG_WARNING", 3.0),
];

/// 7.0.15 as Redis's REDIS_VERSION_NUM (0x00MMmmpp).
const REDIS_VERSION_NUM: f64 = 0x0007_000f as f64;

/// redis.set_repl flags (Redis's PROPAGATE_AOF / PROPAGATE_REPL).
pub const REPL_AOF: u8 = 1;
pub const REPL_REPLICA: u8 = 2;
pub const REPL_ALL: u8 = REPL_AOF | REPL_REPLICA;

/// Builds the `redis` global and replaces math.random/randomseed.
///
/// # Safety
/// `l` must be a valid state, before the prelude seals it.
pub unsafe fn register(l: *mut ffi::lua_State) {
    let funcs: [(&[u8], LuaFn); 12] = [
        (b"call", redis_call),
        (b"pcall", redis_pcall),
        (b"log", redis_log),
        (b"setresp", redis_setresp),
        (b"sha1hex", redis_sha1hex),
        (b"error_reply", redis_error_reply),
        (b"status_reply", redis_status_reply),
        (b"set_repl", redis_set_repl),
        (b"replicate_commands", redis_replicate_commands),
        (b"breakpoint", redis_breakpoint),
        (b"debug", redis_debug),
        (b"acl_check_cmd", redis_acl_check_cmd),
    ];
    // SAFETY: caller's contract; every push is matched by a set.
    unsafe {
        ffi::lua_createtable(l, 0, 32);
        for (name, f) in &funcs {
            ffi::lua_pushcfunction(l, *f);
            set_field(l, name, -1);
        }
        for (name, level) in LOG_LEVELS {
            ffi::lua_pushnumber(l, level);
            set_field(l, name, -1);
        }
        let consts: [(&[u8], u8); 5] = [
            (b"REPL_NONE", 0),
            (b"REPL_AOF", REPL_AOF),
            (b"REPL_SLAVE", REPL_REPLICA),
            (b"REPL_REPLICA", REPL_REPLICA),
            (b"REPL_ALL", REPL_ALL),
        ];
        for (name, v) in consts {
            ffi::lua_pushnumber(l, v as f64);
            set_field(l, name, -1);
        }
        ffi::lua_pushnumber(l, REDIS_VERSION_NUM);
        set_field(l, b"REDIS_VERSION_NUM", -1);
        push_bytes(l, crate::server::run::REDIS_VERSION.as_bytes());
        set_field(l, b"REDIS_VERSION", -1);
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"redis".as_ptr());

        ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, c"math".as_ptr());
        ffi::lua_pushcfunction(l, math_random);
        set_field(l, b"random", -1);
        ffi::lua_pushcfunction(l, math_randomseed);
        set_field(l, b"randomseed", -1);
        ffi::lua_pop(l, 1);
    }
}

/// The running script's context, or None outside a script call.
///
/// # Safety
/// `l` must be a valid state; the pointer stored under REG_RUN is only
/// set by `run` for the duration of a call.
unsafe fn run_ctx<'a>(l: *mut ffi::lua_State) -> Option<&'a mut RunCtx> {
    // SAFETY: caller's contract; the registry holds a light userdata or nil.
    unsafe {
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, REG_RUN.as_ptr() as *const c_char);
        let p = ffi::lua_touserdata(l, -1) as *mut RunCtx;
        ffi::lua_pop(l, 1);
        p.as_mut()
    }
}

/// Pushes an error table and raises it.
///
/// # Safety
/// No value with a destructor may be alive in the caller's frame.
unsafe fn raise(l: *mut ffi::lua_State, msg: &'static str) -> c_int {
    // SAFETY: caller's contract.
    unsafe {
        push_error_table(l, msg);
        ffi::lua_error(l)
    }
}

unsafe extern "C-unwind" fn redis_call(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua with a valid state; `generic_call` leaves the
    // result (or the error table) on the stack and owns nothing after.
    unsafe {
        if generic_call(l, true) {
            ffi::lua_error(l);
        }
    }
    1
}

unsafe extern "C-unwind" fn redis_pcall(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: see redis_call.
    unsafe {
        if generic_call(l, false) {
            ffi::lua_error(l);
        }
    }
    1
}

/// redis.call / redis.pcall: runs the command and pushes its reply.
/// Returns true if the caller must raise the value on top of the stack.
unsafe fn generic_call(l: *mut ffi::lua_State, raise_error: bool) -> bool {
    // SAFETY: valid state (Lua calls us); the run context outlives the call.
    unsafe {
        let Some(run) = run_ctx(l) else {
            push_error_table(
                l,
                "redis.call/pcall can only be called inside a script invocation",
            );
            return true;
        };
        let argc = ffi::lua_gettop(l);
        if argc == 0 {
            push_error_table(
                l,
                "Please specify at least one argument for this redis lib call",
            );
            return raise_error;
        }
        let Some(args) = collect_args(l, argc) else {
            ffi::lua_settop(l, 0);
            push_error_table(
                l,
                "Lua redis lib command arguments must be strings or integers",
            );
            return raise_error;
        };
        ffi::lua_settop(l, 0);
        if run.in_call {
            let msg = "luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua debug hooks?";
            crate::log_warning!("{}", msg);
            push_error_table(l, msg);
            return false;
        }
        run.in_call = true;
        let result = run.call_command(args);
        run.in_call = false;
        match result {
            Err(err) => {
                push_error_table(l, &err);
                ffi::lua_pushboolean(l, 1);
                set_field(l, b"ignore_error_stats_update", -1);
                raise_error
            }
            Ok(reply) => {
                let is_err = reply.first() == Some(&b'-');
                convert::push_reply(l, &reply);
                raise_error && is_err
            }
        }
    }
}

/// The arguments of a redis.call as bytes: numbers as %.17g, strings as
/// they are; None if one is of another type.
unsafe fn collect_args(l: *mut ffi::lua_State, argc: c_int) -> Option<Vec<bytes::Bytes>> {
    let mut out = Vec::with_capacity(argc as usize);
    for i in 1..=argc {
        // SAFETY: 1..=argc are valid stack indexes.
        unsafe {
            if ffi::lua_type(l, i) == ffi::LUA_TNUMBER {
                let n = ffi::lua_tonumber(l, i);
                out.push(bytes::Bytes::from(crate::util::num::fmt_double(n)));
            } else if ffi::lua_type(l, i) == ffi::LUA_TSTRING {
                out.push(bytes::Bytes::from(to_bytes(l, i)?));
            } else {
                return None;
            }
        }
    }
    Some(out)
}

unsafe extern "C-unwind" fn redis_sha1hex(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: valid state from Lua; the digest is a fixed array.
    unsafe {
        if ffi::lua_gettop(l) != 1 {
            return raise(l, "wrong number of arguments");
        }
        let body = to_bytes(l, 1).unwrap_or_default();
        let digest = super::sha1_hex(&body);
        drop(body);
        push_bytes(l, &digest);
    }
    1
}

/// redis.error_reply(msg) -> {err = "<CODE> msg"}.
unsafe extern "C-unwind" fn redis_error_reply(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: valid state from Lua.
    unsafe {
        if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
            push_error_table(l, "wrong number or type of arguments");
            return 1;
        }
        let msg = String::from_utf8_lossy(&to_bytes(l, -1).unwrap_or_default()).into_owned();
        let text = if msg.starts_with('-') {
            msg
        } else {
            format!("-{msg}")
        };
        push_error_table(l, &text);
    }
    1
}

/// redis.status_reply(msg) -> {ok = msg}.
unsafe extern "C-unwind" fn redis_status_reply(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: valid state from Lua.
    unsafe {
        if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
            push_error_table(l, "wrong number or type of arguments");
            return 1;
        }
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_pushvalue(l, -2);
        set_field(l, b"ok", -1);
    }
    1
}

unsafe extern "C-unwind" fn redis_log(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: valid state from Lua; `log_line` owns the Rust values.
    unsafe {
        let argc = ffi::lua_gettop(l);
        if argc < 2 {
            return raise(l, "redis.log() requires two arguments or more.");
        }
        if ffi::lua_isnumber(l, 1) == 0 {
            return raise(l, "First argument must be a number (log level).");
        }
        let level = ffi::lua_tonumber(l, 1) as i64;
        if !(0..=3).contains(&level) {
            return raise(l, "Invalid debug level.");
        }
        log_line(l, argc, level as u8);
    }
    0
}

unsafe fn log_line(l: *mut ffi::lua_State, argc: c_int, level: u8) {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for j in 2..=argc {
        // SAFETY: valid indexes.
        if let Some(b) = unsafe { to_bytes(l, j) } {
            parts.push(b);
        }
    }
    let line = String::from_utf8_lossy(&parts.join(&b' ')).into_owned();
    let level = match level {
        0 => crate::config::LogLevel::Debug,
        1 => crate::config::LogLevel::Verbose,
        2 => crate::config::LogLevel::Notice,
        _ => crate::config::LogLevel::Warning,
    };
    crate::server::log::log(level, &line);
}

unsafe extern "C-unwind" fn redis_setresp(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: valid state from Lua.
    unsafe {
        let Some(run) = run_ctx(l) else {
            return raise(
                l,
                "redis.setresp can only be called inside a script invocation",
            );
        };
        if ffi::lua_gettop(l) != 1 {
            return raise(l, "redis.setresp() requires one argument.");
        }
        let resp = ffi::lua_tonumber(l, 1) as i64;
        if resp != 2 && resp != 3 {
            return raise(l, "RESP version must be 2 or 3.");
        }
        run.resp = resp as u8;
    }
    0
}

unsafe extern "C-unwind" fn redis_set_repl(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: valid state from Lua.
    unsafe {
        let Some(run) = run_ctx(l) else {
            return raise(
                l,
                "redis.set_repl can only be called inside a script invocation",
            );
        };
        if ffi::lua_gettop(l) != 1 {
            return raise(l, "redis.set_repl() requires two arguments.");
        }
        let flags = ffi::lua_tonumber(l, -1) as i64;
        if flags & !(REPL_ALL as i64) != 0 {
            return raise(
                l,
                "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
            );
        }
        run.repl = flags as u8;
    }
    0
}

unsafe extern "C-unwind" fn redis_replicate_commands(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: valid state from Lua.
    unsafe { ffi::lua_pushboolean(l, 1) };
    1
}

/// redis.breakpoint(): false, keel has no script debugger.
unsafe extern "C-unwind" fn redis_breakpoint(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: valid state from Lua.
    unsafe { ffi::lua_pushboolean(l, 0) };
    1
}

/// redis.debug(): does nothing outside a debugging session (never in keel).
unsafe extern "C-unwind" fn redis_debug(_l: *mut ffi::lua_State) -> c_int {
    0
}

/// redis.acl_check_cmd(cmd, ...): keel has no ACL rules, so every known
/// command is permitted.
unsafe extern "C-unwind" fn redis_acl_check_cmd(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: valid state from Lua; `acl_known` owns the Rust values.
    unsafe {
        let Some(run) = run_ctx(l) else {
            return raise(
                l,
                "redis.acl_check_cmd can only be called inside a script invocation",
            );
        };
        let argc = ffi::lua_gettop(l);
        if argc == 0 {
            return raise(
                l,
                "Please specify at least one argument for this redis lib call",
            );
        }
        match acl_known(l, argc, run) {
            None => raise(
                l,
                "Lua redis lib command arguments must be strings or integers",
            ),
            Some(false) => raise(l, "Invalid command passed to redis.acl_check_cmd()"),
            Some(true) => {
                ffi::lua_pushboolean(l, 1);
                1
            }
        }
    }
}

unsafe fn acl_known(l: *mut ffi::lua_State, argc: c_int, run: &mut RunCtx) -> Option<bool> {
    // SAFETY: valid state and indexes.
    let args = unsafe { collect_args(l, argc)? };
    Some(run.command_exists(&args))
}

/// The count hook of a running script: past busy-reply-threshold it lets
/// other clients be answered (see `busy`) and stops the script on SCRIPT
/// KILL or SHUTDOWN NOSAVE.
///
/// # Safety
/// Installed by `run` only while a script runs.
pub unsafe extern "C-unwind" fn timeout_hook(l: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    // SAFETY: valid state from Lua; `hook_kills` owns the Rust values.
    unsafe {
        if hook_kills(l) {
            ffi::lua_error(l);
        }
    }
}

/// True (with the error table pushed) if the script must stop.
unsafe fn hook_kills(l: *mut ffi::lua_State) -> bool {
    // SAFETY: valid state; the run context outlives the script.
    unsafe {
        let Some(run) = run_ctx(l) else {
            return false;
        };
        if !run.on_hook() {
            return false;
        }
        crate::log_warning!("Lua script killed by user with SCRIPT KILL.");
        // From now on at every line, so that pcall cannot swallow it.
        ffi::lua_sethook(l, Some(timeout_hook), ffi::LUA_MASKLINE, 0);
        push_error_table(l, "Script killed by user with SCRIPT KILL...");
        true
    }
}

/// Redis's rand48 generator state (process-wide, as in Redis).
static RAND48: AtomicU64 = AtomicU64::new(0x1234_ABCD_330E);

fn lrand48() -> i32 {
    let x = RAND48.load(Ordering::Relaxed);
    let next = (x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & ((1 << 48) - 1);
    RAND48.store(next, Ordering::Relaxed);
    (next >> 17) as i32
}

fn srand48(seed: i32) {
    RAND48.store((((seed as u32) as u64) << 16) | 0x330E, Ordering::Relaxed);
}

unsafe extern "C-unwind" fn math_random(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: valid state from Lua; luaL_* raise with nothing to drop.
    unsafe {
        if run_ctx(l).is_none() {
            return ffi::luaL_error(
                l,
                c"math.random can only be called inside a script invocation".as_ptr(),
            );
        }
        let max = i32::MAX as f64;
        let r = (lrand48() as f64 % max) / max;
        match ffi::lua_gettop(l) {
            0 => ffi::lua_pushnumber(l, r),
            1 => {
                let u = ffi::luaL_checkinteger(l, 1) as i32;
                ffi::luaL_argcheck(l, (1 <= u) as c_int, 1, c"interval is empty".as_ptr());
                ffi::lua_pushnumber(l, (r * u as f64).floor() + 1.0);
            }
            2 => {
                let lo = ffi::luaL_checkinteger(l, 1) as i32;
                let u = ffi::luaL_checkinteger(l, 2) as i32;
                ffi::luaL_argcheck(l, (lo <= u) as c_int, 2, c"interval is empty".as_ptr());
                ffi::lua_pushnumber(l, (r * (u as f64 - lo as f64 + 1.0)).floor() + lo as f64);
            }
            _ => return ffi::luaL_error(l, c"wrong number of arguments".as_ptr()),
        }
    }
    1
}

unsafe extern "C-unwind" fn math_randomseed(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: valid state from Lua.
    unsafe {
        if run_ctx(l).is_none() {
            return ffi::luaL_error(
                l,
                c"math.randomseed can only be called inside a script invocation".as_ptr(),
            );
        }
        srand48(ffi::luaL_checkinteger(l, 1) as i32);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand48_is_the_posix_generator() {
        // SAFETY: libc's own generator, used only by this test.
        unsafe { libc::srand48(1234) };
        srand48(1234);
        for _ in 0..5 {
            // SAFETY: as above.
            assert_eq!(lrand48() as libc::c_long, unsafe { libc::lrand48() });
        }
    }
}
