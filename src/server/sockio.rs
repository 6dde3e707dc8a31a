//! The connection's socket side that goes beyond read and write: a write
//! to a peer that may stop reading (the connection goes on reading, and
//! gives up when its client is killed), and the full-sync RDB transfer to
//! a replica. Split from `conn` to keep files small.

use super::client::ClientId;
use super::conn::IOBUF_LEN;
use super::Shared;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

/// How the connection task is woken, and which client it serves.
pub struct Waker<'a> {
    pub notify: &'a Notify,
    pub shared: &'a Shared,
    pub id: ClientId,
}

/// The read buffer the connection fills while a write waits.
pub struct Input<'a> {
    pub buf: &'a mut BytesMut,
    /// client-query-buffer-limit: reading stops there.
    pub limit: usize,
    /// Reads done (INFO total_reads_processed).
    pub reads: &'a mut u64,
    /// Set when the buffer grew past [`PILED_UP`].
    pub piled_up: &'a mut bool,
}

/// Input read while a write waits beyond which the buffer is reallocated
/// once it has been consumed.
const PILED_UP: usize = 1024 * 1024;

/// Writes `out` to a peer that may stop reading (a stopped replica, a
/// client that pipelines its whole batch before reading a reply). While
/// the write waits, what the peer sends is still read into the buffer
/// (Redis goes on reading a client whose replies pile up; a peer that
/// writes everything before it reads would otherwise never read again),
/// and the wait is cut short when the client is killed (CLIENT KILL,
/// output buffer limits, replica timeout). Err: close the connection.
pub async fn write_out<S: StreamIo>(
    stream: &S,
    out: &[u8],
    conn: Waker<'_>,
    input: &mut Input<'_>,
) -> Result<(), ()> {
    let mut pos = 0;
    let mut woken = false;
    let mut peer_done = false;
    while pos < out.len() {
        match stream.try_write(&out[pos..]) {
            Ok(0) => return Err(()),
            Ok(n) => {
                pos += n;
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return Err(()),
        }
        let may_read = !peer_done && input.buf.len() < input.limit;
        tokio::select! {
            biased;
            r = stream.write_ready() => {
                if r.is_err() {
                    return Err(());
                }
            }
            r = stream.read_ready(), if may_read => {
                if r.is_err() {
                    return Err(());
                }
                if input.buf.capacity() - input.buf.len() < IOBUF_LEN / 4 {
                    input.buf.reserve(IOBUF_LEN);
                }
                match stream.try_read_buf(input.buf) {
                    Ok(0) => peer_done = true,
                    Ok(_) => {
                        *input.reads += 1;
                        if input.buf.len() > PILED_UP {
                            *input.piled_up = true;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => peer_done = true,
                }
            }
            _ = conn.notify.notified() => {
                let killed = conn
                    .shared
                    .lock()
                    .clients
                    .get(&conn.id)
                    .is_none_or(|c| c.flags.close_asap);
                if killed {
                    return Err(());
                }
                woken = true;
            }
        }
    }
    if woken {
        // The wake-up was for new output or an unblock: keep it for the
        // main loop.
        conn.notify.notify_one();
    }
    Ok(())
}

/// Sends an RDB file as `$<len>\r\n<bytes>` (the replication bulk), in
/// 64 KiB reads as Redis does from its event loop (the file was just
/// written: the reads come from the page cache).
pub async fn send_rdb<S: AsyncWrite + Unpin>(
    stream: &mut S,
    mut file: std::fs::File,
) -> std::io::Result<()> {
    use std::io::Read;
    let mut left = file.metadata()?.len();
    stream.write_all(format!("${left}\r\n").as_bytes()).await?;
    let mut chunk = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = chunk.len().min(left as usize);
        let n = file.read(&mut chunk[..want])?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        stream.write_all(&chunk[..n]).await?;
        left -= n as u64;
    }
    Ok(())
}

/// The socket operations the connection task needs besides reading and
/// writing: readiness and non-blocking attempts through a shared
/// reference, so a write can wait while reads go on.
pub trait StreamIo: AsyncRead + AsyncWrite + Unpin {
    fn read_ready(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send;
    fn write_ready(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send;
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize>;
    fn try_read_buf(&self, buf: &mut BytesMut) -> std::io::Result<usize>;
}

macro_rules! stream_io {
    ($t:ty) => {
        impl StreamIo for $t {
            fn read_ready(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send {
                self.readable()
            }
            fn write_ready(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send {
                self.writable()
            }
            fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                <$t>::try_write(self, buf)
            }
            fn try_read_buf(&self, buf: &mut BytesMut) -> std::io::Result<usize> {
                <$t>::try_read_buf(self, buf)
            }
        }
    };
}

stream_io!(tokio::net::TcpStream);
stream_io!(tokio::net::UnixStream);
