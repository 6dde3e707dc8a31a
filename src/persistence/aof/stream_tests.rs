//! The stream reader on hand-made edge cases (strict results are what
//! redis-check-aof 7.0.15 printed for the same bytes), plus properties:
//! encode -> read is the identity, arbitrary bytes never panic, and a cut
//! anywhere leaves a readable prefix.

use super::*;
use proptest::prelude::*;

fn commands(data: &[u8], mode: Mode) -> (Vec<Vec<Vec<u8>>>, End) {
    let mut r = StreamReader::new(data, mode).named("f.aof");
    let mut out = Vec::new();
    for item in r.by_ref() {
        if let Item::Command(c) = item {
            out.push(c.args.iter().map(|a| a.to_vec()).collect());
        }
    }
    (out, r.end().unwrap().clone())
}

fn strict(data: &[u8]) -> (End, u64) {
    let mut r = StreamReader::new(data, Mode::Strict).named("f.aof");
    for _ in r.by_ref() {}
    (r.end().unwrap().clone(), r.crlf_count() + 1)
}

fn framing(offset: u64, reason: &str) -> Option<Fault> {
    Some(Fault::Framing {
        offset,
        reason: reason.into(),
    })
}

const SET: &[u8] = b"*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n";

fn with_set(tail: &[u8]) -> Vec<u8> {
    [SET, tail].concat()
}

#[test]
fn encode_and_read() {
    let mut out = Vec::new();
    encode_ts_annotation(&mut out, 1_700_000_000);
    encode_select(&mut out, 3);
    encode_command(&mut out, &[&b"set"[..], b"k", b""]);
    assert_eq!(
        out,
        b"#TS:1700000000\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$0\r\n\r\n"
    );
    for mode in [Mode::Lenient, Mode::Strict] {
        let items: Vec<_> = StreamReader::new(&out, mode).collect();
        assert_eq!(items.len(), 3);
        let Item::Annotation(a) = &items[0] else {
            panic!()
        };
        assert_eq!(a.text(), b"#TS:1700000000");
        assert_eq!(a.timestamp(), Timestamp::Valid(1_700_000_000));
        assert_eq!((a.start, a.end), (0, 16));
        let Item::Command(c) = &items[2] else {
            panic!()
        };
        assert_eq!(c.args, [&b"set"[..], b"k", b""]);
        assert_eq!(c.end, out.len() as u64);
        assert_eq!(
            StreamReader::new(&out, mode).finish(),
            End::Clean,
            "{mode:?}"
        );
    }
}

#[test]
fn timestamps() {
    let a = |l: &'static [u8]| Annotation {
        line: l,
        start: 0,
        end: l.len() as u64,
    };
    assert_eq!(a(b"#TS:12\r\n").timestamp(), Timestamp::Valid(12));
    assert_eq!(a(b"#TS:12\n").timestamp(), Timestamp::Invalid);
    assert_eq!(a(b"#TS:x\r\n").timestamp(), Timestamp::Invalid);
    assert_eq!(
        a(b"#TS:99999999999999999999\r\n").timestamp(),
        Timestamp::Invalid
    );
    assert_eq!(a(b"#note\r\n").timestamp(), Timestamp::NotTs);
}

#[test]
fn strict_matches_redis_check_aof() {
    // Each case: bytes, End, ok_up_to_line, as redis-check-aof 7.0.15 said.
    let inside = |at| Truncation::InsideCommand { command_start: at };
    let cases: Vec<(Vec<u8>, End, u64)> = vec![
        (
            with_set(b"*1\r\n$3\r\nba"),
            End::Truncated {
                last_good: 22,
                cause: inside(22),
                fault: framing(0x1e, "Expected to read 5 bytes, got 2 bytes"),
            },
            8,
        ),
        (
            with_set(b"*1\n$3\r\nbar\r\n"),
            End::Corrupt {
                last_good: 22,
                fault: framing(0x16, "Expected \\r\\n, got: 0a00").unwrap(),
            },
            6,
        ),
        (
            with_set(b"*1\r\n$3\r\nbarXX"),
            End::Corrupt {
                last_good: 22,
                fault: framing(0x1e, "Expected \\r\\n, got: 5858").unwrap(),
            },
            8,
        ),
        (
            with_set(b"*1\r\n$3"),
            End::Truncated {
                last_good: 22,
                cause: inside(22),
                fault: framing(0x1a, "Expected \\r\\n, got: 0000"),
            },
            7,
        ),
        (
            with_set(b"*1\r\n"),
            End::Truncated {
                last_good: 22,
                cause: inside(22),
                fault: None,
            },
            7,
        ),
        (
            [&b"*1\r\n$5\r\nMULTI\r\n"[..], SET].concat(),
            End::Truncated {
                last_good: 0,
                cause: Truncation::UnclosedMulti { multi_start: 0 },
                fault: framing(0x20, "Reached EOF before reading EXEC for MULTI"),
            },
            9,
        ),
        (
            b"*1\r\n$5\r\nMULTI\r\n*1\r\n$5\r\nmulti\r\n".to_vec(),
            End::Corrupt {
                last_good: 0,
                fault: framing(0x17, "Unexpected MULTI in AOF f.aof").unwrap(),
            },
            7,
        ),
        (
            b"*1\r\n$4\r\nEXEC\r\n".to_vec(),
            End::Corrupt {
                last_good: 0,
                fault: framing(8, "Unexpected EXEC in AOF f.aof").unwrap(),
            },
            4,
        ),
        (
            with_set(b"xyz\r\n"),
            End::Corrupt {
                last_good: 22,
                fault: Fault::BadLineStart {
                    offset: 22,
                    byte: b'x',
                },
            },
            6,
        ),
        (b"*0\r\n*-1\r\n".to_vec(), End::Clean, 3),
        (
            with_set(b"$3\r\nfoo\r\n"),
            End::Corrupt {
                last_good: 22,
                fault: Fault::BadLineStart {
                    offset: 22,
                    byte: b'$',
                },
            },
            6,
        ),
        (
            b"*1\r\n$-1\r\n".to_vec(),
            End::Corrupt {
                last_good: 0,
                fault: framing(
                    4,
                    "Expected to read string of -1 bytes, which is not in the suitable range",
                )
                .unwrap(),
            },
            3,
        ),
        (
            b"*1\r\n$3\r\nfo\x80\xff\r\n".to_vec(),
            End::Corrupt {
                last_good: 0,
                fault: framing(8, "Expected \\r\\n, got: ffffffff0d").unwrap(),
            },
            3,
        ),
        (
            b"#TS:1\r\n*1\r\n$5\r\nMULTI\r\n#TS:2\r\n*1\r\n$3\r\nSET\r\n".to_vec(),
            End::Truncated {
                last_good: 7,
                cause: Truncation::UnclosedMulti { multi_start: 7 },
                fault: framing(0x25, "Reached EOF before reading EXEC for MULTI"),
            },
            7,
        ),
    ];
    for (data, want, line) in cases {
        let (end, got_line) = strict(&data);
        assert_eq!(end, want, "{:?}", String::from_utf8_lossy(&data));
        assert_eq!(got_line, line, "{:?}", String::from_utf8_lossy(&data));
    }
}

#[test]
fn check_aof_lines() {
    let f = framing(0x33, "Expected \\r\\n, got: 330d").unwrap();
    assert_eq!(
        f.check_aof_line("x"),
        "0x              33: Expected \\r\\n, got: 330d"
    );
    let b = Fault::BadLineStart { offset: 0, byte: 0 };
    assert_eq!(b.check_aof_line("x.aof"), "AOF x.aof format error");
}

#[test]
fn lenient_accepts_what_the_server_accepts() {
    // LF-only headers, junk after the count, unchecked payload trailers.
    let data = b"*2\n$3\nfoo\r\n$3junk\nbarXX*1\r\n$4\r\nEXEC\r\n";
    let (cmds, end) = commands(data, Mode::Lenient);
    assert_eq!(end, End::Clean);
    assert_eq!(
        cmds,
        [
            vec![b"foo".to_vec(), b"bar".to_vec()],
            vec![b"EXEC".to_vec()]
        ]
    );
    // ... which redis-check-aof refuses.
    assert!(matches!(strict(data).0, End::Corrupt { .. }));
    // "$abc" is a length of 0.
    let (cmds, end) = commands(b"*1\r\n$abc\r\n\r\n", Mode::Lenient);
    assert_eq!(end, End::Clean);
    assert_eq!(cmds, [vec![Vec::<u8>::new()]]);
}

#[test]
fn lenient_truncation_points() {
    let data = with_set(b"*2\r\n$3\r\nfoo\r\n$3\r\nba");
    let (cmds, end) = commands(&data, Mode::Lenient);
    assert_eq!(cmds.len(), 1);
    assert_eq!(
        end,
        End::Truncated {
            last_good: 22,
            cause: Truncation::InsideCommand { command_start: 22 },
            fault: None
        }
    );
    // A trailing annotation is not part of the last good command.
    let data = with_set(b"#TS:5\r\n*1\r\n");
    assert_eq!(commands(&data, Mode::Lenient).1.last_good(0), 22);
    // "*" alone at the end is a short read; "*\0" in the middle is not.
    let data = with_set(b"*");
    assert!(matches!(
        commands(&data, Mode::Lenient).1,
        End::Truncated { .. }
    ));
    let data = with_set(b"*\0\r\n");
    assert!(matches!(
        commands(&data, Mode::Lenient).1,
        End::Corrupt { .. }
    ));
    // Missing the 2 bytes after the payload.
    let data = with_set(b"*1\r\n$3\r\nbar\r");
    assert!(matches!(
        commands(&data, Mode::Lenient).1,
        End::Truncated { .. }
    ));
}

#[test]
fn lenient_multi() {
    let multi = b"*1\r\n$5\r\nmulti\r\n";
    let exec = b"*1\r\n$4\r\nexec\r\n";
    // Ends after MULTI + a command: revert to before the MULTI.
    let data = [SET, b"#TS:9\r\n", multi, SET].concat();
    let mut r = StreamReader::new(&data, Mode::Lenient);
    let n = r.by_ref().count();
    assert_eq!(n, 4);
    assert_eq!(
        r.end().unwrap(),
        &End::Truncated {
            last_good: 22,
            cause: Truncation::UnclosedMulti { multi_start: 29 },
            fault: None
        }
    );
    // Ends inside a command inside the MULTI: also before the MULTI.
    let data = [SET, multi, SET, b"*2\r\n$3"].concat();
    assert_eq!(commands(&data, Mode::Lenient).1.last_good(0), 22);
    // Closed: clean; in_multi tracks it.
    let data = [multi, SET, exec].concat();
    let mut r = StreamReader::new(&data, Mode::Lenient);
    r.next();
    assert!(r.in_multi());
    r.next();
    r.next();
    assert!(!r.in_multi());
    assert_eq!(r.finish(), End::Clean);
}

#[test]
fn lenient_corruption() {
    for (tail, offset) in [
        (&b"xyz\r\n"[..], 22u64),
        (b"\0\0\0\0\0\0", 22),
        (b"*0\r\n", 22),
        (b"*-3\r\n", 22),
        (b"*1\r\nfoo\r\n", 26),
        (b"*1\r\n$-1\r\n", 26),
    ] {
        let data = with_set(tail);
        let (cmds, end) = commands(&data, Mode::Lenient);
        assert_eq!(cmds.len(), 1, "{tail:?}");
        match end {
            End::Corrupt { last_good, fault } => {
                assert_eq!(last_good, 22, "{tail:?}");
                assert_eq!(fault.offset(), offset, "{tail:?}");
            }
            other => panic!("{tail:?}: {other:?}"),
        }
    }
}

#[test]
fn starting_after_a_preamble() {
    let mut data = b"REDIS0010...rdb...".to_vec();
    let off = data.len();
    data.extend_from_slice(SET);
    data.extend_from_slice(b"*1\r\n$3\r\nab");
    assert!(starts_with_rdb(&data));
    let mut r = StreamReader::starting_at(&data, off, Mode::Lenient);
    assert_eq!(r.by_ref().count(), 1);
    assert_eq!(r.end().unwrap().last_good(0), (off + SET.len()) as u64);
    // Nothing complete after the preamble: keep the preamble.
    let r = StreamReader::starting_at(&data[..off + 5], off, Mode::Lenient);
    assert_eq!(r.finish().last_good(0), off as u64);
}

#[test]
fn long_annotation_lines_wrap_like_fgets() {
    // A 2000-byte annotation: fgets reads 1023 bytes, the rest is the next
    // "line", which starts with neither '*' nor '#'.
    let mut data = b"#".to_vec();
    data.resize(2000, b'a');
    data.extend_from_slice(b"\r\n");
    for mode in [Mode::Lenient, Mode::Strict] {
        let end = StreamReader::new(&data, mode).finish();
        assert!(
            matches!(
                end,
                End::Corrupt {
                    fault: Fault::BadLineStart { offset: 1023, .. },
                    ..
                }
            ),
            "{mode:?}: {end:?}"
        );
    }
}

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        Just(b"MULTI".to_vec()),
        Just(b"exec".to_vec()),
        Just(b"\r\n*1\r\n$".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn encode_then_read_is_identity(cmds in proptest::collection::vec(
        proptest::collection::vec(arg(), 1..6), 0..12), ts in any::<bool>()) {
        let mut data = Vec::new();
        for (i, c) in cmds.iter().enumerate() {
            if ts && i % 3 == 0 {
                encode_ts_annotation(&mut data, i as i64);
            }
            encode_command(&mut data, c);
        }
        let (got, end) = commands(&data, Mode::Lenient);
        prop_assert_eq!(&got, &cmds);
        // Lenient: clean unless a MULTI is left open.
        match end {
            End::Clean => {}
            End::Truncated { cause: Truncation::UnclosedMulti { .. }, .. } => {}
            other => prop_assert!(false, "{:?}", other),
        }
        // Strict frames identically until a MULTI/EXEC pairing error.
        let (sgot, _) = commands(&data, Mode::Strict);
        prop_assert!(sgot.len() <= cmds.len());
        prop_assert_eq!(&sgot[..], &cmds[..sgot.len()]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(prop_oneof![
        Just(b'*'), Just(b'$'), Just(b'\r'), Just(b'\n'), Just(b'#'), Just(b'1'), Just(b'-'),
        Just(0u8), any::<u8>()], 0..300)) {
        for mode in [Mode::Lenient, Mode::Strict] {
            let mut r = StreamReader::new(&data, mode);
            let mut last = 0;
            for item in r.by_ref() {
                let (s, e) = match item {
                    Item::Command(c) => (c.start, c.end),
                    Item::Annotation(a) => (a.start, a.end),
                };
                prop_assert_eq!(s, last);
                prop_assert!(e > s && e <= data.len() as u64);
                last = e;
            }
            let end = r.end().unwrap();
            prop_assert!(end.last_good(data.len() as u64) <= data.len() as u64);
        }
    }

    #[test]
    fn any_cut_reads_a_prefix(cmds in proptest::collection::vec(
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..5), 1..8),
        cut in any::<prop::sample::Index>()) {
        let mut data = Vec::new();
        for c in &cmds {
            encode_command(&mut data, c);
        }
        let cut = cut.index(data.len() + 1);
        let (got, end) = commands(&data[..cut], Mode::Lenient);
        prop_assert_eq!(&got[..], &cmds[..got.len()]);
        let good = end.last_good(cut as u64) as usize;
        prop_assert!(good <= cut);
        // The truncated file re-reads cleanly with the same commands.
        let (again, end2) = commands(&data[..good], Mode::Lenient);
        prop_assert_eq!(end2, End::Clean);
        prop_assert_eq!(again, got);
    }
}
