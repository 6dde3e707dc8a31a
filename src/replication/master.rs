//! The master side of replication as a plain state machine: the replicas
//! attached to this node, where each one is in its full resynchronisation,
//! and the replication stream (the propagated commands, with a SELECT
//! whenever the database changes, counted in `master_repl_offset`).
//!
//! A replica goes WaitBgsaveStart (a fork for it is still to start) →
//! WaitBgsaveEnd (the child writes the RDB; the stream since the fork
//! collects in `pending`) → SendBulk (its connection sends the RDB file,
//! `pending` still collects) → Online (the stream goes straight to it).
//! This is Redis's disk-based full sync; the server glue in
//! [`super`] forks, sends and delivers.

use crate::persistence::aof::feed::AofFeed;
use crate::server::client::ClientId;

/// Where a replica is in its synchronisation (Redis's SLAVE_STATE_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplState {
    WaitBgsaveStart,
    WaitBgsaveEnd,
    SendBulk,
    Online,
}

impl ReplState {
    /// The word INFO replication uses.
    pub fn label(self) -> &'static str {
        match self {
            ReplState::WaitBgsaveStart | ReplState::WaitBgsaveEnd => "wait_bgsave",
            ReplState::SendBulk => "send_bulk",
            ReplState::Online => "online",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Replica {
    pub client: ClientId,
    pub state: ReplState,
    /// PSYNC (answered +FULLRESYNC when its fork starts) or plain SYNC.
    pub psync: bool,
    /// The stream since the fork, until the RDB has been sent.
    pub pending: Vec<u8>,
    /// REPLCONF ACK: offset and unix ms of the last one.
    pub ack_offset: u64,
    pub ack_time_ms: i64,
}

/// The replicas and the stream.
#[derive(Debug)]
pub struct Master {
    pub replid: String,
    /// master_repl_offset: bytes of stream produced since start.
    pub offset: u64,
    feed: AofFeed,
    pub replicas: Vec<Replica>,
    /// The unix second of the last replication cron (once a second).
    pub cron_second: i64,
    /// The RDB on disk was written to feed replicas (rdb-del-sync-files).
    pub rdb_for_replicas: bool,
    /// The previous replication ID and the first offset it is not valid
    /// for (replid2 / second_repl_offset; "0"*40 and -1 when unset).
    pub replid2: String,
    pub second_offset: i64,
    /// WAIT asked for acknowledgements: REPLCONF GETACK goes to the
    /// replicas at the end of the event-loop round.
    pub getack_wanted: bool,
    /// INFO stats sync_full / sync_partial_err: full resyncs served, and
    /// PSYNCs naming a history that could not be continued.
    pub sync_full: u64,
    pub sync_partial_err: u64,
}

impl Master {
    pub fn new(replid: String) -> Self {
        Master {
            replid,
            offset: 0,
            feed: AofFeed::new(),
            replicas: Vec::new(),
            cron_second: 0,
            rdb_for_replicas: false,
            replid2: "0".repeat(40),
            second_offset: -1,
            getack_wanted: false,
            sync_full: 0,
            sync_partial_err: 0,
        }
    }

    /// A client asked for a full synchronisation.
    pub fn attach(&mut self, client: ClientId, psync: bool, now_ms: i64) {
        self.detach(client);
        self.replicas.push(Replica {
            client,
            state: ReplState::WaitBgsaveStart,
            psync,
            pending: Vec::new(),
            ack_offset: 0,
            ack_time_ms: now_ms,
        });
    }

    pub fn detach(&mut self, client: ClientId) {
        self.replicas.retain(|r| r.client != client);
    }

    pub fn get_mut(&mut self, client: ClientId) -> Option<&mut Replica> {
        self.replicas.iter_mut().find(|r| r.client == client)
    }

    pub fn waiting_for_fork(&self) -> bool {
        self.replicas
            .iter()
            .any(|r| r.state == ReplState::WaitBgsaveStart)
    }

    /// A fork for the waiting replicas started: from here on they collect
    /// the stream, which starts with a SELECT. Returns the replicas that
    /// asked with PSYNC (they are answered +FULLRESYNC <replid> <offset>).
    pub fn fork_started(&mut self) -> Vec<ClientId> {
        self.feed.new_file();
        let mut psync = Vec::new();
        for r in &mut self.replicas {
            if r.state == ReplState::WaitBgsaveStart {
                r.state = ReplState::WaitBgsaveEnd;
                r.pending.clear();
                if r.psync {
                    psync.push(r.client);
                }
            }
        }
        psync
    }

    /// The fork ended: the replicas that waited for it, now sending the
    /// RDB (`ok`) or to be dropped.
    pub fn fork_done(&mut self, ok: bool) -> Vec<ClientId> {
        let ids: Vec<ClientId> = self
            .replicas
            .iter()
            .filter(|r| r.state == ReplState::WaitBgsaveEnd)
            .map(|r| r.client)
            .collect();
        if ok {
            for r in &mut self.replicas {
                if r.state == ReplState::WaitBgsaveEnd {
                    r.state = ReplState::SendBulk;
                }
            }
        } else {
            self.replicas
                .retain(|r| r.state != ReplState::WaitBgsaveEnd);
        }
        ids
    }

    /// The RDB reached the replica: it is online; returns the stream that
    /// collected meanwhile, to send next.
    pub fn online(&mut self, client: ClientId) -> Vec<u8> {
        match self.get_mut(client) {
            Some(r) => {
                r.state = ReplState::Online;
                std::mem::take(&mut r.pending)
            }
            None => Vec::new(),
        }
    }

    /// Appends a propagated command (`db` None: no SELECT, as for the
    /// master's PINGs) to the stream. Returns the bytes for the online
    /// replicas, if there are any.
    pub fn feed<A: AsRef<[u8]>>(&mut self, db: Option<usize>, args: &[A]) -> Option<Vec<u8>> {
        if self.replicas.is_empty() {
            return None;
        }
        let mut buf = Vec::new();
        match db {
            Some(db) => self.feed.feed(&mut buf, db, args, false, 0),
            None => crate::persistence::aof::stream::encode_command(&mut buf, args),
        }
        self.offset += buf.len() as u64;
        let mut online = false;
        for r in &mut self.replicas {
            match r.state {
                ReplState::WaitBgsaveStart => {}
                ReplState::WaitBgsaveEnd | ReplState::SendBulk => r.pending.extend_from_slice(&buf),
                ReplState::Online => online = true,
            }
        }
        online.then_some(buf)
    }

    /// No replica still needs the RDB file of a full sync.
    pub fn rdb_unneeded(&self) -> bool {
        self.replicas.iter().all(|r| r.state == ReplState::Online)
    }

    /// Bytes of a master's stream this replica applied, passed on
    /// verbatim to its own replicas (chained replication keeps the
    /// master's offsets). Returns them for the online replicas, if any.
    pub fn feed_raw(&mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        self.offset += bytes.len() as u64;
        let mut online = false;
        for r in &mut self.replicas {
            match r.state {
                ReplState::WaitBgsaveStart => {}
                ReplState::WaitBgsaveEnd | ReplState::SendBulk => {
                    r.pending.extend_from_slice(bytes)
                }
                ReplState::Online => online = true,
            }
        }
        online.then(|| bytes.to_vec())
    }

    /// The next propagated command starts with a SELECT (a new stream:
    /// after a promotion or a full sync).
    pub fn reset_select(&mut self) {
        self.feed.new_file();
    }

    /// Redis's shiftReplicationId: the current ID becomes replid2, valid
    /// up to the current offset, and a new ID starts.
    pub fn shift_replid(&mut self, new_id: String) {
        self.replid2 = std::mem::replace(&mut self.replid, new_id);
        self.second_offset = self.offset as i64 + 1;
    }

    /// Replicas online whose last acknowledged offset reached `offset`
    /// (replicationCountAcksByOffset).
    pub fn count_acks(&self, offset: u64) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.state == ReplState::Online && r.ack_offset >= offset)
            .count()
    }

    pub fn online_ids(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.replicas
            .iter()
            .filter(|r| r.state == ReplState::Online)
            .map(|r| r.client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_gets_the_stream_from_its_fork_on() {
        let mut m = Master::new("x".repeat(40));
        assert_eq!(m.feed(Some(0), &["set", "a", "1"]), None);
        assert_eq!(m.offset, 0, "no replica: no stream");
        m.attach(7, true, 0);
        // Before the fork: not for this replica, but counted.
        assert_eq!(m.feed(Some(0), &["set", "b", "1"]), None);
        let before = m.offset;
        assert!(before > 0);
        assert_eq!(m.fork_started(), vec![7]);
        assert_eq!(m.feed(Some(0), &["set", "c", "1"]), None);
        assert_eq!(m.fork_done(true), vec![7]);
        assert_eq!(m.replicas[0].state, ReplState::SendBulk);
        m.feed(Some(2), &["del", "c"]);
        let pending = m.online(7);
        let pending_len = pending.len() as u64;
        assert_eq!(
            String::from_utf8(pending).unwrap(),
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\nc\r\n$1\r\n1\r\n\
             *2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*2\r\n$3\r\ndel\r\n$1\r\nc\r\n"
        );
        let live = m.feed(None, &["PING"]).unwrap();
        assert_eq!(live, b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(m.online_ids().collect::<Vec<_>>(), vec![7]);
        assert_eq!(
            m.offset,
            before + pending_len + live.len() as u64,
            "every byte of the stream is counted"
        );
    }

    #[test]
    fn a_failed_fork_drops_its_replicas() {
        let mut m = Master::new(String::new());
        m.attach(1, false, 0);
        assert!(m.waiting_for_fork());
        assert!(m.fork_started().is_empty(), "SYNC gets no +FULLRESYNC");
        m.attach(2, true, 0);
        assert_eq!(m.fork_done(false), vec![1]);
        assert_eq!(m.replicas.len(), 1);
        assert_eq!(m.replicas[0].state, ReplState::WaitBgsaveStart);
        m.detach(2);
        assert!(m.replicas.is_empty());
    }
}
