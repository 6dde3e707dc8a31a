//! Forking a snapshot child: the only unsafe code in the library.
//!
//! The fork is taken by the thread that holds the server lock, so the
//! child's copy of the keyspace is a consistent image (copy-on-write pages
//! shared with the parent). The child must not touch tokio, must not take
//! a lock another thread could have held at fork time, and leaves with
//! `_exit` so no destructor, atexit handler or buffered stdio of the
//! parent runs twice.
#![allow(unsafe_code)]

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::unistd::{fork, ForkResult, Pid};

/// Exit status of a child that stopped on purpose (Redis's
/// SERVER_CHILD_NOERROR_RETVAL): not a failure.
pub const CHILD_NOERROR_RETVAL: i32 = 255;

/// Forks; the child runs `child` and `_exit`s with its return value (1 if
/// it panics). Returns the child's pid in the parent.
pub fn fork_child(child: impl FnOnce() -> i32) -> nix::Result<Pid> {
    // SAFETY: fork is unsafe because only async-signal-safe functions are
    // guaranteed to work in the child of a multi-threaded process. keel
    // runs its engine on one thread; the forking thread holds the server
    // lock, so the child's copy of the server is consistent. jemalloc
    // installs pthread_atfork handlers, so allocation in the child is
    // safe. The child uses only std file I/O on its own descriptors and
    // leaves with _exit below, never returning into the parent's stack of
    // tokio frames.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGUSR1] {
                // SAFETY: restoring the default disposition installs no
                // Rust handler; a signal then simply ends the child (a
                // SIGUSR1 kill is how Redis aborts a child on purpose).
                let _ = unsafe { signal(sig, SigHandler::SigDfl) };
            }
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(1);
            // _exit: no atexit handlers, no destructors of the parent's
            // objects, no flush of stdio buffers shared with the parent.
            // SAFETY: _exit ends the process at once; nothing runs after.
            unsafe { libc::_exit(code) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{waitpid, WaitStatus};

    #[test]
    fn child_exit_code_reaches_parent() {
        let pid = fork_child(|| 7).unwrap();
        assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 7));
    }
}
