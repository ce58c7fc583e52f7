//! Engine drivers: cycle-by-cycle harnesses that stream data through the
//! verilated crypto engines per docs/ENGINES.md. Used by the CLI, the
//! benchmark and the differential tests.

pub mod gcm;
mod models;
pub mod stream;
pub mod xts;

pub use models::{AnyGcm, AnyXts, EngineConfig};

/// Ports every engine model has: clock, reset, key load (docs/ENGINES.md).
pub trait EnginePorts {
    /// One full clock cycle: inputs as set are sampled at the rising edge.
    fn tick(&mut self);
    /// Settle combinational logic for the current inputs (no clock edge).
    fn settle(&mut self);
    fn set_reset(&mut self, v: bool);
    fn set_key_load(&mut self, v: bool);
    fn key_ready(&self) -> bool;
    /// Cycles ticked since the model was created.
    fn cycles(&self) -> u64;
}

/// Holds `reset` for two cycles (inputs must already be idle).
pub(crate) fn reset<M: EnginePorts>(m: &mut M) {
    m.set_key_load(false);
    m.set_reset(true);
    m.tick();
    m.tick();
    m.set_reset(false);
    m.tick();
}

/// Pulses `key_load` (the key port already driven) and waits for `key_ready`.
pub(crate) fn load_key<M: EnginePorts>(
    m: &mut M,
    what: &'static str,
    limit: u64,
) -> Result<(), EngineError> {
    m.set_key_load(true);
    m.tick();
    m.set_key_load(false);
    for _ in 0..limit {
        m.settle();
        if m.key_ready() {
            return Ok(());
        }
        m.tick();
    }
    Err(EngineError::Hang {
        what,
        cycles: limit,
    })
}

/// A failed engine run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{what} made no progress for {cycles} cycles (engine hang)")]
    Hang { what: &'static str, cycles: u64 },
    #[error("length {0} is not a whole number of 16-byte blocks in 16..=4096")]
    BadLength(usize),
    #[error("engine protocol violation: {0}")]
    Protocol(String),
}

/// Cycle figures of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Output bytes.
    pub bytes: u64,
    /// Cycle of the first input block transfer.
    pub first_in_cycle: u64,
    /// Cycle of the first output block transfer.
    pub first_out_cycle: u64,
    /// Cycle of the last output block transfer.
    pub last_out_cycle: u64,
}

impl RunStats {
    /// First block in -> first block out, in cycles.
    pub fn latency_cycles(&self) -> u64 {
        self.first_out_cycle - self.first_in_cycle
    }

    /// Output bytes per cycle from the first input to the last output
    /// (includes the pipeline fill).
    pub fn bytes_per_cycle(&self) -> f64 {
        self.bytes as f64 / (self.last_out_cycle - self.first_in_cycle + 1) as f64
    }

    /// Sustained output rate: bytes per cycle from the first to the last
    /// output beat (the steady state, without the fill latency).
    pub fn sustained_bytes_per_cycle(&self) -> f64 {
        self.bytes as f64 / (self.last_out_cycle - self.first_out_cycle + 1) as f64
    }
}

/// 16 bytes -> block value (ENGINES.md byte order: byte i at bits 8i+7:8i).
pub fn block_from_bytes(b: &[u8]) -> u128 {
    u128::from_le_bytes(b.try_into().expect("16-byte block"))
}

/// Block value -> 16 bytes.
pub fn block_to_bytes(v: u128) -> [u8; 16] {
    v.to_le_bytes()
}
