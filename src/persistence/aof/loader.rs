//! Loading the AOF at start: the files of the manifest in order, an RDB
//! base (or preamble) through the RDB loader, commands replayed through
//! the command dispatcher by a loader client, in chunks so that clients
//! connected meanwhile get -LOADING instead of waiting on the lock.
//!
//! A transaction is applied only when its EXEC is read. A truncated tail
//! of the last file is cut (aof-load-truncated yes) and logged; a file
//! that is not the last is never truncated; corruption stops the start.
//! Every refusal names the file, the offset and the repair command.

use super::manifest::{AofFile, Manifest};
use super::replay::{Unit, Units};
use super::stream::{starts_with_rdb, Command, End};
use super::verdict::{judge, unknown_command_warning, FileContext, Verdict};
use crate::commands::dispatch::process_command;
use crate::persistence::loading::{self, DbSink, LoadProgress};
use crate::protocol::Reply;
use crate::server::client::Client;
use crate::server::{now_ms, Server, Shared};
use crate::{log_notice, log_warning};
use bytes::Bytes;
use std::path::Path;
use std::time::Instant;

/// Commands replayed per turn of the engine lock.
const CHUNK: usize = 1024;

/// Why the AOF could not be loaded: the lines to log before exiting.
pub type Refusal = Vec<String>;

/// How the loader reaches the server: through the lock at start (other
/// clients get -LOADING between chunks), or directly from a command that
/// already holds it (DEBUG LOADAOF).
pub trait ServerAccess {
    fn with<R>(&self, f: impl FnOnce(&mut Server) -> R) -> R;
}

impl ServerAccess for Shared {
    fn with<R>(&self, f: impl FnOnce(&mut Server) -> R) -> R {
        f(&mut self.lock())
    }
}

/// The server, borrowed by a command handler.
pub struct Direct<'a>(pub std::cell::RefCell<&'a mut Server>);

impl ServerAccess for Direct<'_> {
    fn with<R>(&self, f: impl FnOnce(&mut Server) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }
}

/// Loads every file of `manifest` into the server behind `shared`.
pub fn load_all(
    shared: &impl ServerAccess,
    manifest: &Manifest,
    progress: &LoadProgress,
) -> Result<(), Refusal> {
    let (dir, truncate_ok, cfg) = shared.with(|s| {
        (
            std::path::PathBuf::from(&s.config.appenddirname),
            s.config.aof_load_truncated,
            s.config.clone(),
        )
    });
    let manifest_path = dir
        .join(super::manifest::manifest_name(&cfg.appendfilename))
        .display()
        .to_string();
    let files: Vec<&AofFile> = manifest.load_order().collect();
    let start = Instant::now();
    for (i, f) in files.iter().enumerate() {
        let path = f.path_in(&dir);
        let name = f.display();
        let t = Instant::now();
        let data = std::fs::read(&path).map_err(|e| {
            vec![format!(
                "Fatal error: can't open the append log file {} for reading: {}",
                name, e
            )]
        })?;
        let is_last = i + 1 == files.len();
        let mut cmd_start = 0;
        if starts_with_rdb(&data) {
            if f.name == cfg.appendfilename.as_bytes() {
                log_notice!("Reading RDB preamble from AOF file...");
            } else {
                log_notice!("Reading RDB base file on AOF loading...");
            }
            cmd_start = load_rdb_part(shared, &path, &data, &cfg)?;
        }
        if cmd_start < data.len() {
            if cmd_start > 0 {
                log_notice!("Reading the remaining AOF tail...");
            }
            replay(
                shared,
                &path,
                &name,
                &data,
                cmd_start,
                is_last,
                truncate_ok,
                &manifest_path,
            )?;
        }
        progress.set_loaded(progress.loaded_bytes() + data.len() as u64);
        let kind = if f.kind == super::manifest::AofKind::Base {
            "base"
        } else {
            "incr"
        };
        log_notice!(
            "DB loaded from {} file {}: {:.3} seconds",
            kind,
            name,
            t.elapsed().as_secs_f64()
        );
    }
    log_notice!(
        "DB loaded from append only file: {:.3} seconds",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Loads an RDB base or preamble into the server (expired keys kept, as
/// for every AOF base); returns where its bytes end.
fn load_rdb_part(
    shared: &impl ServerAccess,
    path: &Path,
    data: &[u8],
    cfg: &crate::config::Config,
) -> Result<usize, Refusal> {
    shared.with(|srv| load_rdb_into(srv, path, data, cfg))
}

fn load_rdb_into(
    srv: &mut Server,
    path: &Path,
    data: &[u8],
    cfg: &crate::config::Config,
) -> Result<usize, Refusal> {
    let mut sink = DbSink::new(&mut srv.dbs, &mut srv.snapshots.functions, cfg);
    sink.drop_expired = false;
    let opts = crate::persistence::rdb::LoadOptions {
        limits: loading::limits_from(cfg, false),
        verify_checksum: cfg.rdbchecksum,
        workers: loading::load_workers(),
    };
    match crate::persistence::rdb::load_prefix(data, &opts, &mut sink) {
        Ok((_, end)) => {
            let stats = std::mem::take(&mut sink.stats);
            loading::log_done(&stats);
            Ok((end as usize).min(data.len()))
        }
        Err(e) => {
            loading::log_failure(path, &loading::LoadFailure::Decode(e), true);
            Err(vec![format!(
                "The RDB part of the AOF file {} is damaged: keel-check-rdb / redis-check-aof <manifest> show where.",
                path.display()
            )])
        }
    }
}

/// Replays the commands of `data` from `start`, then applies the verdict
/// on how the file ended (go on, cut a torn tail, or refuse).
#[allow(clippy::too_many_arguments)]
fn replay(
    shared: &impl ServerAccess,
    path: &Path,
    name: &str,
    data: &[u8],
    start: usize,
    is_last: bool,
    truncate_ok: bool,
    manifest_path: &str,
) -> Result<(), Refusal> {
    let mut client = Client::new(0, String::new(), String::new(), -1, now_ms(), true);
    client.flags.aof_loader = true;
    let mut units = Units::new(data, start);
    let mut chunk: Vec<Vec<Bytes>> = Vec::with_capacity(CHUNK);
    let owned =
        |c: &Command| -> Vec<Bytes> { c.args.iter().map(|a| Bytes::copy_from_slice(a)).collect() };
    for unit in units.by_ref() {
        match unit {
            Unit::Command(c) => chunk.push(owned(&c)),
            // Run through MULTI/EXEC so it applies (and propagates) as one.
            Unit::Transaction(body) => {
                chunk.push(vec![Bytes::from_static(b"MULTI")]);
                chunk.extend(body.iter().map(owned));
                chunk.push(vec![Bytes::from_static(b"EXEC")]);
            }
        }
        if chunk.len() >= CHUNK {
            run_chunk(shared, &mut client, &mut chunk, name)?;
        }
    }
    run_chunk(shared, &mut client, &mut chunk, name)?;
    let end = units.end().cloned().unwrap_or(End::Clean);
    let cx = FileContext {
        file: name,
        is_last,
        load_truncated: truncate_ok,
        manifest_path,
    };
    match judge(&end, &cx) {
        Verdict::Loaded => Ok(()),
        Verdict::Refuse { warnings } => Err(warnings),
        Verdict::Truncate { to, warnings } => {
            for w in &warnings {
                log_warning!("{}", w);
            }
            truncate(path, to)
                .map_err(|e| vec![format!("Error truncating the AOF file {}: {}", name, e)])
        }
    }
}

fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_all()
}

/// Runs queued commands under the lock; an unknown command stops the
/// load as in Redis.
fn run_chunk(
    shared: &impl ServerAccess,
    client: &mut Client,
    chunk: &mut Vec<Vec<Bytes>>,
    name: &str,
) -> Result<(), Refusal> {
    if chunk.is_empty() {
        return Ok(());
    }
    shared.with(|s| {
        s.clock_us = crate::server::now_us();
        for args in chunk.drain(..) {
            if s.commands.get(&args[0]).is_none() {
                return Err(vec![unknown_command_warning(&args[0], name)]);
            }
            let mut r = Reply::new(2);
            process_command(s, client, args, &mut r);
        }
        Ok(())
    })
}
