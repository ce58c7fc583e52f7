//! DMA memory: page-aligned anonymous mappings the device reaches by IOVA.
//!
//! The CPU side never forms Rust references into this memory: the device
//! may write it at any time, so every access is a volatile copy through a
//! raw pointer, bounds-checked against the region.

use crate::backend::PciFunction;
use crate::{Error, Result};
use std::sync::Arc;

/// Page size used for DMA memory and PRPs (NVMe CC.MPS = 0 -> 4 KiB).
pub const PAGE: usize = 4096;

/// A page-aligned, zero-filled, locked-in-place region of process memory.
pub struct DmaRegion {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the region is only accessed through volatile raw-pointer copies
// (never references), so concurrent access from threads (or the device)
// cannot create aliasing references.
unsafe impl Send for DmaRegion {}
// SAFETY: see above.
unsafe impl Sync for DmaRegion {}

impl DmaRegion {
    /// Allocate `len` bytes (rounded up to whole pages), zero-filled.
    pub fn new(len: usize) -> Result<Self> {
        if len == 0 {
            return Err(Error::Invalid("zero-length DMA region".into()));
        }
        let len = len.div_ceil(PAGE) * PAGE;
        // SAFETY: anonymous private mapping, no file; the kernel picks the
        // address. The result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::last_os(format!("mmap {len} bytes of DMA memory")));
        }
        Ok(DmaRegion {
            ptr: p as *mut u8,
            len,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Process virtual address (for VFIO_IOMMU_MAP_DMA).
    pub fn vaddr(&self) -> u64 {
        self.ptr as u64
    }

    fn check(&self, off: usize, n: usize) -> Result<()> {
        if off.checked_add(n).is_none_or(|e| e > self.len) {
            return Err(Error::Bounds(format!(
                "DMA access {off:#x}+{n:#x} in region of {:#x}",
                self.len
            )));
        }
        Ok(())
    }

    /// Copy `buf.len()` bytes out of the region at `off`.
    pub fn read(&self, off: usize, buf: &mut [u8]) -> Result<()> {
        self.check(off, buf.len())?;
        let mut i = 0;
        // 8-byte volatile loads where both sides allow it, bytes otherwise.
        while i < buf.len() {
            let src = off + i;
            if src.is_multiple_of(8) && buf.len() - i >= 8 {
                // SAFETY: src+8 <= len (checked above), aligned; volatile
                // load from the raw pointer, no reference formed.
                let v = unsafe { std::ptr::read_volatile(self.ptr.add(src) as *const u64) };
                buf[i..i + 8].copy_from_slice(&v.to_ne_bytes());
                i += 8;
            } else {
                // SAFETY: src < len (checked above).
                buf[i] = unsafe { std::ptr::read_volatile(self.ptr.add(src)) };
                i += 1;
            }
        }
        Ok(())
    }

    /// Copy `data` into the region at `off`.
    pub fn write(&self, off: usize, data: &[u8]) -> Result<()> {
        self.check(off, data.len())?;
        let mut i = 0;
        while i < data.len() {
            let dst = off + i;
            if dst.is_multiple_of(8) && data.len() - i >= 8 {
                let mut w = [0u8; 8];
                w.copy_from_slice(&data[i..i + 8]);
                // SAFETY: dst+8 <= len (checked), aligned; volatile store.
                unsafe {
                    std::ptr::write_volatile(self.ptr.add(dst) as *mut u64, u64::from_ne_bytes(w))
                };
                i += 8;
            } else {
                // SAFETY: dst < len (checked).
                unsafe { std::ptr::write_volatile(self.ptr.add(dst), data[i]) };
                i += 1;
            }
        }
        Ok(())
    }

    /// Fill `[off, off+n)` with `byte`.
    pub fn fill(&self, off: usize, n: usize, byte: u8) -> Result<()> {
        self.check(off, n)?;
        for i in 0..n {
            // SAFETY: off+i < off+n <= len (checked).
            unsafe { std::ptr::write_volatile(self.ptr.add(off + i), byte) };
        }
        Ok(())
    }

    pub fn read32(&self, off: usize) -> Result<u32> {
        self.check(off, 4)?;
        if !off.is_multiple_of(4) {
            return Err(Error::Bounds(format!("misaligned DMA read32 at {off:#x}")));
        }
        // SAFETY: in range and aligned (checked); volatile load.
        Ok(u32::from_le(unsafe {
            std::ptr::read_volatile(self.ptr.add(off) as *const u32)
        }))
    }

    pub fn write32(&self, off: usize, v: u32) -> Result<()> {
        self.check(off, 4)?;
        if !off.is_multiple_of(4) {
            return Err(Error::Bounds(format!("misaligned DMA write32 at {off:#x}")));
        }
        // SAFETY: in range and aligned (checked); volatile store.
        unsafe { std::ptr::write_volatile(self.ptr.add(off) as *mut u32, v.to_le()) };
        Ok(())
    }

    pub fn write64(&self, off: usize, v: u64) -> Result<()> {
        self.write32(off, v as u32)?;
        self.write32(off + 4, (v >> 32) as u32)
    }

    pub fn read64(&self, off: usize) -> Result<u64> {
        Ok(self.read32(off)? as u64 | (self.read32(off + 4)? as u64) << 32)
    }
}

impl Drop for DmaRegion {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned in `new`; nothing
        // refers to the region after drop (Arc holders are gone).
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

/// A DMA region mapped at an IOVA.
#[derive(Clone)]
pub struct DmaBuf {
    pub region: Arc<DmaRegion>,
    pub iova: u64,
}

impl DmaBuf {
    pub fn len(&self) -> usize {
        self.region.len()
    }
    pub fn is_empty(&self) -> bool {
        self.region.is_empty()
    }
}

/// Hands out IOVA ranges (bump allocator, page aligned) and maps regions
/// there. The window stays below the x86 MSI range at 0xfee0_0000.
pub struct IovaAllocator {
    next: u64,
    end: u64,
}

impl Default for IovaAllocator {
    fn default() -> Self {
        IovaAllocator {
            next: 0x4000_0000,
            end: 0xfee0_0000,
        }
    }
}

impl IovaAllocator {
    /// Allocate `len` bytes of DMA memory and map it for `dev`.
    pub fn alloc(&mut self, dev: &mut dyn PciFunction, len: usize) -> Result<DmaBuf> {
        let region = Arc::new(DmaRegion::new(len)?);
        let size = region.len() as u64;
        if self.next + size > self.end {
            return Err(Error::Invalid("IOVA space exhausted".into()));
        }
        let iova = self.next;
        dev.dma_map(&region, iova)?;
        // Leave one unmapped guard page between buffers.
        self.next += size + PAGE as u64;
        Ok(DmaBuf { region, iova })
    }

    /// Unmap a buffer from the device (memory is freed when the last
    /// `Arc` holder drops).
    pub fn free(&mut self, dev: &mut dyn PciFunction, buf: DmaBuf) -> Result<()> {
        dev.dma_unmap(buf.iova, buf.region.len())
    }

    /// An IOVA that is guaranteed not mapped by this allocator.
    pub fn unmapped_iova(&self) -> u64 {
        self.next + PAGE as u64 * 16
    }
}
