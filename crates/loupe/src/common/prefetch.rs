//! Hints to the CPU to fetch memory this thread is about to use.
//!
//! Spans cross between cores twice: the export thread reads what a recording thread
//! wrote, and the recording thread then writes into buffers the export thread read last.
//! Each first touch waits for the cache line to come from the other core. For a load the
//! wait is direct; for a store it is worse than it looks: the store waits in the store
//! buffer, and a later load that cannot be forwarded from it (a 16-byte read of two
//! fields just written separately) waits for every older store to complete, so one cold
//! buffer stalled the whole span. Fetching the next item one use ahead takes the wait off
//! the path.

/// Asks for the cache lines of `bytes` bytes from `ptr` to be fetched with intent to
/// write (x86-64 `prefetchw`; on other targets, nothing). A hint only: it never faults
/// and changes no memory, whatever the address.
#[inline(always)]
pub(crate) fn for_write<T>(ptr: *const T, bytes: usize) {
    each_line(ptr, bytes, |_line| {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch reads and writes no memory and cannot fault, for any
        // address; the instruction exists on every x86-64 CPU (as a no-op where the
        // write hint is not implemented).
        unsafe {
            std::arch::asm!("prefetchw [{0}]", in(reg) _line, options(nostack, preserves_flags, readonly));
        }
    });
}

/// Asks for the cache lines of `bytes` bytes from `ptr` to be fetched for reading
/// (x86-64 `prefetcht0`; on other targets, nothing). A hint only, as [`for_write`].
#[inline(always)]
pub(crate) fn for_read<T>(ptr: *const T, bytes: usize) {
    each_line(ptr, bytes, |_line| {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `for_write`; `prefetcht0` is part of SSE, which every x86-64 CPU has.
        unsafe {
            std::arch::asm!("prefetcht0 [{0}]", in(reg) _line, options(nostack, preserves_flags, readonly));
        }
    });
}

/// Calls `hint` with an address in each 64-byte line of the range, from the start of the
/// first line, so that a range not aligned to lines still gets its last line.
#[inline(always)]
fn each_line<T>(ptr: *const T, bytes: usize, hint: impl Fn(*const u8)) {
    let start = ptr.cast::<u8>();
    let end = start.wrapping_add(bytes);
    let mut at = start.wrapping_sub(start as usize % 64);
    while at < end {
        hint(at);
        at = at.wrapping_add(64);
    }
}
