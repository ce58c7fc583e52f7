//! Configuration space of one function as the PCIe hard IP presents it.
//!
//! Layout (offsets from `nitrous_regmap::pci`):
//! - type 0 header (PCI Local Bus 3.0 §6.1, PCIe 4.0 §7.5.1): IDs and class
//!   codes from `nitrous_regmap::card`, command register, status with the
//!   Capabilities List bit, a 64-bit non-prefetchable BAR0 of
//!   `nitrous_regmap::BAR0_SIZE` bytes (PF only: a VF's header BARs are
//!   read-only zero, SR-IOV 1.1 §3.4.1.11 / PCIe 4.0 §9.3.4.1.11; its BAR0
//!   comes from the PF's VF BAR0), interrupt pin 0 (as SR-IOV requires of a
//!   VF; the INTx state of a function is still modelled, Status.Interrupt
//!   Status and Command.Interrupt Disable, for serving a VF to a guest as a
//!   conventional function with pin A, see [`ConfigSpace::set_interrupt_status`]);
//! - PCI Express capability at `CAP_PCIE` (PCIe 4.0 §7.5.3, version 2,
//!   Endpoint), Device Capabilities with Function Level Reset Capability,
//!   Device Control bit 15 "Initiate Function Level Reset";
//! - MSI-X capability at `CAP_MSIX` (PCIe 4.0 §7.7.2): table size PF
//!   `PF_MSIX_VECTORS`, VF `nvme::MSIX_VECTORS`; table and PBA in BAR0
//!   (BIR 0) at `MSIX_TABLE_OFFSET` / `MSIX_PBA_OFFSET`; Enable and
//!   Function Mask writable;
//! - PF only: the SR-IOV extended capability at `EXTCAP_SRIOV` (PCIe 4.0
//!   §9.3.3).
//!
//! Simplification: a real VF's Vendor ID and Device ID read as FFFFh
//! (PCIe 4.0 §9.3.4.1.1-2; software takes them from the PF's SR-IOV
//! capability). Here a VF's own header reports `VENDOR_ID` and the SR-IOV
//! VF Device ID, so a VF's config dump decodes on its own (`lspci -F`).
//!
//! Writes go through a per-byte writable mask; the registers with side
//! effects (Initiate FLR, VF Enable, NumVFs, System Page Size) are handled
//! explicitly and reported as [`ConfigEvent`]s.

use nitrous_regmap as regmap;
use regmap::pci::{CAP_MSIX, CAP_PCIE, EXTCAP_SRIOV};

/// Size of a PCIe function's configuration space.
pub const CONFIG_SIZE: usize = 4096;

// Type 0 header offsets (PCI Local Bus 3.0 §6.1).
pub const VENDOR_ID: u16 = 0x00;
pub const DEVICE_ID: u16 = 0x02;
pub const COMMAND: u16 = 0x04;
pub const STATUS: u16 = 0x06;
pub const REVISION: u16 = 0x08;
pub const CLASS: u16 = 0x09;
pub const HEADER_TYPE: u16 = 0x0e;
pub const BAR0: u16 = 0x10;
pub const SUBSYS_VENDOR: u16 = 0x2c;
pub const SUBSYS_ID: u16 = 0x2e;
pub const CAP_PTR: u16 = 0x34;
pub const INT_LINE: u16 = 0x3c;
pub const INT_PIN: u16 = 0x3d;

/// Command register bits (PCI Local Bus 3.0 §6.2.2).
pub const CMD_MEMORY: u16 = 1 << 1;
pub const CMD_BUS_MASTER: u16 = 1 << 2;
pub const CMD_PARITY: u16 = 1 << 6;
pub const CMD_SERR: u16 = 1 << 8;
pub const CMD_INTX_DISABLE: u16 = 1 << 10;
/// Status: Capabilities List (PCI Local Bus 3.0 §6.2.3).
pub const STATUS_CAP_LIST: u16 = 1 << 4;
/// Status: Interrupt Status, the function's INTx is pending (PCI Local Bus
/// 3.0 §6.2.3; PCIe 4.0 §7.5.1.1.4).
pub const STATUS_INTX: u16 = 1 << 3;

// PCI Express capability registers, relative to CAP_PCIE (PCIe 4.0 §7.5.3).
pub const PCIE_CAPS: u16 = 0x02;
pub const PCIE_DEVCAP: u16 = 0x04;
pub const PCIE_DEVCTL: u16 = 0x08;
pub const PCIE_DEVSTA: u16 = 0x0a;
pub const PCIE_LNKCAP: u16 = 0x0c;
pub const PCIE_LNKCTL: u16 = 0x10;
pub const PCIE_LNKSTA: u16 = 0x12;
pub const PCIE_DEVCAP2: u16 = 0x24;
pub const PCIE_DEVCTL2: u16 = 0x28;
pub const PCIE_LNKCAP2: u16 = 0x2c;
pub const PCIE_LNKCTL2: u16 = 0x30;
/// Device Capabilities: Function Level Reset Capability (§7.5.3.3).
pub const DEVCAP_FLR: u32 = 1 << 28;
/// Device Capabilities: Role-Based Error Reporting (§7.5.3.3).
pub const DEVCAP_RBER: u32 = 1 << 15;
/// Device Control: Initiate Function Level Reset (§7.5.3.4), reads 0.
pub const DEVCTL_FLR: u16 = 1 << 15;

// MSI-X capability registers, relative to CAP_MSIX (PCIe 4.0 §7.7.2).
pub const MSIX_CTRL: u16 = 0x02;
pub const MSIX_TABLE: u16 = 0x04;
pub const MSIX_PBA: u16 = 0x08;
pub const MSIX_ENABLE: u16 = 1 << 15;
pub const MSIX_FUNCTION_MASK: u16 = 1 << 14;

// SR-IOV extended capability registers, relative to EXTCAP_SRIOV
// (PCIe 4.0 §9.3.3).
pub const SRIOV_CAPS: u16 = 0x04;
pub const SRIOV_CTRL: u16 = 0x08;
pub const SRIOV_STATUS: u16 = 0x0a;
pub const SRIOV_INITIAL_VFS: u16 = 0x0c;
pub const SRIOV_TOTAL_VFS: u16 = 0x0e;
pub const SRIOV_NUM_VFS: u16 = 0x10;
pub const SRIOV_FUNC_DEP: u16 = 0x12;
pub const SRIOV_VF_OFFSET: u16 = 0x14;
pub const SRIOV_VF_STRIDE: u16 = 0x16;
pub const SRIOV_VF_DEVICE_ID: u16 = 0x1a;
pub const SRIOV_SUPPORTED_PAGE_SIZES: u16 = 0x1c;
pub const SRIOV_SYSTEM_PAGE_SIZE: u16 = 0x20;
pub const SRIOV_VF_BAR0: u16 = 0x24;
pub const SRIOV_MIGRATION: u16 = 0x3c;
/// SR-IOV Control bits (§9.3.3.3).
pub const SRIOV_VF_ENABLE: u16 = 1 << 0;
pub const SRIOV_VF_MSE: u16 = 1 << 3;
pub const SRIOV_ARI_HIERARCHY: u16 = 1 << 4;
/// Page sizes a PF must support (§9.3.3.11): 4K, 8K, 64K, 256K, 1M, 4M.
pub const SUPPORTED_PAGE_SIZES: u32 = 0x553;

/// BAR low dword type bits: memory, 64-bit, non-prefetchable (PCI 3.0 §6.2.5.1).
const BAR_TYPE_MEM64: u32 = 0b100;

/// What a configuration write asked the hard IP to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigEvent {
    /// Device Control "Initiate Function Level Reset" was written 1.
    Flr,
    /// SR-IOV VF Enable changed to the given value (PF only).
    VfEnable(bool),
}

/// A configuration-space access outside the 4 KiB space.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("config access of {len} bytes at {offset:#x} outside the 4 KiB space")]
pub struct ConfigBounds {
    pub offset: u16,
    pub len: usize,
}

/// The configuration space of one function.
#[derive(Clone)]
pub struct ConfigSpace {
    data: Box<[u8; CONFIG_SIZE]>,
    wmask: Box<[u8; CONFIG_SIZE]>,
    is_pf: bool,
    total_vfs: u16,
}

impl std::fmt::Debug for ConfigSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigSpace")
            .field("is_pf", &self.is_pf)
            .field("command", &self.command())
            .finish()
    }
}

impl ConfigSpace {
    /// The PF (function 0) of a card with `total_vfs` VFs.
    pub fn pf(total_vfs: u16) -> Self {
        assert!(
            (total_vfs as usize) <= regmap::card::MAX_VFS,
            "{total_vfs} VFs: the seam numbers at most {} functions",
            regmap::card::MAX_VFS
        );
        let mut c = Self::blank(true, total_vfs);
        c.init();
        c
    }

    /// A VF.
    pub fn vf() -> Self {
        let mut c = Self::blank(false, 0);
        c.init();
        c
    }

    fn blank(is_pf: bool, total_vfs: u16) -> Self {
        ConfigSpace {
            data: Box::new([0; CONFIG_SIZE]),
            wmask: Box::new([0; CONFIG_SIZE]),
            is_pf,
            total_vfs,
        }
    }

    /// Reset values of every register (also the effect of an FLR).
    fn init(&mut self) {
        self.data.fill(0);
        self.wmask.fill(0);
        let card = &regmap::card::VENDOR_ID;
        self.put16(VENDOR_ID, *card);
        self.put16(
            DEVICE_ID,
            if self.is_pf {
                regmap::card::PF_DEVICE_ID
            } else {
                regmap::card::VF_DEVICE_ID
            },
        );
        let class = if self.is_pf {
            regmap::card::PF_CLASS
        } else {
            regmap::card::VF_CLASS
        };
        self.put8(REVISION, 1);
        self.put8(CLASS, class as u8);
        self.put16(CLASS + 1, (class >> 8) as u16);
        self.put8(HEADER_TYPE, 0);
        self.put16(STATUS, STATUS_CAP_LIST);
        // Command: a VF's Memory Space Enable is RO 0 (PCIe 4.0 §9.3.4.1.3;
        // VF MSE in the PF's SR-IOV control governs VF BARs).
        let cmd_w = if self.is_pf {
            CMD_MEMORY | CMD_BUS_MASTER | CMD_PARITY | CMD_SERR | CMD_INTX_DISABLE
        } else {
            CMD_BUS_MASTER | CMD_PARITY | CMD_SERR | CMD_INTX_DISABLE
        };
        self.wmask16(COMMAND, cmd_w);
        if self.is_pf {
            let size = regmap::BAR0_SIZE;
            self.put32(BAR0, BAR_TYPE_MEM64);
            self.wmask32(BAR0, !(size as u32 - 1) & !0xf);
            self.wmask32(BAR0 + 4, u32::MAX);
        }
        self.put16(SUBSYS_VENDOR, regmap::card::VENDOR_ID);
        self.put16(
            SUBSYS_ID,
            if self.is_pf {
                regmap::card::PF_DEVICE_ID
            } else {
                regmap::card::VF_DEVICE_ID
            },
        );
        self.put8(CAP_PTR, CAP_PCIE);
        self.wmask8(INT_LINE, 0xff);
        self.put8(INT_PIN, 0);

        // PCI Express capability, version 2, Endpoint (§7.5.3.2).
        let p = CAP_PCIE as u16;
        self.put8(p, 0x10);
        self.put8(p + 1, CAP_MSIX);
        self.put16(p + PCIE_CAPS, 0x0002);
        // Max_Payload_Size Supported 101b = 4096 bytes, RBER, FLR.
        self.put32(p + PCIE_DEVCAP, 0b101 | DEVCAP_RBER | DEVCAP_FLR);
        // Device Control reset value: Relaxed Ordering, No Snoop, MRRS 512.
        self.put16(p + PCIE_DEVCTL, 0x2810);
        self.wmask16(p + PCIE_DEVCTL, 0x7fff);
        // Link: 8 GT/s x16 (speed 3, width 16), reported as trained.
        self.put32(p + PCIE_LNKCAP, 3 | 16 << 4);
        self.put16(p + PCIE_LNKSTA, 3 | 16 << 4);
        self.wmask16(p + PCIE_LNKCTL, 0x0003);
        self.put32(p + PCIE_LNKCAP2, 0b1110);
        self.put16(p + PCIE_LNKCTL2, 3);

        // MSI-X (§7.7.2).
        let m = CAP_MSIX as u16;
        let vectors = if self.is_pf {
            regmap::pci::PF_MSIX_VECTORS
        } else {
            regmap::nvme::MSIX_VECTORS
        };
        assert!((1..=2048).contains(&vectors));
        self.put8(m, 0x11);
        self.put8(m + 1, 0);
        self.put16(m + MSIX_CTRL, (vectors - 1) as u16);
        self.wmask16(m + MSIX_CTRL, MSIX_ENABLE | MSIX_FUNCTION_MASK);
        self.put32(m + MSIX_TABLE, regmap::MSIX_TABLE_OFFSET);
        self.put32(m + MSIX_PBA, regmap::MSIX_PBA_OFFSET);

        if self.is_pf {
            // SR-IOV extended capability, version 1, last in the list.
            let s = EXTCAP_SRIOV;
            self.put32(s, 0x0010 | 1 << 16);
            self.put16(s + SRIOV_CTRL, 0);
            self.wmask16(
                s + SRIOV_CTRL,
                SRIOV_VF_ENABLE | SRIOV_VF_MSE | SRIOV_ARI_HIERARCHY,
            );
            self.put16(s + SRIOV_INITIAL_VFS, self.total_vfs);
            self.put16(s + SRIOV_TOTAL_VFS, self.total_vfs);
            self.wmask16(s + SRIOV_NUM_VFS, 0xffff);
            self.put16(s + SRIOV_VF_OFFSET, regmap::pci::FIRST_VF_OFFSET);
            self.put16(s + SRIOV_VF_STRIDE, regmap::pci::VF_STRIDE);
            self.put16(s + SRIOV_VF_DEVICE_ID, regmap::card::VF_DEVICE_ID);
            self.put32(s + SRIOV_SUPPORTED_PAGE_SIZES, SUPPORTED_PAGE_SIZES);
            self.put32(s + SRIOV_SYSTEM_PAGE_SIZE, 1);
            self.wmask32(s + SRIOV_SYSTEM_PAGE_SIZE, SUPPORTED_PAGE_SIZES);
            self.put32(s + SRIOV_VF_BAR0, BAR_TYPE_MEM64);
            self.set_vf_bar_mask();
            self.wmask32(s + SRIOV_VF_BAR0 + 4, u32::MAX);
        }
    }

    /// VF BAR0 size: BAR0_SIZE rounded up to the System Page Size
    /// (§9.3.3.14: each VF BAR is aligned to the system page size).
    pub fn vf_bar_size(&self) -> u64 {
        let page = 4096u64
            << self
                .get32(EXTCAP_SRIOV + SRIOV_SYSTEM_PAGE_SIZE)
                .trailing_zeros();
        regmap::BAR0_SIZE.max(page)
    }

    fn set_vf_bar_mask(&mut self) {
        let size = self.vf_bar_size();
        self.wmask32(EXTCAP_SRIOV + SRIOV_VF_BAR0, !(size as u32 - 1) & !0xf);
    }

    /// Function Level Reset: every register back to its reset value.
    pub fn flr(&mut self) {
        self.init();
    }

    /// Whether this is the PF's space.
    pub fn is_pf(&self) -> bool {
        self.is_pf
    }

    /// The whole 4 KiB space.
    pub fn bytes(&self) -> &[u8; CONFIG_SIZE] {
        &self.data
    }

    /// Read `buf.len()` bytes at `offset`.
    pub fn read(&self, offset: u16, buf: &mut [u8]) -> Result<(), ConfigBounds> {
        let o = offset as usize;
        let src = self.data.get(o..o + buf.len()).ok_or(ConfigBounds {
            offset,
            len: buf.len(),
        })?;
        buf.copy_from_slice(src);
        Ok(())
    }

    /// Write `data` at `offset`. Read-only bits keep their value; the
    /// returned events tell the hard IP what to do (FLR, VF Enable change).
    pub fn write(&mut self, offset: u16, data: &[u8]) -> Result<Vec<ConfigEvent>, ConfigBounds> {
        let o = offset as usize;
        if o + data.len() > CONFIG_SIZE {
            return Err(ConfigBounds {
                offset,
                len: data.len(),
            });
        }
        let mut events = Vec::new();
        let old_ctrl = self.sriov_control();
        let old_numvfs = self.get16(EXTCAP_SRIOV + SRIOV_NUM_VFS);
        let old_page = self.get32(EXTCAP_SRIOV + SRIOV_SYSTEM_PAGE_SIZE);
        for (i, &b) in data.iter().enumerate() {
            let m = self.wmask[o + i];
            self.data[o + i] = (self.data[o + i] & !m) | (b & m);
        }
        let covers = |reg: u16| (o..o + data.len()).contains(&(reg as usize));

        // Initiate FLR (§7.5.3.4): bit 15 of Device Control, reads 0.
        let devctl_hi = CAP_PCIE as u16 + PCIE_DEVCTL + 1;
        if covers(devctl_hi) && data[devctl_hi as usize - o] & 0x80 != 0 {
            events.push(ConfigEvent::Flr);
        }

        if self.is_pf {
            let s = EXTCAP_SRIOV;
            let vfe_was = old_ctrl & SRIOV_VF_ENABLE != 0;
            // NumVFs and System Page Size are only writable while VF Enable
            // is clear (§9.3.3.7, §9.3.3.12).
            if vfe_was {
                self.put16(s + SRIOV_NUM_VFS, old_numvfs);
                self.put32(s + SRIOV_SYSTEM_PAGE_SIZE, old_page);
            } else {
                let page = self.get32(s + SRIOV_SYSTEM_PAGE_SIZE);
                if page.count_ones() != 1 || page & SUPPORTED_PAGE_SIZES == 0 {
                    // Not exactly one supported size: keep the old one.
                    self.put32(s + SRIOV_SYSTEM_PAGE_SIZE, old_page);
                }
                if self.get32(s + SRIOV_SYSTEM_PAGE_SIZE) != old_page {
                    // The VF BAR0 size follows the page size.
                    let keep = self.get32(s + SRIOV_VF_BAR0);
                    self.set_vf_bar_mask();
                    let mask = u32::from_le_bytes(self.wmask4(s + SRIOV_VF_BAR0));
                    self.put32(s + SRIOV_VF_BAR0, (keep & mask) | BAR_TYPE_MEM64);
                }
            }
            let vfe_now = self.sriov_control() & SRIOV_VF_ENABLE != 0;
            if vfe_now != vfe_was {
                events.push(ConfigEvent::VfEnable(vfe_now));
            }
        }
        Ok(events)
    }

    // --- decoded state -------------------------------------------------

    /// Command register.
    pub fn command(&self) -> u16 {
        self.get16(COMMAND)
    }

    /// Memory Space Enable (PF; always false for a VF, see VF MSE).
    pub fn memory_enabled(&self) -> bool {
        self.command() & CMD_MEMORY != 0
    }

    /// Bus Master Enable.
    pub fn bus_master(&self) -> bool {
        self.command() & CMD_BUS_MASTER != 0
    }

    /// Command.Interrupt Disable (PCI Local Bus 3.0 §6.2.2).
    pub fn intx_disabled(&self) -> bool {
        self.command() & CMD_INTX_DISABLE != 0
    }

    /// Status register.
    pub fn status(&self) -> u16 {
        self.get16(STATUS)
    }

    /// Sets Status.Interrupt Status (read-only to software): the hard IP
    /// reports the function's pending INTx, whatever Interrupt Disable
    /// says (PCI Local Bus 3.0 §6.2.3).
    pub fn set_interrupt_status(&mut self, pending: bool) {
        let s = self.get16(STATUS) & !STATUS_INTX;
        self.put16(STATUS, s | if pending { STATUS_INTX } else { 0 });
    }

    /// MSI-X Enable (whatever the Function Mask).
    pub fn msix_enabled(&self) -> bool {
        self.msix_control() & MSIX_ENABLE != 0
    }

    /// MSI-X Message Control.
    pub fn msix_control(&self) -> u16 {
        self.get16(CAP_MSIX as u16 + MSIX_CTRL)
    }

    /// MSI-X table size (vectors).
    pub fn msix_vectors(&self) -> u32 {
        (self.msix_control() & 0x7ff) as u32 + 1
    }

    /// MSI-X Enable set and Function Mask clear.
    pub fn msix_deliverable(&self) -> bool {
        let c = self.msix_control();
        c & MSIX_ENABLE != 0 && c & MSIX_FUNCTION_MASK == 0
    }

    /// SR-IOV Control (0 for a VF).
    pub fn sriov_control(&self) -> u16 {
        if self.is_pf {
            self.get16(EXTCAP_SRIOV + SRIOV_CTRL)
        } else {
            0
        }
    }

    /// SR-IOV NumVFs (0 for a VF).
    pub fn num_vfs(&self) -> u16 {
        if self.is_pf {
            self.get16(EXTCAP_SRIOV + SRIOV_NUM_VFS)
        } else {
            0
        }
    }

    /// TotalVFs (0 for a VF).
    pub fn total_vfs(&self) -> u16 {
        self.total_vfs
    }

    /// VFs that exist: VF Enable set, min(NumVFs, TotalVFs).
    pub fn enabled_vfs(&self) -> u16 {
        if self.sriov_control() & SRIOV_VF_ENABLE != 0 {
            self.num_vfs().min(self.total_vfs)
        } else {
            0
        }
    }

    /// VF Memory Space Enable.
    pub fn vf_memory_enabled(&self) -> bool {
        self.sriov_control() & SRIOV_VF_MSE != 0
    }

    /// BAR0 base address (PF header BAR or, for VFs, the PF's VF BAR0).
    pub fn bar0_address(&self) -> u64 {
        self.get64(BAR0) & !0xf
    }

    /// The PF's VF BAR0 base address.
    pub fn vf_bar0_address(&self) -> u64 {
        self.get64(EXTCAP_SRIOV + SRIOV_VF_BAR0) & !0xf
    }

    // --- raw little-endian helpers --------------------------------------

    pub fn get8(&self, o: u16) -> u8 {
        self.data[o as usize]
    }
    pub fn get16(&self, o: u16) -> u16 {
        u16::from_le_bytes([self.data[o as usize], self.data[o as usize + 1]])
    }
    pub fn get32(&self, o: u16) -> u32 {
        let o = o as usize;
        u32::from_le_bytes([
            self.data[o],
            self.data[o + 1],
            self.data[o + 2],
            self.data[o + 3],
        ])
    }
    pub fn get64(&self, o: u16) -> u64 {
        self.get32(o) as u64 | (self.get32(o + 4) as u64) << 32
    }
    fn put8(&mut self, o: u16, v: u8) {
        self.data[o as usize] = v;
    }
    fn put16(&mut self, o: u16, v: u16) {
        self.data[o as usize..o as usize + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn put32(&mut self, o: u16, v: u32) {
        self.data[o as usize..o as usize + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn wmask8(&mut self, o: u16, m: u8) {
        self.wmask[o as usize] = m;
    }
    fn wmask16(&mut self, o: u16, m: u16) {
        self.wmask[o as usize..o as usize + 2].copy_from_slice(&m.to_le_bytes());
    }
    fn wmask32(&mut self, o: u16, m: u32) {
        self.wmask[o as usize..o as usize + 4].copy_from_slice(&m.to_le_bytes());
    }
    fn wmask4(&self, o: u16) -> [u8; 4] {
        let o = o as usize;
        [
            self.wmask[o],
            self.wmask[o + 1],
            self.wmask[o + 2],
            self.wmask[o + 3],
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w16(c: &mut ConfigSpace, o: u16, v: u16) -> Vec<ConfigEvent> {
        c.write(o, &v.to_le_bytes()).unwrap()
    }
    fn w32(c: &mut ConfigSpace, o: u16, v: u32) -> Vec<ConfigEvent> {
        c.write(o, &v.to_le_bytes()).unwrap()
    }

    #[test]
    fn header_ids_and_class_come_from_regmap() {
        let pf = ConfigSpace::pf(4);
        assert_eq!(pf.get16(VENDOR_ID), regmap::card::VENDOR_ID);
        assert_eq!(pf.get16(DEVICE_ID), regmap::card::PF_DEVICE_ID);
        assert_eq!(pf.get32(0x08) >> 8, regmap::card::PF_CLASS);
        assert_eq!(pf.get8(HEADER_TYPE), 0);
        assert_ne!(pf.get16(STATUS) & STATUS_CAP_LIST, 0);
        assert_eq!(pf.get8(CAP_PTR), CAP_PCIE);
        let vf = ConfigSpace::vf();
        assert_eq!(vf.get16(DEVICE_ID), regmap::card::VF_DEVICE_ID);
        assert_eq!(vf.get32(0x08) >> 8, regmap::card::VF_CLASS);
        assert_eq!(vf.get8(INT_PIN), 0);
    }

    #[test]
    fn read_only_fields_ignore_writes() {
        let mut pf = ConfigSpace::pf(4);
        let before = *pf.bytes();
        w32(&mut pf, VENDOR_ID, 0xdead_beef);
        w32(&mut pf, 0x08, 0xffff_ffff);
        w16(&mut pf, STATUS, 0);
        w16(&mut pf, EXTCAP_SRIOV + SRIOV_TOTAL_VFS, 99);
        w16(&mut pf, EXTCAP_SRIOV + SRIOV_VF_DEVICE_ID, 0);
        assert_eq!(pf.bytes()[..0x10], before[..0x10]);
        assert_eq!(pf.get16(EXTCAP_SRIOV + SRIOV_TOTAL_VFS), 4);
        assert_eq!(
            pf.get16(EXTCAP_SRIOV + SRIOV_VF_DEVICE_ID),
            regmap::card::VF_DEVICE_ID
        );
        assert!(pf.write(4095, &[0, 0]).is_err());
        let mut b = [0u8; 2];
        assert!(pf.read(4095, &mut b).is_err());
    }

    #[test]
    fn command_register_memory_and_bus_master() {
        let mut pf = ConfigSpace::pf(2);
        assert!(!pf.memory_enabled() && !pf.bus_master());
        w16(&mut pf, COMMAND, CMD_MEMORY | CMD_BUS_MASTER);
        assert!(pf.memory_enabled() && pf.bus_master());
        // VF: Memory Space Enable is RO 0 (PCIe 4.0 §9.3.4.1.3).
        let mut vf = ConfigSpace::vf();
        w16(&mut vf, COMMAND, 0xffff);
        assert!(!vf.memory_enabled());
        assert!(vf.bus_master());
    }

    #[test]
    fn bar0_sizing_reads_back_the_size_mask() {
        let mut pf = ConfigSpace::pf(4);
        assert_eq!(pf.get32(BAR0) & 0xf, 0b0100, "64-bit memory BAR");
        w32(&mut pf, BAR0, u32::MAX);
        w32(&mut pf, BAR0 + 4, u32::MAX);
        let lo = pf.get32(BAR0);
        let size = !(lo & !0xf) as u64 + 1;
        assert_eq!(size, regmap::BAR0_SIZE);
        assert_eq!(pf.get32(BAR0 + 4), u32::MAX);
        w32(&mut pf, BAR0, 0xfe00_0000);
        w32(&mut pf, BAR0 + 4, 0x1);
        assert_eq!(pf.bar0_address(), 0x1_fe00_0000);
        // Unaligned bits are dropped.
        w32(&mut pf, BAR0, 0xfe00_1234);
        assert_eq!(pf.bar0_address(), 0x1_fe00_0000);
        // Other BARs are absent: read 0 after an all-ones write.
        for b in 2..6 {
            w32(&mut pf, BAR0 + 4 * b, u32::MAX);
            assert_eq!(pf.get32(BAR0 + 4 * b), 0);
        }
        // A VF's header BARs are RO 0 (§9.3.4.1.11).
        let mut vf = ConfigSpace::vf();
        w32(&mut vf, BAR0, u32::MAX);
        assert_eq!(vf.get32(BAR0), 0);
    }

    #[test]
    fn pcie_capability_flr() {
        let mut vf = ConfigSpace::vf();
        let p = CAP_PCIE as u16;
        assert_eq!(vf.get8(p), 0x10);
        assert_eq!(vf.get8(p + 1), CAP_MSIX);
        assert_eq!(vf.get16(p + PCIE_CAPS) & 0xf0, 0, "Endpoint");
        assert_ne!(vf.get32(p + PCIE_DEVCAP) & DEVCAP_FLR, 0);
        w16(&mut vf, COMMAND, CMD_BUS_MASTER);
        let ctl = vf.get16(p + PCIE_DEVCTL);
        assert!(w16(&mut vf, p + PCIE_DEVCTL, ctl).is_empty());
        let ev = w16(&mut vf, p + PCIE_DEVCTL, ctl | DEVCTL_FLR);
        assert_eq!(ev, vec![ConfigEvent::Flr]);
        assert_eq!(vf.get16(p + PCIE_DEVCTL) & DEVCTL_FLR, 0, "reads 0");
        // A byte write of the high byte also initiates it.
        assert_eq!(
            vf.write(p + PCIE_DEVCTL + 1, &[0x80]).unwrap(),
            vec![ConfigEvent::Flr]
        );
        vf.flr();
        assert!(!vf.bus_master());
    }

    #[test]
    fn msix_capability() {
        let mut pf = ConfigSpace::pf(4);
        let m = CAP_MSIX as u16;
        assert_eq!(pf.get8(m), 0x11);
        assert_eq!(pf.msix_vectors(), regmap::pci::PF_MSIX_VECTORS);
        assert_eq!(pf.get32(m + MSIX_TABLE), regmap::MSIX_TABLE_OFFSET);
        assert_eq!(pf.get32(m + MSIX_PBA), regmap::MSIX_PBA_OFFSET);
        let vf = ConfigSpace::vf();
        assert_eq!(vf.msix_vectors(), regmap::nvme::MSIX_VECTORS);
        assert!(!pf.msix_deliverable());
        w16(&mut pf, m + MSIX_CTRL, 0xffff);
        assert_eq!(pf.msix_control() & 0x7ff, 0, "table size is RO");
        assert!(!pf.msix_deliverable(), "function mask set");
        w16(&mut pf, m + MSIX_CTRL, MSIX_ENABLE);
        assert!(pf.msix_deliverable());
    }

    #[test]
    fn sriov_capability() {
        let mut pf = ConfigSpace::pf(4);
        let s = EXTCAP_SRIOV;
        assert_eq!(pf.get32(s) & 0xffff, 0x0010);
        assert_eq!(pf.get32(s) >> 20, 0, "last extended capability");
        assert_eq!(pf.get16(s + SRIOV_INITIAL_VFS), 4);
        assert_eq!(pf.get16(s + SRIOV_TOTAL_VFS), 4);
        assert_eq!(pf.get16(s + SRIOV_VF_OFFSET), regmap::pci::FIRST_VF_OFFSET);
        assert_eq!(pf.get16(s + SRIOV_VF_STRIDE), regmap::pci::VF_STRIDE);
        assert_eq!(
            pf.get32(s + SRIOV_SUPPORTED_PAGE_SIZES),
            SUPPORTED_PAGE_SIZES
        );
        assert_eq!(pf.get32(s + SRIOV_SYSTEM_PAGE_SIZE), 1);
        assert_eq!(pf.enabled_vfs(), 0);
        // NumVFs is RW while VF Enable is clear.
        w16(&mut pf, s + SRIOV_NUM_VFS, 3);
        assert_eq!(pf.num_vfs(), 3);
        let ev = w16(&mut pf, s + SRIOV_CTRL, SRIOV_VF_ENABLE | SRIOV_VF_MSE);
        assert_eq!(ev, vec![ConfigEvent::VfEnable(true)]);
        assert_eq!(pf.enabled_vfs(), 3);
        assert!(pf.vf_memory_enabled());
        // ... and RO while it is set.
        w16(&mut pf, s + SRIOV_NUM_VFS, 1);
        assert_eq!(pf.num_vfs(), 3);
        w32(&mut pf, s + SRIOV_SYSTEM_PAGE_SIZE, 2);
        assert_eq!(pf.get32(s + SRIOV_SYSTEM_PAGE_SIZE), 1);
        let ev = w16(&mut pf, s + SRIOV_CTRL, 0);
        assert_eq!(ev, vec![ConfigEvent::VfEnable(false)]);
        assert_eq!(pf.enabled_vfs(), 0);
        // NumVFs above TotalVFs: only TotalVFs exist.
        w16(&mut pf, s + SRIOV_NUM_VFS, 9);
        w16(&mut pf, s + SRIOV_CTRL, SRIOV_VF_ENABLE);
        assert_eq!(pf.enabled_vfs(), 4);
        // A VF has no SR-IOV capability.
        let vf = ConfigSpace::vf();
        assert_eq!(vf.get32(s), 0);
        assert_eq!(vf.enabled_vfs(), 0);
    }

    #[test]
    fn sriov_vf_bar0_sizing_follows_system_page_size() {
        let mut pf = ConfigSpace::pf(4);
        let s = EXTCAP_SRIOV;
        let size_of = |pf: &mut ConfigSpace| {
            w32(pf, s + SRIOV_VF_BAR0, u32::MAX);
            let lo = pf.get32(s + SRIOV_VF_BAR0);
            assert_eq!(lo & 0xf, 0b0100, "64-bit memory BAR");
            !(lo & !0xf) as u64 + 1
        };
        assert_eq!(size_of(&mut pf), regmap::BAR0_SIZE);
        // A size that is not exactly one supported bit is ignored.
        w32(&mut pf, s + SRIOV_SYSTEM_PAGE_SIZE, 0b11);
        assert_eq!(pf.get32(s + SRIOV_SYSTEM_PAGE_SIZE), 1);
        w32(&mut pf, s + SRIOV_SYSTEM_PAGE_SIZE, 0b100);
        assert_eq!(pf.get32(s + SRIOV_SYSTEM_PAGE_SIZE), 1, "16K unsupported");
        // 64 KiB pages: each VF BAR0 occupies a 64 KiB page.
        w32(&mut pf, s + SRIOV_SYSTEM_PAGE_SIZE, 0x10);
        assert_eq!(size_of(&mut pf), 0x10000.max(regmap::BAR0_SIZE));
        w32(&mut pf, s + SRIOV_VF_BAR0, 0xc000_0000);
        w32(&mut pf, s + SRIOV_VF_BAR0 + 4, 0x2);
        assert_eq!(pf.vf_bar0_address(), 0x2_c000_0000);
    }

    #[test]
    fn flr_restores_reset_values() {
        let mut pf = ConfigSpace::pf(4);
        let fresh = *pf.bytes();
        w16(&mut pf, COMMAND, CMD_MEMORY | CMD_BUS_MASTER);
        w16(&mut pf, EXTCAP_SRIOV + SRIOV_NUM_VFS, 2);
        w16(&mut pf, EXTCAP_SRIOV + SRIOV_CTRL, SRIOV_VF_ENABLE);
        w16(&mut pf, CAP_MSIX as u16 + MSIX_CTRL, MSIX_ENABLE);
        assert_ne!(*pf.bytes(), fresh);
        pf.flr();
        assert_eq!(*pf.bytes(), fresh);
    }
}
