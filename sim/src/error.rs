//! The crate's error type.

use std::path::PathBuf;

/// Errors of the Verilator binding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No port of that name on this top.
    #[error("model `{model}` has no port `{port}`")]
    UnknownPort {
        /// Top name.
        model: &'static str,
        /// The name asked for.
        port: String,
    },
    /// Tried to drive an output.
    #[error("port `{port}` of model `{model}` is an output and cannot be driven")]
    NotAnInput {
        /// Top name.
        model: &'static str,
        /// Port name.
        port: &'static str,
    },
    /// The value has bits set above the port width.
    #[error("value does not fit port `{port}` of model `{model}` ({width} bits)")]
    ValueTooWide {
        /// Top name.
        model: &'static str,
        /// Port name.
        port: &'static str,
        /// Port width in bits.
        width: u32,
    },
    /// The port is wider than the accessor's type.
    #[error("port `{port}` of model `{model}` is {width} bits wide; this accessor holds {max}")]
    PortTooWide {
        /// Top name.
        model: &'static str,
        /// Port name.
        port: &'static str,
        /// Port width in bits.
        width: u32,
        /// Bits the accessor can hold.
        max: u32,
    },
    /// A port the clock driver needs is missing or has the wrong shape.
    #[error("model `{model}`: {what}")]
    Port {
        /// Top name.
        model: &'static str,
        /// What is wrong.
        what: String,
    },
    /// Opening a waveform file failed.
    #[error("model `{model}`: cannot trace to {}: {reason}", path.display())]
    Trace {
        /// Top name.
        model: &'static str,
        /// The requested file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A wait condition did not come true in time.
    #[error("model `{model}`: {what} not reached within {cycles} cycles")]
    Timeout {
        /// Top name.
        model: &'static str,
        /// What was awaited.
        what: String,
        /// The cycle budget.
        cycles: u64,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
