//! Every rule of `aofLoadManifestFromFile`, the writer's format and the
//! lifecycle operations (checked against what redis-server 7.0.15 did in
//! the fixtures' runs, see fixtures/aof/README.md).

use super::*;

fn err(text: &[u8]) -> ManifestError {
    Manifest::parse(text).expect_err("expected a manifest error")
}

fn msg(text: &[u8]) -> &'static str {
    err(text).msg
}

#[test]
fn parses_what_redis_writes() {
    let text = b"file appendonly.aof.2.base.rdb seq 2 type b\n\
file appendonly.aof.1.incr.aof seq 1 type h\n\
file appendonly.aof.2.base.rdb.x seq 1 type h\n\
file appendonly.aof.3.incr.aof seq 3 type i\n\
file appendonly.aof.4.incr.aof seq 4 type i\n";
    let m = Manifest::parse(text).unwrap();
    assert_eq!(m.base.as_ref().unwrap().name, b"appendonly.aof.2.base.rdb");
    assert_eq!(m.curr_base_seq, 2);
    assert_eq!(m.curr_incr_seq, 4);
    assert_eq!(m.history.len(), 2);
    assert_eq!(m.incrs.len(), 2);
    assert!(!m.dirty);
    assert_eq!(m.to_text(), text.to_vec());
    let order: Vec<_> = m.load_order().map(|f| f.seq).collect();
    assert_eq!(order, [2, 3, 4]);
}

#[test]
fn comments_crlf_key_order_and_unknown_pairs() {
    let m = Manifest::parse(
        b"# a comment\r\n#another\ntype i seq 1 file x\r\nFILE y SEQ 2 TYPE i newkey newval\n",
    )
    .unwrap();
    assert_eq!(m.incrs[0].name, b"x");
    assert_eq!(m.incrs[1].name, b"y");
    // Comment-only manifest: not empty, just nothing in it.
    assert!(Manifest::parse(b"# nothing\n").unwrap().is_empty());
    // A last comment line without '\n' is fine (comments are skipped first).
    assert!(Manifest::parse(b"file x seq 1 type b\n# tail").is_ok());
}

#[test]
fn empty_file() {
    let e = err(b"");
    assert_eq!(e.msg, "Found an empty AOF manifest");
    assert_eq!(e.line, None);
    assert_eq!(
        e.log_lines(),
        [
            "\n*** FATAL AOF MANIFEST FILE ERROR ***\n",
            "Found an empty AOF manifest\n"
        ]
    );
}

#[test]
fn too_long_line_and_missing_final_newline() {
    assert_eq!(
        msg(b"file x seq 1 type b"),
        "The AOF manifest file contains too long line"
    );
    // 1023 bytes + '\n' fits; 1024 + '\n' does not.
    let mut ok = b"file x seq 1 type b".to_vec();
    ok.resize(1023, b' ');
    ok.push(b'\n');
    assert!(Manifest::parse(&ok).is_ok());
    let mut long = b"file x seq 1 type b".to_vec();
    long.resize(1024, b' ');
    long.push(b'\n');
    let e = err(&long);
    assert_eq!(e.msg, "The AOF manifest file contains too long line");
    assert_eq!(e.line, None);
    // A NUL before the newline hides it (strchr on the C string).
    assert_eq!(
        msg(b"file x seq 1 type b\0\n"),
        "The AOF manifest file contains too long line"
    );
}

#[test]
fn blank_line() {
    let e = err(b"file x seq 1 type b\n \t\r\n");
    assert_eq!(e.msg, "Invalid AOF manifest file format");
    assert_eq!(e.line, Some((2, Vec::new())));
    assert_eq!(
        e.log_lines(),
        [
            "\n*** FATAL AOF MANIFEST FILE ERROR ***\n",
            "Reading the manifest file, at line 2\n",
            ">>> ''\n",
            "Invalid AOF manifest file format\n"
        ]
    );
}

#[test]
fn token_count() {
    for bad in [
        &b"file x seq 1\n"[..],
        b"file x seq 1 type\n",
        b"file x seq 1 type b extra\n",
        b"file \"x seq 1 type b\n",
        b"file \"x\"y seq 1 type b\n",
    ] {
        assert_eq!(msg(bad), "Invalid AOF manifest file format", "{bad:?}");
    }
}

#[test]
fn missing_fields_and_atoll_seq() {
    for bad in [
        &b"name x seq 1 type b\n"[..],
        b"file x seq 0 type b\n",
        b"file x seq abc type b\n",
        b"file x sequence 1 type b\n",
        b"file x seq 1 kind b\n",
        b"file x seq 1 type \"\"\n",
    ] {
        assert_eq!(msg(bad), "Invalid AOF manifest file format", "{bad:?}");
    }
    // atoll: leading digits count, sign allowed.
    let m = Manifest::parse(b"file x seq 12abc type b\nfile y seq -3 type h\n").unwrap();
    assert_eq!(m.curr_base_seq, 12);
    assert_eq!(m.history[0].seq, -3);
    assert_eq!(atoll(b"  +7"), 7);
    assert_eq!(atoll(b"99999999999999999999"), i64::MAX);
    assert_eq!(atoll(b"-99999999999999999999"), i64::MIN);
    // A negative incr seq is not above the initial 0.
    assert_eq!(
        msg(b"file x seq -1 type i\n"),
        "Found a non-monotonic sequence number"
    );
}

#[test]
fn basename_check() {
    let e = err(b"file dir/x seq 1 type b\n");
    assert_eq!(e.msg, "File can't be a path, just a filename");
    assert_eq!(e.line, Some((1, b"file dir/x seq 1 type b".to_vec())));
    assert_eq!(
        msg(b"file a\\b seq 1 type b\n"),
        "File can't be a path, just a filename"
    );
    // Checked while reading the pairs, before the missing-field check.
    assert_eq!(
        msg(b"file ../x seq 0 type b\n"),
        "File can't be a path, just a filename"
    );
}

#[test]
fn type_first_char_and_unknown() {
    let m = Manifest::parse(b"file x seq 1 type base\nfile y seq 1 type incr\n").unwrap();
    assert!(m.base.is_some());
    assert_eq!(m.incrs.len(), 1);
    assert_eq!(msg(b"file x seq 1 type x\n"), "Unknown AOF file type");
    assert_eq!(msg(b"file x seq 1 type B\n"), "Unknown AOF file type");
}

#[test]
fn duplicate_base_and_monotonic_incrs() {
    let e = err(b"file x seq 1 type b\nfile y seq 2 type b\n");
    assert_eq!(e.msg, "Found duplicate base file information");
    assert_eq!(e.line.unwrap().0, 2);
    assert_eq!(
        msg(b"file x seq 2 type i\nfile y seq 2 type i\n"),
        "Found a non-monotonic sequence number"
    );
    assert_eq!(
        msg(b"file x seq 3 type i\nfile y seq 2 type i\n"),
        "Found a non-monotonic sequence number"
    );
    // History seqs are not checked.
    assert!(Manifest::parse(b"file x seq 3 type h\nfile y seq 1 type h\n").is_ok());
}

#[test]
fn line_numbers_count_comments() {
    let e = err(b"# c\nfile x seq 1 type b\nfile x seq 1 type z\n");
    assert_eq!(e.line.unwrap().0, 3);
}

#[test]
fn quoted_names_round_trip() {
    let m = Manifest::parse(b"file \"a b\\n\\xff\" seq 1 type b\nfile 'q' seq 1 type i\n").unwrap();
    assert_eq!(m.base.as_ref().unwrap().name, b"a b\n\xff");
    assert_eq!(
        m.to_text(),
        b"file \"a b\\n\\xff\" seq 1 type b\nfile q seq 1 type i\n".to_vec()
    );
    let again = Manifest::parse(&m.to_text()).unwrap();
    assert_eq!(again.base, m.base);
    // Quotes and backslashes are escaped.
    let m = Manifest {
        base: Some(AofFile {
            name: b"x\"y".to_vec(),
            seq: 1,
            kind: AofKind::Base,
        }),
        ..Manifest::default()
    };
    assert_eq!(m.to_text(), b"file \"x\\\"y\" seq 1 type b\n".to_vec());
}

#[test]
fn names() {
    assert_eq!(
        base_name("appendonly.aof", 3, true),
        "appendonly.aof.3.base.rdb"
    );
    assert_eq!(
        base_name("appendonly.aof", 3, false),
        "appendonly.aof.3.base.aof"
    );
    assert_eq!(incr_name("a.aof", 7), "a.aof.7.incr.aof");
    assert_eq!(manifest_name("a.aof"), "a.aof.manifest");
    assert_eq!(temp_manifest_name("a.aof"), "temp-a.aof.manifest");
    assert_eq!(temp_incr_name("a.aof"), "temp-a.aof.incr");
    assert_eq!(temp_rewrite_name(42), "temp-rewriteaof-42.aof");
    assert_eq!(temp_rewrite_done_name(42), "temp-rewriteaof-bg-42.aof");
}

#[test]
fn lifecycle_matches_redis_runs() {
    const F: &str = "appendonly.aof";
    // Start: no base, no incr -> base 1 + incr 1.
    let mut m = Manifest::default();
    assert_eq!(m.new_base(F, true), b"appendonly.aof.1.base.rdb");
    assert_eq!(
        m.last_incr_or_new(F),
        (b"appendonly.aof.1.incr.aof".to_vec(), true)
    );
    assert_eq!(
        m.last_incr_or_new(F),
        (b"appendonly.aof.1.incr.aof".to_vec(), false)
    );
    assert_eq!(
        m.to_text(),
        b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    // BGREWRITEAOF: incr 2 at the start, base 2 on success, incr 1 -> h.
    m.new_incr(F);
    let (base, incr) = m.install_rewrite(F, true, false, true);
    assert_eq!(base, b"appendonly.aof.2.base.rdb");
    assert_eq!(incr, None);
    assert_eq!(
        m.to_text(),
        b"file appendonly.aof.2.base.rdb seq 2 type b\n\
file appendonly.aof.1.incr.aof seq 1 type h\n\
file appendonly.aof.1.base.rdb seq 1 type h\n\
file appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert_eq!(m.take_history().len(), 2);
    // A killed rewrite left base 3, incr 3 and incr 4; the next rewrite
    // opens incr 5 and, on success, installs base 4.
    let mut m = Manifest::parse(
        b"file appendonly.aof.3.base.rdb seq 3 type b\n\
file appendonly.aof.3.incr.aof seq 3 type i\n\
file appendonly.aof.4.incr.aof seq 4 type i\n",
    )
    .unwrap();
    assert_eq!(m.new_incr(F), b"appendonly.aof.5.incr.aof");
    let (base, _) = m.install_rewrite(F, true, false, true);
    assert_eq!(base, b"appendonly.aof.4.base.rdb");
    // History order: previous incrs, then the previous base last.
    let hist: Vec<_> = m.history.iter().map(|f| f.display()).collect();
    assert_eq!(
        hist,
        [
            "appendonly.aof.3.incr.aof",
            "appendonly.aof.4.incr.aof",
            "appendonly.aof.3.base.rdb"
        ]
    );
    assert_eq!(m.incrs.len(), 1);
    assert_eq!(m.incrs[0].seq, 5);
}

#[test]
fn rewrite_with_aof_off_and_from_temp_incr() {
    const F: &str = "appendonly.aof";
    let mut m = Manifest::parse(
        b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    let mut off = m.clone();
    off.install_rewrite(F, false, false, false);
    assert!(off.incrs.is_empty());
    assert_eq!(
        off.base.as_ref().unwrap().name,
        b"appendonly.aof.2.base.aof"
    );
    // CONFIG SET appendonly yes: the temp incr becomes incr 2 and stays.
    let (_, incr) = m.install_rewrite(F, true, true, false);
    assert_eq!(incr.unwrap(), b"appendonly.aof.2.incr.aof");
    assert_eq!(m.incrs.len(), 1);
    assert_eq!(m.incrs[0].seq, 2);
}

#[test]
fn upgrade_and_persist() {
    let d = tempfile::tempdir().unwrap();
    let mut m = Manifest::default();
    m.adopt_old_style_file("appendonly.aof");
    m.persist(d.path(), "appendonly.aof").unwrap();
    assert!(!m.dirty);
    let path = d.path().join("appendonly.aof.manifest");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"file appendonly.aof seq 1 type b\n"
    );
    assert!(!d.path().join("temp-appendonly.aof.manifest").exists());
    // Not dirty: the file (with a hand-added comment) is left alone.
    std::fs::write(&path, b"# mine\nfile appendonly.aof seq 1 type b\n").unwrap();
    let mut m = Manifest::parse(&std::fs::read(&path).unwrap()).unwrap();
    m.persist(d.path(), "appendonly.aof").unwrap();
    assert!(std::fs::read(&path).unwrap().starts_with(b"# mine"));
    // A failed write leaves the old manifest and the dirty flag.
    m.new_incr("appendonly.aof");
    let missing = d.path().join("no-such-dir");
    assert!(m.persist(&missing, "appendonly.aof").is_err());
    assert!(m.dirty);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 1..40).prop_map(|v| {
            v.into_iter()
                .map(|c| {
                    if matches!(c, b'/' | b'\\' | 0) {
                        b'_'
                    } else {
                        c
                    }
                })
                .collect()
        })
    }

    fn nonzero() -> impl Strategy<Value = i64> {
        any::<i64>().prop_map(|s| if s == 0 { 1 } else { s })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn write_then_parse_is_identity(
            base in proptest::option::of((name(), nonzero())),
            hist in proptest::collection::vec((name(), nonzero()), 0..4),
            incrs in proptest::collection::vec((name(), 1i64..1000), 0..5),
        ) {
            let mut m = Manifest::default();
            if let Some((n, s)) = base {
                m.base = Some(AofFile { name: n, seq: s, kind: AofKind::Base });
                m.curr_base_seq = s;
            }
            for (n, s) in hist {
                m.history.push(AofFile { name: n, seq: s, kind: AofKind::Hist });
            }
            let mut seq = 0;
            for (n, step) in incrs {
                seq += step;
                m.incrs.push(AofFile { name: n, seq, kind: AofKind::Incr });
                m.curr_incr_seq = seq;
            }
            let text = m.to_text();
            if text.is_empty() {
                prop_assert!(Manifest::parse(&text).is_err());
            } else {
                prop_assert_eq!(Manifest::parse(&text).unwrap(), m);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(prop_oneof![
            Just(b'\n'), Just(b' '), Just(b'"'), Just(b'\''), Just(b'#'), Just(b'\\'),
            Just(b'f'), Just(b'1'), any::<u8>()], 0..200)) {
            let _ = Manifest::parse(&data);
            let mut text = b"file x seq 1 type b\n".to_vec();
            text.extend_from_slice(&data);
            if let Ok(m) = Manifest::parse(&text) {
                prop_assert!(m.base.is_some());
            }
        }
    }
}
