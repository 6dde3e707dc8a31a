//! COMMAND and its subcommands: the command table as Redis 7.0 describes
//! it (COMMAND INFO's 10-field entries, DOCS maps, LIST filters, key
//! extraction with GETKEYS / GETKEYSANDFLAGS).

use super::cmdmeta::{self, KeySpec};
use super::table::{flags::*, CommandDef, KeyPos, Resolved};
use super::{err, reply_help, Ctx};
use crate::protocol::Reply;
use crate::util::glob::glob_match;
use bytes::Bytes;

const F: u32 = LOADING | STALE;

const SUBS: &[CommandDef] = &[
    CommandDef::new("count", 2, F, KeyPos::None, count).doc(
        "server",
        "2.8.13",
        "Get total number of Redis commands",
        "O(1)",
    ),
    CommandDef::new("info", -2, F, KeyPos::None, info).doc(
        "server",
        "2.8.13",
        "Get array of specific Redis command details, or all when no argument is given.",
        "O(N) where N is the number of commands to look up",
    ),
    CommandDef::new("docs", -2, F, KeyPos::None, docs).doc(
        "server",
        "7.0.0",
        "Get array of specific Redis command documentation",
        "O(N) where N is the number of commands to look up",
    ),
    CommandDef::new("list", -2, F, KeyPos::None, list).doc(
        "server",
        "7.0.0",
        "Get an array of Redis command names",
        "O(N) where N is the total number of Redis commands",
    ),
    CommandDef::new("getkeys", -4, F, KeyPos::None, getkeys).doc(
        "server",
        "2.8.13",
        "Extract keys given a full Redis command",
        "O(N) where N is the number of arguments to the command",
    ),
    CommandDef::new("getkeysandflags", -4, F, KeyPos::None, getkeysandflags).doc(
        "server",
        "7.0.0",
        "Extract keys and access flags given a full Redis command",
        "O(N) where N is the number of arguments to the command",
    ),
    CommandDef::new("help", 2, F, KeyPos::None, help).doc(
        "server",
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
];

pub static COMMANDS: &[CommandDef] = &[CommandDef::new("command", -1, F, KeyPos::None, all)
    .doc(
        "server",
        "2.8.13",
        "Get array of Redis command details",
        "O(N) where N is the total number of Redis commands",
    )
    .subs(SUBS)];

/// Every top-level command, sorted by name.
fn sorted_commands(ctx: &Ctx) -> Vec<&'static CommandDef> {
    let mut v: Vec<&'static CommandDef> = ctx.srv.commands.iter().collect();
    v.sort_by_key(|c| c.name);
    v
}

/// Redis's lookupCommandBySds: "name" or "container|sub".
fn lookup(ctx: &Ctx, name: &[u8]) -> Option<(&'static CommandDef, Option<&'static CommandDef>)> {
    let text = String::from_utf8_lossy(name).to_ascii_lowercase();
    let parts: Vec<&str> = text.split('|').collect();
    let cmd = ctx.srv.commands.get(parts[0].as_bytes())?;
    match parts.len() {
        1 => Some((cmd, None)),
        2 => cmd
            .subcommands
            .iter()
            .find(|s| s.name == parts[1])
            .map(|s| (cmd, Some(s))),
        _ => None,
    }
}

fn full_name(parent: Option<&CommandDef>, def: &CommandDef) -> String {
    match parent {
        Some(p) => format!("{}|{}", p.name, def.name),
        None => def.name.to_string(),
    }
}

fn write_info(out: &mut Reply, parent: Option<&CommandDef>, def: &CommandDef) {
    let full = full_name(parent, def);
    out.array_len(10);
    out.bulk(full.as_bytes());
    out.int(def.arity as i64);
    let flags = cmdmeta::flag_names(def);
    out.set_len(flags.len());
    for f in flags {
        out.simple(f);
    }
    let (first, last, step) = cmdmeta::legacy_range(def);
    out.int(first);
    out.int(last);
    out.int(step);
    let cats = cmdmeta::category_names(cmdmeta::acl_categories(def, &full));
    out.set_len(cats.len());
    for c in cats {
        out.simple(&format!("@{c}"));
    }
    let tips = cmdmeta::tips(&full);
    out.set_len(tips.len());
    for t in tips {
        out.bulk(t.as_bytes());
    }
    write_key_specs(out, def, &full);
    if parent.is_none() && !def.subcommands.is_empty() {
        out.array_len(def.subcommands.len());
        for s in def.subcommands {
            write_info(out, Some(def), s);
        }
    } else {
        out.set_len(0);
    }
}

fn write_key_specs(out: &mut Reply, def: &CommandDef, full: &str) {
    let specs = cmdmeta::key_specs(def);
    out.set_len(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let kf = cmdmeta::key_flags(def, full, i);
        out.map_len(3);
        out.bulk(b"flags");
        out.set_len(kf.len());
        for f in kf {
            out.simple(f);
        }
        out.bulk(b"begin_search");
        out.map_len(2);
        out.bulk(b"type");
        match spec {
            KeySpec::Range { index, .. } | KeySpec::KeyNum { index, .. } => {
                out.bulk(b"index");
                out.bulk(b"spec");
                out.map_len(1);
                out.bulk(b"index");
                out.int(index);
            }
            KeySpec::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map_len(0);
            }
        }
        out.bulk(b"find_keys");
        out.map_len(2);
        out.bulk(b"type");
        match spec {
            KeySpec::Range { lastkey, step, .. } => {
                out.bulk(b"range");
                out.bulk(b"spec");
                out.map_len(3);
                out.bulk(b"lastkey");
                out.int(lastkey);
                out.bulk(b"keystep");
                out.int(step);
                out.bulk(b"limit");
                out.int(0);
            }
            KeySpec::KeyNum { first, step, .. } => {
                out.bulk(b"keynum");
                out.bulk(b"spec");
                out.map_len(3);
                out.bulk(b"keynumidx");
                out.int(0);
                out.bulk(b"firstkey");
                out.int(first);
                out.bulk(b"keystep");
                out.int(step);
            }
            KeySpec::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map_len(0);
            }
        }
    }
}

fn write_docs(out: &mut Reply, parent: Option<&CommandDef>, def: &CommandDef) {
    let has_subs = parent.is_none() && !def.subcommands.is_empty();
    let fields = [!def.summary.is_empty(), !def.since.is_empty(), true]
        .iter()
        .filter(|b| **b)
        .count()
        + usize::from(!def.complexity.is_empty())
        + usize::from(has_subs);
    out.map_len(fields);
    if !def.summary.is_empty() {
        out.bulk(b"summary");
        out.bulk(def.summary.as_bytes());
    }
    if !def.since.is_empty() {
        out.bulk(b"since");
        out.bulk(def.since.as_bytes());
    }
    out.bulk(b"group");
    out.bulk(cmdmeta::doc_group(def.group).as_bytes());
    if !def.complexity.is_empty() {
        out.bulk(b"complexity");
        out.bulk(def.complexity.as_bytes());
    }
    if has_subs {
        out.bulk(b"subcommands");
        out.map_len(def.subcommands.len());
        for s in def.subcommands {
            out.bulk(full_name(Some(def), s).as_bytes());
            write_docs(out, Some(def), s);
        }
    }
}

fn all(ctx: &mut Ctx, _args: &[Bytes]) {
    let cmds = sorted_commands(ctx);
    ctx.out.array_len(cmds.len());
    for c in cmds {
        write_info(ctx.out, None, c);
    }
}

fn count(ctx: &mut Ctx, _args: &[Bytes]) {
    ctx.out.int(ctx.srv.commands.len() as i64);
}

fn info(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() == 2 {
        return all(ctx, args);
    }
    ctx.out.array_len(args.len() - 2);
    for a in &args[2..] {
        match lookup(ctx, a) {
            Some((c, None)) => write_info(ctx.out, None, c),
            Some((c, Some(s))) => write_info(ctx.out, Some(c), s),
            None => ctx.out.null(),
        }
    }
}

fn docs(ctx: &mut Ctx, args: &[Bytes]) {
    let found: Vec<(Option<&CommandDef>, &CommandDef)> = if args.len() == 2 {
        sorted_commands(ctx)
            .into_iter()
            .map(|c| (None, c))
            .collect()
    } else {
        args[2..]
            .iter()
            .filter_map(|a| lookup(ctx, a))
            .map(|(c, s)| match s {
                Some(s) => (Some(c), s),
                None => (None, c),
            })
            .collect()
    };
    ctx.out.map_len(found.len());
    for (p, d) in found {
        ctx.out.bulk(full_name(p, d).as_bytes());
        write_docs(ctx.out, p, d);
    }
}

enum ListFilter {
    Module,
    AclCat(u32),
    Pattern(Vec<u8>),
}

fn list(ctx: &mut Ctx, args: &[Bytes]) {
    let mut filter = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args[i].eq_ignore_ascii_case(b"filterby") && more == 2 {
            filter = Some(match args[i + 1].to_ascii_lowercase().as_slice() {
                b"module" => ListFilter::Module,
                b"aclcat" => ListFilter::AclCat(cmdmeta::category_bit(&String::from_utf8_lossy(
                    &args[i + 2],
                ))),
                b"pattern" => ListFilter::Pattern(args[i + 2].to_vec()),
                _ => {
                    ctx.out.error(err::SYNTAX);
                    return;
                }
            });
            i += 3;
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
    }
    let mut names = Vec::new();
    for c in sorted_commands(ctx) {
        let mut entries = vec![(None, c)];
        entries.extend(c.subcommands.iter().map(|s| (Some(c), s)));
        for (p, d) in entries {
            let full = full_name(p, d);
            let keep = match &filter {
                None => true,
                // No modules can be loaded, so no command belongs to one.
                Some(ListFilter::Module) => false,
                Some(ListFilter::AclCat(bit)) => {
                    *bit != 0 && cmdmeta::acl_categories(d, &full) & bit != 0
                }
                Some(ListFilter::Pattern(p)) => glob_match(p, full.as_bytes(), true),
            };
            if keep {
                names.push(full);
            }
        }
    }
    ctx.out.array_len(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
}

/// Shared by GETKEYS and GETKEYSANDFLAGS.
fn keys_of(ctx: &mut Ctx, args: &[Bytes], with_flags: bool) {
    let target = &args[2..];
    let table = ctx.srv.commands.clone();
    let (def, full) = match table.resolve(target) {
        Resolved::Found(c, s) => (s.unwrap_or(c), super::dispatch::full_name(c, s)),
        _ => {
            ctx.out.error("ERR Invalid command specified");
            return;
        }
    };
    if matches!(def.keys, KeyPos::None) {
        ctx.out.error("ERR The command has no key arguments");
        return;
    }
    let argc = target.len() as i32;
    if (def.arity > 0 && def.arity != argc) || argc < -def.arity {
        ctx.out
            .error("ERR Invalid number of arguments specified for command");
        return;
    }
    let pos = def.key_positions(target);
    if pos.is_empty() && !def.has(NO_MANDATORY_KEYS) {
        ctx.out.error("ERR Invalid arguments specified for command");
        return;
    }
    ctx.out.array_len(pos.len());
    for (i, p) in pos.into_iter().enumerate() {
        if with_flags {
            let kf = cmdmeta::key_flags(def, &full, i);
            ctx.out.array_len(2);
            ctx.out.bulk(&target[p]);
            ctx.out.set_len(kf.len());
            for f in kf {
                ctx.out.simple(f);
            }
        } else {
            ctx.out.bulk(&target[p]);
        }
    }
}

fn getkeys(ctx: &mut Ctx, args: &[Bytes]) {
    keys_of(ctx, args, false)
}

fn getkeysandflags(ctx: &mut Ctx, args: &[Bytes]) {
    keys_of(ctx, args, true)
}

fn help(ctx: &mut Ctx, _args: &[Bytes]) {
    reply_help(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::{run, setup};

    #[test]
    fn info_shape() {
        let (mut srv, mut c) = setup();
        let r = run(
            &mut srv,
            &mut c,
            &["command", "info", "get", "get|key", "nope"],
        );
        assert!(r.starts_with("*3\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n"), "{r}");
        assert!(r.ends_with("*0\r\n$-1\r\n$-1\r\n"), "{r}");
        let r = run(&mut srv, &mut c, &["command", "info", "client|id"]);
        assert!(
            r.starts_with("*1\r\n*10\r\n$9\r\nclient|id\r\n:2\r\n"),
            "{r}"
        );
    }

    #[test]
    fn count_and_list() {
        let (mut srv, mut c) = setup();
        let n = srv.commands.len();
        assert_eq!(
            run(&mut srv, &mut c, &["command", "count"]),
            format!(":{n}\r\n")
        );
        let r = run(&mut srv, &mut c, &["command", "list"]);
        assert!(r.contains("$11\r\nclient|list\r\n") && r.contains("$3\r\nset\r\n"));
        assert_eq!(
            run(
                &mut srv,
                &mut c,
                &["command", "list", "filterby", "pattern", "set"]
            ),
            "*1\r\n$3\r\nset\r\n"
        );
        assert_eq!(
            run(
                &mut srv,
                &mut c,
                &["command", "list", "filterby", "aclcat", "nope"]
            ),
            "*0\r\n"
        );
        assert_eq!(
            run(&mut srv, &mut c, &["command", "list", "bad"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            run(
                &mut srv,
                &mut c,
                &["command", "list", "filterby", "bad", "x"]
            ),
            "-ERR syntax error\r\n"
        );
        let r = run(
            &mut srv,
            &mut c,
            &["command", "list", "filterby", "pattern", "cl*help"],
        );
        assert!(r.contains("client|help"), "{r}");
    }

    #[test]
    fn getkeys_errors() {
        let (mut srv, mut c) = setup();
        assert_eq!(
            run(&mut srv, &mut c, &["command", "getkeys", "get", "key"]),
            "*1\r\n$3\r\nkey\r\n"
        );
        assert_eq!(
            run(&mut srv, &mut c, &["command", "getkeys", "nope", "x"]),
            "-ERR Invalid command specified\r\n"
        );
        assert_eq!(
            run(&mut srv, &mut c, &["command", "getkeys", "ping", "x"]),
            "-ERR The command has no key arguments\r\n"
        );
        assert_eq!(
            run(&mut srv, &mut c, &["command", "getkeys", "get", "a", "b"]),
            "-ERR Invalid number of arguments specified for command\r\n"
        );
        assert_eq!(
            run(
                &mut srv,
                &mut c,
                &["command", "getkeysandflags", "get", "k"]
            ),
            "*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n"
        );
        assert_eq!(
            run(
                &mut srv,
                &mut c,
                &["command", "getkeysandflags", "set", "k", "v"]
            ),
            "*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n"
        );
    }

    #[test]
    fn docs_shape() {
        let (mut srv, mut c) = setup();
        let r = run(&mut srv, &mut c, &["command", "docs", "get"]);
        assert_eq!(r, "*2\r\n$3\r\nget\r\n*8\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n");
    }
}
