//! The threads a long column batch runs on: the calling thread and a pool of one thread fewer than
//! the cores, each claiming the next piece of work no thread has started ([`on_pieces`]). How a
//! batch is cut into pieces is the kernels' decision, by measured cost (see `kernels`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// The pool that runs all pieces but the first: one thread fewer than the machine has cores,
/// since the calling thread computes the first piece itself. (A pool of one thread per core
/// beside a computing caller put three busy threads on two cores: divide batches ran at half
/// speed.) Made on first use.
pub(crate) fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores().saturating_sub(1).max(1))
            .thread_name(|i| format!("nanocalc-{i}"))
            .build()
            .expect("nanocalc: cannot start the batch thread pool")
    })
}

/// The machine's cores (what the process may use), read once.
pub(crate) fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The byte range of piece `i` of `pieces` over `len` bytes of packed values: boundaries at
/// multiples of 64 bytes, so two threads never write the same cache line.
pub(crate) fn piece(len: usize, i: usize, pieces: usize) -> core::ops::Range<usize> {
    let cut = |k: usize| if k == pieces { len } else { (len / 64 * k / pieces) * 64 };
    cut(i)..cut(i + 1)
}

/// Runs `work` on every item, on the calling thread and on up to `items.len() - 1` threads of
/// [`pool`]: each thread, the caller included, claims the next item no thread has started (an
/// atomic counter) until none is left. The caller computes meanwhile instead of sleeping until a
/// pool thread wakes (`rayon::join` from outside the pool hands both halves over and waits:
/// measured slower than one thread through the Node addon, whose calls come with pauses in which
/// the pool goes to sleep), and it never waits for a pool thread that has not started: it takes
/// over every item still unclaimed and then waits only for the items a pool thread is computing.
/// So a pool that is slow to wake, or whose threads another process keeps off the cores, costs a
/// batch the spawns and no more (a scope would wait for every spawned job to run).
pub(crate) fn on_pieces<T: Send, F: Fn(T) + Sync>(items: Vec<T>, work: F) {
    let pieces = items.len();
    if pieces <= 1 {
        items.into_iter().for_each(work);
        return;
    }
    let local = Local { slots: items.into_iter().map(|item| Mutex::new(Some(item))).collect(), work };
    let claims = Arc::new(Claims {
        next: AtomicUsize::new(0),
        pieces,
        done: Mutex::new(0),
        all_done: Condvar::new(),
        failure: Mutex::new(None),
    });
    let run: unsafe fn(*const (), usize) = run_piece::<T, F>;
    for _ in 1..pieces {
        let (claims, local) = (Arc::clone(&claims), Erased(core::ptr::from_ref(&local).cast::<()>()));
        pool().spawn(move || {
            // SAFETY: `local` is read only for an item claimed below `pieces`, and the caller
            // does not return (nor drop `local`) before every such item is finished.
            claims.take_pieces(|i| unsafe { run(local.get(), i) });
        });
    }
    // SAFETY: as above; `local` lives on this frame.
    claims.take_pieces(|i| unsafe { run(core::ptr::from_ref(&local).cast(), i) });
    claims.wait_all();
    let failure = claims.failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    if let Some(payload) = failure {
        std::panic::resume_unwind(payload);
    }
}

/// What [`on_pieces`] lends the threads that claim an item: the items and the work.
struct Local<T, F> {
    slots: Vec<Mutex<Option<T>>>,
    work: F,
}

/// Runs item `i` of the [`Local`] at `local`.
///
/// # Safety
/// `local` points to a live `Local<T, F>` and `i` is below its number of items.
unsafe fn run_piece<T, F: Fn(T)>(local: *const (), i: usize) {
    // SAFETY: by the contract above.
    let local = unsafe { &*local.cast::<Local<T, F>>() };
    let item = local.slots[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    if let Some(item) = item {
        (local.work)(item);
    }
}

/// A [`Local`]'s address, sent to a pool thread (read only under [`on_pieces`]' rules).
struct Erased(*const ());

// SAFETY: the address is dereferenced only as `on_pieces` allows, and `Local` holds `T: Send`
// items behind mutexes and a `Sync` function.
unsafe impl Send for Erased {}

impl Erased {
    /// The address (a method, so a closure captures the whole `Erased`, not its raw pointer).
    fn get(&self) -> *const () {
        self.0
    }
}

/// The shared count of [`on_pieces`]' items, owned by every thread that may claim one (so a pool
/// thread that starts after the batch is over reads only this).
struct Claims {
    next: AtomicUsize,
    pieces: usize,
    done: Mutex<usize>,
    all_done: Condvar,
    /// The first panic of an item, on whichever thread: the caller resumes it.
    failure: Mutex<Option<Panic>>,
}

type Panic = Box<dyn std::any::Any + Send>;

impl Claims {
    /// Claims and runs items until none is left; an item that panics is counted done, and the
    /// first panic kept for the caller, which resumes it once every item is done.
    fn take_pieces(&self, run: impl Fn(usize)) {
        loop {
            let i = self.next.fetch_add(1, Ordering::AcqRel);
            if i >= self.pieces {
                return;
            }
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(i))) {
                self.failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(payload);
            }
            let mut done = self.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *done += 1;
            if *done == self.pieces {
                self.all_done.notify_all();
            }
        }
    }

    /// Waits until every item is done (the mutex orders their writes before the caller's reads).
    fn wait_all(&self) {
        let mut done = self.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while *done < self.pieces {
            done = self.all_done.wait(done).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_panic_in_a_piece_reaches_the_caller_after_every_piece_is_done() {
        let done = AtomicUsize::new(0);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            on_pieces((0..6).collect(), |i: usize| {
                std::thread::sleep(Duration::from_millis(5));
                assert_ne!(i, 2, "piece 2 fails");
                done.fetch_add(1, Ordering::SeqCst);
            });
        }));
        assert!(outcome.is_err(), "the panic is resumed on the caller");
        assert_eq!(done.load(Ordering::SeqCst), 5, "every other piece ran before it was");
    }
}
