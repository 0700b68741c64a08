//! The global allocator: the system allocator plus per-thread byte counters,
//! so INFO can report used memory per shard (each shard is a thread) and in
//! total, without a shared atomic on the allocation path.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

/// Threads that get a counter of their own; later ones share the last one.
const MAX_COUNTED_THREADS: usize = 255;

#[repr(align(64))] // one cache line each: no false sharing between cores
struct Counter(AtomicI64);

static COUNTERS: [Counter; MAX_COUNTED_THREADS + 1] =
    [const { Counter(AtomicI64::new(0)) }; MAX_COUNTED_THREADS + 1];
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

fn add(delta: i64) {
    let i = my_counter();
    let counter = &COUNTERS[i].0;
    if i == MAX_COUNTED_THREADS {
        counter.fetch_add(delta, Ordering::Relaxed);
    } else {
        // Only this thread writes its own counter: a plain load and store
        // (no locked instruction) is exact.
        counter.store(counter.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
    }
}

pub struct CountingAlloc;

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counters only observe sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        add(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Bytes allocated and not yet freed by the calling thread. Memory freed by
/// another thread than the one that allocated it moves between counters, so
/// per-thread figures are estimates; their sum is exact.
pub fn thread_allocated_bytes() -> i64 {
    COUNTERS[my_counter()].0.load(Ordering::Relaxed)
}

/// Bytes allocated by the whole process and not yet freed.
pub fn total_allocated_bytes() -> i64 {
    COUNTERS.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
}

/// Resident set size from /proc (Linux), in bytes.
pub fn rss_bytes() -> u64 {
    let page = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}
