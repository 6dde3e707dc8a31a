//! LCS: the longest common subsequence of two string keys, its length, or
//! the matching ranges (IDX, MINMATCHLEN, WITHMATCHLEN), computed with the
//! classic dynamic-programming table as Redis 7.0 does, so that the ranges
//! reported (and their order: from the end of the strings backwards) are
//! the ones Redis reports.

use super::super::{err, Ctx};
use crate::protocol::Agg;
use crate::util::num::parse_i64;
use bytes::Bytes;

/// One matching range: positions in the first and second string
/// (inclusive) and its length.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Match {
    pub a: (usize, usize),
    pub b: (usize, usize),
    pub len: usize,
}

/// The LCS table, row-major `(alen+1) x (blen+1)`.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[j + i * self.width]
    }
}

fn build_table(a: &[u8], b: &[u8]) -> Option<Table> {
    let width = b.len() + 1;
    let size = (a.len() + 1).checked_mul(width)?;
    let mut cells: Vec<u32> = Vec::new();
    cells.try_reserve_exact(size).ok()?;
    cells.resize(size, 0);
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            cells[j + i * width] = if a[i - 1] == b[j - 1] {
                cells[(j - 1) + (i - 1) * width] + 1
            } else {
                cells[j + (i - 1) * width].max(cells[(j - 1) + i * width])
            };
        }
    }
    Some(Table { cells, width })
}

/// Walks the table back from the end: the LCS string and the ranges.
fn walk(a: &[u8], b: &[u8], t: &Table) -> (Vec<u8>, Vec<Match>) {
    let total = t.at(a.len(), b.len()) as usize;
    let mut result = vec![0u8; total];
    let mut idx = total;
    let mut ranges = Vec::new();
    let (mut i, mut j) = (a.len(), b.len());
    // Current range, as (a_start, a_end, b_start, b_end).
    let mut cur: Option<(usize, usize, usize, usize)> = None;
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            match &mut cur {
                None => cur = Some((i - 1, i - 1, j - 1, j - 1)),
                Some(r) if r.0 == i && r.2 == j => {
                    r.0 -= 1;
                    r.2 -= 1;
                }
                Some(_) => emit = true,
            }
            if let Some(r) = cur {
                if r.0 == 0 || r.2 == 0 {
                    emit = true;
                }
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t.at(i - 1, j) > t.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if cur.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some(r) = cur.take() {
                ranges.push(Match {
                    a: (r.0, r.1),
                    b: (r.2, r.3),
                    len: r.1 - r.0 + 1,
                });
            }
        }
    }
    (result, ranges)
}

pub fn lcs(ctx: &mut Ctx, args: &[Bytes]) {
    let mut vals = Vec::with_capacity(2);
    let mut wrong = false;
    for key in &args[1..3] {
        match ctx.lookup_read(key) {
            None => vals.push(Vec::new()),
            Some(e) => match e.value.as_bytes() {
                Some(b) if e.value.is_string() => vals.push(b.into_owned()),
                _ => wrong = true,
            },
        }
    }
    if wrong {
        ctx.out
            .error("ERR The specified keys must contain string values");
        return;
    }
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        let more = j + 1 < args.len();
        if opt.eq_ignore_ascii_case(b"idx") {
            getidx = true;
        } else if opt.eq_ignore_ascii_case(b"len") {
            getlen = true;
        } else if opt.eq_ignore_ascii_case(b"withmatchlen") {
            withmatchlen = true;
        } else if opt.eq_ignore_ascii_case(b"minmatchlen") && more {
            let Some(n) = parse_i64(&args[j + 1]) else {
                ctx.out.error(err::NOT_INT);
                return;
            };
            minmatchlen = n.max(0);
            j += 1;
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
        j += 1;
    }
    if getlen && getidx {
        ctx.out
            .error("ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    let (a, b) = (&vals[0], &vals[1]);
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        ctx.out.error("ERR String too long for LCS");
        return;
    }
    let cells = (a.len() as u128 + 1) * (b.len() as u128 + 1);
    if cells * 4 > ctx.srv.config.proto_max_bulk_len.max(0) as u128 {
        ctx.out
            .error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    let Some(table) = build_table(a, b) else {
        ctx.out
            .error("ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    };
    let total = table.at(a.len(), b.len()) as i64;
    if getlen {
        ctx.out.int(total);
        return;
    }
    let (result, ranges) = walk(a, b, &table);
    if !getidx {
        ctx.out.bulk(&result);
        return;
    }
    ctx.out.map_len(2);
    ctx.out.bulk(b"matches");
    let d = ctx.out.defer();
    let mut n = 0;
    for m in ranges
        .iter()
        .filter(|m| minmatchlen == 0 || m.len as i64 >= minmatchlen)
    {
        ctx.out.array_len(2 + withmatchlen as usize);
        ctx.out.array_len(2);
        ctx.out.int(m.a.0 as i64);
        ctx.out.int(m.a.1 as i64);
        ctx.out.array_len(2);
        ctx.out.int(m.b.0 as i64);
        ctx.out.int(m.b.1 as i64);
        if withmatchlen {
            ctx.out.int(m.len as i64);
        }
        n += 1;
    }
    ctx.out.fill(d, Agg::Array, n);
    ctx.out.bulk(b"len");
    ctx.out.int(total);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_lcs_example() {
        let a = b"ohmytext";
        let b = b"mynewtext";
        let t = build_table(a, b).unwrap();
        let (s, ranges) = walk(a, b, &t);
        assert_eq!(s, b"mytext");
        assert_eq!(
            ranges,
            vec![
                Match {
                    a: (4, 7),
                    b: (5, 8),
                    len: 4
                },
                Match {
                    a: (2, 3),
                    b: (0, 1),
                    len: 2
                },
            ]
        );
        let t = build_table(b"", b"abc").unwrap();
        assert_eq!(walk(b"", b"abc", &t).0, b"");
    }
}
