//! The only unsafe code in keel: `fork(2)`.
//!
//! After fork only the calling thread exists in the child, so the child
//! must not touch anything another thread could have held locked (tokio's
//! runtime, the allocator is fine: jemalloc installs fork handlers). Each
//! use documents what its child does.

#![allow(unsafe_code)]

use nix::unistd::{fork, ForkResult};

/// Detaches the process like Redis's daemonize(): fork, the parent exits,
/// the child starts a new session and points stdio at /dev/null.
/// Must be called before any thread is started.
pub fn daemonize() -> std::io::Result<()> {
    // SAFETY: called at start-up, before the runtime or any other thread
    // exists, so the child is a complete copy of a single-threaded process.
    match unsafe { fork() }.map_err(std::io::Error::from)? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    nix::unistd::setsid().map_err(std::io::Error::from)?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    use std::os::fd::AsRawFd;
    for fd in 0..=2 {
        nix::unistd::dup2(null.as_raw_fd(), fd).map_err(std::io::Error::from)?;
    }
    Ok(())
}
