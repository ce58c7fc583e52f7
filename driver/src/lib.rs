//! Userspace driver stack of the nitrous card.
//!
//! - [`backend::PciFunction`]: one PCI function as a driver sees it (config
//!   space, BARs, DMA mapping, MSI-X vectors, reset). Implemented by the
//!   real kernel VFIO backend ([`vfio::VfioFunction`]) and by the
//!   fault-injecting test controller ([`fake::FakeNvme`]); the simulated
//!   card implements it too.
//! - [`nvme`]: an NVMe 1.4 driver written against that trait.
//! - [`pf`]: the PF manager (SR-IOV, NVMe Virtualization Management,
//!   vfio-pci binding).
//!
//! `unsafe` lives only in [`mmio`] (bounds-checked volatile MMIO),
//! [`dma`] (DMA memory) and the syscall wrappers of [`vfio`] / [`pf`].

pub mod backend;
pub mod dma;
pub mod fake;
pub mod mmio;
pub mod nvme;
pub mod pf;
#[cfg(feature = "sim")]
pub mod sim;
pub mod vfio;

pub use backend::PciFunction;
pub use dma::{DmaBuf, DmaRegion, IovaAllocator};

use std::time::Duration;

/// Every error of the driver crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A syscall or file operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// VFIO refused or lacks something we need.
    #[error("vfio: {0}")]
    Vfio(String),
    /// An MMIO/config/DMA access outside its region or misaligned.
    #[error("out of bounds: {0}")]
    Bounds(String),
    /// Bad input from the caller.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// Something the device or system does not offer.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// CSTS.RDY did not reach the wanted value within CAP.TO.
    #[error("controller did not become {want} within {after:?} (CAP.TO)")]
    ReadyTimeout { want: &'static str, after: Duration },
    /// CSTS.CFS is set: the controller hit a fatal error and needs a reset.
    #[error("controller fatal status (CSTS.CFS=1); reset required")]
    ControllerFatal,
    /// A command got no completion in time.
    #[error("command opcode {opcode:#04x} cid {cid} on queue {qid} timed out after {after:?}")]
    CommandTimeout {
        qid: u16,
        cid: u16,
        opcode: u8,
        after: Duration,
    },
    /// The controller completed a command with an error status.
    #[error("command opcode {opcode:#04x} on queue {qid} failed: {status}")]
    Command {
        qid: u16,
        opcode: u8,
        status: nvme::Status,
    },
    /// A completion carried a command id we did not have outstanding.
    #[error("completion on queue {qid} for unknown command id {cid}")]
    UnknownCid { qid: u16, cid: u16 },
    /// A completion was malformed (wrong SQ id, SQ head out of range).
    #[error("malformed completion on queue {qid}: {why}")]
    BadCompletion { qid: u16, why: String },
    /// The queue saw an earlier protocol error; the controller must be reset.
    #[error("queue {0} is unusable after an earlier error; reset the controller")]
    QueueBroken(u16),
    /// No free submission slot.
    #[error("queue {0} is full")]
    QueueFull(u16),
    /// Transfer larger than the controller's MDTS (or our PRP list limit).
    #[error("transfer of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge { len: usize, max: usize },
    /// A sysfs or PF management step failed.
    #[error("pf: {0}")]
    Pf(String),
    /// The simulated card (platform model) refused or timed out.
    #[error("sim: {0}")]
    Sim(String),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
    pub(crate) fn last_os(what: impl Into<String>) -> Self {
        Error::io(what, std::io::Error::last_os_error())
    }
}
