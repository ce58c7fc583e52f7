//! The host side of the card's DMA requester port (`rq`/`wd`/`rc`,
//! docs/CARD.md §1): memory reads and writes through the IOMMU, read
//! completions in request order after a host-memory latency, one 16-byte
//! beat per cycle.

use super::iommu::{Fault, Iommu};
use std::collections::VecDeque;

/// A DMA request header as the card presented it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaHeader {
    pub func: u8,
    pub write: bool,
    pub addr: u64,
    pub len: u32,
    pub tag: u8,
}

/// A seam protocol violation by the card (logged, never fatal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub cycle: u64,
    pub what: String,
}

struct Read {
    h: DmaHeader,
    ready_at: u64,
    /// Why the request fails before touching memory (bus master off,
    /// malformed header, absent function).
    refuse: Option<&'static str>,
}

/// One read-completion beat for `rc_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RcBeat {
    pub tag: u8,
    pub data: [u8; 16],
    pub last: bool,
    pub err: bool,
}

/// DMA service state.
pub struct Dma {
    latency: u64,
    reads: VecDeque<Read>,
    cur: Option<(Vec<u8>, usize, bool)>,
    writes: VecDeque<(DmaHeader, Option<&'static str>)>,
    wbuf: Vec<u8>,
    /// Bytes moved per function: (read by the card, written by the card).
    bytes: Vec<(u64, u64)>,
    violations: Vec<Violation>,
}

/// Most read requests in flight the host accepts (then `rq_ready` drops).
const MAX_READS: usize = 256;
const MAX_WRITES: usize = 64;

impl Dma {
    pub fn new(functions: usize, latency: u64) -> Self {
        Dma {
            latency,
            reads: VecDeque::new(),
            cur: None,
            writes: VecDeque::new(),
            wbuf: Vec::new(),
            bytes: vec![(0, 0); functions],
            violations: Vec::new(),
        }
    }

    pub fn latency(&self) -> u64 {
        self.latency
    }

    pub fn set_latency(&mut self, cycles: u64) {
        self.latency = cycles;
    }

    pub fn rq_ready(&self) -> bool {
        self.reads.len() < MAX_READS && self.writes.len() < MAX_WRITES
    }

    /// Always ready: a payload beat may move on the same edge as its
    /// header (the platform applies the header first); a beat without any
    /// header is a logged violation.
    pub fn wd_ready(&self) -> bool {
        true
    }

    /// Check a header against docs/CARD.md (length 4..=4096, multiple of
    /// 4, 4-byte aligned, not crossing 4 KiB).
    fn malformed(h: &DmaHeader) -> Option<String> {
        let max = nitrous_regmap::card::MAX_REQ_BYTES;
        if h.len < 4 || h.len > max || !h.len.is_multiple_of(4) {
            return Some(format!("length {}", h.len));
        }
        if !h.addr.is_multiple_of(4) {
            return Some(format!("address {:#x} not 4-byte aligned", h.addr));
        }
        if (h.addr & 0xfff) + h.len as u64 > 4096 {
            return Some(format!(
                "{} bytes at {:#x} cross a 4 KiB boundary",
                h.len, h.addr
            ));
        }
        None
    }

    /// An `rq` beat was accepted at `cycle`. `allowed` is whether the
    /// function exists and has Bus Master Enable set.
    pub fn request(&mut self, h: DmaHeader, allowed: bool, cycle: u64) {
        let mut refuse = None;
        if let Some(w) = Self::malformed(&h) {
            self.violations.push(Violation {
                cycle,
                what: format!("function {} DMA request: {w}", h.func),
            });
            refuse = Some("malformed request");
        } else if !allowed {
            refuse = Some("bus master disabled");
        }
        if h.write {
            self.writes.push_back((h, refuse));
        } else {
            self.reads.push_back(Read {
                h,
                ready_at: cycle + 1 + self.latency,
                refuse,
            });
        }
    }

    /// A `wd` beat was accepted.
    pub fn write_beat(&mut self, data: &[u8; 16], last: bool, iommu: &mut Iommu, cycle: u64) {
        if self.writes.is_empty() {
            self.violations.push(Violation {
                cycle,
                what: "write data beat without a write header".into(),
            });
            return;
        }
        self.wbuf.extend_from_slice(data);
        if !last {
            return;
        }
        let Some((h, refuse)) = self.writes.pop_front() else {
            return;
        };
        let mut d = std::mem::take(&mut self.wbuf);
        if d.len() < h.len as usize {
            self.violations.push(Violation {
                cycle,
                what: format!(
                    "function {} DMA write of {} bytes ended after {} bytes",
                    h.func,
                    h.len,
                    d.len()
                ),
            });
        }
        d.resize(h.len as usize, 0);
        match refuse {
            Some(reason) => iommu.log_fault(Fault {
                func: h.func,
                iova: h.addr,
                len: h.len,
                write: true,
                cycle,
                reason,
            }),
            None => {
                if iommu.write(h.func, h.addr, &d, cycle).is_ok() {
                    if let Some(b) = self.bytes.get_mut(h.func as usize) {
                        b.1 += h.len as u64;
                    }
                }
            }
        }
    }

    /// The `rc` beat offered this cycle, if any.
    pub fn rc_beat(&mut self, iommu: &mut Iommu, cycle: u64) -> Option<RcBeat> {
        if self.cur.is_none() {
            let r = self.reads.front()?;
            if cycle < r.ready_at {
                return None;
            }
            let h = r.h;
            let n = (h.len as usize).clamp(16, 4096);
            let mut d = vec![0u8; n];
            let err = match r.refuse {
                Some(reason) => {
                    iommu.log_fault(Fault {
                        func: h.func,
                        iova: h.addr,
                        len: h.len,
                        write: false,
                        cycle,
                        reason,
                    });
                    true
                }
                None => {
                    let ok = iommu
                        .read(h.func, h.addr, &mut d[..h.len as usize], cycle)
                        .is_ok();
                    if ok {
                        if let Some(b) = self.bytes.get_mut(h.func as usize) {
                            b.0 += h.len as u64;
                        }
                    }
                    !ok
                }
            };
            // Beats cover exactly ceil(len/16) * 16 bytes.
            let beats = (h.len as usize).div_ceil(16).max(1);
            d.resize(beats * 16, 0);
            self.cur = Some((d, 0, err));
        }
        let tag = self.reads.front()?.h.tag;
        let (d, pos, err) = self.cur.as_ref()?;
        let mut data = [0u8; 16];
        data.copy_from_slice(&d[*pos..pos + 16]);
        Some(RcBeat {
            tag,
            data,
            last: pos + 16 >= d.len(),
            err: *err,
        })
    }

    /// The beat from [`Dma::rc_beat`] was accepted.
    pub fn rc_accepted(&mut self) {
        if let Some((d, pos, _)) = self.cur.as_mut() {
            *pos += 16;
            if *pos >= d.len() {
                self.cur = None;
                self.reads.pop_front();
            }
        }
    }

    /// (bytes read by the card, bytes written by the card) for `func`.
    pub fn bytes(&self, func: u8) -> (u64, u64) {
        self.bytes.get(func as usize).copied().unwrap_or((0, 0))
    }

    /// Total bytes moved on the host bus.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().map(|(r, w)| r + w).sum()
    }

    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    pub(crate) fn violation(&mut self, cycle: u64, what: String) {
        self.violations.push(Violation { cycle, what });
    }

    /// Requests in flight (reads not fully completed, writes without data).
    pub fn outstanding(&self) -> usize {
        self.reads.len() + self.writes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::iommu::{HostMemory, VecMemory};
    use super::*;
    use std::sync::Arc;

    #[test]
    fn reads_complete_in_order_after_latency_and_faults_set_err() {
        let mut io = Iommu::new(3);
        let m = Arc::new(VecMemory::new(8192));
        let pattern: Vec<u8> = (0..8192).map(|i| i as u8).collect();
        m.write(0, &pattern);
        io.map(1, 0x100000, m.clone()).unwrap();
        let mut dma = Dma::new(3, 5);
        let h = |tag, addr, len| DmaHeader {
            func: 1,
            write: false,
            addr,
            len,
            tag,
        };
        dma.request(h(1, 0x100000 + 32, 20), true, 0);
        dma.request(h(2, 0x900000, 16), true, 0);
        dma.request(
            DmaHeader {
                func: 2,
                ..h(3, 0x100000, 16)
            },
            true,
            0,
        );
        dma.request(h(4, 0x100000, 16), false, 0);
        for c in 0..6 {
            assert!(dma.rc_beat(&mut io, c).is_none());
        }
        let b = dma.rc_beat(&mut io, 6).unwrap();
        assert_eq!((b.tag, b.last, b.err), (1, false, false));
        assert_eq!(b.data[..], pattern[32..48]);
        dma.rc_accepted();
        let b = dma.rc_beat(&mut io, 7).unwrap();
        assert_eq!((b.tag, b.last), (1, true));
        assert_eq!(b.data[..4], pattern[48..52]);
        dma.rc_accepted();
        for (tag, reason) in [(2, "unmapped"), (3, "unmapped"), (4, "bus master disabled")] {
            let b = dma.rc_beat(&mut io, 8).unwrap();
            assert_eq!((b.tag, b.err, b.data), (tag, true, [0; 16]));
            assert_eq!(io.faults().last().unwrap().reason, reason);
            dma.rc_accepted();
        }
        assert_eq!(io.fault_count(1), 2);
        assert_eq!(io.fault_count(2), 1);
        assert_eq!(dma.bytes(1), (20, 0));
    }

    #[test]
    fn writes_land_or_are_dropped_and_logged() {
        let mut io = Iommu::new(2);
        let m = Arc::new(VecMemory::new(4096));
        io.map(1, 0x2000, m.clone()).unwrap();
        let mut dma = Dma::new(2, 0);
        dma.request(
            DmaHeader {
                func: 1,
                write: true,
                addr: 0x2010,
                len: 20,
                tag: 0,
            },
            true,
            0,
        );
        assert!(dma.wd_ready());
        dma.write_beat(&[1; 16], false, &mut io, 1);
        dma.write_beat(&[2; 16], true, &mut io, 2);
        let s = m.snapshot();
        assert_eq!(s[0x10..0x20], [1; 16]);
        assert_eq!(s[0x20..0x24], [2; 4]);
        assert_eq!(s[0x24], 0, "bytes past rq_len ignored");
        // Crossing 4 KiB is a violation and is not performed.
        dma.request(
            DmaHeader {
                func: 1,
                write: true,
                addr: 0x2ff0,
                len: 32,
                tag: 0,
            },
            true,
            3,
        );
        dma.write_beat(&[3; 16], false, &mut io, 4);
        dma.write_beat(&[3; 16], true, &mut io, 5);
        assert_eq!(dma.violations().len(), 1);
        assert_eq!(m.snapshot()[0xff0..], [0; 16]);
        assert_eq!(io.faults().len(), 1);
        assert_eq!(dma.bytes(1), (0, 20));
    }
}
