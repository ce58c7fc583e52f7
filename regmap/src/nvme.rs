//! VF BAR0: the NVMe 1.4 controller registers (NVMe 1.4 §3.1) and the
//! card's controller parameters.

use crate::Reg;

/// Controller Capabilities (§3.1.1), 64-bit.
pub const CAP: u32 = 0x00;
/// Version (§3.1.2).
pub const VS: u32 = 0x08;
/// Interrupt Mask Set / Clear (§3.1.3, §3.1.4).
pub const INTMS: u32 = 0x0c;
pub const INTMC: u32 = 0x10;
/// Controller Configuration (§3.1.5).
pub const CC: u32 = 0x14;
/// Controller Status (§3.1.6).
pub const CSTS: u32 = 0x1c;
/// NVM Subsystem Reset (§3.1.7): not supported (reads 0, writes ignored).
pub const NSSR: u32 = 0x20;
/// Admin Queue Attributes (§3.1.8).
pub const AQA: u32 = 0x24;
/// Admin SQ / CQ base addresses (§3.1.9, §3.1.10), 64-bit.
pub const ASQ: u32 = 0x28;
pub const ACQ: u32 = 0x30;
/// First doorbell (§3.1.24); with CAP.DSTRD = 0, SQyTDBL is at
/// `DOORBELL_BASE + 8*y` and CQyHDBL at `DOORBELL_BASE + 8*y + 4`.
pub const DOORBELL_BASE: u32 = 0x1000;

/// Version reported in VS: 1.4.0.
pub const VERSION_1_4: u32 = 0x0001_0400;
/// I/O queue pairs per function (qid 1..=IO_QUEUES), plus the admin pair.
pub const IO_QUEUES: u32 = 8;
/// Queue pairs including admin.
pub const QUEUES: u32 = IO_QUEUES + 1;
/// CAP.MQES (0-based): 256 entries per queue at most.
pub const MQES: u32 = 255;
/// CAP.TO in 500 ms units.
pub const TIMEOUT_500MS: u32 = 20;
/// MDTS as a power of two of the 4 KiB minimum page: 2^5 * 4 KiB = 128 KiB.
pub const MDTS: u8 = 5;
/// MSI-X vectors per VF: one per completion queue.
pub const MSIX_VECTORS: u32 = QUEUES;
/// Namespaces per function (NSID 1 only).
pub const NAMESPACES: u32 = 1;

/// CAP value (§3.1.1): MQES, CQR=1 (contiguous queues required), AMS=0,
/// TO, DSTRD=0, NSSRS=0, CSS bit 0 (NVM command set), MPSMIN=0 (4 KiB),
/// MPSMAX=0.
pub const fn cap_value() -> u64 {
    (MQES as u64) | (1 << 16) | ((TIMEOUT_500MS as u64) << 24) | (1u64 << 37)
}

/// Every controller register, for the generated docs.
pub const REGS: &[Reg] = &[
    Reg {
        name: "CAP",
        offset: CAP,
        bits: 64,
        access: "RO",
        doc: "Controller Capabilities (§3.1.1)",
    },
    Reg {
        name: "VS",
        offset: VS,
        bits: 32,
        access: "RO",
        doc: "Version 1.4.0 (§3.1.2)",
    },
    Reg {
        name: "INTMS",
        offset: INTMS,
        bits: 32,
        access: "RW1S",
        doc: "Interrupt Mask Set (§3.1.3)",
    },
    Reg {
        name: "INTMC",
        offset: INTMC,
        bits: 32,
        access: "RW1C",
        doc: "Interrupt Mask Clear (§3.1.4)",
    },
    Reg {
        name: "CC",
        offset: CC,
        bits: 32,
        access: "RW",
        doc: "Controller Configuration (§3.1.5)",
    },
    Reg {
        name: "CSTS",
        offset: CSTS,
        bits: 32,
        access: "RO",
        doc: "Controller Status (§3.1.6)",
    },
    Reg {
        name: "NSSR",
        offset: NSSR,
        bits: 32,
        access: "RO",
        doc: "NVM Subsystem Reset: not supported (§3.1.7)",
    },
    Reg {
        name: "AQA",
        offset: AQA,
        bits: 32,
        access: "RW",
        doc: "Admin Queue Attributes (§3.1.8)",
    },
    Reg {
        name: "ASQ",
        offset: ASQ,
        bits: 64,
        access: "RW",
        doc: "Admin SQ Base Address (§3.1.9)",
    },
    Reg {
        name: "ACQ",
        offset: ACQ,
        bits: 64,
        access: "RW",
        doc: "Admin CQ Base Address (§3.1.10)",
    },
    Reg {
        name: "SQyTDBL",
        offset: DOORBELL_BASE,
        bits: 32,
        access: "WO",
        doc: "SQ y Tail Doorbell at 0x1000 + 8y (§3.1.24)",
    },
    Reg {
        name: "CQyHDBL",
        offset: DOORBELL_BASE + 4,
        bits: 32,
        access: "WO",
        doc: "CQ y Head Doorbell at 0x1004 + 8y (§3.1.25)",
    },
];
