//! Redis's extra checks on some directive values (its is_valid_fn
//! functions): file names that must not be paths, hostnames, the
//! process-title template, shutdown flag combinations.

/// dbfilename, appendfilename, appenddirname: a plain name (`what`), and
/// when `empty` is set, not empty (`msg` then says so).
pub fn basename(
    what: &'static str,
    empty: bool,
    s: &str,
    msg: &'static str,
) -> Result<(), &'static str> {
    if empty && s.is_empty() {
        return Err(msg);
    }
    if s.contains('/') || s.contains('\\') {
        return Err(match what {
            "dbfilename" => "dbfilename can't be a path, just a filename",
            "appendfilename" => "appendfilename can't be a path, just a filename",
            _ => "appenddirname can't be a path, just a dirname",
        });
    }
    Ok(())
}

pub fn shutdown_flags_valid(v: i64) -> Result<(), &'static str> {
    if v & 1 != 0 && v & 2 != 0 {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously");
    }
    Ok(())
}

pub fn hostname_valid(s: &str) -> Result<(), &'static str> {
    if s.len() >= 256 {
        return Err("Hostnames must be less than 256 characters");
    }
    if !s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots");
    }
    Ok(())
}

/// validateProcTitleTemplate: known {variables}, balanced braces, and a
/// non-empty expansion.
pub fn proc_title_valid(t: &str) -> Result<(), &'static str> {
    const ERR: &str = "template format is invalid or contains unknown variables";
    let mut out = String::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if after.is_empty() {
            return Err(ERR);
        }
        if let Some(r) = after.strip_prefix('{') {
            out.push('{');
            rest = r;
            continue;
        }
        let close = after.find('}').ok_or(ERR)?;
        match &after[..close] {
            "title" | "server-mode" => {}
            "listen-addr" | "config-file" | "port" | "tls-port" | "unixsocket" => out.push('x'),
            _ => return Err(ERR),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(ERR);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks() {
        assert!(basename("dbfilename", false, "a/b", "").is_err());
        assert_eq!(
            basename("appendfilename", true, "", "appendfilename can't be empty"),
            Err("appendfilename can't be empty")
        );
        assert!(hostname_valid("a b").is_err());
        assert!(hostname_valid("node-1.example").is_ok());
        assert!(proc_title_valid("{title} {listen-addr} {server-mode}").is_ok());
        assert!(proc_title_valid("{foo}").is_err());
        assert!(proc_title_valid("{title}").is_err());
        assert!(proc_title_valid("--my--title--template").is_ok());
        assert!(shutdown_flags_valid(3).is_err());
        assert!(shutdown_flags_valid(6).is_ok());
    }
}
