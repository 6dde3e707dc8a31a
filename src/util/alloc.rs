//! The allocator's size classes, for code that must count memory as
//! used_memory does or that sizes buffers to what the allocator hands out
//! anyway.

/// The bytes the allocator (jemalloc) hands out for a request of `n`:
/// its size classes are four per power of two (16-byte steps at the
/// bottom), so a buffer of 2.25 MiB takes 2.5 MiB. Memory accounting
/// that must match used_memory (replica buffers left out of maxmemory)
/// counts classes, not capacities, as Redis counts zmalloc_size.
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    if n <= 16 {
        return n.next_multiple_of(8);
    }
    let lg = usize::BITS - 1 - (n - 1).leading_zeros();
    let step = (1usize << lg.saturating_sub(2)).max(16);
    n.next_multiple_of(step)
}

#[cfg(test)]
mod tests {
    use super::alloc_size;

    #[test]
    fn allocator_size_classes() {
        assert_eq!(alloc_size(0), 0);
        assert_eq!(alloc_size(100), 112);
        assert_eq!(alloc_size(16384), 16384);
        assert_eq!(alloc_size(16385), 20480);
        assert_eq!(alloc_size(2_359_296), 2_621_440);
    }
}
