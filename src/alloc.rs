//! A global allocator that wipes every block before handing it back to the system allocator.
//!
//! Secrets pass through many buffers signet does not own: *ring*'s RSA limbs (it does not wipe
//! them on drop), serde and HTTP buffers holding a token, clap's copy of a flag. Wiping on free
//! covers them all at once, for about the cost of a `memset` per freed block, which a command
//! that runs for milliseconds does not notice. The `signet` binary installs it; a program using
//! the library can do the same:
//!
//! ```
//! #[global_allocator]
//! static ALLOC: signet::ZeroizeOnFree = signet::ZeroizeOnFree::new(std::alloc::System);
//! ```
//!
//! Memory still in use when the process exits is not wiped (the kernel hands out pages zeroed).

use std::alloc::{GlobalAlloc, Layout, System};
use zeroize::Zeroize;

/// An allocator (the system's by default) that wipes each block when it is freed or moved.
#[derive(Debug, Default, Clone, Copy)]
pub struct ZeroizeOnFree<A = System> {
    inner: A,
}

impl<A> ZeroizeOnFree<A> {
    /// Wraps `inner`.
    pub const fn new(inner: A) -> Self {
        ZeroizeOnFree { inner }
    }
}

// SAFETY: every call is forwarded to `inner` with the same layout; the wipe writes only the
// `layout.size()` bytes the caller owned, before they are freed.
unsafe impl<A: GlobalAlloc> GlobalAlloc for ZeroizeOnFree<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { self.inner.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { self.inner.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Volatile writes (zeroize), since stores just before `free` are otherwise dead code. The
        // block's bytes need not be initialised (a Vec's spare capacity, padding), so it is seen
        // as `MaybeUninit<u8>`: a `&mut [u8]` over them would be undefined behaviour.
        let block = ptr.cast::<std::mem::MaybeUninit<u8>>();
        unsafe { std::slice::from_raw_parts_mut(block, layout.size()) }.zeroize();
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The system's realloc may move the block and free the old one unwiped: move it here.
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        let new = unsafe { self.inner.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The system allocator, counting the blocks that reach it not wiped.
    struct Inspecting {
        frees: AtomicUsize,
        dirty: AtomicUsize,
    }

    unsafe impl GlobalAlloc for Inspecting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            self.frees.fetch_add(1, Ordering::SeqCst);
            if unsafe { std::slice::from_raw_parts(ptr, layout.size()) }
                .iter()
                .any(|&b| b != 0)
            {
                self.dirty.fetch_add(1, Ordering::SeqCst);
            }
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[test]
    fn blocks_reach_the_system_allocator_wiped_and_realloc_keeps_contents() {
        let a = ZeroizeOnFree::new(Inspecting {
            frees: AtomicUsize::new(0),
            dirty: AtomicUsize::new(0),
        });
        unsafe {
            let l = Layout::from_size_align(64, 8).unwrap();
            let p = a.alloc(l);
            assert!(!p.is_null());
            std::ptr::write_bytes(p, 0xA5, 64);
            let q = a.realloc(p, l, 4096);
            assert!(!q.is_null());
            let kept = std::slice::from_raw_parts(q, 64);
            assert!(kept.iter().all(|&b| b == 0xA5), "realloc keeps the contents");
            std::ptr::write_bytes(q, 0x5A, 4096);
            a.dealloc(q, Layout::from_size_align(4096, 8).unwrap());
        }
        assert_eq!(
            a.inner.frees.load(Ordering::SeqCst),
            2,
            "the moved block and the last one"
        );
        assert_eq!(
            a.inner.dirty.load(Ordering::SeqCst),
            0,
            "every block was wiped before it was freed"
        );
    }
}
