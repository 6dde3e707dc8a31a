//! Starting a server on an RDB file for tests/rdb_fixtures.rs: the file
//! goes into a fresh `--dir`, the server either comes up (after loading)
//! or exits, and then the test sees its output and the file as it was
//! left; plus redis-check-rdb.

use super::{free_port, Kind, Server};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
    let mut last = None;
    for _attempt in 0..3 {
        let port = free_port();
        let dir = tempfile::Builder::new()
            .prefix("keel-rdb-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join(dbfilename), data).expect("write the RDB file");
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let program: PathBuf = match kind {
            Kind::Keel => PathBuf::from(env!("CARGO_BIN_EXE_keel-server")),
            Kind::Redis => PathBuf::from("redis-server"),
        };
        let child = Command::new(&program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir.path())
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--dbfilename", dbfilename])
            .args(extra)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut srv = Server {
            kind,
            port,
            child,
            dir: dir.path().to_path_buf(),
            log_path,
            _owned: Some(dir),
        };
        match srv.wait_ready(false) {
            Ok(()) => return Ok(srv),
            Err(why) => {
                let status = match srv.child.try_wait() {
                    Ok(Some(st)) => st,
                    _ => panic!("{kind:?} neither answered nor exited: {why}\n{}", srv.log()),
                };
                let output = srv.log();
                let file_after = std::fs::read(srv.dir().join(dbfilename)).unwrap_or_default();
                let exit = Exit {
                    status,
                    output,
                    file_after,
                };
                if !exit.output.contains("already in use") {
                    return Err(exit);
                }
                last = Some(exit); // someone took the port: try another
            }
        }
    }
    Err(last.expect("an attempt was made"))
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
