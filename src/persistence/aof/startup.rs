//! What to do with the AOF files at startup when `appendonly yes`: a pure
//! decision over what is on disk (Redis 7.0's `aofLoadManifestFromDisk`,
//! the upgrade test of `loadAppendOnlyFiles`, the "file missing" check of
//! `getBaseAndIncrAppendOnlyFilesSize`), so it can be tested on plain
//! directory listings.
//!
//! keel departs from Redis in one case on purpose: when the AOF directory
//! holds base or incr files but no manifest, Redis starts empty, then
//! creates `…1.base.rdb` over an existing file of that name and appends to
//! `…1.incr.aof` (data lost or mixed). keel refuses to start and says why.

use super::manifest::{manifest_name, AofFile, Manifest, ManifestError};
use crate::persistence::atomic;
use std::io;
use std::path::Path;

/// What is on disk, as the caller found it.
#[derive(Clone, Debug, Default)]
pub struct DiskState {
    /// `<dir>/<appendfilename>` is a regular file (an old single-file
    /// AOF, or a 4.0-6.2 one with an RDB preamble).
    pub old_style_file: bool,
    /// Names of the regular files in `<dir>/<appenddirname>`; `None` when
    /// that directory does not exist.
    pub aof_dir_files: Option<Vec<Vec<u8>>>,
    /// The manifest's bytes, when the manifest file exists (and could be
    /// read: an unreadable one is a refusal the caller reports itself).
    pub manifest: Option<Vec<u8>>,
}

/// The decision.
#[derive(Debug, PartialEq, Eq)]
pub enum StartupPlan {
    /// No AOF at all: start from nothing, then create base 1 and incr 1
    /// (`Manifest::default()`; Redis ignores an existing dump.rdb here,
    /// keel may seed the dataset from it before creating the base).
    Fresh { manifest: Manifest },
    /// An old single-file AOF: create the AOF directory, persist
    /// `manifest` (base `<appendfilename>` seq 1), move the file into the
    /// directory, log "Successfully migrated an old-style AOF file (X) into
    /// the AOF directory (Y).", then load as `Load`. Each step is
    /// restartable.
    Upgrade { manifest: Manifest },
    /// Load `manifest.load_order()` (the listed files all exist).
    /// `unlisted`: base/incr-named files in the directory the manifest
    /// does not mention (left by a crash between creating a file and
    /// persisting the manifest, or by hand); Redis ignores them silently,
    /// keel logs them and leaves them alone.
    Load {
        manifest: Manifest,
        unlisted: Vec<Vec<u8>>,
    },
    /// Do not start. `lines` are the warnings to log.
    Refuse { lines: Vec<String> },
}

/// Does `name` look like a base or incr file of `appendfilename`
/// (`<appendfilename>.<digits>.base.rdb|aof` or `.incr.aof`)?
pub fn is_aof_part_name(appendfilename: &str, name: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(appendfilename.as_bytes()) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(b".") else {
        return false;
    };
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && matches!(&rest[digits..], b".base.rdb" | b".base.aof" | b".incr.aof")
}

/// Decides what to do at startup with `appendonly yes`.
pub fn plan_startup(appendfilename: &str, appenddirname: &str, disk: &DiskState) -> StartupPlan {
    // aofLoadManifestFromDisk: the manifest is read only when the
    // directory exists and it is there; a bad one is fatal.
    let manifest = match (&disk.aof_dir_files, &disk.manifest) {
        (Some(_), Some(text)) => match Manifest::parse(text) {
            Ok(m) => Some(m),
            Err(e) => return refuse_manifest(appendfilename, &e),
        },
        _ => None,
    };
    let dir_files = disk.aof_dir_files.as_deref().unwrap_or(&[]);
    let in_dir = |name: &[u8]| dir_files.iter().any(|f| f == name);

    if disk.old_style_file {
        let m = manifest.clone().unwrap_or_default();
        let upgrade = disk.aof_dir_files.is_none()
            || m.is_empty()
            || (m.incrs.is_empty()
                && m.base
                    .as_ref()
                    .is_some_and(|b| b.name == appendfilename.as_bytes())
                && !in_dir(appendfilename.as_bytes()));
        if upgrade {
            if manifest.is_none()
                && dir_files
                    .iter()
                    .any(|f| is_aof_part_name(appendfilename, f))
            {
                // keel: parts without a manifest next to an old file are
                // ambiguous; refuse rather than guess.
                return refuse_orphans(appendfilename, appenddirname, dir_files);
            }
            let mut m = m;
            m.adopt_old_style_file(appendfilename);
            return StartupPlan::Upgrade { manifest: m };
        }
    }

    let Some(m) = manifest else {
        if dir_files
            .iter()
            .any(|f| is_aof_part_name(appendfilename, f))
        {
            return refuse_orphans(appendfilename, appenddirname, dir_files);
        }
        return StartupPlan::Fresh {
            manifest: Manifest::default(),
        };
    };
    if m.is_empty() {
        return StartupPlan::Fresh { manifest: m };
    }
    let missing: Vec<&AofFile> = m.load_order().filter(|f| !in_dir(&f.name)).collect();
    if let Some(f) = missing.first() {
        return StartupPlan::Refuse {
            lines: vec![format!(
                "Unable to obtain the AOF file {} length. stat: No such file or directory",
                f.display()
            )],
        };
    }
    let listed = |f: &[u8]| {
        m.load_order()
            .chain(&m.history)
            .any(|x| x.name.as_slice() == f)
    };
    let mut unlisted: Vec<Vec<u8>> = dir_files
        .iter()
        .filter(|f| is_aof_part_name(appendfilename, f) && !listed(f))
        .cloned()
        .collect();
    unlisted.sort();
    StartupPlan::Load {
        manifest: m,
        unlisted,
    }
}

/// The warning keel logs for [`StartupPlan::Load`]'s `unlisted` files.
pub fn unlisted_warning(appenddirname: &str, unlisted: &[Vec<u8>]) -> Option<String> {
    if unlisted.is_empty() {
        return None;
    }
    let names: Vec<String> = unlisted
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    Some(format!(
        "The AOF directory {appenddirname} holds files the manifest does not list ({}): \
         they are not loaded (a crash during a rewrite can leave them; check them before removing them).",
        names.join(", ")
    ))
}

/// Carries out [`StartupPlan::Upgrade`] (`aofUpgradePrepare`): creates
/// `<dir>/<appenddirname>`, persists `manifest` there, then moves
/// `<dir>/<appendfilename>` into it. Every step can be redone after a
/// crash: the plan asks for the upgrade again until the file has moved.
pub fn perform_upgrade(
    dir: &Path,
    appenddirname: &str,
    appendfilename: &str,
    manifest: &mut Manifest,
) -> io::Result<()> {
    let aof_dir = dir.join(appenddirname);
    std::fs::create_dir_all(&aof_dir)?;
    // The manifest first: a crash before the move leaves a manifest whose
    // only base is not in the directory yet, which the plan upgrades again.
    manifest.persist(&aof_dir, appendfilename)?;
    std::fs::rename(dir.join(appendfilename), aof_dir.join(appendfilename))?;
    // Both directories changed: make the move durable in each.
    atomic::fsync_dir(&aof_dir)?;
    atomic::fsync_dir(dir)
}

fn refuse_manifest(appendfilename: &str, e: &ManifestError) -> StartupPlan {
    let mut lines = e.log_lines();
    lines.push(format!(
        "The AOF manifest {} is not valid: fix or remove it (redis-check-aof <manifest> shows the problem).",
        manifest_name(appendfilename)
    ));
    StartupPlan::Refuse { lines }
}

fn refuse_orphans(appendfilename: &str, appenddirname: &str, files: &[Vec<u8>]) -> StartupPlan {
    let mut names: Vec<String> = files
        .iter()
        .filter(|f| is_aof_part_name(appendfilename, f))
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    names.sort();
    StartupPlan::Refuse {
        lines: vec![format!(
            "The AOF directory {appenddirname} holds AOF files ({}) but no manifest {}: refusing to start, \
             as starting empty would overwrite them. Restore the manifest (one 'file <name> seq <n> type b|i' \
             line per file) or move the files away.",
            names.join(", "),
            manifest_name(appendfilename)
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Option<Vec<Vec<u8>>> {
        Some(v.iter().map(|s| s.as_bytes().to_vec()).collect())
    }

    const F: &str = "appendonly.aof";
    const D: &str = "appendonlydir";

    #[test]
    fn nothing_on_disk_is_fresh() {
        let p = plan_startup(F, D, &DiskState::default());
        assert_eq!(
            p,
            StartupPlan::Fresh {
                manifest: Manifest::default()
            }
        );
        let empty_dir = DiskState {
            aof_dir_files: names(&["unrelated.txt"]),
            ..DiskState::default()
        };
        assert!(matches!(
            plan_startup(F, D, &empty_dir),
            StartupPlan::Fresh { .. }
        ));
    }

    #[test]
    fn old_single_file_upgrades() {
        for dir in [None, names(&[])] {
            let disk = DiskState {
                old_style_file: true,
                aof_dir_files: dir,
                manifest: None,
            };
            let StartupPlan::Upgrade { manifest } = plan_startup(F, D, &disk) else {
                panic!("expected an upgrade");
            };
            assert_eq!(manifest.to_text(), b"file appendonly.aof seq 1 type b\n");
            assert!(manifest.dirty);
        }
        // Restart after the manifest was written but before the move.
        let disk = DiskState {
            old_style_file: true,
            aof_dir_files: names(&["appendonly.aof.manifest"]),
            manifest: Some(b"file appendonly.aof seq 1 type b\n".to_vec()),
        };
        assert!(matches!(
            plan_startup(F, D, &disk),
            StartupPlan::Upgrade { .. }
        ));
        // Upgrade done (file in the dir): an old-style file left behind is ignored.
        let disk = DiskState {
            old_style_file: true,
            aof_dir_files: names(&["appendonly.aof", "appendonly.aof.manifest"]),
            manifest: Some(b"file appendonly.aof seq 1 type b\n".to_vec()),
        };
        assert!(matches!(
            plan_startup(F, D, &disk),
            StartupPlan::Load { .. }
        ));
    }

    #[test]
    fn parts_without_manifest_are_refused() {
        let disk = DiskState {
            aof_dir_files: names(&["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"]),
            ..DiskState::default()
        };
        let StartupPlan::Refuse { lines } = plan_startup(F, D, &disk) else {
            panic!("expected a refusal");
        };
        assert!(lines[0].contains("appendonly.aof.1.base.rdb, appendonly.aof.1.incr.aof"));
        assert!(lines[0].contains("no manifest appendonly.aof.manifest"));
    }

    #[test]
    fn bad_manifest_is_refused_with_redis_lines() {
        let disk = DiskState {
            aof_dir_files: names(&["appendonly.aof.manifest"]),
            manifest: Some(b"file a seq 1 type b".to_vec()),
            ..DiskState::default()
        };
        let StartupPlan::Refuse { lines } = plan_startup(F, D, &disk) else {
            panic!("expected a refusal");
        };
        assert_eq!(lines[0], "\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
        assert_eq!(lines[1], "The AOF manifest file contains too long line\n");
    }

    #[test]
    fn missing_listed_file_is_refused() {
        let disk = DiskState {
            aof_dir_files: names(&["appendonly.aof.1.base.rdb", "appendonly.aof.manifest"]),
            manifest: Some(
                b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
                    .to_vec(),
            ),
            ..DiskState::default()
        };
        assert_eq!(
            plan_startup(F, D, &disk),
            StartupPlan::Refuse {
                lines: vec![
                    "Unable to obtain the AOF file appendonly.aof.1.incr.aof length. stat: No such file or directory"
                        .into()
                ]
            }
        );
    }

    #[test]
    fn good_manifest_loads_and_history_only_is_fresh() {
        let disk = DiskState {
            aof_dir_files: names(&["appendonly.aof.2.base.rdb", "appendonly.aof.3.incr.aof"]),
            manifest: Some(
                b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.3.incr.aof seq 3 type i\n"
                    .to_vec(),
            ),
            ..DiskState::default()
        };
        let StartupPlan::Load { manifest, unlisted } = plan_startup(F, D, &disk) else {
            panic!("expected a load");
        };
        assert_eq!(manifest.load_order().count(), 2);
        assert!(unlisted.is_empty());
        let disk = DiskState {
            aof_dir_files: names(&[]),
            manifest: Some(b"file appendonly.aof.1.base.rdb seq 1 type h\n".to_vec()),
            ..DiskState::default()
        };
        assert!(matches!(
            plan_startup(F, D, &disk),
            StartupPlan::Fresh { .. }
        ));
    }

    #[test]
    fn unlisted_parts_are_reported() {
        let disk = DiskState {
            aof_dir_files: names(&[
                "appendonly.aof.2.base.rdb",
                "appendonly.aof.3.base.rdb",
                "appendonly.aof.1.incr.aof",
                "appendonly.aof.2.incr.aof",
                "appendonly.aof.manifest",
            ]),
            manifest: Some(
                b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\n\
file appendonly.aof.2.incr.aof seq 2 type i\n"
                    .to_vec(),
            ),
            ..DiskState::default()
        };
        let StartupPlan::Load { unlisted, .. } = plan_startup(F, D, &disk) else {
            panic!("expected a load");
        };
        assert_eq!(unlisted, [b"appendonly.aof.3.base.rdb".to_vec()]);
        let w = unlisted_warning(D, &unlisted).unwrap();
        assert!(w.contains("(appendonly.aof.3.base.rdb)"));
        assert_eq!(unlisted_warning(D, &[]), None);
    }

    #[test]
    fn upgrade_moves_the_file_and_is_restartable() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(F), b"*1\r\n$4\r\nPING\r\n").unwrap();
        let listing = |d: &Path| DiskState {
            old_style_file: d.join(F).is_file(),
            aof_dir_files: std::fs::read_dir(d.join(D)).ok().map(|rd| {
                rd.map(|e| {
                    use std::os::unix::ffi::OsStrExt;
                    e.unwrap().file_name().as_bytes().to_vec()
                })
                .collect()
            }),
            manifest: std::fs::read(d.join(D).join("appendonly.aof.manifest")).ok(),
        };
        let StartupPlan::Upgrade { mut manifest } = plan_startup(F, D, &listing(d.path())) else {
            panic!("expected an upgrade");
        };
        // A crash after the manifest was written: asked again.
        std::fs::create_dir(d.path().join(D)).unwrap();
        manifest.clone().persist(&d.path().join(D), F).unwrap();
        assert!(matches!(
            plan_startup(F, D, &listing(d.path())),
            StartupPlan::Upgrade { .. }
        ));
        perform_upgrade(d.path(), D, F, &mut manifest).unwrap();
        assert!(!d.path().join(F).exists());
        assert!(d.path().join(D).join(F).exists());
        let StartupPlan::Load { manifest, .. } = plan_startup(F, D, &listing(d.path())) else {
            panic!("expected a load");
        };
        assert_eq!(manifest.to_text(), b"file appendonly.aof seq 1 type b\n");
    }

    #[test]
    fn part_names() {
        assert!(is_aof_part_name(F, b"appendonly.aof.12.base.rdb"));
        assert!(is_aof_part_name(F, b"appendonly.aof.1.base.aof"));
        assert!(is_aof_part_name(F, b"appendonly.aof.3.incr.aof"));
        assert!(!is_aof_part_name(F, b"appendonly.aof.manifest"));
        assert!(!is_aof_part_name(F, b"appendonly.aof..incr.aof"));
        assert!(!is_aof_part_name(F, b"temp-appendonly.aof.incr"));
        assert!(!is_aof_part_name(F, b"other.aof.1.incr.aof"));
    }
}
