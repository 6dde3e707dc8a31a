//! XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM and XSETID
//! (t_stream.c's xaddCommand, xrangeGenericCommand, xdelCommand,
//! xtrimCommand, xsetidCommand and streamParseAddOrTrimArgsOrReply).
//!
//! XADD with a generated ID propagates the ID it made; `~` trimming
//! propagates its exact effect (`=` with the length or first ID left).

use super::*;
use crate::keyspace::stream::{AppendError, Trim};

/// Parsed XADD / XTRIM options (streamAddTrimArgs).
struct TrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: i64,
    /// Index of the trim threshold argument.
    arg_idx: usize,
    id: Option<(StreamId, bool)>,
    no_mkstream: bool,
}

/// streamParseAddOrTrimArgsOrReply: returns the args and the index of the
/// ID (XADD) or the end of the options.
fn parse_trim_args(ctx: &mut Ctx, args: &[Bytes], xadd: bool) -> Option<(TrimArgs, usize)> {
    let mut t = TrimArgs {
        trim: None,
        approx: false,
        limit: 0,
        arg_idx: 0,
        id: None,
        no_mkstream: false,
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        if xadd && opt.as_ref() == b"*" {
            break;
        } else if (opt.eq_ignore_ascii_case(b"maxlen") || opt.eq_ignore_ascii_case(b"minid"))
            && more > 0
        {
            if t.trim.is_some() {
                ctx.out.error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return None;
            }
            t.approx = false;
            let next = &args[i + 1];
            if more >= 2 && next.as_ref() == b"~" {
                t.approx = true;
                i += 1;
            } else if more >= 2 && next.as_ref() == b"=" {
                i += 1;
            }
            if opt.eq_ignore_ascii_case(b"maxlen") {
                let n = i64_or_reply(ctx, &args[i + 1])?;
                if n < 0 {
                    ctx.out.error("ERR The MAXLEN argument must be >= 0.");
                    return None;
                }
                t.trim = Some(Trim::MaxLen(n as u64));
            } else {
                let id = id_or_reply(ctx, &args[i + 1], 0, true)?;
                t.trim = Some(Trim::MinId(id));
            }
            i += 1;
            t.arg_idx = i;
        } else if opt.eq_ignore_ascii_case(b"limit") && more > 0 {
            let n = i64_or_reply(ctx, &args[i + 1])?;
            if n < 0 {
                ctx.out.error("ERR The LIMIT argument must be >= 0.");
                return None;
            }
            t.limit = n;
            limit_given = true;
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            t.no_mkstream = true;
        } else if xadd {
            match parse_id(opt, 0, true, true) {
                Some(id) => t.id = Some(id),
                None => {
                    ctx.out.error(INVALID_ID);
                    return None;
                }
            }
            break;
        } else {
            ctx.out.error(err::SYNTAX);
            return None;
        }
        i += 1;
    }
    if t.limit != 0 && t.trim.is_none() {
        ctx.out
            .error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return None;
    }
    if !xadd && t.trim.is_none() {
        ctx.out
            .error("ERR syntax error, XTRIM must be called with a trimming strategy");
        return None;
    }
    if ctx.client.flags.aof_loader {
        // mustObeyClient: the propagated form was rewritten to an exact
        // threshold, so the AOF's LIMIT is dropped (keel has no master
        // client yet; the AOF loader is the only client Redis obeys).
        t.limit = 0;
    } else if limit_given {
        if !t.approx {
            ctx.out
                .error("ERR syntax error, LIMIT cannot be used without the special ~ option");
            return None;
        }
    } else if t.approx {
        let mut l = 100 * ctx.srv.config.stream_node_max_entries;
        if l <= 0 {
            l = 10000;
        }
        t.limit = l.min(1_000_000);
    } else {
        t.limit = 0;
    }
    Some((t, i))
}

/// The exact argv `~` trimming propagates (streamRewriteTrimArgument).
fn rewrite_trim(args: &mut [Bytes], t: &TrimArgs, s: &Stream) {
    args[t.arg_idx - 1] = Bytes::from_static(b"=");
    args[t.arg_idx] = match t.trim {
        Some(Trim::MaxLen(_)) => Bytes::from(s.len().to_string()),
        _ => id_bytes(s.first_stored_id()),
    };
}

pub fn xadd(ctx: &mut Ctx, args: &[Bytes]) {
    let Some((t, idpos)) = parse_trim_args(ctx, args, true) else {
        return;
    };
    let field_pos = idpos + 1;
    if args.len() < field_pos + 2 || (args.len() - field_pos) % 2 == 1 {
        ctx.out
            .error("ERR wrong number of arguments for 'xadd' command");
        return;
    }
    if let Some((id, true)) = t.id {
        if id.is_zero() {
            ctx.out
                .error("ERR The ID specified in XADD must be greater than 0-0");
            return;
        }
    }
    let key = &args[1];
    match find(ctx, key, true) {
        Found::WrongType => return,
        Found::Missing if t.no_mkstream => {
            ctx.out.null();
            return;
        }
        Found::Missing => ctx.set_key(key, Value::Stream(Box::default()), false),
        Found::Stream => {}
    }
    let (max_e, max_b) = node_limits(ctx);
    let now = ctx.now_ms.max(0) as u64;
    let s = stream_at(ctx, key);
    if s.last_id == StreamId::MAX {
        ctx.out
            .error("ERR The stream has exhausted the last possible ID, unable to add more items");
        return;
    }
    let id = match s.append(&args[field_pos..], t.id, now, max_e, max_b) {
        Ok(id) => id,
        Err(e) => {
            // A stream created just now stays (empty), as in Redis.
            ctx.out.error(match e {
                AppendError::TooSmall => "ERR The ID specified in XADD is equal or smaller than the target stream top item",
                AppendError::TooLarge => "ERR Elements are too large to be stored",
            });
            return;
        }
    };
    // Formatted once: the reply and the propagated argv both need it.
    let id_text = id.text();
    ctx.out.bulk(id_text.as_bytes());
    ctx.key_modified(key);
    notify_stream(ctx, "xadd", key);
    ctx.dirty += 1;
    let mut argv = args.to_vec();
    let mut rewritten = false;
    if let Some(how) = t.trim {
        let s = stream_at(ctx, key);
        let n = s.trim(how, t.approx, t.limit);
        if t.approx {
            let s = stream_at(ctx, key);
            rewrite_trim(&mut argv, &t, s);
            rewritten = true;
        }
        if n > 0 {
            notify_stream(ctx, "xtrim", key);
        }
    }
    if !matches!(t.id, Some((_, true))) {
        argv[idpos] = Bytes::copy_from_slice(id_text.as_bytes());
        rewritten = true;
    }
    if rewritten {
        ctx.propagate(argv);
    }
    ctx.signal_key_ready(key);
}

pub fn xlen(ctx: &mut Ctx, args: &[Bytes]) {
    match find(ctx, &args[1], false) {
        Found::WrongType => {}
        Found::Missing => ctx.out.int(0),
        Found::Stream => {
            let n = stream_at(ctx, &args[1]).len();
            ctx.out.int(n as i64);
        }
    }
}

fn range_generic(ctx: &mut Ctx, args: &[Bytes], rev: bool) {
    let (sa, ea) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let Some((mut start, sx)) = interval_id_or_reply(ctx, sa, 0) else {
        return;
    };
    if sx {
        match start.incr() {
            Some(i) => start = i,
            None => {
                ctx.out.error("ERR invalid start ID for the interval");
                return;
            }
        }
    }
    let Some((mut end, ex)) = interval_id_or_reply(ctx, ea, u64::MAX) else {
        return;
    };
    if ex {
        match end.decr() {
            Some(i) => end = i,
            None => {
                ctx.out.error("ERR invalid end ID for the interval");
                return;
            }
        }
    }
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if args[j].eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            let Some(c) = i64_or_reply(ctx, &args[j + 1]) else {
                return;
            };
            count = c.max(0);
            j += 2;
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
    }
    match find(ctx, &args[1], false) {
        Found::WrongType => {}
        Found::Missing => ctx.out.array_len(0),
        Found::Stream if count == 0 => ctx.out.null_array(),
        Found::Stream => {
            let (s, out) = stream_and_out(ctx, &args[1]);
            let limit = if count < 0 {
                usize::MAX
            } else {
                count as usize
            };
            let d = out.defer();
            let mut n = 0;
            for e in s.range(start, end, rev).take(limit) {
                reply_entry(out, e);
                n += 1;
            }
            out.fill(d, crate::protocol::Agg::Array, n);
        }
    }
}

pub fn xrange(ctx: &mut Ctx, args: &[Bytes]) {
    range_generic(ctx, args, false)
}

pub fn xrevrange(ctx: &mut Ctx, args: &[Bytes]) {
    range_generic(ctx, args, true)
}

pub fn xdel(ctx: &mut Ctx, args: &[Bytes]) {
    match find(ctx, &args[1], true) {
        Found::WrongType => return,
        Found::Missing => {
            ctx.out.int(0);
            return;
        }
        Found::Stream => {}
    }
    let mut ids = Vec::with_capacity(args.len() - 2);
    for a in &args[2..] {
        let Some(id) = id_or_reply(ctx, a, 0, true) else {
            return;
        };
        ids.push(id);
    }
    let deleted = stream_at(ctx, &args[1]).delete_ids(&ids);
    if deleted > 0 {
        ctx.key_modified(&args[1]);
        notify_stream(ctx, "xdel", &args[1]);
        ctx.dirty += deleted;
    }
    ctx.out.int(deleted as i64);
}

pub fn xtrim(ctx: &mut Ctx, args: &[Bytes]) {
    let Some((t, _)) = parse_trim_args(ctx, args, false) else {
        return;
    };
    match find(ctx, &args[1], true) {
        Found::WrongType => return,
        Found::Missing => {
            ctx.out.int(0);
            return;
        }
        Found::Stream => {}
    }
    let how = t.trim.expect("XTRIM has a strategy");
    let deleted = stream_at(ctx, &args[1]).trim(how, t.approx, t.limit);
    if deleted > 0 {
        notify_stream(ctx, "xtrim", &args[1]);
        if t.approx {
            let mut argv = args.to_vec();
            rewrite_trim(&mut argv, &t, stream_at(ctx, &args[1]));
            ctx.propagate(argv);
        }
        ctx.key_modified(&args[1]);
        ctx.dirty += deleted as u64;
    }
    ctx.out.int(deleted);
}

pub fn xsetid(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(id) = id_or_reply(ctx, &args[2], 0, true) else {
        return;
    };
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args[i].eq_ignore_ascii_case(b"entriesadded") && more > 0 {
            let Some(n) = i64_or_reply(ctx, &args[i + 1]) else {
                return;
            };
            if n < 0 {
                ctx.out.error("ERR entries_added must be positive");
                return;
            }
            entries_added = n;
        } else if args[i].eq_ignore_ascii_case(b"maxdeletedid") && more > 0 {
            let Some(m) = id_or_reply(ctx, &args[i + 1], 0, true) else {
                return;
            };
            if id < m {
                ctx.out.error(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
                return;
            }
            max_xdel = m;
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
        i += 2;
    }
    match find(ctx, &args[1], true) {
        Found::WrongType => return,
        Found::Missing => {
            ctx.out.error(err::NO_KEY);
            return;
        }
        Found::Stream => {}
    }
    let s = stream_at(ctx, &args[1]);
    if !s.is_empty() {
        let maxid = s.edge_id(false).unwrap_or_default();
        if id < maxid {
            ctx.out
                .error("ERR The ID specified in XSETID is smaller than the target stream top item");
            return;
        }
        if entries_added != -1 && s.len() > entries_added as u64 {
            ctx.out.error(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            );
            return;
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.max_deleted_id = max_xdel;
    }
    ctx.out.ok();
    ctx.dirty += 1;
    notify_stream(ctx, "xsetid", &args[1]);
}
