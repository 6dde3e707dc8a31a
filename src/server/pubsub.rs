//! Pub/Sub registry and delivery: channels, patterns, shard channels, and
//! keyspace notifications (which are ordinary PUBLISHes on
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`).

use super::client::ClientId;
use super::Server;
use crate::commands::ctx::notify;
use crate::protocol::Reply;
use crate::util::glob::glob_match;
use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};

#[derive(Default)]
pub struct PubSub {
    /// Channel -> subscribers, in subscription order.
    pub channels: IndexMap<Bytes, IndexSet<ClientId>>,
    /// Pattern -> subscribers.
    pub patterns: IndexMap<Bytes, IndexSet<ClientId>>,
    pub shard_channels: IndexMap<Bytes, IndexSet<ClientId>>,
}

/// Which registry a (un)subscription targets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl PubSub {
    pub fn map(&mut self, kind: Kind) -> &mut IndexMap<Bytes, IndexSet<ClientId>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }
}

/// Publishes `msg` on `channel` (or a shard channel) and returns the number
/// of clients that received it. `cur` is the calling client and its reply
/// buffer, which is out of the registry while its command runs.
pub fn publish(
    srv: &mut Server,
    mut cur: Option<(ClientId, &mut Reply)>,
    channel: &[u8],
    msg: &[u8],
    shard: bool,
) -> usize {
    let mut receivers = 0;
    let map = if shard {
        &srv.pubsub.shard_channels
    } else {
        &srv.pubsub.channels
    };
    let direct: Vec<ClientId> = map
        .get(channel)
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();
    let kind: &[u8] = if shard { b"smessage" } else { b"message" };
    for id in direct {
        let c = cur.as_mut().map(|(i, r)| (*i, &mut **r));
        srv.write_to_client(id, c, |r| {
            let was = std::mem::replace(&mut r.pushing, true);
            r.push_len(3);
            r.bulk(kind);
            r.bulk(channel);
            r.bulk(msg);
            r.pushing = was;
        });
        receivers += 1;
    }
    if !shard && !srv.pubsub.patterns.is_empty() {
        let matching: Vec<(Bytes, Vec<ClientId>)> = srv
            .pubsub
            .patterns
            .iter()
            .filter(|(p, _)| glob_match(p, channel, false))
            .map(|(p, ids)| (p.clone(), ids.iter().copied().collect()))
            .collect();
        for (pat, ids) in matching {
            for id in ids {
                let c = cur.as_mut().map(|(i, r)| (*i, &mut **r));
                srv.write_to_client(id, c, |r| {
                    let was = std::mem::replace(&mut r.pushing, true);
                    r.push_len(4);
                    r.bulk(b"pmessage");
                    r.bulk(&pat);
                    r.bulk(channel);
                    r.bulk(msg);
                    r.pushing = was;
                });
                receivers += 1;
            }
        }
    }
    receivers
}

/// Parses notify-keyspace-events letters into class bits; None if a
/// letter is unknown.
pub fn parse_notify_flags(s: &str) -> Option<u32> {
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => notify::ALL,
            'g' => notify::GENERIC,
            '$' => notify::STRING,
            'l' => notify::LIST,
            's' => notify::SET,
            'h' => notify::HASH,
            'z' => notify::ZSET,
            'x' => notify::EXPIRED,
            'e' => notify::EVICTED,
            'K' => notify::KEYSPACE,
            'E' => notify::KEYEVENT,
            't' => notify::STREAM,
            'm' => notify::KEY_MISS,
            'd' => notify::MODULE,
            'n' => notify::NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// The letters for class bits, in Redis's canonical order.
pub fn notify_flags_string(f: u32) -> String {
    let mut s = String::new();
    if f & notify::ALL == notify::ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (notify::GENERIC, 'g'),
            (notify::STRING, '$'),
            (notify::LIST, 'l'),
            (notify::SET, 's'),
            (notify::HASH, 'h'),
            (notify::ZSET, 'z'),
            (notify::EXPIRED, 'x'),
            (notify::EVICTED, 'e'),
            (notify::STREAM, 't'),
            (notify::MODULE, 'd'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    if f & notify::KEYSPACE != 0 {
        s.push('K');
    }
    if f & notify::KEYEVENT != 0 {
        s.push('E');
    }
    if f & notify::KEY_MISS != 0 {
        s.push('m');
    }
    if f & notify::NEW != 0 {
        s.push('n');
    }
    s
}

/// Fires a keyspace notification if its class is enabled.
pub fn notify_keyspace_event(
    srv: &mut Server,
    mut cur: Option<(ClientId, &mut Reply)>,
    class: u32,
    event: &str,
    key: &[u8],
    db: usize,
) {
    let flags = srv.config.notify_keyspace_events;
    if flags & class == 0 {
        return;
    }
    if flags & notify::KEYSPACE != 0 {
        let mut chan = format!("__keyspace@{db}__:").into_bytes();
        chan.extend_from_slice(key);
        let c = cur.as_mut().map(|(i, r)| (*i, &mut **r));
        publish(srv, c, &chan, event.as_bytes(), false);
    }
    if flags & notify::KEYEVENT != 0 {
        let chan = format!("__keyevent@{db}__:{event}").into_bytes();
        let c = cur.as_mut().map(|(i, r)| (*i, &mut **r));
        publish(srv, c, &chan, key, false);
    }
}
