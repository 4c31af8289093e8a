//! A global allocator for the extension that keeps a bounded number of freed large blocks for
//! reuse, and otherwise is glibc's (`System`).
//!
//! Why: a streamed read allocates a fresh set of large Arrow buffers (about 1 MiB each) per
//! chunk and Python frees them a batch later. glibc serves blocks of that size with `mmap` and
//! returns them with `munmap`, so every buffer's pages were faulted in again, one 4 KiB page at a
//! time (1.3 us each on this project's VM), and zeroed by the kernel. Measured (2026-11-25,
//! 1 GB BrightRun v4 file streamed with 2 threads, fresh processes, medians of 5): 1.12 s with
//! 0.49 s of system time as is; 0.77 s with 0.15 s of system time when glibc was told to keep
//! such blocks (`GLIBC_TUNABLES=glibc.malloc.mmap_threshold=...`). A library must not change
//! the whole process's malloc, so this allocator keeps the blocks of this extension only, and at
//! most [`MAX_HELD`] bytes of them: memory the read used a moment ago, never more.
//!
//! Blocks of [`BIG`] bytes or more (and alignment up to [`ALIGN`]) are rounded up to a multiple
//! of [`GRAIN`] and allocated with alignment [`ALIGN`]; a freed one is kept in a small list if
//! there is room and handed out again for a request of the same rounded size; when another thread
//! holds the list, the request goes straight to `System` instead of waiting. Everything else
//! goes straight to `System`. The rounding is a pure function of the requested layout, so
//! `alloc`, `dealloc` and `realloc` always agree on the real size of a block.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

/// Requests from this size up are rounded and recycled (glibc's default mmap threshold).
pub const BIG: usize = 128 << 10;
/// Rounding of recycled blocks: requests within one grain share blocks.
pub const GRAIN: usize = 64 << 10;
/// Alignment of recycled blocks (Arrow buffers ask for 64).
pub const ALIGN: usize = 64;
/// At most this many bytes of freed blocks are kept.
pub const MAX_HELD: usize = 96 << 20;
/// At most this many freed blocks are kept.
const SLOTS: usize = 256;

struct Held {
    /// (address, rounded size) of each kept block.
    blocks: [(usize, usize); SLOTS],
    len: usize,
    bytes: usize,
}

/// glibc's allocator, plus a bounded list of freed large blocks kept for reuse.
pub struct Recycler {
    held: Mutex<Held>,
}

impl Default for Recycler {
    fn default() -> Self {
        Self::new()
    }
}

impl Recycler {
    pub const fn new() -> Self {
        Recycler {
            held: Mutex::new(Held {
                blocks: [(0, 0); SLOTS],
                len: 0,
                bytes: 0,
            }),
        }
    }

    /// The real (rounded) layout of a recycled block, or `None` for a request passed through.
    #[inline]
    fn big(layout: Layout) -> Option<Layout> {
        if layout.size() < BIG || layout.align() > ALIGN {
            return None;
        }
        let size = layout.size().checked_add(GRAIN - 1)? / GRAIN * GRAIN;
        Layout::from_size_align(size, ALIGN).ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The list, unless another thread holds it. Allocation never waits for it: a busy list
    /// means going straight to `System`, which every block is compatible with. This also keeps
    /// a child process forked while another thread held the lock (a PyTorch DataLoader worker,
    /// say) from deadlocking on its first large allocation.
    fn try_lock(&self) -> Option<std::sync::MutexGuard<'_, Held>> {
        match self.held.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// A kept block of exactly `size` bytes, if any.
    fn take(&self, size: usize) -> Option<*mut u8> {
        let mut h = self.try_lock()?;
        let n = h.len;
        let i = h.blocks[..n].iter().rposition(|&(_, s)| s == size)?;
        let (addr, _) = h.blocks[i];
        h.blocks[i] = h.blocks[n - 1];
        h.len -= 1;
        h.bytes -= size;
        Some(addr as *mut u8)
    }

    /// Keep a freed block if there is room; otherwise give it back.
    unsafe fn keep(&self, ptr: *mut u8, real: Layout) {
        if let Some(mut h) = self.try_lock() {
            if h.len < SLOTS && h.bytes + real.size() <= MAX_HELD {
                let n = h.len;
                h.blocks[n] = (ptr as usize, real.size());
                h.len += 1;
                h.bytes += real.size();
                return;
            }
        }
        System.dealloc(ptr, real);
    }

    /// Give every kept block back to the system; returns the bytes released.
    pub fn release(&self) -> usize {
        let mut h = self.lock();
        let n = h.len;
        for &(addr, size) in &h.blocks[..n] {
            // SAFETY: each kept block was allocated by `System` with this size and ALIGN.
            unsafe {
                System.dealloc(
                    addr as *mut u8,
                    Layout::from_size_align_unchecked(size, ALIGN),
                )
            };
        }
        let bytes = h.bytes;
        h.len = 0;
        h.bytes = 0;
        bytes
    }

    /// Bytes of freed blocks kept now.
    pub fn held_bytes(&self) -> usize {
        self.lock().bytes
    }
}

// SAFETY: every block handed out is either straight from `System` with the caller's layout, or
// a block `System` allocated with `big(layout)`, which is at least as large and as aligned as
// the request; blocks are kept and reused under a lock, and each is handed out once.
unsafe impl GlobalAlloc for Recycler {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match Self::big(layout) {
            None => System.alloc(layout),
            Some(real) => self.take(real.size()).unwrap_or_else(|| System.alloc(real)),
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match Self::big(layout) {
            None => System.alloc_zeroed(layout),
            Some(real) => match self.take(real.size()) {
                Some(p) => {
                    std::ptr::write_bytes(p, 0, real.size());
                    p
                }
                None => System.alloc_zeroed(real),
            },
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match Self::big(layout) {
            None => System.dealloc(ptr, layout),
            Some(real) => self.keep(ptr, real),
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        match (Self::big(layout), Self::big(new_layout)) {
            (None, None) => System.realloc(ptr, layout, new_size),
            (Some(old), Some(new)) if old.size() == new.size() => ptr,
            (old, _) => {
                let fresh = self.alloc(new_layout);
                if !fresh.is_null() {
                    let keep = layout.size().min(new_size);
                    std::ptr::copy_nonoverlapping(ptr, fresh, keep);
                    match old {
                        None => System.dealloc(ptr, layout),
                        Some(real) => self.keep(ptr, real),
                    }
                }
                fresh
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_requests_pass_through_and_big_ones_are_reused() {
        let r = Recycler::new();
        unsafe {
            let small = Layout::from_size_align(100, 8).unwrap();
            let p = r.alloc(small);
            assert!(!p.is_null());
            r.dealloc(p, small);
            assert_eq!(r.held_bytes(), 0);

            let big = Layout::from_size_align(1 << 20, 64).unwrap();
            let a = r.alloc(big);
            assert_eq!(a as usize % ALIGN, 0);
            a.write_bytes(7, 1 << 20);
            r.dealloc(a, big);
            assert_eq!(r.held_bytes(), 1 << 20);
            // A request within the same grain gets the same block back, zeroed if asked.
            let near = Layout::from_size_align((1 << 20) - 1000, 16).unwrap();
            let b = r.alloc_zeroed(near);
            assert_eq!(b, a);
            assert!(std::slice::from_raw_parts(b, near.size())
                .iter()
                .all(|&x| x == 0));
            assert_eq!(r.held_bytes(), 0);
            r.dealloc(b, near);
            assert_eq!(r.release(), 1 << 20);
            assert_eq!(r.held_bytes(), 0);
        }
    }

    #[test]
    fn realloc_keeps_contents_across_classes_and_within_a_grain() {
        let r = Recycler::new();
        unsafe {
            let l = Layout::from_size_align(1000, 8).unwrap();
            let p = r.alloc(l);
            for i in 0..1000 {
                *p.add(i) = i as u8;
            }
            // small -> big -> bigger within the grain (same block) -> big -> small
            let p2 = r.realloc(p, l, 200_000);
            let l2 = Layout::from_size_align(200_000, 8).unwrap();
            let p3 = r.realloc(p2, l2, 200_100);
            assert_eq!(p3, p2, "same rounded size keeps the block");
            let l3 = Layout::from_size_align(200_100, 8).unwrap();
            let p4 = r.realloc(p3, l3, 3 << 20);
            let l4 = Layout::from_size_align(3 << 20, 8).unwrap();
            let p5 = r.realloc(p4, l4, 500);
            for i in 0..500 {
                assert_eq!(*p5.add(i), i as u8);
            }
            r.dealloc(p5, Layout::from_size_align(500, 8).unwrap());
            r.release();
        }
    }

    #[test]
    fn holds_at_most_max_held_bytes() {
        let r = Recycler::new();
        let big = Layout::from_size_align(MAX_HELD / 2 + 1, 64).unwrap();
        unsafe {
            let blocks: Vec<*mut u8> = (0..3).map(|_| r.alloc(big)).collect();
            for b in blocks {
                r.dealloc(b, big);
            }
        }
        assert!(r.held_bytes() <= MAX_HELD);
        assert!(r.held_bytes() > 0);
        r.release();
    }

    #[test]
    fn a_held_lock_never_blocks_an_allocation() {
        let r = Recycler::new();
        let big = Layout::from_size_align(1 << 20, 64).unwrap();
        unsafe {
            let kept = r.alloc(big);
            r.dealloc(kept, big);
            assert_eq!(r.held_bytes(), 1 << 20);
            let guard = r.held.lock().unwrap();
            // As in a child forked while another thread held the lock: System serves it all.
            let p = r.alloc(big);
            assert!(!p.is_null());
            assert_ne!(p, kept);
            r.dealloc(p, big);
            drop(guard);
            assert_eq!(
                r.held_bytes(),
                1 << 20,
                "nothing was added while the lock was held"
            );
            r.release();
        }
    }

    #[test]
    fn over_aligned_requests_pass_through() {
        let r = Recycler::new();
        let l = Layout::from_size_align(1 << 20, 4096).unwrap();
        unsafe {
            let p = r.alloc(l);
            assert_eq!(p as usize % 4096, 0);
            r.dealloc(p, l);
        }
        assert_eq!(r.held_bytes(), 0);
    }
}
