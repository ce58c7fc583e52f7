//! The backend trait: one PCI function as a userspace driver sees it.

use crate::dma::DmaRegion;
use crate::Result;
use std::sync::Arc;
use std::time::Duration;

/// One PCI function (PF or VF). The NVMe driver is written against this
/// trait only, so a simulated card or a fault-injecting model can stand in
/// for real hardware behind kernel VFIO.
///
/// DMA memory is process memory ([`DmaRegion`]) that a backend makes
/// visible to the device at an IOVA with [`PciFunction::dma_map`]; the
/// device only ever sees IOVAs.
pub trait PciFunction: Send {
    /// A human-readable name (the PCI address for real devices).
    fn name(&self) -> String;

    /// Read `buf.len()` bytes of configuration space at `offset`.
    fn config_read(&self, offset: u16, buf: &mut [u8]) -> Result<()>;
    /// Write configuration space at `offset`.
    fn config_write(&self, offset: u16, data: &[u8]) -> Result<()>;

    /// Size in bytes of memory BAR `bar` (0 if absent).
    fn bar_len(&self, bar: u8) -> u64;
    /// 32-bit MMIO read (offset must be 4-byte aligned and in range).
    fn bar_read32(&self, bar: u8, offset: u64) -> Result<u32>;
    /// 32-bit MMIO write.
    fn bar_write32(&self, bar: u8, offset: u64, value: u32) -> Result<()>;
    /// 64-bit MMIO read (8-byte aligned).
    fn bar_read64(&self, bar: u8, offset: u64) -> Result<u64>;
    /// 64-bit MMIO write.
    fn bar_write64(&self, bar: u8, offset: u64, value: u64) -> Result<()>;

    /// Make `region` visible to the device at `iova` (read + write).
    fn dma_map(&mut self, region: &Arc<DmaRegion>, iova: u64) -> Result<()>;
    /// Remove the mapping of `[iova, iova+len)`.
    fn dma_unmap(&mut self, iova: u64, len: usize) -> Result<()>;

    /// Number of MSI-X vectors the function offers (0 = none).
    fn irq_count(&self) -> u32;
    /// Route MSI-X vectors `0..count` to waitable events. Returns the
    /// number enabled.
    fn irq_enable(&mut self, count: u32) -> Result<u32>;
    /// Disable all interrupt vectors (polling mode).
    fn irq_disable(&mut self) -> Result<()>;
    /// Wait until `vector` fired or `timeout` passed; consumes the event.
    /// Returns whether it fired.
    fn irq_wait(&self, vector: u32, timeout: Duration) -> Result<bool>;

    /// The file descriptor behind `vector` (an eventfd on VFIO), for callers
    /// that multiplex interrupts with epoll. `None` if the backend has none.
    fn irq_fd(&self, _vector: u32) -> Option<std::os::fd::RawFd> {
        None
    }

    /// Function-level reset (FLR or the backend's equivalent).
    fn reset(&mut self) -> Result<()>;

    /// Set Bus Master Enable and Memory Space Enable in the command register
    /// (PCI Local Bus 3.0 §6.2.2).
    fn enable_bus_master(&self) -> Result<()> {
        let mut cmd = [0u8; 2];
        self.config_read(4, &mut cmd)?;
        let v = u16::from_le_bytes(cmd) | 0x0006;
        self.config_write(4, &v.to_le_bytes())
    }
}
