//! The nitrous register map, defined once.
//!
//! Imported by the HDL address decode (`hdl/`), the simulator's platform
//! model (`sim/`), the driver (`driver/`) and the generated documentation
//! (`docs/REGMAP.md`, written by `cargo run -p nitrous-regmap --bin
//! regmap-doc`). Never copy a value from here into another crate.
//!
//! The card exposes function 0 (the PF, a management function) and
//! functions 1..=N (the SR-IOV VFs, each an NVMe 1.4 controller). Every
//! function has one 64-bit memory BAR0 of [`BAR0_SIZE`] bytes; the MSI-X
//! table and PBA live in it at the offsets below (PCIe 4.0 §7.7.2).

pub mod card;
pub mod mailbox;
pub mod nvme;
pub mod pci;

/// Card identification value, readable at PF BAR0 offset 0 ("NTRS").
pub const CARD_ID: u32 = 0x4e54_5253;
/// Register-map version: major in bits 31:16, minor in 15:0.
pub const REGMAP_VERSION: u32 = 0x0001_0000;

/// Size of every function's BAR0 in bytes (64-bit, non-prefetchable).
pub const BAR0_SIZE: u64 = 0x4000;
/// MSI-X table offset in BAR0 (BIR 0), 16 bytes per vector (PCIe 4.0 §7.7.2.3).
pub const MSIX_TABLE_OFFSET: u32 = 0x2000;
/// MSI-X pending-bit array offset in BAR0 (BIR 0).
pub const MSIX_PBA_OFFSET: u32 = 0x3000;

/// One register: name, byte offset, width in bits, access, description.
#[derive(Clone, Copy, Debug)]
pub struct Reg {
    pub name: &'static str,
    pub offset: u32,
    pub bits: u32,
    pub access: &'static str,
    pub doc: &'static str,
}
