//! Script flags from a `#!lua flags=no-writes,allow-oom` first line
//! (Redis 7.0's evalExtractShebangFlags). A script without a shebang runs
//! in compatibility mode: no flags, the command's own checks apply.

/// The script declared no shebang (Redis's SCRIPT_FLAG_EVAL_COMPAT_MODE).
pub const COMPAT: u32 = 1 << 4;
pub const NO_WRITES: u32 = 1 << 0;
pub const ALLOW_OOM: u32 = 1 << 1;
pub const ALLOW_STALE: u32 = 1 << 2;
pub const NO_CLUSTER: u32 = 1 << 3;
pub const ALLOW_CROSS_SLOT: u32 = 1 << 5;

const NAMES: [(&str, u32); 5] = [
    ("no-writes", NO_WRITES),
    ("allow-oom", ALLOW_OOM),
    ("allow-stale", ALLOW_STALE),
    ("no-cluster", NO_CLUSTER),
    ("allow-cross-slot-keys", ALLOW_CROSS_SLOT),
];

/// (flags, length of the shebang line without its newline), or the
/// error to reply.
pub fn extract(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((COMPAT, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let parts = crate::protocol::splitargs::split_args(&body[..end])
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "Invalid engine in script shebang".to_string())?;
    let engine = String::from_utf8_lossy(&parts[0]);
    if engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = 0;
    for part in &parts[1..] {
        let part = String::from_utf8_lossy(part);
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {part}"));
        };
        if list.is_empty() {
            continue;
        }
        for name in list.split(',') {
            match NAMES.iter().find(|(n, _)| *n == name) {
                Some((_, f)) => flags |= f,
                None => return Err(format!("Unexpected flag in script shebang: {name}")),
            }
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_flags() {
        assert_eq!(extract(b"return 1").unwrap(), (COMPAT, 0));
        assert_eq!(extract(b"#!lua\nreturn 1").unwrap(), (0, 5));
        assert_eq!(
            extract(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap(),
            (NO_WRITES | ALLOW_OOM, 31)
        );
        assert_eq!(extract(b"#!lua flags=\nx").unwrap(), (0, 12));
        assert_eq!(extract(b"#!lua").unwrap_err(), "Invalid script shebang");
        assert_eq!(
            extract(b"#!python\n").unwrap_err(),
            "Unexpected engine in script shebang: #!python"
        );
        assert_eq!(
            extract(b"#!lua foo=bar\n").unwrap_err(),
            "Unknown lua shebang option: foo=bar"
        );
        assert_eq!(
            extract(b"#!lua flags=allow-oom,what?\n").unwrap_err(),
            "Unexpected flag in script shebang: what?"
        );
    }
}
