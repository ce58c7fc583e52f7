//! The IOMMU: one translation domain per function.
//!
//! A domain maps IOVA ranges onto host memory ([`HostMemory`]: anything
//! with read/write at an offset, e.g. the driver's DMA regions). A DMA
//! access must lie entirely inside mappings of its own function's domain;
//! otherwise it faults, nothing is transferred, and the fault is logged
//! (function, IOVA, length, direction, cycle).

use std::collections::BTreeMap;
use std::sync::Arc;

/// Host memory a mapping points at. Offsets are relative to the start of
/// the memory object; accesses are within `0..len()` (checked by the IOMMU).
pub trait HostMemory: Send + Sync {
    /// Size in bytes.
    fn len(&self) -> usize;
    /// Whether the object has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copy `buf.len()` bytes out at `offset`.
    fn read(&self, offset: usize, buf: &mut [u8]);
    /// Copy `data` in at `offset`.
    fn write(&self, offset: usize, data: &[u8]);
}

/// Plain host memory for tests and tools.
pub struct VecMemory(std::sync::Mutex<Vec<u8>>);

impl VecMemory {
    /// `len` zero bytes.
    pub fn new(len: usize) -> Self {
        VecMemory(std::sync::Mutex::new(vec![0; len]))
    }
    /// A copy of the contents.
    pub fn snapshot(&self) -> Vec<u8> {
        self.lock().clone()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl HostMemory for VecMemory {
    fn len(&self) -> usize {
        self.lock().len()
    }
    fn read(&self, offset: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.lock()[offset..offset + buf.len()]);
    }
    fn write(&self, offset: usize, data: &[u8]) {
        self.lock()[offset..offset + data.len()].copy_from_slice(data);
    }
}

/// One logged DMA fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Requester function (the domain).
    pub func: u8,
    pub iova: u64,
    pub len: u32,
    pub write: bool,
    /// Simulation cycle of the access.
    pub cycle: u64,
    /// Why: "unmapped" or "bus master disabled".
    pub reason: &'static str,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cycle {}: function {} DMA {} of {} bytes at IOVA {:#x}: {}",
            self.cycle,
            self.func,
            if self.write { "write" } else { "read" },
            self.len,
            self.iova,
            self.reason
        )
    }
}

/// A map/unmap request the IOMMU refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("function {func}: no IOMMU domain")]
    NoDomain { func: u8 },
    #[error("function {func}: empty or wrapping range at IOVA {iova:#x}")]
    BadRange { func: u8, iova: u64 },
    #[error("function {func}: IOVA {iova:#x}+{len:#x} overlaps an existing mapping")]
    Overlap { func: u8, iova: u64, len: u64 },
    #[error("function {func}: nothing mapped in IOVA {iova:#x}+{len:#x}")]
    NotMapped { func: u8, iova: u64, len: u64 },
}

/// A piece of an access: (memory, offset in it, length).
type Piece = (Arc<dyn HostMemory>, usize, usize);

struct Mapping {
    len: u64,
    mem: Arc<dyn HostMemory>,
}

/// The IOMMU: domains for functions `0..functions`.
pub struct Iommu {
    domains: Vec<BTreeMap<u64, Mapping>>,
    faults: Vec<Fault>,
    fault_counts: Vec<u64>,
}

impl Iommu {
    /// Domains for `functions` functions (PF + VFs).
    pub fn new(functions: usize) -> Self {
        Iommu {
            domains: (0..functions).map(|_| BTreeMap::new()).collect(),
            faults: Vec::new(),
            fault_counts: vec![0; functions],
        }
    }

    fn domain(&mut self, func: u8) -> Result<&mut BTreeMap<u64, Mapping>, MapError> {
        self.domains
            .get_mut(func as usize)
            .ok_or(MapError::NoDomain { func })
    }

    /// Map all of `mem` at `iova` in `func`'s domain.
    pub fn map(&mut self, func: u8, iova: u64, mem: Arc<dyn HostMemory>) -> Result<(), MapError> {
        let len = mem.len() as u64;
        if len == 0 || iova.checked_add(len).is_none() {
            return Err(MapError::BadRange { func, iova });
        }
        let d = self.domain(func)?;
        let end = iova + len;
        let clash_below = d
            .range(..end)
            .next_back()
            .is_some_and(|(&a, m)| a + m.len > iova);
        if clash_below {
            return Err(MapError::Overlap { func, iova, len });
        }
        d.insert(iova, Mapping { len, mem });
        Ok(())
    }

    /// Remove every mapping of `func` that lies inside `[iova, iova+len)`
    /// (VFIO_IOMMU_UNMAP_DMA semantics). Error if none does.
    pub fn unmap(&mut self, func: u8, iova: u64, len: u64) -> Result<(), MapError> {
        let end = iova.saturating_add(len);
        let d = self.domain(func)?;
        let gone: Vec<u64> = d
            .range(iova..end)
            .filter(|(&a, m)| a + m.len <= end)
            .map(|(&a, _)| a)
            .collect();
        if gone.is_empty() {
            return Err(MapError::NotMapped { func, iova, len });
        }
        for a in gone {
            d.remove(&a);
        }
        Ok(())
    }

    /// Remove every mapping of `func`.
    pub fn clear(&mut self, func: u8) {
        if let Some(d) = self.domains.get_mut(func as usize) {
            d.clear();
        }
    }

    /// Number of mappings of `func`.
    pub fn mappings(&self, func: u8) -> usize {
        self.domains.get(func as usize).map_or(0, |d| d.len())
    }

    /// The pieces `(mapping, offset in it, length)` covering the access, or
    /// None if any byte is unmapped.
    fn resolve(&self, func: u8, iova: u64, len: usize) -> Option<Vec<Piece>> {
        let d = self.domains.get(func as usize)?;
        let mut out = Vec::new();
        let mut a = iova;
        let end = iova.checked_add(len as u64)?;
        while a < end {
            let (&base, m) = d.range(..=a).next_back()?;
            if a >= base + m.len {
                return None;
            }
            let n = (base + m.len).min(end) - a;
            out.push((m.mem.clone(), (a - base) as usize, n as usize));
            a += n;
        }
        Some(out)
    }

    /// Log a fault (also used by the platform for bus-master faults).
    pub fn log_fault(&mut self, fault: Fault) {
        if let Some(c) = self.fault_counts.get_mut(fault.func as usize) {
            *c += 1;
        }
        self.faults.push(fault);
    }

    /// DMA read by `func`: fills `buf` or faults (buf zeroed, fault logged).
    pub fn read(&mut self, func: u8, iova: u64, buf: &mut [u8], cycle: u64) -> Result<(), Fault> {
        match self.resolve(func, iova, buf.len()) {
            Some(pieces) => {
                let mut o = 0;
                for (mem, off, n) in pieces {
                    mem.read(off, &mut buf[o..o + n]);
                    o += n;
                }
                Ok(())
            }
            None => {
                buf.fill(0);
                let f = Fault {
                    func,
                    iova,
                    len: buf.len() as u32,
                    write: false,
                    cycle,
                    reason: "unmapped",
                };
                self.log_fault(f.clone());
                Err(f)
            }
        }
    }

    /// DMA write by `func`: stores `data` or faults (dropped, logged).
    pub fn write(&mut self, func: u8, iova: u64, data: &[u8], cycle: u64) -> Result<(), Fault> {
        match self.resolve(func, iova, data.len()) {
            Some(pieces) => {
                let mut o = 0;
                for (mem, off, n) in pieces {
                    mem.write(off, &data[o..o + n]);
                    o += n;
                }
                Ok(())
            }
            None => {
                let f = Fault {
                    func,
                    iova,
                    len: data.len() as u32,
                    write: true,
                    cycle,
                    reason: "unmapped",
                };
                self.log_fault(f.clone());
                Err(f)
            }
        }
    }

    /// Every fault so far, oldest first.
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// Faults of function `func` so far.
    pub fn fault_count(&self, func: u8) -> u64 {
        self.fault_counts.get(func as usize).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(len: usize, fill: u8) -> Arc<VecMemory> {
        let m = VecMemory::new(len);
        m.write(0, &vec![fill; len]);
        Arc::new(m)
    }

    #[test]
    fn domains_are_separate_and_faults_are_logged() {
        let mut io = Iommu::new(3);
        let a = mem(8192, 0xaa);
        io.map(1, 0x10000, a.clone()).unwrap();
        let mut buf = [0u8; 16];
        io.read(1, 0x10000 + 100, &mut buf, 5).unwrap();
        assert_eq!(buf, [0xaa; 16]);
        // Function 2 has no mapping there.
        let f = io.read(2, 0x10000, &mut buf, 7).unwrap_err();
        assert_eq!(buf, [0; 16]);
        assert_eq!(
            f,
            Fault {
                func: 2,
                iova: 0x10000,
                len: 16,
                write: false,
                cycle: 7,
                reason: "unmapped"
            }
        );
        // Straddling the end of a mapping faults as a whole: nothing written.
        let e = io.write(1, 0x10000 + 8192 - 8, &[1; 16], 9).unwrap_err();
        assert!(e.write);
        assert_eq!(a.snapshot()[8184..8192], [0xaa; 8]);
        assert_eq!(io.faults().len(), 2);
        assert_eq!(io.fault_count(1), 1);
        assert_eq!(io.fault_count(2), 1);
        assert_eq!(io.fault_count(0), 0);
        assert!(io.faults()[1].to_string().contains("function 1 DMA write"));
    }

    #[test]
    fn adjacent_mappings_join_and_overlaps_are_refused() {
        let mut io = Iommu::new(2);
        let a = mem(4096, 1);
        let b = mem(4096, 2);
        io.map(1, 0x1000, a.clone()).unwrap();
        io.map(1, 0x2000, b.clone()).unwrap();
        let mut buf = [0u8; 8];
        io.read(1, 0x1ffc, &mut buf, 0).unwrap();
        assert_eq!(buf, [1, 1, 1, 1, 2, 2, 2, 2]);
        io.write(1, 0x1ffe, &[9, 9, 9, 9], 0).unwrap();
        assert_eq!(a.snapshot()[4094..], [9, 9]);
        assert_eq!(b.snapshot()[..2], [9, 9]);
        assert!(matches!(
            io.map(1, 0x1800, mem(4096, 0)),
            Err(MapError::Overlap { .. })
        ));
        assert!(matches!(
            io.map(1, 0x0800, mem(4096, 0)),
            Err(MapError::Overlap { .. })
        ));
        assert!(matches!(
            io.map(5, 0, mem(1, 0)),
            Err(MapError::NoDomain { .. })
        ));
        // Unmap then access faults.
        io.unmap(1, 0x2000, 4096).unwrap();
        assert!(io.read(1, 0x2000, &mut buf, 0).is_err());
        assert!(matches!(
            io.unmap(1, 0x2000, 4096),
            Err(MapError::NotMapped { .. })
        ));
        assert_eq!(io.mappings(1), 1);
        io.clear(1);
        assert_eq!(io.mappings(1), 0);
    }
}
