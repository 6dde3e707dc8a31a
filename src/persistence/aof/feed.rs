//! What `feedAppendOnlyFile` adds to the AOF buffer for each propagated
//! command, as a small state machine the server's writer owns: a `#TS:`
//! annotation when `aof-timestamp-enabled` and the second advanced since
//! the last one, `SELECT <db>` when the command targets another database
//! than the last one written, then the command itself as a RESP array.
//!
//! At every rewrite start (a new incr file) the server calls
//! [`AofFeed::new_file`], so the new file starts with a SELECT, as Redis
//! does (it resets `aof_selected_db` to -1).

use super::stream::{encode_command, encode_select, encode_ts_annotation};

/// The per-file state of the AOF writer's encoder.
#[derive(Clone, Debug, Default)]
pub struct AofFeed {
    /// The database the last written command targeted (None: write a
    /// SELECT before the next command).
    selected_db: Option<usize>,
    /// The second of the last `#TS:` annotation (`aof_cur_timestamp`).
    last_ts: i64,
}

impl AofFeed {
    pub fn new() -> Self {
        AofFeed::default()
    }

    /// Forces a SELECT before the next command (a new incr file).
    pub fn new_file(&mut self) {
        self.selected_db = None;
    }

    /// Appends `args`, which ran against database `db`, to `out`.
    /// `timestamps`: `aof-timestamp-enabled`; `unix_secs`: the server's
    /// cached clock (`server.unixtime`).
    pub fn feed<A: AsRef<[u8]>>(
        &mut self,
        out: &mut Vec<u8>,
        db: usize,
        args: &[A],
        timestamps: bool,
        unix_secs: i64,
    ) {
        if timestamps && self.last_ts < unix_secs {
            self.last_ts = unix_secs;
            encode_ts_annotation(out, unix_secs);
        }
        if self.selected_db != Some(db) {
            encode_select(out, db);
            self.selected_db = Some(db);
        }
        encode_command(out, args);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::aof::stream::{Item, Mode, StreamReader};

    #[test]
    fn select_and_timestamps_as_redis_writes_them() {
        let mut f = AofFeed::new();
        let mut out = Vec::new();
        f.feed(&mut out, 0, &["set", "a", "1"], true, 100);
        f.feed(&mut out, 0, &["set", "b", "2"], true, 100);
        f.feed(&mut out, 3, &["incr", "c"], true, 101);
        f.feed(&mut out, 3, &["del", "c"], false, 105);
        f.new_file();
        f.feed(&mut out, 3, &["del", "d"], true, 104);
        let mut text = Vec::new();
        for item in StreamReader::new(&out, Mode::Strict) {
            text.push(match item {
                Item::Annotation(a) => String::from_utf8_lossy(a.text()).into_owned(),
                Item::Command(c) => c
                    .args
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            });
        }
        assert_eq!(
            text,
            [
                "#TS:100", "SELECT 0", "set a 1", "set b 2", "#TS:101", "SELECT 3", "incr c",
                "del c", "#TS:104", "SELECT 3", "del d"
            ]
        );
        assert!(out.starts_with(b"#TS:100\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n"));
    }
}
