//! Lua scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT), as Redis 7.0.
//!
//! One Lua 5.1 interpreter ([`vm::Vm`]) serves every client. A script is
//! compiled once into a function `f_<sha1 of body>` kept in the Lua
//! registry, and its body is kept in [`Scripting::scripts`] (SCRIPT
//! EXISTS, INFO). Running a script ([`run`]) puts a [`run::RunCtx`] where
//! the Lua side can reach it; `redis.call` ([`api`]) then runs real keel
//! commands through `dispatch::call` with a private script client, so
//! keyspace access, statistics, keyspace events, WATCH and propagation
//! behave as for any client. As in Redis 7.0 the effects are replicated,
//! never the script: the commands a script ran reach the AOF and the
//! replicas as one MULTI/EXEC unit when EVAL ends (dispatch's
//! also_propagate), and EVAL itself is never propagated.
//!
//! Lua values and replies are converted as Redis does ([`convert`]); the
//! globals are read-only ([`vm`]'s prelude). Script flags come from a
//! `#!lua flags=...` first line ([`shebang`]).

pub mod api;
pub mod busy;
pub mod convert;
pub mod run;
pub mod shebang;
pub mod vm;

use crate::server::client::Client;
use bytes::Bytes;
use std::collections::HashMap;

/// A script in the cache.
pub struct Script {
    pub body: Bytes,
    /// [`shebang`] flags.
    pub flags: u32,
}

/// The scripting engine state (Redis's lctx).
pub struct Scripting {
    pub vm: vm::Vm,
    /// sha1 (lower-case hex) -> script.
    pub scripts: HashMap<String, Script>,
    /// Bytes of the cached bodies and their names (used_memory_scripts_eval).
    pub scripts_mem: usize,
    /// The client scripts run their commands as (out of the client table
    /// while a script runs).
    pub client: Option<Box<Client>>,
    /// Scripts run since the last Lua GC step.
    pub gc_count: u32,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call commands flagged
    /// noscript (a test knob of Redis's).
    pub disable_deny_script: bool,
    /// A script runs past busy-reply-threshold: other clients' commands
    /// are answered -BUSY except the ALLOW_BUSY ones.
    pub timed_out: bool,
    /// Shared with the helper that answers clients while a script is
    /// timed out ([`busy`]).
    pub busy: std::sync::Arc<busy::BusyState>,
}

impl Scripting {
    pub fn new(client_id: u64) -> Scripting {
        let mut c = Client::new(client_id, String::new(), String::new(), -1, 0, true);
        c.flags.script = true;
        Scripting {
            vm: vm::Vm::new(),
            scripts: HashMap::new(),
            scripts_mem: 0,
            client: Some(Box::new(c)),
            gc_count: 0,
            disable_deny_script: false,
            timed_out: false,
            busy: Default::default(),
        }
    }

    /// SCRIPT FLUSH: a new interpreter and an empty cache.
    pub fn reset(&mut self) {
        self.vm = vm::Vm::new();
        self.scripts.clear();
        self.scripts_mem = 0;
        self.gc_count = 0;
    }

    /// used_memory_scripts_eval, counted as Redis counts it (the bodies and
    /// names, one dict entry and script struct each, the bucket array).
    pub fn scripts_memory(&self) -> usize {
        let n = self.scripts.len();
        let slots = if n == 0 {
            0
        } else {
            n.next_power_of_two().max(4)
        };
        self.scripts_mem + n * (24 + 16) + slots * 8
    }

    /// Compiles and caches `body` (luaCreateFunction): its sha, or the
    /// error to reply.
    pub fn create(&mut self, body: &Bytes) -> Result<String, String> {
        let sha = sha1_hex_string(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, shebang_len) = shebang::extract(body)?;
        let name = format!("f_{sha}");
        if let Err(e) = self.vm.define(&name, &body[shebang_len..]) {
            return Err(format!("Error compiling script (new function): {e}"));
        }
        // An sds name (41 bytes + header) and the body's string object.
        self.scripts_mem += 48 + body.len() + 16;
        self.scripts.insert(
            sha.clone(),
            Script {
                body: body.clone(),
                flags,
            },
        );
        Ok(sha)
    }
}

/// The flags dispatch checks for a command (Redis's evalGetCommandFlags):
/// for EVAL-family commands of a script with a shebang, the script's
/// flags decide WRITE, DENYOOM and STALE instead of the command's own.
pub fn command_flags(
    srv: &crate::server::Server,
    def: &crate::commands::CommandDef,
    args: &[Bytes],
) -> u32 {
    use crate::commands::flags::{DENYOOM, MAY_REPLICATE, STALE, WRITE};
    let evalsha = match def.name {
        "eval" | "eval_ro" => false,
        "evalsha" | "evalsha_ro" => true,
        _ => return def.flags,
    };
    let Some(arg) = args.get(1) else {
        return def.flags;
    };
    // A script's flags come from its own shebang, so EVAL reads them off
    // the body (the cache would give the same, at the price of a SHA-1 that
    // the command computes again); EVALSHA has only the cache.
    let script_flags = if evalsha {
        if arg.len() != 40 {
            return def.flags;
        }
        let sha = String::from_utf8_lossy(arg).to_ascii_lowercase();
        match srv.scripting.scripts.get(&sha) {
            Some(s) => s.flags,
            None => return def.flags,
        }
    } else {
        match shebang::extract(arg) {
            Ok((f, _)) => f,
            Err(_) => return def.flags,
        }
    };
    if script_flags & shebang::COMPAT != 0 {
        return def.flags;
    }
    let mut f = def.flags & !(STALE | DENYOOM | WRITE | MAY_REPLICATE);
    if script_flags & (shebang::ALLOW_OOM | shebang::NO_WRITES) == 0 {
        f |= DENYOOM;
    }
    if script_flags & shebang::NO_WRITES == 0 {
        f |= WRITE;
    }
    if script_flags & shebang::ALLOW_STALE != 0 {
        f |= STALE;
    }
    f
}

/// SHA-1 of `data` as 40 lower-case hex digits.
pub fn sha1_hex(data: &[u8]) -> [u8; 40] {
    let digest = sha1_smol::Sha1::from(data).digest().bytes();
    let hex = b"0123456789abcdef";
    let mut out = [0u8; 40];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = hex[(b >> 4) as usize];
        out[2 * i + 1] = hex[(b & 15) as usize];
    }
    out
}

pub fn sha1_hex_string(data: &[u8]) -> String {
    String::from_utf8_lossy(&sha1_hex(data)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_redis() {
        assert_eq!(
            sha1_hex_string(b""),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(
            sha1_hex_string(b"Pizza & Mandolino"),
            "74822d82031af7493c20eefa13bd07ec4fada82f"
        );
    }

    #[test]
    fn create_caches_once_and_reports_compile_errors() {
        let mut s = Scripting::new(1);
        let sha = s.create(&Bytes::from_static(b"return 1")).unwrap();
        assert_eq!(sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
        assert_eq!(s.create(&Bytes::from_static(b"return 1")).unwrap(), sha);
        assert_eq!(s.scripts.len(), 1);
        let e = s.create(&Bytes::from_static(b"return +")).unwrap_err();
        assert!(e.starts_with("Error compiling script (new function): user_script:1:"));
        s.reset();
        assert!(s.scripts.is_empty());
    }
}
