//! The verilated `nvme_front` top (hdl/src/nvme/front.rs, 4 VFs) driven by a
//! Rust host model: host memory answering the front's DMA requests (SQE
//! fetch, CQE write), a behavioural stand-in for `nvme/mover` (HOST_WRITE
//! copies the `gd_*` beats to PRP1/PRP2; READ / WRITE / ZEROES complete with
//! a chosen `md_status`), a provisioning table, and a small NVMe host driver
//! (NVMe 1.4 §7.6.1 initialisation, §4.1 queues, §4.6 completions).
//!
//! Expected values come from the NVMe 1.4 specification (status codes
//! §4.6.1.2, Identify layouts §5.15.2, log pages §5.14.1) and from
//! `nitrous-regmap`, not from the HDL.
#![cfg(nsim_top_nvme_front)]

use nitrous_sim::{models::NvmeFront, Sim};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet, VecDeque};

// NVMe 1.4 status codes (SCT << 8 | SC), §4.6.1.2.1 / §4.6.1.2.2 / Figure 126.
const SUCCESS: u16 = 0x000;
const INVALID_OPCODE: u16 = 0x001;
const INVALID_FIELD: u16 = 0x002;
const DATA_TRANSFER_ERROR: u16 = 0x004;
const INTERNAL_ERROR: u16 = 0x006;
const INVALID_NAMESPACE: u16 = 0x00b;
const PRP_OFFSET_INVALID: u16 = 0x013;
const LBA_OUT_OF_RANGE: u16 = 0x080;
const CQ_INVALID: u16 = 0x100;
const INVALID_QID: u16 = 0x101;
const INVALID_QSIZE: u16 = 0x102;
const AER_LIMIT: u16 = 0x105;
const INVALID_VECTOR: u16 = 0x108;
const INVALID_LOG_PAGE: u16 = 0x109;
const INVALID_QUEUE_DELETION: u16 = 0x10c;
const FEATURE_NOT_SAVEABLE: u16 = 0x10d;

const NVFS: usize = 4;
const MDTS_BYTES: u64 = 4096 << nitrous_regmap::nvme::MDTS;
/// Host memory the mover stand-in may write admin data into.
const DATA_REGION: std::ops::Range<u64> = 0x4000_0000..0x5000_0000;

#[derive(Clone, Copy, Default)]
struct Prov {
    enabled: bool,
    blocks: u64,
    shift: u8,
    base: u64,
    slot: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MvCmd {
    func: u8,
    op: u8,
    prp1: u64,
    prp2: u64,
    len: u32,
    slba: u64,
    shift: u8,
    base: u64,
    slot: u8,
}

#[derive(Clone, Copy, Debug)]
struct Cqe {
    dw0: u32,
    sqhd: u16,
    sqid: u16,
    cid: u16,
    status: u16,
    dnr: bool,
}

struct Ring {
    sq: u64,
    cq: u64,
    sq_entries: u16,
    cq_entries: u16,
    tail: u16,
    head: u16,
    phase: bool,
}

struct Tb {
    sim: Sim<NvmeFront>,
    mem: HashMap<u64, Box<[u8; 4096]>>,
    fault_pages: HashSet<u64>,
    prov: [Prov; 32],
    ven: u32,
    reads: VecDeque<(u64, u32, u8)>,
    read_beat: u32,
    writes: VecDeque<(u64, u32)>,
    mover: Option<(MvCmd, Vec<u8>, u32)>,
    pub mv_log: Vec<MvCmd>,
    md_status: VecDeque<u8>,
    md_pulse: Option<u8>,
    irqs: Vec<(u8, u8)>,
    served: [u32; 32],
    rejected: [u32; 32],
    rdata: Option<u32>,
    rq_stall: u32,
    rings: HashMap<(u8, u16), Ring>,
    cid: u16,
    rq_log: Vec<(u8, bool, u64)>,
    /// Clocks the mover stand-in takes per READ / WRITE / ZEROES command.
    mv_delay: u32,
    /// Host read latency: clocks from a read's header to its first beat
    /// (0: the next clock), and the clock each queued read may start.
    rd_latency: u64,
    read_at: VecDeque<u64>,
    /// Most SQE reads outstanding at once (header accepted, not complete).
    max_reads: usize,
}

impl Tb {
    fn new() -> Tb {
        let mut sim = Sim::<NvmeFront>::new().unwrap();
        let mut prov = [Prov::default(); 32];
        for (f, p) in prov.iter_mut().enumerate().take(NVFS + 1).skip(1) {
            *p = Prov {
                enabled: true,
                blocks: 1000 * f as u64,
                shift: if f % 2 == 1 { 9 } else { 12 },
                base: 0x1_0000_0000 * f as u64,
                slot: f as u8 + 2,
            };
        }
        let ven = (1u32 << (NVFS + 1)) - 1;
        sim.set_cfg_vf_enable(ven);
        sim.apply_reset(2).unwrap();
        let mut tb = Tb {
            sim,
            mem: HashMap::new(),
            fault_pages: HashSet::new(),
            prov,
            ven,
            reads: VecDeque::new(),
            read_beat: 0,
            writes: VecDeque::new(),
            mover: None,
            mv_log: Vec::new(),
            md_status: VecDeque::new(),
            md_pulse: None,
            irqs: Vec::new(),
            served: [0; 32],
            rejected: [0; 32],
            rdata: None,
            rq_stall: 0,
            rings: HashMap::new(),
            cid: 0x100,
            rq_log: Vec::new(),
            mv_delay: 20,
            rd_latency: 0,
            read_at: VecDeque::new(),
            max_reads: 0,
        };
        // Every function's reset job runs after reset.
        tb.steps(200);
        tb
    }

    fn rd8(&self, a: u64) -> u8 {
        self.mem
            .get(&(a >> 12))
            .map_or(0, |p| p[(a & 0xfff) as usize])
    }
    fn wr8(&mut self, a: u64, v: u8) {
        self.mem
            .entry(a >> 12)
            .or_insert_with(|| Box::new([0; 4096]))[(a & 0xfff) as usize] = v;
    }
    fn rd32(&self, a: u64) -> u32 {
        u32::from_le_bytes([
            self.rd8(a),
            self.rd8(a + 1),
            self.rd8(a + 2),
            self.rd8(a + 3),
        ])
    }
    fn wr32(&mut self, a: u64, v: u32) {
        for (i, b) in v.to_le_bytes().into_iter().enumerate() {
            self.wr8(a + i as u64, b);
        }
    }
    fn zero(&mut self, a: u64, n: u64) {
        for i in 0..n {
            self.wr8(a + i, 0);
        }
    }
    fn read_bytes(&self, a: u64, n: usize) -> Vec<u8> {
        (0..n).map(|i| self.rd8(a + i as u64)).collect()
    }

    /// One clock: answer every handshake of the front from the models, then tick.
    fn step(&mut self) {
        let s = &mut self.sim;
        // Provisioning lookup (combinational in the control block).
        let p = self.prov[s.prov_func() as usize];
        s.set_prov_enabled(p.enabled);
        s.set_prov_blocks(p.blocks);
        s.set_prov_lba_shift(p.shift);
        s.set_prov_base(p.base);
        s.set_prov_slot(p.slot);
        // DMA requests.
        let rq_ready = if self.rq_stall > 0 {
            self.rq_stall -= 1;
            false
        } else {
            true
        };
        s.set_rq_ready(rq_ready);
        let mut new_read = None;
        if s.rq_valid() && rq_ready {
            assert!(s.rq_tag() < 0x80, "front tags are 0x00..0x7F");
            let (a, l, f) = (s.rq_addr(), s.rq_len() as u32, s.rq_func());
            assert!(a % 4 == 0 && l % 4 == 0 && l > 0 && (a & 0xfff) + l as u64 <= 4096);
            self.rq_log.push((f, s.rq_write(), a));
            if s.rq_write() {
                assert_eq!(l, 16, "CQE writes are 16 bytes");
                self.writes.push_back((a, l));
            } else {
                assert_eq!(l, 64, "SQE fetches are 64 bytes");
                new_read = Some((a, l, f));
            }
        }
        s.set_wd_ready(true);
        let wd = if s.wd_valid() {
            assert!(s.wd_last());
            Some(s.wd_data())
        } else {
            None
        };
        // Read completions: one beat per clock, in order.
        let mut rc = None;
        let now = self.sim.cycle();
        let started = self.read_at.front().is_some_and(|&t| now >= t);
        if let (Some(&(a, l, _f)), true) = (self.reads.front(), started) {
            let beats = l.div_ceil(16);
            let addr = a + 16 * self.read_beat as u64;
            let err = self.fault_pages.contains(&(a >> 12));
            let mut v = 0u128;
            if !err {
                for i in 0..16 {
                    v |= (self.rd8(addr + i) as u128) << (8 * i);
                }
            }
            rc = Some((v, self.read_beat + 1 == beats, err));
        }
        // A request's completion beats start after its header.
        if let Some(r) = new_read {
            self.reads.push_back(r);
            self.read_at.push_back(now + 1 + self.rd_latency);
            self.max_reads = self.max_reads.max(self.reads.len());
        }
        let s = &mut self.sim;
        match rc {
            Some((v, last, err)) => {
                s.set_rc_valid(true);
                s.set_rc_data(v);
                s.set_rc_last(last);
                s.set_rc_err(err);
                s.set_rc_tag(0);
                assert!(s.rc_ready());
                self.read_beat += 1;
                if last {
                    self.reads.pop_front();
                    self.read_at.pop_front();
                    self.read_beat = 0;
                }
            }
            None => {
                s.set_rc_valid(false);
                s.set_rc_last(false);
                s.set_rc_err(false);
            }
        }
        // Mover stand-in.
        s.set_mv_ready(self.mover.is_none());
        if self.mover.is_none() && s.mv_valid() {
            let c = MvCmd {
                func: s.mv_func(),
                op: s.mv_op(),
                prp1: s.mv_prp1(),
                prp2: s.mv_prp2(),
                len: s.mv_len(),
                slba: s.mv_slba(),
                shift: s.mv_lba_shift(),
                base: s.mv_base(),
                slot: s.mv_slot(),
            };
            self.mv_log.push(c);
            self.mover = Some((c, Vec::new(), self.mv_delay));
        }
        let mut finished = None;
        let mut gd_take = false;
        if let Some((c, data, delay)) = self.mover.as_mut() {
            if c.op == 3 && data.len() < c.len as usize {
                gd_take = true;
                if s.gd_valid() {
                    let beat = s.gd_data().to_le_bytes();
                    let need = c.len as usize - data.len();
                    data.extend_from_slice(&beat[..need.min(16)]);
                }
            } else if *delay > 0 {
                *delay -= 1;
            } else {
                finished = Some((*c, std::mem::take(data)));
            }
        }
        s.set_gd_ready(gd_take);
        let pulse = self.md_pulse.take();
        s.set_md_valid(pulse.is_some());
        s.set_md_status(pulse.unwrap_or(0));
        if let Some((c, data)) = finished {
            self.mover = None;
            let st = self.md_status.pop_front().unwrap_or(0);
            if c.op == 3 && st == 0 && DATA_REGION.contains(&c.prp1) {
                // HOST_WRITE through PRP1 / PRP2 (§4.3): two pages at most here.
                let first = (4096 - (c.prp1 & 0xfff)) as usize;
                for (i, b) in data.iter().enumerate() {
                    let a = if i < first {
                        c.prp1 + i as u64
                    } else {
                        c.prp2 + (i - first) as u64
                    };
                    self.wr8(a, *b);
                }
            }
            self.md_pulse = Some(st);
        }
        let s = &mut self.sim;
        s.set_irq_ready(true);
        if s.irq_valid() {
            self.irqs.push((s.irq_func(), s.irq_vector()));
        }
        if s.cnt_served() {
            self.served[s.cnt_func() as usize] += 1;
        }
        if s.cnt_rejected() {
            self.rejected[s.cnt_func() as usize] += 1;
        }
        assert!(!(s.cnt_served() && s.cnt_rejected()));
        if s.rb_rvalid() {
            assert!(self.rdata.is_none(), "one read answer per read");
            self.rdata = Some(s.rb_rdata());
        }
        s.set_cfg_vf_enable(self.ven);
        s.tick();
        s.set_rb_valid(false);
        s.set_flr_valid(false);
        if let Some(d) = wd {
            let (a, _l) = self.writes.pop_front().expect("payload after header");
            for (i, b) in d.to_le_bytes().into_iter().enumerate() {
                self.wr8(a + i as u64, b);
            }
        }
    }

    fn steps(&mut self, n: usize) {
        for _ in 0..n {
            self.step();
        }
    }

    fn reg_write(&mut self, f: u8, addr: u16, v: u32) {
        let s = &mut self.sim;
        s.set_rb_valid(true);
        s.set_rb_func(f);
        s.set_rb_addr(addr);
        s.set_rb_write(true);
        s.set_rb_wdata(v);
        self.step();
        self.steps(2);
    }

    /// A register read; asserts the answer comes within 32 clocks.
    fn reg_read(&mut self, f: u8, addr: u16) -> u32 {
        assert!(self.rdata.is_none());
        let s = &mut self.sim;
        s.set_rb_valid(true);
        s.set_rb_func(f);
        s.set_rb_addr(addr);
        s.set_rb_write(false);
        s.set_rb_wdata(0);
        for _ in 0..33 {
            self.step();
            if let Some(v) = self.rdata.take() {
                return v;
            }
        }
        panic!("register read of {addr:#x} not answered within 32 clocks");
    }

    /// §7.6.1: admin queues of `entries`, CC.EN = 1; returns CSTS.RDY after 300 clocks.
    fn enable(&mut self, f: u8, entries: u16) -> bool {
        let asq = 0x1000_0000 + 0x10_0000 * f as u64;
        let acq = asq + 0x8000;
        let e = entries as u32 - 1;
        self.reg_write(f, 0x24, e | e << 16);
        self.reg_write(f, 0x28, asq as u32);
        self.reg_write(f, 0x2c, (asq >> 32) as u32);
        self.reg_write(f, 0x30, acq as u32);
        self.reg_write(f, 0x34, (acq >> 32) as u32);
        self.zero(acq, 16 * entries as u64);
        self.reg_write(f, 0x14, 0x0046_0001); // IOCQES 4, IOSQES 6, EN
        self.rings.insert(
            (f, 0),
            Ring {
                sq: asq,
                cq: acq,
                sq_entries: entries,
                cq_entries: entries,
                tail: 0,
                head: 0,
                phase: true,
            },
        );
        for _ in 0..300 {
            self.step();
        }
        self.reg_read(f, 0x1c) & 1 == 1
    }

    fn next_cid(&mut self) -> u16 {
        self.cid = self.cid.wrapping_add(1);
        if self.cid == 0xffff {
            self.cid = 1;
        }
        self.cid
    }

    /// Writes `sqe` (its CID is replaced) into SQ `qid` and rings the doorbell.
    fn submit(&mut self, f: u8, qid: u16, mut sqe: [u32; 16]) -> u16 {
        let cid = self.next_cid();
        sqe[0] = (sqe[0] & 0xffff) | (cid as u32) << 16;
        let r = self.rings.get_mut(&(f, qid)).unwrap();
        let a = r.sq + 64 * r.tail as u64;
        r.tail = (r.tail + 1) % r.sq_entries;
        let tail = r.tail;
        for (i, d) in sqe.iter().enumerate() {
            self.wr32(a + 4 * i as u64, *d);
        }
        self.reg_write(f, 0x1000 + 8 * qid, tail as u32);
        cid
    }

    fn peek_cqe(&self, f: u8, qid: u16) -> Option<Cqe> {
        let r = &self.rings[&(f, qid)];
        let a = r.cq + 16 * r.head as u64;
        let dw3 = self.rd32(a + 12);
        if ((dw3 >> 16) & 1 == 1) != r.phase {
            return None;
        }
        let dw2 = self.rd32(a + 8);
        Some(Cqe {
            dw0: self.rd32(a),
            sqhd: dw2 as u16,
            sqid: (dw2 >> 16) as u16,
            cid: dw3 as u16,
            status: ((dw3 >> 17) & 0x7ff) as u16,
            dnr: dw3 >> 31 == 1,
        })
    }

    /// Waits for the next CQE of CQ `qid` (at most `max` clocks) and consumes it.
    fn try_cqe(&mut self, f: u8, qid: u16, max: usize) -> Option<Cqe> {
        for _ in 0..max {
            if let Some(c) = self.peek_cqe(f, qid) {
                let r = self.rings.get_mut(&(f, qid)).unwrap();
                r.head = (r.head + 1) % r.cq_entries;
                if r.head == 0 {
                    r.phase = !r.phase;
                }
                let h = r.head;
                self.reg_write(f, 0x1004 + 8 * qid, h as u32);
                return Some(c);
            }
            self.step();
        }
        None
    }

    fn cqe(&mut self, f: u8, qid: u16) -> Cqe {
        self.try_cqe(f, qid, 5000)
            .unwrap_or_else(|| panic!("no completion on function {f} CQ {qid}"))
    }

    /// Submits and waits; checks CID, SQID and DNR-on-error.
    fn cmd(&mut self, f: u8, qid: u16, sqe: [u32; 16]) -> Cqe {
        let cid = self.submit(f, qid, sqe);
        let c = self.cqe(f, qid);
        assert_eq!(c.cid, cid, "CID");
        assert_eq!(c.sqid, qid, "SQID");
        assert_eq!(c.dnr, c.status != 0, "DNR on errors only: {c:?}");
        c
    }

    fn admin(&mut self, f: u8, sqe: [u32; 16]) -> Cqe {
        self.cmd(f, 0, sqe)
    }

    /// Create I/O CQ + SQ `qid` (PC = 1, IEN = 1, IV = qid).
    fn create_pair(&mut self, f: u8, qid: u16, entries: u16) {
        self.create_pair_sized(f, qid, entries, entries);
    }

    /// Create I/O CQ `qid` (IEN, vector `qid`) and SQ `qid` of the given
    /// sizes on function `f` (NVMe 1.4 §5.3, §5.4); returns the CQ base.
    fn create_pair_sized(&mut self, f: u8, qid: u16, cq_entries: u16, sq_entries: u16) -> u64 {
        let cq = 0x2000_0000 + 0x100_0000 * f as u64 + 0x2_0000 * qid as u64;
        let sq = cq + 0x1_0000;
        self.zero(cq, 16 * cq_entries as u64);
        let ce = (cq_entries as u32 - 1) << 16;
        let c = self.admin(
            f,
            sqe(
                0x05,
                0,
                cq,
                0,
                [qid as u32 | ce, 0x3 | (qid as u32) << 16, 0, 0, 0, 0],
            ),
        );
        assert_eq!(c.status, SUCCESS, "create CQ");
        let se = (sq_entries as u32 - 1) << 16;
        let c = self.admin(
            f,
            sqe(
                0x01,
                0,
                sq,
                0,
                [qid as u32 | se, 0x1 | (qid as u32) << 16, 0, 0, 0, 0],
            ),
        );
        assert_eq!(c.status, SUCCESS, "create SQ");
        self.rings.insert(
            (f, qid),
            Ring {
                sq,
                cq,
                sq_entries,
                cq_entries,
                tail: 0,
                head: 0,
                phase: true,
            },
        );
        cq
    }
}

/// An SQE: opcode, NSID, PRP1, PRP2, CDW10..CDW15.
fn sqe(opc: u8, nsid: u32, prp1: u64, prp2: u64, cdw: [u32; 6]) -> [u32; 16] {
    let mut e = [0u32; 16];
    e[0] = opc as u32;
    e[1] = nsid;
    e[6] = prp1 as u32;
    e[7] = (prp1 >> 32) as u32;
    e[8] = prp2 as u32;
    e[9] = (prp2 >> 32) as u32;
    e[10..16].copy_from_slice(&cdw);
    e
}

fn rw(opc: u8, nsid: u32, slba: u64, nlb0: u32) -> [u32; 16] {
    sqe(
        opc,
        nsid,
        0x4800_0000,
        0x4800_1000,
        [slba as u32, (slba >> 32) as u32, nlb0, 0, 0, 0],
    )
}

const BUF: u64 = 0x4000_0000;

#[test]
fn registers_enable_ready_shutdown() {
    let mut tb = Tb::new();
    let cap = nitrous_regmap::nvme::cap_value();
    assert_eq!(tb.reg_read(1, 0x00), cap as u32);
    assert_eq!(tb.reg_read(1, 0x04), (cap >> 32) as u32);
    assert_eq!(tb.reg_read(2, 0x08), nitrous_regmap::nvme::VERSION_1_4);
    assert_eq!(tb.reg_read(1, 0x14), 0, "CC resets to 0");
    assert_eq!(tb.reg_read(1, 0x20), 0, "NSSR");
    assert_eq!(tb.reg_read(1, 0x40), 0, "unimplemented");
    assert_eq!(tb.reg_read(1, 0x1000), 0, "doorbells are write-only");
    // Function 3 is not provisioned: EN is refused (RDY stays 0).
    tb.prov[3].enabled = false;
    assert!(!tb.enable(3, 8));
    assert!(tb.enable(1, 8));
    assert_eq!(tb.reg_read(1, 0x14), 0x0046_0001);
    assert_eq!(tb.reg_read(1, 0x24), 0x0007_0007);
    assert_eq!(tb.reg_read(1, 0x28), 0x1010_0000);
    assert_eq!(tb.reg_read(1, 0x30), 0x1010_8000);
    assert_eq!(tb.reg_read(1, 0x2c), 0);
    // INTMS / INTMC (§3.1.3, §3.1.4).
    tb.reg_write(1, 0x0c, 0x5);
    assert_eq!(tb.reg_read(1, 0x0c), 0x5);
    tb.reg_write(1, 0x10, 0x1);
    assert_eq!(tb.reg_read(1, 0x10), 0x4);
    // Shutdown notification: SHST = 10b (§7.6.2).
    tb.reg_write(1, 0x14, 0x0046_4001);
    assert_eq!(tb.reg_read(1, 0x1c), 0x9);
    // EN 1 -> 0: RDY = 0; queues gone (a doorbell fetches nothing).
    tb.reg_write(1, 0x14, 0x0046_0000);
    assert_eq!(tb.reg_read(1, 0x1c), 0);
    let n = tb.rq_log.len();
    tb.reg_write(1, 0x1000, 1);
    tb.steps(200);
    assert_eq!(tb.rq_log.len(), n, "no fetch after controller reset");
    // Re-enable works.
    assert!(tb.enable(1, 8));
    let c = tb.admin(1, sqe(0x08, 0, 0, 0, [0; 6]));
    assert_eq!((c.status, c.dw0 & 1), (SUCCESS, 1), "Abort: not aborted");
    assert_eq!(tb.irqs.last(), Some(&(1, 0)), "admin CQ uses vector 0");
}

#[test]
fn identify() {
    let mut tb = Tb::new();
    assert!(tb.enable(2, 4));
    // Identify Controller (CNS 01h) into two pages (PRP1 with an offset).
    let c = tb.admin(
        2,
        sqe(0x06, 0, BUF + 0x800, BUF + 0x2000, [1, 0, 0, 0, 0, 0]),
    );
    assert_eq!(c.status, SUCCESS);
    let mv = *tb.mv_log.last().unwrap();
    assert_eq!((mv.op, mv.len, mv.func), (3, 4096, 2));
    let mut id = tb.read_bytes(BUF + 0x800, 2048);
    id.extend(tb.read_bytes(BUF + 0x2000, 2048));
    let vid = nitrous_regmap::card::VENDOR_ID;
    assert_eq!(u16::from_le_bytes([id[0], id[1]]), vid, "VID");
    assert_eq!(u16::from_le_bytes([id[2], id[3]]), vid, "SSVID");
    assert_eq!(&id[4..24], b"NTRS0000000000000F02", "SN");
    assert_eq!(
        &id[24..64],
        format!("{:<40}", "nitrous NVMe VF").as_bytes(),
        "MN"
    );
    assert_eq!(&id[64..72], b"0.1     ", "FR");
    assert_eq!(id[77], nitrous_regmap::nvme::MDTS, "MDTS");
    assert_eq!(u16::from_le_bytes([id[78], id[79]]), 2, "CNTLID");
    assert_eq!(
        u32::from_le_bytes(id[80..84].try_into().unwrap()),
        0x0001_0400,
        "VER"
    );
    assert_eq!((id[512], id[513]), (0x66, 0x44), "SQES, CQES");
    assert_eq!(
        u32::from_le_bytes(id[516..520].try_into().unwrap()),
        1,
        "NN"
    );
    assert_ne!(id[520] & 0x08, 0, "ONCS Write Zeroes");
    assert_eq!(id[525] & 1, 1, "VWC");
    assert!(id[259] >= 3, "AERL");
    // Identify Namespace (CNS 00h).
    let c = tb.admin(2, sqe(0x06, 1, BUF, BUF + 0x1000, [0, 0, 0, 0, 0, 0]));
    assert_eq!(c.status, SUCCESS);
    let ns = tb.read_bytes(BUF, 4096);
    let p = tb.prov[2];
    for off in [0, 8, 16] {
        assert_eq!(
            u64::from_le_bytes(ns[off..off + 8].try_into().unwrap()),
            p.blocks,
            "NSZE/NCAP/NUSE"
        );
    }
    assert_eq!((ns[25], ns[26]), (0, 0), "NLBAF, FLBAS");
    assert_eq!(ns[130], p.shift, "LBAF0.LBADS");
    // Active namespace list (CNS 02h).
    tb.wr32(BUF + 0x3000, 0xdead);
    let c = tb.admin(2, sqe(0x06, 0, BUF + 0x3000, 0, [2, 0, 0, 0, 0, 0]));
    assert_eq!(c.status, SUCCESS);
    assert_eq!((tb.rd32(BUF + 0x3000), tb.rd32(BUF + 0x3004)), (1, 0));
    // Errors.
    assert_eq!(
        tb.admin(2, sqe(0x06, 2, BUF, 0, [0; 6])).status,
        INVALID_NAMESPACE
    );
    assert_eq!(
        tb.admin(2, sqe(0x06, 0, BUF, 0, [6, 0, 0, 0, 0, 0])).status,
        INVALID_FIELD,
        "CNS 06h is not supported"
    );
    assert_eq!(
        tb.admin(2, sqe(0x06, 0, BUF, 0, [0x10, 0, 0, 0, 0, 0]))
            .status,
        INVALID_FIELD
    );
    // A data transfer failure of the mover is reported (§4.6.1.2.1).
    tb.md_status.push_back(1);
    assert_eq!(
        tb.admin(2, sqe(0x06, 0, BUF, 0, [1, 0, 0, 0, 0, 0])).status,
        DATA_TRANSFER_ERROR
    );
    assert_eq!(
        tb.admin(2, sqe(0x7f, 0, 0, 0, [0; 6])).status,
        INVALID_OPCODE
    );
}

#[test]
fn queue_create_delete_checks() {
    let mut tb = Tb::new();
    assert!(tb.enable(1, 16));
    let base = 0x3000_0000u64;
    let cq = |qid: u32, size0: u32, flags: u32, iv: u32| {
        sqe(
            0x05,
            0,
            base + 0x10000 * qid as u64,
            0,
            [qid | size0 << 16, flags | iv << 16, 0, 0, 0, 0],
        )
    };
    let sq = |qid: u32, size0: u32, pc: u32, cqid: u32| {
        sqe(
            0x01,
            0,
            base + 0x100000 + 0x10000 * qid as u64,
            0,
            [qid | size0 << 16, pc | cqid << 16, 0, 0, 0, 0],
        )
    };
    // Create I/O CQ (§5.3).
    assert_eq!(tb.admin(1, cq(0, 7, 3, 0)).status, INVALID_QID);
    assert_eq!(tb.admin(1, cq(9, 7, 3, 0)).status, INVALID_QID);
    assert_eq!(tb.admin(1, cq(1, 0, 3, 0)).status, INVALID_QSIZE);
    assert_eq!(tb.admin(1, cq(1, 256, 3, 0)).status, INVALID_QSIZE);
    assert_eq!(tb.admin(1, cq(1, 7, 3, 9)).status, INVALID_VECTOR);
    assert_eq!(tb.admin(1, cq(1, 7, 2, 0)).status, INVALID_FIELD, "PC = 0");
    let mut odd = cq(1, 7, 3, 1);
    odd[6] |= 0x40;
    assert_eq!(
        tb.admin(1, odd).status,
        INVALID_FIELD,
        "base not page aligned"
    );
    assert_eq!(tb.admin(1, cq(1, 255, 3, 1)).status, SUCCESS);
    assert_eq!(tb.admin(1, cq(1, 7, 3, 1)).status, INVALID_QID, "exists");
    // Create I/O SQ (§5.4).
    assert_eq!(
        tb.admin(1, sq(1, 7, 1, 2)).status,
        CQ_INVALID,
        "CQ 2 does not exist"
    );
    assert_eq!(tb.admin(1, sq(1, 7, 1, 0)).status, CQ_INVALID, "admin CQ");
    assert_eq!(tb.admin(1, sq(0, 7, 1, 1)).status, INVALID_QID);
    assert_eq!(tb.admin(1, sq(9, 7, 1, 1)).status, INVALID_QID);
    assert_eq!(tb.admin(1, sq(1, 0, 1, 1)).status, INVALID_QSIZE);
    assert_eq!(tb.admin(1, sq(1, 300, 1, 1)).status, INVALID_QSIZE);
    assert_eq!(tb.admin(1, sq(1, 7, 0, 1)).status, INVALID_FIELD, "PC = 0");
    assert_eq!(tb.admin(1, sq(1, 7, 1, 1)).status, SUCCESS);
    assert_eq!(
        tb.admin(1, sq(2, 7, 1, 1)).status,
        SUCCESS,
        "two SQs on one CQ"
    );
    assert_eq!(tb.admin(1, sq(1, 7, 1, 1)).status, INVALID_QID, "exists");
    // Delete (§5.5, §5.6).
    assert_eq!(
        tb.admin(1, sqe(0x04, 0, 0, 0, [1, 0, 0, 0, 0, 0])).status,
        INVALID_QUEUE_DELETION
    );
    assert_eq!(
        tb.admin(1, sqe(0x00, 0, 0, 0, [1, 0, 0, 0, 0, 0])).status,
        SUCCESS
    );
    assert_eq!(
        tb.admin(1, sqe(0x04, 0, 0, 0, [1, 0, 0, 0, 0, 0])).status,
        INVALID_QUEUE_DELETION,
        "SQ 2 still uses it"
    );
    assert_eq!(
        tb.admin(1, sqe(0x00, 0, 0, 0, [2, 0, 0, 0, 0, 0])).status,
        SUCCESS
    );
    assert_eq!(
        tb.admin(1, sqe(0x00, 0, 0, 0, [1, 0, 0, 0, 0, 0])).status,
        INVALID_QID,
        "already deleted"
    );
    assert_eq!(
        tb.admin(1, sqe(0x00, 0, 0, 0, [0, 0, 0, 0, 0, 0])).status,
        INVALID_QID,
        "admin SQ"
    );
    assert_eq!(
        tb.admin(1, sqe(0x04, 0, 0, 0, [1, 0, 0, 0, 0, 0])).status,
        SUCCESS
    );
    assert_eq!(
        tb.admin(1, sqe(0x04, 0, 0, 0, [1, 0, 0, 0, 0, 0])).status,
        INVALID_QID
    );
    assert_eq!(
        tb.admin(1, sqe(0x04, 0, 0, 0, [0, 0, 0, 0, 0, 0])).status,
        INVALID_QID,
        "admin CQ"
    );
    // All eight I/O pairs work.
    for q in 1..=8 {
        tb.create_pair(1, q, 4);
    }
    for q in 1..=8 {
        assert_eq!(tb.cmd(1, q, sqe(0x00, 1, 0, 0, [0; 6])).status, SUCCESS);
    }
    assert_eq!(tb.admin(1, cq(9, 3, 3, 1)).status, INVALID_QID);
}

#[test]
fn io_validation_and_mover_command() {
    let mut tb = Tb::new();
    assert!(tb.enable(3, 8));
    tb.create_pair(3, 1, 16);
    let p = tb.prov[3]; // 3000 blocks of 512 bytes
    assert_eq!(p.shift, 9);
    let before = tb.mv_log.len();
    assert_eq!(tb.cmd(3, 1, rw(0x02, 2, 0, 0)).status, INVALID_NAMESPACE);
    assert_eq!(
        tb.cmd(3, 1, rw(0x02, 0xffff_ffff, 0, 0)).status,
        INVALID_NAMESPACE
    );
    assert_eq!(
        tb.cmd(3, 1, rw(0x02, 1, p.blocks - 3, 3)).status,
        LBA_OUT_OF_RANGE
    );
    assert_eq!(
        tb.cmd(3, 1, rw(0x01, 1, u64::MAX, 0)).status,
        LBA_OUT_OF_RANGE
    );
    assert_eq!(
        tb.cmd(3, 1, rw(0x02, 1, 0, 256)).status,
        INVALID_FIELD,
        "257 x 512 B > MDTS"
    );
    assert_eq!(tb.cmd(3, 1, rw(0x7e, 1, 0, 0)).status, INVALID_OPCODE);
    let mut fused = rw(0x02, 1, 0, 0);
    fused[0] |= 1 << 8;
    assert_eq!(tb.cmd(3, 1, fused).status, INVALID_FIELD, "FUSE");
    let mut sgl = rw(0x02, 1, 0, 0);
    sgl[0] |= 1 << 14;
    assert_eq!(tb.cmd(3, 1, sgl).status, INVALID_FIELD, "PSDT");
    assert_eq!(
        tb.mv_log.len(),
        before,
        "rejected commands never reach the mover"
    );
    // Valid commands.
    let c = tb.cmd(3, 1, rw(0x02, 1, p.blocks - 256, 255));
    assert_eq!(c.status, SUCCESS);
    let m = *tb.mv_log.last().unwrap();
    assert_eq!(
        m,
        MvCmd {
            func: 3,
            op: 0,
            prp1: 0x4800_0000,
            prp2: 0x4800_1000,
            len: 256 * 512,
            slba: p.blocks - 256,
            shift: 9,
            base: p.base,
            slot: p.slot
        }
    );
    assert_eq!(256 * 512, MDTS_BYTES);
    assert_eq!(tb.cmd(3, 1, rw(0x01, 1, 7, 1)).status, SUCCESS);
    let m = *tb.mv_log.last().unwrap();
    assert_eq!((m.op, m.len, m.slba), (1, 1024, 7));
    assert_eq!(tb.cmd(3, 1, rw(0x08, 1, 9, 3)).status, SUCCESS);
    let m = *tb.mv_log.last().unwrap();
    assert_eq!((m.op, m.len, m.slba), (2, 2048, 9));
    // Flush (§6.8): NSID 1 or FFFFFFFFh, no mover command.
    let n = tb.mv_log.len();
    assert_eq!(tb.cmd(3, 1, sqe(0x00, 1, 0, 0, [0; 6])).status, SUCCESS);
    assert_eq!(
        tb.cmd(3, 1, sqe(0x00, 0xffff_ffff, 0, 0, [0; 6])).status,
        SUCCESS
    );
    assert_eq!(
        tb.cmd(3, 1, sqe(0x00, 5, 0, 0, [0; 6])).status,
        INVALID_NAMESPACE
    );
    assert_eq!(tb.mv_log.len(), n);
    // Mover statuses.
    for (st, want) in [
        (1, DATA_TRANSFER_ERROR),
        (2, PRP_OFFSET_INVALID),
        (3, INTERNAL_ERROR),
        (0, SUCCESS),
    ] {
        tb.md_status.push_back(st);
        assert_eq!(tb.cmd(3, 1, rw(0x02, 1, 0, 0)).status, want);
    }
    // 4 KiB LBAs on function 4: length and MDTS scale with LBADS.
    assert!(tb.enable(4, 8));
    tb.create_pair(4, 2, 8);
    assert_eq!(tb.cmd(4, 2, rw(0x02, 1, 0, 31)).status, SUCCESS);
    assert_eq!(tb.mv_log.last().unwrap().len, 32 * 4096);
    assert_eq!(tb.cmd(4, 2, rw(0x02, 1, 0, 32)).status, INVALID_FIELD);
    // Counters: one strobe per completion.
    // Served: 2 queue creations, Read, Write, Write Zeroes, 2 Flushes, the
    // final Read; rejected: 8 invalid I/O, 1 Flush, 3 mover failures.
    assert_eq!((tb.served[3], tb.rejected[3]), (8, 12));
}

#[test]
fn features_logs_aer() {
    let mut tb = Tb::new();
    assert!(tb.enable(1, 8));
    let set = |fid: u32, v: u32| sqe(0x09, 0, 0, 0, [fid, v, 0, 0, 0, 0]);
    let get = |fid: u32| sqe(0x0a, 0, 0, 0, [fid, 0, 0, 0, 0, 0]);
    let c = tb.admin(1, set(0x07, 0x0010_0010));
    assert_eq!(
        (c.status, c.dw0),
        (SUCCESS, 0x0007_0007),
        "Number of Queues: 8 / 8"
    );
    assert_eq!(tb.admin(1, get(0x07)).dw0, 0x0007_0007);
    assert_eq!(tb.admin(1, set(0x07, 0xffff)).status, INVALID_FIELD);
    assert_eq!(tb.admin(1, set(0x01, 0x0302_0103)).status, SUCCESS);
    assert_eq!(tb.admin(1, get(0x01)).dw0, 0x0302_0103);
    assert_eq!(tb.admin(1, set(0x06, 1)).status, SUCCESS);
    assert_eq!(tb.admin(1, get(0x06)).dw0, 1);
    assert_eq!(tb.admin(1, set(0x06, 0)).status, SUCCESS);
    assert_eq!(tb.admin(1, get(0x06)).dw0, 0);
    assert_eq!(tb.admin(1, set(0x08, 0x0a05)).status, SUCCESS);
    assert_eq!(tb.admin(1, get(0x08)).dw0, 0x0a05);
    assert_eq!(tb.admin(1, set(0x02, 0)).status, INVALID_FIELD);
    assert_eq!(tb.admin(1, get(0x80)).status, INVALID_FIELD);
    assert_eq!(
        tb.admin(1, set(0x01 | 1 << 31, 0)).status,
        FEATURE_NOT_SAVEABLE
    );
    // Another function's features are separate.
    assert!(tb.enable(2, 8));
    assert_eq!(tb.admin(2, get(0x01)).dw0, 0);
    // Get Log Page (§5.14): NUMDL in CDW10 31:16 (0-based dwords).
    let log = |lid: u32, bytes: u32| {
        sqe(
            0x02,
            0xffff_ffff,
            BUF,
            0,
            [lid | (bytes / 4 - 1) << 16, 0, 0, 0, 0, 0],
        )
    };
    for i in 0..512 {
        tb.wr8(BUF + i, 0xee);
    }
    assert_eq!(tb.admin(1, log(0x02, 512)).status, SUCCESS);
    assert_eq!(tb.mv_log.last().unwrap().len, 512);
    let s = tb.read_bytes(BUF, 512);
    assert_eq!(s[0], 0, "critical warning");
    assert!(
        u16::from_le_bytes([s[1], s[2]]) > 273,
        "composite temperature in kelvin"
    );
    assert_eq!(s[3], 100, "available spare");
    assert!(s[4..].iter().all(|&b| b != 0xee));
    assert_eq!(tb.admin(1, log(0x03, 64)).status, SUCCESS);
    let fw = tb.read_bytes(BUF, 16);
    assert_eq!(fw[0] & 7, 1, "AFI: slot 1");
    assert_eq!(&fw[8..16], b"0.1     ");
    assert_eq!(tb.admin(1, log(0x01, 64)).status, SUCCESS);
    assert!(
        tb.read_bytes(BUF, 64).iter().all(|&b| b == 0),
        "no errors logged"
    );
    assert_eq!(tb.admin(1, log(0x05, 64)).status, INVALID_LOG_PAGE);
    assert_eq!(
        tb.admin(1, log(0x02, 8192)).status,
        INVALID_FIELD,
        "over 4 KiB"
    );
    // Asynchronous Event Request (§5.2): AERL + 1 = 4 held, the 5th is refused.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tb.submit(1, 0, sqe(0x0c, 0, 0, 0, [0; 6])));
        assert!(tb.try_cqe(1, 0, 300).is_none(), "AER is held");
    }
    assert_eq!(tb.admin(1, sqe(0x0c, 0, 0, 0, [0; 6])).status, AER_LIMIT);
    assert_eq!(tb.admin(1, get(0x07)).status, SUCCESS, "still live");
    // A controller reset drops held AERs: 4 may be held again.
    tb.reg_write(1, 0x14, 0);
    assert!(tb.enable(1, 8));
    for _ in 0..4 {
        tb.submit(1, 0, sqe(0x0c, 0, 0, 0, [0; 6]));
    }
    assert!(tb.try_cqe(1, 0, 300).is_none());
    assert_eq!(tb.admin(1, sqe(0x0c, 0, 0, 0, [0; 6])).status, AER_LIMIT);
}

#[test]
fn cq_phase_wrap_full_cq_and_msix() {
    let mut tb = Tb::new();
    assert!(tb.enable(2, 8));
    // CQ 1 of 4 entries (holds 3), IEN = 1, IV = 5; SQ 1 of 16 entries.
    let cqb = 0x2800_0000u64;
    let sqb = 0x2900_0000u64;
    assert_eq!(
        tb.admin(
            2,
            sqe(0x05, 0, cqb, 0, [1 | 3 << 16, 3 | 5 << 16, 0, 0, 0, 0])
        )
        .status,
        SUCCESS
    );
    assert_eq!(
        tb.admin(
            2,
            sqe(0x01, 0, sqb, 0, [1 | 15 << 16, 1 | 1 << 16, 0, 0, 0, 0])
        )
        .status,
        SUCCESS
    );
    tb.rings.insert(
        (2, 1),
        Ring {
            sq: sqb,
            cq: cqb,
            sq_entries: 16,
            cq_entries: 4,
            tail: 0,
            head: 0,
            phase: true,
        },
    );
    let irq0 = tb.irqs.len();
    let mut cids = Vec::new();
    for _ in 0..5 {
        cids.push(tb.submit(2, 1, sqe(0x00, 1, 0, 0, [0; 6])));
    }
    tb.steps(1000);
    // Exactly three CQEs with phase 1; the fourth slot untouched (full CQ, §4.6).
    for i in 0..3 {
        assert_eq!((tb.rd32(cqb + 16 * i + 12) >> 16) & 1, 1, "slot {i}");
    }
    assert_eq!(tb.rd32(cqb + 48 + 12), 0, "no post into a full CQ");
    assert_eq!(tb.irqs.len() - irq0, 3);
    assert!(tb.irqs[irq0..].iter().all(|&i| i == (2, 5)), "vector = IV");
    // Register reads still answer while the engine waits for room.
    assert_eq!(tb.reg_read(2, 0x1c) & 1, 1);
    // Consume: the rest arrive, the fourth slot with phase 1, then slot 0 with phase 0.
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(tb.cqe(2, 1));
    }
    assert_eq!(got.iter().map(|c| c.cid).collect::<Vec<_>>(), cids);
    assert_eq!(
        got.iter().map(|c| c.sqhd).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        (tb.rd32(cqb + 12) >> 16) & 1,
        0,
        "phase inverted after wrap"
    );
    // Many wraps of both queues.
    for i in 0..40 {
        let c = tb.cmd(2, 1, sqe(0x00, 1, 0, 0, [0; 6]));
        assert_eq!(c.sqhd, ((6 + i) % 16) as u16);
    }
    assert_eq!(tb.irqs.len() - irq0, 45, "one MSI-X request per CQE");
    // IEN = 0: no interrupt requests.
    assert_eq!(
        tb.admin(
            2,
            sqe(0x05, 0, cqb + 0x10000, 0, [2 | 3 << 16, 1, 0, 0, 0, 0])
        )
        .status,
        SUCCESS
    );
    assert_eq!(
        tb.admin(
            2,
            sqe(
                0x01,
                0,
                sqb + 0x10000,
                0,
                [2 | 3 << 16, 1 | 2 << 16, 0, 0, 0, 0]
            )
        )
        .status,
        SUCCESS
    );
    tb.rings.insert(
        (2, 2),
        Ring {
            sq: sqb + 0x10000,
            cq: cqb + 0x10000,
            sq_entries: 4,
            cq_entries: 4,
            tail: 0,
            head: 0,
            phase: true,
        },
    );
    let n = tb.irqs.len();
    for _ in 0..6 {
        assert_eq!(tb.cmd(2, 2, sqe(0x00, 1, 0, 0, [0; 6])).status, SUCCESS);
    }
    assert_eq!(tb.irqs.len(), n);
    // Back-pressure on the DMA port does not lose anything.
    tb.rq_stall = 100;
    assert_eq!(tb.cmd(2, 1, sqe(0x00, 1, 0, 0, [0; 6])).status, SUCCESS);
}

#[test]
fn flr_resets_one_function_only() {
    let mut tb = Tb::new();
    assert!(tb.enable(1, 8));
    assert!(tb.enable(2, 8));
    tb.create_pair(1, 1, 8);
    tb.create_pair(2, 1, 8);
    tb.admin(1, sqe(0x09, 0, 0, 0, [0x08, 0x77, 0, 0, 0, 0]));
    // FLR of function 1 while it has commands queued.
    for _ in 0..3 {
        let r = tb.rings.get_mut(&(1, 1)).unwrap();
        let a = r.sq + 64 * r.tail as u64;
        r.tail += 1;
        for (i, d) in rw(0x02, 1, 0, 0).iter().enumerate() {
            tb.wr32(a + 4 * i as u64, *d);
        }
    }
    tb.reg_write(1, 0x1008, 3);
    // Wait until the first command is in flight (fetched, at the mover).
    let mut k = 0;
    while tb.mv_log.is_empty() {
        tb.step();
        k += 1;
        assert!(k < 200);
    }
    assert_eq!(tb.mv_log.last().unwrap().func, 1);
    tb.sim.set_flr_valid(true);
    tb.sim.set_flr_func(1);
    let mark = tb.rq_log.len();
    tb.steps(56);
    // Within 64 clocks of the strobe (the read queues behind the reset job).
    assert_eq!(tb.reg_read(1, 0x1c), 0, "CSTS");
    tb.steps(200);
    assert!(
        !tb.rq_log[mark..].iter().any(|r| r.0 == 1),
        "no fetch and no completion for the reset function"
    );
    assert_eq!(tb.reg_read(1, 0x14), 0, "CC");
    assert_eq!(tb.reg_read(1, 0x1c), 0, "CSTS");
    assert_eq!(tb.reg_read(1, 0x24), 0, "AQA");
    assert_eq!(tb.reg_read(1, 0x28), 0, "ASQ");
    // Function 2 is untouched and keeps working.
    assert_eq!(tb.reg_read(2, 0x1c) & 1, 1);
    for _ in 0..5 {
        assert_eq!(tb.cmd(2, 1, rw(0x02, 1, 0, 0)).status, SUCCESS);
    }
    // Function 1: doorbells do nothing until it is initialised again.
    let n = tb.rq_log.iter().filter(|r| r.0 == 1).count();
    tb.reg_write(1, 0x1000, 1);
    tb.reg_write(1, 0x1008, 4);
    tb.steps(300);
    assert_eq!(tb.rq_log.iter().filter(|r| r.0 == 1).count(), n);
    assert!(tb.enable(1, 8));
    assert_eq!(
        tb.admin(1, sqe(0x0a, 0, 0, 0, [0x08, 0, 0, 0, 0, 0])).dw0,
        0,
        "features reset"
    );
    tb.create_pair(1, 1, 8);
    assert_eq!(tb.cmd(1, 1, rw(0x02, 1, 0, 0)).status, SUCCESS);
    // VF Enable cleared for function 2: held in reset, never fetches.
    tb.ven &= !(1 << 2);
    tb.steps(100);
    assert_eq!(tb.reg_read(2, 0x1c), 0);
    let n = tb.rq_log.iter().filter(|r| r.0 == 2).count();
    tb.reg_write(2, 0x1008, 2);
    tb.steps(300);
    assert_eq!(tb.rq_log.iter().filter(|r| r.0 == 2).count(), n);
    assert_eq!(tb.cmd(1, 1, rw(0x01, 1, 0, 0)).status, SUCCESS);
}

#[test]
fn unprovisioned_function_never_fetches() {
    let mut tb = Tb::new();
    assert!(tb.enable(3, 8));
    tb.create_pair(3, 1, 8);
    tb.prov[3].enabled = false;
    let n = tb.rq_log.len();
    tb.submit(3, 1, rw(0x02, 1, 0, 0));
    tb.steps(500);
    assert_eq!(tb.rq_log.len(), n, "no SQE fetch while not provisioned");
    tb.prov[3].enabled = true;
    assert_eq!(tb.cqe(3, 1).status, SUCCESS);
}

#[test]
fn sqe_fetch_error_is_reported() {
    let mut tb = Tb::new();
    assert!(tb.enable(4, 8));
    tb.create_pair(4, 1, 8);
    let sq = tb.rings[&(4, 1)].sq;
    tb.fault_pages.insert(sq >> 12);
    tb.submit(4, 1, rw(0x02, 1, 0, 0));
    let c = tb.cqe(4, 1);
    assert_eq!(
        (c.status, c.cid, c.sqid, c.sqhd),
        (DATA_TRANSFER_ERROR, 0xffff, 1, 1)
    );
    assert!(c.dnr);
    tb.fault_pages.clear();
    assert_eq!(tb.cmd(4, 1, rw(0x02, 1, 0, 0)).status, SUCCESS);
}

/// What the NVM command set requires for an I/O SQE (§6), given the mover
/// completes valid commands with `md`.
fn expected_io_status(e: &[u32; 16], p: &Prov, md: u8) -> u16 {
    let opc = e[0] as u8;
    let fuse = (e[0] >> 8) & 3;
    let psdt = (e[0] >> 14) & 3;
    let nsid = e[1];
    if fuse != 0 || psdt != 0 {
        return INVALID_FIELD;
    }
    match opc {
        0x00 => {
            if nsid == 1 || nsid == 0xffff_ffff {
                SUCCESS
            } else {
                INVALID_NAMESPACE
            }
        }
        0x01 | 0x02 | 0x08 => {
            let slba = e[10] as u64 | (e[11] as u64) << 32;
            let nlb = (e[12] & 0xffff) as u64 + 1;
            if nsid != 1 {
                INVALID_NAMESPACE
            } else if nlb << p.shift > MDTS_BYTES {
                INVALID_FIELD
            } else if slba as u128 + nlb as u128 > p.blocks as u128 {
                LBA_OUT_OF_RANGE
            } else {
                [
                    SUCCESS,
                    DATA_TRANSFER_ERROR,
                    PRP_OFFSET_INVALID,
                    INTERNAL_ERROR,
                ][md as usize]
            }
        }
        _ => INVALID_OPCODE,
    }
}

fn random_sqe(rng: &mut ChaCha8Rng, p: &Prov) -> [u32; 16] {
    let mut e: [u32; 16] = std::array::from_fn(|_| rng.gen());
    e[0] &= 0xffff;
    e[0] = (e[0] & !0xff)
        | match rng.gen_range(0..6) {
            0 => 0x00,
            1 => 0x01,
            2 => 0x02,
            3 => 0x08,
            _ => rng.gen::<u8>() as u32,
        };
    if rng.gen_bool(0.7) {
        e[0] &= !0xc300; // FUSE, PSDT mostly 0
    }
    e[1] = match rng.gen_range(0..5) {
        0 | 1 => 1,
        2 => 0xffff_ffff,
        3 => 0,
        _ => rng.gen(),
    };
    if rng.gen_bool(0.8) {
        let nlb = if rng.gen_bool(0.5) {
            rng.gen_range(0..8)
        } else {
            rng.gen_range(0..400)
        };
        let slba = match rng.gen_range(0..3) {
            0 => rng.gen_range(0..p.blocks),
            1 => p.blocks.saturating_sub(rng.gen_range(0..10)),
            _ => rng.gen(),
        };
        e[10] = slba as u32;
        e[11] = (slba >> 32) as u32;
        e[12] = (e[12] & !0xffff) | nlb;
    }
    e
}

#[test]
fn random_malformed_sqes_all_complete() {
    let mut tb = Tb::new();
    let mut rng = ChaCha8Rng::seed_from_u64(0x4e56);
    for f in 1..=2u8 {
        assert!(tb.enable(f, 32));
        tb.create_pair(f, 1, 64);
    }
    let t0 = std::time::Instant::now();
    let c0 = tb.sim.cycle();
    let n = if std::env::var_os("NITROUS_LONG").is_some() {
        100_000
    } else {
        10_000
    };
    let mut statuses = HashMap::new();
    for i in 0..n {
        let f = 1 + (i % 2) as u8;
        if i % 10 == 9 {
            // Admin queue: random opcodes except the ones that delete our
            // queues or are held by design (AER).
            let mut e: [u32; 16] = std::array::from_fn(|_| rng.gen());
            let opc = loop {
                let o: u8 = rng.gen();
                if ![0x00u8, 0x04, 0x0c].contains(&o) {
                    break o;
                }
            };
            e[0] = (e[0] & 0xff00) | opc as u32;
            // Keep PRPs in the data region or outside memory altogether.
            if rng.gen_bool(0.5) {
                let a = DATA_REGION.start + (rng.gen_range(0..0x1000u64) << 12);
                e[6] = a as u32;
                e[7] = (a >> 32) as u32;
                e[8] = (a + 0x1000) as u32;
                e[9] = ((a + 0x1000) >> 32) as u32;
            }
            let c = tb.cmd(f, 0, e);
            *statuses.entry(c.status).or_insert(0) += 1;
            continue;
        }
        let p = tb.prov[f as usize];
        let e = random_sqe(&mut rng, &p);
        let md = if rng.gen_bool(0.9) {
            0
        } else {
            rng.gen_range(1..4)
        };
        let want = expected_io_status(&e, &p, md);
        let issued = tb.mv_log.len();
        tb.md_status.clear();
        tb.md_status.push_back(md);
        let c = tb.cmd(f, 1, e);
        assert_eq!(c.status, want, "SQE {i}: {e:08x?}");
        *statuses.entry(c.status).or_insert(0) += 1;
        if want == SUCCESS && e[0] as u8 != 0
            || [DATA_TRANSFER_ERROR, PRP_OFFSET_INVALID, INTERNAL_ERROR].contains(&want)
        {
            let m = tb.mv_log.last().unwrap();
            assert_eq!(tb.mv_log.len(), issued + 1);
            let nlb = (e[12] & 0xffff) + 1;
            assert_eq!(m.len, nlb << p.shift);
            assert_eq!(m.slba, e[10] as u64 | (e[11] as u64) << 32);
            assert_eq!(m.func, f);
        } else {
            assert_eq!(tb.mv_log.len(), issued, "SQE {i}: no mover command");
        }
    }
    let clocks = tb.sim.cycle() - c0;
    eprintln!(
        "{n} SQEs in {clocks} clocks ({:.0} clocks/s in Verilator); status histogram: {statuses:x?}",
        clocks as f64 / t0.elapsed().as_secs_f64()
    );
    for s in [
        SUCCESS,
        INVALID_OPCODE,
        INVALID_FIELD,
        INVALID_NAMESPACE,
        LBA_OUT_OF_RANGE,
    ] {
        assert!(
            statuses.get(&s).copied().unwrap_or(0) > 50,
            "status {s:#x} exercised"
        );
    }
    // Still live: both functions answer admin and I/O commands.
    for f in 1..=2u8 {
        assert_eq!(
            tb.admin(f, sqe(0x0a, 0, 0, 0, [0x07, 0, 0, 0, 0, 0])).dw0,
            0x0007_0007
        );
        assert_eq!(tb.cmd(f, 1, rw(0x02, 1, 0, 0)).status, SUCCESS);
    }
    let total: u32 = (1..=2).map(|f| tb.served[f] + tb.rejected[f]).sum();
    assert!(total as usize >= n, "one counter strobe per completion");
}

/// Clocks from the doorbell write to the CQE in host memory, and register
/// read latency while a command waits at the mover (printed for the report).
#[test]
fn latency_figures() {
    let mut tb = Tb::new();
    assert!(tb.enable(1, 8));
    tb.create_pair(1, 1, 8);
    let measure = |tb: &mut Tb, e: [u32; 16]| {
        tb.submit(1, 1, e);
        let t0 = tb.sim.cycle() - 2; // reg_write idles 2 clocks after the strobe
        while tb.peek_cqe(1, 1).is_none() {
            tb.step();
            assert!(tb.sim.cycle() - t0 < 1000);
        }
        let t = tb.sim.cycle() - t0;
        tb.cqe(1, 1);
        t
    };
    let flush = measure(&mut tb, sqe(0x00, 1, 0, 0, [0; 6]));
    let bad = measure(&mut tb, rw(0x02, 1, u64::MAX, 0));
    let read = measure(&mut tb, rw(0x02, 1, 0, 0));
    // The stand-in mover takes 21 clocks from accepting the command to md_valid.
    eprintln!("doorbell -> CQE: Flush {flush}, rejected Read {bad}, Read {read} clocks (mover stand-in: 21)");
    assert!(flush < 40 && bad < 40 && read < flush + 40);
    tb.submit(1, 1, rw(0x02, 1, 0, 0));
    while tb.mover.is_none() {
        tb.step();
    }
    let t0 = tb.sim.cycle();
    tb.reg_read(1, 0x1c);
    let rd = tb.sim.cycle() - t0;
    eprintln!("register read while a command is at the mover: {rd} clocks");
    assert!(rd <= 32);
    tb.cqe(1, 1);
}

/// A function reset at any point of a command's life: after the strobe the
/// function issues no DMA and no interrupt request (whatever the position of
/// the reset scan), and it is fully reset within 64 clocks.
#[test]
fn flr_at_every_phase_of_a_command() {
    for delay in 0..48 {
        let mut tb = Tb::new();
        assert!(tb.enable(1, 8));
        tb.create_pair(1, 1, 8);
        tb.steps(delay % 7); // vary the reset-scan pointer against the command
        tb.submit(1, 1, rw(0x02, 1, 0, 0));
        tb.steps(delay);
        tb.sim.set_flr_valid(true);
        tb.sim.set_flr_func(1);
        // The strobe is sampled at the end of this step; a handshake on that
        // same edge was issued before the reset.
        tb.step();
        let (rq, irq) = (tb.rq_log.len(), tb.irqs.len());
        tb.steps(59);
        assert_eq!(tb.reg_read(1, 0x1c), 0, "delay {delay}: CSTS");
        assert_eq!(tb.reg_read(1, 0x14), 0, "delay {delay}: CC");
        tb.steps(200);
        let late: Vec<_> = tb.rq_log[rq..].iter().filter(|r| r.0 == 1).collect();
        assert!(late.is_empty(), "delay {delay}: DMA after reset: {late:x?}");
        assert_eq!(tb.irqs.len(), irq, "delay {delay}: interrupt after reset");
        assert!(tb.mover.is_none());
        // And the function comes back.
        assert!(tb.enable(1, 8));
        tb.create_pair(1, 1, 8);
        assert_eq!(tb.cmd(1, 1, rw(0x02, 1, 0, 0)).status, SUCCESS);
    }
}

/// Four functions, two I/O queue pairs each, five commands per queue rung
/// while the DMA port is stalled: fetches go round robin over every
/// (function, SQ) with entries (§4.11), and every queue completes its own
/// commands in order.
#[test]
fn round_robin_over_functions_and_queues() {
    let mut tb = Tb::new();
    let queues: Vec<(u8, u16)> = (1..=4u8).flat_map(|f| [(f, 1u16), (f, 2)]).collect();
    for f in 1..=4u8 {
        assert!(tb.enable(f, 8));
        tb.create_pair(f, 1, 8);
        tb.create_pair(f, 2, 8);
    }
    let mut want: HashMap<(u8, u16), Vec<u16>> = HashMap::new();
    // Write every entry first, then stall the DMA port and ring all doorbells.
    for &(f, q) in &queues {
        for i in 0..5u64 {
            let cid = tb.next_cid();
            let mut e = rw(if i % 2 == 0 { 0x02 } else { 0x00 }, 1, i, 0);
            e[0] |= (cid as u32) << 16;
            let r = tb.rings.get_mut(&(f, q)).unwrap();
            let a = r.sq + 64 * r.tail as u64;
            r.tail += 1;
            for (k, d) in e.iter().enumerate() {
                tb.wr32(a + 4 * k as u64, *d);
            }
            want.entry((f, q)).or_default().push(cid);
        }
    }
    tb.rq_stall = 1_000;
    let mark = tb.rq_log.len();
    for &(f, q) in &queues {
        tb.reg_write(f, 0x1000 + 8 * q, 5);
    }
    tb.rq_stall = 0;
    let sq_of = |tb: &Tb, a: u64| -> (u8, u16) {
        *queues
            .iter()
            .find(|&&k| {
                let r = &tb.rings[&k];
                (r.sq..r.sq + 0x1000).contains(&a)
            })
            .unwrap()
    };
    for &(f, q) in &queues {
        let got: Vec<u16> = (0..5).map(|_| tb.cqe(f, q).cid).collect();
        assert_eq!(got, want[&(f, q)], "function {f} queue {q}");
    }
    let fetches: Vec<(u8, u16)> = tb.rq_log[mark..]
        .iter()
        .filter(|r| !r.1)
        .map(|r| sq_of(&tb, r.2))
        .collect();
    assert_eq!(fetches.len(), 40);
    // After the first (picked before the stall), each round of 8 visits every queue once.
    for round in fetches[1..33].chunks(8) {
        let set: HashSet<_> = round.iter().collect();
        assert_eq!(set.len(), 8, "round robin: {round:?}");
    }
    for f in 1..=4usize {
        assert_eq!(tb.rejected[f], 0);
    }
}

/// A guest that stops consuming completions stalls only its own queue: the
/// other queues of the function and the other functions keep completing.
#[test]
fn full_cq_stalls_only_its_owner() {
    let mut tb = Tb::new();
    assert!(tb.enable(1, 8));
    assert!(tb.enable(2, 8));
    tb.create_pair(1, 1, 8);
    // CQ 1 of 4 entries (room for 3), SQ 1 of 16 entries.
    tb.create_pair_sized(2, 1, 4, 16);
    tb.create_pair(2, 2, 8);
    let mut cids = Vec::new();
    for _ in 0..6 {
        cids.push(tb.submit(2, 1, sqe(0x00, 1, 0, 0, [0; 6])));
    }
    tb.steps(300);
    for _ in 0..20 {
        assert_eq!(tb.cmd(1, 1, rw(0x02, 1, 0, 0)).status, SUCCESS);
        assert_eq!(tb.cmd(2, 2, rw(0x01, 1, 0, 0)).status, SUCCESS);
    }
    // Function 2 / CQ 1 holds exactly 3 completions, nothing was overwritten.
    let cq = tb.rings[&(2, 1)].cq;
    for i in 0..3 {
        assert_eq!(tb.rd32(cq + 16 * i + 12) as u16, cids[i as usize]);
    }
    assert_eq!(tb.rd32(cq + 48 + 12), 0);
    let got: Vec<u16> = (0..6).map(|_| tb.cqe(2, 1).cid).collect();
    assert_eq!(got, cids);
}

/// Identify CNS 03h (NVMe 1.4 §5.15.2.4): a Namespace Identification
/// Descriptor list for NSID 1 (NIDT, NIDL, reserved, NID; a zero NIDT ends
/// it) whose NGUID equals Identify Namespace bytes 104..119 (§5.15.2.1) and
/// differs between functions; other NSIDs are Invalid Namespace or Format.
#[test]
fn identify_ns_descriptor_list() {
    let mut tb = Tb::new();
    let mut nguids = Vec::new();
    for f in [1u8, 2] {
        assert!(tb.enable(f, 4));
        tb.zero(BUF, 8192);
        let c = tb.admin(f, sqe(0x06, 1, BUF, 0, [3, 0, 0, 0, 0, 0]));
        assert_eq!(c.status, SUCCESS, "CNS 03h");
        let d = tb.read_bytes(BUF, 4096);
        assert_eq!(d[0], 0x02, "NIDT: NGUID");
        assert_eq!(d[1], 16, "NIDL");
        assert_eq!((d[2], d[3]), (0, 0), "reserved");
        let nguid = d[4..20].to_vec();
        assert!(nguid.iter().any(|&b| b != 0), "NGUID is not zero");
        assert!(
            d[20..].iter().all(|&b| b == 0),
            "the list ends after one descriptor"
        );
        let c = tb.admin(f, sqe(0x06, 1, BUF + 0x1000, 0, [0, 0, 0, 0, 0, 0]));
        assert_eq!(c.status, SUCCESS, "CNS 00h");
        assert_eq!(
            tb.read_bytes(BUF + 0x1000 + 104, 16),
            nguid,
            "NGUID as in CNS 00h"
        );
        for nsid in [0, 2, 0xffff_ffff] {
            assert_eq!(
                tb.admin(f, sqe(0x06, nsid, BUF, 0, [3, 0, 0, 0, 0, 0]))
                    .status,
                INVALID_NAMESPACE,
                "CNS 03h NSID {nsid:#x}"
            );
        }
        nguids.push(nguid);
    }
    assert_ne!(nguids[0], nguids[1], "NGUID differs between functions");
}

/// Waits until CQ `qid` of `f` holds `n` unconsumed entries (phase tags).
fn wait_posted(tb: &mut Tb, f: u8, qid: u16, n: u16) {
    for _ in 0..5000 {
        let r = &tb.rings[&(f, qid)];
        let (mut h, mut ph) = (r.head, r.phase);
        let mut k = 0;
        while k < n {
            let a = r.cq + 16 * h as u64;
            if ((tb.rd32(a + 12) >> 16) & 1 == 1) != ph {
                break;
            }
            k += 1;
            h = (h + 1) % r.cq_entries;
            if h == 0 {
                ph = !ph;
            }
        }
        if k == n {
            return;
        }
        tb.step();
    }
    panic!("{n} entries not posted on function {f} CQ {qid}");
}

/// `intx_level` after the round-robin refresh has passed every function.
fn level(tb: &mut Tb) -> u32 {
    tb.steps(2 * (NVFS + 1) + 2);
    tb.sim.intx_level()
}

/// Pin-based interrupts (NVMe 1.4 §7.5.1): a vector's IS bit is set while a
/// CQ with IEN = 1 mapped to it holds entries the host has not consumed
/// (CQ head doorbell behind the controller's tail) and clears when the
/// doorbells catch up; INTMS masks a vector, INTMC unmasks it (§3.1.3,
/// §3.1.4). `intx_level` bit f is the OR of the unmasked IS bits.
#[test]
fn pin_based_interrupt_level() {
    let mut tb = Tb::new();
    assert!(tb.enable(1, 8));
    assert!(tb.enable(2, 8));
    assert_eq!(level(&mut tb), 0);
    // Admin CQ (IEN = 1, vector 0): one entry posted, not consumed.
    tb.submit(1, 0, sqe(0x08, 0, 0, 0, [0; 6]));
    wait_posted(&mut tb, 1, 0, 1);
    assert_eq!(level(&mut tb), 1 << 1, "function 1 only");
    tb.reg_write(1, 0x0c, 0x2); // mask vector 1: not the admin CQ's
    assert_eq!(level(&mut tb), 1 << 1);
    tb.reg_write(1, 0x0c, 0x1); // INTMS vector 0
    assert_eq!(level(&mut tb), 0, "masked");
    tb.reg_write(1, 0x10, 0x3); // INTMC vectors 0 and 1
    assert_eq!(level(&mut tb), 1 << 1, "unmasked while still pending");
    let c = tb.cqe(1, 0); // consumes: head doorbell = tail
    assert_eq!(c.status, SUCCESS);
    assert_eq!(level(&mut tb), 0, "consumed");

    // I/O CQ 1 on vector 1 (IEN = 1), I/O CQ 2 without interrupts.
    tb.create_pair(1, 1, 8);
    let cq2 = 0x2800_0000u64;
    tb.zero(cq2, 16 * 8);
    let c = tb.admin(1, sqe(0x05, 0, cq2, 0, [2 | 7 << 16, 0x1, 0, 0, 0, 0]));
    assert_eq!(c.status, SUCCESS, "create CQ 2, IEN = 0");
    let c = tb.admin(
        1,
        sqe(
            0x01,
            0,
            cq2 + 0x1000,
            0,
            [2 | 7 << 16, 0x1 | 2 << 16, 0, 0, 0, 0],
        ),
    );
    assert_eq!(c.status, SUCCESS, "create SQ 2");
    tb.rings.insert(
        (1, 2),
        Ring {
            sq: cq2 + 0x1000,
            cq: cq2,
            sq_entries: 8,
            cq_entries: 8,
            tail: 0,
            head: 0,
            phase: true,
        },
    );
    assert_eq!(level(&mut tb), 0);
    let flush = sqe(0x00, 1, 0, 0, [0; 6]);
    tb.submit(1, 2, flush);
    wait_posted(&mut tb, 1, 2, 1);
    assert_eq!(level(&mut tb), 0, "IEN = 0: no interrupt");
    assert_eq!(tb.cqe(1, 2).status, SUCCESS);
    // Two entries on CQ 1; consuming one leaves IS set.
    tb.submit(1, 1, flush);
    tb.submit(1, 1, flush);
    wait_posted(&mut tb, 1, 1, 2);
    assert_eq!(level(&mut tb), 1 << 1);
    tb.reg_write(1, 0x0c, 0x1); // masks vector 0: CQ 1 uses vector 1
    assert_eq!(level(&mut tb), 1 << 1);
    tb.reg_write(1, 0x0c, 0x2);
    assert_eq!(level(&mut tb), 0, "vector 1 masked");
    tb.reg_write(1, 0x10, 0x3);
    assert_eq!(tb.cqe(1, 1).status, SUCCESS);
    assert_eq!(level(&mut tb), 1 << 1, "one entry left");
    assert_eq!(tb.cqe(1, 1).status, SUCCESS);
    assert_eq!(level(&mut tb), 0);
    // A doorbell that does not reach the tail keeps it set: two entries,
    // head moved by one by hand.
    tb.submit(1, 1, flush);
    tb.submit(1, 1, flush);
    wait_posted(&mut tb, 1, 1, 2);
    let h0 = tb.rings[&(1, 1)].head;
    tb.reg_write(1, 0x100c, ((h0 + 1) % 8) as u32);
    assert_eq!(level(&mut tb), 1 << 1);
    tb.reg_write(1, 0x100c, ((h0 + 2) % 8) as u32);
    assert_eq!(level(&mut tb), 0);
    let r = tb.rings.get_mut(&(1, 1)).unwrap();
    r.head = (h0 + 2) % 8;
    if h0 + 2 >= 8 {
        r.phase = !r.phase;
    }

    // Function 2 pending; function 1 pending; controller reset of 1 and
    // FLR of 2 clear each one only.
    tb.submit(2, 0, sqe(0x08, 0, 0, 0, [0; 6]));
    tb.submit(1, 1, flush);
    wait_posted(&mut tb, 2, 0, 1);
    wait_posted(&mut tb, 1, 1, 1);
    assert_eq!(level(&mut tb), 0b110);
    tb.reg_write(1, 0x0c, 0x2);
    tb.reg_write(1, 0x14, 0x0046_0000); // CC.EN 1 -> 0: INTMS resets too
    assert_eq!(level(&mut tb), 1 << 2);
    assert_eq!(tb.reg_read(1, 0x0c), 0, "INTMS after a controller reset");
    tb.sim.set_flr_valid(true);
    tb.sim.set_flr_func(2);
    tb.step();
    tb.steps(64);
    assert_eq!(level(&mut tb), 0);
    // Function 1 again: the admin CQ interrupts after re-enable.
    assert!(tb.enable(1, 8));
    tb.submit(1, 0, sqe(0x08, 0, 0, 0, [0; 6]));
    wait_posted(&mut tb, 1, 0, 1);
    assert_eq!(level(&mut tb), 1 << 1);
    tb.cqe(1, 0);
    assert_eq!(level(&mut tb), 0);
}

/// NVMe 1.4 status of a mover `md_status` (docs/CARD.md "Data mover command").
fn md_to_status(md: u8) -> u16 {
    [
        SUCCESS,
        DATA_TRANSFER_ERROR,
        PRP_OFFSET_INVALID,
        INTERNAL_ERROR,
    ][md as usize]
}

/// The front keeps the mover busy: while one command runs at the (slow)
/// mover the next ones are fetched and the next is already offered on
/// `mv_*`; completions of the overlapped commands carry their own CID,
/// SQHD, status (from the mover, in mover order) and interrupt, in
/// submission order per queue.
#[test]
fn pipeline_overlaps_fetch_with_the_mover() {
    let mut tb = Tb::new();
    for f in 1..=2u8 {
        assert!(tb.enable(f, 8));
        tb.create_pair(f, 1, 16);
    }
    tb.mv_delay = 200;
    let statuses = [0u8, 1, 0, 2, 3, 0];
    tb.md_status.extend(statuses);
    let (irq0, mv0, rq0) = (tb.irqs.len(), tb.mv_log.len(), tb.rq_log.len());
    let served0: Vec<u32> = (0..3).map(|f| tb.served[f] + tb.rejected[f]).collect();
    let mut want: HashMap<u8, Vec<(u16, u64)>> = HashMap::new();
    for i in 0..6u64 {
        let f = 1 + (i % 2) as u8;
        let slba = 10 + i;
        let cid = tb.submit(f, 1, rw(0x02, 1, slba, 0));
        want.entry(f).or_default().push((cid, slba));
    }
    while tb.mv_log.len() == mv0 {
        tb.step();
    }
    // 150 clocks into the first command's 200: the others were fetched and
    // the second is offered to the mover.
    tb.steps(150);
    assert_eq!(tb.mv_log.len(), mv0 + 1);
    let fetched = tb.rq_log[rq0..].iter().filter(|r| !r.1).count();
    assert!(
        fetched >= 2,
        "only {fetched} SQE fetched while the mover works"
    );
    assert!(
        tb.sim.mv_valid(),
        "next command offered while the mover is busy"
    );
    let got: HashMap<u8, Vec<Cqe>> = (1..=2u8)
        .map(|f| (f, (0..3).map(|_| tb.cqe(f, 1)).collect()))
        .collect();
    let order: Vec<(u8, u64)> = tb.mv_log[mv0..].iter().map(|c| (c.func, c.slba)).collect();
    assert_eq!(order.len(), 6, "every command reached the mover once");
    for f in 1..=2u8 {
        for (k, c) in got[&f].iter().enumerate() {
            let (cid, slba) = want[&f][k];
            assert_eq!(c.cid, cid, "function {f}: completions in submission order");
            assert_eq!(c.sqid, 1);
            assert_eq!(c.sqhd, k as u16 + 1, "SQHD after entry {k}");
            let pos = order.iter().position(|&o| o == (f, slba)).unwrap();
            assert_eq!(
                c.status,
                md_to_status(statuses[pos]),
                "function {f} entry {k}"
            );
            assert_eq!(c.dnr, c.status != 0);
        }
    }
    let irqs = &tb.irqs[irq0..];
    assert_eq!(irqs.len(), 6, "one interrupt per completion: {irqs:?}");
    for f in 1..=2u8 {
        assert_eq!(irqs.iter().filter(|&&i| i == (f, 1)).count(), 3);
        assert_eq!(
            tb.served[f as usize] + tb.rejected[f as usize],
            served0[f as usize] + 3
        );
    }
}

/// A function reset drops that function's commands wherever they are in
/// the front's pipeline: one offered to the mover but not accepted is
/// withdrawn (the mover never sees it), one at the mover completes without
/// a CQE; the other function's commands complete normally.
#[test]
fn flr_drops_prefetched_and_running_commands() {
    for reset_offered in [true, false] {
        let mut tb = Tb::new();
        for f in 1..=2u8 {
            assert!(tb.enable(f, 8));
            tb.create_pair(f, 1, 8);
        }
        tb.mv_delay = 300;
        let mv0 = tb.mv_log.len();
        let c1 = tb.submit(1, 1, rw(0x02, 1, 1, 0));
        let c2 = tb.submit(2, 1, rw(0x02, 1, 2, 0));
        // One function's command at the mover, the other's offered behind it.
        while !(tb.mv_log.len() == mv0 + 1 && tb.sim.mv_valid()) {
            tb.step();
            assert!(tb.sim.cycle() < 100_000);
        }
        let running = tb.mv_log[mv0].func;
        let offered = tb.sim.mv_func();
        assert_ne!(running, offered);
        let (reset_f, other) = if reset_offered {
            (offered, running)
        } else {
            (running, offered)
        };
        tb.sim.set_flr_valid(true);
        tb.sim.set_flr_func(reset_f);
        tb.step();
        let (rq, irq) = (tb.rq_log.len(), tb.irqs.len());
        let c = tb.cqe(other, 1);
        assert_eq!(c.cid, if other == 1 { c1 } else { c2 });
        assert_eq!(c.status, SUCCESS);
        tb.steps(800);
        let late: Vec<_> = tb.rq_log[rq..].iter().filter(|r| r.0 == reset_f).collect();
        assert!(
            late.is_empty(),
            "reset function {reset_f}: DMA after reset: {late:x?}"
        );
        assert!(tb.irqs[irq..].iter().all(|i| i.0 != reset_f));
        let funcs: Vec<u8> = tb.mv_log[mv0..].iter().map(|c| c.func).collect();
        if reset_offered {
            assert_eq!(
                funcs,
                vec![running],
                "the withdrawn command never reached the mover"
            );
        } else {
            assert_eq!(funcs, vec![running, offered]);
        }
        // The reset function comes back and serves commands.
        tb.mv_delay = 20;
        assert!(tb.enable(reset_f, 8));
        tb.create_pair(reset_f, 1, 8);
        assert_eq!(tb.cmd(reset_f, 1, rw(0x02, 1, 3, 0)).status, SUCCESS);
    }
}

/// Pipelined reads never overfill a CQ the host does not consume: a CQ of
/// N entries gets exactly N - 1 completions, nothing is overwritten, the
/// other function keeps completing, and the rest follow once the host
/// consumes.
#[test]
fn pipelined_reads_never_overfill_a_cq() {
    for entries in [4u16, 5, 8] {
        let mut tb = Tb::new();
        assert!(tb.enable(1, 8));
        assert!(tb.enable(2, 8));
        tb.create_pair(1, 1, 8);
        let cqb = tb.create_pair_sized(2, 1, entries, 16);
        tb.mv_delay = 40;
        let n = entries as usize + 3;
        let cids: Vec<u16> = (0..n)
            .map(|i| tb.submit(2, 1, rw(0x02, 1, i as u64, 0)))
            .collect();
        tb.steps(3000);
        for _ in 0..10 {
            assert_eq!(tb.cmd(1, 1, rw(0x02, 1, 0, 0)).status, SUCCESS);
        }
        for i in 0..entries as u64 - 1 {
            assert_eq!(
                tb.rd32(cqb + 16 * i + 12) as u16,
                cids[i as usize],
                "entries {entries}"
            );
        }
        let last = cqb + 16 * (entries as u64 - 1);
        assert_eq!(
            tb.rd32(last + 12),
            0,
            "entries {entries}: the CQ was overfilled"
        );
        let got: Vec<u16> = (0..n).map(|_| tb.cqe(2, 1).cid).collect();
        assert_eq!(got, cids);
    }
}

/// With a slow host (64-clock reads) the front keeps two SQE fetches in
/// flight, so the mover gets its next command as soon as it finishes one
/// even when a command takes it fewer clocks than a fetch: 16 commands over
/// two functions at 51 clocks each run back to back. One fetch at a time
/// (the previous front) took ~75 clocks per command here. Completions keep
/// their CID, SQHD and per-queue order.
#[test]
fn two_fetches_in_flight_keep_a_fast_mover_busy() {
    let mut tb = Tb::new();
    for f in 1..=2u8 {
        assert!(tb.enable(f, 8));
        tb.create_pair(f, 1, 32);
    }
    tb.rd_latency = 64;
    tb.mv_delay = 50; // 51 clocks from accept to md_valid
    tb.max_reads = 0;
    let mv0 = tb.mv_log.len();
    let mut want: HashMap<u8, Vec<u16>> = HashMap::new();
    for i in 0..16u64 {
        let f = 1 + (i % 2) as u8;
        let cid = tb.submit(f, 1, rw(0x02, 1, i, 0));
        want.entry(f).or_default().push(cid);
    }
    let mut first = None;
    while tb.mv_log.len() < mv0 + 16 || tb.mover.is_some() {
        tb.step();
        if first.is_none() && tb.mv_log.len() > mv0 {
            first = Some(tb.sim.cycle());
        }
        assert!(tb.sim.cycle() < 100_000);
    }
    let span = tb.sim.cycle() - first.unwrap();
    eprintln!(
        "16 commands at the mover in {span} clocks ({:.1} per command), {} SQE reads in flight at most",
        span as f64 / 16.0,
        tb.max_reads
    );
    assert!(
        tb.max_reads >= 2,
        "a fetch is issued while one is outstanding"
    );
    assert!(
        span <= 16 * 56,
        "the mover waited for commands: {span} clocks for 16 x 51"
    );
    for f in 1..=2u8 {
        for (k, &cid) in want[&f].iter().enumerate() {
            let c = tb.cqe(f, 1);
            assert_eq!((c.cid, c.status, c.sqid), (cid, SUCCESS, 1), "function {f}");
            assert_eq!(c.sqhd, k as u16 + 1);
        }
    }
}

/// A function reset (FLR strobe or CC.EN 1 -> 0) while its SQE reads are
/// outstanding in the fetch slots (slow host): the fetched entries are
/// dropped when they arrive (no mover command, DMA or interrupt for that
/// function after the reset), the other function's commands complete in
/// order, and the reset function serves commands again afterwards.
#[test]
fn reset_drops_entries_in_the_fetch_slots() {
    for cc_en in [false, true] {
        for delay in (0..150).step_by(9) {
            let mut tb = Tb::new();
            for f in 1..=2u8 {
                assert!(tb.enable(f, 8));
                tb.create_pair(f, 1, 16);
            }
            tb.rd_latency = 64;
            tb.mv_delay = 50;
            let mut cids = Vec::new();
            for i in 0..6u64 {
                let f = 1 + (i % 2) as u8;
                let cid = tb.submit(f, 1, rw(0x02, 1, i, 0));
                if f == 2 {
                    cids.push(cid);
                }
            }
            tb.steps(delay);
            let what = format!("{} after {delay}", if cc_en { "CC.EN 0" } else { "FLR" });
            let (rq, irq, mv);
            if cc_en {
                tb.reg_write(1, 0x14, 0);
                // The write takes effect when the engine serves it (a few
                // clocks): count from there.
                tb.steps(16);
                (rq, irq, mv) = (tb.rq_log.len(), tb.irqs.len(), tb.mv_log.len());
            } else {
                tb.sim.set_flr_valid(true);
                tb.sim.set_flr_func(1);
                tb.step();
                (rq, irq, mv) = (tb.rq_log.len(), tb.irqs.len(), tb.mv_log.len());
            }
            let got: Vec<u16> = (0..3).map(|_| tb.cqe(2, 1)).map(|c| c.cid).collect();
            assert_eq!(got, cids, "{what}: the other function");
            tb.steps(400);
            let late: Vec<_> = tb.rq_log[rq..].iter().filter(|r| r.0 == 1).collect();
            assert!(late.is_empty(), "{what}: DMA after reset: {late:x?}");
            assert!(tb.irqs[irq..].iter().all(|i| i.0 != 1), "{what}: interrupt");
            assert!(
                tb.mv_log[mv..].iter().all(|c| c.func != 1),
                "{what}: a dropped entry reached the mover"
            );
            assert!(tb.enable(1, 8), "{what}");
            tb.create_pair(1, 1, 8);
            assert_eq!(tb.cmd(1, 1, rw(0x02, 1, 7, 0)).status, SUCCESS, "{what}");
        }
    }
}
