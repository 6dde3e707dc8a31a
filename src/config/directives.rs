//! The directive model: one [`Directive`] per name Redis 7.0 knows (the
//! list itself is in `table`), saying how its value is parsed, where it
//! is stored, and what CONFIG SET may do with it.
//!
//! A directive keel implements is stored in a typed field of [`Config`]
//! (`Store::Typed`); every other one is kept as its CONFIG GET text in
//! `Config::other` (`Store::Other`), validated exactly as Redis validates
//! it, so that a redis.conf written for Redis loads and CONFIG GET/SET/
//! REWRITE answer as Redis does.

use super::spec::{EnumSpec, NumSpec, StrSpec, Val};
use super::Config;

/// Directive flags (Redis's *_CONFIG flags).
pub const IMMUTABLE: u32 = 1;
/// Takes several arguments on one line.
pub const MULTI_ARG: u32 = 2;
/// Only returned by CONFIG GET for its exact name.
pub const HIDDEN: u32 = 4;
/// CONFIG SET only with enable-protected-configs.
pub const PROTECTED: u32 = 8;
/// Value must not appear in logs (slowlog, MONITOR).
pub const SENSITIVE: u32 = 16;
/// Refused while loading a dataset.
pub const DENY_LOADING: u32 = 32;

/// What redis-server built without Redis's own jemalloc answers.
pub const NO_DEFRAG: &str = "Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution";

/// A directive with its own parse/show/rewrite code (Redis's special
/// configs: save, bind, dir, client-output-buffer-limit, ...).
pub struct Special {
    pub set: fn(&mut Config, &[String]) -> Result<(), String>,
    pub get: fn(&Config) -> String,
    pub rewrite: fn(&Config, &str, &mut super::rewrite::RewriteState),
}

pub enum Kind {
    Bool(bool),
    Num(NumSpec),
    Enum(EnumSpec),
    Str(StrSpec),
    Special(Special),
}

pub type TypedGet = fn(&Config) -> Val;
pub type TypedSet = fn(&mut Config, Val);

pub enum Store {
    /// Kept as CONFIG GET text in `Config::other`.
    Other,
    /// A typed field of `Config`.
    Typed(TypedGet, TypedSet),
}

pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub flags: u32,
    pub kind: Kind,
    pub store: Store,
}

impl Directive {
    pub fn new(name: &'static str, flags: u32, kind: Kind) -> Self {
        Directive {
            name,
            alias: None,
            flags,
            kind,
            store: Store::Other,
        }
    }

    /// Adds an alias (slaveof for replicaof, ...).
    pub fn alias(mut self, a: &'static str) -> Self {
        self.alias = Some(a);
        self
    }

    /// Stores the value in a typed field.
    pub fn typed(mut self, get: TypedGet, set: TypedSet) -> Self {
        self.store = Store::Typed(get, set);
        self
    }

    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// The default value (not for special directives).
    pub fn default_val(&self) -> Val {
        match &self.kind {
            Kind::Bool(b) => Val::Bool(*b),
            Kind::Num(n) => Val::Int(n.default),
            Kind::Enum(e) => Val::Int(e.default),
            Kind::Str(s) => Val::Str(s.default.map(String::from)),
            Kind::Special(_) => Val::Str(None),
        }
    }

    /// The current value (not for special directives).
    pub fn value(&self, cfg: &Config) -> Val {
        if let Store::Typed(get, _) = self.store {
            return get(cfg);
        }
        let Some(text) = cfg.other.get(self.name) else {
            return self.default_val();
        };
        let multi = self.has(MULTI_ARG);
        match &self.kind {
            Kind::Bool(_) => Val::Bool(text == "yes"),
            Kind::Num(n) => Val::Int(n.parse(text).unwrap_or(n.default)),
            Kind::Enum(e) => {
                let args: Vec<String> = text.split(' ').map(String::from).collect();
                Val::Int(e.parse(&args, multi).unwrap_or(e.default))
            }
            Kind::Str(s) => Val::Str(if s.empty_is_null && text.is_empty() {
                None
            } else {
                Some(text.clone())
            }),
            Kind::Special(_) => Val::Str(Some(text.clone())),
        }
    }

    /// The CONFIG GET text.
    pub fn show(&self, cfg: &Config) -> String {
        let multi = self.has(MULTI_ARG);
        match &self.kind {
            Kind::Special(sp) => (sp.get)(cfg),
            Kind::Bool(_) => super::spec::yesno(self.value(cfg).as_bool()).into(),
            Kind::Num(n) => n.show(self.value(cfg).as_int()),
            Kind::Enum(e) => e.show(self.value(cfg).as_int(), multi),
            Kind::Str(_) => self.value(cfg).into_string(),
        }
    }

    /// Parses `args` and stores the new value (Redis's interface.set).
    /// On error nothing changes.
    pub fn set(&self, cfg: &mut Config, args: &[String]) -> Result<(), String> {
        let val = match &self.kind {
            Kind::Special(sp) => return (sp.set)(cfg, args),
            Kind::Bool(_) => match args[0].to_ascii_lowercase().as_str() {
                "yes" => Val::Bool(true),
                "no" => Val::Bool(false),
                _ => return Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Num(n) => Val::Int(n.parse(&args[0])?),
            Kind::Enum(e) => Val::Int(e.parse(args, self.has(MULTI_ARG))?),
            Kind::Str(s) => Val::Str(s.parse(&args[0])?),
        };
        if self.name == "activedefrag" && val.as_bool() {
            // What redis-server built without Redis's jemalloc says; keel
            // has no defragmenter either.
            return Err(NO_DEFRAG.into());
        }
        self.store_val(cfg, val);
        Ok(())
    }

    /// Stores an already validated value.
    pub fn store_val(&self, cfg: &mut Config, val: Val) {
        match self.store {
            Store::Typed(_, set) => set(cfg, val),
            Store::Other => {
                let multi = self.has(MULTI_ARG);
                let text = match (&self.kind, val) {
                    (Kind::Num(n), Val::Int(i)) => n.show(i),
                    (Kind::Enum(e), Val::Int(i)) => e.show(i, multi),
                    (_, v) => v.into_string(),
                };
                cfg.other.insert(self.name.to_string(), text);
            }
        }
    }
}

/// Every directive, in Redis's table order.
pub fn table() -> &'static [Directive] {
    static TABLE: std::sync::OnceLock<Vec<Directive>> = std::sync::OnceLock::new();
    TABLE.get_or_init(super::table::build)
}

/// Looks a directive up by name or alias, ignoring case.
pub fn find(name: &str) -> Option<&'static Directive> {
    table().iter().find(|d| {
        d.name.eq_ignore_ascii_case(name) || d.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Every name CONFIG GET can list (primary names and aliases), with the
/// directive each belongs to.
pub fn all_names() -> impl Iterator<Item = (&'static str, &'static Directive)> {
    table()
        .iter()
        .flat_map(|d| std::iter::once((d.name, d)).chain(d.alias.map(|a| (a, d))))
}

/// Applies one config-file line whose directive is in the table
/// (Redis's loadServerConfigFromString for standard configs).
pub fn apply_line(d: &Directive, cfg: &mut Config, args: &[String]) -> Result<(), String> {
    if !d.has(MULTI_ARG) && args.len() != 1 {
        return Err("wrong number of arguments".into());
    }
    if d.has(MULTI_ARG) && args.len() == 1 && !args[0].is_empty() {
        // "--save '900 1 300 10'": one argument holding several.
        let split: Vec<String> = crate::protocol::splitargs::split_args(args[0].as_bytes())
            .unwrap_or_default()
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect();
        return d.set(cfg, &split);
    }
    d.set(cfg, args)
}

/// Splits a CONFIG SET value the way Redis does for multi-argument
/// directives: on every single space.
pub fn split_set_value(d: &Directive, value: &str) -> Vec<String> {
    if d.has(MULTI_ARG) {
        if value.is_empty() {
            return vec![];
        }
        value.split(' ').map(String::from).collect()
    } else {
        vec![value.to_string()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(cfg: &mut Config, name: &str, v: &str) -> Result<(), String> {
        let d = find(name).unwrap();
        d.set(cfg, &split_set_value(d, v))
    }

    #[test]
    fn typed_and_other_values() {
        let mut c = Config::default();
        set(&mut c, "maxmemory", "1gb").unwrap();
        assert_eq!(c.maxmemory, 1 << 30);
        assert_eq!(find("maxmemory").unwrap().show(&c), "1073741824");
        set(&mut c, "activerehashing", "NO").unwrap();
        assert_eq!(find("activerehashing").unwrap().show(&c), "no");
        assert_eq!(find("repl-backlog-size").unwrap().show(&c), "1048576");
        set(&mut c, "repl-backlog-size", "2mb").unwrap();
        assert_eq!(find("repl-backlog-size").unwrap().show(&c), "2097152");
        set(&mut c, "hash-max-ziplist-entries", "21").unwrap();
        assert_eq!(c.hash_max_listpack_entries, 21);
        assert_eq!(find("HASH-MAX-LISTPACK-ENTRIES").unwrap().show(&c), "21");
        set(&mut c, "shutdown-on-sigterm", "nosave now").unwrap();
        assert_eq!(find("shutdown-on-sigterm").unwrap().show(&c), "nosave now");
        assert_eq!(
            set(&mut c, "shutdown-on-sigint", "save nosave").unwrap_err(),
            "shutdown options SAVE and NOSAVE can't be used simultaneously"
        );
        set(&mut c, "hz", "0").unwrap();
        assert_eq!(c.hz, 1);
    }

    #[test]
    fn bad_values_use_redis_messages() {
        let mut c = Config::default();
        assert_eq!(
            set(&mut c, "protected-mode", "maybe").unwrap_err(),
            "argument must be 'yes' or 'no'"
        );
        assert_eq!(
            set(&mut c, "timeout", "x").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            set(&mut c, "maxmemory-eviction-tenacity", "101").unwrap_err(),
            "argument must be between 0 and 100 inclusive"
        );
        assert_eq!(
            set(&mut c, "loglevel", "loud").unwrap_err(),
            "argument(s) must be one of the following: debug, verbose, notice, warning"
        );
        assert_eq!(
            set(&mut c, "dbfilename", "a/b").unwrap_err(),
            "dbfilename can't be a path, just a filename"
        );
        set(&mut c, "appendonly", "yes").unwrap();
        assert!(c.appendonly);
        set(&mut c, "save", "900 1").unwrap();
        assert_eq!(c.save, vec![(900, 1)]);
        set(&mut c, "save", "").unwrap();
        assert!(c.save.is_empty());
    }

    #[test]
    fn names_cover_redis() {
        assert!(find("slaveof").is_some_and(|d| d.name == "replicaof"));
        assert!(find("no-such-directive").is_none());
        let n = all_names().filter(|(_, d)| !d.has(HIDDEN)).count();
        // Redis 7.0.15 (with TLS) lists 192 names in CONFIG GET *.
        assert_eq!(n, 192);
    }
}
