//! Card-wide parameters and the host transaction interface ("the seam",
//! DESIGN.md) widths. The port list itself is documented in docs/CARD.md.

/// Width of the function number on every seam port (function 0 = PF,
/// 1..=N = VFs). 5 bits: up to 31 VFs.
pub const FUNC_BITS: usize = 5;
/// Largest VF count a card can be built with.
pub const MAX_VFS: usize = 31;
/// Default VF count of the `card` top.
pub const DEFAULT_VFS: usize = 4;
/// Width of the DMA / backend request tag.
pub const TAG_BITS: usize = 8;
/// DMA and backend request lengths are in bytes, 1..=[`MAX_REQ_BYTES`],
/// multiples of 4; a request never crosses a 4 KiB boundary of its address
/// (PCIe 4.0 §2.2.7).
pub const MAX_REQ_BYTES: u32 = 4096;
/// Width of the request length field (bytes; 4096 fits).
pub const LEN_BITS: usize = 13;
/// Completer address width (byte offset inside a BAR).
pub const CQ_ADDR_BITS: usize = 16;

/// Number of key slots in the card (each holds one 512-bit XTS key).
pub const KEY_SLOTS: usize = 16;
/// Width of a key-slot index.
pub const KEY_SLOT_BITS: usize = 4;

/// PCI vendor ID used by the card (0x1234 is the ID open and emulated
/// devices commonly use; nitrous is not a registered vendor).
pub const VENDOR_ID: u16 = 0x1234;
/// PF device ID ("NT").
pub const PF_DEVICE_ID: u16 = 0x4e54;
/// VF device ID (SR-IOV VF Device ID field).
pub const VF_DEVICE_ID: u16 = 0x4e56;
/// PF class code: other system peripheral (0x0880), prog-if 0.
pub const PF_CLASS: u32 = 0x08_80_00;
/// VF class code: mass storage / NVM / NVMe (0x010802).
pub const VF_CLASS: u32 = 0x01_08_02;
