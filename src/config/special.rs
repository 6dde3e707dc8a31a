//! Directives with their own syntax (Redis's "special" configs): `dir`,
//! `save`, `client-output-buffer-limit`, `oom-score-adj-values`,
//! `notify-keyspace-events`, `bind`, `replicaof` and
//! `latency-tracking-info-percentiles`. Each has a setter with Redis's
//! validation and messages, a CONFIG GET form and a CONFIG REWRITE form.

use super::directives::{Directive, Kind, Special};
use super::rewrite::RewriteState;
use super::spec::{fmt_percentile, format_memory, memtoull, repr};
use super::{Config, OutputLimit};

fn special(
    name: &'static str,
    flags: u32,
    set: fn(&mut Config, &[String]) -> Result<(), String>,
    get: fn(&Config) -> String,
    rewrite: fn(&Config, &str, &mut RewriteState),
) -> Directive {
    Directive::new(name, flags, Kind::Special(Special { set, get, rewrite }))
}

/// The special directives, in Redis's order. `dir_flags` is
/// PROTECTED|DENY_LOADING, `m` MULTI_ARG, `i` IMMUTABLE.
pub fn directives(dir_flags: u32, m: u32, i: u32) -> Vec<Directive> {
    vec![
        special("dir", dir_flags, set_dir, get_dir, rewrite_dir),
        special("save", m, set_save, get_save, rewrite_save),
        special(
            "client-output-buffer-limit",
            m,
            set_obuf,
            get_obuf,
            rewrite_obuf,
        ),
        special("oom-score-adj-values", m, set_oom, get_oom, rewrite_oom),
        special(
            "notify-keyspace-events",
            0,
            set_notify,
            get_notify,
            rewrite_notify,
        ),
        special("bind", m, set_bind, get_bind, rewrite_bind),
        special(
            "replicaof",
            i | m,
            set_replicaof,
            get_replicaof,
            rewrite_replicaof,
        )
        .alias("slaveof"),
        special(
            "latency-tracking-info-percentiles",
            m,
            set_percentiles,
            get_percentiles,
            rewrite_percentiles,
        ),
    ]
}

/// strerror(errno) text of an I/O error, without Rust's "(os error N)".
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn wrong_args() -> Result<(), String> {
    Err("wrong number of arguments".into())
}

fn set_dir(c: &mut Config, a: &[String]) -> Result<(), String> {
    if a.len() != 1 {
        return wrong_args();
    }
    std::env::set_current_dir(&a[0]).map_err(|e| strerror(&e))?;
    c.dir = get_dir(c);
    Ok(())
}

fn get_dir(_c: &Config) -> String {
    std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn rewrite_dir(c: &Config, name: &str, st: &mut RewriteState) {
    let cwd = get_dir(c);
    if cwd.is_empty() {
        st.mark_processed(name);
        return;
    }
    st.rewrite_line(name, format!("{name} {}", repr(&cwd)), true);
}

/// strtoll(s, &end, 10) with `*end == '\0'` ("" is 0).
fn strtoll_full(s: &str) -> Option<i64> {
    if s.is_empty() {
        return Some(0);
    }
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() {
        return None;
    }
    match t.parse::<i64>() {
        Ok(v) => Some(v),
        // Overflow saturates in C (the value is still fully parsed).
        Err(_)
            if t.trim_start_matches(['+', '-'])
                .bytes()
                .all(|b| b.is_ascii_digit()) =>
        {
            Some(if t.starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            })
        }
        Err(_) => None,
    }
}

fn set_save(c: &mut Config, a: &[String]) -> Result<(), String> {
    let a: &[String] = if a.len() == 1 && a[0].is_empty() {
        &[]
    } else {
        a
    };
    if !a.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    let mut points = Vec::new();
    for pair in a.chunks(2) {
        let secs = strtoll_full(&pair[0]).filter(|v| *v >= 1);
        let changes = strtoll_full(&pair[1]).filter(|v| *v >= 0);
        match (secs, changes) {
            (Some(s), Some(ch)) => points.push((s, ch as i32 as i64)),
            _ => return Err("Invalid save parameters".into()),
        }
    }
    c.save = points;
    Ok(())
}

fn get_save(c: &Config) -> String {
    c.save
        .iter()
        .map(|(s, ch)| format!("{s} {ch}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn rewrite_save(c: &Config, name: &str, st: &mut RewriteState) {
    if c.save.is_empty() {
        st.rewrite_line(name, "save \"\"".into(), true);
    } else {
        for (s, ch) in &c.save {
            st.rewrite_line(name, format!("save {s} {ch}"), true);
        }
    }
    st.mark_processed(name);
}

const OBUF_DEFAULTS: [OutputLimit; 3] = [
    OutputLimit {
        hard: 0,
        soft: 0,
        soft_seconds: 0,
    },
    OutputLimit {
        hard: 256 << 20,
        soft: 64 << 20,
        soft_seconds: 60,
    },
    OutputLimit {
        hard: 32 << 20,
        soft: 8 << 20,
        soft_seconds: 60,
    },
];

pub fn default_obuf_limits() -> [OutputLimit; 3] {
    OBUF_DEFAULTS
}

fn set_obuf(c: &mut Config, a: &[String]) -> Result<(), String> {
    if !a.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut new = c.client_output_buffer_limit;
    for ch in a.chunks(4) {
        let class = match ch[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let secs = strtoll_full(&ch[3]).filter(|s| *s >= 0 && *s <= i32::MAX as i64);
        match (memtoull(&ch[1]), memtoull(&ch[2]), secs) {
            (Some(hard), Some(soft), Some(secs)) => {
                new[class] = OutputLimit {
                    hard,
                    soft,
                    soft_seconds: secs as u64,
                }
            }
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    c.client_output_buffer_limit = new;
    Ok(())
}

fn get_obuf(c: &Config) -> String {
    let names = ["normal", "slave", "pubsub"];
    c.client_output_buffer_limit
        .iter()
        .zip(names)
        .map(|(l, n)| format!("{} {} {} {}", n, l.hard, l.soft, l.soft_seconds))
        .collect::<Vec<_>>()
        .join(" ")
}

fn rewrite_obuf(c: &Config, name: &str, st: &mut RewriteState) {
    for (j, class) in ["normal", "replica", "pubsub"].iter().enumerate() {
        let l = c.client_output_buffer_limit[j];
        let force = l != OBUF_DEFAULTS[j];
        let line = format!(
            "{name} {class} {} {} {}",
            format_memory(l.hard as i64),
            format_memory(l.soft as i64),
            l.soft_seconds
        );
        st.rewrite_line(name, line, force);
    }
}

const OOM_DEFAULT: &str = "0 200 800";

fn set_oom(c: &mut Config, a: &[String]) -> Result<(), String> {
    if a.len() != 3 {
        return wrong_args();
    }
    let mut vals = Vec::new();
    for v in a {
        match strtoll_full(v) {
            Some(n) if (-2000..=2000).contains(&n) => vals.push(n.to_string()),
            _ => {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
                )
            }
        }
    }
    c.other
        .insert("oom-score-adj-values".into(), vals.join(" "));
    Ok(())
}

fn get_oom(c: &Config) -> String {
    c.other
        .get("oom-score-adj-values")
        .cloned()
        .unwrap_or_else(|| OOM_DEFAULT.into())
}

fn rewrite_oom(c: &Config, name: &str, st: &mut RewriteState) {
    let v = get_oom(c);
    st.rewrite_line(name, format!("{name} {v}"), v != OOM_DEFAULT);
}

fn set_notify(c: &mut Config, a: &[String]) -> Result<(), String> {
    if a.len() != 1 {
        return wrong_args();
    }
    c.notify_keyspace_events = crate::server::pubsub::parse_notify_flags(&a[0])
        .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
    Ok(())
}

fn get_notify(c: &Config) -> String {
    crate::server::pubsub::notify_flags_string(c.notify_keyspace_events)
}

fn rewrite_notify(c: &Config, name: &str, st: &mut RewriteState) {
    let line = format!("{name} {}", repr(&get_notify(c)));
    st.rewrite_line(name, line, c.notify_keyspace_events != 0);
}

fn set_bind(c: &mut Config, a: &[String]) -> Result<(), String> {
    if a.len() > 16 {
        return Err("Too many bind addresses specified.".into());
    }
    c.bind = if a.len() == 1 && a[0].is_empty() {
        vec![]
    } else {
        a.to_vec()
    };
    Ok(())
}

fn get_bind(c: &Config) -> String {
    c.bind.join(" ")
}

fn rewrite_bind(c: &Config, name: &str, st: &mut RewriteState) {
    if c.bind == ["*", "-::*"] {
        st.mark_processed(name);
        return;
    }
    let addrs = if c.bind.is_empty() {
        "\"\"".to_string()
    } else {
        c.bind.join(" ")
    };
    st.rewrite_line(name, format!("{name} {addrs}"), true);
}

fn set_replicaof(c: &mut Config, a: &[String]) -> Result<(), String> {
    if a.len() != 2 {
        return wrong_args();
    }
    if a[0].eq_ignore_ascii_case("no") && a[1].eq_ignore_ascii_case("one") {
        c.replicaof = None;
        return Ok(());
    }
    match strtoll_full(&a[1]) {
        Some(p) if (0..=65535).contains(&p) => {
            c.replicaof = Some((a[0].clone(), p as u16));
            Ok(())
        }
        _ => {
            c.replicaof = None;
            Err("Invalid master port".into())
        }
    }
}

fn get_replicaof(c: &Config) -> String {
    c.replicaof
        .as_ref()
        .map(|(h, p)| format!("{h} {p}"))
        .unwrap_or_default()
}

fn rewrite_replicaof(c: &Config, name: &str, st: &mut RewriteState) {
    match &c.replicaof {
        Some((h, p)) if !c.cluster_enabled => {
            st.rewrite_line(name, format!("{name} {h} {p}"), true)
        }
        _ => st.mark_processed(name),
    }
}

fn set_percentiles(c: &mut Config, a: &[String]) -> Result<(), String> {
    let a: &[String] = if a.len() == 1 && a[0].is_empty() {
        &[]
    } else {
        a
    };
    let mut v = Vec::new();
    for s in a {
        let p = crate::util::num::parse_f64(s.as_bytes())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&p) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        v.push(p);
    }
    c.latency_tracking_info_percentiles = v;
    Ok(())
}

fn get_percentiles(c: &Config) -> String {
    c.latency_tracking_info_percentiles
        .iter()
        .map(|p| fmt_percentile(*p))
        .collect::<Vec<_>>()
        .join(" ")
}

fn rewrite_percentiles(c: &Config, name: &str, st: &mut RewriteState) {
    let line = if c.latency_tracking_info_percentiles.is_empty() {
        format!("{name} \"\"")
    } else {
        format!("{name} {}", get_percentiles(c))
    };
    st.rewrite_line(name, line, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn obuf_limits() {
        let mut c = Config::default();
        set_obuf(&mut c, &args("replica 1gb 100mb 30 pubsub 0 0 0")).unwrap();
        assert_eq!(
            get_obuf(&c),
            "normal 0 0 0 slave 1073741824 104857600 30 pubsub 0 0 0"
        );
        assert_eq!(
            set_obuf(&mut c, &args("master 1 1 1")).unwrap_err(),
            "Invalid client class specified in buffer limit configuration."
        );
        assert_eq!(
            set_obuf(&mut c, &args("normal 1 1")).unwrap_err(),
            "Wrong number of arguments in buffer limit configuration."
        );
        assert_eq!(
            set_obuf(&mut c, &args("normal 1x 1 1")).unwrap_err(),
            "Error in hard, soft or soft_seconds setting in buffer limit configuration."
        );
    }

    #[test]
    fn save_bind_replicaof_percentiles() {
        let mut c = Config::default();
        assert_eq!(
            set_save(&mut c, &args("1 2 3")).unwrap_err(),
            "Invalid save parameters"
        );
        assert_eq!(
            set_save(&mut c, &args("0 1")).unwrap_err(),
            "Invalid save parameters"
        );
        set_save(&mut c, &args("10 1 20 5")).unwrap();
        assert_eq!(get_save(&c), "10 1 20 5");
        set_save(&mut c, &[]).unwrap();
        assert_eq!(get_save(&c), "");
        set_bind(&mut c, &args("127.0.0.1 ::1")).unwrap();
        assert_eq!(get_bind(&c), "127.0.0.1 ::1");
        assert_eq!(
            set_replicaof(&mut c, &args("127.0.0.1 abc")).unwrap_err(),
            "Invalid master port"
        );
        set_replicaof(&mut c, &args("10.0.0.1 6380")).unwrap();
        assert_eq!(get_replicaof(&c), "10.0.0.1 6380");
        set_replicaof(&mut c, &args("NO ONE")).unwrap();
        assert_eq!(get_replicaof(&c), "");
        set_percentiles(&mut c, &args("50.5 99")).unwrap();
        assert_eq!(get_percentiles(&c), "50.5 99");
        assert!(set_percentiles(&mut c, &args("101")).is_err());
        assert_eq!(
            set_notify(&mut c, &args("Q")).unwrap_err(),
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        );
    }
}
