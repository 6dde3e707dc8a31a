//! Snapshots: SAVE, BGSAVE in a forked child, save points, the child's
//! progress reports, and the state behind INFO persistence.
//!
//! A BGSAVE forks while the forking thread holds the server lock, so the
//! child writes a consistent image (`temp-<childpid>.rdb`, fsync, rename,
//! fsync of the directory) while the parent goes on serving. The child
//! reports progress and copy-on-write size through a pipe; the parent
//! reaps it from the cron and records the outcome with Redis's log lines.
//! A failed or killed child leaves the previous dump untouched.

use super::{atomic, fork, rdb};
use crate::server::{evict, now_ms, Server};
use crate::{log_notice, log_warning};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Seconds before a failed BGSAVE is retried by the save points.
pub const BGSAVE_RETRY_DELAY: i64 = 5;

/// Snapshot state of the server (Redis's rdb_* and child_* fields).
pub struct Snapshots {
    pub child: Option<Child>,
    /// Set while a dataset is being loaded (commands get -LOADING).
    pub loading: Option<std::sync::Arc<super::loading::LoadProgress>>,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    pub last_bgsave_ok: bool,
    /// Unix seconds of the last BGSAVE attempt.
    pub last_bgsave_try: i64,
    pub last_bgsave_time_sec: i64,
    pub bgsave_scheduled: bool,
    pub saves: u64,
    pub last_cow_size: u64,
    pub latest_fork_usec: u64,
    pub total_forks: u64,
    /// `dirty` when the running BGSAVE forked.
    pub dirty_before_bgsave: u64,
    /// Function libraries read from an RDB (keel runs no scripts, but
    /// keeps them so the next save writes them back).
    pub functions: Vec<Vec<u8>>,
}

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots {
            child: None,
            loading: None,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            last_bgsave_ok: true,
            last_bgsave_try: 0,
            last_bgsave_time_sec: -1,
            bgsave_scheduled: false,
            saves: 0,
            last_cow_size: 0,
            latest_fork_usec: 0,
            total_forks: 0,
            dirty_before_bgsave: 0,
            functions: Vec::new(),
        }
    }
}

/// A running BGSAVE child.
pub struct Child {
    pub pid: Pid,
    pub kind: ChildKind,
    pub start: Instant,
    pub keys_processed: u64,
    pub keys_total: u64,
    pub cow_size: u64,
    pub cow_peak: u64,
    pub cow_updated: Option<Instant>,
    /// Read end of the progress pipe (non-blocking).
    pipe: File,
    pending: Vec<u8>,
    pub final_cow: Option<u64>,
}

/// A progress record on the pipe: kind, keys processed, COW bytes.
const REPORT: usize = 24;
const REPORT_PROGRESS: u64 = 0;
const REPORT_DONE: u64 = 1;

/// The options of a save of `srv`'s dataset (`aof_base`: the AUX field
/// of an AOF base file).
fn save_options<'a>(
    srv: &'a Server,
    aof_base: bool,
    idle: &'a dyn Fn(u32) -> u64,
    freq: &'a dyn Fn(u32) -> u8,
) -> rdb::SaveOptions<'a> {
    let policy = srv.config.maxmemory_policy;
    let mut aux = vec![
        (
            "redis-ver".to_string(),
            crate::server::run::REDIS_VERSION.into(),
        ),
        ("redis-bits".to_string(), b"64".to_vec()),
        (
            "ctime".to_string(),
            (now_ms() / 1000).to_string().into_bytes(),
        ),
        (
            "used-mem".to_string(),
            evict::used_memory().to_string().into_bytes(),
        ),
    ];
    // Replication info (Redis's rdbPopulateSaveInfo): a replica loading
    // this file selects repl-stream-db for the stream that follows.
    aux.extend(crate::replication::rdb_aux(srv));
    aux.push((
        "aof-base".to_string(),
        if aof_base {
            b"1".to_vec()
        } else {
            b"0".to_vec()
        },
    ));
    rdb::SaveOptions {
        compress: srv.config.rdbcompression,
        checksum: srv.config.rdbchecksum,
        aux,
        functions: &srv.snapshots.functions,
        idle_of: policy.is_lru().then_some(idle),
        freq_of: policy.is_lfu().then_some(freq),
    }
}

/// Redis's debugDelay: sleep `us` microseconds per key; a negative value
/// sleeps 1 µs with probability 1/-us.
pub fn debug_delay(us: i64) {
    let us = if us < 0 {
        use rand::Rng;
        i64::from(rand::thread_rng().gen_range(0..-us) == 0)
    } else {
        us
    };
    if us > 0 {
        std::thread::sleep(Duration::from_micros(us as u64));
    }
}

/// Writes the dataset to `path` through `temp-<pid>.rdb` in the same
/// directory (the one way keel replaces a file). `on_key` runs after each
/// key (progress reports, rdb-key-save-delay).
pub fn write_rdb(
    srv: &Server,
    path: &Path,
    aof_base: bool,
    on_key: &mut dyn FnMut(),
) -> io::Result<u64> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
    atomic::write_file(path, &tmp, |w| save_dataset(srv, w, aof_base, on_key)).inspect_err(|e| {
        log_warning!("Write error saving DB on disk: {}", e);
    })
}

/// Runs `f` with `on_key` slowed by rdb-key-save-delay: SAVE, BGSAVE and
/// AOF rewrites all honour it (Redis's tests stretch children with it).
pub fn with_save_delay<R>(
    srv: &Server,
    on_key: &mut dyn FnMut(),
    f: impl FnOnce(&mut dyn FnMut()) -> R,
) -> R {
    let delay = srv.config.rdb_key_save_delay;
    if delay == 0 {
        return f(on_key);
    }
    f(&mut || {
        debug_delay(delay);
        on_key();
    })
}

/// Writes `srv`'s dataset as an RDB to `w` (the RDB file, or an AOF base
/// with `aof_base`), with IDLE/FREQ hints as the eviction policy asks.
pub fn save_dataset<W: Write>(
    srv: &Server,
    w: W,
    aof_base: bool,
    on_key: &mut dyn FnMut(),
) -> io::Result<u64> {
    let decay = srv.config.lfu_decay_time;
    let idle = |lru: u32| evict::idle_secs(lru);
    let freq = move |lru: u32| evict::lfu_counter(lru, decay).min(255) as u8;
    let opts = save_options(srv, aof_base, &idle, &freq);
    with_save_delay(srv, on_key, |each| rdb::save(w, &srv.dbs, &opts, each))
}

/// The RDB file path (dbfilename, relative to dir, which is the cwd).
pub fn rdb_path(srv: &Server) -> PathBuf {
    PathBuf::from(&srv.config.dbfilename)
}

/// SAVE (and the synchronous saves of SHUTDOWN, FLUSHALL, DEBUG RELOAD).
pub fn save(srv: &mut Server) -> io::Result<()> {
    let path = rdb_path(srv);
    write_rdb(srv, &path, false, &mut || {})?;
    log_notice!("DB saved on disk");
    srv.dirty = 0;
    srv.lastsave = now_ms() / 1000;
    srv.snapshots.last_bgsave_ok = true;
    Ok(())
}

/// Why a BGSAVE did not start.
#[derive(Debug)]
pub enum BgsaveError {
    InProgress,
    Fork(nix::Error),
}

/// Forks a child that saves the dataset (rdbSaveBackground).
pub fn bgsave(srv: &mut Server) -> Result<Pid, BgsaveError> {
    if srv.snapshots.child.is_some() {
        return Err(BgsaveError::InProgress);
    }
    srv.snapshots.saves += 1;
    srv.snapshots.dirty_before_bgsave = srv.dirty;
    srv.snapshots.last_bgsave_try = now_ms() / 1000;
    let path = rdb_path(srv);
    match fork_child(srv, ChildKind::Rdb, move |srv, report| {
        let res = write_rdb(srv, &path, false, report);
        if res.is_ok() {
            log_notice!("DB saved on disk");
        }
        res.is_ok()
    }) {
        Ok(pid) => {
            log_notice!("Background saving started by pid {}", pid);
            Ok(pid)
        }
        Err(e) => {
            srv.snapshots.last_bgsave_ok = false;
            log_warning!("Can't save in background: fork: {}", e.desc());
            Err(BgsaveError::Fork(e))
        }
    }
}

/// What a child process is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildKind {
    Rdb,
    AofRewrite,
}

impl ChildKind {
    fn label(self) -> &'static str {
        match self {
            ChildKind::Rdb => "RDB",
            ChildKind::AofRewrite => "AOF rewrite",
        }
    }
}

/// Forks a child that runs `job` on its copy of the server (the one
/// child at a time; the caller checked). `job` gets a per-key callback
/// that reports progress and returns success; the child logs its
/// copy-on-write size, reports it and exits 0 or 1.
pub fn fork_child(
    srv: &mut Server,
    kind: ChildKind,
    job: impl FnOnce(&Server, &mut dyn FnMut()) -> bool,
) -> nix::Result<Pid> {
    let (rx, tx) = nix::unistd::pipe()?;
    let keys_total: u64 = srv.dbs.iter().map(|d| d.len() as u64).sum();
    let started = Instant::now();
    let tx = File::from(tx);
    let srv_ref: &Server = srv;
    let pid = fork::fork_child(|| child_main(srv_ref, &tx, kind, job))?;
    let fork_us = started.elapsed().as_micros() as u64;
    srv.snapshots.latest_fork_usec = fork_us;
    srv.snapshots.total_forks += 1;
    let thr = srv.config.latency_monitor_threshold;
    srv.latency.add_if_needed(thr, "fork", fork_us / 1000);
    drop(tx);
    let pipe = File::from(rx);
    set_nonblocking(&pipe);
    srv.snapshots.child = Some(Child {
        pid,
        kind,
        start: started,
        keys_processed: 0,
        keys_total,
        cow_size: 0,
        cow_peak: 0,
        cow_updated: None,
        pipe,
        pending: Vec::new(),
        final_cow: None,
    });
    Ok(pid)
}

fn set_nonblocking(f: &File) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    if let Ok(bits) = fcntl(fd, FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_truncate(bits) | OFlag::O_NONBLOCK;
        let _ = fcntl(fd, FcntlArg::F_SETFL(flags));
    }
}

/// The child: run the job, report, exit code 0 on success and 1 on
/// failure.
fn child_main(
    srv: &Server,
    pipe: &File,
    kind: ChildKind,
    job: impl FnOnce(&Server, &mut dyn FnMut()) -> bool,
) -> i32 {
    crate::server::log::set_role('C');
    let mut processed = 0u64;
    let mut last = Instant::now();
    let report = |mut pipe: &File, what: u64, processed: u64, cow: u64| {
        let mut rec = [0u8; REPORT];
        rec[..8].copy_from_slice(&what.to_le_bytes());
        rec[8..16].copy_from_slice(&processed.to_le_bytes());
        rec[16..].copy_from_slice(&cow.to_le_bytes());
        let _ = pipe.write_all(&rec);
    };
    let ok = job(srv, &mut || {
        processed += 1;
        if processed & 63 == 0 && last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            report(pipe, REPORT_PROGRESS, processed, private_dirty());
        }
    });
    if !ok {
        return 1;
    }
    let cow = private_dirty();
    let mb = cow / (1024 * 1024);
    log_notice!(
        "Fork CoW for {}: current {} MB, peak {} MB, average {} MB",
        kind.label(),
        mb,
        mb,
        mb
    );
    report(pipe, REPORT_DONE, processed, cow);
    0
}

/// Bytes of this process's memory written since the fork (copy-on-write
/// copies), from the kernel's smaps: what Redis reports as COW size.
pub fn private_dirty() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/smaps_rollup") else {
        return 0;
    };
    s.lines()
        .filter(|l| l.starts_with("Private_Dirty:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

impl Child {
    /// Reads the progress records that arrived.
    fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
        while self.pending.len() >= REPORT {
            let rec: Vec<u8> = self.pending.drain(..REPORT).collect();
            let word = |i: usize| u64::from_le_bytes(rec[i * 8..i * 8 + 8].try_into().unwrap());
            let (kind, processed, cow) = (word(0), word(1), word(2));
            self.keys_processed = processed;
            self.cow_size = cow;
            self.cow_peak = self.cow_peak.max(cow);
            self.cow_updated = Some(Instant::now());
            if kind == REPORT_DONE {
                self.final_cow = Some(cow);
            }
        }
    }

    /// The share of keys saved so far (INFO current_fork_perc).
    pub fn progress_perc(&self) -> f64 {
        if self.keys_total == 0 {
            0.0
        } else {
            self.keys_processed as f64 * 100.0 / self.keys_total as f64
        }
    }
}

/// Reaps a finished child (checkChildrenDone + backgroundSaveDoneHandler).
pub fn check_child(srv: &mut Server) {
    let Some(child) = srv.snapshots.child.as_mut() else {
        return;
    };
    child.drain();
    let status = match waitpid(child.pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => return,
        Ok(s) => s,
        Err(e) => {
            log_warning!(
                "waitpid() returned an error: {}. child_type: {}, child_pid = {}",
                e.desc(),
                child.kind.label(),
                child.pid
            );
            WaitStatus::Exited(child.pid, 1)
        }
    };
    child.drain();
    let child = srv.snapshots.child.take().expect("present");
    match child.kind {
        ChildKind::Rdb => bgsave_done(srv, status, &child),
        ChildKind::AofRewrite => super::aof::control::rewrite_done(srv, status, &child),
    }
}

/// backgroundSaveDoneHandlerDisk.
fn bgsave_done(srv: &mut Server, status: WaitStatus, child: &Child) {
    let elapsed = child.start.elapsed().as_secs() as i64;
    match status {
        WaitStatus::Exited(_, 0) => {
            log_notice!("Background saving terminated with success");
            srv.dirty = srv.dirty.saturating_sub(srv.snapshots.dirty_before_bgsave);
            srv.lastsave = now_ms() / 1000;
            srv.snapshots.last_bgsave_ok = true;
        }
        WaitStatus::Exited(_, code) if code != fork::CHILD_NOERROR_RETVAL => {
            log_warning!("Background saving error");
            srv.snapshots.last_bgsave_ok = false;
        }
        WaitStatus::Signaled(_, sig, _) => {
            log_warning!("Background saving terminated by signal {}", sig as i32);
            remove_temp_file(child.pid);
            // A child killed on purpose (SIGUSR1) is not an error.
            if sig != Signal::SIGUSR1 {
                srv.snapshots.last_bgsave_ok = false;
            }
        }
        _ => {}
    }
    srv.snapshots.last_bgsave_time_sec = elapsed;
    if let Some(cow) = child.final_cow {
        srv.snapshots.last_cow_size = cow;
    }
    crate::replication::fork_done(srv, matches!(status, WaitStatus::Exited(_, 0)));
}

fn remove_temp_file(pid: Pid) {
    let _ = std::fs::remove_file(format!("temp-{}.rdb", pid));
}

/// Kills a running BGSAVE child (killRDBChild): the cron reaps it, and
/// its temporary file is removed. Waits for it when `wait` is set
/// (shutdown). An AOF rewrite child is left alone.
pub fn kill_child(srv: &mut Server, wait: bool) {
    if srv
        .snapshots
        .child
        .as_ref()
        .is_some_and(|c| c.kind == ChildKind::Rdb)
    {
        kill_and_reap(srv, wait);
    }
}

/// Kills whatever child runs and waits for it (shutdown, AOF switched
/// off), removing its temporary files.
pub fn kill_any_child(srv: &mut Server) {
    kill_and_reap(srv, true);
}

fn kill_and_reap(srv: &mut Server, wait: bool) {
    let Some(child) = srv.snapshots.child.as_ref() else {
        return;
    };
    let _ = kill(child.pid, Signal::SIGUSR1);
    if wait {
        let pid = child.pid;
        let _ = waitpid(pid, None);
        remove_temp_file(pid);
        let raw = pid.as_raw() as u32;
        let _ = std::fs::remove_file(super::aof::manifest::temp_rewrite_name(raw));
        let _ = std::fs::remove_file(super::aof::manifest::temp_rewrite_done_name(raw));
        srv.snapshots.child = None;
    }
}

/// Cron: reap the child, then start a BGSAVE for a save point that was
/// reached or a scheduled one.
pub fn cron(srv: &mut Server) {
    if srv.snapshots.loading.is_some() {
        return;
    }
    super::aof::control::cron(srv);
    if srv.snapshots.child.is_some() {
        check_child(srv);
        return;
    }
    let now = now_ms() / 1000;
    let retry_ok =
        now - srv.snapshots.last_bgsave_try > BGSAVE_RETRY_DELAY || srv.snapshots.last_bgsave_ok;
    let due = srv.config.save.iter().copied().find(|&(secs, changes)| {
        srv.dirty >= changes as u64 && now - srv.lastsave > secs && retry_ok
    });
    if let Some((secs, changes)) = due {
        log_notice!("{} changes in {} seconds. Saving...", changes, secs);
        let _ = bgsave(srv);
        return;
    }
    if srv.snapshots.bgsave_scheduled && retry_ok && bgsave(srv).is_ok() {
        srv.snapshots.bgsave_scheduled = false;
    }
}

/// True when writes must be refused because the last BGSAVE failed
/// (stop-writes-on-bgsave-error with save points configured).
pub fn writes_denied(srv: &Server) -> bool {
    srv.config.stop_writes_on_bgsave_error
        && srv.config.has_save_points()
        && !srv.snapshots.last_bgsave_ok
}

/// The MISCONF error Redis gives then.
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The persistence part of Redis's finishShutdown: kill a BGSAVE child;
/// an AOF rewrite child is killed too, unless it writes the first AOF of
/// an AOF switched on at runtime (then the shutdown fails without FORCE,
/// or the dataset would be lost); fsync the AOF; save the final snapshot
/// when save points are set (or SAVE was asked) unless NOSAVE. False when
/// the server must keep running (the reason was logged).
pub fn finish_shutdown(srv: &mut Server, flags: crate::server::shutdown::ShutdownFlags) -> bool {
    if let Some(c) = srv.snapshots.child.as_ref() {
        if c.kind == ChildKind::Rdb {
            log_warning!("There is a child saving an .rdb. Killing it!");
        } else {
            if srv.aof.status == super::aof::control::AofStatus::WaitRewrite {
                if flags.force {
                    log_warning!("Writing initial AOF. Exit anyway.");
                } else {
                    log_warning!("Writing initial AOF, can't exit.");
                    return false;
                }
            }
            log_warning!("There is a child rewriting the AOF. Killing it!");
        }
        kill_any_child(srv);
    }
    if srv.aof.is_on() {
        log_notice!("Calling fsync() on the AOF file.");
        super::aof::control::flush_and_sync(srv);
    }
    if (srv.config.has_save_points() && !flags.nosave) || flags.save {
        log_notice!("Saving the final RDB snapshot before exiting.");
        if save(srv).is_err() {
            if flags.force {
                log_warning!("Error trying to save the DB. Exit anyway.");
            } else {
                log_warning!("Error trying to save the DB, can't exit.");
                return false;
            }
        }
    }
    true
}
