//! Test helpers: a server with one client, and a way to run a command
//! through the real dispatcher and read back the raw reply.

use crate::protocol::Reply;
use crate::server::client::Client;
use crate::server::Server;
use bytes::Bytes;

/// A default server and a client (id 1, 127.0.0.1) that is not in the
/// registry, exactly as while a connection runs a command.
/// The default config without save points: a handler test must never
/// write dump.rdb into the working directory (FLUSHALL saves when save
/// points are set, the cron's save points fork).
pub fn test_config() -> crate::config::Config {
    crate::config::Config {
        save: Vec::new(),
        ..Default::default()
    }
}

pub fn setup() -> (Server, Client) {
    let cfg = crate::config::Config {
        enable_debug_command: "yes".into(),
        ..test_config()
    };
    let mut srv = Server::new(cfg);
    let c = Client::new(
        srv.next_client_id,
        "127.0.0.1:50000".into(),
        "127.0.0.1:6379".into(),
        8,
        crate::server::now_ms(),
        true,
    );
    srv.next_client_id += 1;
    (srv, c)
}

/// Runs one command and returns the reply as text.
pub fn run(srv: &mut Server, c: &mut Client, args: &[&str]) -> String {
    let argv: Vec<Bytes> = args
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    let mut out = Reply::new(c.resp);
    srv.clock_us = crate::server::now_us();
    crate::commands::dispatch::process_command(srv, c, argv, &mut out);
    String::from_utf8_lossy(&out.buf).into_owned()
}

/// Adds another connected client to the registry; returns its id.
pub fn add_client(srv: &mut Server, addr: &str) -> u64 {
    let id = srv.next_client_id;
    srv.next_client_id += 1;
    let c = Client::new(
        id,
        addr.into(),
        "127.0.0.1:6379".into(),
        9,
        crate::server::now_ms(),
        true,
    );
    srv.clients.insert(id, Box::new(c));
    id
}

/// What one handler call did, for tests that look past the reply.
pub struct Handled {
    pub reply: String,
    /// The commands it asked to propagate instead of its argv, if any.
    pub propagated: Option<Vec<Vec<String>>>,
    pub dirty: u64,
    /// It asked to block on keys.
    pub blocked: bool,
}

/// Calls a command's handler directly (no dispatcher checks) with the
/// given protocol and time snapshot, as the server does for the client
/// whose command is running.
pub fn run_handler(
    srv: &mut Server,
    client: &mut Client,
    args: &[Bytes],
    resp: u8,
    now_ms: i64,
) -> Handled {
    let table = srv.commands.clone();
    let crate::commands::table::Resolved::Found(cmd, sub) = table.resolve(args) else {
        panic!("unknown command {:?}", String::from_utf8_lossy(&args[0]));
    };
    let mut out = Reply::new(resp);
    srv.cur_client = client.id;
    let mut ctx = crate::commands::Ctx {
        srv,
        client,
        out: &mut out,
        cmd: sub.unwrap_or(cmd),
        now_ms,
        dirty: 0,
        propagate_as: None,
        block: None,
    };
    (ctx.cmd.handler)(&mut ctx, args);
    let propagated = ctx.propagate_as.take().map(|cmds| {
        cmds.iter()
            .map(|c| {
                c.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .collect()
    });
    let (dirty, blocked) = (ctx.dirty, ctx.block.is_some());
    srv.apply_cur_touches(client);
    Handled {
        reply: String::from_utf8_lossy(&out.buf).into_owned(),
        propagated,
        dirty,
        blocked,
    }
}

/// Arguments from `&str`s.
pub fn argv(args: &[&str]) -> Vec<Bytes> {
    args.iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()
}

/// Propagated commands as space-joined lines.
pub fn joined(p: Option<Vec<Vec<String>>>) -> Option<Vec<String>> {
    p.map(|cmds| cmds.into_iter().map(|c| c.join(" ")).collect())
}
