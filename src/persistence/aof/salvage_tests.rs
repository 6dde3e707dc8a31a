//! Salvage of one command stream: each kind of damage, what is kept byte
//! for byte, and what is reported.

use super::*;
use crate::persistence::aof::stream::encode_command;

fn table() -> CommandTable {
    CommandTable::new(&crate::commands::all_families())
}

fn cmd(args: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    encode_command(&mut v, args);
    v
}

fn set(k: &str) -> Vec<u8> {
    cmd(&["SET", k, "v"])
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn run(data: &[u8]) -> Salvaged {
    salvage_stream(data, 0, &table())
}

#[test]
fn a_clean_stream_is_kept_whole() {
    let d = cat(&[&set("a"), b"#TS:5\r\n", &set("b")]);
    let s = run(&d);
    assert_eq!(s.out, d);
    assert!(s.dropped.is_empty());
    assert_eq!(s.commands_kept, 2);
    assert_eq!(run(b"").out, b"");
}

#[test]
fn garbage_between_commands_is_skipped() {
    let (a, b, c) = (set("a"), set("b"), set("c"));
    let d = cat(&[&a, b"xyz\r\n", &b, &c]);
    let s = run(&d);
    assert_eq!(s.out, cat(&[&a, &b, &c]));
    assert_eq!(s.commands_kept, 3);
    let at = a.len() as u64;
    assert_eq!(
        s.dropped,
        vec![Dropped {
            start: at,
            end: at + 5,
            reason: format!("at offset {at}: a line starts with byte 0x78, not '*' or '#'"),
            commands_lost: None,
            exact: false,
        }]
    );
}

#[test]
fn a_nul_region_over_commands_loses_only_them() {
    let cmds: Vec<Vec<u8>> = (0..6).map(|i| set(&format!("k{i}"))).collect();
    let mut d = cmds.concat();
    // Zero from the middle of command 1 to the middle of command 3.
    let from = cmds[0].len() + 5;
    let to = cmds[..3].iter().map(Vec::len).sum::<usize>() + 7;
    d[from..to].fill(0);
    let s = run(&d);
    assert_eq!(s.out, cat(&[&cmds[0], &cmds[4], &cmds[5]]));
    assert_eq!(s.commands_kept, 3);
    assert_eq!(s.dropped.len(), 1);
    let r = &s.dropped[0];
    assert_eq!(
        (r.start, r.end),
        (
            cmds[0].len() as u64,
            cmds[..4].iter().map(Vec::len).sum::<usize>() as u64
        )
    );
    // The command whose header survived; the zeroed bytes may have held
    // more.
    assert_eq!((r.commands_lost, r.exact), (Some(1), false));
    // A NUL-filled tail: dropped to the end, nothing to resync on.
    let d = cat(&[&cmds[0], &[0u8; 64]]);
    let s = run(&d);
    assert_eq!(s.out, cmds[0]);
    assert_eq!(s.dropped[0].end, d.len() as u64);
}

#[test]
fn a_truncated_command_followed_by_valid_ones() {
    let (a, b, c) = (set("a"), cmd(&["SET", "b", "hello"]), cmd(&["DEL", "a"]));
    let torn = &b[..b.len() - 5];
    let d = cat(&[&a, torn, &c, &set("z")]);
    let s = run(&d);
    assert_eq!(s.out, cat(&[&a, &c, &set("z")]));
    assert_eq!(s.dropped.len(), 1);
    assert_eq!(s.dropped[0].start, a.len() as u64);
    assert_eq!(s.dropped[0].end, (a.len() + torn.len()) as u64);
    assert_eq!(s.dropped[0].commands_lost, Some(1));
}

#[test]
fn a_broken_length_in_the_middle() {
    let (a, c) = (set("a"), set("c"));
    // $1 of the key becomes $9: the payload runs into the next command.
    let broken = set("b");
    let text = String::from_utf8(broken.clone()).unwrap();
    let broken = text.replacen("$1\r\nb", "$9\r\nb", 1).into_bytes();
    let d = cat(&[&a, &broken, &c, &set("d")]);
    let s = run(&d);
    assert_eq!(s.out, cat(&[&a, &c, &set("d")]));
    assert_eq!(s.dropped[0].commands_lost, Some(1));
    // A length past the end of the file (a truncation for the strict
    // reader) with valid commands after it.
    let huge = text.replacen("$1\r\nb", "$99999\r\nb", 1).into_bytes();
    let d = cat(&[&a, &huge, &c, &set("d")]);
    assert_eq!(run(&d).out, cat(&[&a, &c, &set("d")]));
}

#[test]
fn a_transaction_cut_by_damage_is_dropped_whole() {
    let a = set("a");
    let block = cat(&[&cmd(&["MULTI"]), &set("m1"), &set("m2"), &cmd(&["EXEC"])]);
    let after = set("after");
    // Garbage inside the block, after its second command.
    let cut = cmd(&["MULTI"]).len() + set("m1").len();
    let d = cat(&[&a, &block[..cut], b"\0\0\0garbage", &block[cut..], &after]);
    let s = run(&d);
    assert_eq!(s.out, cat(&[&a, &after]));
    assert_eq!(s.commands_kept, 2);
    assert_eq!(s.dropped.len(), 1, "{:?}", s.dropped);
    let r = &s.dropped[0];
    assert_eq!(r.start, a.len() as u64);
    assert_eq!(r.end, (d.len() - after.len()) as u64);
    // MULTI, m1 before the damage; m2 and EXEC after it.
    assert_eq!(r.commands_lost, Some(4));
    // The damage ate the MULTI itself: the tail up to EXEC goes too.
    let multi_len = cmd(&["MULTI"]).len();
    let d = cat(&[&a, b"garbage\r\n\xff\xff", &block[multi_len..], &after]);
    let s = run(&d);
    assert_eq!(s.out, cat(&[&a, &after]), "{:?}", s.dropped);
    assert_eq!(s.dropped.len(), 1);
    // An intact transaction after the damage is kept.
    let d = cat(&[&a, b"junk\r\n", &block, &after]);
    assert_eq!(run(&d).out, cat(&[&a, &block, &after]));
    // A transaction cut by the end of the file.
    let d = cat(&[&a, &block[..cut]]);
    let s = run(&d);
    assert_eq!(s.out, a);
    assert_eq!(
        (s.dropped[0].commands_lost, s.dropped[0].exact),
        (Some(2), true)
    );
}

#[test]
fn a_command_inside_a_damaged_payload_is_not_a_resync_point() {
    let a = set("a");
    // The value of the damaged command holds one RESP command.
    let inner = String::from_utf8(cmd(&["FLUSHALL"])).unwrap();
    let victim = cmd(&["SET", "v", &inner]);
    let mut victim_broken = victim.clone();
    victim_broken[1] = b'x'; // "*x\r\n": the header is broken
    let (b, c) = (set("b"), set("c"));
    let d = cat(&[&a, &victim_broken, &b, &c]);
    let s = run(&d);
    assert_eq!(s.out, cat(&[&a, &b, &c]));
    let r = &s.dropped[0];
    assert_eq!(r.end, (a.len() + victim.len()) as u64);
}

#[test]
fn unknown_commands_and_bad_arities_are_dropped_alone() {
    let (a, b) = (set("a"), set("b"));
    let foo = cmd(&["FOOBAR", "x"]);
    let bad = cmd(&["GET"]);
    let d = cat(&[&a, &foo, &b, &bad]);
    let s = run(&d);
    assert_eq!(s.out, cat(&[&a, &b]));
    assert_eq!(s.dropped.len(), 2);
    assert_eq!(s.dropped[0].reason, "unknown command 'FOOBAR'");
    assert_eq!(s.dropped[0].commands_lost, Some(1));
    assert!(s.dropped[1]
        .reason
        .starts_with("wrong number of arguments for 'GET'"));
    // Inside a transaction: the whole transaction goes.
    let block = cat(&[
        &cmd(&["MULTI"]),
        &set("m"),
        &foo,
        &set("n"),
        &cmd(&["EXEC"]),
    ]);
    let d = cat(&[&a, &block, &b]);
    let s = run(&d);
    assert_eq!(s.out, cat(&[&a, &b]));
    assert_eq!(s.dropped.len(), 1);
    assert_eq!(s.dropped[0].commands_lost, Some(5));
}

#[test]
fn a_preamble_offset_is_respected_and_resync_prefers_two_commands() {
    let d = cat(&[b"RDBBYTES", &set("a")]);
    let s = salvage_stream(&d, 8, &table());
    assert_eq!(s.out, set("a"));
    // A lone command followed by more garbage is only a fallback.
    let t = table();
    let lone = cat(&[b"zz", &set("x"), b"zz", &set("y"), &set("z")]);
    assert_eq!(resync(&lone, 0, &t), Some(2 + set("x").len() + 2));
    let only = cat(&[b"zz", &set("x"), b"zz"]);
    assert_eq!(resync(&only, 0, &t), Some(2));
    assert_eq!(resync(b"no commands", 0, &t), None);
}

#[test]
fn lf_only_headers_are_re_encoded_not_dropped() {
    let (a, b, c) = (set("a"), cmd(&["SET", "b", "x\ny"]), set("c"));
    let lf = String::from_utf8(b.clone())
        .unwrap()
        .replace("*3\r\n", "*3\n")
        .replace("$3\r\n", "$3\n")
        .replace("$1\r\n", "$1\n");
    let d = cat(&[&a, lf.as_bytes(), &c]);
    let s = run(&d);
    assert_eq!(s.out, cat(&[&a, &b, &c]));
    assert!(s.dropped.is_empty(), "{:?}", s.dropped);
    assert_eq!(s.commands_kept, 3);
    assert_eq!(
        s.reframed,
        vec![(a.len() as u64, (a.len() + lf.len()) as u64)]
    );
    // A wrong length read leniently is not taken for a reframed command:
    // its payload is not followed by CRLF.
    let bad = String::from_utf8(set("b"))
        .unwrap()
        .replace("$1\r\nb", "$2\nb");
    let d = cat(&[&a, bad.as_bytes(), &c, &set("d")]);
    let s = run(&d);
    assert_eq!(s.out, cat(&[&a, &c, &set("d")]));
    assert!(s.reframed.is_empty());
}

mod prop {
    //! One random damage (garbage inserted anywhere, or a zero-filled
    //! block over some framing byte) in a random stream of commands and
    //! transactions: the salvaged stream is exactly the units (commands,
    //! whole transactions) the damage did not touch, byte for byte. The
    //! garbage holds no `*` and no `\r` and values are alphanumeric, so
    //! nothing in the damage can look like a command (a coincidence no
    //! salvage can tell from data).
    use super::*;
    use proptest::prelude::*;

    fn unit() -> impl Strategy<Value = Vec<Vec<String>>> {
        let word = "[a-z0-9]{1,12}";
        let command = prop_oneof![
            (word, word).prop_map(|(k, v)| vec!["SET".to_string(), k, v]),
            word.prop_map(|k| vec!["INCR".to_string(), k]),
            (word, word).prop_map(|(k, v)| vec!["RPUSH".to_string(), k, v]),
        ];
        prop_oneof![
            3 => command.clone().prop_map(|c| vec![c]),
            1 => proptest::collection::vec(command, 1..4).prop_map(|mut b| {
                b.insert(0, vec!["MULTI".to_string()]);
                b.push(vec!["EXEC".to_string()]);
                b
            }),
        ]
    }

    /// Whether the unit `start..end` is touched by the damage.
    type Touched = Box<dyn Fn(usize, usize) -> bool>;

    #[derive(Debug, Clone)]
    enum Damage {
        Insert(usize, Vec<u8>),
        Zero(usize, usize),
    }

    fn damage() -> impl Strategy<Value = Damage> {
        let garbage = proptest::collection::vec(
            any::<u8>().prop_filter("no * or \\r", |b| *b != b'*' && *b != b'\r'),
            1..40,
        );
        prop_oneof![
            (any::<usize>(), garbage).prop_map(|(a, g)| Damage::Insert(a, g)),
            (any::<usize>(), 1usize..60).prop_map(|(a, n)| Damage::Zero(a, n)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn only_the_units_the_damage_touches_are_lost(
            units in proptest::collection::vec(unit(), 1..12),
            dmg in damage(),
        ) {
            let mut data = Vec::new();
            let mut spans = Vec::new();
            for u in &units {
                let start = data.len();
                for c in u {
                    encode_command(&mut data, c);
                }
                spans.push((start, data.len()));
            }
            let len = data.len();
            let (damaged, touched): (Vec<u8>, Touched) = match &dmg {
                Damage::Insert(a, g) => {
                    let a = a % (len + 1);
                    let mut d = data[..a].to_vec();
                    d.extend_from_slice(g);
                    d.extend_from_slice(&data[a..]);
                    // A `\n` first, between a unit's last `\r` and `\n`,
                    // completes the unit: what follows is the garbage.
                    let lf = g[0] == b'\n';
                    (d, Box::new(move |s, e| s < a && a < e && !(lf && a == e - 1)))
                }
                Damage::Zero(a, n) => {
                    let a = a % len;
                    let b = (a + n).min(len);
                    let framing = data[a..b]
                        .iter()
                        .any(|c| matches!(c, b'*' | b'$' | b'\r' | b'\n'));
                    prop_assume!(framing);
                    let mut d = data.clone();
                    d[a..b].fill(0);
                    (d, Box::new(move |s, e| s < b && a < e))
                }
            };
            let want: Vec<u8> = spans
                .iter()
                .filter(|(s, e)| !touched(*s, *e))
                .flat_map(|&(s, e)| data[s..e].to_vec())
                .collect();
            let got = run(&damaged);
            prop_assert_eq!(
                String::from_utf8_lossy(&got.out),
                String::from_utf8_lossy(&want),
                "{:?}",
                got.dropped
            );
            let lost = spans.iter().filter(|(s, e)| touched(*s, *e)).count();
            prop_assert_eq!(got.dropped.is_empty(), lost == 0 && damaged.len() == len);
        }
    }
}
