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

/// The register map as Markdown (docs/REGMAP.md is this text; a test keeps
/// them equal, `cargo run -p nitrous-regmap --bin regmap-doc` rewrites it).
pub fn markdown() -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let table = |s: &mut String, regs: &[Reg]| {
        s.push_str("| offset | register | bits | access | description |\n|---|---|---|---|---|\n");
        for r in regs {
            let _ = writeln!(
                s,
                "| 0x{:04x} | {} | {} | {} | {} |",
                r.offset, r.name, r.bits, r.access, r.doc
            );
        }
        s.push('\n');
    };
    s.push_str("# nitrous register map\n\n");
    s.push_str("Generated from the `nitrous-regmap` crate (`regmap/src/`) by\n");
    s.push_str("`cargo run -p nitrous-regmap --bin regmap-doc`; do not edit by hand.\n\n");
    let _ = writeln!(
        s,
        "Register-map version 0x{REGMAP_VERSION:08x}. Every function has a 64-bit BAR0 of \
         0x{BAR0_SIZE:x} bytes; the MSI-X table is at 0x{MSIX_TABLE_OFFSET:04x} and the PBA at \
         0x{MSIX_PBA_OFFSET:04x} of BAR0 (BIR 0). PCI IDs: vendor 0x{:04x}, PF device 0x{:04x} \
         (class 0x{:06x}), VF device 0x{:04x} (class 0x{:06x}).\n",
        card::VENDOR_ID,
        card::PF_DEVICE_ID,
        card::PF_CLASS,
        card::VF_DEVICE_ID,
        card::VF_CLASS
    );
    s.push_str("## PF BAR0: management mailbox (function 0)\n\n");
    table(&mut s, mailbox::REGS);
    s.push_str("### Mailbox commands (CMD[7:0])\n\n| opcode | command |\n|---|---|\n");
    for op in mailbox::Op::ALL {
        let _ = writeln!(s, "| 0x{:02x} | {:?} |", op as u8, op);
    }
    s.push_str("\n### Mailbox status (STATUS[15:8])\n\n| code | status |\n|---|---|\n");
    for v in 0..=255u8 {
        if let Some(st) = mailbox::Status::from_u8(v) {
            let _ = writeln!(s, "| {v} | {st:?} |");
        }
    }
    s.push_str("\n## VF BAR0: NVMe 1.4 controller (functions 1..=N)\n\n");
    table(&mut s, nvme::REGS);
    let _ = writeln!(
        s,
        "CAP = 0x{:016x}: MQES {}, CQR 1, TO {} (x 500 ms), DSTRD 0, CSS NVM, MPSMIN 4 KiB. \
         {} I/O queue pairs, {} MSI-X vectors, MDTS 2^{} x 4 KiB.\n",
        nvme::cap_value(),
        nvme::MQES,
        nvme::TIMEOUT_500MS,
        nvme::IO_QUEUES,
        nvme::MSIX_VECTORS,
        nvme::MDTS
    );
    s.push_str("## Config space (platform model / hard IP)\n\n");
    let _ = writeln!(
        s,
        "| capability | offset |\n|---|---|\n| PCI Express | 0x{:02x} |\n| MSI-X | 0x{:02x} |\n| SR-IOV (PF, extended) | 0x{:03x} |\n\nFirst VF offset {}, VF stride {}.",
        pci::CAP_PCIE,
        pci::CAP_MSIX,
        pci::EXTCAP_SRIOV,
        pci::FIRST_VF_OFFSET,
        pci::VF_STRIDE
    );
    s
}
