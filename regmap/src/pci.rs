//! Configuration-space layout the platform model (the "hard IP") presents
//! for every function. The card logic does not implement config space; it
//! sees the sideband signals of docs/CARD.md (VF enable, bus master, FLR).

/// PCI Express capability (PCIe 4.0 §7.5.3), in every function.
pub const CAP_PCIE: u8 = 0x40;
/// MSI-X capability (PCIe 4.0 §7.7.2), in every function.
pub const CAP_MSIX: u8 = 0x80;
/// SR-IOV extended capability (PCIe 4.0 §9.3.3), PF only.
pub const EXTCAP_SRIOV: u16 = 0x100;
/// First VF offset and VF stride of the SR-IOV capability: VF i (1-based)
/// is routing ID PF + i.
pub const FIRST_VF_OFFSET: u16 = 1;
pub const VF_STRIDE: u16 = 1;
/// MSI-X vectors of the PF (the mailbox completion interrupt).
pub const PF_MSIX_VECTORS: u32 = 1;
