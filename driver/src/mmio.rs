//! Bounds-checked volatile access to a mapped MMIO window.

use crate::{Error, Result};

/// A mapped MMIO window (one BAR). Every access is checked for range and
/// natural alignment, then done with one volatile load or store.
pub struct Mmio {
    base: *mut u8,
    len: usize,
}

// SAFETY: an MMIO window is plain device memory; all accesses are volatile
// through raw pointers, so sharing the pointer across threads is sound.
unsafe impl Send for Mmio {}
// SAFETY: see above; no Rust references are ever formed to the window.
unsafe impl Sync for Mmio {}

impl Mmio {
    /// # Safety
    /// `base` must point to a mapping of at least `len` bytes that stays
    /// valid for the life of this value.
    pub unsafe fn new(base: *mut u8, len: usize) -> Self {
        Mmio { base, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Base pointer (for unmapping by the owner).
    pub fn base_ptr(&self) -> *mut u8 {
        self.base
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, offset: u64, width: usize) -> Result<usize> {
        let off = usize::try_from(offset)
            .map_err(|_| Error::Bounds(format!("mmio offset {offset:#x}")))?;
        if off % width != 0 || off.checked_add(width).is_none_or(|end| end > self.len) {
            return Err(Error::Bounds(format!(
                "mmio {width}-byte access at {offset:#x} (window {:#x})",
                self.len
            )));
        }
        Ok(off)
    }

    pub fn read32(&self, offset: u64) -> Result<u32> {
        let off = self.check(offset, 4)?;
        // SAFETY: off+4 <= len and off is 4-aligned (checked above); the
        // mapping is valid per `new`'s contract; volatile, no reference.
        Ok(unsafe { std::ptr::read_volatile(self.base.add(off) as *const u32) })
    }

    pub fn write32(&self, offset: u64, value: u32) -> Result<()> {
        let off = self.check(offset, 4)?;
        // SAFETY: as in read32.
        unsafe { std::ptr::write_volatile(self.base.add(off) as *mut u32, value) };
        Ok(())
    }

    pub fn read64(&self, offset: u64) -> Result<u64> {
        let off = self.check(offset, 8)?;
        // SAFETY: off+8 <= len and 8-aligned (checked); mapping valid.
        Ok(unsafe { std::ptr::read_volatile(self.base.add(off) as *const u64) })
    }

    pub fn write64(&self, offset: u64, value: u64) -> Result<()> {
        let off = self.check(offset, 8)?;
        // SAFETY: as in read64.
        unsafe { std::ptr::write_volatile(self.base.add(off) as *mut u64, value) };
        Ok(())
    }
}
