//! PF BAR0: the passive management mailbox (DESIGN.md, "Control").
//!
//! The host writes arguments, then the command register; the card executes
//! the command in a bounded number of cycles, sets `STATUS`, and (if
//! `IRQ_EN` is set) raises PF MSI-X vector 0. The card never initiates
//! anything else. Key material enters only through the write-only
//! `KEY0..KEY15` staging registers and leaves nowhere: reading them (or any
//! offset of the key window) returns 0 and increments the key-read counter.
//! A VF's BAR0 decodes only its own NVMe registers: the mailbox is reachable
//! from function 0 only.

use crate::Reg;

pub const ID: u32 = 0x000;
pub const VERSION: u32 = 0x004;
/// [7:0] VFs built, [15:8] key slots, [23:16] I/O queue pairs per VF.
pub const CAPS: u32 = 0x008;
/// [0] busy, [15:8] status of the last command ([`Status`]), [31:16]
/// number of commands executed (wraps).
pub const STATUS: u32 = 0x00c;
/// Write to execute: [7:0] opcode ([`Op`]), [15:8] function (VF 1..=N),
/// [23:16] key slot.
pub const CMD: u32 = 0x010;
/// Arguments ARG0..ARG5, read-write, not secret.
pub const ARG0: u32 = 0x014;
pub const ARG_COUNT: u32 = 6;
/// [0]: raise PF MSI-X vector 0 when a command completes.
pub const IRQ_EN: u32 = 0x02c;
/// Results RES0 (low) and RES1 (high) of the last command.
pub const RES0: u32 = 0x030;
pub const RES1: u32 = 0x034;
/// Key staging KEY0..KEY15, write-only: KEYi holds key bytes 4i..4i+3
/// (little-endian), the 64-byte IEEE 1619 key `Key1 || Key2`.
pub const KEY0: u32 = 0x040;
pub const KEY_WORDS: u32 = 16;
/// Count of reads of the key window (KEY0..KEY15), never cleared.
pub const KEY_READS: u32 = 0x080;

/// Mailbox opcodes.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Provision VF `func` as an NVMe function: ARG1:ARG0 namespace size in
    /// LBAs (>0), ARG2 LBA shift (9 or 12), ARG4:ARG3 backend base byte
    /// address (multiple of 512). VF must be disabled.
    Provision = 0x01,
    /// Copy KEY0..KEY15 into key slot `slot`, then clear the staging
    /// registers.
    LoadKey = 0x02,
    /// Bind key slot `slot` to VF `func` (VF must be disabled).
    BindKey = 0x03,
    /// Enable VF `func` (must be provisioned and bound).
    Enable = 0x04,
    /// Disable VF `func`: its controller resets (as CC.EN 1->0) and it can
    /// no longer become ready.
    Disable = 0x05,
    /// Read counter ARG0 ([`Counter`]) of function `func` into RES1:RES0.
    ReadCounter = 0x06,
    /// Erase key slot `slot` (all zero) and unbind it from every VF.
    ClearKey = 0x07,
}

impl Op {
    pub const ALL: [Op; 7] = [
        Op::Provision,
        Op::LoadKey,
        Op::BindKey,
        Op::Enable,
        Op::Disable,
        Op::ReadCounter,
        Op::ClearKey,
    ];
}

/// Mailbox status codes (STATUS[15:8]).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    BadOpcode = 1,
    BadFunction = 2,
    BadSlot = 3,
    BadArgument = 4,
    /// The VF is enabled; disable it first.
    FunctionEnabled = 5,
    /// Enable of a VF that is not provisioned or has no key bound.
    NotReady = 6,
}

impl Status {
    pub fn from_u8(v: u8) -> Option<Status> {
        [
            Status::Ok,
            Status::BadOpcode,
            Status::BadFunction,
            Status::BadSlot,
            Status::BadArgument,
            Status::FunctionEnabled,
            Status::NotReady,
        ]
        .into_iter()
        .find(|s| *s as u8 == v)
    }
}

/// Counters readable with [`Op::ReadCounter`].
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Commands completed with success status by the function.
    Served = 0,
    /// Commands completed with an error status.
    Rejected = 1,
    /// DMA requests of the function that the platform (IOMMU) faulted.
    DmaFaults = 2,
    /// Reads of the key window (card-wide; `func` ignored).
    KeyReads = 3,
}

/// Every mailbox register, for the generated docs.
pub const REGS: &[Reg] = &[
    Reg {
        name: "ID",
        offset: ID,
        bits: 32,
        access: "RO",
        doc: "CARD_ID \"NTRS\"",
    },
    Reg {
        name: "VERSION",
        offset: VERSION,
        bits: 32,
        access: "RO",
        doc: "register-map version",
    },
    Reg {
        name: "CAPS",
        offset: CAPS,
        bits: 32,
        access: "RO",
        doc: "[7:0] VFs, [15:8] key slots, [23:16] I/O queue pairs per VF",
    },
    Reg {
        name: "STATUS",
        offset: STATUS,
        bits: 32,
        access: "RO",
        doc: "[0] busy, [15:8] last status, [31:16] commands executed",
    },
    Reg {
        name: "CMD",
        offset: CMD,
        bits: 32,
        access: "WO",
        doc: "write executes: [7:0] opcode, [15:8] function, [23:16] key slot",
    },
    Reg {
        name: "ARG0..ARG5",
        offset: ARG0,
        bits: 32,
        access: "RW",
        doc: "command arguments",
    },
    Reg {
        name: "IRQ_EN",
        offset: IRQ_EN,
        bits: 32,
        access: "RW",
        doc: "[0] MSI-X vector 0 on command completion",
    },
    Reg {
        name: "RES0",
        offset: RES0,
        bits: 32,
        access: "RO",
        doc: "result, low",
    },
    Reg {
        name: "RES1",
        offset: RES1,
        bits: 32,
        access: "RO",
        doc: "result, high",
    },
    Reg {
        name: "KEY0..KEY15",
        offset: KEY0,
        bits: 32,
        access: "WO",
        doc: "key staging; reads return 0 and are counted",
    },
    Reg {
        name: "KEY_READS",
        offset: KEY_READS,
        bits: 32,
        access: "RO",
        doc: "reads of the key window",
    },
];
