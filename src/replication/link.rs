//! The replica's connection to its master, a tokio task: connect (with
//! repl-timeout), the handshake ([`super::replica::Handshake`]), the RDB
//! transfer (`$<len>` or diskless `$EOF:<mark>`) decoded on a blocking
//! thread into fresh databases that then replace the old ones, and the
//! stream, applied under the engine lock ([`super::follow`]), with a
//! `REPLCONF ACK <offset>` every second and for each GETACK. A lost link
//! is retried once a second (Redis's replication cron), with PSYNC of the
//! cached replid/offset.

use super::follow::{self, StreamInput};
use super::replica::{payload_header, Handshake, HandshakeConfig, LinkState, Payload, Step};
use super::replica::{Transfer, EOF_MARK_LEN};
use crate::keyspace::Db;
use crate::server::{now_ms, Server, Shared};
use crate::{log_notice, log_warning};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Starts the link task for `srv.follow.master` (outside a runtime, as
/// in unit tests, nothing starts).
pub fn spawn(srv: &mut Server) {
    let (Some(shared), Ok(rt)) = (
        srv.listeners.shared(),
        tokio::runtime::Handle::try_current(),
    ) else {
        return;
    };
    let task = rt.spawn(run(shared));
    srv.follow.link = Some(task.abort_handle());
}

/// Connects again and again (once a second) until aborted.
async fn run(shared: Shared) {
    loop {
        let res = attempt(&shared).await;
        {
            let mut s = shared.lock();
            let why = match res {
                Ok(()) => String::new(),
                Err(e) => e,
            };
            follow::link_down(&mut s, &why);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// repl-timeout (seconds, default 60).
fn repl_timeout(s: &Server) -> Duration {
    let secs = s
        .config
        .get_text("repl-timeout")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(60)
        .max(1);
    Duration::from_secs(secs)
}

fn opt(s: &Server, name: &str) -> Option<String> {
    s.config.get_text(name).filter(|v| !v.is_empty())
}

/// The socket and what was read but not consumed.
struct Io {
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Io {
    async fn fill(&mut self) -> Result<usize, String> {
        let mut chunk = vec![0u8; 64 * 1024];
        match tokio::time::timeout(self.timeout, self.stream.read(&mut chunk)).await {
            Err(_) => Err("Timeout connecting to the MASTER...".into()),
            Ok(Err(e)) => Err(format!("Error condition on socket for SYNC: {e}")),
            Ok(Ok(0)) => Err("Master closed the connection".into()),
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
        }
    }

    /// One line without its CRLF.
    async fn line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(p) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=p).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    async fn send(&mut self, cmds: &[Vec<String>]) -> Result<(), String> {
        let mut out = Vec::new();
        for c in cmds {
            crate::persistence::aof::stream::encode_command(&mut out, c);
        }
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| format!("Error condition on socket for SYNC: {e}"))
    }
}

/// One connection: handshake, sync, stream until it breaks.
async fn attempt(shared: &Shared) -> Result<(), String> {
    let (host, port, timeout, cfg) = {
        let mut s = shared.lock();
        let Some((host, port)) = s.follow.master.clone() else {
            return Ok(());
        };
        if s.snapshots.loading.is_some() {
            // The start-up load would replace what a sync installs.
            return Ok(());
        }
        s.follow.state = LinkState::Connecting;
        log_notice!("Connecting to MASTER {}:{}", host, port);
        log_notice!("MASTER <-> REPLICA sync started");
        let auth = opt(&s, "masterauth").map(|p| (opt(&s, "masteruser"), p));
        let announce_port = s
            .config
            .get_text("replica-announce-port")
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|&p| p != 0);
        let cfg = HandshakeConfig {
            auth,
            port: announce_port.unwrap_or(s.port),
            announce_ip: opt(&s, "replica-announce-ip"),
            cached: s.follow.cached.clone(),
        };
        (host, port, repl_timeout(&s), cfg)
    };
    let stream =
        match tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port))).await {
            Err(_) => return Err("Timeout connecting to the MASTER...".into()),
            Ok(Err(e)) => {
                return Err(format!(
                    "Error condition on socket for SYNC: {}",
                    crate::config::special::strerror(&e)
                ))
            }
            Ok(Ok(s)) => s,
        };
    let _ = stream.set_nodelay(true);
    let addr = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| format!("{host}:{port}"));
    log_notice!("Non blocking connect for SYNC fired the event.");
    shared.lock().follow.state = LinkState::Handshake;
    let mut io = Io {
        stream,
        buf: Vec::new(),
        timeout,
    };
    let mut hs = Handshake::new(cfg);
    io.send(&hs.start()).await?;
    loop {
        let line = io.line().await?;
        let step = hs.on_line(&String::from_utf8_lossy(&line));
        for n in hs.notes.drain(..) {
            log_notice!("{}", n);
        }
        match step {
            Step::Send(cmds) => io.send(&cmds).await?,
            Step::Wait => {}
            Step::Retry(why) => return Err(why),
            Step::FullResync { replid, offset } => {
                full_sync(shared, &mut io, replid, offset, addr).await?;
                break;
            }
            Step::Sync => {
                io.send(&[vec!["SYNC".into()]]).await?;
                full_sync(shared, &mut io, crate::server::random_hex(40), 0, addr).await?;
                break;
            }
            Step::Continue { replid } => {
                follow::continue_partial(&mut shared.lock(), replid, addr);
                break;
            }
        }
    }
    stream_loop(shared, io).await
}

/// Reads the RDB, loads it into fresh databases and installs them.
async fn full_sync(
    shared: &Shared,
    io: &mut Io,
    replid: String,
    offset: u64,
    addr: String,
) -> Result<(), String> {
    let header = loop {
        let line = io.line().await?;
        if !line.is_empty() {
            break line; // newlines are the master's keep-alives
        }
        shared.lock().follow.transfer = Some(Transfer {
            size: 0,
            read: 0,
            last_io_ms: now_ms(),
        });
    };
    let payload = payload_header(&header)?;
    let size = match &payload {
        Payload::Len(n) => {
            log_notice!(
                "MASTER <-> REPLICA sync: receiving {} bytes from master to disk",
                n
            );
            *n as i64
        }
        Payload::Eof(_) => {
            log_notice!(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk"
            );
            -1
        }
    };
    let progress = |shared: &Shared, read: usize| {
        let mut s = shared.lock();
        s.follow.state = LinkState::Transfer;
        s.follow.transfer = Some(Transfer {
            size,
            read: read as u64,
            last_io_ms: now_ms(),
        });
    };
    progress(shared, 0);
    let mut data = std::mem::take(&mut io.buf);
    match &payload {
        Payload::Len(n) => {
            let n = *n as usize;
            while data.len() < n {
                io.fill().await?;
                data.append(&mut io.buf);
                progress(shared, data.len().min(n));
            }
            io.buf = data.split_off(n);
        }
        Payload::Eof(mark) => {
            while !(data.len() >= EOF_MARK_LEN && data.ends_with(mark)) {
                io.fill().await?;
                data.append(&mut io.buf);
                progress(shared, data.len());
            }
            data.truncate(data.len() - EOF_MARK_LEN);
        }
    }
    let (config, path) = {
        let s = shared.lock();
        (s.config.clone(), crate::persistence::snapshot::rdb_path(&s))
    };
    log_notice!("MASTER <-> REPLICA sync: Flushing old data");
    log_notice!("MASTER <-> REPLICA sync: Loading DB in memory");
    let loaded = tokio::task::spawn_blocking(move || load(&data, &config, &path))
        .await
        .map_err(|e| format!("Failed loading the RDB from the master: {e}"))??;
    let (dbs, functions, stream_db) = loaded;
    let mut s = shared.lock();
    follow::install_full_sync(&mut s, replid, offset, dbs, functions, addr);
    if let Some(c) = s.follow.master_client.and_then(|id| s.clients.get_mut(&id)) {
        c.db = stream_db;
    }
    log_notice!("MASTER <-> REPLICA sync: Finished with success");
    Ok(())
}

/// The databases, functions and repl-stream-db of a loaded sync.
type Loaded = (Vec<Db>, Vec<Vec<u8>>, usize);

/// The loader's sink, also keeping the `repl-stream-db` AUX field: the
/// database the stream continues in.
struct StreamDbSink<'a> {
    inner: crate::persistence::loading::DbSink<'a>,
    stream_db: usize,
}

impl crate::persistence::rdb::LoadSink for StreamDbSink<'_> {
    fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        if key == b"repl-stream-db" {
            let db = crate::util::num::parse_i64(value).unwrap_or(0);
            if db >= 0 && (db as usize) < self.inner.dbs.len() {
                self.stream_db = db as usize;
            }
        }
        self.inner.aux(key, value)
    }
    fn select_db(&mut self, db: u64) -> Result<(), String> {
        self.inner.select_db(db)
    }
    fn key(
        &mut self,
        key: &[u8],
        value: crate::keyspace::Value,
        meta: crate::persistence::rdb::KeyMeta,
    ) -> Result<(), String> {
        self.inner.key(key, value, meta)
    }
    fn function(&mut self, code: &[u8]) -> Result<(), String> {
        self.inner.function(code)
    }
    fn progress(&mut self, offset: u64, keys: u64) {
        self.inner.progress(offset, keys)
    }
    fn empty_key(&mut self, key: &[u8]) {
        self.inner.empty_key(key)
    }
}

/// Stores the payload as the RDB file (as Redis does: a temp file renamed
/// over dbfilename) and decodes it.
fn load(
    data: &[u8],
    config: &crate::config::Config,
    path: &std::path::Path,
) -> Result<Loaded, String> {
    let tmp = path.with_file_name(format!(
        "temp-{}.{}.rdb",
        now_ms() / 1000,
        std::process::id()
    ));
    if std::fs::write(&tmp, data)
        .and_then(|_| std::fs::rename(&tmp, path))
        .is_err()
    {
        let _ = std::fs::remove_file(&tmp);
        log_warning!(
            "Failed trying to rename the temp DB into {} in MASTER <-> REPLICA synchronization",
            path.display()
        );
    }
    let mut dbs: Vec<Db> = (0..config.databases).map(|_| Db::new()).collect();
    let mut functions = Vec::new();
    let mut inner = crate::persistence::loading::DbSink::new(&mut dbs, &mut functions, config);
    // The master deletes expired keys and sends the DELs.
    inner.drop_expired = false;
    let mut sink = StreamDbSink {
        inner,
        stream_db: 0,
    };
    let opts = crate::persistence::rdb::LoadOptions {
        limits: crate::persistence::loading::limits_from(config, false),
        verify_checksum: config.rdbchecksum,
        workers: crate::persistence::loading::load_workers(),
    };
    match crate::persistence::rdb::load(data, &opts, &mut sink) {
        Ok(_) => {
            crate::persistence::loading::log_done(&sink.inner.stats);
            let db = sink.stream_db;
            Ok((dbs, functions, db))
        }
        Err(e) => {
            log_warning!("Internal error in RDB reading: {}", e);
            Err(
                "Failed trying to load the MASTER synchronization DB from disk, check server logs."
                    .into(),
            )
        }
    }
}

/// The stream: apply what arrives, ACK every second and on GETACK, drop
/// the link after repl-timeout without data.
async fn stream_loop(shared: &Shared, mut io: Io) -> Result<(), String> {
    let mut input = StreamInput::default();
    input.push(&std::mem::take(&mut io.buf));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut chunk = vec![0u8; 64 * 1024];
    // The first ACK right away (Redis sends one after the load).
    let mut acks = vec![shared.lock().repl.offset];
    loop {
        if !input.buf.is_empty() {
            let mut s = shared.lock();
            acks.extend(follow::apply_stream(&mut s, &mut input)?);
        }
        if !acks.is_empty() {
            let cmds: Vec<Vec<String>> = acks
                .drain(..)
                .map(|o| vec!["REPLCONF".into(), "ACK".into(), o.to_string()])
                .collect();
            io.send(&cmds).await?;
        }
        tokio::select! {
            r = tokio::time::timeout(io.timeout, io.stream.read(&mut chunk)) => {
                let n = match r {
                    Err(_) => return Err("MASTER timeout: no data nor PING received...".into()),
                    Ok(Err(e)) => return Err(format!("Error reading from MASTER: {e}")),
                    Ok(Ok(0)) => return Ok(()),
                    Ok(Ok(n)) => n,
                };
                input.push(&chunk[..n]);
                let mut s = shared.lock();
                s.follow.last_io_ms = now_ms();
                s.follow.read_offset += n as u64;
            }
            _ = tick.tick() => {
                acks.push(shared.lock().repl.offset);
            }
        }
    }
}
