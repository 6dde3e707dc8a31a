//! Crash safety of the append-only file (issue 6 point 6): keel-server runs
//! with `appendonly yes` while many clients write, is killed with SIGKILL at
//! a random moment (sometimes while a BGREWRITEAOF child runs), and is
//! restarted on the same directory, round after round.
//!
//! Each client `i` owns three keys (in database `i % 3`) and performs one
//! operation at a time, waiting for its reply, cycling through `INCR c:i`,
//! `RPUSH l:i n`, `SET s:i n`. So the state of its keys after `T` operations is a pure
//! function of `T` ([`state_after`]), and after a restart the state must be
//! exactly that of some `T` (no gap, no reordering, nothing half-applied).
//! Let `acked` be the number of operations the client got a reply for:
//! * `appendfsync always`: `acked <= T <= acked + 1` (the one in flight may
//!   or may not have made it), every round;
//! * `appendfsync everysec`: every operation acknowledged more than 3 s
//!   before the kill is present (Redis postpones a write behind a running
//!   fsync for up to 2 s and still replies; 1 s of slack), `T <= acked + 1`,
//!   and the files load;
//! * the same as `always` with automatic rewrites of an AOF-format base
//!   all the time (kills before, during and after rewrites);
//! * torn tail: the last incr file is cut at a random byte; the server
//!   starts (`aof-load-truncated yes`) and holds exactly the complete
//!   commands before the cut, per client; writes after that survive the
//!   next crash too (the server cut the file, so nothing is appended after
//!   garbage). With `aof-load-truncated no` it refuses and leaves the file
//!   alone.
//!
//! The random schedule is printed; `KEEL_CRASH_SEED=<n>` replays it.

mod common;

use common::{frame_elements, poll_until, Kind, RawConn, ReadEnd, Server};
use keel::persistence::aof::manifest::Manifest;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;
/// Client `i` works in database `i % DBS`, so the files interleave SELECTs
/// (and each new incr file must start with one).
const DBS: usize = 3;

/// The state of client `i`'s keys after `t` operations:
/// (INCR counter, list length, last SET value).
fn state_after(t: u64) -> (u64, u64, Option<u64>) {
    (t.div_ceil(3), (t + 1) / 3, (t >= 3).then(|| t / 3 - 1))
}

/// The operation number `t` of a client, as a command.
fn op(client: usize, t: u64) -> (Vec<String>, Vec<u8>) {
    let n = t / 3;
    match t % 3 {
        0 => (
            vec!["INCR".into(), format!("c:{client}")],
            format!(":{}\r\n", n + 1).into_bytes(),
        ),
        1 => (
            vec!["RPUSH".into(), format!("l:{client}"), n.to_string()],
            format!(":{}\r\n", n + 1).into_bytes(),
        ),
        _ => (
            vec!["SET".into(), format!("s:{client}"), n.to_string()],
            b"+OK\r\n".to_vec(),
        ),
    }
}

fn seed() -> u64 {
    std::env::var("KEEL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen())
}

fn int_or_nil(reply: &[u8]) -> Option<u64> {
    let s = String::from_utf8_lossy(reply);
    if s.starts_with("$-1") {
        return None;
    }
    let body = s.split("\r\n").nth(1).unwrap_or_default();
    Some(
        body.parse()
            .unwrap_or_else(|_| panic!("not an integer reply: {s:?}")),
    )
}

/// The bulk strings of an array frame (a command in a file, or a reply).
fn bulks(frame: &[u8]) -> Vec<Vec<u8>> {
    frame_elements(frame)
        .expect("an array")
        .iter()
        .map(|e| {
            let nl = e.windows(2).position(|w| w == b"\r\n").expect("a bulk");
            e[nl + 2..e.len() - 2].to_vec()
        })
        .collect()
}

/// Reads client `i`'s keys and returns the `T` they show; panics when they
/// match no `T` (a gap or a half-applied state).
fn observe(c: &mut RawConn, i: usize, what: &str) -> u64 {
    assert_eq!(c.cmd_str(&["SELECT", &(i % DBS).to_string()]), "+OK\r\n");
    let counter = int_or_nil(&c.cmd(&["GET", &format!("c:{i}")])).unwrap_or(0);
    let list_raw = c.cmd(&["LRANGE", &format!("l:{i}"), "0", "-1"]);
    let list: Vec<u64> = bulks(&list_raw)
        .iter()
        .map(|e| String::from_utf8_lossy(e).parse().expect("list item"))
        .collect();
    let set = int_or_nil(&c.cmd(&["GET", &format!("s:{i}")]));
    let len = list.len() as u64;
    let in_order: Vec<u64> = (0..len).collect();
    assert_eq!(list, in_order, "{what}: client {i}'s list has a gap");
    let lo = (3 * len).saturating_sub(1);
    (lo..=3 * len + 2)
        .find(|&t| state_after(t) == (counter, len, set))
        .unwrap_or_else(|| {
            panic!("{what}: client {i} shows counter {counter}, list len {len}, set {set:?}: no prefix of its operations")
        })
}

/// What one client thread did until the connection died.
struct Run {
    /// Operations acknowledged (the client's `T` counts from `start`).
    start: u64,
    /// When each acknowledged operation's reply arrived, in order.
    acks: Vec<Instant>,
}

fn client(
    addr: std::net::SocketAddr,
    i: usize,
    start: u64,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
) -> Run {
    let mut c = RawConn::connect(addr);
    let mut acks = Vec::new();
    if !c.try_send(&common::encode_cmd(&["SELECT", &(i % DBS).to_string()])) {
        return Run { start, acks };
    }
    match c.read_reply(Duration::from_secs(30)) {
        Ok(r) => assert_eq!(common::show(&r), "+OK\\r\\n", "client {i}: SELECT"),
        // Killed before this client got going (a loaded machine).
        Err(ReadEnd::Closed) => return Run { start, acks },
        Err(ReadEnd::Timeout) => panic!("client {i}: no reply to SELECT in 30 s"),
    }
    let mut t = start;
    while !stop.load(Ordering::Relaxed) {
        let (args, want) = op(i, t);
        if !c.try_send(&common::encode_cmd(&args)) {
            break;
        }
        match c.read_reply(Duration::from_secs(30)) {
            Ok(r) => {
                assert_eq!(
                    common::show(&r),
                    common::show(&want),
                    "client {i} op {t} {args:?}: wrong reply"
                );
                acks.push(Instant::now());
                acked.fetch_add(1, Ordering::Relaxed);
                t += 1;
            }
            Err(ReadEnd::Closed) => break,
            Err(ReadEnd::Timeout) => panic!("client {i}: no reply to {args:?} in 30 s"),
        }
    }
    Run { start, acks }
}

fn aof_args(policy: &'static str) -> Vec<&'static str> {
    vec!["--appendonly", "yes", "--appendfsync", policy]
}

/// Runs the clients from `starts` against `srv` for `run_for`, maybe
/// starting a BGREWRITEAOF in the middle, then SIGKILLs the server.
/// Returns each client's run and the moment of the kill.
fn traffic_then_kill(
    srv: &mut Server,
    starts: &[u64],
    run_for: Duration,
    rewrite_at: Option<Duration>,
) -> (Vec<Run>, Instant) {
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let addr = srv.addr();
    let handles: Vec<_> = starts
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let (stop, acked) = (stop.clone(), acked.clone());
            thread::spawn(move || client(addr, i, s, stop, acked))
        })
        .collect();
    let began = Instant::now();
    // The crash moment is the variable under test: traffic must be under
    // way (writes acknowledged) and have run for the drawn duration.
    let running_for = |d: Duration| {
        let acked = acked.clone();
        assert!(
            poll_until(d + Duration::from_secs(30), || {
                acked.load(Ordering::Relaxed) > 0 && began.elapsed() >= d
            }),
            "no write was acknowledged"
        );
    };
    if let Some(at) = rewrite_at {
        running_for(at.min(run_for));
        let r = srv.conn().cmd_str(&["BGREWRITEAOF"]);
        // An automatic rewrite may be running already.
        assert!(
            r.starts_with('+') || r.contains("rewriting already in progress"),
            "BGREWRITEAOF: {r}"
        );
    }
    running_for(run_for);
    assert!(srv.alive(), "the server died by itself:\n{}", srv.log());
    // The moment of the signal: reaping may take longer (a thread inside
    // fdatasync dies only when the call returns).
    let killed = Instant::now();
    srv.kill9();
    stop.store(true, Ordering::Relaxed);
    let runs = handles
        .into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect();
    (runs, killed)
}

fn observe_all(srv: &Server, what: &str) -> Vec<u64> {
    let mut c = srv.conn();
    (0..CLIENTS).map(|i| observe(&mut c, i, what)).collect()
}

/// Crash rounds under `policy`; `window` is how much acknowledged history
/// may be lost (zero for `always`).
fn crash_rounds(policy: &'static str, rounds: usize, window: Duration, run_ms: Range<u64>) {
    crash_rounds_with(policy, &[], rounds, window, run_ms)
}

fn crash_rounds_with(
    policy: &'static str,
    extra: &[&'static str],
    rounds: usize,
    window: Duration,
    run_ms: Range<u64>,
) {
    let seed = seed();
    eprintln!("aof_crash {policy}: KEEL_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::Builder::new()
        .prefix("keel-crash-")
        .tempdir()
        .expect("temp dir");
    let mut args = aof_args(policy);
    args.extend(extra);
    let mut starts = vec![0u64; CLIENTS];
    let mut total_acked = 0usize;
    let mut total_lost = 0u64;
    // Acknowledged operations that had to survive (older than the window).
    let mut total_must = 0u64;
    for round in 0..rounds {
        let mut srv = Server::start_in(Kind::Keel, dir.path(), &args);
        let what = format!("{policy} round {round} (seed {seed})");
        let seen = observe_all(&srv, &format!("{what}, at start"));
        assert_eq!(
            seen, starts,
            "{what}: state at start differs from the one observed after the last restart"
        );
        let run_for = Duration::from_millis(rng.gen_range(run_ms.clone()));
        let rewrite_at = rng
            .gen_bool(0.4)
            .then(|| Duration::from_millis(rng.gen_range(0..run_for.as_millis() as u64)));
        let (runs, killed) = traffic_then_kill(&mut srv, &starts, run_for, rewrite_at);
        let log = srv.log();
        drop(srv);
        let srv = Server::try_start_in(Kind::Keel, dir.path(), &args).unwrap_or_else(|f| {
            panic!("{what}: the server does not start after the crash: {f:?}\n--- log of the killed server ---\n{log}")
        });
        let after = observe_all(&srv, &format!("{what}, after restart"));
        for (i, run) in runs.iter().enumerate() {
            let acked = run.start + run.acks.len() as u64;
            let t = after[i];
            total_acked += run.acks.len();
            assert!(
                t <= acked + 1,
                "{what}: client {i} shows {t} operations but only {acked} were sent and acknowledged (+1 in flight)"
            );
            // Operations acknowledged before `killed - window` must be there
            // (with no window: every acknowledged one, even a reply read
            // after the kill).
            let must = if window.is_zero() {
                acked
            } else {
                run.start
                    + run
                        .acks
                        .iter()
                        .take_while(|&&at| at + window <= killed)
                        .count() as u64
            };
            assert!(
                t >= must,
                "{what}: client {i} lost acknowledged writes: {t} operations present, {acked} acknowledged, \
                 {must} acknowledged more than {window:?} before the kill (run {run_for:?}, rewrite at {rewrite_at:?})\n\
                 --- log of the killed server ---\n{log}\n--- log after restart ---\n{}",
                srv.log()
            );
            total_lost += acked.saturating_sub(t);
            total_must += must - run.start;
        }
        let lost: u64 = runs
            .iter()
            .zip(&after)
            .map(|(r, &t)| (r.start + r.acks.len() as u64).saturating_sub(t))
            .sum();
        // How long before the kill the oldest lost write was acknowledged.
        let oldest = runs
            .iter()
            .zip(&after)
            .filter_map(|(r, &t)| r.acks.get(t.checked_sub(r.start)? as usize))
            .map(|&at| killed.saturating_duration_since(at))
            .max();
        if lost > 0 {
            let slow: Vec<&str> = log.lines().filter(|l| l.contains("fsync")).collect();
            eprintln!(
                "{what}: {lost} acknowledged operations lost, the oldest acknowledged {oldest:?} before the kill \
                 (run {run_for:?}, rewrite at {rewrite_at:?}); fsync lines in the log: {slow:?}"
            );
        }
        starts = after;
        drop(srv);
    }
    eprintln!(
        "aof_crash {policy}: {rounds} rounds, {total_acked} acknowledged operations, {total_must} of them had to survive, \
         {total_lost} acknowledged but lost"
    );
    assert!(
        total_must > 0,
        "no acknowledged write was old enough to be checked"
    );
}

#[test]
fn always_keeps_every_acknowledged_write() {
    crash_rounds("always", 8, Duration::ZERO, 150..900);
}

#[test]
fn everysec_loses_at_most_the_last_seconds() {
    // Rounds longer than the window, so that some of each round's writes
    // must survive. The window is Redis's 2 s of postponed writes behind a
    // slow fsync, plus 1 s for a loaded machine's scheduling.
    crash_rounds("everysec", 4, Duration::from_millis(3000), 3300..4300);
}

/// Automatic rewrites all the time (an AOF-format base, rewritten
/// whenever the incr files grew 10 % past 16 kB): kills land before,
/// during and after rewrites, manifest switches and history deletion.
#[test]
fn always_with_automatic_rewrites_of_an_aof_base() {
    crash_rounds_with(
        "always",
        &[
            "--aof-use-rdb-preamble",
            "no",
            "--auto-aof-rewrite-percentage",
            "10",
            "--auto-aof-rewrite-min-size",
            "16kb",
        ],
        6,
        Duration::ZERO,
        150..900,
    );
}

/// The incr files in load order, from the manifest in `dir`.
fn incr_files(dir: &Path) -> Vec<PathBuf> {
    let adir = dir.join("appendonlydir");
    let text = std::fs::read(adir.join("appendonly.aof.manifest")).expect("manifest");
    let m = Manifest::parse(&text).expect("manifest parses");
    m.incrs.iter().map(|f| adir.join(f.display())).collect()
}

/// Per client, how many of its operations the complete commands in `data`
/// hold.
fn ops_in(data: &[u8]) -> Vec<u64> {
    let mut counts = vec![0u64; CLIENTS];
    let mut pos = 0;
    while let Some(n) = common::frame_len(&data[pos..]) {
        let args = bulks(&data[pos..pos + n]);
        pos += n;
        if let Some(key) = args.get(1) {
            let key = String::from_utf8_lossy(key);
            if let Some((_, i)) = key.split_once(':') {
                if let Ok(i) = i.parse::<usize>() {
                    counts[i] += 1;
                }
            }
        }
    }
    counts
}

#[test]
fn torn_tail_keeps_a_prefix() {
    let seed = seed();
    eprintln!("aof_crash torn tail: KEEL_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::Builder::new()
        .prefix("keel-torn-")
        .tempdir()
        .expect("temp dir");
    let args = aof_args("always");
    let mut srv = Server::start_in(Kind::Keel, dir.path(), &args);
    let starts = vec![0u64; CLIENTS];
    let run_for = Duration::from_millis(rng.gen_range(300..900));
    let (runs, _) = traffic_then_kill(&mut srv, &starts, run_for, None);
    drop(srv);
    let incrs = incr_files(dir.path());
    assert_eq!(incrs.len(), 1, "one incr file: {incrs:?}");
    let last = incrs.last().unwrap();
    let full = std::fs::read(last).expect("incr file");
    assert!(full.len() > 100, "the run wrote {} bytes", full.len());
    let cut = rng.gen_range(1..full.len());
    std::fs::write(last, &full[..cut]).expect("truncate");
    let want = ops_in(&full[..cut]);
    let torn = !ends_on_boundary(&full[..cut]);
    let what = format!("torn tail at {cut} of {} (seed {seed})", full.len());

    // aof-load-truncated no: refused, file untouched.
    let mut strict = args.clone();
    strict.extend(["--aof-load-truncated", "no"]);
    match Server::try_start_in(Kind::Keel, dir.path(), &strict) {
        Ok(_) if torn => panic!("{what}: started on a torn tail with aof-load-truncated no"),
        Ok(s) => drop(s),
        Err(f) => {
            assert!(
                torn,
                "{what}: refused a file that ends on a command boundary: {f:?}"
            );
            assert!(f.status.is_some(), "{what}: {f:?}");
            assert_eq!(
                std::fs::read(last).unwrap(),
                &full[..cut],
                "{what}: refused but changed the file"
            );
        }
    }

    let srv = Server::try_start_in(Kind::Keel, dir.path(), &args)
        .unwrap_or_else(|f| panic!("{what}: does not start with aof-load-truncated yes: {f:?}"));
    let after = observe_all(&srv, &what);
    assert_eq!(
        after, want,
        "{what}: not exactly the complete commands before the cut"
    );
    for (i, run) in runs.iter().enumerate() {
        assert!(after[i] <= run.acks.len() as u64 + 1, "{what}: client {i}");
    }
    drop(srv);

    // Writes after the repaired tail survive the next crash.
    let mut srv = Server::start_in(Kind::Keel, dir.path(), &args);
    let (runs, _) = traffic_then_kill(&mut srv, &after, Duration::from_millis(400), None);
    drop(srv);
    let srv = Server::try_start_in(Kind::Keel, dir.path(), &args)
        .unwrap_or_else(|f| panic!("{what}: does not start after the second crash: {f:?}"));
    let again = observe_all(&srv, &format!("{what}, second crash"));
    for (i, run) in runs.iter().enumerate() {
        let acked = run.start + run.acks.len() as u64;
        assert!(
            again[i] >= acked && again[i] <= acked + 1,
            "{what}: after the repaired tail, client {i} shows {} operations, {acked} acknowledged",
            again[i]
        );
    }
}

/// True when `data` ends exactly after a complete command.
fn ends_on_boundary(data: &[u8]) -> bool {
    let mut pos = 0;
    while let Some(n) = common::frame_len(&data[pos..]) {
        pos += n;
    }
    pos == data.len()
}
