//! The Lua 5.1 interpreter that runs every script, behind a small API.
//!
//! Redis embeds Lua 5.1 and talks to it through the C API; so does keel,
//! through the raw bindings of the `mlua` crate (`mlua::ffi`, Lua built
//! from source by the `vendored` feature). The raw API is used rather than
//! mlua's safe layer because Redis's semantics need it: errors raised by
//! `redis.call` are Lua tables, the error handler must see them untouched,
//! and the timeout hook must raise from inside the interpreter.
//!
//! Safety rules for the code in this module tree:
//! - the `lua_State` is only touched by the thread that holds the server
//!   lock (it lives inside `Server`), one call at a time;
//! - a Rust function called by Lua never calls `lua_error` while a value
//!   with a destructor is alive in its frame: the work is done in an inner
//!   function that returns, then the outer one raises (Lua 5.1 raises
//!   with longjmp, which must only cross frames without destructors).

// The Lua C API is only reachable through FFI (see `vm`).
#![allow(unsafe_code)]

use mlua::ffi;
use std::ffi::{c_char, c_int, CString};

/// Chunk name of keel's own Lua code (skipped when locating errors).
const PRELUDE_NAME: &[u8] = b"=keel\0";
const PRELUDE: &str = include_str!("prelude.lua");

/// Registry keys.
pub const REG_ERR_HANDLER: &[u8] = b"keel_err_handler\0";
pub const REG_RUN: &[u8] = b"keel_run\0";
pub const REG_REAL_GLOBALS: &[u8] = b"keel_globals\0";

/// An owned interpreter.
pub struct Vm {
    pub l: *mut ffi::lua_State,
}

// SAFETY: the interpreter is only used under the server lock (it is a
// field of `Server`), so it is never touched by two threads at once.
unsafe impl Send for Vm {}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: `l` came from luaL_newstate and is closed once.
        unsafe { ffi::lua_close(self.l) }
    }
}

/// Opens one standard library, as Lua 5.1 requires (through a call).
unsafe fn open_lib(l: *mut ffi::lua_State, name: &[u8], f: ffi::lua_CFunction) {
    // SAFETY (whole fn): `l` is a valid state; `name` is NUL-terminated.
    unsafe {
        ffi::lua_pushcfunction(l, f);
        ffi::lua_pushstring(l, name.as_ptr() as *const c_char);
        ffi::lua_call(l, 1, 0);
    }
}

impl Vm {
    /// A new interpreter with Redis's libraries and `redis` API, sealed.
    pub fn new() -> Vm {
        // SAFETY: a fresh state, used only by this function until returned.
        unsafe {
            let l = ffi::luaL_newstate();
            assert!(!l.is_null(), "cannot allocate the Lua interpreter");
            open_lib(l, b"\0", ffi::luaopen_base);
            open_lib(l, b"table\0", ffi::luaopen_table);
            open_lib(l, b"string\0", ffi::luaopen_string);
            open_lib(l, b"math\0", ffi::luaopen_math);
            open_lib(l, b"debug\0", ffi::luaopen_debug);
            super::api::register(l);
            // The real globals stay reachable from Rust (KEYS and ARGV
            // are written there) but not from scripts.
            ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
            ffi::lua_setfield(
                l,
                ffi::LUA_REGISTRYINDEX,
                REG_REAL_GLOBALS.as_ptr() as *const c_char,
            );
            let rc = ffi::luaL_loadbuffer(
                l,
                PRELUDE.as_ptr() as *const c_char,
                PRELUDE.len(),
                PRELUDE_NAME.as_ptr() as *const c_char,
            );
            assert_eq!(rc, 0, "the Lua prelude does not compile");
            ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
            let rc = ffi::lua_pcall(l, 1, 2, 0);
            assert_eq!(rc, 0, "the Lua prelude failed");
            // Stack: err_handler, globals proxy.
            ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
            ffi::lua_setfield(
                l,
                ffi::LUA_REGISTRYINDEX,
                REG_ERR_HANDLER.as_ptr() as *const c_char,
            );
            // Start from what is really live (used_memory_lua).
            ffi::lua_gc(l, ffi::LUA_GCCOLLECT, 0);
            Vm { l }
        }
    }

    /// Bytes of memory the interpreter uses (used_memory_lua).
    pub fn memory(&self) -> usize {
        // SAFETY: valid state, no stack effect.
        unsafe {
            ffi::lua_gc(self.l, ffi::LUA_GCCOUNT, 0) as usize * 1024
                + ffi::lua_gc(self.l, ffi::LUA_GCCOUNTB, 0) as usize
        }
    }

    /// Compiles `body` and stores the function in the registry under
    /// `name`. Err is Lua's compile message.
    pub fn define(&mut self, name: &str, body: &[u8]) -> Result<(), String> {
        let cname = CString::new(name).unwrap_or_default();
        // SAFETY: valid state; the stack is balanced on both paths.
        unsafe {
            let rc = ffi::luaL_loadbuffer(
                self.l,
                body.as_ptr() as *const c_char,
                body.len(),
                c"@user_script".as_ptr(),
            );
            if rc != 0 {
                let msg = to_bytes(self.l, -1).unwrap_or_default();
                ffi::lua_pop(self.l, 1);
                return Err(String::from_utf8_lossy(&msg).into_owned());
            }
            ffi::lua_setfield(self.l, ffi::LUA_REGISTRYINDEX, cname.as_ptr());
        }
        Ok(())
    }

    /// True if a function `name` is defined.
    pub fn has(&self, name: &str) -> bool {
        let cname = CString::new(name).unwrap_or_default();
        // SAFETY: valid state; pushes one value and pops it.
        unsafe {
            ffi::lua_getfield(self.l, ffi::LUA_REGISTRYINDEX, cname.as_ptr());
            let found = ffi::lua_isfunction(self.l, -1) != 0;
            ffi::lua_pop(self.l, 1);
            found
        }
    }
}

impl Default for Vm {
    fn default() -> Self {
        Vm::new()
    }
}

/// The string (or number, converted) at `idx`, if it is one.
///
/// # Safety
/// `l` must be a valid state and `idx` a valid index.
pub unsafe fn to_bytes(l: *mut ffi::lua_State, idx: c_int) -> Option<Vec<u8>> {
    // SAFETY: caller's contract.
    unsafe {
        if ffi::lua_isstring(l, idx) == 0 {
            return None;
        }
        let mut len = 0usize;
        let p = ffi::lua_tolstring(l, idx, &mut len);
        if p.is_null() {
            return None;
        }
        Some(std::slice::from_raw_parts(p as *const u8, len).to_vec())
    }
}

/// Pushes a byte string.
///
/// # Safety
/// `l` must be a valid state with room for one more value.
pub unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    // SAFETY: caller's contract; Lua copies the bytes.
    unsafe {
        ffi::lua_pushlstring(l, b.as_ptr() as *const c_char, b.len());
    }
}

/// Sets `t[key] = <top of stack>` (raw), popping the value; `t` is a
/// negative index counted before the value was pushed.
///
/// # Safety
/// `l` must be a valid state with a table at `t` (counted without the value).
pub unsafe fn set_field(l: *mut ffi::lua_State, key: &[u8], t: c_int) {
    // SAFETY: caller's contract.
    unsafe {
        push_bytes(l, key);
        ffi::lua_insert(l, -2);
        ffi::lua_rawset(l, t - 2);
    }
}

/// Pushes an error table `{err = "<CODE> <msg>"}` as Redis's
/// luaPushErrorBuff builds it: a leading '-' means the text carries its
/// code, otherwise the code is ERR; trailing CR/LF are trimmed.
///
/// # Safety
/// `l` must be a valid state with room for three more values.
pub unsafe fn push_error_table(l: *mut ffi::lua_State, err: &str) {
    let text = error_text(err);
    // SAFETY: caller's contract.
    unsafe {
        ffi::lua_createtable(l, 0, 2);
        push_bytes(l, text.as_bytes());
        set_field(l, b"err", -1);
    }
}

/// The `err` field for an error message (see [`push_error_table`]).
pub fn error_text(err: &str) -> String {
    let (code, msg) = match err.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, msg)) => (code.to_string(), msg.to_string()),
            None => ("ERR".to_string(), rest.to_string()),
        },
        None => ("ERR".to_string(), err.to_string()),
    };
    let msg = msg.trim_matches(|c| c == '\r' || c == '\n');
    format!("{code} {msg}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_like_redis() {
        assert_eq!(error_text("boom"), "ERR boom");
        assert_eq!(error_text("-MY code here"), "MY code here");
        assert_eq!(error_text("-"), "ERR ");
        assert_eq!(error_text("-OOM no room.\r\n"), "OOM no room.");
    }

    #[test]
    fn vm_defines_functions() {
        let mut vm = Vm::new();
        assert!(vm.define("f_x", b"return 1").is_ok());
        assert!(vm.has("f_x"));
        assert!(!vm.has("f_y"));
        let e = vm.define("f_z", b"return +").unwrap_err();
        assert!(e.contains("user_script:1:"), "{e}");
        assert!(vm.memory() > 0);
    }
}
