//! Verilator models of the nitrous tops, driven from Rust.
//!
//! `build.rs` verilates every top registered in `nitrous_hdl::tops::all()`
//! (or those named in `NITROUS_SIM_TOPS=a,b` at build time), compiles the
//! C++ model and a generated C ABI shim, and generates one Rust struct per
//! top in [`models`] (`sim_selftest` -> [`models::SimSelftest`],
//! `xts_full` -> `models::XtsFull`). No hand-written C++ per design.
//!
//! Each model implements [`Model`]: port metadata ([`Model::PORTS`]),
//! [`Model::eval`], access by name ([`Model::set`] / [`Model::get`] with
//! little-endian `u32` words, [`Model::set_bytes`] / [`Model::get_bytes`])
//! and trace control. The generated struct adds typed accessors per port:
//! `set_<port>(v)` and `<port>()` with `bool` for 1 bit, `u8`/`u16`/`u32`/
//! `u64` up to 64 bits, `u128` up to 128 bits and `[u32; N]` (little-endian
//! words) above that.
//!
//! [`Sim`] drives the clock: [`Sim::tick`] is clock low / eval / clock high
//! / eval, counts cycles and dumps a waveform sample per edge when tracing
//! is on ([`Sim::trace_to`], or the `NITROUS_TRACE=<file.fst>` environment
//! variable; see the README).
//!
//! ```
//! # #[cfg(nsim_top_sim_selftest)] {
//! use nitrous_sim::{models::SimSelftest, Model, Sim};
//! let mut sim = Sim::<SimSelftest>::new().unwrap();
//! sim.apply_reset(2).unwrap();
//! sim.set_in_byte(41);
//! sim.tick();
//! assert_eq!(sim.out_byte(), 42);
//! assert_eq!(sim.get("out_byte").unwrap(), vec![42]);
//! # }
//! ```

#[cfg(all(
    nsim_top_xts_full,
    nsim_top_xts_compact,
    nsim_top_gcm_full,
    nsim_top_gcm_compact
))]
pub mod engines;
mod error;
pub mod platform;
#[doc(hidden)]
pub mod raw;
mod sim;

pub use error::{Error, Result};
pub use sim::{Sim, HALF_PERIOD, TRACE_ENV};

/// Generated models, one struct per verilated top (see the crate docs).
pub mod models {
    include!(concat!(env!("OUT_DIR"), "/models.rs"));
}

/// Direction of a top-level port.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum PortDir {
    /// Input: driven from Rust.
    In,
    /// Output: read from Rust.
    Out,
    /// Bidirectional (Verilator treats it like an input that is also read).
    InOut,
}

impl PortDir {
    /// Whether Rust may drive the port.
    pub fn is_input(self) -> bool {
        self != PortDir::Out
    }
}

/// One top-level port of a model.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortInfo {
    /// Name in the Verilog (e.g. `in_data`).
    pub name: &'static str,
    /// Width in bits.
    pub width: u32,
    /// Direction.
    pub dir: PortDir,
}

impl PortInfo {
    /// Number of little-endian 32-bit words holding the value.
    pub fn words(&self) -> usize {
        self.width.div_ceil(32) as usize
    }

    /// Number of little-endian bytes holding the value.
    pub fn bytes(&self) -> usize {
        self.width.div_ceil(8) as usize
    }
}

/// A Verilated top. Implemented by the generated structs in [`models`].
///
/// Values are little-endian: word 0 holds bits 31..0, byte 0 bits 7..0
/// (for the crypto ports that is exactly the byte order of
/// docs/ENGINES.md). Inputs take effect at the next [`Model::eval`].
pub trait Model: Send + Sized {
    /// Top name as registered in `nitrous_hdl::tops`.
    const NAME: &'static str;
    /// One-line description from the registry.
    const DESCRIPTION: &'static str;
    /// Ports in Verilog declaration order; the index is the port index.
    const PORTS: &'static [PortInfo];

    /// A fresh model (all state zero, inputs zero, not yet evaluated).
    fn new() -> Self;

    #[doc(hidden)]
    fn raw(&self) -> &raw::RawModel;
    #[doc(hidden)]
    fn raw_mut(&mut self) -> &mut raw::RawModel;

    /// Index and description of port `name`.
    fn port(name: &str) -> Result<(usize, &'static PortInfo)> {
        Self::PORTS
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == name)
            .ok_or_else(|| Error::UnknownPort {
                model: Self::NAME,
                port: name.to_string(),
            })
    }

    /// Whether the top has a port called `name`.
    fn has_port(name: &str) -> bool {
        Self::PORTS.iter().any(|p| p.name == name)
    }

    /// Evaluates the model (propagates inputs and clock edges).
    fn eval(&mut self) {
        self.raw_mut().eval()
    }

    /// Drives input `name` from little-endian `u32` words. Fewer words than
    /// the port needs are zero-extended; extra words must be zero and bits
    /// above the port width must be clear.
    fn set(&mut self, name: &str, value: &[u32]) -> Result<()> {
        let (idx, p) = Self::port(name)?;
        if !p.dir.is_input() {
            return Err(Error::NotAnInput {
                model: Self::NAME,
                port: p.name,
            });
        }
        let mut w = vec![0u32; p.words()];
        for (i, &x) in value.iter().enumerate() {
            match w.get_mut(i) {
                Some(slot) => *slot = x,
                None if x == 0 => {}
                None => return Err(too_wide::<Self>(p)),
            }
        }
        let top_bits = p.width % 32;
        if top_bits != 0 && w[w.len() - 1] >> top_bits != 0 {
            return Err(too_wide::<Self>(p));
        }
        self.raw_mut().set_words(idx, &w);
        Ok(())
    }

    /// Reads port `name` (input or output) as little-endian `u32` words
    /// (exactly `ceil(width/32)` of them).
    fn get(&self, name: &str) -> Result<Vec<u32>> {
        let (idx, p) = Self::port(name)?;
        let mut w = vec![0u32; p.words()];
        self.raw().get_words(idx, &mut w);
        Ok(w)
    }

    /// Drives input `name` from a `u64` (the port may be wider).
    fn set_u64(&mut self, name: &str, value: u64) -> Result<()> {
        self.set(name, &[value as u32, (value >> 32) as u32])
    }

    /// Reads port `name` as a `u64`; error if it is wider than 64 bits.
    fn get_u64(&self, name: &str) -> Result<u64> {
        let (_, p) = Self::port(name)?;
        if p.width > 64 {
            return Err(Error::PortTooWide {
                model: Self::NAME,
                port: p.name,
                width: p.width,
                max: 64,
            });
        }
        let w = self.get(name)?;
        Ok(w.iter()
            .enumerate()
            .fold(0u64, |a, (i, &x)| a | (x as u64) << (32 * i)))
    }

    /// Drives input `name` from little-endian bytes (byte 0 = bits 7..0),
    /// zero-extended; e.g. a 64-byte XTS key into a 512-bit port.
    fn set_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let words: Vec<u32> = bytes
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(b)
            })
            .collect();
        self.set(name, &words)
    }

    /// Reads port `name` as `ceil(width/8)` little-endian bytes.
    fn get_bytes(&self, name: &str) -> Result<Vec<u8>> {
        let (_, p) = Self::port(name)?;
        let w = self.get(name)?;
        let mut b: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        b.truncate(p.bytes());
        Ok(b)
    }

    /// Opens a waveform file (format: [`models::TRACE_FORMAT`]) for this
    /// instance, with every signal of the hierarchy. Samples are written by
    /// [`Model::trace_dump`] ([`Sim`] does that per clock edge). An instance
    /// can be traced once.
    fn trace_open(&mut self, path: &std::path::Path) -> Result<()> {
        self.raw_mut().trace_open(path, 99)
    }

    /// Whether a trace file is open.
    fn is_tracing(&self) -> bool {
        self.raw().is_tracing()
    }

    /// Writes one waveform sample at `time` (in trace time units; must not
    /// decrease). No-op without an open trace.
    fn trace_dump(&mut self, time: u64) {
        self.raw_mut().trace_dump(time)
    }

    /// Flushes the trace file.
    fn trace_flush(&mut self) {
        self.raw_mut().trace_flush()
    }

    /// Closes the trace file (also done on drop).
    fn trace_close(&mut self) {
        self.raw_mut().trace_close()
    }

    /// Runs the design's `final` blocks (also done on drop).
    fn finish(&mut self) {
        self.raw_mut().finish()
    }
}

/// Object-safe view of any [`Model`], for code that picks a top at run
/// time (`models::by_name("sim_selftest")`). Implemented for every model.
pub trait AnyModel: Send {
    /// Top name.
    fn name(&self) -> &'static str;
    /// One-line description.
    fn description(&self) -> &'static str;
    /// Ports in declaration order.
    fn ports(&self) -> &'static [PortInfo];
    /// See [`Model::eval`].
    fn eval(&mut self);
    /// See [`Model::set`].
    fn set(&mut self, name: &str, value: &[u32]) -> Result<()>;
    /// See [`Model::get`].
    fn get(&self, name: &str) -> Result<Vec<u32>>;
    /// See [`Model::trace_open`].
    fn trace_open(&mut self, path: &std::path::Path) -> Result<()>;
    /// See [`Model::trace_dump`].
    fn trace_dump(&mut self, time: u64);
}

impl<M: Model> AnyModel for M {
    fn name(&self) -> &'static str {
        M::NAME
    }
    fn description(&self) -> &'static str {
        M::DESCRIPTION
    }
    fn ports(&self) -> &'static [PortInfo] {
        M::PORTS
    }
    fn eval(&mut self) {
        Model::eval(self)
    }
    fn set(&mut self, name: &str, value: &[u32]) -> Result<()> {
        Model::set(self, name, value)
    }
    fn get(&self, name: &str) -> Result<Vec<u32>> {
        Model::get(self, name)
    }
    fn trace_open(&mut self, path: &std::path::Path) -> Result<()> {
        Model::trace_open(self, path)
    }
    fn trace_dump(&mut self, time: u64) {
        Model::trace_dump(self, time)
    }
}

fn too_wide<M: Model>(p: &PortInfo) -> Error {
    Error::ValueTooWide {
        model: M::NAME,
        port: p.name,
        width: p.width,
    }
}

/// Hex string of a little-endian word value, `width` bits, most significant
/// digit first (e.g. `0x00ff` for a 16-bit port holding 255).
pub fn words_to_hex(words: &[u32], width: u32) -> String {
    let digits = width.div_ceil(4) as usize;
    let mut s = String::with_capacity(digits + 2);
    for d in (0..digits).rev() {
        let w = words.get(d / 8).copied().unwrap_or(0);
        let nib = (w >> (4 * (d % 8))) & 0xf;
        s.push(char::from_digit(nib, 16).unwrap_or('?'));
    }
    format!("0x{s}")
}
