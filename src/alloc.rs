//! The global allocator: the system allocator plus per-thread byte counters,
//! so INFO can report used memory per shard (each shard is a thread) and in
//! total, without a shared atomic on the common allocation path.
//!
//! Memory often moves between cores (a value set through one core is stored
//! and later freed by another), so a counter per thread of "bytes allocated
//! minus bytes freed here" drifts without bound. Instead every allocation
//! carries one byte past its end naming the counter of the thread that made
//! it, and whoever frees it takes the bytes off that counter: a thread's
//! figure is what it allocated and is still live, and the figures sum to the
//! total. The byte costs nothing for most sizes (the system allocator rounds
//! chunks up to 16 bytes).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

/// Threads that get a counter of their own; later ones share the last one.
/// Counter indexes must fit the one-byte tag.
const MAX_COUNTED_THREADS: usize = u8::MAX as usize;

/// One thread's counters, each on its own cache line: no false sharing
/// between cores, nor between a thread's own updates and other threads'.
#[repr(align(64))]
struct Line(AtomicI64);

struct Counter {
    /// Bytes this thread allocated, less what it freed of them; written
    /// only by the thread itself (except the shared last counter).
    own: Line,
    /// Bytes of this thread's allocations that other threads freed.
    freed_elsewhere: Line,
}

static COUNTERS: [Counter; MAX_COUNTED_THREADS + 1] = [const {
    Counter {
        own: Line(AtomicI64::new(0)),
        freed_elsewhere: Line(AtomicI64::new(0)),
    }
}; MAX_COUNTED_THREADS + 1];
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MY_COUNTER: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn my_counter() -> usize {
    MY_COUNTER
        .try_with(|c| {
            if c.get() == usize::MAX {
                let i = NEXT_THREAD
                    .fetch_add(1, Ordering::Relaxed)
                    .min(MAX_COUNTED_THREADS);
                c.set(i);
            }
            c.get()
        })
        // During thread teardown the thread-local is gone: use the shared one.
        .unwrap_or(MAX_COUNTED_THREADS)
}

/// Adds `delta` bytes to the calling thread's own counter `i`.
fn add_own(i: usize, delta: i64) {
    let counter = &COUNTERS[i].own.0;
    if i == MAX_COUNTED_THREADS {
        counter.fetch_add(delta, Ordering::Relaxed);
    } else {
        // Only this thread writes its own counter: a plain load and store
        // (no locked instruction) is exact.
        counter.store(counter.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
    }
}

/// Takes `size` freed bytes off the counter `owner` that allocated them.
fn remove(owner: usize, size: usize) {
    let me = my_counter();
    if owner == me {
        add_own(me, -(size as i64));
    } else {
        COUNTERS[owner]
            .freed_elsewhere
            .0
            .fetch_add(size as i64, Ordering::Relaxed);
    }
}

/// The layout actually requested from the system: one more byte, the tag.
fn tagged(layout: Layout) -> Option<Layout> {
    Layout::from_size_align(layout.size().checked_add(1)?, layout.align()).ok()
}

pub struct CountingAlloc;

// SAFETY: every block handed out is a block `System` allocated with the
// caller's alignment and at least one byte more than asked, so the caller's
// `layout.size()` bytes are valid and the tag byte at offset `size` is ours
// alone. Every block given back is passed to `System` with the same tagged
// layout it was allocated (or last reallocated) with, since the caller
// passes the layout it asked for. Reading the tag reads a byte we wrote.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(full) = tagged(layout) else {
            return std::ptr::null_mut();
        };
        let p = System.alloc(full);
        if !p.is_null() {
            let me = my_counter();
            p.add(layout.size()).write(me as u8);
            add_own(me, layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let Some(full) = tagged(layout) else {
            return std::ptr::null_mut();
        };
        let p = System.alloc_zeroed(full);
        if !p.is_null() {
            let me = my_counter();
            p.add(layout.size()).write(me as u8);
            add_own(me, layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let owner = usize::from(ptr.add(layout.size()).read());
        // `tagged` succeeded when this block was allocated.
        if let Some(full) = tagged(layout) {
            System.dealloc(ptr, full);
        }
        remove(owner, layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (Some(full), Some(new_full)) = (tagged(layout), new_size.checked_add(1)) else {
            return std::ptr::null_mut();
        };
        let owner = usize::from(ptr.add(layout.size()).read());
        let p = System.realloc(ptr, full, new_full);
        if !p.is_null() {
            // The block is now the caller's allocation: off its old owner's
            // counter, onto this thread's.
            remove(owner, layout.size());
            let me = my_counter();
            p.add(new_size).write(me as u8);
            add_own(me, new_size as i64);
        }
        p
    }
}

/// Bytes allocated by each counted thread and still live, by counter index
/// (a thread's index is fixed at its first allocation). Read in one pass:
/// the figures sum to [`total_allocated_bytes`] as of that pass.
pub fn allocated_bytes_per_thread() -> Vec<i64> {
    COUNTERS
        .iter()
        .map(|c| c.own.0.load(Ordering::Relaxed) - c.freed_elsewhere.0.load(Ordering::Relaxed))
        .collect()
}

/// The calling thread's counter index (see [`allocated_bytes_per_thread`]).
pub fn thread_counter() -> usize {
    my_counter()
}

/// Bytes allocated by the whole process and not yet freed.
pub fn total_allocated_bytes() -> i64 {
    allocated_bytes_per_thread().iter().sum()
}

/// Resident set size from /proc (Linux), in bytes.
pub fn rss_bytes() -> u64 {
    let page = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}
