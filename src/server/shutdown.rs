//! Shutting down, Redis 7.0's way (prepareForShutdown, isReadyToShutdown,
//! finishShutdown, abortShutdown in server.c).
//!
//! A master with replicas does not exit at once: unless NOW is given (or
//! shutdown-timeout is 0) it sends `REPLCONF GETACK *`, holds writes
//! (a pause of its own, apart from CLIENT PAUSE) and lets the cron check
//! every tick whether every replica acknowledged the master's offset, for
//! at most shutdown-timeout seconds. Then it logs the replicas that lag,
//! kills a child, fsyncs the AOF and saves the final snapshot. If that
//! fails (and FORCE was not given) the server goes on running: the
//! clients blocked in SHUTDOWN get an error and writes resume. SHUTDOWN
//! ABORT cancels a shutdown in progress the same way.
//!
//! A signal (SIGTERM, SIGINT) only records the request; the shutdown
//! starts with the flags of shutdown-on-sigterm / shutdown-on-sigint. A
//! second SIGINT while one is pending exits at once.

use super::client::{BlockReason, ClientId};
use super::{Server, ShutdownRequest};
use crate::{log_notice, log_warning};

/// How a shutdown treats the dataset and the replicas (SHUTDOWN's
/// flags, or the shutdown-on-sigterm/sigint config).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownFlags {
    pub save: bool,
    pub nosave: bool,
    /// Do not wait for lagging replicas.
    pub now: bool,
    /// Exit even if the final save or the first AOF fails.
    pub force: bool,
}

impl ShutdownFlags {
    /// Parses the words of shutdown-on-sigterm/sigint ("default", "save",
    /// "nosave", "now", "force").
    pub fn from_words(words: &str) -> Self {
        let mut f = ShutdownFlags::default();
        for w in words.split_whitespace() {
            match w {
                "save" => f.save = true,
                "nosave" => f.nosave = true,
                "now" => f.now = true,
                "force" => f.force = true,
                _ => {}
            }
        }
        f
    }
}

/// The signal that asked for a shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownSignal {
    Term,
    Int,
}

/// A shutdown requested or in progress.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShutdownState {
    /// A signal asked for a shutdown (Redis's shutdown_asap).
    pub asap: bool,
    pub last_signal: Option<ShutdownSignal>,
    pub flags: ShutdownFlags,
    /// Unix ms after which the shutdown goes on without the replicas
    /// (shutdown_mstime); 0 when no shutdown waits.
    pub deadline_ms: i64,
}

impl ShutdownState {
    /// A shutdown waits for the replicas (isShutdownInitiated).
    pub fn initiated(&self) -> bool {
        self.deadline_ms != 0
    }
}

/// What [`prepare`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prepared {
    /// Everything is done: the process exits.
    Exit,
    /// Waiting for the replicas (or a shutdown already waits).
    Waiting,
    /// The shutdown failed and was cancelled (logged).
    Failed,
}

/// Redis's prepareForShutdown.
pub fn prepare(srv: &mut Server, mut flags: ShutdownFlags, now_ms: i64) -> Prepared {
    if srv.shutdown_state.initiated() {
        return Prepared::Waiting;
    }
    // Never overwrite the file being loaded with half a dataset.
    if srv.snapshots.loading.is_some() {
        flags.save = false;
        flags.nosave = true;
    }
    srv.shutdown_state.flags = flags;
    log_warning!("User requested shutdown...");
    let timeout = srv
        .config
        .get_text("shutdown-timeout")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(10);
    if !flags.now && timeout != 0 && !ready(srv) {
        srv.shutdown_state.deadline_ms = now_ms + timeout * 1000;
        if !super::pause_active(srv, now_ms) {
            send_getack(srv);
        }
        srv.shutdown_pause = true;
        log_notice!("Waiting for replicas before shutting down.");
        return Prepared::Waiting;
    }
    if finish(srv) {
        Prepared::Exit
    } else {
        Prepared::Failed
    }
}

/// Every replica acknowledged the master's offset (isReadyToShutdown).
pub fn ready(srv: &Server) -> bool {
    let offset = srv.repl.offset;
    srv.repl.replicas.iter().all(|r| r.ack_offset == offset)
}

fn send_getack(srv: &mut Server) {
    let argv = [
        bytes::Bytes::from_static(b"REPLCONF"),
        bytes::Bytes::from_static(b"GETACK"),
        bytes::Bytes::from_static(b"*"),
    ];
    crate::replication::feed(srv, None, &argv);
}

/// Redis's finishShutdown: the replicas' report, then the persistence
/// work. True when the process may exit (`srv.shutdown` is set and the
/// main task woken); false when it failed and was cancelled.
pub fn finish(srv: &mut Server) -> bool {
    let flags = srv.shutdown_state.flags;
    log_replicas(srv);
    if !crate::persistence::snapshot::finish_shutdown(srv, flags) {
        log_warning!("Errors trying to shut down the server. Check the logs for more information.");
        cancel(srv);
        return false;
    }
    srv.shutdown = Some(ShutdownRequest {
        nosave: flags.nosave,
        save: flags.save,
    });
    srv.main_notify.notify_one();
    true
}

/// One line per lagging replica, then how many are in sync.
fn log_replicas(srv: &Server) {
    let offset = srv.repl.offset;
    let now_s = super::now_ms() / 1000;
    let mut lagging = 0;
    for r in &srv.repl.replicas {
        if r.ack_offset == offset {
            continue;
        }
        lagging += 1;
        let lag = if r.state == crate::replication::master::ReplState::Online {
            now_s - r.ack_time_ms / 1000
        } else {
            0
        };
        let name = srv
            .clients
            .get(&r.client)
            .map(|c| crate::replication::replica_name(c))
            .unwrap_or_default();
        log_warning!(
            "Lagging replica {} reported offset {} behind master, lag={}, state={}.",
            name,
            offset as i64 - r.ack_offset as i64,
            lag,
            r.state.label()
        );
    }
    let n = srv.repl.replicas.len();
    if n > 0 {
        log_notice!(
            "{} of {} replicas are in sync when shutting down.",
            n - lagging,
            n
        );
    }
}

/// Redis's cancelShutdown: forget the request, answer the clients
/// blocked in SHUTDOWN with an error, resume writes.
fn cancel(srv: &mut Server) {
    srv.shutdown_state = ShutdownState::default();
    let blocked: Vec<ClientId> = srv
        .clients
        .iter()
        .filter(|(_, c)| {
            c.blocked
                .as_ref()
                .is_some_and(|b| b.reason == BlockReason::Shutdown)
        })
        .map(|(&id, _)| id)
        .collect();
    for id in blocked {
        if let Some(c) = srv.clients.get_mut(&id) {
            c.blocked = None;
        }
        srv.write_to_client(id, None, |r| {
            r.error("ERR Errors trying to SHUTDOWN. Check logs.")
        });
    }
    srv.shutdown_pause = false;
    super::wake_paused(srv);
}

/// SHUTDOWN ABORT (abortShutdown): false when there was nothing to abort.
pub fn abort(srv: &mut Server) -> bool {
    if srv.shutdown_state.initiated() {
        cancel(srv);
    } else if srv.shutdown_state.asap {
        srv.shutdown_state.asap = false;
    } else {
        return false;
    }
    log_notice!("Shutdown manually aborted.");
    true
}

/// A shutdown signal arrived (sigShutdownHandler); the work happens in
/// [`cron`], which the caller runs right away.
pub fn signal(srv: &mut Server, sig: ShutdownSignal) {
    if srv.shutdown_state.asap && sig == ShutdownSignal::Int {
        log_warning!("You insist... exiting now.");
        let _ = std::fs::remove_file(format!("temp-{}.rdb", std::process::id()));
        std::process::exit(1);
    }
    if srv.snapshots.loading.is_some() {
        log_warning!("Received shutdown signal during loading, scheduling shutdown.");
    } else if sig == ShutdownSignal::Int {
        log_warning!("Received SIGINT scheduling shutdown...");
    } else {
        log_warning!("Received SIGTERM scheduling shutdown...");
    }
    srv.shutdown_state.asap = true;
    srv.shutdown_state.last_signal = Some(sig);
}

/// The shutdown step of serverCron: start the shutdown a signal asked
/// for, or end the wait for the replicas once they caught up or the
/// time ran out.
pub fn cron(srv: &mut Server, now_ms: i64) {
    let st = srv.shutdown_state;
    if st.asap && !st.initiated() {
        let option = match st.last_signal {
            Some(ShutdownSignal::Int) => "shutdown-on-sigint",
            _ => "shutdown-on-sigterm",
        };
        let words = srv.config.get_text(option).unwrap_or_default();
        let loading = srv.snapshots.loading.is_some();
        if prepare(srv, ShutdownFlags::from_words(&words), now_ms) == Prepared::Failed && loading {
            log_warning!("SIGTERM received but errors trying to shut down the server, check the logs for more information");
        }
    } else if st.initiated() && (now_ms >= st.deadline_ms || ready(srv)) {
        finish(srv);
    }
}

/// INFO server's shutdown_in_milliseconds, while a shutdown waits.
pub fn remaining_ms(srv: &Server, now_ms: i64) -> Option<i64> {
    let st = &srv.shutdown_state;
    st.initiated().then(|| st.deadline_ms - now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testutil::{run, setup};

    /// Replica 99 online after its sync, then a write it has not
    /// acknowledged.
    fn online_replica_behind(srv: &mut Server, c: &mut crate::server::client::Client) {
        srv.repl.attach(99, true, 0);
        srv.repl.fork_started();
        srv.repl.fork_done(true);
        srv.repl.online(99);
        run(srv, c, &["set", "k", "v"]);
    }

    #[test]
    fn flags_from_config_words() {
        assert_eq!(
            ShutdownFlags::from_words("default"),
            ShutdownFlags::default()
        );
        let f = ShutdownFlags::from_words("nosave now force");
        assert!(f.nosave && f.now && f.force && !f.save);
    }

    #[test]
    fn without_replicas_the_shutdown_is_immediate() {
        let (mut srv, _c) = setup();
        assert_eq!(
            prepare(&mut srv, ShutdownFlags::default(), 1000),
            Prepared::Exit
        );
        assert!(srv.shutdown.is_some());
        assert!(!srv.shutdown_pause);
    }

    #[test]
    fn a_lagging_replica_is_waited_for_then_the_timeout_ends_it() {
        let (mut srv, mut c) = setup();
        online_replica_behind(&mut srv, &mut c);
        assert!(srv.repl.offset > 0);
        assert_eq!(
            prepare(&mut srv, ShutdownFlags::default(), 1000),
            Prepared::Waiting
        );
        assert!(srv.shutdown.is_none());
        assert!(srv.shutdown_pause, "writes are held");
        assert_eq!(remaining_ms(&srv, 1500), Some(10_000 - 500));
        // A second SHUTDOWN joins the one in progress.
        assert_eq!(
            prepare(&mut srv, ShutdownFlags::default(), 1200),
            Prepared::Waiting
        );
        cron(&mut srv, 5000);
        assert!(srv.shutdown.is_none(), "still waiting");
        cron(&mut srv, 11_000);
        assert!(srv.shutdown.is_some(), "the timeout ends the wait");
    }

    #[test]
    fn a_replica_that_acknowledged_everything_ends_the_wait() {
        let (mut srv, mut c) = setup();
        online_replica_behind(&mut srv, &mut c);
        assert_eq!(
            prepare(&mut srv, ShutdownFlags::default(), 0),
            Prepared::Waiting
        );
        // The GETACK went into the stream: the replica acknowledges it.
        let off = srv.repl.offset;
        srv.repl.get_mut(99).unwrap().ack_offset = off;
        cron(&mut srv, 10);
        assert!(srv.shutdown.is_some());
    }

    #[test]
    fn abort_cancels_and_resumes_writes() {
        let (mut srv, mut c) = setup();
        assert!(!abort(&mut srv), "nothing to abort");
        srv.repl.attach(99, true, 0);
        run(&mut srv, &mut c, &["set", "k", "v"]);
        srv.repl.offset = 10;
        let now = crate::server::now_ms();
        assert_eq!(
            prepare(&mut srv, ShutdownFlags::default(), now),
            Prepared::Waiting
        );
        assert!(crate::server::pause_active(&srv, now));
        assert!(abort(&mut srv));
        assert!(!srv.shutdown_pause && !srv.shutdown_state.initiated());
        assert!(!crate::server::pause_active(&srv, now));
        // NOW does not wait.
        let f = ShutdownFlags {
            now: true,
            ..Default::default()
        };
        assert_eq!(prepare(&mut srv, f, now), Prepared::Exit);
    }

    #[test]
    fn a_signal_starts_the_shutdown_on_the_next_cron() {
        let (mut srv, _c) = setup();
        signal(&mut srv, ShutdownSignal::Term);
        assert!(srv.shutdown.is_none());
        cron(&mut srv, 0);
        assert!(srv.shutdown.is_some());
    }
}
