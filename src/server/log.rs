//! The server log, in Redis's format:
//! `<pid>:<role> <dd Mon yyyy HH:MM:SS.mmm> <level> <message>`, where the
//! level is `.` debug, `-` verbose, `*` notice, `#` warning, and the role
//! `M` (master), `S` (replica) or `C` (forked child).
//!
//! Like Redis, the file is opened in append mode for every line so that
//! log rotation by renaming works; an empty logfile means stdout.

use crate::config::LogLevel;
use parking_lot::Mutex;
use std::io::Write;

struct LogState {
    level: LogLevel,
    file: String,
    role: char,
}

static STATE: Mutex<LogState> = Mutex::new(LogState {
    level: LogLevel::Notice,
    file: String::new(),
    role: 'M',
});

pub fn configure(level: LogLevel, file: &str) {
    let mut s = STATE.lock();
    s.level = level;
    s.file = file.to_string();
}

pub fn set_role(role: char) {
    STATE.lock().role = role;
}

pub fn enabled(level: LogLevel) -> bool {
    level_rank(level) >= level_rank(STATE.lock().level)
}

fn level_rank(l: LogLevel) -> u8 {
    match l {
        LogLevel::Debug => 0,
        LogLevel::Verbose => 1,
        LogLevel::Notice => 2,
        LogLevel::Warning => 3,
        LogLevel::Nothing => 4,
    }
}

/// Formats unix milliseconds as `22 Nov 2026 20:48:01.123` (UTC).
pub fn format_time(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        d,
        MONTHS[(m - 1) as usize],
        y,
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60,
        millis
    )
}

/// Writes a raw line (no prefix), used for the start-up logo.
pub fn raw(text: &str) {
    let s = STATE.lock();
    write_out(&s.file, text);
}

fn write_out(file: &str, line: &str) {
    if file.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    } else if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

pub fn log(level: LogLevel, msg: &str) {
    // Bounded wait: a forked child inherits the lock as it was at fork
    // time, held for ever if another thread held it then. Such a child
    // (or anyone stuck that long) writes to stdout instead of hanging.
    let Some(s) = STATE.try_lock_for(std::time::Duration::from_millis(200)) else {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}:C {} * {}",
            std::process::id(),
            format_time(super::now_ms()),
            msg
        );
        return;
    };
    if level_rank(level) < level_rank(s.level) || level == LogLevel::Nothing {
        return;
    }
    let c = match level {
        LogLevel::Debug => '.',
        LogLevel::Verbose => '-',
        LogLevel::Notice => '*',
        _ => '#',
    };
    let line = format!(
        "{}:{} {} {} {}\n",
        std::process::id(),
        s.role,
        format_time(super::now_ms()),
        c,
        msg
    );
    write_out(&s.file, &line);
}

#[macro_export]
macro_rules! log_notice { ($($t:tt)*) => { $crate::server::log::log($crate::config::LogLevel::Notice, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_warning { ($($t:tt)*) => { $crate::server::log::log($crate::config::LogLevel::Warning, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_verbose { ($($t:tt)*) => { $crate::server::log::log($crate::config::LogLevel::Verbose, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_debug { ($($t:tt)*) => { $crate::server::log::log($crate::config::LogLevel::Debug, &format!($($t)*)) } }

/// Writes Redis's crash report for a fatal signal: the bug-report banner,
/// the signal, and a stack trace of the crashing thread. Called from the
/// binary's signal handler, so it never waits for the log lock (the crash
/// may have happened while it was held) and falls back to stdout.
pub fn crash_report(sig: i32) {
    let trace = std::backtrace::Backtrace::force_capture();
    let (file, role) = match STATE.try_lock() {
        Some(s) => (s.file.clone(), s.role),
        None => (String::new(), 'M'),
    };
    let prefix = format!(
        "{}:{} {} #",
        std::process::id(),
        role,
        format_time(super::now_ms())
    );
    let text = format!(
        "\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===\n\
         {prefix} Redis {} crashed by signal: {sig}, si_code: 0\n\n\
         ------ STACK TRACE ------\n{trace}\n\n\
         === REDIS BUG REPORT END. Make sure to include from START to END. ===\n\n",
        super::run::REDIS_VERSION
    );
    write_out(&file, &text);
}

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn time_format() {
        assert_eq!(format_time(0), "01 Jan 1970 00:00:00.000");
        assert_eq!(format_time(1_795_380_481_123), "22 Nov 2026 20:48:01.123");
    }
}
