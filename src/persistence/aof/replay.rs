//! The command stream grouped the way the loader must apply it: plain
//! commands one by one, and each MULTI ... EXEC as one unit that is handed
//! out only once its EXEC has been read. A transaction the file cuts off
//! is therefore never partly applied; the reader's [`End`] then says
//! where to truncate (before the MULTI).
//!
//! This mirrors Redis's fake AOF client: commands after MULTI are queued
//! and run at EXEC. As in Redis, a MULTI inside a transaction is queued
//! like any command (the executor answers it with an error nobody reads),
//! and an EXEC outside one is handed out as a plain command (same).
//! Annotations are dropped.

use super::stream::{Command, End, Item, Mode, StreamReader};

/// What the loader applies next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unit<'a> {
    Command(Command<'a>),
    /// The commands between MULTI and EXEC (both excluded), to run
    /// atomically.
    Transaction(Vec<Command<'a>>),
}

/// Groups a lenient [`StreamReader`]'s commands into [`Unit`]s.
pub struct Units<'a> {
    reader: StreamReader<'a>,
}

impl<'a> Units<'a> {
    /// Units of `data[start..]` (start: after an RDB preamble, else 0).
    pub fn new(data: &'a [u8], start: usize) -> Self {
        Units {
            reader: StreamReader::starting_at(data, start, Mode::Lenient),
        }
    }

    /// How the input ended, once the iterator returned `None`.
    pub fn end(&self) -> Option<&End> {
        self.reader.end()
    }

    /// The offset read so far.
    pub fn offset(&self) -> u64 {
        self.reader.offset()
    }
}

impl<'a> Iterator for Units<'a> {
    type Item = Unit<'a>;

    fn next(&mut self) -> Option<Unit<'a>> {
        let mut body: Option<Vec<Command<'a>>> = None;
        loop {
            let cmd = match self.reader.next()? {
                Item::Annotation(_) => continue,
                Item::Command(c) => c,
            };
            match &mut body {
                None if cmd.is("multi") => body = Some(Vec::new()),
                None => return Some(Unit::Command(cmd)),
                Some(b) if cmd.is("exec") => return Some(Unit::Transaction(std::mem::take(b))),
                Some(b) => b.push(cmd),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::aof::stream::{encode_command, encode_ts_annotation, Truncation};

    fn names(u: &Unit) -> Vec<String> {
        let one = |c: &Command| String::from_utf8_lossy(c.args[0]).into_owned();
        match u {
            Unit::Command(c) => vec![one(c)],
            Unit::Transaction(b) => b.iter().map(one).collect(),
        }
    }

    #[test]
    fn transactions_come_whole_or_not_at_all() {
        let mut d = Vec::new();
        encode_command(&mut d, &["set", "a", "1"]);
        encode_ts_annotation(&mut d, 5);
        encode_command(&mut d, &["MULTI"]);
        encode_command(&mut d, &["incr", "a"]);
        encode_command(&mut d, &["multi"]);
        encode_command(&mut d, &["del", "b"]);
        encode_command(&mut d, &["EXEC"]);
        encode_command(&mut d, &["exec"]);
        let good = d.len() as u64;
        encode_command(&mut d, &["multi"]);
        let multi_at = good;
        encode_command(&mut d, &["set", "c", "3"]);
        let mut u = Units::new(&d, 0);
        let got: Vec<_> = u.by_ref().map(|x| names(&x)).collect();
        assert_eq!(
            got,
            [vec!["set"], vec!["incr", "multi", "del"], vec!["exec"]]
        );
        assert_eq!(
            u.end(),
            Some(&End::Truncated {
                last_good: good,
                cause: Truncation::UnclosedMulti {
                    multi_start: multi_at
                },
                fault: None
            })
        );
    }

    #[test]
    fn nested_multi_cut_reverts_the_outer_transaction() {
        let mut d = Vec::new();
        encode_command(&mut d, &["set", "a", "1"]);
        let good = d.len() as u64;
        encode_command(&mut d, &["multi"]);
        encode_command(&mut d, &["incr", "a"]);
        encode_command(&mut d, &["multi"]);
        encode_command(&mut d, &["incr", "a"]);
        let mut u = Units::new(&d, 0);
        assert_eq!(u.by_ref().count(), 1);
        assert_eq!(u.end().unwrap().last_good(0), good);
    }
}
