//! `sdssplitargs`: the tokenizer Redis uses for inline commands and for
//! redis.conf lines. Double quotes take C escapes (`\n`, `\xHH`, ...),
//! single quotes only `\'`; a closing quote must be followed by a space or
//! the end of the line.

/// Splits `line` into arguments. Returns `None` on unbalanced quotes (or a
/// closing quote not followed by a space), like Redis.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut inq = false; // inside "double quotes"
        let mut insq = false; // inside 'single quotes'
        loop {
            if inq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    // closing quote must be followed by a space or nothing
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    inq = false;
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    insq = false;
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        let _ = (inq, insq);
        out.push(cur);
    }
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn s(v: &str) -> Option<Vec<String>> {
        split_args(v.as_bytes()).map(|a| {
            a.into_iter()
                .map(|x| String::from_utf8(x).unwrap())
                .collect()
        })
    }

    #[test]
    fn plain_and_quoted() {
        assert_eq!(
            s("set a b"),
            Some(vec!["set".into(), "a".into(), "b".into()])
        );
        assert_eq!(
            s("  set \"a b\" 'c d'  "),
            Some(vec!["set".into(), "a b".into(), "c d".into()])
        );
        assert_eq!(s("\"\\x41\\n\""), Some(vec!["A\n".into()]));
        assert_eq!(s("''"), Some(vec!["".into()]));
        assert_eq!(s(""), Some(vec![]));
    }

    #[test]
    fn unbalanced() {
        assert_eq!(s("set \"a"), None);
        assert_eq!(s("set 'a"), None);
        assert_eq!(s("set \"a\"b"), None);
    }
}
