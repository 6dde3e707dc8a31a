//! Protocol-level integration tests over raw sockets: inline commands,
//! long pipelines, protocol errors (reply then close), RESP3 via HELLO,
//! and the generic command errors. Each expectation that has a fixed
//! Redis 7.0.15 answer is also checked against a real redis-server when
//! one is installed, so the tests cannot drift from Redis.

mod common;

use common::{encode_cmd, show, Kind, Server};
use std::io::Write;
use std::time::Duration;

/// Runs `check` against keel, and against redis-server when installed.
fn on_both(check: impl Fn(&Server)) {
    let keel = Server::keel();
    check(&keel);
    if common::redis_available() {
        let redis = Server::redis();
        check(&redis);
    } else {
        eprintln!("note: redis-server not installed; checked keel only");
    }
}

/// Sends `input` and expects exactly the error `expected` followed by the
/// server closing the connection.
fn expect_protocol_error(srv: &Server, input: &[u8], expected: &str) {
    let mut c = srv.conn();
    c.send(input);
    let got = c
        .read_to_close(Duration::from_secs(10))
        .unwrap_or_else(|e| {
            panic!(
                "{:?}: connection not closed after {:?}: {e:?}",
                srv.kind,
                show(input)
            )
        });
    let want = format!("-{expected}\r\n");
    assert_eq!(
        show(&got),
        show(want.as_bytes()),
        "{:?}: reply to {:?}",
        srv.kind,
        show(input)
    );
}

#[test]
fn inline_commands() {
    on_both(|srv| {
        let mut c = srv.conn();
        c.send(b"PING\r\n");
        assert_eq!(c.reply(), b"+PONG\r\n");
        // A bare \n ends an inline command too; quotes group arguments.
        c.send(b"SET k \"a b\\x41\"\n");
        assert_eq!(c.reply(), b"+OK\r\n");
        c.send(b"GET k\r\n");
        assert_eq!(c.reply(), b"$4\r\na bA\r\n");
        c.send(b"ECHO 'it''s'\r\n");
        assert_eq!(
            show(&c.reply()),
            "-ERR Protocol error: unbalanced quotes in request\\r\\n"
        );
    });
}

#[test]
fn empty_inline_lines_are_skipped() {
    on_both(|srv| {
        let mut c = srv.conn();
        c.send(b"\r\n\n   \r\nPING\r\n*0\r\nECHO x\r\n");
        assert_eq!(c.reply(), b"+PONG\r\n");
        assert_eq!(c.reply(), b"$1\r\nx\r\n");
    });
}

#[test]
fn command_split_across_writes() {
    let srv = Server::keel();
    let mut c = srv.conn();
    let bytes = encode_cmd(&["SET", "split", "value-in-pieces"]);
    for chunk in bytes.chunks(3) {
        c.send(chunk);
    }
    assert_eq!(c.reply(), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "split"]), b"$15\r\nvalue-in-pieces\r\n");
}

#[test]
fn long_pipeline_is_answered_in_order() {
    let srv = Server::keel();
    let mut c = srv.conn();
    const N: usize = 5000;
    let mut input = Vec::new();
    for i in 0..N {
        match i % 3 {
            0 => input.extend(encode_cmd(&["SET", &format!("key:{i}"), &format!("v{i}")])),
            1 => input.extend(format!("ECHO e{i}\r\n").into_bytes()),
            _ => input.extend(encode_cmd(&["GET", &format!("key:{}", i - 2)])),
        }
    }
    // Write from another thread: the server answers while we still send.
    let mut send_side = c.stream_clone();
    let t = std::thread::spawn(move || send_side.write_all(&input).unwrap());
    for i in 0..N {
        let want = match i % 3 {
            0 => b"+OK\r\n".to_vec(),
            1 => {
                let s = format!("e{i}");
                format!("${}\r\n{s}\r\n", s.len()).into_bytes()
            }
            _ => {
                let s = format!("v{}", i - 2);
                format!("${}\r\n{s}\r\n", s.len()).into_bytes()
            }
        };
        let got = c.reply();
        assert_eq!(show(&got), show(&want), "reply #{i}");
    }
    t.join().unwrap();
    c.send(b"PING\r\n");
    assert_eq!(c.reply(), b"+PONG\r\n");
}

/// A client that sends its whole pipeline before it reads one reply
/// (what Redis's test suite does with deferring clients): the replies pile
/// up in the server, which must go on reading, or both sides would wait on
/// each other with full socket buffers.
#[test]
fn a_pipeline_written_before_any_reply_is_read_completes() {
    on_both(|srv| {
        let mut c = srv.conn();
        // 30 MB each way: more than the socket buffers of both sides hold.
        const N: usize = 30_000;
        let payload = "A".repeat(1000);
        let mut input = Vec::new();
        for _ in 0..N {
            input.extend(encode_cmd(&["ECHO", &payload]));
        }
        let want = format!("$1000\r\n{payload}\r\n").into_bytes();
        let mut send_side = c.stream_clone();
        send_side
            .set_write_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        send_side
            .write_all(&input)
            .unwrap_or_else(|e| panic!("{:?}: the server stopped reading: {e}", srv.kind));
        for i in 0..N {
            assert!(c.reply() == want, "{:?}: reply #{i}", srv.kind);
        }
        c.send(b"PING\r\n");
        assert_eq!(c.reply(), b"+PONG\r\n");
    });
}

/// After a long pipeline the memory it took is given back: the commands
/// wait in the read buffer as bytes and are parsed a slice at a time, so
/// nothing sized by the pipeline stays allocated (used_memory returns to
/// where it was, as in Redis).
#[test]
fn a_long_pipeline_leaves_no_memory_behind() {
    let srv = Server::keel();
    let mut c = srv.conn();
    let used = |c: &mut common::RawConn| -> i64 {
        let info = c.cmd_str(&["INFO", "memory"]);
        info.split("\r\n")
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = used(&mut c);
    // Written before any reply is read, with replies large enough to fill
    // the socket buffers: the server reads on while its write waits.
    const N: usize = 400_000;
    let one = encode_cmd(&["ECHO", &"A".repeat(100)]);
    let want = format!("$100\r\n{}\r\n", "A".repeat(100)).into_bytes();
    let input = one.repeat(N);
    let mut send_side = c.stream_clone();
    send_side.write_all(&input).unwrap();
    for _ in 0..N {
        assert!(c.reply() == want);
    }
    let after = used(&mut c);
    assert!(
        after - before < 4 * 1024 * 1024,
        "{} bytes still used after the pipeline",
        after - before
    );
}

#[test]
fn bulk_length_over_proto_max_bulk_len() {
    on_both(|srv| {
        // Default proto-max-bulk-len is 512mb.
        expect_protocol_error(
            srv,
            b"*1\r\n$536870913\r\n",
            "ERR Protocol error: invalid bulk length",
        );
        expect_protocol_error(
            srv,
            b"*1\r\n$-5\r\n",
            "ERR Protocol error: invalid bulk length",
        );
        expect_protocol_error(
            srv,
            b"*1\r\n$abc\r\n",
            "ERR Protocol error: invalid bulk length",
        );
    });
}

#[test]
fn bulk_length_limit_follows_config() {
    let check = |srv: &Server| {
        let mut c = srv.conn();
        // The smallest limit Redis accepts is 1mb.
        c.send_cmd(&["ECHO", &"x".repeat(1 << 20)]);
        assert_eq!(c.reply().len(), (1 << 20) + 12);
        expect_protocol_error(
            srv,
            b"*2\r\n$4\r\nECHO\r\n$1048577\r\n",
            "ERR Protocol error: invalid bulk length",
        );
    };
    check(&Server::keel_with(&["--proto-max-bulk-len", "1mb"]));
    if common::redis_available() {
        check(&Server::redis_with(&["--proto-max-bulk-len", "1mb"]));
    }
}

#[test]
fn multibulk_count_limits() {
    on_both(|srv| {
        // Redis 7.0.15 (networking.c) rejects counts above INT_MAX and
        // anything that is not a number.
        expect_protocol_error(
            srv,
            b"*2147483648\r\n",
            "ERR Protocol error: invalid multibulk length",
        );
        expect_protocol_error(
            srv,
            b"*1x\r\n",
            "ERR Protocol error: invalid multibulk length",
        );
        // A count of 1024*1024+1 is accepted in 7.0.15: the server waits
        // for the arguments, and a wrong one is then a protocol error.
        expect_protocol_error(
            srv,
            b"*1048577\r\n$4\r\nECHO\r\nx\r\n",
            "ERR Protocol error: expected '$', got 'x'",
        );
    });
}

#[test]
fn expected_dollar() {
    on_both(|srv| {
        expect_protocol_error(
            srv,
            b"*1\r\nx3\r\nfoo\r\n",
            "ERR Protocol error: expected '$', got 'x'",
        );
        // Replies to earlier commands in the same batch still arrive.
        let mut c = srv.conn();
        c.send(b"PING\r\n*2\r\n$4\r\nECHO\r\n:1\r\n");
        let got = c.read_to_close(Duration::from_secs(10)).expect("closed");
        assert_eq!(
            show(&got),
            "+PONG\\r\\n-ERR Protocol error: expected '$', got ':'\\r\\n"
        );
    });
}

#[test]
fn unbalanced_quotes_and_big_inline() {
    on_both(|srv| {
        expect_protocol_error(
            srv,
            b"SET k \"abc\r\n",
            "ERR Protocol error: unbalanced quotes in request",
        );
        let mut big = vec![b'a'; 70 * 1024];
        big.extend_from_slice(b"x");
        expect_protocol_error(srv, &big, "ERR Protocol error: too big inline request");
        let mut big = b"*".to_vec();
        big.extend(vec![b'1'; 70 * 1024]);
        expect_protocol_error(srv, &big, "ERR Protocol error: too big mbulk count string");
    });
}

#[test]
fn hello_switches_protocol() {
    on_both(|srv| {
        let mut c = srv.conn();
        assert_eq!(c.cmd(&["GET", "nokey"]), b"$-1\r\n");
        let hello = c.cmd(&["HELLO", "3"]);
        assert!(
            hello.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
            "{:?}: {}",
            srv.kind,
            show(&hello)
        );
        let fields = common::frame_elements(&hello).unwrap();
        assert_eq!(fields[2], b"$7\r\nversion\r\n");
        assert_eq!(fields[3], b"$6\r\n7.0.15\r\n");
        assert_eq!(
            fields[4..6],
            [b"$5\r\nproto\r\n".to_vec(), b":3\r\n".to_vec()]
        );
        assert_eq!(c.cmd(&["GET", "nokey"]), b"_\r\n");
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
        let hello2 = c.cmd(&["HELLO", "2"]);
        assert!(hello2.starts_with(b"*14\r\n"), "{}", show(&hello2));
        assert_eq!(c.cmd(&["GET", "nokey"]), b"$-1\r\n");
        assert_eq!(
            show(&c.cmd(&["HELLO", "4"])),
            "-NOPROTO unsupported protocol version\\r\\n"
        );
        assert_eq!(
            show(&c.cmd(&["HELLO", "x"])),
            "-ERR Protocol version is not an integer or out of range\\r\\n"
        );
    });
}

#[test]
fn unknown_command_and_arity_errors() {
    on_both(|srv| {
        let mut c = srv.conn();
        assert_eq!(
            c.cmd_str(&["NOSUCHCMD", "a", "b"]),
            "-ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' \r\n"
        );
        assert_eq!(
            c.cmd_str(&["nosuch"]),
            "-ERR unknown command 'nosuch', with args beginning with: \r\n"
        );
        assert_eq!(
            c.cmd_str(&["GET"]),
            "-ERR wrong number of arguments for 'get' command\r\n"
        );
        assert_eq!(
            c.cmd_str(&["GET", "a", "b"]),
            "-ERR wrong number of arguments for 'get' command\r\n"
        );
        assert_eq!(
            c.cmd_str(&["set", "a"]),
            "-ERR wrong number of arguments for 'set' command\r\n"
        );
        assert_eq!(
            c.cmd_str(&["PUBSUB", "NUMPAT", "x"]),
            "-ERR wrong number of arguments for 'pubsub|numpat' command\r\n"
        );
        assert_eq!(
            c.cmd_str(&["PUBSUB", "NOPE"]),
            "-ERR unknown subcommand 'NOPE'. Try PUBSUB HELP.\r\n"
        );
        // The connection stays usable after command errors.
        assert_eq!(c.cmd_str(&["PING", "hi"]), "$2\r\nhi\r\n");
    });
}

#[test]
fn quit_closes_after_ok() {
    on_both(|srv| {
        let mut c = srv.conn();
        c.send(b"QUIT\r\nPING\r\n");
        let got = c.read_to_close(Duration::from_secs(10)).expect("closed");
        assert_eq!(got, b"+OK\r\n");
    });
}

#[test]
fn server_survives_abrupt_disconnects() {
    let mut srv = Server::keel();
    assert_eq!(srv.kind, Kind::Keel);
    for _ in 0..20 {
        let mut c = srv.conn();
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc");
        drop(c);
    }
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert!(srv.alive());
}

#[test]
fn unauthenticated_limits_and_noauth() {
    let check = |srv: &Server| {
        expect_protocol_error(
            srv,
            b"*11\r\n",
            "ERR Protocol error: unauthenticated multibulk length",
        );
        expect_protocol_error(
            srv,
            b"*2\r\n$4\r\nECHO\r\n$16385\r\n",
            "ERR Protocol error: unauthenticated bulk length",
        );
        let mut c = srv.conn();
        assert_eq!(
            c.cmd_str(&["GET", "k"]),
            "-NOAUTH Authentication required.\r\n"
        );
        assert_eq!(
            c.cmd_str(&["AUTH", "wrong"]),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(c.cmd_str(&["AUTH", "sesame"]), "+OK\r\n");
        // Once authenticated, the limits are the normal ones.
        let big = "x".repeat(20000);
        let mut args = vec!["ECHO"];
        args.push(&big);
        assert_eq!(c.cmd(&args).len(), 20000 + 10);
        let many: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        let mut cmd = vec!["PING".to_string()];
        cmd.extend(many);
        assert_eq!(
            c.cmd_str(&cmd.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            "-ERR wrong number of arguments for 'ping' command\r\n"
        );
    };
    check(&Server::keel_with(&["--requirepass", "sesame"]));
    if common::redis_available() {
        check(&Server::redis_with(&["--requirepass", "sesame"]));
    }
}
