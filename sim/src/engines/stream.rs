//! Valid/ready stream endpoints for driving engine models cycle by cycle.
//!
//! A [`Source`] presents items on a valid/ready input port, optionally
//! inserting random idle cycles (AXI-Stream rule: once `valid` is raised it
//! stays up until the beat transfers). A [`Stall`] decides a sink's `ready`
//! each cycle.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Random back-pressure/starvation pattern. `percent` is the chance (0..=100)
/// that a source withholds a new beat or a sink is not ready in a cycle.
#[derive(Clone, Debug)]
pub struct Stall {
    rng: Option<ChaCha8Rng>,
    percent: u32,
}

impl Stall {
    /// Never stall.
    pub fn never() -> Self {
        Stall {
            rng: None,
            percent: 0,
        }
    }

    /// Stall with probability `percent`% per cycle, reproducibly from `seed`.
    pub fn random(seed: u64, percent: u32) -> Self {
        use rand::SeedableRng;
        assert!(
            percent < 100,
            "a stall percentage of {percent} would never make progress"
        );
        Stall {
            rng: Some(ChaCha8Rng::seed_from_u64(seed)),
            percent,
        }
    }

    /// True when this cycle should stall.
    pub fn stall(&mut self) -> bool {
        match &mut self.rng {
            Some(r) if self.percent > 0 => r.gen_range(0..100) < self.percent,
            _ => false,
        }
    }
}

/// Presents a queue of items on a valid/ready port.
#[derive(Debug)]
pub struct Source<T> {
    items: Vec<T>,
    next: usize,
    presenting: bool,
    stall: Stall,
    /// Cycle number of the first transfer, if any.
    pub first_transfer: Option<u64>,
}

impl<T> Source<T> {
    pub fn new(items: Vec<T>, stall: Stall) -> Self {
        Source {
            items,
            next: 0,
            presenting: false,
            stall,
            first_transfer: None,
        }
    }

    /// The item to drive this cycle (`valid` = `is_some()`).
    pub fn offer(&mut self) -> Option<&T> {
        if self.next >= self.items.len() {
            return None;
        }
        if !self.presenting && !self.stall.stall() {
            self.presenting = true;
        }
        if self.presenting {
            self.items.get(self.next)
        } else {
            None
        }
    }

    /// Record the port's `ready` as sampled before the clock edge of `cycle`.
    /// Returns true when a beat transferred.
    pub fn settle(&mut self, ready: bool, cycle: u64) -> bool {
        if self.presenting && ready {
            self.presenting = false;
            self.next += 1;
            self.first_transfer.get_or_insert(cycle);
            true
        } else {
            false
        }
    }

    /// All items transferred.
    pub fn done(&self) -> bool {
        self.next >= self.items.len()
    }

    /// Items transferred so far.
    pub fn sent(&self) -> usize {
        self.next
    }
}
