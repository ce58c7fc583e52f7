//! The guest's RAM as the card's host memory: each SYNC_SYSMEM region is
//! mapped (shared) from QEMU's memory-backend file and entered into the
//! served function's IOMMU domain at IOVA = guest-physical address, so
//! the card's DMA reads and writes the guest's memory directly and a DMA
//! outside guest RAM faults like any other.

use crate::mpqemu::Region;
use nitrous_sim::platform::HostMemory;
use std::io;
use std::os::fd::AsRawFd;

/// One mapped region of guest RAM.
pub struct GuestRegion {
    gpa: u64,
    len: usize,
    base: *mut u8,
    map: *mut libc::c_void,
    map_len: usize,
}

// SAFETY: the mapping is shared memory owned by this object; accesses are
// plain byte copies (the guest may race them, as with real DMA).
unsafe impl Send for GuestRegion {}
unsafe impl Sync for GuestRegion {}

impl GuestRegion {
    /// Map `r` (the fd is only needed for the mmap and is closed after).
    pub fn map(r: Region) -> io::Result<Self> {
        if r.size == 0 || r.offset < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "region at {:#x}: size {} offset {}",
                    r.gpa, r.size, r.offset
                ),
            ));
        }
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        let off = r.offset as u64;
        let skew = off % page;
        let map_len = (r.size + skew) as usize;
        // SAFETY: a fresh shared mapping of the caller's descriptor.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                r.fd.as_raw_fd(),
                (off - skew) as libc::off_t,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(GuestRegion {
            gpa: r.gpa,
            len: r.size as usize,
            // SAFETY: skew < page <= map_len.
            base: unsafe { (map as *mut u8).add(skew as usize) },
            map,
            map_len,
        })
    }

    /// Guest-physical address of the first byte.
    pub fn gpa(&self) -> u64 {
        self.gpa
    }
}

impl Drop for GuestRegion {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping once.
        unsafe { libc::munmap(self.map, self.map_len) };
    }
}

impl HostMemory for GuestRegion {
    fn len(&self) -> usize {
        self.len
    }
    fn read(&self, offset: usize, buf: &mut [u8]) {
        assert!(offset + buf.len() <= self.len);
        // SAFETY: in bounds (checked); the mapping lives as long as self.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(offset), buf.as_mut_ptr(), buf.len()) }
    }
    fn write(&self, offset: usize, data: &[u8]) {
        assert!(offset + data.len() <= self.len);
        // SAFETY: as in read.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.base.add(offset), data.len()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{FromRawFd, OwnedFd};

    #[test]
    fn a_region_maps_the_file_at_its_offset() {
        // SAFETY: plain syscalls on a fresh memfd.
        let fd = unsafe { libc::memfd_create(c"ram".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0);
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        assert_eq!(unsafe { libc::ftruncate(fd.as_raw_fd(), 3 * 4096) }, 0);
        let other = fd.try_clone().unwrap();
        let r = GuestRegion::map(Region {
            gpa: 0x10_0000,
            size: 8192,
            offset: 4096,
            fd,
        })
        .unwrap();
        r.write(10, b"card");
        let mut b = [0u8; 4];
        // The same bytes through the file at offset 4096 + 10.
        let n = unsafe { libc::pread(other.as_raw_fd(), b.as_mut_ptr().cast(), 4, 4106) };
        assert_eq!(n, 4);
        assert_eq!(&b, b"card");
        let mut c = [0u8; 4];
        r.read(10, &mut c);
        assert_eq!(&c, b"card");
        assert_eq!((r.gpa(), HostMemory::len(&r)), (0x10_0000, 8192));
    }
}
