//! Test helpers: a server with one client, and a way to run a command
//! through the real dispatcher and read back the raw reply.

use crate::protocol::Reply;
use crate::server::client::Client;
use crate::server::Server;
use bytes::Bytes;

/// A default server and a client (id 1, 127.0.0.1) that is not in the
/// registry, exactly as while a connection runs a command.
pub fn setup() -> (Server, Client) {
    let cfg = crate::config::Config {
        enable_debug_command: "yes".into(),
        ..Default::default()
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
