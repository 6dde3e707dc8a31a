//! The AOF as the server drives it: starting it (creating, upgrading or
//! loading the files), feeding propagated commands and flushing them
//! before replies, rewrites in a forked child, switching it on and off at
//! runtime, and the INFO fields.
//!
//! Files: everything lives in `dir/appenddirname` (the working directory
//! is `dir`); the rewrite child writes `temp-rewriteaof-bg-<pid>.aof` in
//! `dir`, which the parent renames into the AOF directory as the new base.

use super::manifest::{self, Manifest};
use super::writer::AofWriter;
use crate::config::AppendFsync;
use crate::persistence::{atomic, snapshot};
use crate::server::{now_ms, Server};
use crate::{log_notice, log_warning};
use bytes::Bytes;
use nix::sys::wait::WaitStatus;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Redis's aof_state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AofStatus {
    #[default]
    Off,
    On,
    /// Switched on at runtime: writes go to the temp incr file until the
    /// first rewrite installs a base.
    WaitRewrite,
}

/// AOF state of the server.
#[derive(Default)]
pub struct Aof {
    pub status: AofStatus,
    pub writer: Option<AofWriter>,
    pub manifest: Manifest,
    /// Replaying the AOF: commands are not fed back into it.
    pub loading: bool,
    pub rewrite_scheduled: bool,
    pub last_rewrite_failed: bool,
    pub rewrites: u64,
    pub consecutive_failures: u64,
    pub last_rewrite_time_sec: Option<i64>,
    /// Base + incr sizes after the last rewrite or load (auto rewrite).
    pub rewrite_base_size: u64,
    /// Sizes of the base and of the incr files other than the current.
    pub base_size: u64,
    pub other_incr_size: u64,
    pub last_cow_size: u64,
    /// aofRewriteLimited's back-off: minutes, and when the next automatic
    /// rewrite may run (unix seconds, 0 = not limiting).
    limit_delay_minutes: i64,
    limit_next_time: i64,
    /// DEBUG AOF-FLUSH-SLEEP: µs to sleep before writing the buffer.
    pub flush_sleep_us: u64,
    /// The end of the event-loop round (see [`super::round`]).
    pub round: std::sync::Arc<super::round::Round>,
}

impl Aof {
    /// aof_current_size.
    pub fn current_size(&self) -> u64 {
        self.base_size + self.other_incr_size + self.writer.as_ref().map_or(0, |w| w.incr_size)
    }

    pub fn is_on(&self) -> bool {
        self.status != AofStatus::Off
    }
}

fn aof_dir(srv: &Server) -> PathBuf {
    PathBuf::from(&srv.config.appenddirname)
}

fn new_writer(srv: &Server) -> AofWriter {
    // Offsets go on from where the previous writer stopped.
    let fs = super::fsync::Fsyncer::start(srv.aof.round.next_start());
    srv.aof.round.wanted.notify_one();
    fs.inner_fatal(srv.config.appendfsync == AppendFsync::Always);
    AofWriter::new(srv.config.appendfsync, srv.config.aof_timestamp_enabled, fs)
}

/// Opens a file for appending (O_APPEND: every write lands at the end,
/// also after a partial write was cut back), emptied first if `truncate`.
fn open_append(path: &Path, truncate: bool) -> io::Result<File> {
    if truncate {
        File::create(path)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Propagation hook: appends a command to the AOF buffer.
pub fn feed(srv: &mut Server, db: usize, argv: &[Bytes]) {
    if srv.aof.loading {
        return;
    }
    let now = srv.clock_us / 1_000_000;
    if let Some(w) = srv.aof.writer.as_mut() {
        w.feed(db, argv, now);
    }
}

/// Before any reply of a batch leaves, the AOF buffer must have been
/// written, and under `appendfsync always` be durable: says what the
/// replies wait for (None: they may leave now).
///
/// The write itself is left to the end of the event-loop round
/// ([`flush_round`], as Redis writes in beforeSleep before it sends the
/// replies): every batch of the round shares one write(2) and, under
/// `always`, one fdatasync.
pub fn flush_before_reply(srv: &mut Server) -> Option<AofWait> {
    srv.aof.writer.as_ref()?;
    let skip = skip_fsync(srv);
    let sleep = srv.aof.flush_sleep_us;
    let round = srv.aof.round.clone();
    let w = srv.aof.writer.as_mut()?;
    // no-appendfsync-on-rewrite: while a child runs nothing is fsynced,
    // so replies cannot wait for it (Redis's documented trade-off).
    let durable = w.policy == AppendFsync::Always && !skip;
    if w.buf.is_empty() {
        // Written by an earlier round, maybe not durable yet.
        return w.reply_ticket().filter(|_| durable).map(AofWait::Durable);
    }
    if sleep == 0 && w.has_file() {
        round.wanted.notify_one();
        let end = w.written + w.buf.len() as u64;
        return Some(if durable {
            AofWait::Durable(end)
        } else {
            AofWait::Written(end)
        });
    }
    // DEBUG AOF-FLUSH-SLEEP: the batch writes (and sleeps) itself.
    if sleep > 0 {
        std::thread::sleep(std::time::Duration::from_micros(sleep));
    }
    w.flush(false, skip, now_ms());
    w.reply_ticket().filter(|_| durable).map(AofWait::Durable)
}

/// What a batch's replies wait for (logical AOF offsets, see
/// [`super::round`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AofWait {
    /// The round's write of the buffer up to here was attempted (it may
    /// have been postponed or have failed under everysec/no, as in Redis:
    /// the replies leave, the buffer is kept and retried).
    Written(u64),
    /// Written and fdatasync'ed up to here (appendfsync always).
    Durable(u64),
}

/// The end of an event-loop round (the task in server/run.rs calls it
/// once the batches that were ready have run): writes what they left in
/// the buffer, asks the fsync thread to make it durable, and releases the
/// replies that only waited for the write.
pub fn flush_round(srv: &mut Server) {
    let skip = skip_fsync(srv);
    if let Some(w) = srv.aof.writer.as_mut() {
        let attempted = w.written + w.buf.len() as u64;
        let inline = w.policy == AppendFsync::Always && !skip;
        w.inline_always = inline;
        w.flush(false, skip, now_ms());
        w.inline_always = false;
        if inline && w.written > w.fsync.synced() {
            if let Err(e) = w.sync_now() {
                log_warning!(
                    "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                    e
                );
                std::process::exit(1);
            }
            srv.aof.round.advance(w.written);
        }
        srv.aof.round.attempted(attempted);
    }
}

/// no-appendfsync-on-rewrite with a child running.
fn skip_fsync(srv: &Server) -> bool {
    srv.config.no_appendfsync_on_rewrite && srv.snapshots.child.is_some()
}

/// Writes are refused while the last AOF write failed (MISCONF).
pub fn write_error(srv: &Server) -> Option<String> {
    srv.aof
        .writer
        .as_ref()
        .and_then(|w| w.write_error.clone())
        .map(|e| format!("MISCONF Errors writing to the AOF file: {e}"))
}

/// Cron: retry postponed or failed writes, pick up fsync errors, start a
/// scheduled or automatic rewrite.
pub fn cron(srv: &mut Server) {
    let skip = skip_fsync(srv);
    if let Some(w) = srv.aof.writer.as_mut() {
        w.flush(false, skip, now_ms());
        if let Some(e) = w.fsync.take_error() {
            w.write_error = Some(crate::config::special::strerror(&e));
        }
    }
    if srv.snapshots.child.is_some() || srv.snapshots.loading.is_some() {
        return;
    }
    if srv.aof.rewrite_scheduled {
        let _ = rewrite_background(srv);
        return;
    }
    if srv.aof.status == AofStatus::On && srv.config.auto_aof_rewrite_percentage > 0 {
        let cur = srv.aof.current_size();
        let base = srv.aof.rewrite_base_size.max(1);
        let growth = (cur * 100 / base) as i64 - 100;
        if cur as i64 > srv.config.auto_aof_rewrite_min_size
            && growth >= srv.config.auto_aof_rewrite_percentage
            && !rewrite_limited(&mut srv.aof)
        {
            log_notice!("Starting automatic rewriting of AOF on {}% growth", growth);
            let _ = rewrite_background(srv);
        }
    }
}

/// After 3 consecutive failed rewrites, automatic ones back off for 1,
/// 2, 4 ... up to 60 minutes (aofRewriteLimited). BGREWRITEAOF still runs.
fn rewrite_limited(a: &mut Aof) -> bool {
    if a.consecutive_failures < 3 {
        a.limit_delay_minutes = 0;
        a.limit_next_time = 0;
        return false;
    }
    let now = now_ms() / 1000;
    if a.limit_next_time != 0 {
        if now < a.limit_next_time {
            return true;
        }
        a.limit_next_time = 0;
        return false;
    }
    a.limit_delay_minutes = if a.limit_delay_minutes == 0 {
        1
    } else {
        (a.limit_delay_minutes * 2).min(60)
    };
    a.limit_next_time = now + a.limit_delay_minutes * 60;
    log_warning!(
        "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
        a.limit_delay_minutes
    );
    true
}

/// Shutdown: write and fsync everything.
pub fn flush_and_sync(srv: &mut Server) {
    if let Some(w) = srv.aof.writer.as_mut() {
        w.flush(true, false, now_ms());
        match w.sync_now() {
            Ok(()) => srv.aof.round.advance(w.written),
            Err(e) => log_warning!("Fail to fsync the AOF file: {}", e),
        }
    }
}

/// Writes a base file (RDB preamble or commands) of `srv`'s dataset to
/// `dest` through `tmp`. `on_key` runs after every key.
pub fn write_base(
    srv: &Server,
    dest: &Path,
    tmp: &Path,
    on_key: &mut dyn FnMut(),
) -> io::Result<u64> {
    if srv.config.aof_use_rdb_preamble {
        atomic::write_file(dest, tmp, |w| snapshot::save_dataset(srv, w, true, on_key))
    } else {
        let ts = srv.config.aof_timestamp_enabled.then(|| now_ms() / 1000);
        snapshot::with_save_delay(srv, on_key, |each| {
            atomic::write_file(dest, tmp, |w| {
                super::rewrite_cmds::write_commands_with(
                    w,
                    &srv.dbs,
                    &srv.snapshots.functions,
                    ts,
                    each,
                )
            })
        })
    }
}

/// Opens the incr file to append to (creating one when the manifest has
/// none) and persists the manifest: the last steps of starting with AOF.
fn open_incr(srv: &mut Server) -> io::Result<()> {
    let dir = aof_dir(srv);
    let name = srv.config.appendfilename.clone();
    let (incr, _created) = srv.aof.manifest.last_incr_or_new(&name);
    let path = dir.join(String::from_utf8_lossy(&incr).as_ref());
    let file = open_append(&path, false)?;
    let size = file.metadata()?.len();
    srv.aof.manifest.persist(&dir, &name)?;
    let mut w = new_writer(srv);
    w.set_file(Some(file), size);
    srv.aof.writer = Some(w);
    srv.aof.status = AofStatus::On;
    Ok(())
}

/// Sizes of the manifest's files (INFO, auto rewrite).
fn recompute_sizes(srv: &mut Server) {
    let dir = aof_dir(srv);
    let m = &srv.aof.manifest;
    srv.aof.base_size = m.base.as_ref().map_or(0, |b| file_size(&b.path_in(&dir)));
    let n = m.incrs.len();
    srv.aof.other_incr_size = m
        .incrs
        .iter()
        .take(n.saturating_sub(1))
        .map(|f| file_size(&f.path_in(&dir)))
        .sum();
}

/// Starting with `appendonly yes` and no AOF yet: write the first base
/// (of the dataset loaded from dump.rdb, if any: keel keeps that data
/// where Redis would start empty), the first incr, the manifest.
pub fn create_fresh(srv: &mut Server) -> io::Result<()> {
    let dir = aof_dir(srv);
    std::fs::create_dir_all(&dir)?;
    atomic::fsync_dir(Path::new("."))?;
    let name = srv.config.appendfilename.clone();
    let preamble = srv.config.aof_use_rdb_preamble;
    let base = String::from_utf8_lossy(&srv.aof.manifest.new_base(&name, preamble)).into_owned();
    log_notice!("Creating AOF base file {} on server start", base);
    let tmp = dir.join(format!("temp-{base}"));
    write_base(srv, &dir.join(&base), &tmp, &mut || {})?;
    srv.aof.manifest.new_incr(&name);
    open_incr(srv)?;
    recompute_sizes(srv);
    srv.aof.rewrite_base_size = srv.aof.current_size();
    Ok(())
}

/// An old single-file AOF: move it into the AOF directory as base 1.
pub fn upgrade(srv: &mut Server) -> io::Result<()> {
    let name = srv.config.appendfilename.clone();
    let dirname = srv.config.appenddirname.clone();
    super::startup::perform_upgrade(Path::new("."), &dirname, &name, &mut srv.aof.manifest)?;
    log_notice!(
        "Successfully migrated an old-style AOF file ({}) into the AOF directory ({}).",
        name,
        dirname
    );
    Ok(())
}

/// After the files were loaded: append to the last incr.
pub fn finish_load(srv: &mut Server) -> io::Result<()> {
    open_incr(srv)?;
    if !srv.config.aof_disable_auto_gc {
        delete_history(srv);
    }
    recompute_sizes(srv);
    srv.aof.rewrite_base_size = srv.aof.current_size();
    Ok(())
}

/// Removes the history files of the manifest (aofDelHistoryFiles).
pub fn delete_history(srv: &mut Server) {
    let dir = aof_dir(srv);
    let name = srv.config.appendfilename.clone();
    let hist = srv.aof.manifest.take_history();
    if hist.is_empty() {
        return;
    }
    if let Err(e) = srv.aof.manifest.persist(&dir, &name) {
        log_warning!("Error persisting the AOF manifest: {}", e);
        return;
    }
    for f in hist {
        match std::fs::remove_file(f.path_in(&dir)) {
            Ok(()) => log_notice!(
                "Removing the history file {} in the background",
                f.display()
            ),
            Err(e) => log_warning!("Failed to remove {}: {}", f.display(), e),
        }
    }
}

/// BGREWRITEAOF (rewriteAppendOnlyFileBackground): a new incr file takes
/// the writes from now on (persisted in the manifest before the fork),
/// and a child writes the new base.
pub fn rewrite_background(srv: &mut Server) -> Result<(), String> {
    if srv.snapshots.child.is_some() {
        return Err("child".into());
    }
    srv.aof.rewrite_scheduled = false;
    let dir = aof_dir(srv);
    let name = srv.config.appendfilename.clone();
    if srv.aof.status == AofStatus::On {
        if let Some(w) = srv.aof.writer.as_mut() {
            w.flush(true, false, now_ms());
            if let Err(e) = w.sync_now() {
                log_warning!("Fail to fsync the AOF file: {}", e);
            }
        }
        let mut m = srv.aof.manifest.clone();
        let incr = m.new_incr(&name);
        let path = dir.join(String::from_utf8_lossy(&incr).as_ref());
        let opened = open_append(&path, true).and_then(|f| {
            m.persist(&dir, &name)?;
            Ok(f)
        });
        match opened {
            Ok(f) => {
                let prev = srv.aof.writer.as_ref().map_or(0, |w| w.incr_size);
                srv.aof.other_incr_size += prev;
                srv.aof.manifest = m;
                if let Some(w) = srv.aof.writer.as_mut() {
                    w.set_file(Some(f), 0);
                }
            }
            Err(e) => {
                log_warning!("Can't open the append-only file {}: {}", path.display(), e);
                srv.aof.last_rewrite_failed = true;
                return Err(e.to_string());
            }
        }
    }
    if srv.aof.status == AofStatus::WaitRewrite {
        // Switched on at runtime: the snapshot will hold everything up to
        // the fork, so the temp incr file starts empty now and takes the
        // writes that follow (openNewIncrAofForAppend).
        let path = dir.join(manifest::temp_incr_name(&name));
        match open_append(&path, true) {
            Ok(f) => {
                if let Some(w) = srv.aof.writer.as_mut() {
                    w.buf.clear();
                    w.set_file(Some(f), 0);
                }
            }
            Err(e) => {
                log_warning!("Can't open the append-only file {}: {}", path.display(), e);
                srv.aof.last_rewrite_failed = true;
                return Err(e.to_string());
            }
        }
    }
    srv.aof.rewrites += 1;
    let res = snapshot::fork_child(srv, snapshot::ChildKind::AofRewrite, |srv, report| {
        let pid = std::process::id();
        let tmp = PathBuf::from(manifest::temp_rewrite_name(pid));
        let done = PathBuf::from(manifest::temp_rewrite_done_name(pid));
        match write_base(srv, &done, &tmp, report) {
            Ok(_) => {
                log_notice!(
                    "Successfully created the temporary AOF base file {}",
                    done.display()
                );
                true
            }
            Err(e) => {
                log_warning!("Error writing the AOF rewrite: {}", e);
                false
            }
        }
    });
    match res {
        Ok(pid) => {
            log_notice!(
                "Background append only file rewriting started by pid {}",
                pid
            );
            Ok(())
        }
        Err(e) => {
            srv.aof.last_rewrite_failed = true;
            log_warning!(
                "Can't rewrite append only file in background: fork: {}",
                e.desc()
            );
            Err(e.desc().to_string())
        }
    }
}

/// The rewrite child ended (backgroundRewriteDoneHandler).
pub fn rewrite_done(srv: &mut Server, status: WaitStatus, child: &snapshot::Child) {
    srv.aof.last_rewrite_time_sec = Some(child.start.elapsed().as_secs() as i64);
    let done = PathBuf::from(manifest::temp_rewrite_done_name(child.pid.as_raw() as u32));
    let ok = matches!(status, WaitStatus::Exited(_, 0));
    if ok {
        match install_rewrite(srv, &done) {
            Ok(()) => {
                log_notice!("Background AOF rewrite terminated with success");
                log_notice!("Background AOF rewrite finished successfully");
                srv.aof.last_rewrite_failed = false;
                srv.aof.consecutive_failures = 0;
                if let Some(c) = child.final_cow {
                    srv.aof.last_cow_size = c;
                }
                return;
            }
            Err(e) => log_warning!("Error trying to install the rewritten AOF: {}", e),
        }
    } else {
        match status {
            WaitStatus::Signaled(_, sig, _) => {
                log_warning!("Background AOF rewrite terminated by signal {}", sig as i32)
            }
            _ => log_warning!("Background AOF rewrite terminated with error"),
        }
    }
    let _ = std::fs::remove_file(&done);
    let _ = std::fs::remove_file(manifest::temp_rewrite_name(child.pid.as_raw() as u32));
    let killed_on_purpose = matches!(
        status,
        WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGUSR1, _)
    );
    if !killed_on_purpose {
        srv.aof.last_rewrite_failed = true;
        srv.aof.consecutive_failures += 1;
    }
    // AOF switched on at runtime needs its first base: try again (the
    // next attempt starts a fresh temp incr file).
    if srv.aof.status == AofStatus::WaitRewrite {
        let tmp = manifest::temp_incr_name(&srv.config.appendfilename);
        log_notice!("Removing the temp incr aof file {} in the background", tmp);
        let _ = std::fs::remove_file(aof_dir(srv).join(&tmp));
        if let Some(w) = srv.aof.writer.as_mut() {
            w.set_file(None, 0);
        }
        srv.aof.rewrite_scheduled = true;
    }
}

/// Installs the child's file as the new base; the rewritten incr files
/// become history (deleted unless aof-disable-auto-gc).
fn install_rewrite(srv: &mut Server, done: &Path) -> io::Result<()> {
    let dir = aof_dir(srv);
    let name = srv.config.appendfilename.clone();
    let from_temp = srv.aof.status == AofStatus::WaitRewrite;
    let mut m = srv.aof.manifest.clone();
    let (base, incr) = m.install_rewrite(
        &name,
        srv.config.aof_use_rdb_preamble,
        from_temp,
        srv.aof.status == AofStatus::On,
    );
    std::fs::create_dir_all(&dir)?;
    atomic::rename_durable(done, &dir.join(String::from_utf8_lossy(&base).as_ref()))?;
    if let Some(incr) = incr {
        atomic::rename_durable(
            &dir.join(manifest::temp_incr_name(&name)),
            &dir.join(String::from_utf8_lossy(&incr).as_ref()),
        )?;
    }
    m.persist(&dir, &name)?;
    srv.aof.manifest = m;
    if from_temp {
        srv.aof.status = AofStatus::On;
    }
    if !srv.config.aof_disable_auto_gc {
        delete_history(srv);
    }
    recompute_sizes(srv);
    srv.aof.rewrite_base_size = srv.aof.current_size();
    Ok(())
}

/// CONFIG SET appendonly yes (startAppendOnly): writes go to a temp incr
/// file until a rewrite has written the first base.
pub fn start_runtime(srv: &mut Server) -> Result<(), String> {
    if srv.aof.is_on() {
        return Ok(());
    }
    let dir = aof_dir(srv);
    let name = srv.config.appendfilename.clone();
    std::fs::create_dir_all(&dir).map_err(|e| {
        log_warning!(
            "Redis needs to enable the AOF but can't create the AOF directory: {}",
            e
        );
        e.to_string()
    })?;
    // Whatever the manifest held, a new base replaces it.
    srv.aof.manifest = read_manifest(&dir, &name).unwrap_or_default();
    // The rewrite opens the temp incr file when it forks; until then the
    // commands only need to be in the snapshot.
    srv.aof.writer = Some(new_writer(srv));
    srv.aof.status = AofStatus::WaitRewrite;
    if srv.snapshots.child.is_some() {
        srv.aof.rewrite_scheduled = true;
        log_warning!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
        return Ok(());
    }
    if srv.exec_depth > 0 {
        // Redis does not fork from inside EXEC: the cron starts it.
        srv.aof.rewrite_scheduled = true;
        log_warning!("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
        return Ok(());
    }
    if let Err(e) = rewrite_background(srv) {
        stop(srv);
        log_warning!("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
        return Err(e);
    }
    Ok(())
}

fn read_manifest(dir: &Path, name: &str) -> Option<Manifest> {
    let text = std::fs::read(dir.join(manifest::manifest_name(name))).ok()?;
    Manifest::parse(&text).ok()
}

/// CONFIG SET appendonly no (stopAppendOnly).
pub fn stop(srv: &mut Server) {
    flush_and_sync(srv);
    if let Some(w) = srv.aof.writer.take() {
        w.fsync.stop();
        srv.aof.round.wanted.notify_one();
    }
    if srv
        .snapshots
        .child
        .as_ref()
        .is_some_and(|c| c.kind == snapshot::ChildKind::AofRewrite)
    {
        log_notice!("Killing running AOF rewrite child");
        snapshot::kill_any_child(srv);
    }
    if srv.aof.status == AofStatus::WaitRewrite {
        let dir = aof_dir(srv);
        let _ =
            std::fs::remove_file(dir.join(manifest::temp_incr_name(&srv.config.appendfilename)));
    }
    srv.aof.status = AofStatus::Off;
    srv.aof.rewrite_scheduled = false;
}

/// CONFIG SET appendfsync.
pub fn set_policy(srv: &mut Server, policy: AppendFsync) {
    if let Some(w) = srv.aof.writer.as_mut() {
        // Replies waiting under `always` get what they wait for.
        if w.policy == AppendFsync::Always && policy != AppendFsync::Always {
            w.flush(true, false, now_ms());
            w.fsync.request(w.written);
        }
        w.policy = policy;
        w.fsync.inner_fatal(policy == AppendFsync::Always);
    }
}

/// The aof_* lines of INFO persistence.
pub fn info(srv: &Server, out: &mut String) {
    use std::fmt::Write;
    let a = &srv.aof;
    let rewriting = srv
        .snapshots
        .child
        .as_ref()
        .filter(|c| c.kind == snapshot::ChildKind::AofRewrite);
    let w = a.writer.as_ref();
    let _ = write!(
        out,
        "aof_enabled:{}\r\n\
         aof_rewrite_in_progress:{}\r\n\
         aof_rewrite_scheduled:{}\r\n\
         aof_last_rewrite_time_sec:{}\r\n\
         aof_current_rewrite_time_sec:{}\r\n\
         aof_last_bgrewrite_status:{}\r\n\
         aof_rewrites:{}\r\n\
         aof_rewrites_consecutive_failures:{}\r\n\
         aof_last_write_status:{}\r\n\
         aof_last_cow_size:{}\r\n\
         module_fork_in_progress:0\r\n\
         module_fork_last_cow_size:0\r\n",
        u8::from(a.is_on()),
        u8::from(rewriting.is_some()),
        u8::from(a.rewrite_scheduled),
        a.last_rewrite_time_sec.unwrap_or(-1),
        rewriting.map_or(-1, |c| c.start.elapsed().as_secs() as i64),
        if a.last_rewrite_failed { "err" } else { "ok" },
        a.rewrites,
        a.consecutive_failures,
        if w.is_some_and(|w| w.write_error.is_some()) {
            "err"
        } else {
            "ok"
        },
        a.last_cow_size,
    );
    if a.is_on() {
        let _ = write!(
            out,
            "aof_current_size:{}\r\n\
             aof_base_size:{}\r\n\
             aof_pending_rewrite:{}\r\n\
             aof_buffer_length:{}\r\n\
             aof_pending_bio_fsync:{}\r\n\
             aof_delayed_fsync:{}\r\n",
            a.current_size(),
            a.base_size,
            u8::from(a.rewrite_scheduled),
            w.map_or(0, |w| w.buf.len()),
            u8::from(w.is_some_and(|w| w.fsync.pending())),
            w.map_or(0, |w| w.delayed_fsync),
        );
    }
}

/// DEBUG LOADAOF: write out the AOF, empty the dataset and load it back
/// from the files the manifest on disk lists (history files removed).
/// False (after logging why) when it could not be loaded.
pub fn debug_loadaof(srv: &mut Server) -> bool {
    if srv.aof.status == AofStatus::On {
        flush_and_sync(srv);
    }
    for db in srv.dbs.iter_mut() {
        db.clear();
    }
    let dir = aof_dir(srv);
    let name = srv.config.appendfilename.clone();
    let manifest = match std::fs::read(dir.join(manifest::manifest_name(&name))) {
        Ok(text) => match Manifest::parse(&text) {
            Ok(m) => m,
            Err(e) => {
                for l in e.log_lines() {
                    log_warning!("{}", l);
                }
                return false;
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Manifest::default(),
        Err(e) => {
            log_warning!("Can't read the AOF manifest: {}", e);
            return false;
        }
    };
    srv.aof.manifest = manifest.clone();
    if !srv.config.aof_disable_auto_gc {
        delete_history(srv);
    }
    let progress = crate::persistence::loading::LoadProgress::new(0, &srv.config);
    srv.aof.loading = true;
    let res = {
        let access = super::loader::Direct(std::cell::RefCell::new(&mut *srv));
        super::loader::load_all(&access, &manifest, &progress)
    };
    srv.aof.loading = false;
    match res {
        Ok(()) => {
            srv.dirty = 0;
            log_warning!("Append Only File loaded by DEBUG LOADAOF");
            true
        }
        Err(lines) => {
            for l in lines {
                log_warning!("{}", l);
            }
            false
        }
    }
}
