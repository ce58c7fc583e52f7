//! One NVMe queue pair written once for admin and I/O queues: a generic
//! ring with head/tail/phase, a tracker table indexed by command id, and
//! one doorbell write per batch (cf. SPDK `nvme_pcie_qpair`).

use super::spec::{Cqe, Sqe, DOORBELL_BASE};
use crate::backend::PciFunction;
use crate::dma::{DmaBuf, PAGE};
use crate::{Error, Result};
use std::time::{Duration, Instant};

/// A circular index with a phase bit that flips on every wrap (§4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ring {
    pub size: u16,
    pub idx: u16,
    pub phase: bool,
}

impl Ring {
    pub fn new(size: u16) -> Self {
        Ring {
            size,
            idx: 0,
            phase: true,
        }
    }
    pub fn advance(&mut self) {
        self.idx += 1;
        if self.idx == self.size {
            self.idx = 0;
            self.phase = !self.phase;
        }
    }
    pub fn next(&self, i: u16) -> u16 {
        if i + 1 == self.size {
            0
        } else {
            i + 1
        }
    }
}

/// An outstanding command.
#[derive(Clone, Copy, Debug)]
struct Tracker {
    opcode: u8,
    tag: u64,
    submitted: Instant,
}

/// What came back for one command.
#[derive(Clone, Copy, Debug)]
pub struct Completion {
    pub cid: u16,
    pub opcode: u8,
    /// The caller's tag given at submission.
    pub tag: u64,
    /// Dword 0 on success, the decoded status otherwise.
    pub result: std::result::Result<u32, super::spec::Status>,
    /// Submit-to-reap time.
    pub latency: Duration,
}

/// Submission + completion queue of the same id.
pub struct QueuePair {
    pub qid: u16,
    pub sq: DmaBuf,
    pub cq: DmaBuf,
    /// One PRP list page per command id.
    pub prp_pages: DmaBuf,
    /// MSI-X vector of the CQ, if interrupts are on.
    pub vector: Option<u32>,
    sq_tail: Ring,
    sq_head: u16,
    cq_head: Ring,
    sq_db: u64,
    cq_db: u64,
    trackers: Vec<Option<Tracker>>,
    free: Vec<u16>,
    unrung: bool,
    broken: bool,
}

impl QueuePair {
    /// `size` entries in each ring; command ids 0..size-1 (one ring slot
    /// always stays empty, §4.1.2). `dstrd` is CAP.DSTRD.
    pub fn new(
        qid: u16,
        size: u16,
        sq: DmaBuf,
        cq: DmaBuf,
        prp_pages: DmaBuf,
        dstrd: u8,
    ) -> Result<Self> {
        if size < 2 {
            return Err(Error::Invalid(format!("queue size {size}")));
        }
        if sq.len() < size as usize * 64
            || cq.len() < size as usize * 16
            || prp_pages.len() < (size as usize - 1) * PAGE
        {
            return Err(Error::Invalid("queue memory too small".into()));
        }
        let stride = 4u64 << dstrd;
        Ok(QueuePair {
            qid,
            sq,
            cq,
            prp_pages,
            vector: None,
            sq_tail: Ring::new(size),
            sq_head: 0,
            cq_head: Ring::new(size),
            sq_db: DOORBELL_BASE + (2 * qid as u64) * stride,
            cq_db: DOORBELL_BASE + (2 * qid as u64 + 1) * stride,
            trackers: vec![None; size as usize - 1],
            free: (0..size - 1).rev().collect(),
            unrung: false,
            broken: false,
        })
    }

    pub fn size(&self) -> u16 {
        self.sq_tail.size
    }

    /// Commands that can still be submitted.
    pub fn free_slots(&self) -> usize {
        self.free.len()
    }

    pub fn outstanding(&self) -> usize {
        self.trackers.len() - self.free.len()
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }

    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Reserve a command id (so the caller can fill its PRP list page).
    pub fn alloc_cid(&mut self) -> Result<u16> {
        if self.broken {
            return Err(Error::QueueBroken(self.qid));
        }
        if self.sq_tail.next(self.sq_tail.idx) == self.sq_head {
            return Err(Error::QueueFull(self.qid));
        }
        self.free.pop().ok_or(Error::QueueFull(self.qid))
    }

    /// Return an id reserved with `alloc_cid` but never submitted.
    pub fn release_cid(&mut self, cid: u16) {
        if (cid as usize) < self.trackers.len()
            && self.trackers[cid as usize].is_none()
            && !self.free.contains(&cid)
        {
            self.free.push(cid);
        }
    }

    /// IOVA and byte offset of `cid`'s PRP list page.
    pub fn prp_page(&self, cid: u16) -> (u64, usize) {
        let off = cid as usize * PAGE;
        (self.prp_pages.iova + off as u64, off)
    }

    /// Write `cmd` (with `cid` from `alloc_cid`) at the SQ tail. The
    /// doorbell is rung later by `ring` (one write per batch).
    pub fn push(&mut self, cid: u16, mut cmd: Sqe, tag: u64) -> Result<()> {
        if self.broken {
            self.release_cid(cid);
            return Err(Error::QueueBroken(self.qid));
        }
        cmd.cid = cid;
        let base = self.sq_tail.idx as usize * 64;
        for (i, d) in cmd.to_dwords().iter().enumerate() {
            self.sq.region.write32(base + 4 * i, *d)?;
        }
        self.trackers[cid as usize] = Some(Tracker {
            opcode: cmd.opcode,
            tag,
            submitted: Instant::now(),
        });
        self.sq_tail.advance();
        self.unrung = true;
        Ok(())
    }

    /// Ring the SQ tail doorbell if anything was pushed since the last ring.
    pub fn ring(&mut self, dev: &dyn PciFunction) -> Result<()> {
        if self.unrung {
            std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
            dev.bar_write32(0, self.sq_db, self.sq_tail.idx as u32)?;
            self.unrung = false;
        }
        Ok(())
    }

    /// Reap every posted completion into `out`; writes the CQ head
    /// doorbell once. A completion for an id we do not track, or for a
    /// different SQ, breaks the queue and returns an error.
    pub fn reap(&mut self, dev: &dyn PciFunction, out: &mut Vec<Completion>) -> Result<usize> {
        if self.broken {
            return Err(Error::QueueBroken(self.qid));
        }
        let mut n = 0;
        let mut err = None;
        loop {
            let base = self.cq_head.idx as usize * 16;
            let dw3 = self.cq.region.read32(base + 12)?;
            if ((dw3 >> 16) & 1 == 1) != self.cq_head.phase {
                break;
            }
            // The phase bit is read first; the rest of the entry after it.
            std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
            let cqe = Cqe::from_dwords([
                self.cq.region.read32(base)?,
                self.cq.region.read32(base + 4)?,
                self.cq.region.read32(base + 8)?,
                dw3,
            ]);
            self.cq_head.advance();
            n += 1;
            if cqe.sqid != self.qid {
                err = Some(Error::BadCompletion {
                    qid: self.qid,
                    why: format!("SQ id {} in completion", cqe.sqid),
                });
                break;
            }
            if cqe.sqhd >= self.size() {
                err = Some(Error::BadCompletion {
                    qid: self.qid,
                    why: format!("SQ head {} beyond queue size {}", cqe.sqhd, self.size()),
                });
                break;
            }
            let t = match self
                .trackers
                .get_mut(cqe.cid as usize)
                .and_then(|t| t.take())
            {
                Some(t) => t,
                None => {
                    err = Some(Error::UnknownCid {
                        qid: self.qid,
                        cid: cqe.cid,
                    });
                    break;
                }
            };
            self.sq_head = cqe.sqhd;
            self.free.push(cqe.cid);
            out.push(Completion {
                cid: cqe.cid,
                opcode: t.opcode,
                tag: t.tag,
                result: match cqe.error() {
                    None => Ok(cqe.dw0),
                    Some(s) => Err(s),
                },
                latency: t.submitted.elapsed(),
            });
        }
        if n > 0 {
            dev.bar_write32(0, self.cq_db, self.cq_head.idx as u32)?;
        }
        if let Some(e) = err {
            self.broken = true;
            return Err(e);
        }
        Ok(n)
    }

    /// The oldest outstanding command older than `timeout`, as an error
    /// (and the queue is marked broken: only a controller reset recovers).
    pub fn check_timeouts(&mut self, timeout: Duration) -> Result<()> {
        let now = Instant::now();
        for (cid, t) in self.trackers.iter().enumerate() {
            if let Some(t) = t {
                let age = now.duration_since(t.submitted);
                if age > timeout {
                    self.broken = true;
                    return Err(Error::CommandTimeout {
                        qid: self.qid,
                        cid: cid as u16,
                        opcode: t.opcode,
                        after: age,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_wraps_and_flips_phase() {
        let mut r = Ring::new(4);
        assert!(r.phase);
        for i in 1..4 {
            r.advance();
            assert_eq!(r.idx, i);
            assert!(r.phase);
        }
        r.advance();
        assert_eq!(r.idx, 0);
        assert!(!r.phase);
        for _ in 0..4 {
            r.advance();
        }
        assert_eq!(r.idx, 0);
        assert!(r.phase);
        assert_eq!(r.next(3), 0);
        assert_eq!(r.next(1), 2);
    }
}
