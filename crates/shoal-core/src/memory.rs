//! One memory budget for everything a job holds: committed shuffle data
//! and results kept in memory, and what running tasks hold (sort buffers,
//! hash tables, read buffers, staged output).
//!
//! ```text
//!  budget ─┬─ committed outputs kept in memory (beyond their room: spilled)
//!          └─ tasks: each running task is guaranteed a floor of
//!             budget / (2 × threads); it may hold more while the pool has
//!             room, and its operators spill when a reservation is refused
//! ```
//!
//! The pool keeps one invariant: `committed + Σ max(task held, floor) +
//! (idle slots × floor) ≤ budget`. Committed outputs therefore never take
//! the room a running task is guaranteed, and the bytes actually held
//! (committed + what tasks hold) never exceed the budget — except through
//! [`Reservation::grow`], the escape hatch for the few bytes an operator
//! needs to make progress at all, which is counted like everything else.
//! The peak of bytes held is reported in [`MemoryStats`].
//!
//! Reservations are bookkeeping, not allocation: operators say what they
//! hold (a sort buffer's bytes, a hash table's estimate) and ask before
//! holding more. A refused [`Reservation::try_grow`] is the signal to spill.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// What a job held and spilled, for run summaries and `--stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// The memory budget (`u64::MAX`: unbounded).
    pub budget: u64,
    /// The most bytes held at once: committed outputs in memory plus what
    /// running tasks had reserved.
    pub peak_held: u64,
    /// Bytes written to spill files in the work directory.
    pub spilled_bytes: u64,
    /// Spill files written.
    pub spill_files: u64,
}

#[derive(Debug, Default)]
struct PoolState {
    /// Committed outputs held in memory.
    committed: u64,
    /// Σ over running tasks of max(held, floor).
    claimed: u64,
    /// Σ over running tasks of what they hold.
    held: u64,
    /// Running tasks.
    active: u64,
    /// Most bytes ever held at once.
    peak: u64,
}

#[derive(Debug)]
struct PoolInner {
    limit: u64,
    floor: u64,
    slots: u64,
    state: Mutex<PoolState>,
    spilled_bytes: AtomicU64,
    spill_files: AtomicU64,
}

/// The memory budget of one job run, shared by its tasks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MemoryPool {
    inner: Arc<PoolInner>,
}

impl MemoryPool {
    /// A pool of `limit` bytes for at most `slots` tasks running at once.
    pub fn new(limit: u64, slots: usize) -> MemoryPool {
        let slots = slots.max(1) as u64;
        MemoryPool {
            inner: Arc::new(PoolInner {
                limit,
                floor: limit / (2 * slots),
                slots,
                state: Mutex::new(PoolState::default()),
                spilled_bytes: AtomicU64::new(0),
                spill_files: AtomicU64::new(0),
            }),
        }
    }

    /// A pool that never refuses (still counting what is held).
    pub fn unbounded() -> MemoryPool {
        MemoryPool::new(u64::MAX, 1)
    }

    /// The budget in bytes.
    pub fn limit(&self) -> u64 {
        self.inner.limit
    }

    /// What every running task may hold whatever else is held.
    pub fn task_floor(&self) -> u64 {
        self.inner.floor
    }

    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `state` keeps the pool's invariant.
    fn fits(&self, state: &PoolState) -> bool {
        let idle = self.inner.slots.saturating_sub(state.active);
        let need = u128::from(state.committed)
            + u128::from(state.claimed)
            + u128::from(idle) * u128::from(self.inner.floor);
        need <= u128::from(self.inner.limit)
    }

    fn note_peak(state: &mut PoolState) {
        state.peak = state.peak.max(state.committed.saturating_add(state.held));
    }

    /// Registers a running task; it holds nothing yet and is guaranteed
    /// the floor. Dropping the last clone of the handle ends it.
    pub fn task(&self) -> TaskMemory {
        let mut state = self.state();
        state.active += 1;
        state.claimed = state.claimed.saturating_add(self.inner.floor);
        drop(state);
        TaskMemory {
            inner: Arc::new(TaskInner {
                pool: self.clone(),
                held: Mutex::new(0),
            }),
        }
    }

    /// Takes `bytes` for a committed output kept in memory; false when
    /// they do not fit (the output is spilled instead).
    pub fn try_hold_committed(&self, bytes: u64) -> bool {
        let mut state = self.state();
        state.committed = state.committed.saturating_add(bytes);
        if self.fits(&state) {
            Self::note_peak(&mut state);
            true
        } else {
            state.committed -= bytes;
            false
        }
    }

    /// Gives back `bytes` of committed outputs (their stage was released).
    pub fn release_committed(&self, bytes: u64) {
        let mut state = self.state();
        state.committed = state.committed.saturating_sub(bytes);
    }

    /// Counts one spill file of `bytes` written to the work directory.
    pub fn count_spill(&self, bytes: u64) {
        self.inner.spilled_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.inner.spill_files.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `bytes` more written to a spill file already counted.
    pub fn count_spilled_bytes(&self, bytes: u64) {
        self.inner.spilled_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Bytes held right now (committed outputs plus running tasks).
    pub fn held(&self) -> u64 {
        let state = self.state();
        state.committed.saturating_add(state.held)
    }

    /// The run's figures so far.
    pub fn stats(&self) -> MemoryStats {
        MemoryStats {
            budget: self.inner.limit,
            peak_held: self.state().peak,
            spilled_bytes: self.inner.spilled_bytes.load(Ordering::Relaxed),
            spill_files: self.inner.spill_files.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug)]
struct TaskInner {
    pool: MemoryPool,
    held: Mutex<u64>,
}

impl Drop for TaskInner {
    fn drop(&mut self) {
        let held = *self.held.get_mut().unwrap_or_else(|p| p.into_inner());
        let floor = self.pool.inner.floor;
        let mut state = self.pool.state();
        state.active = state.active.saturating_sub(1);
        state.claimed = state.claimed.saturating_sub(held.max(floor));
        state.held = state.held.saturating_sub(held);
    }
}

/// One running task's share of the pool. Operators take
/// [`Reservation`]s from it. Cheap to clone; owned, so streams reading a
/// task's input need not borrow its context.
#[derive(Debug, Clone)]
pub struct TaskMemory {
    inner: Arc<TaskInner>,
}

impl TaskMemory {
    /// A new, empty reservation for one operator of this task.
    pub fn reservation(&self) -> Reservation {
        Reservation {
            task: self.clone(),
            size: 0,
        }
    }

    /// The pool this task draws from.
    pub fn pool(&self) -> &MemoryPool {
        &self.inner.pool
    }

    /// What the task holds now, over all its reservations.
    pub fn held(&self) -> u64 {
        *self.inner.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes what the task holds by `delta`; refused (false) when
    /// growing past the pool's room unless `force`.
    fn adjust(&self, grow: u64, shrink: u64, force: bool) -> bool {
        let pool = &self.inner.pool;
        let floor = pool.inner.floor;
        let mut held = self.inner.held.lock().unwrap_or_else(|p| p.into_inner());
        let new_held = held.saturating_add(grow).saturating_sub(shrink);
        let mut state = pool.state();
        let (old_claim, new_claim) = ((*held).max(floor), new_held.max(floor));
        state.claimed = state
            .claimed
            .saturating_sub(old_claim)
            .saturating_add(new_claim);
        if new_claim > old_claim && !force && !pool.fits(&state) {
            state.claimed = state
                .claimed
                .saturating_sub(new_claim)
                .saturating_add(old_claim);
            return false;
        }
        state.held = state.held.saturating_sub(*held).saturating_add(new_held);
        MemoryPool::note_peak(&mut state);
        *held = new_held;
        true
    }
}

/// Bytes one operator holds, given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    task: TaskMemory,
    size: u64,
}

impl Reservation {
    /// Bytes reserved.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reserves `bytes` more if the pool has room; false means: spill.
    pub fn try_grow(&mut self, bytes: u64) -> bool {
        let granted = self.task.adjust(bytes, 0, false);
        if granted {
            self.size += bytes;
        }
        granted
    }

    /// Reserves `bytes` more whatever the pool holds: only for the few
    /// bytes an operator needs to make progress at all (one record, one
    /// read buffer per merged run). Counted in the peak like any other.
    pub fn grow(&mut self, bytes: u64) {
        self.task.adjust(bytes, 0, true);
        self.size += bytes;
    }

    /// Gives back up to `bytes`.
    pub fn shrink(&mut self, bytes: u64) {
        let bytes = bytes.min(self.size);
        self.task.adjust(0, bytes, true);
        self.size -= bytes;
    }

    /// Sets the reservation to `bytes`: shrinking always works, growing
    /// may be refused (false, nothing changed).
    pub fn try_resize(&mut self, bytes: u64) -> bool {
        if bytes <= self.size {
            self.shrink(self.size - bytes);
            true
        } else {
            self.try_grow(bytes - self.size)
        }
    }

    /// Gives everything back.
    pub fn free(&mut self) {
        self.shrink(self.size);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.free();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_keep_their_floor_and_committed_data_cannot_take_it() {
        let pool = MemoryPool::new(1000, 2);
        assert_eq!(pool.task_floor(), 250);
        // Two idle slots keep 500 for tasks: committed data gets the rest.
        assert!(pool.try_hold_committed(500));
        assert!(!pool.try_hold_committed(1));
        let task = pool.task();
        let mut r = task.reservation();
        assert!(r.try_grow(250), "the floor is always there");
        assert!(!r.try_grow(1), "beyond it the pool is full");
        pool.release_committed(500);
        assert!(r.try_grow(400));
        assert_eq!(pool.held(), 650);
        drop(r);
        assert_eq!(pool.held(), 0);
        assert_eq!(pool.stats().peak_held, 750);
    }

    #[test]
    fn forced_growth_is_counted_and_ending_a_task_frees_everything() {
        let pool = MemoryPool::new(100, 1);
        let task = pool.task();
        let mut a = task.reservation();
        a.grow(300);
        assert_eq!(pool.held(), 300);
        assert!(!pool.try_hold_committed(1));
        let mut b = task.reservation();
        assert!(!b.try_grow(1));
        drop(a);
        drop(b);
        drop(task);
        assert_eq!(pool.held(), 0);
        // The idle slot keeps its floor (50) for the next task.
        assert!(!pool.try_hold_committed(51));
        assert!(pool.try_hold_committed(50));
        assert_eq!(pool.stats().peak_held, 300);
    }

    #[test]
    fn unbounded_pools_never_refuse() {
        let pool = MemoryPool::unbounded();
        let task = pool.task();
        let mut r = task.reservation();
        assert!(r.try_grow(u64::MAX / 4));
        assert!(pool.try_hold_committed(u64::MAX / 4));
        assert!(r.try_resize(10));
    }
}
