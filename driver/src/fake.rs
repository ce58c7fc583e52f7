//! A small NVMe controller model implementing [`PciFunction`], with fault
//! injection. It exists to prove, without hardware, that the driver turns
//! device misbehaviour (lost completions, CSTS.CFS, unknown command ids,
//! wrong phase tags, DMA faults) into errors and recovers by reset.
//!
//! Commands are executed synchronously when a submission doorbell is
//! written. Host memory is reached only through the IOVA mappings made
//! with `dma_map` (an unmapped IOVA is a DMA fault -> Data Transfer Error).

use crate::backend::PciFunction;
use crate::dma::{DmaRegion, PAGE};
use crate::nvme::spec::{self, admin, cns, io, Cqe, Sqe, Status};
use crate::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Faults to inject into the next I/O command (admin commands unaffected).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Swallow the next I/O command: no completion is ever posted.
    pub drop_next_io: bool,
    /// Raise CSTS.CFS instead of completing the next I/O command.
    pub cfs_on_next_io: bool,
    /// Complete the next I/O command with a command id never issued.
    pub unknown_cid_next_io: bool,
    /// Post the next I/O completion with the wrong phase tag.
    pub bad_phase_next_io: bool,
    /// Complete the next I/O command naming another submission queue.
    pub wrong_sqid_next_io: bool,
    /// Never set CSTS.RDY after CC.EN=1.
    pub never_ready: bool,
}

struct Sq {
    base: u64,
    size: u16,
    head: u16,
    cqid: u16,
}

struct Cq {
    base: u64,
    size: u16,
    tail: u16,
    phase: bool,
    vector: Option<u32>,
}

struct Ctrl {
    config: [u8; 256],
    cc: u32,
    csts: u32,
    aqa: u32,
    asq: u64,
    acq: u64,
    sqs: HashMap<u16, Sq>,
    cqs: HashMap<u16, Cq>,
    mem: BTreeMap<u64, Arc<DmaRegion>>,
    storage: Vec<u8>,
    faults: Faults,
    irq_enabled: u32,
    irq_pending: Vec<bool>,
    resets: u32,
    io_commands: u64,
}

const BLOCK: usize = 512;
const MAX_IO_QUEUES: u32 = 4;
const MSIX_VECTORS: u32 = 4;
/// CAP: MQES=255, CQR, TO=1 (500 ms), DSTRD=0, CSS=NVM, MPSMIN=MPSMAX=0.
const CAP: u64 = 255 | 1 << 16 | 1 << 24 | 1 << 37;

/// The fake controller (give it to `Nvme::new`).
pub struct FakeNvme {
    inner: Arc<Mutex<Ctrl>>,
}

/// A second handle on the same controller, for the test to inject faults
/// and observe state while the driver owns the [`FakeNvme`].
#[derive(Clone)]
pub struct FakeHandle {
    inner: Arc<Mutex<Ctrl>>,
}

fn lock(m: &Mutex<Ctrl>) -> MutexGuard<'_, Ctrl> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeNvme {
    /// A controller with one namespace of `blocks` 512-byte blocks.
    pub fn new(blocks: usize) -> (FakeNvme, FakeHandle) {
        let mut config = [0u8; 256];
        config[0..2].copy_from_slice(&0x1b36u16.to_le_bytes());
        config[2..4].copy_from_slice(&0x0010u16.to_le_bytes());
        let inner = Arc::new(Mutex::new(Ctrl {
            config,
            cc: 0,
            csts: 0,
            aqa: 0,
            asq: 0,
            acq: 0,
            sqs: HashMap::new(),
            cqs: HashMap::new(),
            mem: BTreeMap::new(),
            storage: vec![0; blocks * BLOCK],
            faults: Faults::default(),
            irq_enabled: 0,
            irq_pending: vec![false; MSIX_VECTORS as usize],
            resets: 0,
            io_commands: 0,
        }));
        (
            FakeNvme {
                inner: inner.clone(),
            },
            FakeHandle { inner },
        )
    }
}

impl FakeHandle {
    /// Arm faults.
    pub fn set_faults(&self, f: Faults) {
        lock(&self.inner).faults = f;
    }
    /// CC register as last written by the driver.
    pub fn cc(&self) -> u32 {
        lock(&self.inner).cc
    }
    /// CSTS as the driver would read it.
    pub fn csts(&self) -> u32 {
        lock(&self.inner).csts
    }
    /// Function resets seen.
    pub fn resets(&self) -> u32 {
        lock(&self.inner).resets
    }
    /// I/O commands executed.
    pub fn io_commands(&self) -> u64 {
        lock(&self.inner).io_commands
    }
    /// Number of live I/O submission + completion queues.
    pub fn io_queues(&self) -> usize {
        let c = lock(&self.inner);
        c.sqs.keys().filter(|&&q| q != 0).count() + c.cqs.keys().filter(|&&q| q != 0).count()
    }
    /// Number of live IOVA mappings.
    pub fn mappings(&self) -> usize {
        lock(&self.inner).mem.len()
    }
    /// Backing store contents.
    pub fn storage(&self, off: usize, len: usize) -> Vec<u8> {
        lock(&self.inner).storage[off..off + len].to_vec()
    }
}

impl Ctrl {
    fn reset_state(&mut self) {
        self.cc = 0;
        self.csts = 0;
        self.sqs.clear();
        self.cqs.clear();
    }

    /// Resolve `[iova, iova+len)` to one mapped region.
    fn translate(&self, iova: u64, len: usize) -> Option<(Arc<DmaRegion>, usize)> {
        let (base, r) = self.mem.range(..=iova).next_back()?;
        let off = (iova - base) as usize;
        if off + len <= r.len() {
            Some((r.clone(), off))
        } else {
            None
        }
    }

    fn dma_read(&self, iova: u64, buf: &mut [u8]) -> bool {
        match self.translate(iova, buf.len()) {
            Some((r, off)) => r.read(off, buf).is_ok(),
            None => false,
        }
    }

    fn dma_write(&self, iova: u64, data: &[u8]) -> bool {
        match self.translate(iova, data.len()) {
            Some((r, off)) => r.write(off, data).is_ok(),
            None => false,
        }
    }

    /// PRP walk (NVMe 1.4 §4.3) -> (iova, len) segments, or None on a
    /// DMA fault / malformed PRP.
    fn prp_segments(&self, prp1: u64, prp2: u64, len: usize) -> Option<Vec<(u64, usize)>> {
        let mut segs = Vec::new();
        let first = (PAGE - (prp1 as usize % PAGE)).min(len);
        segs.push((prp1, first));
        let mut rest = len - first;
        if rest == 0 {
            return Some(segs);
        }
        if rest <= PAGE {
            if !prp2.is_multiple_of(PAGE as u64) {
                return None;
            }
            segs.push((prp2, rest));
            return Some(segs);
        }
        let mut list = prp2;
        while rest > 0 {
            let mut e = [0u8; 8];
            if !self.dma_read(list, &mut e) {
                return None;
            }
            let a = u64::from_le_bytes(e);
            // The last entry of a full list page chains to the next list.
            if (list as usize % PAGE) == PAGE - 8 && rest > PAGE {
                list = a;
                continue;
            }
            if a % PAGE as u64 != 0 {
                return None;
            }
            let n = rest.min(PAGE);
            segs.push((a, n));
            rest -= n;
            list += 8;
        }
        Some(segs)
    }

    fn post(&mut self, sqid: u16, cqid: u16, cid: u16, dw0: u32, status: u16, flip_phase: bool) {
        self.post_as(sqid, sqid, cqid, cid, dw0, status, flip_phase)
    }

    /// Post a completion for `sqid`'s command, reporting `report_sqid`.
    #[allow(clippy::too_many_arguments)]
    fn post_as(
        &mut self,
        sqid: u16,
        report_sqid: u16,
        cqid: u16,
        cid: u16,
        dw0: u32,
        status: u16,
        flip_phase: bool,
    ) {
        let sqhd = self.sqs.get(&sqid).map_or(0, |s| s.head);
        let Some(cq) = self.cqs.get_mut(&cqid) else {
            return;
        };
        let phase = cq.phase ^ flip_phase;
        let cqe = Cqe {
            dw0,
            dw1: 0,
            sqhd,
            sqid: report_sqid,
            cid,
            status: status << 1 | phase as u16,
        };
        let addr = cq.base + cq.tail as u64 * 16;
        cq.tail += 1;
        if cq.tail == cq.size {
            cq.tail = 0;
            cq.phase = !cq.phase;
        }
        let vector = cq.vector;
        let mut bytes = [0u8; 16];
        for (i, d) in cqe.to_dwords().iter().enumerate() {
            bytes[4 * i..4 * i + 4].copy_from_slice(&d.to_le_bytes());
        }
        // Write dwords 0-2 first, the phase-carrying dword 3 last.
        self.dma_write(addr, &bytes[..12]);
        self.dma_write(addr + 12, &bytes[12..]);
        if let Some(v) = vector {
            if v < self.irq_enabled {
                self.irq_pending[v as usize] = true;
            }
        }
    }

    fn process_sq(&mut self, qid: u16, tail: u16) {
        loop {
            let (addr, cqid) = match self.sqs.get_mut(&qid) {
                Some(sq) if sq.head != tail && tail < sq.size => {
                    let a = sq.base + sq.head as u64 * 64;
                    sq.head = (sq.head + 1) % sq.size;
                    (a, sq.cqid)
                }
                _ => return,
            };
            if self.csts & spec::csts::CFS != 0 {
                return;
            }
            let mut raw = [0u8; 64];
            if !self.dma_read(addr, &mut raw) {
                self.csts |= spec::csts::CFS;
                return;
            }
            let mut d = [0u32; 16];
            for (i, w) in d.iter_mut().enumerate() {
                *w = u32::from_le_bytes(raw[4 * i..4 * i + 4].try_into().unwrap_or([0; 4]));
            }
            let cmd = Sqe::from_dwords(&d);
            if qid == 0 {
                let (dw0, st) = self.admin(&cmd);
                self.post(0, 0, cmd.cid, dw0, st, false);
                continue;
            }
            self.io_commands += 1;
            let f = std::mem::take(&mut self.faults);
            let keep_never_ready = f.never_ready;
            self.faults.never_ready = keep_never_ready;
            if f.drop_next_io {
                continue;
            }
            if f.cfs_on_next_io {
                self.csts |= spec::csts::CFS;
                continue;
            }
            let st = self.nvm(&cmd);
            let cid = if f.unknown_cid_next_io {
                cmd.cid ^ 0x4000
            } else {
                cmd.cid
            };
            let report = if f.wrong_sqid_next_io { qid + 7 } else { qid };
            self.post_as(qid, report, cqid, cid, 0, st, f.bad_phase_next_io);
        }
    }

    fn admin(&mut self, c: &Sqe) -> (u32, u16) {
        let ok = (0, 0);
        let err = |sct, sc| (0, Status::field(sct, sc));
        match c.opcode {
            admin::IDENTIFY => {
                let mut d = vec![0u8; PAGE];
                match c.cdw10 & 0xff {
                    cns::CONTROLLER => {
                        d[0..2].copy_from_slice(&0x1b36u16.to_le_bytes());
                        d[4..24].copy_from_slice(b"FAKE0001            ");
                        d[24..64].copy_from_slice(
                            format!("{:<40}", "nitrous fault-injecting nvme").as_bytes(),
                        );
                        d[64..72].copy_from_slice(b"1.0     ");
                        d[77] = 5; // MDTS: 2^5 * 4 KiB = 128 KiB
                        d[78..80].copy_from_slice(&1u16.to_le_bytes());
                        d[80..84].copy_from_slice(&0x0001_0400u32.to_le_bytes());
                        d[516..520].copy_from_slice(&1u32.to_le_bytes());
                        d[520..522].copy_from_slice(&(1u16 << 3).to_le_bytes());
                    }
                    cns::NAMESPACE => {
                        if c.nsid != 1 {
                            return err(0, 0x0b);
                        }
                        let n = (self.storage.len() / BLOCK) as u64;
                        d[0..8].copy_from_slice(&n.to_le_bytes());
                        d[8..16].copy_from_slice(&n.to_le_bytes());
                        d[16..24].copy_from_slice(&n.to_le_bytes());
                        d[128..132].copy_from_slice(&(9u32 << 16).to_le_bytes());
                    }
                    cns::ACTIVE_NS_LIST => d[0..4].copy_from_slice(&1u32.to_le_bytes()),
                    _ => return err(0, 0x02),
                }
                if !self.dma_write(c.prp1, &d) {
                    return err(0, 0x04);
                }
                ok
            }
            admin::SET_FEATURES if c.cdw10 & 0xff == spec::FEAT_NUM_QUEUES => {
                let n = ((c.cdw11 & 0xffff) + 1).min(MAX_IO_QUEUES) - 1;
                (n | n << 16, 0)
            }
            admin::CREATE_IO_CQ => {
                let qid = (c.cdw10 & 0xffff) as u16;
                if qid == 0 || qid as u32 > MAX_IO_QUEUES || self.cqs.contains_key(&qid) {
                    return err(1, 0x01);
                }
                let size = ((c.cdw10 >> 16) + 1) as u16;
                let ien = c.cdw11 & 2 != 0;
                let iv = c.cdw11 >> 16;
                if ien && iv >= MSIX_VECTORS {
                    return err(1, 0x08);
                }
                self.cqs.insert(
                    qid,
                    Cq {
                        base: c.prp1,
                        size,
                        tail: 0,
                        phase: true,
                        vector: if ien { Some(iv) } else { None },
                    },
                );
                ok
            }
            admin::CREATE_IO_SQ => {
                let qid = (c.cdw10 & 0xffff) as u16;
                let cqid = (c.cdw11 >> 16) as u16;
                if qid == 0 || qid as u32 > MAX_IO_QUEUES || self.sqs.contains_key(&qid) {
                    return err(1, 0x01);
                }
                if !self.cqs.contains_key(&cqid) {
                    return err(1, 0x00);
                }
                self.sqs.insert(
                    qid,
                    Sq {
                        base: c.prp1,
                        size: ((c.cdw10 >> 16) + 1) as u16,
                        head: 0,
                        cqid,
                    },
                );
                ok
            }
            admin::DELETE_IO_SQ => {
                self.sqs.remove(&((c.cdw10 & 0xffff) as u16));
                ok
            }
            admin::DELETE_IO_CQ => {
                self.cqs.remove(&((c.cdw10 & 0xffff) as u16));
                ok
            }
            _ => err(0, 0x01),
        }
    }

    fn nvm(&mut self, c: &Sqe) -> u16 {
        let err = Status::field;
        if c.nsid != 1 {
            return err(0, 0x0b);
        }
        let slba = c.cdw10 as u64 | (c.cdw11 as u64) << 32;
        let nlb = (c.cdw12 & 0xffff) as u64 + 1;
        let nblocks = (self.storage.len() / BLOCK) as u64;
        let range_ok = slba.checked_add(nlb).is_some_and(|e| e <= nblocks);
        let off = slba as usize * BLOCK;
        let len = nlb as usize * BLOCK;
        match c.opcode {
            io::FLUSH => 0,
            io::WRITE_ZEROES => {
                if !range_ok {
                    return err(0, 0x80);
                }
                self.storage[off..off + len].fill(0);
                0
            }
            io::READ | io::WRITE => {
                if !range_ok {
                    return err(0, 0x80);
                }
                let Some(segs) = self.prp_segments(c.prp1, c.prp2, len) else {
                    return err(0, 0x04);
                };
                let mut pos = off;
                for (a, n) in segs {
                    let ok = if c.opcode == io::READ {
                        let chunk = self.storage[pos..pos + n].to_vec();
                        self.dma_write(a, &chunk)
                    } else {
                        let mut chunk = vec![0u8; n];
                        let ok = self.dma_read(a, &mut chunk);
                        if ok {
                            self.storage[pos..pos + n].copy_from_slice(&chunk);
                        }
                        ok
                    };
                    if !ok {
                        return err(0, 0x04);
                    }
                    pos += n;
                }
                0
            }
            _ => err(0, 0x01),
        }
    }

    fn write_cc(&mut self, v: u32) {
        let was = self.cc & spec::cc::EN != 0;
        let now = v & spec::cc::EN != 0;
        self.cc = v;
        if was && !now {
            self.reset_state();
            self.cc = v;
            return;
        }
        if !was && now {
            if self.faults.never_ready {
                return;
            }
            let asize = (self.aqa & 0xfff) as u16 + 1;
            let csize = ((self.aqa >> 16) & 0xfff) as u16 + 1;
            self.cqs.insert(
                0,
                Cq {
                    base: self.acq,
                    size: csize,
                    tail: 0,
                    phase: true,
                    vector: Some(0),
                },
            );
            self.sqs.insert(
                0,
                Sq {
                    base: self.asq,
                    size: asize,
                    head: 0,
                    cqid: 0,
                },
            );
            self.csts |= spec::csts::RDY;
        }
        if now && v & spec::cc::SHN_MASK != 0 {
            self.csts = (self.csts & !spec::csts::SHST_MASK) | spec::csts::SHST_COMPLETE;
        }
    }

    fn read_reg(&self, off: u64) -> u32 {
        match off {
            0x00 => CAP as u32,
            0x04 => (CAP >> 32) as u32,
            0x08 => 0x0001_0400,
            0x14 => self.cc,
            0x1c => self.csts,
            0x24 => self.aqa,
            0x28 => self.asq as u32,
            0x2c => (self.asq >> 32) as u32,
            0x30 => self.acq as u32,
            0x34 => (self.acq >> 32) as u32,
            _ => 0,
        }
    }

    fn write_reg(&mut self, off: u64, v: u32) {
        match off {
            0x14 => self.write_cc(v),
            0x24 => self.aqa = v,
            0x28 => self.asq = (self.asq & !0xffff_ffff) | v as u64,
            0x2c => self.asq = (self.asq & 0xffff_ffff) | (v as u64) << 32,
            0x30 => self.acq = (self.acq & !0xffff_ffff) | v as u64,
            0x34 => self.acq = (self.acq & 0xffff_ffff) | (v as u64) << 32,
            o if o >= spec::DOORBELL_BASE => {
                let idx = (o - spec::DOORBELL_BASE) / 4;
                let qid = (idx / 2) as u16;
                if idx.is_multiple_of(2) && self.cc & spec::cc::EN != 0 {
                    self.process_sq(qid, v as u16);
                }
            }
            _ => {}
        }
    }
}

const BAR0_LEN: u64 = 0x2000;

fn check(off: u64, w: u64) -> Result<()> {
    if !off.is_multiple_of(w) || off + w > BAR0_LEN {
        return Err(Error::Bounds(format!(
            "fake BAR0 {w}-byte access at {off:#x}"
        )));
    }
    Ok(())
}

impl PciFunction for FakeNvme {
    fn name(&self) -> String {
        "fake-nvme".into()
    }

    fn config_read(&self, offset: u16, buf: &mut [u8]) -> Result<()> {
        let c = lock(&self.inner);
        let o = offset as usize;
        let src = c
            .config
            .get(o..o + buf.len())
            .ok_or_else(|| Error::Bounds(format!("config {o:#x}")))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn config_write(&self, offset: u16, data: &[u8]) -> Result<()> {
        let mut c = lock(&self.inner);
        let o = offset as usize;
        let dst = c
            .config
            .get_mut(o..o + data.len())
            .ok_or_else(|| Error::Bounds(format!("config {o:#x}")))?;
        dst.copy_from_slice(data);
        Ok(())
    }

    fn bar_len(&self, bar: u8) -> u64 {
        if bar == 0 {
            BAR0_LEN
        } else {
            0
        }
    }

    fn bar_read32(&self, bar: u8, offset: u64) -> Result<u32> {
        if bar != 0 {
            return Err(Error::Bounds(format!("fake BAR{bar}")));
        }
        check(offset, 4)?;
        Ok(lock(&self.inner).read_reg(offset))
    }

    fn bar_write32(&self, bar: u8, offset: u64, value: u32) -> Result<()> {
        if bar != 0 {
            return Err(Error::Bounds(format!("fake BAR{bar}")));
        }
        check(offset, 4)?;
        lock(&self.inner).write_reg(offset, value);
        Ok(())
    }

    fn bar_read64(&self, bar: u8, offset: u64) -> Result<u64> {
        check(offset, 8)?;
        Ok(self.bar_read32(bar, offset)? as u64 | (self.bar_read32(bar, offset + 4)? as u64) << 32)
    }

    fn bar_write64(&self, bar: u8, offset: u64, value: u64) -> Result<()> {
        check(offset, 8)?;
        self.bar_write32(bar, offset, value as u32)?;
        self.bar_write32(bar, offset + 4, (value >> 32) as u32)
    }

    fn dma_map(&mut self, region: &Arc<DmaRegion>, iova: u64) -> Result<()> {
        let mut c = lock(&self.inner);
        if !iova.is_multiple_of(PAGE as u64) || c.translate(iova, 1).is_some() {
            return Err(Error::Vfio(format!(
                "bad or overlapping mapping at {iova:#x}"
            )));
        }
        c.mem.insert(iova, region.clone());
        Ok(())
    }

    fn dma_unmap(&mut self, iova: u64, _len: usize) -> Result<()> {
        lock(&self.inner)
            .mem
            .remove(&iova)
            .map(|_| ())
            .ok_or_else(|| Error::Vfio(format!("no mapping at {iova:#x}")))
    }

    fn irq_count(&self) -> u32 {
        MSIX_VECTORS
    }

    fn irq_enable(&mut self, count: u32) -> Result<u32> {
        let n = count.min(MSIX_VECTORS);
        lock(&self.inner).irq_enabled = n;
        Ok(n)
    }

    fn irq_disable(&mut self) -> Result<()> {
        let mut c = lock(&self.inner);
        c.irq_enabled = 0;
        c.irq_pending.iter_mut().for_each(|p| *p = false);
        Ok(())
    }

    fn irq_wait(&self, vector: u32, timeout: Duration) -> Result<bool> {
        {
            let mut c = lock(&self.inner);
            if vector >= c.irq_enabled {
                return Err(Error::Invalid(format!("vector {vector} not enabled")));
            }
            if std::mem::take(&mut c.irq_pending[vector as usize]) {
                return Ok(true);
            }
        }
        std::thread::sleep(timeout.min(Duration::from_millis(1)));
        Ok(false)
    }

    fn reset(&mut self) -> Result<()> {
        let mut c = lock(&self.inner);
        c.reset_state();
        c.irq_enabled = 0;
        c.resets += 1;
        Ok(())
    }
}
