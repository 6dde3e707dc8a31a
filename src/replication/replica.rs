//! The replica side of replication as plain state: which master this node
//! follows, where its link is (Redis's REPL_STATE_*), the offsets it has
//! read and applied, and the handshake a link goes through before the
//! master streams (PING, AUTH, REPLCONF listening-port / ip-address /
//! capa, PSYNC) as a state machine fed with the master's reply lines, so
//! it is tested without sockets. The socket work is in [`super::link`].

/// Where the link to the master is (Redis's repl_state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LinkState {
    #[default]
    None,
    /// A connection is to be made (after a failure: the next retry).
    Connect,
    Connecting,
    /// PING sent .. PSYNC answered.
    Handshake,
    /// Receiving the RDB.
    Transfer,
    Connected,
}

impl LinkState {
    /// The word ROLE uses.
    pub fn role_label(self) -> &'static str {
        match self {
            LinkState::None => "none",
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// Progress of an RDB transfer (INFO master_sync_*).
#[derive(Clone, Copy, Debug, Default)]
pub struct Transfer {
    /// -1 for an EOF-marked (diskless) transfer.
    pub size: i64,
    pub read: u64,
    pub last_io_ms: i64,
}

/// The master this node follows and the state of its link.
#[derive(Debug, Default)]
pub struct Follow {
    /// masterhost / masterport (None: this node is a master).
    pub master: Option<(String, u16)>,
    pub state: LinkState,
    /// The task running the link (aborted when the master changes).
    pub link: Option<tokio::task::AbortHandle>,
    /// The registered client executing the master's stream.
    pub master_client: Option<crate::server::client::ClientId>,
    /// Unix ms of the last bytes from the master (while connected).
    pub last_io_ms: i64,
    /// Unix ms the link went down (None: never connected).
    pub down_since_ms: Option<i64>,
    /// Bytes of stream read (slave_read_repl_offset); the applied offset
    /// is the master's `offset`, kept identical to the master's.
    pub read_offset: u64,
    /// A master was connected once: its replid/offset are the "cached
    /// master" a new link asks to continue (PSYNC replid offset+1).
    pub cached: Option<(String, u64)>,
    /// The database the cached master's stream had selected.
    pub cached_db: usize,
    pub transfer: Option<Transfer>,
    /// Keys that this replica's own clients gave a TTL (writable
    /// replica): the cron deletes them when they expire, as Redis's
    /// expireSlaveKeys (the master never sends DELs for them).
    pub local_expires: std::collections::HashSet<(usize, bytes::Bytes)>,
}

impl Follow {
    pub fn is_replica(&self) -> bool {
        self.master.is_some()
    }

    pub fn connected(&self) -> bool {
        self.state == LinkState::Connected
    }
}

/// What the handshake needs from the configuration.
#[derive(Clone, Debug, Default)]
pub struct HandshakeConfig {
    /// masteruser (optional) and masterauth.
    pub auth: Option<(Option<String>, String)>,
    /// replica-announce-port, else port.
    pub port: u16,
    /// replica-announce-ip.
    pub announce_ip: Option<String>,
    /// The cached master: PSYNC <replid> <offset+1>; None: PSYNC ? -1.
    pub cached: Option<(String, u64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Pong,
    Auth,
    Port,
    Ip,
    Capa,
    Psync,
    Sync,
    Done,
}

/// The master's answer to PSYNC, or what to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these commands (pipelined) and keep reading replies.
    Send(Vec<Vec<String>>),
    /// Keep reading (a keep-alive newline, or more replies expected).
    Wait,
    /// `+FULLRESYNC <replid> <offset>`: an RDB follows.
    FullResync { replid: String, offset: u64 },
    /// `+CONTINUE [<replid>]`: the stream goes on from the cached offset.
    Continue { replid: Option<String> },
    /// PSYNC not understood: SYNC was sent, an RDB follows.
    Sync,
    /// This attempt failed (logged as given); try again later.
    Retry(String),
}

/// The replica's side of the handshake, one reply line at a time.
#[derive(Debug)]
pub struct Handshake {
    cfg: HandshakeConfig,
    expect: Expect,
    /// Lines logged along the way (Redis's notices), drained by the link.
    pub notes: Vec<String>,
}

impl Handshake {
    pub fn new(cfg: HandshakeConfig) -> Self {
        Handshake {
            cfg,
            expect: Expect::Pong,
            notes: Vec::new(),
        }
    }

    /// The first command: PING.
    pub fn start(&self) -> Vec<Vec<String>> {
        vec![vec!["PING".into()]]
    }

    /// The PSYNC arguments this link sends.
    pub fn psync_args(&self) -> (String, String) {
        match &self.cfg.cached {
            Some((id, off)) => (id.clone(), (off + 1).to_string()),
            None => ("?".into(), "-1".into()),
        }
    }

    /// One reply line from the master (without CRLF).
    pub fn on_line(&mut self, line: &str) -> Step {
        match self.expect {
            Expect::Pong => {
                let ok = line.starts_with('+')
                    || line.starts_with("-NOAUTH")
                    || line.starts_with("-NOPERM")
                    || line.starts_with("-ERR operation not permitted");
                if !ok {
                    return Step::Retry(format!("Error reply to PING from master: '{line}'"));
                }
                self.notes
                    .push("Master replied to PING, replication can continue...".into());
                let mut cmds = Vec::new();
                if let Some((user, pass)) = &self.cfg.auth {
                    let mut c = vec!["AUTH".to_string()];
                    c.extend(user.clone());
                    c.push(pass.clone());
                    cmds.push(c);
                }
                cmds.push(vec![
                    "REPLCONF".into(),
                    "listening-port".into(),
                    self.cfg.port.to_string(),
                ]);
                if let Some(ip) = &self.cfg.announce_ip {
                    cmds.push(vec!["REPLCONF".into(), "ip-address".into(), ip.clone()]);
                }
                cmds.push(vec![
                    "REPLCONF".into(),
                    "capa".into(),
                    "eof".into(),
                    "capa".into(),
                    "psync2".into(),
                ]);
                self.expect = if self.cfg.auth.is_some() {
                    Expect::Auth
                } else {
                    Expect::Port
                };
                Step::Send(cmds)
            }
            Expect::Auth => {
                if line.starts_with('-') {
                    return Step::Retry(format!("Unable to AUTH to MASTER: {line}"));
                }
                self.expect = Expect::Port;
                Step::Wait
            }
            Expect::Port => {
                if line.starts_with('-') {
                    self.notes.push(format!(
                        "(Non critical) Master does not understand REPLCONF listening-port: {line}"
                    ));
                }
                self.expect = if self.cfg.announce_ip.is_some() {
                    Expect::Ip
                } else {
                    Expect::Capa
                };
                Step::Wait
            }
            Expect::Ip => {
                if line.starts_with('-') {
                    self.notes.push(format!(
                        "(Non critical) Master does not understand REPLCONF ip-address: {line}"
                    ));
                }
                self.expect = Expect::Capa;
                Step::Wait
            }
            Expect::Capa => {
                if line.starts_with('-') {
                    self.notes.push(format!(
                        "(Non critical) Master does not understand REPLCONF capa: {line}"
                    ));
                }
                let (id, off) = self.psync_args();
                match &self.cfg.cached {
                    Some(_) => self.notes.push(format!(
                        "Trying a partial resynchronization (request {id}:{off})."
                    )),
                    None => self
                        .notes
                        .push("Partial resynchronization not possible (no cached master)".into()),
                }
                self.expect = Expect::Psync;
                Step::Send(vec![vec!["PSYNC".into(), id, off]])
            }
            Expect::Psync => self.psync_reply(line),
            Expect::Sync | Expect::Done => Step::Wait,
        }
    }

    fn psync_reply(&mut self, line: &str) -> Step {
        if line.is_empty() {
            return Step::Wait; // keep-alive newline before the answer
        }
        if let Some(rest) = line.strip_prefix("+FULLRESYNC") {
            let mut it = rest.split_whitespace();
            let id = it.next().unwrap_or("");
            let off = it.next().and_then(|o| o.parse::<i64>().ok());
            self.expect = Expect::Done;
            let (Some(off), 40) = (off, id.len()) else {
                self.notes
                    .push("Master replied with wrong +FULLRESYNC syntax.".into());
                return Step::FullResync {
                    replid: "0".repeat(40),
                    offset: 0,
                };
            };
            self.notes
                .push(format!("Full resync from master: {id}:{off}"));
            return Step::FullResync {
                replid: id.to_string(),
                offset: off.max(0) as u64,
            };
        }
        if let Some(rest) = line.strip_prefix("+CONTINUE") {
            self.expect = Expect::Done;
            self.notes
                .push("Successful partial resynchronization with master.".into());
            let id = rest.trim();
            return Step::Continue {
                replid: (id.len() == 40).then(|| id.to_string()),
            };
        }
        if line.starts_with("-NOMASTERLINK") || line.starts_with("-LOADING") {
            return Step::Retry(format!(
                "Master is currently unable to PSYNC but should be in the future: {line}"
            ));
        }
        if line.starts_with("-ERR") || line.starts_with('-') {
            self.notes
                .push(format!("Unexpected reply to PSYNC from master: {line}"));
            self.notes.push("Retrying with SYNC...".into());
            self.expect = Expect::Sync;
            return Step::Sync;
        }
        Step::Retry(format!("Unexpected reply to PSYNC from master: {line}"))
    }
}

/// The EOF mark of a diskless transfer: `$EOF:<40 bytes>`.
pub const EOF_MARK_LEN: usize = 40;

/// How the RDB payload is delimited, from its `$` header line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Len(u64),
    Eof(Vec<u8>),
}

/// Parses the `$<len>` / `$EOF:<mark>` line that starts an RDB transfer.
pub fn payload_header(line: &[u8]) -> Result<Payload, String> {
    if line.first() == Some(&b'-') {
        return Err(format!(
            "MASTER aborted replication with an error: {}",
            String::from_utf8_lossy(&line[1..])
        ));
    }
    if line.first() != Some(&b'$') {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
            String::from_utf8_lossy(line)
        ));
    }
    if let Some(mark) = line.strip_prefix(b"$EOF:") {
        if mark.len() >= EOF_MARK_LEN {
            return Ok(Payload::Eof(mark[..EOF_MARK_LEN].to_vec()));
        }
    }
    std::str::from_utf8(&line[1..])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(Payload::Len)
        .ok_or_else(|| "Bad protocol from MASTER: invalid bulk length".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HandshakeConfig {
        HandshakeConfig {
            auth: None,
            port: 6380,
            announce_ip: None,
            cached: None,
        }
    }

    #[test]
    fn a_first_link_asks_for_a_full_resync() {
        let mut h = Handshake::new(cfg());
        assert_eq!(h.start(), vec![vec!["PING".to_string()]]);
        let Step::Send(cmds) = h.on_line("+PONG") else {
            panic!("REPLCONFs follow the PONG")
        };
        assert_eq!(
            cmds,
            vec![
                vec!["REPLCONF", "listening-port", "6380"],
                vec!["REPLCONF", "capa", "eof", "capa", "psync2"]
            ]
        );
        assert_eq!(h.on_line("+OK"), Step::Wait);
        assert_eq!(
            h.on_line("+OK"),
            Step::Send(vec![vec!["PSYNC".into(), "?".into(), "-1".into()]])
        );
        assert_eq!(h.on_line(""), Step::Wait, "keep-alive newlines are skipped");
        let id = "a".repeat(40);
        assert_eq!(
            h.on_line(&format!("+FULLRESYNC {id} 1234")),
            Step::FullResync {
                replid: id,
                offset: 1234
            }
        );
    }

    #[test]
    fn auth_comes_first_and_its_failure_aborts() {
        let mut c = cfg();
        c.auth = Some((Some("repl".into()), "secret".into()));
        c.announce_ip = Some("10.0.0.9".into());
        let mut h = Handshake::new(c);
        let Step::Send(cmds) = h.on_line("-NOAUTH Authentication required.") else {
            panic!("NOAUTH to PING is accepted")
        };
        assert_eq!(cmds[0], vec!["AUTH", "repl", "secret"]);
        assert_eq!(cmds[2], vec!["REPLCONF", "ip-address", "10.0.0.9"]);
        assert!(matches!(
            h.on_line("-WRONGPASS invalid username-password pair"),
            Step::Retry(m) if m.starts_with("Unable to AUTH to MASTER: -WRONGPASS")
        ));
    }

    #[test]
    fn replconf_errors_are_not_critical_and_psync_continues() {
        let mut c = cfg();
        c.cached = Some(("b".repeat(40), 99));
        let mut h = Handshake::new(c);
        h.on_line("+PONG");
        assert_eq!(h.on_line("-ERR unknown"), Step::Wait);
        assert_eq!(
            h.on_line("+OK"),
            Step::Send(vec![vec!["PSYNC".into(), "b".repeat(40), "100".into()]]),
            "asks for the byte after the cached offset"
        );
        assert!(h.notes.iter().any(|n| n.contains("(Non critical)")));
        assert_eq!(
            h.on_line(&format!("+CONTINUE {}", "c".repeat(40))),
            Step::Continue {
                replid: Some("c".repeat(40))
            }
        );
    }

    #[test]
    fn bad_answers() {
        let mut h = Handshake::new(cfg());
        assert!(matches!(h.on_line("-ERR nope"), Step::Retry(_)));
        let mut h = Handshake::new(cfg());
        h.on_line("+PONG");
        h.on_line("+OK");
        h.on_line("+OK");
        assert!(matches!(
            h.on_line("-LOADING Redis is loading"),
            Step::Retry(_)
        ));
        assert_eq!(h.on_line("-ERR unknown command 'PSYNC'"), Step::Sync);
    }

    #[test]
    fn payload_headers() {
        assert_eq!(payload_header(b"$190"), Ok(Payload::Len(190)));
        let mark = "x".repeat(40);
        assert_eq!(
            payload_header(format!("$EOF:{mark}").as_bytes()),
            Ok(Payload::Eof(mark.into_bytes()))
        );
        assert!(payload_header(b"-ERR boom")
            .unwrap_err()
            .contains("aborted"));
        assert!(payload_header(b"+OK").is_err());
    }
}
