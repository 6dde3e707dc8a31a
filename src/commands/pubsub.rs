//! Pub/Sub commands. Delivery and the registry live in server::pubsub.

use super::table::{flags::*, CommandDef, KeyPos};
use super::Ctx;
use crate::server::client::Client;
use crate::server::pubsub::{publish, Kind};
use crate::server::Server;
use crate::util::glob::glob_match;
use bytes::Bytes;

const SUB: u32 = PUBSUB | NOSCRIPT | LOADING | STALE | PUBSUB_CONTEXT;

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("subscribe", -2, SUB, KeyPos::None, subscribe).doc("pubsub", "2.0.0", "Listen for messages published to the given channels", "O(N) where N is the number of channels to subscribe to."),
    CommandDef::new("unsubscribe", -1, SUB, KeyPos::None, unsubscribe).doc("pubsub", "2.0.0", "Stop listening for messages posted to the given channels", "O(N) where N is the number of clients already subscribed to a channel."),
    CommandDef::new("psubscribe", -2, SUB, KeyPos::None, psubscribe).doc("pubsub", "2.0.0", "Listen for messages published to channels matching the given patterns", "O(N) where N is the number of patterns the client is already subscribed to."),
    CommandDef::new("punsubscribe", -1, SUB, KeyPos::None, punsubscribe).doc("pubsub", "2.0.0", "Stop listening for messages posted to channels matching the given patterns", "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client)."),
    CommandDef::new("ssubscribe", -2, SUB, KeyPos::Range { first: 1, last: -1, step: 1 }, ssubscribe).doc("pubsub", "7.0.0", "Listen for messages published to the given shard channels", "O(N) where N is the number of shard channels to subscribe to."),
    CommandDef::new("sunsubscribe", -1, SUB, KeyPos::Range { first: 1, last: -1, step: 1 }, sunsubscribe).doc("pubsub", "7.0.0", "Stop listening for messages posted to the given shard channels", "O(N) where N is the number of clients already subscribed to a shard channel."),
    CommandDef::new("publish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, KeyPos::None, publish_cmd).doc("pubsub", "2.0.0", "Post a message to a channel", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client)."),
    CommandDef::new("spublish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, KeyPos::Range { first: 1, last: 1, step: 1 }, spublish).doc("pubsub", "7.0.0", "Post a message to a shard channel", "O(N) where N is the number of clients subscribed to the receiving shard channel."),
    CommandDef::new("pubsub", -2, 0, KeyPos::None, super::container_help).doc("pubsub", "2.8.0", "A container for Pub/Sub commands", "Depends on subcommand.").subs(PUBSUB_SUBS),
];

static PUBSUB_SUBS: &[CommandDef] = &[
    CommandDef::new("channels", -2, PUBSUB | LOADING | STALE, KeyPos::None, pubsub_channels).doc("pubsub", "2.8.0", "List active channels", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)"),
    CommandDef::new("numsub", -2, PUBSUB | LOADING | STALE, KeyPos::None, pubsub_numsub).doc("pubsub", "2.8.0", "Get the count of subscribers for channels", "O(N) for the NUMSUB subcommand, where N is the number of requested channels"),
    CommandDef::new("numpat", 2, PUBSUB | LOADING | STALE, KeyPos::None, pubsub_numpat).doc("pubsub", "2.8.0", "Get the count of unique patterns pattern subscriptions", "O(1)"),
    CommandDef::new("shardchannels", -2, PUBSUB | LOADING | STALE, KeyPos::None, pubsub_shardchannels).doc("pubsub", "7.0.0", "List active shard channels", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels)."),
    CommandDef::new("shardnumsub", -2, PUBSUB | LOADING | STALE, KeyPos::None, pubsub_shardnumsub).doc("pubsub", "7.0.0", "Get the count of subscribers for shard channels", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels"),
    CommandDef::new("help", 2, LOADING | STALE, KeyPos::None, pubsub_help).doc("pubsub", "6.2.0", "Show helpful text about the different subcommands", "O(1)"),
];

fn set_of(c: &mut Client, kind: Kind) -> &mut std::collections::HashSet<Bytes> {
    match kind {
        Kind::Channel => &mut c.channels,
        Kind::Pattern => &mut c.patterns,
        Kind::Shard => &mut c.shard_channels,
    }
}

fn count_for(c: &Client, kind: Kind) -> usize {
    match kind {
        Kind::Shard => c.shard_channels.len(),
        _ => c.channels.len() + c.patterns.len(),
    }
}

fn reply_sub(ctx: &mut Ctx, kind_name: &[u8], target: Option<&[u8]>, count: usize) {
    // Subscription confirmations are pushes: CLIENT REPLY OFF keeps them.
    let was_pushing = std::mem::replace(&mut ctx.out.pushing, true);
    ctx.out.push_len(3);
    ctx.out.bulk(kind_name);
    match target {
        Some(t) => ctx.out.bulk(t),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
    ctx.out.pushing = was_pushing;
}

fn do_subscribe(ctx: &mut Ctx, args: &[Bytes], kind: Kind, name: &[u8]) {
    if ctx.client.flags.multi && kind != Kind::Channel && kind != Kind::Pattern {
        // SSUBSCRIBE is allowed in MULTI like the others in 7.0.
    }
    for ch in &args[1..] {
        if set_of(ctx.client, kind).insert(ch.clone()) {
            ctx.srv
                .pubsub
                .map(kind)
                .entry(ch.clone())
                .or_default()
                .insert(ctx.client.id);
        }
        let n = count_for(ctx.client, kind);
        reply_sub(ctx, name, Some(ch), n);
    }
}

fn remove_sub(srv: &mut Server, id: u64, kind: Kind, ch: &Bytes) {
    let map = srv.pubsub.map(kind);
    if let Some(set) = map.get_mut(ch) {
        set.shift_remove(&id);
        if set.is_empty() {
            map.shift_remove(ch);
        }
    }
}

fn do_unsubscribe(ctx: &mut Ctx, args: &[Bytes], kind: Kind, name: &[u8]) {
    let targets: Vec<Bytes> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        set_of(ctx.client, kind).iter().cloned().collect()
    };
    if targets.is_empty() {
        let n = count_for(ctx.client, kind);
        reply_sub(ctx, name, None, n);
        return;
    }
    for ch in targets {
        if set_of(ctx.client, kind).remove(&ch) {
            remove_sub(ctx.srv, ctx.client.id, kind, &ch);
        }
        let n = count_for(ctx.client, kind);
        reply_sub(ctx, name, Some(&ch), n);
    }
}

fn subscribe(ctx: &mut Ctx, args: &[Bytes]) {
    if ctx.client.flags.multi {
        // Redis 7.0 refuses SUBSCRIBE inside MULTI only for RESP2 clients? No:
        // it is allowed; replies are queued like any other command.
    }
    do_subscribe(ctx, args, Kind::Channel, b"subscribe");
}
fn unsubscribe(ctx: &mut Ctx, args: &[Bytes]) {
    do_unsubscribe(ctx, args, Kind::Channel, b"unsubscribe");
}
fn psubscribe(ctx: &mut Ctx, args: &[Bytes]) {
    do_subscribe(ctx, args, Kind::Pattern, b"psubscribe");
}
fn punsubscribe(ctx: &mut Ctx, args: &[Bytes]) {
    do_unsubscribe(ctx, args, Kind::Pattern, b"punsubscribe");
}
fn ssubscribe(ctx: &mut Ctx, args: &[Bytes]) {
    do_subscribe(ctx, args, Kind::Shard, b"ssubscribe");
}
fn sunsubscribe(ctx: &mut Ctx, args: &[Bytes]) {
    do_unsubscribe(ctx, args, Kind::Shard, b"sunsubscribe");
}

fn publish_cmd(ctx: &mut Ctx, args: &[Bytes]) {
    let id = ctx.client.id;
    let n = publish(
        ctx.srv,
        Some((id, &mut *ctx.out)),
        &args[1],
        &args[2],
        false,
    );
    ctx.out.int(n as i64);
    // Replicas deliver it to their own subscribers (not into the AOF).
    let db = ctx.client.db;
    ctx.srv.propagate_repl(db, args);
}

fn spublish(ctx: &mut Ctx, args: &[Bytes]) {
    let id = ctx.client.id;
    let n = publish(ctx.srv, Some((id, &mut *ctx.out)), &args[1], &args[2], true);
    ctx.out.int(n as i64);
    let db = ctx.client.db;
    ctx.srv.propagate_repl(db, args);
}

fn list_channels(ctx: &mut Ctx, args: &[Bytes], shard: bool) {
    if args.len() > 3 {
        super::subcommand_syntax_error(ctx, args);
        return;
    }
    let pat = args.get(2);
    let map = if shard {
        &ctx.srv.pubsub.shard_channels
    } else {
        &ctx.srv.pubsub.channels
    };
    let names: Vec<Bytes> = map
        .keys()
        .filter(|c| pat.is_none_or(|p| glob_match(p, c, false)))
        .cloned()
        .collect();
    ctx.out.bulk_array(names.iter());
}

fn pubsub_channels(ctx: &mut Ctx, args: &[Bytes]) {
    list_channels(ctx, args, false)
}
fn pubsub_shardchannels(ctx: &mut Ctx, args: &[Bytes]) {
    list_channels(ctx, args, true)
}

fn numsub(ctx: &mut Ctx, args: &[Bytes], shard: bool) {
    // A flat array in both protocols, as Redis replies it.
    ctx.out.array_len(2 * (args.len() - 2));
    for ch in &args[2..] {
        let map = if shard {
            &ctx.srv.pubsub.shard_channels
        } else {
            &ctx.srv.pubsub.channels
        };
        let n = map.get(ch).map_or(0, |s| s.len());
        ctx.out.bulk(ch);
        ctx.out.int(n as i64);
    }
}

fn pubsub_numsub(ctx: &mut Ctx, args: &[Bytes]) {
    numsub(ctx, args, false)
}
fn pubsub_shardnumsub(ctx: &mut Ctx, args: &[Bytes]) {
    numsub(ctx, args, true)
}

fn pubsub_numpat(ctx: &mut Ctx, _args: &[Bytes]) {
    let n = ctx.srv.pubsub.patterns.len();
    ctx.out.int(n as i64);
}

fn pubsub_help(ctx: &mut Ctx, _args: &[Bytes]) {
    super::reply_help(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
}

/// Drops every subscription of a client that is going away.
pub fn unsubscribe_all(srv: &mut Server, c: &Client) {
    for (set, kind) in [
        (&c.channels, Kind::Channel),
        (&c.patterns, Kind::Pattern),
        (&c.shard_channels, Kind::Shard),
    ] {
        for ch in set {
            remove_sub(srv, c.id, kind, ch);
        }
    }
}

/// RESET: drops every subscription without replies.
pub fn unsubscribe_everything(ctx: &mut Ctx) {
    unsubscribe_all(ctx.srv, ctx.client);
    ctx.client.channels.clear();
    ctx.client.patterns.clear();
    ctx.client.shard_channels.clear();
}
