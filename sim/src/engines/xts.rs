//! Driver for the XTS-AES-256 engine models (`xts_full`, `xts_compact`),
//! per the XTS contract in docs/ENGINES.md (IEEE 1619-2007 §5.3/§5.4).

use super::stream::{Source, Stall};
use super::{block_from_bytes, block_to_bytes, EngineError, EnginePorts, RunStats};

/// The contract ports of an XTS engine model, as the harness needs them.
/// Implemented for every generated XTS model in `engines::models`.
pub trait XtsPorts: EnginePorts {
    fn set_key(&mut self, key: &[u8; 64]);
    fn set_du(&mut self, valid: bool, number: u128, blocks: u16, decrypt: bool);
    fn du_ready(&self) -> bool;
    fn set_in(&mut self, valid: bool, data: u128);
    fn in_ready(&self) -> bool;
    fn set_out_ready(&mut self, v: bool);
    fn out_valid(&self) -> bool;
    fn out_data(&self) -> u128;
    fn out_last(&self) -> bool;
}

/// One data unit to process.
#[derive(Clone, Debug)]
pub struct DataUnit {
    /// Data unit number (the tweak value `i`).
    pub number: u128,
    pub decrypt: bool,
    /// Whole 16-byte blocks, 16..=4096 bytes.
    pub data: Vec<u8>,
}

/// Unit sizes the engine accepts (IEEE 1619 data units; the card uses one LBA).
pub const UNIT_SIZES: [usize; 2] = [512, 4096];

/// Cycle budget per block before a run is declared hung.
const HANG_CYCLES_PER_BLOCK: u64 = 200;

/// An XTS engine model with its stream state.
pub struct Xts<M: XtsPorts> {
    model: M,
}

impl<M: XtsPorts> Xts<M> {
    /// Wraps a freshly constructed model and resets it.
    pub fn new(mut model: M) -> Self {
        model.set_du(false, 0, 0, false);
        model.set_in(false, 0);
        model.set_out_ready(false);
        super::reset(&mut model);
        Xts { model }
    }

    pub fn model(&self) -> &M {
        &self.model
    }

    /// Loads a 512-bit key (`Key1 || Key2`) and waits until it is usable.
    pub fn load_key(&mut self, key: &[u8; 64]) -> Result<(), EngineError> {
        self.model.set_key(key);
        super::load_key(&mut self.model, "XTS key expansion", 1000)
    }

    /// Streams `units` through the engine and returns their output in order.
    /// `in_stall` starves the inputs, `out_stall` back-pressures the output.
    pub fn run(
        &mut self,
        units: &[DataUnit],
        mut in_stall: Stall,
        mut out_stall: Stall,
    ) -> Result<(Vec<u8>, RunStats), EngineError> {
        for u in units {
            if u.data.is_empty() || u.data.len() % 16 != 0 || u.data.len() > 4096 {
                return Err(EngineError::BadLength(u.data.len()));
            }
        }
        let descs: Vec<(u128, u16, bool)> = units
            .iter()
            .map(|u| (u.number, (u.data.len() / 16) as u16, u.decrypt))
            .collect();
        let blocks: Vec<u128> = units
            .iter()
            .flat_map(|u| u.data.chunks_exact(16).map(block_from_bytes))
            .collect();
        let total = blocks.len();
        let mut du = Source::new(descs, Stall::never());
        let mut inp = Source::new(blocks, in_stall.clone());
        let mut out = Vec::with_capacity(total * 16);
        let mut lasts = 0usize;
        let start = self.model.cycles();
        let mut first_out = None;
        let mut last_out = start;
        let limit = start + 1000 + HANG_CYCLES_PER_BLOCK * total as u64;
        let _ = &mut in_stall;
        while out.len() < total * 16 {
            let cycle = self.model.cycles();
            if cycle > limit {
                return Err(EngineError::Hang {
                    what: "XTS data",
                    cycles: cycle - start,
                });
            }
            match du.offer() {
                Some(&(n, b, d)) => self.model.set_du(true, n, b, d),
                None => self.model.set_du(false, 0, 0, false),
            }
            match inp.offer() {
                Some(&b) => self.model.set_in(true, b),
                None => self.model.set_in(false, 0),
            }
            let ready = !out_stall.stall();
            self.model.set_out_ready(ready);
            self.model.settle();
            du.settle(self.model.du_ready(), cycle);
            inp.settle(self.model.in_ready(), cycle);
            if ready && self.model.out_valid() {
                out.extend_from_slice(&block_to_bytes(self.model.out_data()));
                first_out.get_or_insert(cycle);
                last_out = cycle;
                if self.model.out_last() {
                    lasts += 1;
                }
            }
            self.model.tick();
        }
        self.model.set_du(false, 0, 0, false);
        self.model.set_in(false, 0);
        self.model.set_out_ready(false);
        if lasts != units.len() {
            return Err(EngineError::Protocol(format!(
                "out_last marked {lasts} unit ends, expected {}",
                units.len()
            )));
        }
        let first_in = inp.first_transfer.unwrap_or(start);
        Ok((
            out,
            RunStats {
                bytes: (total * 16) as u64,
                first_in_cycle: first_in,
                first_out_cycle: first_out.unwrap_or(first_in),
                last_out_cycle: last_out,
            },
        ))
    }
}
