//! Command-level tests of the HyperLogLog family through the dispatcher.

use crate::commands::testutil::{run, setup};
use crate::protocol::Reply;
use crate::server::client::Client;
use crate::server::Server;
use bytes::Bytes;

/// Runs a command and returns the raw reply bytes.
fn raw(srv: &mut Server, c: &mut Client, args: &[&[u8]]) -> Vec<u8> {
    let argv: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let mut out = Reply::new(c.resp);
    crate::commands::dispatch::process_command(srv, c, argv, &mut out);
    out.buf.to_vec()
}

fn bulk(b: &[u8]) -> Vec<u8> {
    let mut v = format!("${}\r\n", b.len()).into_bytes();
    v.extend_from_slice(b);
    v.extend_from_slice(b"\r\n");
    v
}

#[test]
fn pfadd_get_bytes_and_count_cache() {
    let (mut srv, mut c) = setup();
    assert_eq!(
        run(&mut srv, &mut c, &["PFADD", "h", "a", "b", "c"]),
        ":1\r\n"
    );
    let body = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ";
    assert_eq!(raw(&mut srv, &mut c, &[b"GET", b"h"]), bulk(body));
    assert_eq!(run(&mut srv, &mut c, &["PFADD", "h", "a"]), ":0\r\n");
    let dirty = srv.dirty;
    let propagated = srv.stats.propagated_cmds;
    assert_eq!(run(&mut srv, &mut c, &["PFCOUNT", "h"]), ":3\r\n");
    assert_eq!(srv.dirty, dirty + 1, "cache write is a change");
    assert_eq!(srv.stats.propagated_cmds, propagated + 1, "and propagates");
    let mut cached = body.to_vec();
    cached[8] = 3;
    cached[15] = 0;
    assert_eq!(raw(&mut srv, &mut c, &[b"GET", b"h"]), bulk(&cached));
    assert_eq!(run(&mut srv, &mut c, &["PFCOUNT", "h"]), ":3\r\n");
    assert_eq!(srv.dirty, dirty + 1, "a cached count changes nothing");
    assert_eq!(srv.stats.propagated_cmds, propagated + 1);
    assert_eq!(
        run(&mut srv, &mut c, &["OBJECT", "ENCODING", "h"]),
        "$3\r\nraw\r\n"
    );
}

#[test]
fn type_errors_and_corruption() {
    let (mut srv, mut c) = setup();
    run(&mut srv, &mut c, &["SET", "s", "hello"]);
    run(&mut srv, &mut c, &["SET", "n", "12"]);
    run(&mut srv, &mut c, &["LPUSH", "l", "x"]);
    let not_hll = "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
    assert_eq!(run(&mut srv, &mut c, &["PFADD", "s", "a"]), not_hll);
    assert_eq!(run(&mut srv, &mut c, &["PFCOUNT", "n"]), not_hll);
    assert_eq!(run(&mut srv, &mut c, &["PFMERGE", "d", "s"]), not_hll);
    assert!(run(&mut srv, &mut c, &["PFADD", "l", "a"]).starts_with("-WRONGTYPE Operation"));
    // A sparse HLL whose runs stop short.
    raw(
        &mut srv,
        &mut c,
        &[b"SET", b"bad", b"HYLL\x01\0\0\0\0\0\0\x80\0\0\0\x80\x00"],
    );
    let inv = "-INVALIDOBJ Corrupted HLL object detected\r\n";
    assert_eq!(run(&mut srv, &mut c, &["PFCOUNT", "bad"]), inv);
    assert_eq!(run(&mut srv, &mut c, &["PFCOUNT", "bad", "s2"]), inv);
    assert_eq!(run(&mut srv, &mut c, &["PFMERGE", "d", "bad"]), inv);
    assert_eq!(run(&mut srv, &mut c, &["PFADD", "bad", "zz"]), inv);
    assert_eq!(run(&mut srv, &mut c, &["PFDEBUG", "TODENSE", "bad"]), inv);
}

#[test]
fn pfmerge_and_pfdebug() {
    let (mut srv, mut c) = setup();
    run(&mut srv, &mut c, &["PFADD", "a", "1", "2", "3"]);
    run(&mut srv, &mut c, &["PFADD", "b", "3", "4", "5"]);
    assert_eq!(
        run(&mut srv, &mut c, &["PFMERGE", "u", "a", "b"]),
        "+OK\r\n"
    );
    assert_eq!(run(&mut srv, &mut c, &["PFCOUNT", "u"]), ":5\r\n");
    assert_eq!(
        run(&mut srv, &mut c, &["PFCOUNT", "a", "b", "nosuch"]),
        ":5\r\n"
    );
    assert_eq!(
        run(&mut srv, &mut c, &["PFDEBUG", "ENCODING", "u"]),
        "+sparse\r\n"
    );
    assert_eq!(
        run(&mut srv, &mut c, &["PFDEBUG", "TODENSE", "a"]),
        ":1\r\n"
    );
    assert_eq!(
        run(&mut srv, &mut c, &["PFDEBUG", "TODENSE", "a"]),
        ":0\r\n"
    );
    assert_eq!(
        run(&mut srv, &mut c, &["PFDEBUG", "DECODE", "a"]),
        "-ERR HLL encoding is not sparse\r\n"
    );
    // Any dense input makes the target dense.
    assert_eq!(
        run(&mut srv, &mut c, &["PFMERGE", "v", "a", "b"]),
        "+OK\r\n"
    );
    assert_eq!(
        run(&mut srv, &mut c, &["PFDEBUG", "ENCODING", "v"]),
        "+dense\r\n"
    );
    assert_eq!(run(&mut srv, &mut c, &["PFCOUNT", "v"]), ":5\r\n");
    assert_eq!(
        run(&mut srv, &mut c, &["PFDEBUG", "FOO", "v"]),
        "-ERR Unknown PFDEBUG subcommand 'FOO'\r\n"
    );
    assert_eq!(
        run(&mut srv, &mut c, &["PFDEBUG", "GETREG", "nosuch"]),
        "-ERR The specified key does not exist\r\n"
    );
    let regs = run(&mut srv, &mut c, &["PFDEBUG", "GETREG", "b"]);
    assert!(regs.starts_with("*16384\r\n"));
    assert_eq!(
        run(&mut srv, &mut c, &["PFDEBUG", "ENCODING", "b"]),
        "+dense\r\n"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8))]

    /// Through the commands: PFCOUNT of one key, of two keys and of their
    /// PFMERGE stay within 5 standard errors (0.81%) of the true union.
    #[test]
    fn pfcount_within_error_bound(a in 1usize..6000, b in 1usize..6000, overlap in 0usize..3000) {
        let (mut srv, mut c) = setup();
        let add = |srv: &mut Server, c: &mut Client, key: &str, range: std::ops::Range<usize>| {
            let elems: Vec<String> = range.map(|i| format!("el:{i}")).collect();
            for chunk in elems.chunks(500) {
                let mut args = vec!["PFADD", key];
                args.extend(chunk.iter().map(|s| s.as_str()));
                run(srv, c, &args);
            }
        };
        let overlap = overlap.min(a);
        add(&mut srv, &mut c, "x", 0..a);
        add(&mut srv, &mut c, "y", a - overlap..a - overlap + b);
        let union = (a - overlap + b).max(a);
        let int = |s: String| s.trim_start_matches(':').trim_end().parse::<f64>().unwrap();
        let within = |got: f64, truth: usize| (got - truth as f64).abs() <= (truth as f64 * 0.0405).max(2.0);
        let x = int(run(&mut srv, &mut c, &["PFCOUNT", "x"]));
        proptest::prop_assert!(within(x, a), "x {} vs {}", x, a);
        let u = int(run(&mut srv, &mut c, &["PFCOUNT", "x", "y"]));
        proptest::prop_assert!(within(u, union), "union {} vs {}", u, union);
        run(&mut srv, &mut c, &["PFMERGE", "m", "x", "y"]);
        let m = int(run(&mut srv, &mut c, &["PFCOUNT", "m"]));
        proptest::prop_assert_eq!(m, u);
    }
}
