//! Loading an RDB file into databases: at start (on a thread, while
//! clients get -LOADING) and for DEBUG RELOAD (in place). The decoder
//! hands each key to a [`DbSink`], which applies Redis's rules: keys
//! already expired are dropped on a master, duplicates are an error
//! unless merging, IDLE/FREQ become the key's LRU/LFU data, and progress
//! feeds INFO's loading_* fields.

use super::rdb::{self, KeyMeta, LoadSink};
use crate::config::Config;
use crate::keyspace::{Db, Entry, KBytes, Value, NO_EXPIRE};
use crate::server::{evict, now_ms};
use crate::{log_notice, log_warning};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Progress of a running load (INFO loading_*).
pub struct LoadProgress {
    pub start_unix: i64,
    pub start: Instant,
    pub total_bytes: u64,
    loaded_bytes: AtomicU64,
    /// used-mem recorded in the file's AUX fields.
    pub rdb_used_mem: AtomicU64,
    /// loading-process-events-interval-bytes: Redis serves clients only
    /// after that much of a load, so a client arriving earlier waits
    /// (instead of getting -LOADING at once) until `early_over` fires.
    interval: u64,
    early: std::sync::atomic::AtomicBool,
    early_over: tokio::sync::Notify,
}

impl LoadProgress {
    pub fn new(total_bytes: u64, cfg: &Config) -> Self {
        LoadProgress {
            start_unix: now_ms() / 1000,
            start: Instant::now(),
            total_bytes,
            loaded_bytes: AtomicU64::new(0),
            rdb_used_mem: AtomicU64::new(0),
            interval: cfg
                .get_text("loading-process-events-interval-bytes")
                .and_then(|v| v.parse().ok())
                .unwrap_or(2 << 20),
            early: std::sync::atomic::AtomicBool::new(true),
            early_over: tokio::sync::Notify::new(),
        }
    }

    pub fn loaded_bytes(&self) -> u64 {
        self.loaded_bytes.load(Ordering::Relaxed)
    }

    /// Records how far the load got (bytes of input).
    pub fn set_loaded(&self, bytes: u64) {
        self.loaded_bytes.store(bytes, Ordering::Relaxed);
        // A plain load first: this runs for every key, and an atomic swap
        // each time would bounce the cache line for nothing.
        if bytes >= self.interval && self.early.load(Ordering::Relaxed) {
            self.end_early_phase();
        }
    }

    /// The load passed its first interval or ended: waiting clients go on.
    pub fn end_early_phase(&self) {
        if self.early.swap(false, Ordering::AcqRel) {
            self.early_over.notify_waiters();
        }
    }

    /// Waits while the load is in its early phase (no lock, no polling).
    pub async fn wait_early_phase(&self) {
        loop {
            let notified = self.early_over.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.early.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// What a finished load produced.
#[derive(Debug, Default)]
pub struct LoadStats {
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub empty_skipped: u64,
}

/// Receives decoded keys into a set of databases.
pub struct DbSink<'a> {
    pub dbs: &'a mut [Db],
    pub functions: &'a mut Vec<Vec<u8>>,
    db: usize,
    now: i64,
    /// A master drops keys whose TTL already passed.
    pub drop_expired: bool,
    /// DEBUG RELOAD MERGE: a key already present is replaced.
    pub allow_dup: bool,
    lfu: bool,
    key_delay: i64,
    progress: Option<&'a LoadProgress>,
    pub stats: LoadStats,
    /// The most keys a RESIZEDB hint may pre-size for: a key record takes
    /// well over 32 bytes in any real file, so this is the input's size
    /// / 32 (set by [`load_file`]; 0 ignores the hints).
    hint_cap: u64,
}

impl<'a> DbSink<'a> {
    pub fn new(dbs: &'a mut [Db], functions: &'a mut Vec<Vec<u8>>, cfg: &Config) -> Self {
        DbSink {
            dbs,
            functions,
            db: 0,
            now: now_ms(),
            drop_expired: true,
            allow_dup: false,
            lfu: cfg.maxmemory_policy.is_lfu(),
            key_delay: cfg.key_load_delay,
            progress: None,
            stats: LoadStats::default(),
            hint_cap: 0,
        }
    }

    pub fn with_progress(mut self, p: &'a LoadProgress) -> Self {
        self.progress = Some(p);
        self
    }
}

impl LoadSink for DbSink<'_> {
    fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        let v = String::from_utf8_lossy(value);
        match key {
            b"redis-ver" => log_notice!("Loading RDB produced by version {}", v),
            b"ctime" => {
                let age = now_ms() / 1000 - v.parse::<i64>().unwrap_or(0);
                log_notice!("RDB age {} seconds", age.max(0));
            }
            b"used-mem" => {
                let mem = v.parse::<u64>().unwrap_or(0);
                if let Some(p) = self.progress {
                    p.rdb_used_mem.store(mem, Ordering::Relaxed);
                }
                log_notice!(
                    "RDB memory usage when created {:.2} Mb",
                    mem as f64 / (1024.0 * 1024.0)
                );
            }
            b"aof-preamble" if v.parse::<i64>().unwrap_or(0) != 0 => {
                log_notice!("RDB has an AOF tail")
            }
            b"aof-base" if v.parse::<i64>().unwrap_or(0) != 0 => log_notice!("RDB is base AOF"),
            k if k.first() == Some(&b'%') => {
                log_notice!("RDB '{}': {}", String::from_utf8_lossy(&k[1..]), v)
            }
            _ => {}
        }
        Ok(())
    }

    fn select_db(&mut self, db: u64) -> Result<(), String> {
        if db >= self.dbs.len() as u64 {
            return Err(format!(
                "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting",
                self.dbs.len()
            ));
        }
        self.db = db as usize;
        Ok(())
    }

    fn prepare(&mut self, keys: &mut dyn Iterator<Item = &[u8]>) {
        self.dbs[self.db].warm(keys);
    }

    fn resize_db(&mut self, keys: u64, expires: u64) {
        // A hint only: never trusted beyond what the file could hold, so
        // a hostile hint cannot make us allocate out of proportion.
        let most = self.hint_cap;
        let db = &mut self.dbs[self.db];
        db.reserve(keys.min(most) as usize, expires.min(most) as usize);
    }

    fn key(&mut self, key: &[u8], value: Value, meta: KeyMeta) -> Result<(), String> {
        if self.key_delay != 0 {
            super::snapshot::debug_delay(self.key_delay);
        }
        let expire = if meta.expire_ms < 0 {
            NO_EXPIRE
        } else {
            meta.expire_ms
        };
        if self.drop_expired && expire != NO_EXPIRE && expire < self.now {
            self.stats.keys_expired += 1;
            return Ok(());
        }
        let lru = if self.lfu {
            meta.freq
                .map_or_else(|| evict::initial_lru(true), evict::lfu_from_freq)
        } else {
            meta.idle_secs
                .map_or_else(evict::lru_clock, evict::lru_from_idle)
        };
        let db = &mut self.dbs[self.db];
        let entry = Entry {
            key: KBytes::new(key),
            value,
            expire,
            lru,
        };
        if let Err(entry) = db.insert_if_absent(entry) {
            if !self.allow_dup {
                return Err("Duplicated key found in RDB file".into());
            }
            db.remove(key);
            db.insert_new(entry);
        }
        self.stats.keys_loaded += 1;
        Ok(())
    }

    fn function(&mut self, code: &[u8]) -> Result<(), String> {
        // Keep one copy per library name (the first line names it).
        let name = |c: &[u8]| c.split(|&b| b == b'\n').next().map(|l| l.to_vec());
        let n = name(code);
        self.functions.retain(|f| name(f) != n);
        self.functions.push(code.to_vec());
        Ok(())
    }

    fn empty_key(&mut self, key: &[u8]) {
        if self.stats.empty_skipped < 10 {
            log_warning!(
                "rdbLoadObject skipping empty key: {}",
                String::from_utf8_lossy(key)
            );
        }
        self.stats.empty_skipped += 1;
    }

    fn progress(&mut self, offset: u64, _keys: u64) {
        if let Some(p) = self.progress {
            p.set_loaded(offset);
        }
    }
}

/// Why a load failed, formatted for the log.
pub enum LoadFailure {
    /// The file could not be read (not "missing": that is an empty start).
    Io(std::io::Error),
    Decode(rdb::RdbError),
}

/// Reads and decodes `path` into `sink`. `Ok(None)` when the file does
/// not exist.
pub fn load_file(
    path: &Path,
    cfg: &Config,
    verify_checksum: bool,
    sink: &mut DbSink,
) -> Result<Option<rdb::LoadSummary>, LoadFailure> {
    let data = match super::mapped::FileBytes::open(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LoadFailure::Io(e)),
    };
    let data: &[u8] = &data;
    let opts = rdb::LoadOptions {
        limits: limits_from(cfg, false),
        verify_checksum: verify_checksum && cfg.rdbchecksum,
        workers: load_workers(),
    };
    sink.hint_cap = data.len() as u64 / 32;
    let summary = rdb::load(data, &opts, sink).map_err(LoadFailure::Decode)?;
    Ok(Some(summary))
}

/// Threads that decode values while an RDB loads (the loading thread
/// reads the records and fills the databases): one per CPU up to 3, none
/// on a single CPU. The environment variable `KEEL_LOAD_WORKERS=<n>`
/// overrides it (0: decode on the loading thread), for A/B measurements.
pub fn load_workers() -> usize {
    let forced = std::env::var("KEEL_LOAD_WORKERS").ok();
    if let Some(n) = forced.and_then(|v| v.parse().ok()) {
        return n;
    }
    match std::thread::available_parallelism().map_or(1, |n| n.get()) {
        1 => 0,
        n => n.min(3),
    }
}

/// The encoding thresholds of the config, for the decoder.
pub fn limits_from(cfg: &Config, deep: bool) -> rdb::Limits {
    rdb::Limits {
        hash: crate::keyspace::hash::HashLimits {
            max_entries: cfg.hash_max_listpack_entries as usize,
            max_value: cfg.hash_max_listpack_value as usize,
        },
        zset: crate::keyspace::zset::ZLimits {
            max_entries: cfg.zset_max_listpack_entries as usize,
            max_value: cfg.zset_max_listpack_value as usize,
        },
        set_max_intset_entries: cfg.set_max_intset_entries as usize,
        list_fill: cfg.list_max_listpack_size,
        deep,
    }
}

/// Logs the outcome of a load the way Redis does.
pub fn log_done(stats: &LoadStats) {
    if stats.empty_skipped > 0 {
        log_notice!(
            "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
            stats.keys_loaded,
            stats.keys_expired,
            stats.empty_skipped
        );
    } else {
        log_notice!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            stats.keys_loaded,
            stats.keys_expired
        );
    }
}

/// Logs a failed load: what, where, on which key; the last line says the
/// server cannot go on.
pub fn log_failure(path: &Path, f: &LoadFailure, fatal: bool) {
    match f {
        LoadFailure::Io(e) => {
            log_warning!(
                "Fatal error loading the DB: {}. Exiting.",
                crate::config::special::strerror(e)
            );
        }
        LoadFailure::Decode(e) => {
            let what = if e.doing == "check-sum" {
                format!("{} (RDB CRC error)", e.msg)
            } else {
                e.msg.clone()
            };
            log_warning!(
                "Internal error in RDB reading offset {}, function at {} -> {}",
                e.offset,
                e.doing,
                what
            );
            if let Some(k) = &e.key {
                log_warning!(
                    "While reading key '{}'{}",
                    String::from_utf8_lossy(k),
                    e.type_byte
                        .map(|t| format!(" of type {} ({})", t, rdb::types::label(t)))
                        .unwrap_or_default()
                );
            }
            log_warning!(
                "Fatal error loading the DB from '{}': {}.",
                display_path(path),
                e
            );
            if fatal {
                log_warning!("Terminating server after rdb file reading failure.");
            }
        }
    }
}

/// The absolute path of a file in the working directory (dir).
pub fn display_path(p: &Path) -> String {
    std::env::current_dir()
        .map(|d| d.join(p))
        .unwrap_or_else(|_| PathBuf::from(p))
        .display()
        .to_string()
}

/// DEBUG RELOAD's load: the RDB file into the running server's databases
/// (already flushed unless NOFLUSH). `merge` replaces keys that exist.
/// False (after logging why) when the file could not be loaded.
pub fn reload(srv: &mut crate::server::Server, merge: bool) -> bool {
    let path = super::snapshot::rdb_path(srv);
    let start = Instant::now();
    let verify = !srv.skip_checksum_validation;
    let crate::server::Server {
        dbs,
        snapshots,
        config,
        ..
    } = srv;
    let mut sink = DbSink::new(dbs, &mut snapshots.functions, config);
    sink.allow_dup = merge;
    let res = load_file(&path, config, verify, &mut sink);
    let stats = std::mem::take(&mut sink.stats);
    match res {
        Ok(Some(_)) => {
            log_done(&stats);
            log_notice!(
                "DB loaded from disk: {:.3} seconds",
                start.elapsed().as_secs_f64()
            );
            snapshots.last_load_keys_loaded = stats.keys_loaded;
            snapshots.last_load_keys_expired = stats.keys_expired;
            true
        }
        Ok(None) => {
            log_warning!(
                "Failed opening the RDB file {} (in server root dir {}) for reading: No such file or directory",
                path.display(),
                std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            );
            false
        }
        Err(f) => {
            log_failure(&path, &f, false);
            false
        }
    }
}

/// Loads dir/dbfilename at start on a thread of its own while the server
/// answers -LOADING; installs the databases when done, or stops the
/// process if the file is damaged (never starting with half a dataset).
/// Returns false when there is nothing to load. `ready` runs once the
/// data is in place (the "Ready to accept connections" lines).
pub fn start_loading(
    shared: &crate::server::Shared,
    ready: impl FnOnce() + Send + 'static,
) -> Result<bool, std::io::Error> {
    let (path, config) = {
        let s = shared.lock();
        (super::snapshot::rdb_path(&s), s.config.clone())
    };
    if config.appendonly {
        start_aof(shared, config, ready);
        return Ok(true);
    }
    let size = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let progress = std::sync::Arc::new(LoadProgress::new(size, &config));
    shared.lock().snapshots.loading = Some(progress.clone());
    let shared = shared.clone();
    std::thread::Builder::new()
        .name("rdb-load".into())
        .spawn(move || {
            let mut dbs: Vec<Db> = (0..config.databases).map(|_| Db::new()).collect();
            let mut functions = Vec::new();
            let mut sink = DbSink::new(&mut dbs, &mut functions, &config).with_progress(&progress);
            let res = load_file(&path, &config, true, &mut sink);
            let stats = std::mem::take(&mut sink.stats);
            match res {
                Ok(_) => {
                    log_done(&stats);
                    let mut s = shared.lock();
                    s.dbs = dbs;
                    s.snapshots.functions = functions;
                    s.snapshots.last_load_keys_loaded = stats.keys_loaded;
                    s.snapshots.last_load_keys_expired = stats.keys_expired;
                    s.snapshots.loading = None;
                    progress.end_early_phase();
                    log_notice!(
                        "DB loaded from disk: {:.3} seconds",
                        progress.start.elapsed().as_secs_f64()
                    );
                    drop(s);
                    ready();
                }
                Err(f) => {
                    log_failure(&path, &f, true);
                    std::process::exit(1);
                }
            }
        })?;
    Ok(true)
}

/// What is on disk for the AOF startup decision.
fn aof_disk_state(cfg: &Config) -> Result<super::aof::startup::DiskState, String> {
    let dir = Path::new(&cfg.appenddirname);
    let old_style_file = Path::new(&cfg.appendfilename).is_file();
    let aof_dir_files = match std::fs::read_dir(dir) {
        Ok(rd) => Some(
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| {
                    use std::os::unix::ffi::OsStrExt;
                    e.file_name().as_bytes().to_vec()
                })
                .collect(),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(format!(
                "Can't read the AOF directory {}: {}",
                dir.display(),
                e
            ))
        }
    };
    let mpath = dir.join(super::aof::manifest::manifest_name(&cfg.appendfilename));
    let manifest = match std::fs::read(&mpath) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(format!(
                "Can't read the AOF manifest {}: {}",
                mpath.display(),
                e
            ))
        }
    };
    Ok(super::aof::startup::DiskState {
        old_style_file,
        aof_dir_files,
        manifest,
    })
}

fn fatal(lines: &[String]) -> ! {
    for l in lines {
        log_warning!("{}", l);
    }
    std::process::exit(1);
}

/// Starting with appendonly yes: decide from what is on disk, then load
/// (or create) the AOF on the loading thread.
fn start_aof(
    shared: &crate::server::Shared,
    config: Config,
    ready: impl FnOnce() + Send + 'static,
) {
    use super::aof::startup::{plan_startup, StartupPlan};
    let disk = aof_disk_state(&config).unwrap_or_else(|e| fatal(&[e]));
    let plan = plan_startup(&config.appendfilename, &config.appenddirname, &disk);
    if let StartupPlan::Refuse { lines } = &plan {
        fatal(lines);
    }
    let progress = std::sync::Arc::new(LoadProgress::new(0, &config));
    shared.lock().snapshots.loading = Some(progress.clone());
    let shared = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("aof-load".into())
        .spawn(move || {
            let die = |what: &str, e: std::io::Error| fatal(&[format!("{what}: {e}")]);
            let manifest = match plan {
                StartupPlan::Fresh { manifest } => {
                    // keel keeps what dump.rdb holds (Redis would start
                    // empty and later overwrite it).
                    let rdb = super::snapshot::rdb_path(&shared.lock());
                    if rdb.exists() {
                        log_notice!(
                            "No AOF yet: loading {} to build the first AOF base from it",
                            rdb.display()
                        );
                        let mut s = shared.lock();
                        let srv = &mut *s;
                        let mut sink =
                            DbSink::new(&mut srv.dbs, &mut srv.snapshots.functions, &config);
                        if let Err(f) = load_file(&rdb, &config, true, &mut sink) {
                            log_failure(&rdb, &f, true);
                            std::process::exit(1);
                        }
                        log_done(&sink.stats);
                    }
                    let mut s = shared.lock();
                    s.aof.manifest = manifest;
                    if let Err(e) = super::aof::control::create_fresh(&mut s) {
                        die("Can't create the AOF base file", e);
                    }
                    None
                }
                StartupPlan::Upgrade { manifest } => {
                    let mut s = shared.lock();
                    s.aof.manifest = manifest.clone();
                    if let Err(e) = super::aof::control::upgrade(&mut s) {
                        die("Can't upgrade the old-style AOF", e);
                    }
                    Some(manifest)
                }
                StartupPlan::Load { manifest, unlisted } => {
                    let warn =
                        super::aof::startup::unlisted_warning(&config.appenddirname, &unlisted);
                    if let Some(w) = warn {
                        log_warning!("{}", w);
                    }
                    Some(manifest)
                }
                StartupPlan::Refuse { .. } => unreachable!("refused before"),
            };
            if let Some(manifest) = manifest {
                shared.lock().aof.loading = true;
                if let Err(lines) = super::aof::loader::load_all(&shared, &manifest, &progress) {
                    fatal(&lines);
                }
                let mut s = shared.lock();
                s.aof.loading = false;
                s.aof.manifest = manifest;
                if let Err(e) = super::aof::control::finish_load(&mut s) {
                    die("Can't open the append-only file", e);
                }
            }
            shared.lock().snapshots.loading = None;
            progress.end_early_phase();
            ready();
        });
    if let Err(e) = spawned {
        fatal(&[format!("Can't start the AOF loading thread: {e}")]);
    }
}
