//! Starting a server on an RDB file for tests/rdb_fixtures.rs: the file
//! goes into a fresh `--dir`, the server either comes up (after loading)
//! or exits, and then the test sees its output and the file as it was
//! left; plus redis-check-rdb.

use super::{Kind, Server};
use std::path::Path;
use std::process::Command;

/// Starts `kind` with `data` as `dir/<dbfilename>` (and `extra` args);
/// returns once it answers PING (that is, after loading).
pub fn start_on_rdb(kind: Kind, data: &[u8], dbfilename: &str, extra: &[String]) -> Server {
    let mut args: Vec<&str> = vec!["--dbfilename", dbfilename];
    args.extend(extra.iter().map(String::as_str));
    Server::start_seeded(kind, &args, &|dir: &Path| {
        std::fs::write(dir.join(dbfilename), data).expect("write the RDB file");
    })
}

/// How a server that did not come up on its RDB file ended.
#[derive(Debug)]
pub struct Exit {
    pub status: std::process::ExitStatus,
    /// Its stdout and stderr, interleaved.
    pub output: String,
    /// The RDB file's bytes after the server exited.
    pub file_after: Vec<u8>,
}

/// Starts `kind` on `data` (as `dir/<dbfilename>`, plus `extra` args):
/// Ok once it answers PING (after loading), Err when it exits first.
pub fn try_start_on_rdb(
    kind: Kind,
    data: &[u8],
    dbfilename: &str,
    extra: &[String],
) -> Result<Server, Exit> {
    let dir = tempfile::Builder::new()
        .prefix("keel-rdb-")
        .tempdir()
        .expect("temp dir");
    std::fs::write(dir.path().join(dbfilename), data).expect("write the RDB file");
    let mut args: Vec<&str> = vec!["--dbfilename", dbfilename];
    args.extend(extra.iter().map(String::as_str));
    match Server::try_start_in(kind, dir.path(), &args) {
        Ok(mut srv) => {
            srv._owned = Some(dir);
            Ok(srv)
        }
        Err(f) => Err(Exit {
            status: f
                .status
                .unwrap_or_else(|| panic!("{kind:?} neither answered nor exited:\n{}", f.log)),
            output: f.log,
            file_after: std::fs::read(dir.path().join(dbfilename)).unwrap_or_default(),
        }),
    }
}

/// True if redis-check-rdb can be run.
pub fn check_rdb_available() -> bool {
    Command::new("redis-check-rdb")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs redis-check-rdb on `path`: (exit code, stdout + stderr).
pub fn check_rdb(path: &Path) -> (i32, String) {
    let out = Command::new("redis-check-rdb")
        .arg(path)
        .output()
        .expect("run redis-check-rdb");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}
