//! A hint to the CPU to fetch memory this thread is about to write.
//!
//! Pooled buffers come back from another thread (the export thread read them last), so
//! the first store into one waits for the cache line to be taken from the other core.
//! Those stores sit in the store buffer; later loads that cannot be forwarded from it
//! (a 16-byte read of two fields just written separately) wait for every older store to
//! complete, so one cold buffer stalled the whole span. Fetching the next buffer for
//! writing one use ahead takes the wait off the recording path.

/// Asks for the cache lines of `bytes` bytes from `ptr` to be fetched with intent to
/// write (x86-64 `prefetchw`; on other targets, nothing). A hint only: it never faults
/// and changes no memory, whatever the address.
#[inline(always)]
pub(crate) fn for_write<T>(ptr: *const T, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let start = ptr.cast::<u8>();
        let end = start.wrapping_add(bytes);
        // From the start of the first line, so that a range not aligned to lines still
        // gets its last line.
        let mut at = start.wrapping_sub(start as usize % 64);
        while at < end {
            // SAFETY: a prefetch reads and writes no memory and cannot fault, for any
            // address; the instruction exists on every x86-64 CPU (as a no-op where the
            // write hint is not implemented).
            unsafe {
                std::arch::asm!(
                    "prefetchw [{0}]",
                    in(reg) at,
                    options(nostack, preserves_flags, readonly)
                );
            }
            at = at.wrapping_add(64);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, bytes);
}
