//! The platform model: the PCIe hard IP, host and storage around the
//! Verilated card (docs/CARD.md "The seam").
//!
//! - [`config`]: per-function configuration space (header, PCIe, MSI-X,
//!   SR-IOV capabilities, FLR);
//! - [`iommu`]: one DMA translation domain per function, with a fault log;
//! - [`backend`]: block storage behind the card's backend port;
//! - [`dma`]: the host side of the card's DMA requester port;
//! - [`Platform`]: all of the above around a model with the seam's ports,
//!   stepped one clock at a time, deterministic (no wall clock, no threads);
//! - [`lspci`]: config space in `lspci -xxxx` format.

pub mod backend;
pub mod config;
pub mod dma;
pub mod iommu;
pub mod lspci;
#[allow(clippy::module_inception)]
mod platform;

pub use backend::{BlockStore, FileStore, MemStore};
pub use config::ConfigSpace;
pub use iommu::{Fault, HostMemory, VecMemory};
pub use platform::{MsixError, Platform, PlatformConfig, SeamDut, SEAM_PORTS};

/// Errors of the platform model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Verilator binding failed (missing port, trace file, ...).
    #[error(transparent)]
    Sim(#[from] crate::Error),
    /// The model lacks a seam port or has it with another shape.
    #[error("model `{model}` does not have the seam port {what}")]
    Seam { model: &'static str, what: String },
    /// The function does not exist (VF not enabled, or beyond TotalVFs).
    #[error("function {func} does not exist")]
    NoFunction { func: u8 },
    /// Access to a BAR the function does not have.
    #[error("function {func} has no BAR {bar}")]
    NoBar { func: u8, bar: u8 },
    /// BAR offset out of range or not 4-byte aligned.
    #[error("function {func}: BAR offset {offset:#x} is out of range or misaligned")]
    BadOffset { func: u8, offset: u64 },
    /// The card did not answer in time.
    #[error("{what}: no answer from the card within {cycles} cycles")]
    Timeout { what: String, cycles: u64 },
    #[error(transparent)]
    Config(#[from] config::ConfigBounds),
    #[error(transparent)]
    Map(#[from] iommu::MapError),
    /// This build has no Verilated `card` top (see `NITROUS_SIM_TOPS`).
    #[error("this build has no `card` model (rebuild nitrous-sim with the card top)")]
    NoCardModel,
}

/// `Result` with the platform's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// A platform around the Verilated `card` top
/// (`nitrous_regmap::card::DEFAULT_VFS` VFs; `cfg.vfs` is set to that),
/// if this build has it.
pub fn card_platform(mut cfg: PlatformConfig, store: Box<dyn BlockStore>) -> Result<Platform> {
    cfg.vfs = nitrous_regmap::card::DEFAULT_VFS;
    #[cfg(nsim_top_card)]
    {
        Platform::new::<crate::models::Card>(cfg, store)
    }
    #[cfg(not(nsim_top_card))]
    {
        let _ = (cfg, store);
        Err(Error::NoCardModel)
    }
}

/// A platform around the Verilated `card16` top (16 VFs), if built.
pub fn card16_platform(mut cfg: PlatformConfig, store: Box<dyn BlockStore>) -> Result<Platform> {
    cfg.vfs = 16;
    #[cfg(nsim_top_card16)]
    {
        Platform::new::<crate::models::Card16>(cfg, store)
    }
    #[cfg(not(nsim_top_card16))]
    {
        let _ = (cfg, store);
        Err(Error::NoCardModel)
    }
}

/// The card tops this build has, as (name, VFs), smallest first.
#[allow(clippy::vec_init_then_push)]
pub fn card_models() -> Vec<(&'static str, usize)> {
    #[allow(unused_mut)]
    let mut v = Vec::new();
    #[cfg(nsim_top_card)]
    v.push(("card", nitrous_regmap::card::DEFAULT_VFS));
    #[cfg(nsim_top_card16)]
    v.push(("card16", 16));
    v
}

/// A platform around the smallest built card top with at least `vfs` VFs.
pub fn card_platform_for(
    vfs: usize,
    cfg: PlatformConfig,
    store: Box<dyn BlockStore>,
) -> Result<Platform> {
    match card_models().into_iter().find(|&(_, n)| n >= vfs) {
        Some(("card16", _)) => card16_platform(cfg, store),
        Some(_) => card_platform(cfg, store),
        None => Err(Error::NoCardModel),
    }
}
