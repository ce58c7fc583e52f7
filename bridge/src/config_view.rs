//! The served function's configuration space as the guest sees it through
//! `x-pci-proxy-dev`: a conventional 256-byte type 0 header (PCI Local Bus
//! 3.0 §6.1) with one 32-bit non-prefetchable memory BAR0 and interrupt
//! pin A, and no capabilities.
//!
//! Why not the VF's own config space: the proxy forwards only the 256-byte
//! conventional space (no PCIe extended capabilities, so no SR-IOV), loses
//! the 64-bit and prefetchable BAR bits in its probing, and delivers INTx
//! only (no MSI / MSI-X). A real SR-IOV VF has no BARs in its header and
//! no INTx (PCIe 4.0 §9.3.4.1); here the bridge plays the hard IP of a
//! conventional function: it presents the VF's identity (vendor, device,
//! class, subsystem from the platform's config space of the VF), decodes
//! BAR0 itself, and passes the Command bits with an effect on the card
//! (Bus Master Enable, Interrupt Disable) through to the VF's config space
//! in the platform.

use nitrous_regmap as regmap;
use nitrous_sim::platform::config::{
    BAR0, CAP_PTR, CLASS, CMD_BUS_MASTER, CMD_INTX_DISABLE, CMD_MEMORY, COMMAND, DEVICE_ID,
    HEADER_TYPE, INT_LINE, INT_PIN, REVISION, STATUS, SUBSYS_ID, SUBSYS_VENDOR, VENDOR_ID,
};
use nitrous_sim::platform::ConfigSpace;

/// Size of the conventional view.
pub const VIEW_SIZE: usize = 256;
/// Status: Interrupt Status (PCI Local Bus 3.0 §6.2.3), read-only.
pub const STATUS_INTX: u16 = 1 << 3;
/// Cache Line Size register (RW, no effect).
const CACHE_LINE: usize = 0x0c;

/// The conventional view of one function.
pub struct ConfigView {
    data: [u8; VIEW_SIZE],
    wmask: [u8; VIEW_SIZE],
    bar_size: u64,
}

impl ConfigView {
    /// The reset view of a function whose platform config space is `vf`;
    /// BAR0 decodes `bar_size` bytes (a power of two >= 16).
    pub fn new(vf: &ConfigSpace, bar_size: u64) -> Self {
        assert!(bar_size.is_power_of_two() && (16..=1 << 31).contains(&bar_size));
        let mut v = ConfigView {
            data: [0; VIEW_SIZE],
            wmask: [0; VIEW_SIZE],
            bar_size,
        };
        let src = vf.bytes();
        for r in [VENDOR_ID, DEVICE_ID, SUBSYS_VENDOR, SUBSYS_ID] {
            let r = r as usize;
            v.data[r..r + 2].copy_from_slice(&src[r..r + 2]);
        }
        v.data[REVISION as usize] = src[REVISION as usize];
        let c = CLASS as usize;
        v.data[c..c + 3].copy_from_slice(&src[c..c + 3]);
        v.data[HEADER_TYPE as usize] = 0;
        v.data[CAP_PTR as usize] = 0;
        v.data[INT_PIN as usize] = 1;
        v.wmask16(COMMAND, CMD_MEMORY | CMD_BUS_MASTER | CMD_INTX_DISABLE);
        v.wmask[CACHE_LINE] = 0xff;
        v.wmask[INT_LINE as usize] = 0xff;
        // BAR0: memory, 32-bit, non-prefetchable (type bits 0).
        let mask = !(bar_size as u32 - 1) & !0xf;
        v.wmask[BAR0 as usize..BAR0 as usize + 4].copy_from_slice(&mask.to_le_bytes());
        v
    }

    /// The view of a card VF (BAR0 of `regmap::BAR0_SIZE`).
    pub fn card_vf(vf: &ConfigSpace) -> Self {
        Self::new(vf, regmap::BAR0_SIZE)
    }

    fn wmask16(&mut self, off: u16, m: u16) {
        let o = off as usize;
        self.wmask[o..o + 2].copy_from_slice(&m.to_le_bytes());
    }

    fn get16(&self, off: u16) -> u16 {
        let o = off as usize;
        u16::from_le_bytes([self.data[o], self.data[o + 1]])
    }

    /// Read `len` (1, 2 or 4) bytes at `addr`; outside the view reads 0
    /// (as a function without extended config space).
    pub fn read(&self, addr: u32, len: u32) -> u32 {
        let mut v = 0u32;
        for i in 0..len.min(4) {
            let a = (addr + i) as usize;
            if a < VIEW_SIZE {
                v |= (self.data[a] as u32) << (8 * i);
            }
        }
        v
    }

    /// Write `len` bytes at `addr` through the writable mask. Returns the
    /// Command register's old and new values.
    pub fn write(&mut self, addr: u32, val: u32, len: u32) -> (u16, u16) {
        let old = self.command();
        for i in 0..len.min(4) {
            let a = (addr + i) as usize;
            if a < VIEW_SIZE {
                let b = (val >> (8 * i)) as u8;
                self.data[a] = (self.data[a] & !self.wmask[a]) | (b & self.wmask[a]);
            }
        }
        (old, self.command())
    }

    /// Command register.
    pub fn command(&self) -> u16 {
        self.get16(COMMAND)
    }

    /// Set or clear Status.Interrupt Status (the hard IP's INTx state).
    pub fn set_intx_status(&mut self, asserted: bool) {
        let s = self.get16(STATUS);
        let s = if asserted {
            s | STATUS_INTX
        } else {
            s & !STATUS_INTX
        };
        self.data[STATUS as usize..STATUS as usize + 2].copy_from_slice(&s.to_le_bytes());
    }

    /// BAR0 decode: the offset of guest-physical `addr` in BAR0, if memory
    /// decoding is on, BAR0 is assigned and `addr..addr+len` lies inside.
    pub fn bar0_offset(&self, addr: u64, len: u32) -> Option<u64> {
        if self.command() & CMD_MEMORY == 0 {
            return None;
        }
        let o = BAR0 as usize;
        let base = u32::from_le_bytes(self.data[o..o + 4].try_into().unwrap()) as u64 & !0xf;
        if base == 0 || addr < base || addr + len as u64 > base + self.bar_size {
            return None;
        }
        Some(addr - base)
    }

    /// BAR0 size.
    pub fn bar_size(&self) -> u64 {
        self.bar_size
    }

    /// Back to reset values (the identity registers are kept).
    pub fn reset(&mut self) {
        for (d, m) in self.data.iter_mut().zip(self.wmask.iter()) {
            *d &= !m;
        }
        self.set_intx_status(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_probing_and_decode() {
        let mut v = ConfigView::card_vf(&ConfigSpace::vf());
        assert_eq!(v.read(VENDOR_ID as u32, 2), regmap::card::VENDOR_ID as u32);
        assert_eq!(
            v.read(DEVICE_ID as u32, 2),
            regmap::card::VF_DEVICE_ID as u32
        );
        assert_eq!(v.read(INT_PIN as u32, 1), 1, "pin A");
        assert_eq!(v.read(CAP_PTR as u32, 1), 0);
        assert_eq!(v.read(0x06, 2) & 0x10, 0, "no capability list");
        // Sizing (PCI 3.0 §6.2.5.1): all ones in, size mask out; type bits 0.
        v.write(0x10, u32::MAX, 4);
        assert_eq!(v.read(0x10, 4), !(regmap::BAR0_SIZE as u32 - 1));
        for bar in [0x14, 0x18, 0x1c, 0x20, 0x24] {
            v.write(bar, u32::MAX, 4);
            assert_eq!(v.read(bar, 4), 0, "BAR at {bar:#x} not implemented");
        }
        v.write(0x10, 0xfebf_0000, 4);
        assert_eq!(v.bar0_offset(0xfebf_1000, 4), None, "memory decode off");
        v.write(COMMAND as u32, (CMD_MEMORY | CMD_BUS_MASTER) as u32, 2);
        assert_eq!(v.bar0_offset(0xfebf_1000, 4), Some(0x1000));
        assert_eq!(v.bar0_offset(0xfebf_0000 + regmap::BAR0_SIZE - 4, 8), None);
        assert_eq!(v.bar0_offset(0xfebe_fffc, 4), None);
        // Read-only identity.
        v.write(0, 0, 4);
        assert_eq!(v.read(VENDOR_ID as u32, 2), regmap::card::VENDOR_ID as u32);
        v.set_intx_status(true);
        assert_eq!(v.read(STATUS as u32, 2) as u16 & STATUS_INTX, STATUS_INTX);
        v.reset();
        assert_eq!(v.command(), 0);
        assert_eq!(v.read(0x10, 4), 0);
        assert_eq!(v.read(STATUS as u32, 2) as u16 & STATUS_INTX, 0);
    }
}
