//! The byte count behind INFO used_memory and maxmemory: keel-server's
//! global allocator adds the usable size of every block it hands out and
//! subtracts it on free, as Redis's zmalloc does.
//!
//! One shared atomic counter would cost a locked read-modify-write on every
//! allocation and free (several per command: measured as a sixth of the
//! connection loop's own time on pipelined SETs). Each thread instead owns
//! a slot that only it writes, with a plain load and store; readers add the
//! slots up. A slot outlives its thread (slots are never reused), so what a
//! finished thread allocated and did not free stays counted, and a block
//! freed by another thread than the one that allocated it makes one slot
//! go up and the other down with an exact sum.

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

/// Threads that get a slot of their own; later threads share the last
/// slot, which is then updated with atomic read-modify-writes.
const SLOTS: usize = 128;

/// A counter alone on its cache line, so that threads do not slow each
/// other down by writing next to each other.
#[repr(align(64))]
struct Slot(AtomicIsize);

static COUNTS: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's slot (usize::MAX until its first allocation). A
    /// const-initialised Cell without destructor: usable from inside the
    /// allocator, even while the thread is being torn down.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Adds `n` (negative: subtracts) to the calling thread's count.
#[inline]
pub fn add(n: isize) {
    let i = MY_SLOT.with(|s| {
        let i = s.get();
        if i != usize::MAX {
            return i;
        }
        let i = NEXT_SLOT.fetch_add(1, Relaxed).min(SLOTS - 1);
        s.set(i);
        i
    });
    let c = &COUNTS[i].0;
    if i == SLOTS - 1 {
        c.fetch_add(n, Relaxed);
    } else {
        // Only this thread writes this slot: no read-modify-write needed.
        c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
    }
}

/// Bytes counted over all threads (0 when no counting allocator runs).
pub fn total() -> u64 {
    let sum: isize = COUNTS.iter().map(|c| c.0.load(Relaxed)).sum();
    sum.max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_add_up_across_frees_on_other_threads() {
        let before = total() as isize;
        add(1000);
        let h = std::thread::spawn(|| {
            add(-400); // frees part of what the main thread allocated
            add(50); // and keeps a block when it ends
        });
        h.join().unwrap();
        assert_eq!(total() as isize - before, 650);
        add(-650);
        assert_eq!(total() as isize, before);
    }
}
