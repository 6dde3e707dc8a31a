//! DUMP/RESTORE and MIGRATE between keel and a real redis-server 7.0.15:
//! for every type and encoding (small and large), a payload DUMPed by
//! Redis restores in keel to the same value, and a payload DUMPed by keel
//! restores in Redis (which is run with `sanitize-dump-payload yes`, so it
//! validates every blob deeply). MIGRATE moves keys keel -> keel,
//! keel -> redis and redis -> keel, with KEYS, COPY, REPLACE and AUTH.

mod common;

use common::{frame_elements, RawConn, Server};

/// The bytes of a bulk reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    assert_eq!(
        reply[0],
        b'$',
        "not a bulk: {:?}",
        String::from_utf8_lossy(reply)
    );
    let nl = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    let n: usize = std::str::from_utf8(&reply[1..nl]).unwrap().parse().unwrap();
    reply[nl + 2..nl + 2 + n].to_vec()
}

/// A comparable view of a key's value: type-specific reads, with the
/// unordered collections sorted.
fn view(c: &mut RawConn, key: &str) -> Vec<Vec<u8>> {
    let t = c.cmd(&["TYPE", key]);
    let mut out = vec![t.clone()];
    match &t[..] {
        b"+string\r\n" => out.push(c.cmd(&["GET", key])),
        b"+list\r\n" => out.push(c.cmd(&["LRANGE", key, "0", "-1"])),
        b"+set\r\n" => {
            let mut m = frame_elements(&c.cmd(&["SMEMBERS", key])).unwrap();
            m.sort();
            out.extend(m);
        }
        b"+zset\r\n" => out.push(c.cmd(&["ZRANGE", key, "0", "-1", "WITHSCORES"])),
        b"+hash\r\n" => {
            let e = frame_elements(&c.cmd(&["HGETALL", key])).unwrap();
            let mut pairs: Vec<_> = e.chunks(2).map(|p| p.to_vec()).collect();
            pairs.sort();
            out.extend(pairs.into_iter().flatten());
        }
        b"+stream\r\n" => out.push(c.cmd(&["XINFO", "STREAM", key, "FULL"])),
        other => panic!("unexpected type {:?}", String::from_utf8_lossy(other)),
    }
    out.push(c.cmd(&["OBJECT", "ENCODING", key]));
    out
}

fn s(v: &str) -> String {
    v.to_string()
}

/// Commands that build one key of each type and encoding.
fn dataset() -> Vec<Vec<String>> {
    let mut cmds: Vec<Vec<String>> = vec![
        vec![s("SET"), s("str:int"), s("12345")],
        vec![s("SET"), s("str:neg"), s("-100")],
        vec![s("SET"), s("str:big"), s("4294967296")],
        vec![s("SET"), s("str:emb"), s("hello world")],
        vec![s("SET"), s("str:lzf"), "a".repeat(100)],
        vec![
            s("SET"),
            s("str:raw"),
            (0..300)
                .map(|i| (b'!' + (i * 7 % 90) as u8) as char)
                .collect(),
        ],
        vec![s("SET"), s("str:empty"), s("")],
        vec![
            s("RPUSH"),
            s("list:small"),
            s("a"),
            s("1"),
            s("-7"),
            s("300"),
        ],
        vec![s("SADD"), s("set:int"), s("1"), s("-5"), s("100000")],
        vec![s("SADD"), s("set:str"), s("x"), s("y"), s("12")],
        vec![s("HSET"), s("hash:lp"), s("a"), s("1"), s("b"), s("hello")],
        vec![
            s("ZADD"),
            s("zset:lp"),
            s("1"),
            s("a"),
            s("2.5"),
            s("b"),
            s("-inf"),
            s("c"),
            s("0.1"),
            s("d"),
        ],
        vec![s("XADD"), s("stream:s"), s("1-1"), s("f"), s("v")],
    ];
    let mut big_list = vec![s("RPUSH"), s("list:big")];
    big_list.extend((0..3000).map(|i| format!("element-{i}")));
    cmds.push(big_list);
    let mut big_set = vec![s("SADD"), s("set:big")];
    big_set.extend((0..600).map(|i| i.to_string()));
    cmds.push(big_set);
    let mut big_hash = vec![s("HSET"), s("hash:ht")];
    for i in 0..200 {
        big_hash.push(format!("field{i}"));
        big_hash.push(format!("value{i}"));
    }
    cmds.push(big_hash);
    cmds.push(vec![s("HSET"), s("hash:long"), s("f"), "v".repeat(100)]);
    let mut big_zset = vec![s("ZADD"), s("zset:sl")];
    for i in 0..200 {
        big_zset.push(format!("{}", i as f64 / 3.0));
        big_zset.push(format!("m{i}"));
    }
    cmds.push(big_zset);
    for i in 1..=250 {
        cmds.push(vec![
            s("XADD"),
            s("stream:big"),
            format!("{i}-1"),
            s("name"),
            format!("n{i}"),
            s("val"),
            i.to_string(),
        ]);
    }
    cmds.push(vec![
        s("XADD"),
        s("stream:big"),
        s("300-1"),
        s("other"),
        s("x"),
    ]);
    cmds.push(vec![s("XDEL"), s("stream:big"), s("2-1"), s("150-1")]);
    cmds.push(vec![
        s("XGROUP"),
        s("CREATE"),
        s("stream:big"),
        s("g1"),
        s("0"),
    ]);
    cmds.push(vec![
        s("XGROUP"),
        s("CREATE"),
        s("stream:big"),
        s("g2"),
        s("$"),
    ]);
    cmds.push(vec![
        s("XREADGROUP"),
        s("GROUP"),
        s("g1"),
        s("alice"),
        s("COUNT"),
        s("3"),
        s("STREAMS"),
        s("stream:big"),
        s(">"),
    ]);
    cmds.push(vec![
        s("XGROUP"),
        s("CREATECONSUMER"),
        s("stream:big"),
        s("g1"),
        s("bob"),
    ]);
    cmds
}

fn keys_of(cmds: &[Vec<String>]) -> Vec<String> {
    let mut k: Vec<String> = cmds
        .iter()
        .filter(|c| !c[0].starts_with('X') || c[0] == "XADD")
        .map(|c| c[1].clone())
        .collect();
    k.sort();
    k.dedup();
    k
}

#[test]
fn every_type_round_trips_between_keel_and_redis() {
    let Some(redis) = common::redis_or_skip("every_type_round_trips_between_keel_and_redis") else {
        return;
    };
    drop(redis);
    let redis = Server::redis_with(&["--sanitize-dump-payload", "yes"]);
    let keel = Server::keel_with(&["--sanitize-dump-payload", "yes"]);
    let (mut r, mut k) = (redis.conn(), keel.conn());
    let cmds = dataset();
    for c in &cmds {
        let a = r.cmd(c);
        let b = k.cmd(c);
        if c[0] != "XREADGROUP" {
            assert_eq!(a, b, "setup {:?}", c);
        }
    }
    for key in keys_of(&cmds) {
        // Redis -> keel.
        let p = bulk(&r.cmd(&["DUMP", &key]));
        let into = format!("from-redis:{key}");
        assert_eq!(
            k.cmd(&[b"RESTORE", into.as_bytes(), b"0", &p]),
            b"+OK\r\n",
            "{key}"
        );
        assert_eq!(
            view(&mut r, &key),
            view(&mut k, &into),
            "redis -> keel {key}"
        );
        // keel -> Redis.
        let p = bulk(&k.cmd(&["DUMP", &key]));
        let into = format!("from-keel:{key}");
        assert_eq!(
            r.cmd(&[b"RESTORE", into.as_bytes(), b"0", &p]),
            b"+OK\r\n",
            "{key}"
        );
        assert_eq!(
            view(&mut k, &key),
            view(&mut r, &into),
            "keel -> redis {key}"
        );
        // Same bytes as Redis whenever the value's layout is deterministic
        // (not hashtables, whose order is the dict's, nor LZF).
        if !matches!(
            key.as_str(),
            "set:str" | "set:big" | "hash:ht" | "hash:long" | "stream:big"
        ) {
            r.cmd(&["CONFIG", "SET", "rdbcompression", "no"]);
            k.cmd(&["CONFIG", "SET", "rdbcompression", "no"]);
            let same = r.cmd(&["DUMP", &key]) == k.cmd(&["DUMP", &key]);
            assert!(same, "DUMP bytes of {key} differ");
            r.cmd(&["CONFIG", "SET", "rdbcompression", "yes"]);
            k.cmd(&["CONFIG", "SET", "rdbcompression", "yes"]);
        }
    }
}

#[test]
fn restore_options_and_errors() {
    let keel = Server::keel();
    let mut k = keel.conn();
    k.cmd(&["SET", "a", "hello"]);
    let p = bulk(&k.cmd(&["DUMP", "a"]));
    assert_eq!(k.cmd(&["DUMP", "nokey"]), b"$-1\r\n");
    assert_eq!(
        k.cmd(&[&b"RESTORE"[..], b"a", b"0", &p]),
        b"-BUSYKEY Target key name already exists.\r\n"
    );
    assert_eq!(
        k.cmd(&[&b"RESTORE"[..], b"b", b"-1", &p]),
        b"-ERR Invalid TTL value, must be >= 0\r\n"
    );
    let mut bad = p.clone();
    bad[1] ^= 0x55;
    assert_eq!(
        k.cmd(&[&b"RESTORE"[..], b"b", b"0", &bad]),
        b"-ERR DUMP payload version or checksum are wrong\r\n"
    );
    assert_eq!(
        k.cmd(&[&b"RESTORE"[..], b"b", b"0", &p, b"IDLETIME", b"-1"]),
        b"-ERR Invalid IDLETIME value, must be >= 0\r\n"
    );
    assert_eq!(
        k.cmd(&[&b"RESTORE"[..], b"b", b"0", &p, b"FREQ", b"256"]),
        b"-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n"
    );
    assert_eq!(
        k.cmd(&[
            &b"RESTORE"[..],
            b"b",
            b"0",
            &p,
            b"IDLETIME",
            b"1",
            b"FREQ",
            b"1"
        ]),
        b"-ERR syntax error\r\n"
    );
    // A sound footer around a truncated object.
    let mut trunc = vec![0u8, 20, b'x'];
    trunc.extend_from_slice(&[10, 0]);
    let crc = keel::persistence::rdb::crc64(0, &trunc);
    trunc.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(
        k.cmd(&[&b"RESTORE"[..], b"b", b"0", &trunc]),
        b"-ERR Bad data format\r\n"
    );
    assert_eq!(
        k.cmd(&[&b"RESTORE"[..], b"b", b"100000", &p, b"IDLETIME", b"1000"]),
        b"+OK\r\n"
    );
    // OBJECT does not touch the key; GET does.
    let idle = k.cmd(&["OBJECT", "IDLETIME", "b"]);
    assert!(idle == b":1000\r\n" || idle == b":1001\r\n", "{:?}", idle);
    assert_eq!(k.cmd(&["GET", "b"]), b"$5\r\nhello\r\n");
    let pttl: i64 = String::from_utf8(k.cmd(&["PTTL", "b"])[1..].to_vec())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pttl > 90_000 && pttl <= 100_000, "{pttl}");
    // ABSTTL in the past: nothing is created; REPLACE of a key deletes it.
    assert_eq!(
        k.cmd(&[&b"RESTORE"[..], b"c", b"1", &p, b"ABSTTL"]),
        b"+OK\r\n"
    );
    assert_eq!(k.cmd(&["EXISTS", "c"]), b":0\r\n");
    assert_eq!(
        k.cmd(&[&b"RESTORE"[..], b"a", b"1", &p, b"ABSTTL", b"REPLACE"]),
        b"+OK\r\n"
    );
    assert_eq!(k.cmd(&["EXISTS", "a"]), b":0\r\n");
}

fn restore_into(c: &mut RawConn, key: &str, from: &mut RawConn) {
    let p = bulk(&from.cmd(&["DUMP", key]));
    assert_eq!(
        c.cmd(&[b"RESTORE", key.as_bytes(), b"0", &p, b"REPLACE"]),
        b"+OK\r\n"
    );
}

fn migrate_between(src: &Server, dst: &Server) {
    let (mut s, mut d) = (src.conn(), dst.conn());
    let port = dst.port.to_string();
    s.cmd(&["FLUSHALL"]);
    d.cmd(&["FLUSHALL"]);
    s.cmd(&["RPUSH", "l", "a", "b", "c"]);
    s.cmd(&["SET", "x", "1"]);
    s.cmd(&["HSET", "h", "f", "v"]);
    s.cmd(&["SET", "ttl", "t", "PX", "100000"]);
    // Single key, moved.
    assert_eq!(
        s.cmd(&["MIGRATE", "127.0.0.1", &port, "l", "0", "5000"]),
        b"+OK\r\n"
    );
    assert_eq!(s.cmd(&["EXISTS", "l"]), b":0\r\n");
    assert_eq!(
        d.cmd(&["LRANGE", "l", "0", "-1"]),
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    // Missing key.
    assert_eq!(
        s.cmd(&["MIGRATE", "127.0.0.1", &port, "nokey", "0", "5000"]),
        b"+NOKEY\r\n"
    );
    // COPY keeps the source; the target then refuses without REPLACE.
    assert_eq!(
        s.cmd(&["MIGRATE", "127.0.0.1", &port, "x", "0", "5000", "COPY"]),
        b"+OK\r\n"
    );
    assert_eq!(s.cmd(&["GET", "x"]), b"$1\r\n1\r\n");
    let busy = s.cmd(&["MIGRATE", "127.0.0.1", &port, "x", "0", "5000", "COPY"]);
    assert_eq!(
        busy,
        b"-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    );
    s.cmd(&["SET", "x", "2"]);
    assert_eq!(
        s.cmd(&["MIGRATE", "127.0.0.1", &port, "x", "0", "5000", "REPLACE"]),
        b"+OK\r\n"
    );
    assert_eq!(d.cmd(&["GET", "x"]), b"$1\r\n2\r\n");
    // KEYS form, into another database, with a TTL carried over.
    assert_eq!(
        s.cmd(&[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "3",
            "5000",
            "KEYS",
            "h",
            "ttl",
            "gone"
        ]),
        b"+OK\r\n"
    );
    assert_eq!(s.cmd(&["EXISTS", "h", "ttl"]), b":0\r\n");
    d.cmd(&["SELECT", "3"]);
    assert_eq!(d.cmd(&["HGET", "h", "f"]), b"$1\r\nv\r\n");
    let pttl = String::from_utf8(d.cmd(&["PTTL", "ttl"])).unwrap();
    let pttl: i64 = pttl[1..].trim().parse().unwrap();
    assert!(pttl > 90_000, "{pttl}");
    // Errors before any I/O.
    assert_eq!(
        s.cmd(&["MIGRATE", "127.0.0.1", &port, "x", "0", "5000", "KEYS", "a"]),
        b"-ERR When using MIGRATE KEYS option, the key argument must be set to the empty string\r\n"
    );
    assert_eq!(
        s.cmd(&["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "AUTH"]),
        b"-ERR syntax error\r\n"
    );
}

#[test]
fn migrate_keel_to_keel() {
    let (a, b) = (Server::keel(), Server::keel());
    migrate_between(&a, &b);
    let mut c = a.conn();
    let info = String::from_utf8(c.cmd(&["INFO", "stats"])).unwrap();
    assert!(info.contains("migrate_cached_sockets:1"), "{info}");
}

#[test]
fn migrate_keel_to_redis_and_back() {
    let Some(redis) = common::redis_or_skip("migrate_keel_to_redis_and_back") else {
        return;
    };
    let keel = Server::keel();
    migrate_between(&keel, &redis);
    migrate_between(&redis, &keel);
    // keel can also restore what it reads back.
    let (mut k, mut r) = (keel.conn(), redis.conn());
    r.cmd(&["SET", "z", "zz"]);
    restore_into(&mut k, "z", &mut r);
    assert_eq!(k.cmd(&["GET", "z"]), b"$2\r\nzz\r\n");
}

#[test]
fn migrate_auth_and_io_errors() {
    let Some(redis) = common::redis_or_skip("migrate_auth_and_io_errors") else {
        return;
    };
    drop(redis);
    let target = Server::redis_with(&["--requirepass", "secret"]);
    let keel = Server::keel();
    let mut k = keel.conn();
    let port = target.port.to_string();
    k.cmd(&["SET", "a", "1"]);
    let r = k.cmd(&["MIGRATE", "127.0.0.1", &port, "a", "0", "5000", "COPY"]);
    assert_eq!(
        r,
        b"-ERR Target instance replied with error: NOAUTH Authentication required.\r\n"
    );
    let r = k.cmd(&[
        "MIGRATE",
        "127.0.0.1",
        &port,
        "a",
        "0",
        "5000",
        "AUTH",
        "secret",
    ]);
    assert_eq!(r, b"+OK\r\n");
    k.cmd(&["SET", "a", "2"]);
    let r = k.cmd(&[
        "MIGRATE",
        "127.0.0.1",
        &port,
        "a",
        "0",
        "5000",
        "REPLACE",
        "AUTH2",
        "default",
        "secret",
    ]);
    assert_eq!(r, b"+OK\r\n");
    let mut t = target.conn();
    t.cmd(&["AUTH", "secret"]);
    assert_eq!(t.cmd(&["GET", "a"]), b"$1\r\n2\r\n");
    // Nobody listens on this port.
    let dead = common::free_port().to_string();
    k.cmd(&["SET", "b", "1"]);
    assert_eq!(
        k.cmd(&["MIGRATE", "127.0.0.1", &dead, "b", "0", "1000"]),
        b"-IOERR error or timeout connecting to the client\r\n"
    );
}

#[test]
fn redis_loads_an_rdb_file_keel_saved() {
    use keel::keyspace::Db;
    use keel::persistence::rdb::{
        decode_object, save, verify_dump_payload, Limits, Reader, SaveOptions,
    };
    if !common::redis_available() {
        eprintln!("SKIPPED redis_loads_an_rdb_file_keel_saved: no redis-server");
        return;
    }
    let keel = Server::keel();
    let mut k = keel.conn();
    let cmds = dataset();
    for c in &cmds {
        k.cmd(c);
    }
    // The values keel holds, through its own DUMP payloads, into databases
    // 0 and 2 (one key with a TTL).
    let mut dbs: Vec<Db> = (0..16).map(|_| Db::new()).collect();
    let keys = keys_of(&cmds);
    for (i, key) in keys.iter().enumerate() {
        let p = bulk(&k.cmd(&["DUMP", key]));
        let (t, body) = verify_dump_payload(&p).unwrap();
        let v = decode_object(&mut Reader::new(body), t, &Limits::default())
            .unwrap()
            .unwrap();
        let db = if i % 2 == 0 { 0 } else { 2 };
        dbs[db].set(key.as_bytes(), v, false, 0);
        if key == "str:emb" {
            dbs[db].set_expire(key.as_bytes(), 4_102_444_800_000);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.rdb");
    let aux = vec![
        ("redis-ver".to_string(), b"7.0.15".to_vec()),
        ("redis-bits".to_string(), b"64".to_vec()),
        ("ctime".to_string(), b"1700000000".to_vec()),
        ("used-mem".to_string(), b"1000000".to_vec()),
        ("aof-base".to_string(), b"0".to_vec()),
    ];
    let opts = SaveOptions {
        aux,
        ..SaveOptions::default()
    };
    let file = std::fs::File::create(&path).unwrap();
    let mut n = 0;
    save(std::io::BufWriter::new(file), &dbs, &opts, &mut || n += 1).unwrap();
    assert_eq!(n, keys.len());
    let check = std::process::Command::new("redis-check-rdb")
        .arg(&path)
        .output();
    if let Ok(out) = check {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && text.contains("RDB looks OK"),
            "{text}"
        );
    }
    let redis = Server::redis_with(&[
        "--dir",
        dir.path().to_str().unwrap(),
        "--dbfilename",
        "dump.rdb",
    ]);
    let mut r = redis.conn();
    for (i, key) in keys.iter().enumerate() {
        let db = if i % 2 == 0 { "0" } else { "2" };
        r.cmd(&["SELECT", db]);
        assert_eq!(
            view(&mut k, key),
            view(&mut r, key),
            "{key} loaded by redis"
        );
    }
    r.cmd(&["SELECT", "2"]);
    let ttl = String::from_utf8(r.cmd(&["PEXPIRETIME", "str:emb"])).unwrap();
    let r0 = {
        r.cmd(&["SELECT", "0"]);
        String::from_utf8(r.cmd(&["PEXPIRETIME", "str:emb"])).unwrap()
    };
    assert!(
        ttl == ":4102444800000\r\n" || r0 == ":4102444800000\r\n",
        "{ttl} {r0}"
    );
}

#[test]
fn plain_list_nodes_match_redis() {
    if !common::redis_available() {
        eprintln!("SKIPPED plain_list_nodes_match_redis: no redis-server");
        return;
    }
    let redis = Server::redis_with(&["--enable-debug-command", "yes", "--rdbcompression", "no"]);
    let keel = Server::keel_with(&["--enable-debug-command", "yes", "--rdbcompression", "no"]);
    let (mut r, mut k) = (redis.conn(), keel.conn());
    let big = "p".repeat(150);
    for c in [&mut r, &mut k] {
        assert_eq!(
            c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100b"]),
            b"+OK\r\n"
        );
        c.cmd(&["RPUSH", "l", "a", "b", &big, "c", &big, &big, "d"]);
    }
    let (pr, pk) = (r.cmd(&["DUMP", "l"]), k.cmd(&["DUMP", "l"]));
    assert!(pr == pk, "DUMP of a list with plain nodes differs");
    // Each side restores the other's payload.
    let p = bulk(&pr);
    assert_eq!(k.cmd(&[b"RESTORE", &b"l2"[..], b"0", &p]), b"+OK\r\n");
    assert_eq!(
        k.cmd(&["LRANGE", "l2", "0", "-1"]),
        r.cmd(&["LRANGE", "l", "0", "-1"])
    );
    for c in [&mut r, &mut k] {
        c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"]);
    }
}
