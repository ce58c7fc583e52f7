//! NVMe 1.4 data structures: controller registers (§3.1), submission and
//! completion queue entries (§4.2, §4.6), status codes (§4.6.1.2).

use std::fmt;

/// Controller registers, NVMe 1.4 §3.1 Figure 78 (offsets 00h..37h).
#[repr(C)]
pub struct Registers {
    /// 00h Controller Capabilities.
    pub cap: u64,
    /// 08h Version.
    pub vs: u32,
    /// 0Ch Interrupt Mask Set.
    pub intms: u32,
    /// 10h Interrupt Mask Clear.
    pub intmc: u32,
    /// 14h Controller Configuration.
    pub cc: u32,
    _rsvd: u32,
    /// 1Ch Controller Status.
    pub csts: u32,
    /// 20h NVM Subsystem Reset.
    pub nssr: u32,
    /// 24h Admin Queue Attributes.
    pub aqa: u32,
    /// 28h Admin Submission Queue Base Address.
    pub asq: u64,
    /// 30h Admin Completion Queue Base Address.
    pub acq: u64,
}
const _: () = assert!(std::mem::size_of::<Registers>() == 0x38);
const _: () = assert!(std::mem::offset_of!(Registers, vs) == 0x08);
const _: () = assert!(std::mem::offset_of!(Registers, cc) == 0x14);
const _: () = assert!(std::mem::offset_of!(Registers, csts) == 0x1c);
const _: () = assert!(std::mem::offset_of!(Registers, aqa) == 0x24);
const _: () = assert!(std::mem::offset_of!(Registers, asq) == 0x28);
const _: () = assert!(std::mem::offset_of!(Registers, acq) == 0x30);

pub const REG_CAP: u64 = std::mem::offset_of!(Registers, cap) as u64;
pub const REG_VS: u64 = std::mem::offset_of!(Registers, vs) as u64;
pub const REG_INTMS: u64 = std::mem::offset_of!(Registers, intms) as u64;
pub const REG_CC: u64 = std::mem::offset_of!(Registers, cc) as u64;
pub const REG_CSTS: u64 = std::mem::offset_of!(Registers, csts) as u64;
pub const REG_AQA: u64 = std::mem::offset_of!(Registers, aqa) as u64;
pub const REG_ASQ: u64 = std::mem::offset_of!(Registers, asq) as u64;
pub const REG_ACQ: u64 = std::mem::offset_of!(Registers, acq) as u64;
/// Doorbells start at 1000h (§3.1.24).
pub const DOORBELL_BASE: u64 = 0x1000;

/// CAP fields (§3.1.1).
pub mod cap {
    pub fn mqes(cap: u64) -> u16 {
        (cap & 0xffff) as u16
    }
    /// Timeout in 500 ms units.
    pub fn to(cap: u64) -> u8 {
        ((cap >> 24) & 0xff) as u8
    }
    pub fn dstrd(cap: u64) -> u8 {
        ((cap >> 32) & 0xf) as u8
    }
    /// NVM command set supported (CSS bit 0).
    pub fn css_nvm(cap: u64) -> bool {
        (cap >> 37) & 1 == 1
    }
    pub fn mpsmin(cap: u64) -> u8 {
        ((cap >> 48) & 0xf) as u8
    }
}

/// CC fields (§3.1.5).
pub mod cc {
    pub const EN: u32 = 1;
    pub const IOSQES_64: u32 = 6 << 16;
    pub const IOCQES_16: u32 = 4 << 20;
    pub const SHN_MASK: u32 = 3 << 14;
    pub const SHN_NORMAL: u32 = 1 << 14;
}

/// CSTS fields (§3.1.6).
pub mod csts {
    pub const RDY: u32 = 1;
    pub const CFS: u32 = 2;
    pub const SHST_MASK: u32 = 3 << 2;
    pub const SHST_COMPLETE: u32 = 2 << 2;
}

/// Admin opcodes (§5, Figure 139).
pub mod admin {
    pub const DELETE_IO_SQ: u8 = 0x00;
    pub const CREATE_IO_SQ: u8 = 0x01;
    pub const DELETE_IO_CQ: u8 = 0x04;
    pub const CREATE_IO_CQ: u8 = 0x05;
    pub const IDENTIFY: u8 = 0x06;
    pub const SET_FEATURES: u8 = 0x09;
    pub const VIRT_MGMT: u8 = 0x1c;
}

/// NVM command set opcodes (§6, Figure 346).
pub mod io {
    pub const FLUSH: u8 = 0x00;
    pub const WRITE: u8 = 0x01;
    pub const READ: u8 = 0x02;
    pub const WRITE_ZEROES: u8 = 0x08;
}

/// Identify CNS values (§5.15.1).
pub mod cns {
    pub const NAMESPACE: u32 = 0x00;
    pub const CONTROLLER: u32 = 0x01;
    pub const ACTIVE_NS_LIST: u32 = 0x02;
    pub const SECONDARY_CTRL_LIST: u32 = 0x15;
}

/// Feature identifiers (§5.21.1).
pub const FEAT_NUM_QUEUES: u32 = 0x07;

/// Submission queue entry (§4.2, Figure 105), 64 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sqe {
    pub opcode: u8,
    pub flags: u8,
    pub cid: u16,
    pub nsid: u32,
    pub cdw2: u32,
    pub cdw3: u32,
    pub mptr: u64,
    pub prp1: u64,
    pub prp2: u64,
    pub cdw10: u32,
    pub cdw11: u32,
    pub cdw12: u32,
    pub cdw13: u32,
    pub cdw14: u32,
    pub cdw15: u32,
}
const _: () = assert!(std::mem::size_of::<Sqe>() == 64);
const _: () = assert!(std::mem::offset_of!(Sqe, nsid) == 4);
const _: () = assert!(std::mem::offset_of!(Sqe, prp1) == 24);
const _: () = assert!(std::mem::offset_of!(Sqe, cdw10) == 40);
const _: () = assert!(std::mem::offset_of!(Sqe, cdw15) == 60);

impl Sqe {
    pub fn new(opcode: u8) -> Self {
        Sqe {
            opcode,
            ..Default::default()
        }
    }

    /// Little-endian dwords, as written into the queue.
    pub fn to_dwords(&self) -> [u32; 16] {
        [
            self.opcode as u32 | (self.flags as u32) << 8 | (self.cid as u32) << 16,
            self.nsid,
            self.cdw2,
            self.cdw3,
            self.mptr as u32,
            (self.mptr >> 32) as u32,
            self.prp1 as u32,
            (self.prp1 >> 32) as u32,
            self.prp2 as u32,
            (self.prp2 >> 32) as u32,
            self.cdw10,
            self.cdw11,
            self.cdw12,
            self.cdw13,
            self.cdw14,
            self.cdw15,
        ]
    }

    pub fn from_dwords(d: &[u32; 16]) -> Self {
        Sqe {
            opcode: d[0] as u8,
            flags: (d[0] >> 8) as u8,
            cid: (d[0] >> 16) as u16,
            nsid: d[1],
            cdw2: d[2],
            cdw3: d[3],
            mptr: d[4] as u64 | (d[5] as u64) << 32,
            prp1: d[6] as u64 | (d[7] as u64) << 32,
            prp2: d[8] as u64 | (d[9] as u64) << 32,
            cdw10: d[10],
            cdw11: d[11],
            cdw12: d[12],
            cdw13: d[13],
            cdw14: d[14],
            cdw15: d[15],
        }
    }
}

/// Completion queue entry (§4.6, Figure 121), 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cqe {
    pub dw0: u32,
    pub dw1: u32,
    pub sqhd: u16,
    pub sqid: u16,
    pub cid: u16,
    /// Bit 0: phase tag; bits 15:1: status field.
    pub status: u16,
}
const _: () = assert!(std::mem::size_of::<Cqe>() == 16);
const _: () = assert!(std::mem::offset_of!(Cqe, sqhd) == 8);
const _: () = assert!(std::mem::offset_of!(Cqe, cid) == 12);

impl Cqe {
    pub fn from_dwords(d: [u32; 4]) -> Self {
        Cqe {
            dw0: d[0],
            dw1: d[1],
            sqhd: d[2] as u16,
            sqid: (d[2] >> 16) as u16,
            cid: d[3] as u16,
            status: (d[3] >> 16) as u16,
        }
    }
    pub fn to_dwords(&self) -> [u32; 4] {
        [
            self.dw0,
            self.dw1,
            self.sqhd as u32 | (self.sqid as u32) << 16,
            self.cid as u32 | (self.status as u32) << 16,
        ]
    }
    pub fn phase(&self) -> bool {
        self.status & 1 == 1
    }
    /// The status field (§4.6.1), or `None` for success.
    pub fn error(&self) -> Option<Status> {
        let s = Status::from_field(self.status >> 1);
        if s.sct == 0 && s.sc == 0 {
            None
        } else {
            Some(s)
        }
    }
}

/// A decoded completion status (§4.6.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Status Code Type.
    pub sct: u8,
    /// Status Code.
    pub sc: u8,
    /// Do Not Retry.
    pub dnr: bool,
    pub code: StatusCode,
}

/// Typed status codes (NVMe 1.4 Figures 126-129, 130, 131).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusCode {
    InvalidOpcode,
    InvalidField,
    CommandIdConflict,
    DataTransferError,
    AbortedPowerLoss,
    InternalError,
    AbortRequested,
    AbortedSqDeletion,
    InvalidNamespaceOrFormat,
    CommandSequenceError,
    PrpOffsetInvalid,
    OperationDenied,
    NamespaceWriteProtected,
    LbaOutOfRange,
    CapacityExceeded,
    NamespaceNotReady,
    CompletionQueueInvalid,
    InvalidQueueId,
    InvalidQueueSize,
    InvalidInterruptVector,
    InvalidControllerId,
    InvalidSecondaryControllerState,
    InvalidNumberOfResources,
    InvalidResourceId,
    WriteFault,
    UnrecoveredReadError,
    AccessDenied,
    DeallocatedOrUnwritten,
    Other,
}

impl Status {
    /// Decode the 15-bit status field (CQE DW3 bits 31:17).
    pub fn from_field(f: u16) -> Self {
        let sc = (f & 0xff) as u8;
        let sct = ((f >> 8) & 7) as u8;
        let dnr = f & 0x4000 != 0;
        use StatusCode::*;
        let code = match (sct, sc) {
            (0, 0x01) => InvalidOpcode,
            (0, 0x02) => InvalidField,
            (0, 0x03) => CommandIdConflict,
            (0, 0x04) => DataTransferError,
            (0, 0x05) => AbortedPowerLoss,
            (0, 0x06) => InternalError,
            (0, 0x07) => AbortRequested,
            (0, 0x08) => AbortedSqDeletion,
            (0, 0x0b) => InvalidNamespaceOrFormat,
            (0, 0x0c) => CommandSequenceError,
            (0, 0x13) => PrpOffsetInvalid,
            (0, 0x15) => OperationDenied,
            (0, 0x20) => NamespaceWriteProtected,
            (0, 0x80) => LbaOutOfRange,
            (0, 0x81) => CapacityExceeded,
            (0, 0x82) => NamespaceNotReady,
            (1, 0x00) => CompletionQueueInvalid,
            (1, 0x01) => InvalidQueueId,
            (1, 0x02) => InvalidQueueSize,
            (1, 0x08) => InvalidInterruptVector,
            (1, 0x1f) => InvalidControllerId,
            (1, 0x20) => InvalidSecondaryControllerState,
            (1, 0x21) => InvalidNumberOfResources,
            (1, 0x22) => InvalidResourceId,
            (2, 0x80) => WriteFault,
            (2, 0x81) => UnrecoveredReadError,
            (2, 0x86) => AccessDenied,
            (2, 0x87) => DeallocatedOrUnwritten,
            _ => Other,
        };
        Status { sct, sc, dnr, code }
    }

    /// The 15-bit status field for (sct, sc) (used by test models).
    pub fn field(sct: u8, sc: u8) -> u16 {
        (sct as u16 & 7) << 8 | sc as u16
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} (SCT {:#x}, SC {:#04x}{})",
            self.code,
            self.sct,
            self.sc,
            if self.dnr { ", DNR" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqe_dwords_roundtrip() {
        let s = Sqe {
            opcode: 2,
            flags: 0,
            cid: 0x1234,
            nsid: 1,
            prp1: 0x1_2345_6000,
            prp2: 0xdead_b000,
            cdw10: 7,
            cdw12: 15,
            ..Default::default()
        };
        let d = s.to_dwords();
        assert_eq!(d[0], 0x1234_0002);
        assert_eq!(d[6], 0x2345_6000);
        assert_eq!(d[7], 1);
        assert_eq!(Sqe::from_dwords(&d), s);
    }

    #[test]
    fn status_decode() {
        // Data Transfer Error: SCT 0, SC 04h, with DNR (§4.6.1.2.1).
        let cqe = Cqe::from_dwords([
            0,
            0,
            0,
            (((0x4000 | Status::field(0, 4)) as u32) << 17) | 1 << 16 | 9,
        ]);
        assert!(cqe.phase());
        assert_eq!(cqe.cid, 9);
        let st = cqe.error().unwrap();
        assert_eq!(st.code, StatusCode::DataTransferError);
        assert!(st.dnr);
        let lba = Status::from_field(Status::field(0, 0x80));
        assert_eq!(lba.code, StatusCode::LbaOutOfRange);
        assert_eq!(
            Status::from_field(Status::field(1, 1)).code,
            StatusCode::InvalidQueueId
        );
        assert_eq!(
            Status::from_field(Status::field(7, 0x55)).code,
            StatusCode::Other
        );
        assert!(Cqe::from_dwords([0, 0, 0, 1 << 16]).error().is_none());
    }
}
