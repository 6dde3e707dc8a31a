//! `keel-check-aof --salvage <output> <file.manifest | file.aof>` as a
//! pure function: it reads the input through a closure and returns the
//! files to write (the binary writes them, never over the input) with the
//! report. A manifest input gives a complete AOF directory: the manifest
//! (base and incr lines; history files are not needed to load) and every
//! base and incr file under its own name, each salvaged by
//! [`super::salvage::salvage_stream`] (an intact file is copied byte for
//! byte). A damaged RDB preamble is rewritten from its intact keys by
//! keel-check-rdb's salvage; a base that cannot be salvaged at all stops
//! the tool (incr files replayed without their base would look like a
//! complete dataset and are not).

use super::check::check_resp;
use super::check_report::{lost_text, FileReport, Verdict};
use super::manifest::Manifest;
use super::salvage::{salvage_stream, Dropped};
use crate::commands::CommandTable;
use crate::persistence::rdb::{load_prefix, LoadOptions};
use crate::tools::check_rdb::rewrite::{rewrite, RewriteOptions};

/// What `--salvage` produces.
#[derive(Debug, Default)]
pub struct SalvageOutput {
    /// `(name, bytes)`: for a manifest input, files of the output
    /// directory, the manifest last; for a single file, one entry named "".
    pub files: Vec<(String, Vec<u8>)>,
    pub reports: Vec<FileReport>,
    /// The human-readable report.
    pub text: String,
    /// Why nothing can be written (then `files` is empty).
    pub fatal: Option<String>,
}

use crate::persistence::rdb::NullSink;

/// The RDB preamble rewritten from its intact keys, or why it cannot be.
fn salvage_rdb(data: &[u8], rep: &mut FileReport) -> Result<Vec<u8>, String> {
    let opts = RewriteOptions {
        salvage: true,
        slots: None,
        newer: false,
        databases: 16,
        compress: true,
    };
    let mut out = Vec::new();
    let rr = rewrite(data, &opts, &mut out).map_err(|e| e.to_string())?;
    if let Some(f) = &rr.failure {
        return Err(format!("offset {}: {}", f.offset, f.msg));
    }
    for l in &rr.lost {
        rep.dropped.push(Dropped {
            start: l.from,
            end: l.to,
            reason: format!("RDB: {} (while doing: {})", l.failure.msg, l.failure.doing),
            commands_lost: None,
            exact: false,
        });
    }
    rep.notes.push(format!(
        "RDB preamble rewritten from its intact keys: {} keys written, {} damaged range(s) skipped",
        rr.keys_written,
        rr.lost.len()
    ));
    Ok(out)
}

/// Where the AOF tail after a damaged RDB preamble starts: the earliest
/// `*` from which the rest of the file parses cleanly to its end as valid
/// commands (bytes inside the RDB never do: its binary follows them).
fn find_tail(data: &[u8], table: &CommandTable) -> Option<usize> {
    let mut i = 9;
    while i < data.len() {
        let p = i + data[i..].iter().position(|&b| b == b'*')?;
        let mut r = super::stream::StreamReader::starting_at(data, p, super::stream::Mode::Strict);
        let mut n = 0;
        let mut ok = true;
        for item in r.by_ref() {
            if let super::stream::Item::Command(c) = item {
                n += 1;
                if super::salvage::command_problem(table, &c).is_some() {
                    ok = false;
                    break;
                }
            }
        }
        if ok && n > 0 && matches!(r.end(), Some(super::stream::End::Clean)) {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

/// Salvages one file; Err: it cannot be salvaged at all.
pub fn salvage_file(
    name: &str,
    role: &'static str,
    data: &[u8],
    table: &CommandTable,
) -> Result<(Vec<u8>, FileReport), String> {
    let mut rep = FileReport::new(name, role);
    rep.size = data.len() as u64;
    if data.is_empty() {
        rep.verdict = Verdict::Empty;
        rep.commands_kept = Some(0);
        return Ok((Vec::new(), rep));
    }
    let mut start = 0;
    if super::stream::starts_with_rdb(data) {
        rep.format = "rdb";
        match load_prefix(data, &LoadOptions::default(), &mut NullSink) {
            Ok((_, end)) => start = end as usize,
            Err(e) => {
                rep.verdict = Verdict::Corrupt;
                rep.offset = Some(e.offset);
                rep.reason = Some(format!("RDB preamble: {}", e.msg));
                let out = salvage_rdb(data, &mut rep).map_err(|why| {
                    format!(
                        "{name}: the RDB preamble is damaged at offset {} ({}) and cannot be \
                         salvaged ({why})",
                        e.offset, e.msg
                    )
                })?;
                let mut out = out;
                match find_tail(data, table) {
                    Some(t) => {
                        let s = salvage_stream(data, t, table);
                        rep.notes.push(format!(
                            "AOF tail found at offset {t} after the damaged RDB preamble: \
                             {} commands kept",
                            s.commands_kept
                        ));
                        out.extend_from_slice(&s.out);
                        rep.commands_kept = Some(s.commands_kept);
                    }
                    None => {
                        rep.notes.push(
                            "no AOF tail that parses to the end of the file follows the damaged \
                             RDB preamble: if the file had one, it is lost"
                                .into(),
                        );
                        rep.commands_kept = Some(0);
                    }
                }
                rep.action = Some("salvaged".into());
                return Ok((out, rep));
            }
        }
    }
    let c = check_resp(data, start, name, name, 1);
    rep.verdict = Verdict::of(&c.end);
    rep.ok_up_to = Some(c.ok_up_to);
    match &c.end {
        super::stream::End::Clean => {}
        super::stream::End::Truncated {
            fault, last_good, ..
        } => {
            rep.offset = Some(fault.as_ref().map_or(*last_good, |f| f.offset()));
            rep.reason = Some(fault.as_ref().map_or(
                "the file ends inside a command or MULTI block".into(),
                super::check_report::fault_reason,
            ));
        }
        super::stream::End::Corrupt { fault, .. } => {
            rep.offset = Some(fault.offset());
            rep.reason = Some(super::check_report::fault_reason(fault));
        }
    }
    let s = salvage_stream(data, start, table);
    if !s.reframed.is_empty() {
        let at: Vec<String> = s
            .reframed
            .iter()
            .map(|r| format!("{}..{}", r.0, r.1))
            .collect();
        rep.notes.push(format!(
            "{} command(s) with LF-only header lines kept, re-encoded with CRLF (bytes {})",
            s.reframed.len(),
            at.join(", ")
        ));
    }
    let mut out = data[..start].to_vec();
    out.extend_from_slice(&s.out);
    rep.dropped = s.dropped;
    rep.commands_kept = Some(s.commands_kept);
    rep.action = Some(if rep.dropped.is_empty() && s.reframed.is_empty() {
        "copied".into()
    } else {
        "salvaged".into()
    });
    Ok((out, rep))
}

fn describe(rep: &FileReport, text: &mut String) {
    let mut line = format!(
        "[salvage] {} ({} {}, {} bytes): {}",
        rep.name,
        rep.role,
        rep.format,
        rep.size,
        rep.verdict.label()
    );
    if let (Some(o), Some(r)) = (rep.offset, &rep.reason) {
        line += &format!(" at offset {o}: {r}");
    }
    text.push_str(&line);
    text.push('\n');
    for d in &rep.dropped {
        text.push_str(&format!(
            "[salvage] {}: DROPPED bytes {}..{} ({} bytes, commands lost: {}): {}\n",
            rep.name,
            d.start,
            d.end,
            d.end - d.start,
            lost_text(d),
            d.reason
        ));
    }
    for n in &rep.notes {
        text.push_str(&format!("[salvage] {}: {n}\n", rep.name));
    }
    if let Some(k) = rep.commands_kept {
        if rep.format == "resp" || k > 0 {
            text.push_str(&format!("[salvage] {}: {k} commands kept\n", rep.name));
        }
    }
}

fn summary(out: &mut SalvageOutput, dest: &str) {
    let kept: u64 = out.reports.iter().filter_map(|r| r.commands_kept).sum();
    let lost: u64 = out.reports.iter().map(|r| r.lost().0).sum();
    let unknown = out.reports.iter().any(|r| r.lost().1);
    let ranges: usize = out.reports.iter().map(|r| r.dropped.len()).sum();
    out.text.push_str(&format!(
        "[salvage] wrote {dest}: {kept} commands kept, {ranges} range(s) dropped, \
         {lost} command(s) identified as lost{}\n",
        if unknown {
            " (damaged bytes may have held more)"
        } else {
            ""
        }
    ));
}

/// glibc `dirname` (as the check does).
fn dirname(p: &str) -> &str {
    match p.trim_end_matches('/').rfind('/') {
        None => ".",
        Some(0) => "/",
        Some(i) => &p[..i],
    }
}

/// Runs the salvage of `input` (a manifest or a single AOF file), for an
/// output named `dest` in the report.
pub fn salvage(
    input: &str,
    dest: &str,
    read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) -> SalvageOutput {
    let table = CommandTable::new(&crate::commands::all_families());
    let mut out = SalvageOutput::default();
    let data = match read(input) {
        Ok(d) => d,
        Err(e) => {
            out.fatal = Some(format!("cannot open {input}: {e}"));
            return out;
        }
    };
    let is_manifest =
        !super::stream::starts_with_rdb(&data) && super::check::looks_like_manifest_7_0(&data);
    if !is_manifest {
        out.text
            .push_str(&format!("[salvage] reading the AOF file {input}\n"));
        match salvage_file(input, "file", &data, &table) {
            Ok((bytes, rep)) => {
                describe(&rep, &mut out.text);
                out.reports.push(rep);
                out.files.push((String::new(), bytes));
                summary(&mut out, dest);
            }
            Err(e) => out.fatal = Some(e),
        }
        return out;
    }
    out.text
        .push_str(&format!("[salvage] reading the manifest {input}\n"));
    let m = match Manifest::parse(&data) {
        Ok(m) => m,
        Err(e) => {
            out.fatal = Some(format!("the manifest {input} cannot be read: {}", e.msg));
            return out;
        }
    };
    let dir = dirname(input);
    let mut kept = m.clone();
    kept.history.clear();
    kept.incrs.clear();
    for (f, role) in m
        .base
        .iter()
        .map(|f| (f, "base"))
        .chain(m.incrs.iter().map(|f| (f, "incr")))
    {
        let name = f.display();
        let res =
            read(&format!("{dir}/{name}")).and_then(|d| salvage_file(&name, role, &d, &table));
        match res {
            Ok((bytes, rep)) => {
                describe(&rep, &mut out.text);
                out.reports.push(rep);
                out.files.push((name, bytes));
                if role == "incr" {
                    kept.incrs.push(f.clone());
                }
            }
            Err(e) if role == "base" => {
                out.fatal = Some(format!("the base {name} cannot be salvaged: {e}"));
                out.files.clear();
                return out;
            }
            Err(e) => {
                let mut rep = FileReport::new(&name, role);
                rep.verdict = Verdict::Missing;
                rep.reason = Some(e);
                rep.dropped.push(Dropped {
                    start: 0,
                    end: 0,
                    reason: "the file cannot be read: left out of the manifest".into(),
                    commands_lost: None,
                    exact: false,
                });
                describe(&rep, &mut out.text);
                out.reports.push(rep);
            }
        }
    }
    let mname = input.rsplit('/').next().unwrap_or(input).to_owned();
    out.files.push((mname, kept.to_text()));
    summary(&mut out, dest);
    out
}

#[cfg(test)]
#[path = "salvage_tool_tests.rs"]
mod tests;
