//! The command table: one declarative entry per command (name, arity,
//! flags, key positions, docs) that drives dispatch, arity errors, MULTI
//! queuing, OOM checks, propagation, COMMAND INFO/DOCS and key extraction.
//!
//! Each family module exports a `COMMANDS` slice; [`CommandTable::new`]
//! gathers them into one case-insensitive lookup.

use super::Ctx;
use bytes::Bytes;
use hashbrown::HashMap;

pub type Handler = fn(&mut Ctx, &[Bytes]);

/// Command flags, named as Redis names them in COMMAND INFO.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 14;
    pub const NO_MULTI: u32 = 1 << 15;
    pub const MOVABLE_KEYS: u32 = 1 << 16;
    pub const ALLOW_BUSY: u32 = 1 << 17;
    pub const PROTECTED: u32 = 1 << 18;
    pub const NO_ASYNC_LOADING: u32 = 1 << 19;
    /// Allowed in the RESP2 pub/sub context.
    pub const PUBSUB_CONTEXT: u32 = 1 << 20;
    /// May delete keys it did not name (lazy expiry while scanning): what
    /// it propagates is never wrapped in MULTI/EXEC (Redis's
    /// CMD_TOUCHES_ARBITRARY_KEYS; not listed by COMMAND INFO).
    pub const TOUCHES_ARBITRARY_KEYS: u32 = 1 << 21;

    /// (flag, name) in the order COMMAND INFO lists them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Where a command's keys are, for key extraction (COMMAND GETKEYS,
/// cluster redirection, WATCH-style bookkeeping).
#[derive(Clone, Copy, Debug)]
pub enum KeyPos {
    None,
    /// Keys at `first`, `first+step`, ... up to `last` (negative: from the
    /// end, -1 = last argument).
    Range {
        first: i32,
        last: i32,
        step: i32,
    },
    /// `numkeys` at `count_at`, keys start at `first`, every `step`.
    NumKeys {
        count_at: i32,
        first: i32,
        step: i32,
    },
    /// Keys follow a keyword (e.g. STREAMS), up to the end, split in half.
    Custom(fn(&[Bytes]) -> Vec<usize>),
}

/// The key of a single-key command (argument 1).
pub const K1: KeyPos = KeyPos::Range {
    first: 1,
    last: 1,
    step: 1,
};
/// Two keys at arguments 1 and 2 (RENAME, SMOVE, ...).
pub const K12: KeyPos = KeyPos::Range {
    first: 1,
    last: 2,
    step: 1,
};
/// Every argument from 1 on is a key (DEL, MGET, ...).
pub const KALL: KeyPos = KeyPos::Range {
    first: 1,
    last: -1,
    step: 1,
};

pub struct CommandDef {
    /// Lower-case name (for subcommands: the subcommand alone).
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub keys: KeyPos,
    pub handler: Handler,
    /// ACL categories besides those derived from flags (e.g. "string").
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    pub subcommands: &'static [CommandDef],
}

impl CommandDef {
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u32,
        keys: KeyPos,
        handler: Handler,
    ) -> Self {
        CommandDef {
            name,
            arity,
            flags,
            keys,
            handler,
            group: "",
            summary: "",
            since: "1.0.0",
            complexity: "",
            subcommands: &[],
        }
    }

    pub const fn doc(
        mut self,
        group: &'static str,
        since: &'static str,
        summary: &'static str,
        complexity: &'static str,
    ) -> Self {
        self.group = group;
        self.since = since;
        self.summary = summary;
        self.complexity = complexity;
        self
    }

    pub const fn subs(mut self, subs: &'static [CommandDef]) -> Self {
        self.subcommands = subs;
        self
    }

    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    pub fn is_write(&self) -> bool {
        self.has(flags::WRITE)
    }

    /// Positions of the keys in `args` (args[0] is the command name).
    pub fn key_positions(&self, args: &[Bytes]) -> Vec<usize> {
        let argc = args.len() as i32;
        match self.keys {
            KeyPos::None => vec![],
            KeyPos::Range { first, last, step } => {
                let last = if last < 0 {
                    argc + last
                } else {
                    last.min(argc - 1)
                };
                let mut v = vec![];
                let mut i = first;
                while i <= last && i < argc {
                    v.push(i as usize);
                    i += step.max(1);
                }
                v
            }
            KeyPos::NumKeys {
                count_at,
                first,
                step,
            } => {
                let Some(n) = args
                    .get(count_at as usize)
                    .and_then(|a| crate::util::num::parse_i64(a))
                else {
                    return vec![];
                };
                (0..n.max(0) as i32)
                    .map(|k| first + k * step)
                    .take_while(|&i| i < argc)
                    .map(|i| i as usize)
                    .collect()
            }
            KeyPos::Custom(f) => f(args),
        }
    }
}

/// Case-insensitive lookup over every command family.
/// The last command name looked up on the command path and its command
/// (pipelines and benchmarks repeat one name). The table only changes
/// with rename-command, at startup.
#[derive(Default)]
pub struct LookupCache {
    name: [u8; 16],
    len: u8,
    def: Option<&'static CommandDef>,
}

pub struct CommandTable {
    by_name: HashMap<Vec<u8>, &'static CommandDef>,
}

impl CommandTable {
    pub fn new(families: &[&'static [CommandDef]]) -> Self {
        let mut by_name = HashMap::new();
        for fam in families {
            for c in fam.iter() {
                by_name.insert(c.name.as_bytes().to_vec(), c);
            }
        }
        CommandTable { by_name }
    }

    /// rename-command: `from` answers as `to` from now on (an empty `to`
    /// removes the command). False if `from` does not exist or `to` does.
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        let from = from.to_ascii_lowercase().into_bytes();
        let to = to.to_ascii_lowercase().into_bytes();
        if !self.by_name.contains_key(&from) || (!to.is_empty() && self.by_name.contains_key(&to)) {
            return false;
        }
        let def = self.by_name.remove(&from).expect("checked above");
        if !to.is_empty() {
            self.by_name.insert(to, def);
        }
        true
    }

    pub fn get(&self, name: &[u8]) -> Option<&'static CommandDef> {
        if name.len() > 32 {
            return None;
        }
        let mut buf = [0u8; 32];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        self.by_name.get(&lower[..]).copied()
    }

    /// The arguments of `args` that are probably keys, found cheaply for
    /// cache warming (it may name arguments that are not keys): argument 1
    /// of a short command, the key range of a longer one (MSET ...).
    pub fn key_hint<'a>(&self, args: &'a [Bytes]) -> impl Iterator<Item = &'a Bytes> + 'a {
        let n = args.len();
        let (first, last, step) = match n {
            0 | 1 => (1, 0, 1),
            2 | 3 => (1, 1, 1),
            _ => match self.get(&args[0]).map(|c| &c.keys) {
                Some(&KeyPos::Range { first, last, step }) if first > 0 && step > 0 => {
                    let last = if last < 0 { n as i32 + last } else { last };
                    (first as usize, last.max(0) as usize, step as usize)
                }
                _ => (1, 1, 1),
            },
        };
        args.iter().take(last + 1).skip(first).step_by(step)
    }

    /// The command and, for container commands, the subcommand to run.
    pub fn resolve(&self, args: &[Bytes]) -> Resolved {
        self.resolve_found(self.get(&args[0]), args)
    }

    /// [`Self::resolve`] for the command path: a name equal (ignoring
    /// case) to the previous one is resolved without hashing it again.
    pub fn resolve_cached(&self, cache: &mut LookupCache, args: &[Bytes]) -> Resolved {
        let name = &args[0][..];
        let hit = cache
            .def
            .filter(|_| name.eq_ignore_ascii_case(&cache.name[..cache.len as usize]));
        let found = match hit {
            Some(d) => Some(d),
            None => {
                let d = self.get(name);
                if name.len() <= cache.name.len() {
                    cache.len = name.len() as u8;
                    cache.name[..name.len()].copy_from_slice(name);
                    cache.def = d;
                }
                d
            }
        };
        self.resolve_found(found, args)
    }

    fn resolve_found(&self, cmd: Option<&'static CommandDef>, args: &[Bytes]) -> Resolved {
        let Some(cmd) = cmd else {
            return Resolved::Unknown;
        };
        if cmd.subcommands.is_empty() || args.len() < 2 {
            return Resolved::Found(cmd, None);
        }
        let sub = args[1].to_ascii_lowercase();
        match cmd.subcommands.iter().find(|s| s.name.as_bytes() == sub) {
            Some(s) => Resolved::Found(cmd, Some(s)),
            None => Resolved::UnknownSub(cmd),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static CommandDef> + '_ {
        self.by_name.values().copied()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

pub enum Resolved {
    Unknown,
    UnknownSub(&'static CommandDef),
    Found(&'static CommandDef, Option<&'static CommandDef>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_resolution_matches_the_table() {
        let table = CommandTable::new(&crate::commands::all_families());
        let mut cache = LookupCache::default();
        let name_of = |r: Resolved| match r {
            Resolved::Found(c, s) => format!("{}|{}", c.name, s.map_or("", |s| s.name)),
            Resolved::UnknownSub(c) => format!("{}|?", c.name),
            Resolved::Unknown => "?".into(),
        };
        for line in [
            "SET a b",
            "set a b",
            "sEt a",
            "get a",
            "nosuch",
            "get",
            "CONFIG GET x",
            "config nosuch",
            "config get y",
            "averyveryverylongcommandname x",
        ] {
            let args: Vec<Bytes> = line
                .split(' ')
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect();
            let want = name_of(table.resolve(&args));
            assert_eq!(
                name_of(table.resolve_cached(&mut cache, &args)),
                want,
                "{line}"
            );
        }
    }

    fn hint(args: &str) -> Vec<String> {
        let table = CommandTable::new(&crate::commands::all_families());
        let args: Vec<Bytes> = args
            .split(' ')
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let keys = table.key_hint(&args);
        keys.map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    #[test]
    fn key_hints() {
        assert_eq!(hint("get k"), ["k"]);
        assert_eq!(hint("set k v"), ["k"]);
        assert_eq!(hint("ping"), Vec::<String>::new());
        assert_eq!(hint("mset a 1 b 2 c 3"), ["a", "b", "c"]);
        assert_eq!(hint("MSET a 1 b 2"), ["a", "b"]);
        assert_eq!(hint("set k v ex 10"), ["k"]);
        assert_eq!(hint("nosuchcommand a b c"), ["a"]);
    }
}
