//! Real kernel VFIO backend: container / group / device, BAR mmap, type1
//! IOMMU DMA mapping, MSI-X through eventfds, FLR.
//!
//! The ioctl ABI is `include/uapi/linux/vfio.h`; numbers are
//! `_IO(VFIO_TYPE=';', VFIO_BASE=100 + n)`.

use crate::backend::PciFunction;
use crate::dma::DmaRegion;
use crate::mmio::Mmio;
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const fn vfio_io(n: u64) -> u64 {
    (b';' as u64) << 8 | (100 + n)
}
const VFIO_GET_API_VERSION: u64 = vfio_io(0);
const VFIO_CHECK_EXTENSION: u64 = vfio_io(1);
const VFIO_SET_IOMMU: u64 = vfio_io(2);
const VFIO_GROUP_GET_STATUS: u64 = vfio_io(3);
const VFIO_GROUP_SET_CONTAINER: u64 = vfio_io(4);
const VFIO_GROUP_GET_DEVICE_FD: u64 = vfio_io(6);
const VFIO_DEVICE_GET_INFO: u64 = vfio_io(7);
const VFIO_DEVICE_GET_REGION_INFO: u64 = vfio_io(8);
const VFIO_DEVICE_GET_IRQ_INFO: u64 = vfio_io(9);
const VFIO_DEVICE_SET_IRQS: u64 = vfio_io(10);
const VFIO_DEVICE_RESET: u64 = vfio_io(11);
const VFIO_IOMMU_MAP_DMA: u64 = vfio_io(13);
const VFIO_IOMMU_UNMAP_DMA: u64 = vfio_io(14);

const VFIO_API_VERSION: i32 = 0;
const VFIO_TYPE1_IOMMU: u64 = 1;
const VFIO_TYPE1V2_IOMMU: u64 = 3;
const VFIO_GROUP_FLAGS_VIABLE: u32 = 1;
const VFIO_DEVICE_FLAGS_RESET: u32 = 1;
const VFIO_DEVICE_FLAGS_PCI: u32 = 2;
const VFIO_REGION_INFO_FLAG_MMAP: u32 = 4;
const VFIO_PCI_CONFIG_REGION_INDEX: u32 = 7;
const VFIO_PCI_MSIX_IRQ_INDEX: u32 = 2;
const VFIO_IRQ_SET_DATA_NONE: u32 = 1;
const VFIO_IRQ_SET_DATA_EVENTFD: u32 = 4;
const VFIO_IRQ_SET_ACTION_TRIGGER: u32 = 32;
const VFIO_DMA_MAP_FLAG_READ: u32 = 1;
const VFIO_DMA_MAP_FLAG_WRITE: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct GroupStatus {
    argsz: u32,
    flags: u32,
}
#[repr(C)]
#[derive(Default)]
struct DeviceInfo {
    argsz: u32,
    flags: u32,
    num_regions: u32,
    num_irqs: u32,
}
#[repr(C)]
#[derive(Default)]
struct RegionInfo {
    argsz: u32,
    flags: u32,
    index: u32,
    cap_offset: u32,
    size: u64,
    offset: u64,
}
#[repr(C)]
#[derive(Default)]
struct IrqInfo {
    argsz: u32,
    flags: u32,
    index: u32,
    count: u32,
}
#[repr(C)]
struct DmaMap {
    argsz: u32,
    flags: u32,
    vaddr: u64,
    iova: u64,
    size: u64,
}
#[repr(C)]
struct DmaUnmap {
    argsz: u32,
    flags: u32,
    iova: u64,
    size: u64,
}
const _: () = assert!(std::mem::size_of::<RegionInfo>() == 32);
const _: () = assert!(std::mem::size_of::<DmaMap>() == 32);
const _: () = assert!(std::mem::size_of::<DmaUnmap>() == 24);
const _: () = assert!(std::mem::size_of::<IrqInfo>() == 16);

/// Issue an ioctl whose argument is a pointer to `arg`.
fn ioctl_ptr<T>(fd: RawFd, req: u64, arg: &mut T, what: &str) -> Result<i32> {
    // SAFETY: VFIO syscall. `arg` is a live, properly sized #[repr(C)]
    // struct whose argsz the caller set; the kernel reads/writes at most
    // argsz bytes of it.
    let r = unsafe { libc::ioctl(fd, req as _, arg as *mut T) };
    if r < 0 {
        return Err(Error::last_os(what.to_string()));
    }
    Ok(r)
}

/// Issue an ioctl with an integer argument.
fn ioctl_val(fd: RawFd, req: u64, val: u64, what: &str) -> Result<i32> {
    // SAFETY: VFIO syscall with a plain integer argument (no memory).
    let r = unsafe { libc::ioctl(fd, req as _, val) };
    if r < 0 {
        return Err(Error::last_os(what.to_string()));
    }
    Ok(r)
}

struct Bar {
    mmio: Option<Mmio>,
    map_len: usize,
    /// Offset of the region in the device fd (for pread/pwrite fallback).
    fd_offset: u64,
    size: u64,
}

/// One PCI function opened through kernel VFIO.
pub struct VfioFunction {
    bdf: String,
    _container: File,
    _group: File,
    device: File,
    config_offset: u64,
    bars: Vec<Option<Bar>>,
    flags: u32,
    msix_count: u32,
    eventfds: Vec<OwnedFd>,
    maps: BTreeMap<u64, (Arc<DmaRegion>, usize)>,
}

/// The IOMMU group number of a PCI function (from sysfs).
pub fn iommu_group(bdf: &str) -> Result<u32> {
    let link = Path::new("/sys/bus/pci/devices")
        .join(bdf)
        .join("iommu_group");
    let target =
        std::fs::read_link(&link).map_err(|e| Error::io(format!("read {}", link.display()), e))?;
    target
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Vfio(format!("bad iommu_group link {}", target.display())))
}

impl VfioFunction {
    /// Open `bdf` (e.g. `0000:01:00.1`), which must be bound to vfio-pci.
    pub fn open(bdf: &str) -> Result<Self> {
        let group_no = iommu_group(bdf)?;
        let rw = |p: &str| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(p)
                .map_err(|e| Error::io(format!("open {p}"), e))
        };
        let container = rw("/dev/vfio/vfio")?;
        let cfd = container.as_raw_fd();
        let v = ioctl_val(cfd, VFIO_GET_API_VERSION, 0, "VFIO_GET_API_VERSION")?;
        if v != VFIO_API_VERSION {
            return Err(Error::Vfio(format!("unknown VFIO API version {v}")));
        }
        let iommu_type = if ioctl_val(
            cfd,
            VFIO_CHECK_EXTENSION,
            VFIO_TYPE1V2_IOMMU,
            "VFIO_CHECK_EXTENSION",
        )? > 0
        {
            VFIO_TYPE1V2_IOMMU
        } else if ioctl_val(
            cfd,
            VFIO_CHECK_EXTENSION,
            VFIO_TYPE1_IOMMU,
            "VFIO_CHECK_EXTENSION",
        )? > 0
        {
            VFIO_TYPE1_IOMMU
        } else {
            return Err(Error::Vfio("no type1 IOMMU support".into()));
        };
        let group = rw(&format!("/dev/vfio/{group_no}"))?;
        let gfd = group.as_raw_fd();
        let mut st = GroupStatus {
            argsz: std::mem::size_of::<GroupStatus>() as u32,
            flags: 0,
        };
        ioctl_ptr(gfd, VFIO_GROUP_GET_STATUS, &mut st, "VFIO_GROUP_GET_STATUS")?;
        if st.flags & VFIO_GROUP_FLAGS_VIABLE == 0 {
            return Err(Error::Vfio(format!(
                "IOMMU group {group_no} is not viable (bind every device in it to vfio-pci)"
            )));
        }
        let mut c = cfd;
        ioctl_ptr(
            gfd,
            VFIO_GROUP_SET_CONTAINER,
            &mut c,
            "VFIO_GROUP_SET_CONTAINER",
        )?;
        ioctl_val(cfd, VFIO_SET_IOMMU, iommu_type, "VFIO_SET_IOMMU")?;
        let name = CString::new(bdf).map_err(|_| Error::Invalid(format!("bad BDF {bdf:?}")))?;
        // SAFETY: VFIO syscall; `name` is a NUL-terminated string that
        // outlives the call; the kernel only reads it.
        let dfd = unsafe { libc::ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD as _, name.as_ptr()) };
        if dfd < 0 {
            return Err(Error::last_os(format!("VFIO_GROUP_GET_DEVICE_FD {bdf}")));
        }
        // SAFETY: dfd is a fresh fd we own (returned by the kernel above).
        let device = unsafe { File::from_raw_fd(dfd) };
        let mut info = DeviceInfo {
            argsz: std::mem::size_of::<DeviceInfo>() as u32,
            ..Default::default()
        };
        ioctl_ptr(dfd, VFIO_DEVICE_GET_INFO, &mut info, "VFIO_DEVICE_GET_INFO")?;
        if info.flags & VFIO_DEVICE_FLAGS_PCI == 0 {
            return Err(Error::Vfio(format!("{bdf} is not a PCI device")));
        }
        let region = |index: u32| -> Result<RegionInfo> {
            let mut r = RegionInfo {
                argsz: std::mem::size_of::<RegionInfo>() as u32,
                index,
                ..Default::default()
            };
            ioctl_ptr(
                dfd,
                VFIO_DEVICE_GET_REGION_INFO,
                &mut r,
                "VFIO_DEVICE_GET_REGION_INFO",
            )?;
            Ok(r)
        };
        let cfg = region(VFIO_PCI_CONFIG_REGION_INDEX)?;
        let mut bars = Vec::new();
        for i in 0..6u32 {
            let r = region(i)?;
            if r.size == 0 {
                bars.push(None);
                continue;
            }
            let mut mmio = None;
            let map_len = r.size as usize;
            if r.flags & VFIO_REGION_INFO_FLAG_MMAP != 0 {
                // SAFETY: VFIO syscall: map the BAR region of the device fd
                // at the offset VFIO gave us; result checked for failure.
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        map_len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED,
                        dfd,
                        r.offset as libc::off_t,
                    )
                };
                if p != libc::MAP_FAILED {
                    // SAFETY: p maps map_len bytes until munmap in Drop.
                    mmio = Some(unsafe { Mmio::new(p as *mut u8, map_len) });
                }
            }
            bars.push(Some(Bar {
                mmio,
                map_len,
                fd_offset: r.offset,
                size: r.size,
            }));
        }
        let mut irq = IrqInfo {
            argsz: std::mem::size_of::<IrqInfo>() as u32,
            index: VFIO_PCI_MSIX_IRQ_INDEX,
            ..Default::default()
        };
        let msix_count = match ioctl_ptr(
            dfd,
            VFIO_DEVICE_GET_IRQ_INFO,
            &mut irq,
            "VFIO_DEVICE_GET_IRQ_INFO",
        ) {
            Ok(_) => irq.count,
            Err(_) => 0,
        };
        Ok(VfioFunction {
            bdf: bdf.to_string(),
            _container: container,
            _group: group,
            device,
            config_offset: cfg.offset,
            bars,
            flags: info.flags,
            msix_count,
            eventfds: Vec::new(),
            maps: BTreeMap::new(),
        })
    }

    fn bar(&self, bar: u8) -> Result<&Bar> {
        self.bars
            .get(bar as usize)
            .and_then(|b| b.as_ref())
            .ok_or_else(|| Error::Bounds(format!("{}: no BAR{bar}", self.bdf)))
    }

    fn bar_pio(&self, b: &Bar, offset: u64, buf: &mut [u8], write: bool) -> Result<()> {
        if offset + buf.len() as u64 > b.size {
            return Err(Error::Bounds(format!(
                "BAR access {offset:#x} beyond {:#x}",
                b.size
            )));
        }
        let r = if write {
            self.device.write_all_at(buf, b.fd_offset + offset)
        } else {
            self.device.read_exact_at(buf, b.fd_offset + offset)
        };
        r.map_err(|e| Error::io(format!("{} BAR access at {offset:#x}", self.bdf), e))
    }

    /// Whether the device supports VFIO_DEVICE_RESET.
    pub fn can_reset(&self) -> bool {
        self.flags & VFIO_DEVICE_FLAGS_RESET != 0
    }
}

impl PciFunction for VfioFunction {
    fn name(&self) -> String {
        self.bdf.clone()
    }

    fn config_read(&self, offset: u16, buf: &mut [u8]) -> Result<()> {
        self.device
            .read_exact_at(buf, self.config_offset + offset as u64)
            .map_err(|e| Error::io(format!("{} config read at {offset:#x}", self.bdf), e))
    }

    fn config_write(&self, offset: u16, data: &[u8]) -> Result<()> {
        self.device
            .write_all_at(data, self.config_offset + offset as u64)
            .map_err(|e| Error::io(format!("{} config write at {offset:#x}", self.bdf), e))
    }

    fn bar_len(&self, bar: u8) -> u64 {
        self.bar(bar).map(|b| b.size).unwrap_or(0)
    }

    fn bar_read32(&self, bar: u8, offset: u64) -> Result<u32> {
        let b = self.bar(bar)?;
        match &b.mmio {
            Some(m) => m.read32(offset),
            None => {
                let mut v = [0u8; 4];
                self.bar_pio(b, offset, &mut v, false)?;
                Ok(u32::from_le_bytes(v))
            }
        }
    }

    fn bar_write32(&self, bar: u8, offset: u64, value: u32) -> Result<()> {
        let b = self.bar(bar)?;
        match &b.mmio {
            Some(m) => m.write32(offset, value),
            None => self.bar_pio(b, offset, &mut value.to_le_bytes(), true),
        }
    }

    fn bar_read64(&self, bar: u8, offset: u64) -> Result<u64> {
        let b = self.bar(bar)?;
        match &b.mmio {
            Some(m) => m.read64(offset),
            None => {
                let mut v = [0u8; 8];
                self.bar_pio(b, offset, &mut v, false)?;
                Ok(u64::from_le_bytes(v))
            }
        }
    }

    fn bar_write64(&self, bar: u8, offset: u64, value: u64) -> Result<()> {
        let b = self.bar(bar)?;
        match &b.mmio {
            Some(m) => m.write64(offset, value),
            None => self.bar_pio(b, offset, &mut value.to_le_bytes(), true),
        }
    }

    fn dma_map(&mut self, region: &Arc<DmaRegion>, iova: u64) -> Result<()> {
        let mut m = DmaMap {
            argsz: std::mem::size_of::<DmaMap>() as u32,
            flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
            vaddr: region.vaddr(),
            iova,
            size: region.len() as u64,
        };
        ioctl_ptr(
            self._container.as_raw_fd(),
            VFIO_IOMMU_MAP_DMA,
            &mut m,
            &format!("VFIO_IOMMU_MAP_DMA iova {iova:#x}"),
        )?;
        // Keep the memory alive while the device can reach it.
        self.maps.insert(iova, (region.clone(), region.len()));
        Ok(())
    }

    fn dma_unmap(&mut self, iova: u64, len: usize) -> Result<()> {
        let mut u = DmaUnmap {
            argsz: std::mem::size_of::<DmaUnmap>() as u32,
            flags: 0,
            iova,
            size: len as u64,
        };
        ioctl_ptr(
            self._container.as_raw_fd(),
            VFIO_IOMMU_UNMAP_DMA,
            &mut u,
            &format!("VFIO_IOMMU_UNMAP_DMA iova {iova:#x}"),
        )?;
        self.maps.remove(&iova);
        Ok(())
    }

    fn irq_count(&self) -> u32 {
        self.msix_count
    }

    fn irq_enable(&mut self, count: u32) -> Result<u32> {
        let count = count.min(self.msix_count);
        if count == 0 {
            return Err(Error::Unsupported(format!(
                "{}: no MSI-X vectors",
                self.bdf
            )));
        }
        self.irq_disable()?;
        let mut fds = Vec::new();
        for _ in 0..count {
            // SAFETY: eventfd syscall, no memory arguments; checked below.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(Error::last_os("eventfd"));
            }
            // SAFETY: fd is a fresh descriptor we own.
            fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        // struct vfio_irq_set { argsz, flags, index, start, count, data[] }
        let mut buf: Vec<u32> = vec![0; 5 + count as usize];
        buf[0] = (buf.len() * 4) as u32;
        buf[1] = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
        buf[2] = VFIO_PCI_MSIX_IRQ_INDEX;
        buf[3] = 0;
        buf[4] = count;
        for (i, fd) in fds.iter().enumerate() {
            buf[5 + i] = fd.as_raw_fd() as u32;
        }
        // SAFETY: VFIO syscall; `buf` holds a vfio_irq_set header followed
        // by `count` s32 eventfds, and argsz is its exact byte size.
        let r = unsafe {
            libc::ioctl(
                self.device.as_raw_fd(),
                VFIO_DEVICE_SET_IRQS as _,
                buf.as_mut_ptr(),
            )
        };
        if r < 0 {
            return Err(Error::last_os(format!(
                "{} VFIO_DEVICE_SET_IRQS (MSI-X x{count})",
                self.bdf
            )));
        }
        self.eventfds = fds;
        Ok(count)
    }

    fn irq_disable(&mut self) -> Result<()> {
        if self.eventfds.is_empty() {
            return Ok(());
        }
        let mut buf: [u32; 5] = [
            20,
            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
            VFIO_PCI_MSIX_IRQ_INDEX,
            0,
            0,
        ];
        // SAFETY: VFIO syscall; a header-only vfio_irq_set (count 0 with
        // DATA_NONE disables the index), argsz = 20.
        let r = unsafe {
            libc::ioctl(
                self.device.as_raw_fd(),
                VFIO_DEVICE_SET_IRQS as _,
                buf.as_mut_ptr(),
            )
        };
        self.eventfds.clear();
        if r < 0 {
            return Err(Error::last_os(format!("{} disable MSI-X", self.bdf)));
        }
        Ok(())
    }

    fn irq_wait(&self, vector: u32, timeout: Duration) -> Result<bool> {
        let fd = self
            .eventfds
            .get(vector as usize)
            .ok_or_else(|| Error::Invalid(format!("MSI-X vector {vector} not enabled")))?;
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: poll syscall on one live pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(Error::io("poll eventfd", e));
        }
        if r == 0 {
            return Ok(false);
        }
        let mut v = 0u64;
        // SAFETY: read 8 bytes from a non-blocking eventfd into a local u64.
        unsafe { libc::read(fd.as_raw_fd(), &mut v as *mut u64 as *mut libc::c_void, 8) };
        Ok(true)
    }

    fn irq_fd(&self, vector: u32) -> Option<RawFd> {
        self.eventfds.get(vector as usize).map(|f| f.as_raw_fd())
    }

    fn reset(&mut self) -> Result<()> {
        if !self.can_reset() {
            return Err(Error::Unsupported(format!(
                "{}: no function reset",
                self.bdf
            )));
        }
        ioctl_val(
            self.device.as_raw_fd(),
            VFIO_DEVICE_RESET,
            0,
            "VFIO_DEVICE_RESET",
        )?;
        Ok(())
    }
}

impl Drop for VfioFunction {
    fn drop(&mut self) {
        let _ = self.irq_disable();
        let iovas: Vec<(u64, usize)> = self.maps.iter().map(|(k, v)| (*k, v.1)).collect();
        for (iova, len) in iovas {
            let _ = self.dma_unmap(iova, len);
        }
        for b in self.bars.iter_mut().flatten() {
            if let Some(m) = b.mmio.take() {
                // SAFETY: base/len are the exact mmap of this BAR made in
                // `open`; the Mmio is dropped here, so nothing uses it after.
                unsafe { libc::munmap(m.base_ptr() as *mut libc::c_void, b.map_len) };
            }
        }
    }
}
