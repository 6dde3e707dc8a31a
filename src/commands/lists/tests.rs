//! Tests of list replies, dirty counts and propagated forms through the
//! real handlers on an in-memory server, including the served side of the
//! blocking commands (a re-run with `srv.blocking.serving` set).

use crate::commands::Ctx;
use crate::protocol::Reply;
use crate::server::client::Client;
use crate::server::Server;
use bytes::Bytes;

pub(super) struct Run {
    pub(super) reply: String,
    propagated: Option<Vec<String>>,
    dirty: u64,
    blocked: Option<Vec<String>>,
}

pub(super) fn new_server() -> (Server, Client) {
    let srv = Server::new(crate::commands::testutil::test_config());
    let client = Client::new(1, "127.0.0.1:1".into(), "127.0.0.1:2".into(), 1, 0, true);
    (srv, client)
}

fn text(v: &[Bytes]) -> String {
    v.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_resp(srv: &mut Server, client: &mut Client, resp: u8, line: &str) -> Run {
    let args: Vec<Bytes> = line
        .split(' ')
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    let cmd = srv.commands.get(&args[0]).expect("known command");
    let mut out = Reply::new(resp);
    let mut ctx = Ctx {
        srv,
        client,
        out: &mut out,
        cmd,
        now_ms: 1_700_000_000_000,
        dirty: 0,
        propagate_as: None,
        block: None,
    };
    (cmd.handler)(&mut ctx, &args);
    let dirty = ctx.dirty;
    let propagated = ctx
        .propagate_as
        .take()
        .map(|cmds| cmds.iter().map(|c| text(c)).collect());
    let blocked = ctx.block.take().map(|b| {
        b.keys
            .iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    });
    Run {
        reply: String::from_utf8_lossy(&out.buf).into_owned(),
        propagated,
        dirty,
        blocked,
    }
}

fn run(srv: &mut Server, client: &mut Client, line: &str) -> Run {
    run_resp(srv, client, 2, line)
}

pub(super) fn reply(srv: &mut Server, client: &mut Client, line: &str) -> String {
    run(srv, client, line).reply
}

#[test]
fn push_pop_replies_and_dirty() {
    let (mut s, mut c) = new_server();
    let r = run(&mut s, &mut c, "rpush l a b c");
    assert_eq!((r.reply.as_str(), r.dirty), (":3\r\n", 3));
    assert_eq!(r.propagated, None);
    let r = run(&mut s, &mut c, "lpush l z");
    assert_eq!((r.reply.as_str(), r.dirty), (":4\r\n", 1));
    assert_eq!(
        reply(&mut s, &mut c, "lrange l 0 -1"),
        "*4\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    let r = run(&mut s, &mut c, "rpop l 2");
    assert_eq!(r.reply, "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(r.dirty, 2);
    let r = run(&mut s, &mut c, "lpop l 0");
    assert_eq!((r.reply.as_str(), r.dirty), ("*0\r\n", 0));
    assert_eq!(reply(&mut s, &mut c, "lpop l"), "$1\r\nz\r\n");
    assert_eq!(reply(&mut s, &mut c, "lpop l 5"), "*1\r\n$1\r\na\r\n");
    // The emptied list is gone.
    assert!(s.dbs[0].get(b"l").is_none());
    assert_eq!(reply(&mut s, &mut c, "lpop l"), "$-1\r\n");
    assert_eq!(reply(&mut s, &mut c, "lpop l 1"), "*-1\r\n");
    assert_eq!(run_resp(&mut s, &mut c, 3, "lpop l 1").reply, "_\r\n");
    assert_eq!(reply(&mut s, &mut c, "lpushx l a"), ":0\r\n");
    assert!(s.dbs[0].get(b"l").is_none());
    assert_eq!(
        reply(&mut s, &mut c, "lpop l -1"),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        reply(&mut s, &mut c, "lpop l 1 2"),
        "-ERR wrong number of arguments for 'lpop' command\r\n"
    );
}

#[test]
fn encoding_is_quicklist() {
    let (mut s, mut c) = new_server();
    reply(&mut s, &mut c, "rpush l 1");
    let e = s.dbs[0].get(b"l").unwrap();
    assert_eq!(e.value.encoding(), "quicklist");
    assert_eq!(e.value.value_type().name(), "list");
}

#[test]
fn wrong_type_everywhere() {
    let (mut s, mut c) = new_server();
    reply(&mut s, &mut c, "set s v");
    for line in [
        "lpush s a",
        "rpushx s a",
        "lpop s",
        "llen s",
        "lrange s 0 1",
        "lindex s 0",
        "lset s 0 a",
        "linsert s before a b",
        "lrem s 0 a",
        "ltrim s 0 1",
        "lpos s a",
        "lmove s d left right",
        "lmpop 1 s left",
        "blpop s 0",
        "blmove s d left left 0",
    ] {
        assert_eq!(
            reply(&mut s, &mut c, line),
            format!("-{}\r\n", crate::commands::err::WRONGTYPE),
            "{line}"
        );
    }
}

#[test]
fn edits_notify_and_count() {
    let (mut s, mut c) = new_server();
    reply(&mut s, &mut c, "rpush l a b a c a");
    let r = run(&mut s, &mut c, "lrem l -2 a");
    assert_eq!((r.reply.as_str(), r.dirty), (":2\r\n", 2));
    let r = run(&mut s, &mut c, "lrem l 0 zz");
    assert_eq!((r.reply.as_str(), r.dirty), (":0\r\n", 0));
    let r = run(&mut s, &mut c, "linsert l after b x");
    assert_eq!((r.reply.as_str(), r.dirty), (":4\r\n", 1));
    assert_eq!(reply(&mut s, &mut c, "linsert l after zz x"), ":-1\r\n");
    assert_eq!(reply(&mut s, &mut c, "lset l -1 last"), "+OK\r\n");
    assert_eq!(
        reply(&mut s, &mut c, "lset l 9 x"),
        "-ERR index out of range\r\n"
    );
    assert_eq!(
        reply(&mut s, &mut c, "lset nokey 9 x"),
        "-ERR no such key\r\n"
    );
    let r = run(&mut s, &mut c, "ltrim l 1 2");
    assert_eq!((r.reply.as_str(), r.dirty), ("+OK\r\n", 2));
    assert_eq!(
        reply(&mut s, &mut c, "lrange l 0 -1"),
        "*2\r\n$1\r\nb\r\n$1\r\nx\r\n"
    );
    let r = run(&mut s, &mut c, "ltrim l 0 -1");
    assert_eq!(r.dirty, 0);
    assert_eq!(reply(&mut s, &mut c, "ltrim l 3 1"), "+OK\r\n");
    assert!(s.dbs[0].get(b"l").is_none());
}

#[test]
fn lpos_options() {
    let (mut s, mut c) = new_server();
    reply(&mut s, &mut c, "rpush l a b c 1 2 3 c c");
    assert_eq!(reply(&mut s, &mut c, "lpos l c"), ":2\r\n");
    assert_eq!(reply(&mut s, &mut c, "lpos l c rank -1"), ":7\r\n");
    assert_eq!(
        reply(&mut s, &mut c, "lpos l c count 0 rank 2"),
        "*2\r\n:6\r\n:7\r\n"
    );
    assert_eq!(reply(&mut s, &mut c, "lpos l c maxlen 1 count 0"), "*0\r\n");
    assert_eq!(reply(&mut s, &mut c, "lpos l zz"), "$-1\r\n");
    assert!(reply(&mut s, &mut c, "lpos l c rank 0").starts_with("-ERR RANK can't be zero"));
    assert_eq!(
        reply(&mut s, &mut c, "lpos l c count -1"),
        "-ERR COUNT can't be negative\r\n"
    );
    assert_eq!(
        reply(&mut s, &mut c, "lpos l c maxlen x"),
        "-ERR MAXLEN can't be negative\r\n"
    );
    assert_eq!(
        reply(&mut s, &mut c, "lpos l c rank"),
        "-ERR syntax error\r\n"
    );
}

#[test]
fn moves_propagate() {
    let (mut s, mut c) = new_server();
    reply(&mut s, &mut c, "rpush src a b c");
    let r = run(&mut s, &mut c, "lmove src dst left RIGHT");
    assert_eq!((r.reply.as_str(), r.dirty), ("$1\r\na\r\n", 1));
    assert_eq!(r.propagated, None);
    let r = run(&mut s, &mut c, "blmove src dst Right left 0");
    assert_eq!(r.reply, "$1\r\nc\r\n");
    assert_eq!(
        r.propagated,
        Some(vec!["LMOVE src dst Right left".to_string()])
    );
    let r = run(&mut s, &mut c, "brpoplpush src dst 0");
    assert_eq!(r.propagated, Some(vec!["RPOPLPUSH src dst".to_string()]));
    assert!(s.dbs[0].get(b"src").is_none());
    assert_eq!(
        reply(&mut s, &mut c, "lrange dst 0 -1"),
        "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    // Rotation of a one-element list keeps it.
    reply(&mut s, &mut c, "rpush one x");
    assert_eq!(reply(&mut s, &mut c, "rpoplpush one one"), "$1\r\nx\r\n");
    assert_eq!(reply(&mut s, &mut c, "llen one"), ":1\r\n");
}

#[test]
fn pops_with_keys_propagate_as_plain_pops() {
    let (mut s, mut c) = new_server();
    reply(&mut s, &mut c, "rpush l a b c");
    let r = run(&mut s, &mut c, "blpop nokey l 0");
    assert_eq!(r.reply, "*2\r\n$1\r\nl\r\n$1\r\na\r\n");
    assert_eq!(r.propagated, Some(vec!["LPOP l".to_string()]));
    let r = run(&mut s, &mut c, "brpop l 1");
    assert_eq!(r.propagated, Some(vec!["RPOP l".to_string()]));
    reply(&mut s, &mut c, "rpush l x y z");
    let r = run(&mut s, &mut c, "lmpop 2 nokey l right count 2");
    assert_eq!(r.reply, "*2\r\n$1\r\nl\r\n*2\r\n$1\r\nz\r\n$1\r\ny\r\n");
    assert_eq!(r.propagated, Some(vec!["RPOP l 2".to_string()]));
    let r = run(&mut s, &mut c, "blmpop 0 1 l left count 10");
    assert_eq!(r.propagated, Some(vec!["LPOP l 2".to_string()]));
    assert_eq!(r.dirty, 2);
    assert_eq!(reply(&mut s, &mut c, "lmpop 1 l left"), "*-1\r\n");
}

#[test]
fn blocking_without_data_blocks_or_answers_null_in_multi() {
    let (mut s, mut c) = new_server();
    let r = run(&mut s, &mut c, "blpop a b 0");
    assert_eq!(r.reply, "");
    assert_eq!(r.blocked, Some(vec!["a".to_string(), "b".to_string()]));
    let r = run(&mut s, &mut c, "blmpop 0 2 a b left");
    assert_eq!(r.blocked, Some(vec!["a".to_string(), "b".to_string()]));
    let r = run(&mut s, &mut c, "blmove a d left left 0");
    assert_eq!(r.blocked, Some(vec!["a".to_string()]));
    s.exec_depth = 1;
    assert_eq!(reply(&mut s, &mut c, "blpop a 0"), "*-1\r\n");
    assert_eq!(reply(&mut s, &mut c, "blmpop 0 1 a left"), "*-1\r\n");
    assert_eq!(reply(&mut s, &mut c, "blmove a d left left 0"), "$-1\r\n");
    assert_eq!(reply(&mut s, &mut c, "brpoplpush a d 0"), "$-1\r\n");
    s.exec_depth = 0;
}

#[test]
fn served_rerun_uses_the_ready_key_only() {
    let (mut s, mut c) = new_server();
    reply(&mut s, &mut c, "rpush a 1");
    reply(&mut s, &mut c, "rpush b 2");
    // Re-run for b: served from b although a comes first.
    s.blocking.serving = Some(Bytes::from_static(b"b"));
    let r = run(&mut s, &mut c, "blpop a b 0");
    assert_eq!(r.reply, "*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(r.propagated, Some(vec!["LPOP b".to_string()]));
    // The ready key is gone (or another type): stay blocked.
    let r = run(&mut s, &mut c, "blpop a b 0");
    assert_eq!((r.reply.as_str(), r.blocked.is_some()), ("", true));
    reply(&mut s, &mut c, "set b str");
    let r = run(&mut s, &mut c, "blpop a b 0");
    assert_eq!((r.reply.as_str(), r.blocked.is_some()), ("", true));
    // BLMOVE served: lower-case positions, as Redis's served path.
    s.blocking.serving = Some(Bytes::from_static(b"a"));
    let r = run(&mut s, &mut c, "blmove a d RIGHT LEFT 0");
    assert_eq!(r.reply, "$1\r\n1\r\n");
    assert_eq!(r.propagated, Some(vec!["LMOVE a d right left".to_string()]));
    // Destination of the wrong type: WRONGTYPE, the source is kept.
    reply(&mut s, &mut c, "rpush a 5");
    let r = run(&mut s, &mut c, "brpoplpush a b 0");
    assert!(r.reply.starts_with("-WRONGTYPE"));
    assert_eq!(r.blocked, None);
    assert_eq!(reply(&mut s, &mut c, "llen a"), ":1\r\n");
    let r = run(&mut s, &mut c, "blmpop 0 1 a right count 3");
    assert_eq!(r.propagated, Some(vec!["RPOP a 1".to_string()]));
    s.blocking.serving = None;
}

#[test]
fn argument_errors() {
    let (mut s, mut c) = new_server();
    for (line, want) in [
        (
            "lmpop 0 l left",
            "-ERR numkeys should be greater than 0\r\n",
        ),
        ("lmpop 2 l left", "-ERR syntax error\r\n"),
        ("lmpop 1 l up", "-ERR syntax error\r\n"),
        (
            "lmpop 1 l left count 0",
            "-ERR count should be greater than 0\r\n",
        ),
        ("lmpop 1 l left count 1 count 1", "-ERR syntax error\r\n"),
        (
            "blpop l x",
            "-ERR timeout is not a float or out of range\r\n",
        ),
        ("blpop l -1", "-ERR timeout is negative\r\n"),
        ("blmove l d up left 0", "-ERR syntax error\r\n"),
        ("linsert l middle a b", "-ERR syntax error\r\n"),
        (
            "lrange l x 1",
            "-ERR value is not an integer or out of range\r\n",
        ),
    ] {
        assert_eq!(reply(&mut s, &mut c, line), want, "{line}");
    }
}
