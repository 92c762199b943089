//! How far a check, a resolve or a load has got: counters the check and the
//! pipeline increment as they go, for whoever wants to show them.
//!
//! Plain atomics, no terminal code: the command line reads them to draw a
//! progress line (`cmd/progress.rs`); the daemon and the demo never look.
//! Counting costs one relaxed atomic add per system, per batch of entries
//! and per source row.

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters of one run, shared by reference (or in an `Arc`) between
/// the work and a reader.
#[derive(Debug, Default)]
pub struct Progress {
    systems_total: AtomicU64,
    systems_done: AtomicU64,
    entries_total: AtomicU64,
    entries_judged: AtomicU64,
    rows_read: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub systems_total: u64,
    pub systems_done: u64,
    pub entries_total: u64,
    pub entries_judged: u64,
    pub rows_read: u64,
}

impl Progress {
    pub fn new() -> Progress {
        Progress::default()
    }

    /// A check starts: this many systems with this many entries to judge.
    pub fn check_started(&self, systems: u64, entries: u64) {
        self.systems_total.store(systems, Ordering::Relaxed);
        self.systems_done.store(0, Ordering::Relaxed);
        self.entries_total.store(entries, Ordering::Relaxed);
        self.entries_judged.store(0, Ordering::Relaxed);
    }

    /// One system answered (or could not be asked) for this many entries.
    pub fn system_done(&self, entries: u64) {
        self.systems_done.fetch_add(1, Ordering::Relaxed);
        self.entries_judged.fetch_add(entries, Ordering::Relaxed);
    }

    /// Entries settled without asking a system (unknown integration,
    /// duplicate entry).
    pub fn entries_judged(&self, entries: u64) {
        self.entries_judged.fetch_add(entries, Ordering::Relaxed);
    }

    /// One row of an identity source was read.
    pub fn row_read(&self) {
        self.rows_read.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> Counts {
        Counts {
            systems_total: self.systems_total.load(Ordering::Relaxed),
            systems_done: self.systems_done.load(Ordering::Relaxed),
            entries_total: self.entries_total.load(Ordering::Relaxed),
            entries_judged: self.entries_judged.load(Ordering::Relaxed),
            rows_read: self.rows_read.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_counts_its_systems_and_entries_and_a_load_its_rows() {
        let progress = Progress::new();
        progress.check_started(3, 10);
        progress.entries_judged(1);
        progress.system_done(4);
        progress.system_done(5);
        progress.row_read();
        progress.row_read();
        assert_eq!(
            progress.counts(),
            Counts {
                systems_total: 3,
                systems_done: 2,
                entries_total: 10,
                entries_judged: 10,
                rows_read: 2,
            }
        );
    }
}
