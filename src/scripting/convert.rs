//! Conversions between Redis replies and Lua values, as Redis 7.0 does
//! them (script_lua.c's redisProtocolToLuaType / luaReplyToRedisReply).
//!
//! Reply -> Lua: integer -> number, bulk -> string, nil bulk / nil array
//! -> false, status -> {ok=...}, error -> {err=...}, array -> table; and
//! for RESP3 (redis.setresp(3)): map -> {map={...}}, set -> {set={k=true}},
//! double -> {double=n}, null -> nil, boolean -> boolean, big number ->
//! {big_number=s}, verbatim -> {verbatim_string={string=, format=}};
//! attributes are skipped.
//!
//! Lua -> reply: string -> bulk, number -> integer (truncated), boolean
//! -> 1 / nil (RESP2 script) or a RESP3 boolean, tables by their marker
//! fields (err, ok, double, big_number, verbatim_string, map, set), else
//! an array up to the first nil; anything else is a nil reply.

// The Lua C API is only reachable through FFI (see `vm`).
#![allow(unsafe_code)]

use super::vm::{push_bytes, push_error_table, set_field};
use crate::protocol::Agg;
use crate::protocol::Reply;
use mlua::ffi;
use std::ffi::c_int;

/// A RESP reply being read.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// The line after the type byte (without CRLF).
    fn line(&mut self) -> &'a [u8] {
        let start = self.pos;
        let end = self.buf[start..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(self.buf.len(), |i| start + i);
        self.pos = (end + 2).min(self.buf.len());
        &self.buf[start..end]
    }

    fn number(&mut self) -> i64 {
        crate::util::num::parse_i64(self.line()).unwrap_or(0)
    }

    fn bulk(&mut self, len: usize) -> &'a [u8] {
        let start = self.pos.min(self.buf.len());
        let end = (start + len).min(self.buf.len());
        self.pos = (end + 2).min(self.buf.len());
        &self.buf[start..end]
    }
}

/// Pushes the Lua form of the (first) reply in `reply`.
///
/// # Safety
/// `l` must be a valid state.
pub unsafe fn push_reply(l: *mut ffi::lua_State, reply: &[u8]) {
    let mut c = Cursor { buf: reply, pos: 0 };
    // SAFETY: caller's contract.
    unsafe { push_one(l, &mut c, true) }
}

/// Reads one reply; pushes it only if `push` (attributes are skipped).
unsafe fn push_one(l: *mut ffi::lua_State, c: &mut Cursor, push: bool) {
    let Some(&kind) = c.buf.get(c.pos) else {
        if push {
            // SAFETY: valid state.
            unsafe { ffi::lua_pushnil(l) };
        }
        return;
    };
    c.pos += 1;
    // SAFETY (whole body): valid state; every table built here gets its
    // fields through balanced pushes and sets.
    unsafe {
        if push {
            ffi::lua_checkstack(l, 5);
        }
        match kind {
            b':' => {
                let n = c.number();
                if push {
                    ffi::lua_pushnumber(l, n as f64);
                }
            }
            b'$' => {
                let n = c.number();
                if n < 0 {
                    if push {
                        ffi::lua_pushboolean(l, 0);
                    }
                } else {
                    let s = c.bulk(n as usize);
                    if push {
                        push_bytes(l, s);
                    }
                }
            }
            b'+' => {
                let s = c.line();
                if push {
                    ffi::lua_createtable(l, 0, 1);
                    push_bytes(l, s);
                    set_field(l, b"ok", -1);
                }
            }
            b'-' => {
                let s = c.line();
                if push {
                    let text = format!("-{}", String::from_utf8_lossy(s));
                    push_error_table(l, &text);
                    ffi::lua_pushboolean(l, 1);
                    set_field(l, b"ignore_error_stats_update", -1);
                }
            }
            b'*' | b'>' => {
                let n = c.number();
                if n < 0 {
                    if push {
                        ffi::lua_pushboolean(l, 0);
                    }
                    return;
                }
                if push {
                    ffi::lua_createtable(l, n.min(1024) as c_int, 0);
                }
                for j in 0..n {
                    if push {
                        ffi::lua_pushnumber(l, (j + 1) as f64);
                    }
                    push_one(l, c, push);
                    if push {
                        ffi::lua_settable(l, -3);
                    }
                }
            }
            b'%' | b'~' => {
                let n = c.number();
                let is_map = kind == b'%';
                if push {
                    ffi::lua_createtable(l, 0, 1);
                    push_bytes(l, if is_map { b"map" } else { b"set" });
                    ffi::lua_createtable(l, 0, n.min(1024) as c_int);
                }
                for _ in 0..n {
                    push_one(l, c, push);
                    if is_map {
                        push_one(l, c, push);
                    } else if push {
                        ffi::lua_pushboolean(l, 1);
                    }
                    if push {
                        ffi::lua_settable(l, -3);
                    }
                }
                if push {
                    ffi::lua_settable(l, -3);
                }
            }
            b',' => {
                let s = c.line();
                if push {
                    let d = crate::util::num::parse_f64(s).unwrap_or(0.0);
                    ffi::lua_createtable(l, 0, 1);
                    ffi::lua_pushnumber(l, d);
                    set_field(l, b"double", -1);
                }
            }
            b'#' => {
                let s = c.line();
                if push {
                    ffi::lua_pushboolean(l, (s == b"t") as c_int);
                }
            }
            b'_' => {
                c.line();
                if push {
                    ffi::lua_pushnil(l);
                }
            }
            b'(' => {
                let s = c.line();
                if push {
                    ffi::lua_createtable(l, 0, 1);
                    push_bytes(l, s);
                    set_field(l, b"big_number", -1);
                }
            }
            b'=' => {
                let n = c.number();
                let s = c.bulk(n.max(0) as usize);
                if push {
                    let (format, text) = if s.len() >= 4 {
                        (&s[..3], &s[4..])
                    } else {
                        (&b""[..], s)
                    };
                    ffi::lua_createtable(l, 0, 1);
                    ffi::lua_createtable(l, 0, 2);
                    push_bytes(l, text);
                    set_field(l, b"string", -1);
                    push_bytes(l, format);
                    set_field(l, b"format", -1);
                    set_field(l, b"verbatim_string", -1);
                }
            }
            b'|' => {
                let n = c.number();
                for _ in 0..2 * n {
                    push_one(l, c, false);
                }
                push_one(l, c, push);
            }
            _ => {
                c.line();
                if push {
                    ffi::lua_pushnil(l);
                }
            }
        }
    }
}

/// Writes an error reply as Redis's addReplyErrorFormatEx("-%s"): the
/// text is used as is (its first word is the code), CR/LF become spaces.
/// `stats`: count it in the error statistics (else only as a failure of
/// the command).
pub fn write_error(out: &mut Reply, text: &str, stats: bool) {
    let clean: String = text
        .trim_end_matches(['\r', '\n'])
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    out.raw(b"-");
    out.raw(clean.as_bytes());
    out.raw(b"\r\n");
    out.errors += 1;
    out.last_error = stats.then(|| error_code(&clean));
}

/// The errorstats code of an error text (Redis's afterErrorReply): the
/// first word if a space comes within 32 bytes, else ERR.
pub fn error_code(text: &str) -> String {
    let probe = &text.as_bytes()[..text.len().min(31)];
    match probe.iter().position(|&b| b == b' ') {
        Some(i) => text[..i].to_string(),
        None => "ERR".to_string(),
    }
}

/// The string at `idx` (raw), if it is one.
unsafe fn raw_string_field(l: *mut ffi::lua_State, key: &[u8]) -> Option<Vec<u8>> {
    // SAFETY: a table is at -1; balanced push/pop.
    unsafe {
        push_bytes(l, key);
        ffi::lua_rawget(l, -2);
        let v = if ffi::lua_type(l, -1) == ffi::LUA_TSTRING {
            super::vm::to_bytes(l, -1)
        } else {
            None
        };
        ffi::lua_pop(l, 1);
        v
    }
}

/// Converts the value on top of the stack to a reply and pops it.
/// `resp` is the script's protocol (redis.setresp).
///
/// # Safety
/// `l` must be a valid state with at least one value.
pub unsafe fn write_value(l: *mut ffi::lua_State, out: &mut Reply, resp: u8) {
    // SAFETY: caller's contract; each branch pops what it pushed plus the
    // value itself.
    unsafe {
        if ffi::lua_checkstack(l, 4) == 0 {
            out.error("reached lua stack limit");
            ffi::lua_pop(l, 1);
            return;
        }
        match ffi::lua_type(l, -1) {
            ffi::LUA_TSTRING => {
                let b = super::vm::to_bytes(l, -1).unwrap_or_default();
                out.bulk(&b);
            }
            ffi::LUA_TBOOLEAN => {
                let b = ffi::lua_toboolean(l, -1) != 0;
                if resp == 2 {
                    if b {
                        out.int(1);
                    } else {
                        out.null();
                    }
                } else {
                    out.bool(b);
                }
            }
            ffi::LUA_TNUMBER => out.int(ffi::lua_tonumber(l, -1) as i64),
            ffi::LUA_TTABLE => {
                write_table(l, out, resp);
                return;
            }
            _ => out.null(),
        }
        ffi::lua_pop(l, 1);
    }
}

/// [`write_value`] for a table (pops it).
unsafe fn write_table(l: *mut ffi::lua_State, out: &mut Reply, resp: u8) {
    // SAFETY: a table is on top; see write_value.
    unsafe {
        if raw_string_field(l, b"err").is_some() {
            let info = super::run::ErrorInfo::extract(l);
            write_error(out, &info.msg, !info.ignore_stats);
            ffi::lua_pop(l, 1);
            return;
        }
        if let Some(ok) = raw_string_field(l, b"ok") {
            let s: String = String::from_utf8_lossy(&ok)
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            out.simple(&s);
            ffi::lua_pop(l, 1);
            return;
        }
        push_bytes(l, b"double");
        ffi::lua_rawget(l, -2);
        if ffi::lua_type(l, -1) == ffi::LUA_TNUMBER {
            out.double(ffi::lua_tonumber(l, -1));
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        if let Some(n) = raw_string_field(l, b"big_number") {
            let s: String = String::from_utf8_lossy(&n)
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            out.big_number(&s);
            ffi::lua_pop(l, 1);
            return;
        }
        push_bytes(l, b"verbatim_string");
        ffi::lua_rawget(l, -2);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            let format = raw_string_field(l, b"format");
            let text = raw_string_field(l, b"string");
            if let (Some(f), Some(t)) = (format, text) {
                out.verbatim(&t, &String::from_utf8_lossy(&f));
                ffi::lua_pop(l, 2);
                return;
            }
        }
        ffi::lua_pop(l, 1);
        for (field, agg) in [(&b"map"[..], Agg::Map), (&b"set"[..], Agg::Set)] {
            push_bytes(l, field);
            ffi::lua_rawget(l, -2);
            if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
                let d = out.defer();
                let mut n = 0;
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, -2) != 0 {
                    if agg == Agg::Map {
                        ffi::lua_pushvalue(l, -2);
                        write_value(l, out, resp);
                        write_value(l, out, resp);
                    } else {
                        ffi::lua_pop(l, 1);
                        ffi::lua_pushvalue(l, -1);
                        write_value(l, out, resp);
                    }
                    n += 1;
                }
                out.fill(d, agg, n);
                ffi::lua_pop(l, 2);
                return;
            }
            ffi::lua_pop(l, 1);
        }
        let d = out.defer();
        let mut n = 0usize;
        loop {
            ffi::lua_rawgeti(l, -1, (n + 1) as ffi::lua_Integer);
            if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
                ffi::lua_pop(l, 1);
                break;
            }
            write_value(l, out, resp);
            n += 1;
        }
        out.fill(d, Agg::Array, n);
        ffi::lua_pop(l, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_like_redis() {
        assert_eq!(error_code("MY_ERR custom"), "MY_ERR");
        assert_eq!(error_code("hello"), "ERR");
        assert_eq!(error_code(&format!("{} x", "A".repeat(40))), "ERR");
    }

    #[test]
    fn raw_errors_keep_their_text() {
        let mut r = Reply::new(2);
        write_error(&mut r, "hello\r\nworld", true);
        assert_eq!(r.buf, b"-hello  world\r\n");
        assert_eq!(r.errors, 1);
        assert_eq!(r.last_error.as_deref(), Some("hello"));
        let mut r = Reply::new(2);
        write_error(&mut r, "OOM no", false);
        assert_eq!(r.last_error, None);
    }
}
