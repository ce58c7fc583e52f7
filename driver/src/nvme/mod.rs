//! NVMe 1.4 driver over any [`PciFunction`].
//!
//! Bring-up follows NVMe 1.4 §7.6.1: disable and wait CSTS.RDY=0, program
//! the admin queue (AQA/ASQ/ACQ), enable and wait CSTS.RDY=1 (both bounded
//! by CAP.TO), Identify, Set Features Number of Queues, create I/O queue
//! pairs. Every wait is bounded; every device misbehaviour is an error.

pub mod prp;
pub mod queue;
pub mod spec;

pub use queue::{Completion, QueuePair};
pub use spec::{Sqe, Status, StatusCode};

use crate::backend::PciFunction;
use crate::dma::{DmaBuf, IovaAllocator, PAGE};
use crate::{Error, Result};
use spec::{admin, cap, cc, cns, csts, io};
use std::time::{Duration, Instant};

/// Entries in a PRP list page (no chaining: one page per command).
const PRP_LIST_ENTRIES: usize = PAGE / 8;
const ADMIN_QUEUE_SIZE: u16 = 32;

/// Driver options.
#[derive(Clone, Debug)]
pub struct Options {
    /// I/O queue pairs wanted (the controller may grant fewer).
    pub io_queues: u16,
    /// Entries per I/O queue (capped by CAP.MQES+1).
    pub queue_size: u16,
    /// Use MSI-X interrupts (else poll).
    pub interrupts: bool,
    /// Per-command timeout.
    pub cmd_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            io_queues: 2,
            queue_size: 64,
            interrupts: true,
            cmd_timeout: Duration::from_secs(5),
        }
    }
}

/// Identify Controller, the parts we use (§5.15.2.2, Figure 247).
#[derive(Clone, Debug, Default)]
pub struct ControllerInfo {
    pub vid: u16,
    pub ssvid: u16,
    pub serial: String,
    pub model: String,
    pub firmware: String,
    /// Maximum data transfer size as a power of two of the minimum page
    /// size (0 = unlimited).
    pub mdts: u8,
    pub cntlid: u16,
    pub version: u32,
    /// Number of namespaces.
    pub nn: u32,
    /// Optional NVM Command Support (ONCS bit 3 = Write Zeroes).
    pub oncs: u16,
    /// Volatile write cache present.
    pub vwc: bool,
}

/// Identify Namespace, the parts we use (§5.15.2.1, Figure 245).
#[derive(Clone, Debug, Default)]
pub struct NamespaceInfo {
    pub nsid: u32,
    /// Size in logical blocks.
    pub blocks: u64,
    pub block_size: u32,
}

/// One I/O command of the NVM command set.
#[derive(Clone, Copy, Debug)]
pub enum IoOp {
    Read { lba: u64, blocks: u32 },
    Write { lba: u64, blocks: u32 },
    Flush,
    WriteZeroes { lba: u64, blocks: u32 },
}

/// An NVMe controller driven through a backend.
pub struct Nvme<B: PciFunction> {
    dev: B,
    opts: Options,
    iova: IovaAllocator,
    cap: u64,
    ready_timeout: Duration,
    admin: Option<QueuePair>,
    io: Vec<QueuePair>,
    irq_vectors: u32,
    ctrl: ControllerInfo,
    ns: Option<NamespaceInfo>,
    active_ns: Vec<u32>,
    max_transfer: usize,
    bufs: Vec<DmaBuf>,
}

fn ascii(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim().to_string()
}

impl<B: PciFunction> Nvme<B> {
    /// Bring the controller up and create the I/O queues.
    pub fn new(dev: B, opts: Options) -> Result<Self> {
        let mut n = Nvme {
            dev,
            opts,
            iova: IovaAllocator::default(),
            cap: 0,
            ready_timeout: Duration::from_millis(500),
            admin: None,
            io: Vec::new(),
            irq_vectors: 0,
            ctrl: ControllerInfo::default(),
            ns: None,
            active_ns: Vec::new(),
            max_transfer: PAGE,
            bufs: Vec::new(),
        };
        n.init()?;
        Ok(n)
    }

    /// The backend (for raw access in tests and tools).
    pub fn backend(&self) -> &B {
        &self.dev
    }

    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.dev
    }

    pub fn controller(&self) -> &ControllerInfo {
        &self.ctrl
    }

    /// The namespace used for I/O (the first active one).
    pub fn namespace(&self) -> Result<&NamespaceInfo> {
        self.ns
            .as_ref()
            .ok_or_else(|| Error::Unsupported("no active namespace".into()))
    }

    pub fn active_namespaces(&self) -> &[u32] {
        &self.active_ns
    }

    pub fn io_queue_count(&self) -> usize {
        self.io.len()
    }

    /// Entries usable per I/O queue (queue size - 1).
    pub fn io_queue_depth(&self) -> usize {
        self.io.first().map_or(0, |q| q.size() as usize - 1)
    }

    pub fn interrupt_vectors(&self) -> u32 {
        self.irq_vectors
    }

    /// Largest transfer per command, bytes (MDTS and our PRP list limit).
    pub fn max_transfer(&self) -> usize {
        self.max_transfer
    }

    pub fn cap(&self) -> u64 {
        self.cap
    }

    fn reg32(&self, off: u64) -> Result<u32> {
        self.dev.bar_read32(0, off)
    }

    fn set_reg32(&self, off: u64, v: u32) -> Result<()> {
        self.dev.bar_write32(0, off, v)
    }

    /// CSTS, with CFS turned into an error.
    fn csts(&self) -> Result<u32> {
        let s = self.reg32(spec::REG_CSTS)?;
        if s == u32::MAX {
            return Err(Error::ControllerFatal);
        }
        if s & csts::CFS != 0 {
            return Err(Error::ControllerFatal);
        }
        Ok(s)
    }

    fn wait_ready(&self, want: bool) -> Result<()> {
        let start = Instant::now();
        loop {
            let s = self.reg32(spec::REG_CSTS)?;
            // CFS while enabling is fatal; while disabling we keep waiting
            // for RDY=0 (a reset clears CFS).
            if want && s & csts::CFS != 0 {
                return Err(Error::ControllerFatal);
            }
            if (s & csts::RDY != 0) == want && s != u32::MAX {
                return Ok(());
            }
            if start.elapsed() > self.ready_timeout {
                return Err(Error::ReadyTimeout {
                    want: if want { "ready" } else { "disabled" },
                    after: start.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// CC.EN=0 and wait RDY=0 (§7.6.1 step 1 / §7.3.2 controller reset).
    pub fn disable(&mut self) -> Result<()> {
        let c = self.reg32(spec::REG_CC)?;
        if c & cc::EN != 0 {
            self.set_reg32(spec::REG_CC, c & !cc::EN)?;
        }
        self.wait_ready(false)
    }

    fn free_all(&mut self) {
        let mut bufs: Vec<DmaBuf> = Vec::new();
        for q in self.io.drain(..).chain(self.admin.take()) {
            bufs.push(q.sq);
            bufs.push(q.cq);
            bufs.push(q.prp_pages);
        }
        bufs.append(&mut self.bufs);
        for b in bufs {
            let _ = self.iova.free(&mut self.dev, b);
        }
    }

    fn alloc_queue(&mut self, qid: u16, size: u16) -> Result<QueuePair> {
        let dstrd = cap::dstrd(self.cap);
        let sq = self.iova.alloc(&mut self.dev, size as usize * 64)?;
        let cq = self.iova.alloc(&mut self.dev, size as usize * 16)?;
        let prp = self.iova.alloc(&mut self.dev, (size as usize - 1) * PAGE)?;
        QueuePair::new(qid, size, sq, cq, prp, dstrd)
    }

    fn init(&mut self) -> Result<()> {
        self.dev.enable_bus_master()?;
        self.cap = self.dev.bar_read64(0, spec::REG_CAP)?;
        if self.cap == u64::MAX || self.cap == 0 {
            return Err(Error::Unsupported(format!(
                "{}: CAP reads {:#x} (controller offline?)",
                self.dev.name(),
                self.cap
            )));
        }
        if !cap::css_nvm(self.cap) {
            return Err(Error::Unsupported(
                "controller lacks the NVM command set".into(),
            ));
        }
        if cap::mpsmin(self.cap) != 0 {
            return Err(Error::Unsupported(
                "controller minimum page size above 4 KiB".into(),
            ));
        }
        self.ready_timeout = Duration::from_millis(500 * cap::to(self.cap).max(1) as u64);
        self.disable()?;
        let _ = self.dev.irq_disable();
        self.irq_vectors = 0;

        // Admin queue (§7.6.1 steps 3-4).
        let mqes = cap::mqes(self.cap) as u32 + 1;
        let asize = ADMIN_QUEUE_SIZE.min(mqes.min(4096) as u16);
        let admin = self.alloc_queue(0, asize)?;
        self.set_reg32(
            spec::REG_AQA,
            ((asize as u32 - 1) << 16) | (asize as u32 - 1),
        )?;
        self.dev.bar_write64(0, spec::REG_ASQ, admin.sq.iova)?;
        self.dev.bar_write64(0, spec::REG_ACQ, admin.cq.iova)?;
        self.admin = Some(admin);
        // Enable: NVM command set, 4 KiB pages, round robin, 64/16-byte entries.
        self.set_reg32(spec::REG_CC, cc::EN | cc::IOSQES_64 | cc::IOCQES_16)?;
        self.wait_ready(true)?;

        // Interrupts: vector 0 for the admin CQ, one per I/O CQ if we can.
        if self.opts.interrupts && self.dev.irq_count() > 0 {
            let want = (1 + self.opts.io_queues as u32).min(self.dev.irq_count());
            self.irq_vectors = self.dev.irq_enable(want)?;
            if let Some(a) = self.admin.as_mut() {
                a.vector = Some(0);
            }
        }

        self.identify_all()?;

        // Number of queues (§5.21.1.7): 0-based counts in both halves.
        let want = self.opts.io_queues.max(1) as u32;
        let dw0 = self.admin_cmd({
            let mut c = Sqe::new(admin::SET_FEATURES);
            c.cdw10 = spec::FEAT_NUM_QUEUES;
            c.cdw11 = (want - 1) | (want - 1) << 16;
            c
        })?;
        let granted = ((dw0 & 0xffff) + 1).min((dw0 >> 16) + 1).min(want) as u16;
        let qsize = (self.opts.queue_size.max(2) as u32).min(mqes).min(4096) as u16;
        for qid in 1..=granted {
            let mut q = self.alloc_queue(qid, qsize)?;
            let vector = if self.irq_vectors > 0 {
                Some((qid as u32).min(self.irq_vectors - 1))
            } else {
                None
            };
            // Create I/O CQ (§5.4): PC=1, IEN, IV.
            let mut c = Sqe::new(admin::CREATE_IO_CQ);
            c.prp1 = q.cq.iova;
            c.cdw10 = ((qsize as u32 - 1) << 16) | qid as u32;
            c.cdw11 = 1 | vector.map_or(0, |v| 2 | v << 16);
            self.admin_cmd(c)?;
            // Create I/O SQ (§5.5): PC=1, CQID=qid.
            let mut c = Sqe::new(admin::CREATE_IO_SQ);
            c.prp1 = q.sq.iova;
            c.cdw10 = ((qsize as u32 - 1) << 16) | qid as u32;
            c.cdw11 = 1 | (qid as u32) << 16;
            self.admin_cmd(c)?;
            q.vector = vector;
            self.io.push(q);
        }
        Ok(())
    }

    fn identify_all(&mut self) -> Result<()> {
        let buf = self.iova.alloc(&mut self.dev, PAGE)?;
        let result = self.identify_into(&buf);
        let _ = self.iova.free(&mut self.dev, buf);
        result
    }

    fn identify_into(&mut self, buf: &DmaBuf) -> Result<()> {
        let mut d = vec![0u8; 4096];
        self.identify(cns::CONTROLLER, 0, 0, buf, &mut d)?;
        let u16at = |d: &[u8], o: usize| u16::from_le_bytes([d[o], d[o + 1]]);
        let u32at = |d: &[u8], o: usize| u32::from_le_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]]);
        self.ctrl = ControllerInfo {
            vid: u16at(&d, 0),
            ssvid: u16at(&d, 2),
            serial: ascii(&d[4..24]),
            model: ascii(&d[24..64]),
            firmware: ascii(&d[64..72]),
            mdts: d[77],
            cntlid: u16at(&d, 78),
            version: u32at(&d, 80),
            nn: u32at(&d, 516),
            oncs: u16at(&d, 520),
            vwc: d[525] & 1 == 1,
        };
        let list_max = PAGE + PRP_LIST_ENTRIES * PAGE;
        self.max_transfer = if self.ctrl.mdts == 0 {
            list_max
        } else {
            (PAGE << self.ctrl.mdts.min(20)).min(list_max)
        };
        // Active namespace list (§5.15.2.3).
        self.identify(cns::ACTIVE_NS_LIST, 0, 0, buf, &mut d)?;
        self.active_ns = d
            .chunks(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .take_while(|&n| n != 0)
            .collect();
        self.ns = None;
        if let Some(&nsid) = self.active_ns.first() {
            self.ns = Some(self.identify_namespace_with(nsid, buf, &mut d)?);
        }
        Ok(())
    }

    fn identify_namespace_with(
        &mut self,
        nsid: u32,
        buf: &DmaBuf,
        d: &mut [u8],
    ) -> Result<NamespaceInfo> {
        self.identify(cns::NAMESPACE, nsid, 0, buf, d)?;
        let nsze = u64::from_le_bytes(d[0..8].try_into().unwrap_or([0; 8]));
        let flbas = (d[26] & 0xf) as usize;
        let lbaf = u32::from_le_bytes(
            d[128 + 4 * flbas..132 + 4 * flbas]
                .try_into()
                .unwrap_or([0; 4]),
        );
        let lbads = (lbaf >> 16) & 0xff;
        if !(9..=16).contains(&lbads) {
            return Err(Error::Unsupported(format!(
                "namespace {nsid}: LBA data size 2^{lbads}"
            )));
        }
        Ok(NamespaceInfo {
            nsid,
            blocks: nsze,
            block_size: 1 << lbads,
        })
    }

    /// Identify Namespace `nsid`.
    pub fn identify_namespace(&mut self, nsid: u32) -> Result<NamespaceInfo> {
        let buf = self.iova.alloc(&mut self.dev, PAGE)?;
        let mut d = vec![0u8; PAGE];
        let r = self.identify_namespace_with(nsid, &buf, &mut d);
        let _ = self.iova.free(&mut self.dev, buf);
        r
    }

    /// Raw Identify (§5.15) into `out` (4096 bytes).
    pub fn identify(
        &mut self,
        cns: u32,
        nsid: u32,
        cntid: u16,
        buf: &DmaBuf,
        out: &mut [u8],
    ) -> Result<()> {
        let mut c = Sqe::new(admin::IDENTIFY);
        c.nsid = nsid;
        c.prp1 = buf.iova;
        c.cdw10 = cns | (cntid as u32) << 16;
        self.admin_cmd(c)?;
        let n = PAGE.min(out.len());
        buf.region.read(0, &mut out[..n])
    }

    /// Issue one admin command and wait for it; returns completion dword 0.
    pub fn admin_cmd(&mut self, cmd: Sqe) -> Result<u32> {
        let c = self.run_one(None, cmd)?;
        c.result.map_err(|status| Error::Command {
            qid: 0,
            opcode: cmd.opcode,
            status,
        })
    }

    fn queue_mut(&mut self, q: Option<usize>) -> Result<&mut QueuePair> {
        match q {
            None => self.admin.as_mut().ok_or(Error::QueueBroken(0)),
            Some(i) => {
                let n = self.io.len();
                self.io
                    .get_mut(i)
                    .ok_or_else(|| Error::Invalid(format!("I/O queue index {i} (have {n})")))
            }
        }
    }

    /// Submit `cmd` (PRPs already filled) on admin (`None`) or I/O queue
    /// `q`, ring, and wait for its completion.
    pub fn run_one(&mut self, q: Option<usize>, cmd: Sqe) -> Result<Completion> {
        let qp = self.queue_mut(q)?;
        let cid = qp.alloc_cid()?;
        qp.push(cid, cmd, u64::MAX)?;
        let mut out = Vec::with_capacity(1);
        self.ring_queue(q)?;
        loop {
            self.wait_queue(q, &mut out)?;
            if let Some(i) = out.iter().position(|c| c.cid == cid) {
                return Ok(out.swap_remove(i));
            }
            out.clear();
        }
    }

    fn ring_queue(&mut self, q: Option<usize>) -> Result<()> {
        let (dev, qp) = match q {
            None => (&self.dev, self.admin.as_mut().ok_or(Error::QueueBroken(0))?),
            Some(i) => (
                &self.dev,
                self.io
                    .get_mut(i)
                    .ok_or_else(|| Error::Invalid(format!("queue {i}")))?,
            ),
        };
        qp.ring(dev)
    }

    /// Wait until queue `q` has at least one completion (appended to
    /// `out`), a command times out, or the controller reports CFS.
    fn wait_queue(&mut self, q: Option<usize>, out: &mut Vec<Completion>) -> Result<usize> {
        let timeout = self.opts.cmd_timeout;
        let mut spins = 0u32;
        loop {
            let (dev, qp) = match q {
                None => (&self.dev, self.admin.as_mut().ok_or(Error::QueueBroken(0))?),
                Some(i) => (
                    &self.dev,
                    self.io
                        .get_mut(i)
                        .ok_or_else(|| Error::Invalid(format!("queue {i}")))?,
                ),
            };
            let n = qp.reap(dev, out)?;
            if n > 0 {
                return Ok(n);
            }
            if qp.outstanding() == 0 {
                return Ok(0);
            }
            let vector = qp.vector;
            if let Err(e) = qp.check_timeouts(timeout) {
                // Prefer the more precise CFS diagnosis if it applies.
                self.csts()?;
                return Err(e);
            }
            spins += 1;
            match vector {
                Some(v) if self.irq_vectors > 0 => {
                    if !self.dev.irq_wait(v, Duration::from_millis(10))? {
                        self.csts()?;
                    }
                }
                _ => {
                    if spins.is_multiple_of(64) {
                        self.csts()?;
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
            }
        }
    }

    /// Allocate a DMA buffer mapped for the device.
    pub fn alloc_buffer(&mut self, len: usize) -> Result<DmaBuf> {
        let b = self.iova.alloc(&mut self.dev, len)?;
        self.bufs.push(b.clone());
        Ok(b)
    }

    /// Unmap and forget a buffer from `alloc_buffer`.
    pub fn free_buffer(&mut self, buf: DmaBuf) -> Result<()> {
        self.bufs.retain(|b| b.iova != buf.iova);
        self.iova.free(&mut self.dev, buf)
    }

    /// An IOVA that no buffer is mapped at (for negative tests).
    pub fn unmapped_iova(&self) -> u64 {
        self.iova.unmapped_iova()
    }

    /// Build the command for `op` on data at `buf[off..]` and queue it on
    /// I/O queue `q` without ringing the doorbell. Returns the command id.
    pub fn submit(
        &mut self,
        q: usize,
        op: IoOp,
        buf: &DmaBuf,
        off: usize,
        tag: u64,
    ) -> Result<u16> {
        let ns = self.namespace()?.clone();
        let max = self.max_transfer;
        let (opcode, lba, blocks) = match op {
            IoOp::Read { lba, blocks } => (io::READ, lba, blocks),
            IoOp::Write { lba, blocks } => (io::WRITE, lba, blocks),
            IoOp::WriteZeroes { lba, blocks } => (io::WRITE_ZEROES, lba, blocks),
            IoOp::Flush => (io::FLUSH, 0, 0),
        };
        let mut c = Sqe::new(opcode);
        c.nsid = ns.nsid;
        if opcode != io::FLUSH {
            if blocks == 0 || blocks > 65536 {
                return Err(Error::Invalid(format!("{blocks} blocks per command")));
            }
            if lba.checked_add(blocks as u64).is_none_or(|e| e > ns.blocks) {
                return Err(Error::Invalid(format!(
                    "LBA range {lba}+{blocks} beyond namespace of {} blocks",
                    ns.blocks
                )));
            }
            c.cdw10 = lba as u32;
            c.cdw11 = (lba >> 32) as u32;
            c.cdw12 = blocks - 1;
        }
        let qp = self.queue_mut(Some(q))?;
        let cid = qp.alloc_cid()?;
        if opcode == io::READ || opcode == io::WRITE {
            let len = blocks as usize * ns.block_size as usize;
            if len > max {
                qp.release_cid(cid);
                return Err(Error::TooLarge { len, max });
            }
            if off.checked_add(len).is_none_or(|e| e > buf.len()) {
                qp.release_cid(cid);
                return Err(Error::Bounds(format!(
                    "{len} bytes at {off} in buffer of {}",
                    buf.len()
                )));
            }
            let p = match prp::build(buf.iova + off as u64, len, PAGE, PRP_LIST_ENTRIES) {
                Ok(p) => p,
                Err(e) => {
                    qp.release_cid(cid);
                    return Err(e);
                }
            };
            c.prp1 = p.prp1;
            c.prp2 = match p.prp2 {
                prp::Prp2::None => 0,
                prp::Prp2::Page(a) => a,
                prp::Prp2::List(entries) => {
                    let (iova, poff) = qp.prp_page(cid);
                    for (i, e) in entries.iter().enumerate() {
                        qp.prp_pages.region.write64(poff + 8 * i, *e)?;
                    }
                    iova
                }
            };
        }
        qp.push(cid, c, tag)?;
        Ok(cid)
    }

    /// Submit a raw, fully formed command on I/O queue `q` (no checks);
    /// for diagnostics and negative tests.
    pub fn submit_raw(&mut self, q: usize, mut cmd: Sqe, tag: u64) -> Result<u16> {
        if cmd.nsid == 0 {
            cmd.nsid = self.namespace()?.nsid;
        }
        let qp = self.queue_mut(Some(q))?;
        let cid = qp.alloc_cid()?;
        qp.push(cid, cmd, tag)?;
        Ok(cid)
    }

    /// Ring queue `q`'s doorbell once for everything submitted since.
    pub fn ring(&mut self, q: usize) -> Result<()> {
        self.ring_queue(Some(q))
    }

    /// Wait for at least one completion on queue `q` (0 if nothing is
    /// outstanding). Errors: timeout, CFS, protocol violations.
    pub fn wait(&mut self, q: usize, out: &mut Vec<Completion>) -> Result<usize> {
        self.wait_queue(Some(q), out)
    }

    /// Reap whatever is complete on queue `q` without waiting.
    pub fn poll(&mut self, q: usize, out: &mut Vec<Completion>) -> Result<usize> {
        let (dev, qp) = (
            &self.dev,
            self.io
                .get_mut(q)
                .ok_or_else(|| Error::Invalid(format!("queue {q}")))?,
        );
        qp.reap(dev, out)
    }

    /// Free submission slots on queue `q`.
    pub fn free_slots(&self, q: usize) -> usize {
        self.io.get(q).map_or(0, |qp| qp.free_slots())
    }

    fn run_io(&mut self, q: usize, op: IoOp, buf: &DmaBuf) -> Result<()> {
        self.submit(q, op, buf, 0, 0)?;
        self.ring(q)?;
        let mut out = Vec::new();
        loop {
            self.wait(q, &mut out)?;
            if let Some(c) = out.pop() {
                return c.result.map(|_| ()).map_err(|status| Error::Command {
                    qid: q as u16 + 1,
                    opcode: c.opcode,
                    status,
                });
            }
        }
    }

    /// Synchronous read of `out.len()` bytes (a whole number of blocks)
    /// from `lba`, split into commands of at most `max_transfer`.
    pub fn read(&mut self, q: usize, lba: u64, out: &mut [u8]) -> Result<()> {
        let bs = self.namespace()?.block_size as usize;
        if !out.len().is_multiple_of(bs) {
            return Err(Error::Invalid(format!(
                "length {} not a multiple of {bs}",
                out.len()
            )));
        }
        let chunk = (self.max_transfer / bs) * bs;
        let buf = self.alloc_buffer(chunk.min(out.len().max(bs)))?;
        let mut r = Ok(());
        for (i, part) in out.chunks_mut(chunk).enumerate() {
            let l = lba + (i * chunk / bs) as u64;
            r = self
                .run_io(
                    q,
                    IoOp::Read {
                        lba: l,
                        blocks: (part.len() / bs) as u32,
                    },
                    &buf,
                )
                .and_then(|_| buf.region.read(0, part));
            if r.is_err() {
                break;
            }
        }
        let _ = self.free_buffer(buf);
        r
    }

    /// Synchronous write of `data` (a whole number of blocks) at `lba`.
    pub fn write(&mut self, q: usize, lba: u64, data: &[u8]) -> Result<()> {
        let bs = self.namespace()?.block_size as usize;
        if !data.len().is_multiple_of(bs) {
            return Err(Error::Invalid(format!(
                "length {} not a multiple of {bs}",
                data.len()
            )));
        }
        let chunk = (self.max_transfer / bs) * bs;
        let buf = self.alloc_buffer(chunk.min(data.len().max(bs)))?;
        let mut r = Ok(());
        for (i, part) in data.chunks(chunk).enumerate() {
            let l = lba + (i * chunk / bs) as u64;
            r = buf.region.write(0, part).and_then(|_| {
                self.run_io(
                    q,
                    IoOp::Write {
                        lba: l,
                        blocks: (part.len() / bs) as u32,
                    },
                    &buf,
                )
            });
            if r.is_err() {
                break;
            }
        }
        let _ = self.free_buffer(buf);
        r
    }

    /// Flush (§6.8).
    pub fn flush(&mut self, q: usize) -> Result<()> {
        let buf = self.alloc_buffer(PAGE)?;
        let r = self.run_io(q, IoOp::Flush, &buf);
        let _ = self.free_buffer(buf);
        r
    }

    /// Write Zeroes (§6.16).
    pub fn write_zeroes(&mut self, q: usize, lba: u64, blocks: u32) -> Result<()> {
        let buf = self.alloc_buffer(PAGE)?;
        let r = self.run_io(q, IoOp::WriteZeroes { lba, blocks }, &buf);
        let _ = self.free_buffer(buf);
        r
    }

    /// Controller reset: function reset if the backend offers one, then
    /// the full bring-up again. Recovers from timeouts, CFS and protocol
    /// errors; outstanding commands are lost.
    pub fn reset(&mut self) -> Result<()> {
        let _ = self.dev.irq_disable();
        self.irq_vectors = 0;
        // A broken controller may never clear RDY; FLR is the big hammer.
        if self.disable().is_err() {
            self.dev.reset()?;
        }
        self.free_all();
        self.init()
    }

    /// Function-level reset through the backend (FLR on VFIO), then the
    /// full bring-up. Namespace contents survive; queues are rebuilt.
    pub fn function_reset(&mut self) -> Result<()> {
        let _ = self.dev.irq_disable();
        self.irq_vectors = 0;
        self.dev.reset()?;
        self.free_all();
        self.init()
    }

    /// Normal shutdown (CC.SHN=01b, wait CSTS.SHST=10b, §7.6.2).
    /// I/O queues are deleted first (SQs, then CQs) when the admin queue is
    /// healthy; failures there do not stop the shutdown.
    pub fn shutdown(&mut self) -> Result<()> {
        let c = self.reg32(spec::REG_CC)?;
        if c & cc::EN == 0 {
            return Ok(());
        }
        if self.admin.as_ref().is_some_and(|a| !a.is_broken()) && self.csts().is_ok() {
            let qids: Vec<u16> = self.io.iter().map(|q| q.qid).collect();
            for op in [admin::DELETE_IO_SQ, admin::DELETE_IO_CQ] {
                for &qid in &qids {
                    let mut d = Sqe::new(op);
                    d.cdw10 = qid as u32;
                    if self.admin_cmd(d).is_err() {
                        break;
                    }
                }
            }
        }
        self.set_reg32(spec::REG_CC, (c & !cc::SHN_MASK) | cc::SHN_NORMAL)?;
        let start = Instant::now();
        loop {
            let s = self.reg32(spec::REG_CSTS)?;
            if s & csts::SHST_MASK == csts::SHST_COMPLETE {
                return Ok(());
            }
            if s & csts::CFS != 0 {
                return Err(Error::ControllerFatal);
            }
            if start.elapsed() > self.ready_timeout {
                return Err(Error::ReadyTimeout {
                    want: "shut down",
                    after: start.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Version register (§3.1.2).
    pub fn version(&self) -> Result<u32> {
        self.reg32(spec::REG_VS)
    }

    /// Mask all pin interrupts (unused with MSI-X; §3.1.3).
    pub fn mask_intx(&self) -> Result<()> {
        self.set_reg32(spec::REG_INTMS, u32::MAX)
    }
}

impl<B: PciFunction> Drop for Nvme<B> {
    fn drop(&mut self) {
        let _ = self.shutdown();
        let _ = self.dev.irq_disable();
        self.free_all();
    }
}
