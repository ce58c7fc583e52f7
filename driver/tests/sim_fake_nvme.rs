//! The whole sim chain below the card — NVMe driver -> `SimFunction` ->
//! `Platform` (config space, completer, IOMMU, DMA, MSI-X checks) — against
//! a small behavioural NVMe controller written in Rust at the seam
//! (`SeamDut`). The fake moves every byte through the seam's DMA ports
//! (SQE fetch, PRP lists, data, CQE write, MSI-X), so the platform's host
//! side and the driver backend are exercised before the card's own NVMe
//! function exists. It stores plaintext (no XTS): it checks plumbing only.
#![cfg(feature = "sim")]

use nitrous_driver::nvme::{IoOp, Nvme, Options};
use nitrous_driver::sim::SimCard;
use nitrous_driver::PciFunction;
use nitrous_sim::platform::config::{SRIOV_CTRL, SRIOV_NUM_VFS, SRIOV_VF_ENABLE, SRIOV_VF_MSE};
use nitrous_sim::platform::{MemStore, Platform, PlatformConfig, SeamDut, SEAM_PORTS};
use nitrous_sim::PortDir;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::Duration;

fn idx(name: &str) -> usize {
    SEAM_PORTS.iter().position(|p| p.0 == name).unwrap()
}

const BLOCKS: u64 = 4096;
const BS: usize = 512;

/// Work items leaving the card in order on the requester / MSI-X ports.
enum Item {
    Read { func: u8, addr: u64, len: u32 },
    Write { func: u8, addr: u64, data: Vec<u8> },
    Msix { func: u8, vector: u8 },
}

type Cont = Box<dyn FnOnce(&mut Ctrl, Vec<u8>) + Send>;
type SegCont = Box<dyn FnOnce(&mut Ctrl, Vec<(u64, usize)>) + Send>;

struct Sq {
    base: u64,
    size: u16,
    head: u16,
    tail: u16,
    cqid: u16,
}

struct Cq {
    base: u64,
    size: u16,
    tail: u16,
    phase: bool,
    vector: Option<u8>,
}

#[derive(Default)]
struct Func {
    cc: u32,
    csts: u32,
    aqa: u32,
    asq: u64,
    acq: u64,
    sq: HashMap<u16, Sq>,
    cq: HashMap<u16, Cq>,
    msix: Vec<u32>,
}

/// The controller logic (one command at a time, card-wide).
struct Ctrl {
    f: Vec<Func>,
    store: HashMap<(u8, u64), Vec<u8>>,
    items: VecDeque<Item>,
    /// Reads issued and not complete: (bytes expected, bytes so far).
    reading: VecDeque<(usize, Vec<u8>)>,
    /// The one outstanding fetch: reads left, data so far, continuation.
    fetch: Option<(usize, Vec<u8>, Cont)>,
    /// Queues with work: (func, sqid).
    ready: VecDeque<(u8, u16)>,
    /// Data beats of the write being sent.
    wbeats: VecDeque<([u8; 16], bool)>,
}

fn split(addr: u64, len: usize) -> Vec<(u64, usize)> {
    let mut v = Vec::new();
    let (mut a, mut left) = (addr, len);
    while left > 0 {
        let n = left.min(4096 - (a as usize & 4095));
        v.push((a, n));
        a += n as u64;
        left -= n;
    }
    v
}

impl Ctrl {
    fn read(&mut self, func: u8, segs: Vec<(u64, usize)>, k: Cont) {
        let mut n = 0;
        for (a, l) in segs {
            for (a, l) in split(a, l) {
                self.items.push_back(Item::Read {
                    func,
                    addr: a,
                    len: l as u32,
                });
                n += 1;
            }
        }
        self.fetch = Some((n, Vec::new(), k));
    }

    fn write(&mut self, func: u8, addr: u64, data: &[u8]) {
        let mut o = 0;
        for (a, l) in split(addr, data.len()) {
            self.items.push_back(Item::Write {
                func,
                addr: a,
                data: data[o..o + l].to_vec(),
            });
            o += l;
        }
    }

    /// PRP segments of a transfer (NVMe 1.4 §4.3), then `k` with them.
    fn prps(&mut self, func: u8, prp1: u64, prp2: u64, len: usize, k: SegCont) {
        let first = len.min(4096 - (prp1 as usize & 4095));
        let rest = len - first;
        if rest == 0 {
            k(self, vec![(prp1, first)]);
        } else if rest <= 4096 {
            k(self, vec![(prp1, first), (prp2, rest)]);
        } else {
            let n = rest.div_ceil(4096);
            self.read(
                func,
                vec![(prp2, 8 * n)],
                Box::new(move |c, d| {
                    let mut segs = vec![(prp1, first)];
                    let mut left = rest;
                    for e in d.chunks(8) {
                        let a = u64::from_le_bytes(e.try_into().unwrap());
                        segs.push((a, left.min(4096)));
                        left -= left.min(4096);
                    }
                    k(c, segs)
                }),
            );
        }
    }

    fn complete(&mut self, func: u8, sqid: u16, cid: u16, status: u16, dw0: u32) {
        let f = &mut self.f[func as usize];
        let Some(sq) = f.sq.get(&sqid) else { return };
        let (sqhd, cqid) = (sq.head, sq.cqid);
        let Some(cq) = f.cq.get_mut(&cqid) else {
            return;
        };
        let mut e = [0u8; 16];
        e[0..4].copy_from_slice(&dw0.to_le_bytes());
        e[8..12].copy_from_slice(&(sqhd as u32 | (sqid as u32) << 16).to_le_bytes());
        let st = cq.phase as u32 | (status as u32) << 1;
        e[12..16].copy_from_slice(&(cid as u32 | st << 16).to_le_bytes());
        let addr = cq.base + 16 * cq.tail as u64;
        cq.tail += 1;
        if cq.tail == cq.size {
            cq.tail = 0;
            cq.phase = !cq.phase;
        }
        let vector = cq.vector;
        self.write(func, addr, &e);
        if let Some(v) = vector {
            self.items.push_back(Item::Msix { func, vector: v });
        }
    }

    fn exec(&mut self, func: u8, sqid: u16, d: &[u8]) {
        let dw = |i: usize| u32::from_le_bytes(d[4 * i..4 * i + 4].try_into().unwrap());
        let (op, cid) = (dw(0) as u8, (dw(0) >> 16) as u16);
        let prp1 = dw(6) as u64 | (dw(7) as u64) << 32;
        let prp2 = dw(8) as u64 | (dw(9) as u64) << 32;
        let (c10, c11, c12) = (dw(10), dw(11), dw(12));
        if sqid == 0 {
            let f = &mut self.f[func as usize];
            let mut dw0 = 0;
            let mut status = 0;
            match op {
                0x06 => {
                    let mut id = vec![0u8; 4096];
                    match c10 & 0xff {
                        1 => {
                            id[0..2].copy_from_slice(&0x1234u16.to_le_bytes());
                            id[77] = 5;
                            id[516..520].copy_from_slice(&1u32.to_le_bytes());
                        }
                        2 => id[0..4].copy_from_slice(&1u32.to_le_bytes()),
                        0 => {
                            id[0..8].copy_from_slice(&BLOCKS.to_le_bytes());
                            id[128..132].copy_from_slice(&(9u32 << 16).to_le_bytes());
                        }
                        _ => status = 0x02,
                    }
                    if status == 0 {
                        self.write(func, prp1, &id);
                    }
                }
                0x09 => dw0 = c11,
                0x05 => {
                    let v = (c11 & 2 != 0).then_some((c11 >> 16) as u8);
                    f.cq.insert(
                        c10 as u16,
                        Cq {
                            base: prp1,
                            size: (c10 >> 16) as u16 + 1,
                            tail: 0,
                            phase: true,
                            vector: v,
                        },
                    );
                }
                0x01 => {
                    f.sq.insert(
                        c10 as u16,
                        Sq {
                            base: prp1,
                            size: (c10 >> 16) as u16 + 1,
                            head: 0,
                            tail: 0,
                            cqid: (c11 >> 16) as u16,
                        },
                    );
                }
                0x00 => {
                    f.sq.remove(&(c10 as u16));
                }
                0x04 => {
                    f.cq.remove(&(c10 as u16));
                }
                _ => status = 0x01,
            }
            self.complete(func, 0, cid, status, dw0);
            return;
        }
        let slba = c10 as u64 | (c11 as u64) << 32;
        let nlb = (c12 & 0xffff) as u64 + 1;
        let len = nlb as usize * BS;
        match op {
            0x02 => self.prps(
                func,
                prp1,
                prp2,
                len,
                Box::new(move |c, segs| {
                    let mut data = Vec::new();
                    for b in 0..nlb {
                        data.extend(
                            c.store
                                .get(&(func, slba + b))
                                .cloned()
                                .unwrap_or(vec![0; BS]),
                        );
                    }
                    let mut o = 0;
                    for (a, l) in segs {
                        c.write(func, a, &data[o..o + l]);
                        o += l;
                    }
                    c.complete(func, sqid, cid, 0, 0);
                }),
            ),
            0x01 => self.prps(
                func,
                prp1,
                prp2,
                len,
                Box::new(move |c, segs| {
                    c.read(
                        func,
                        segs,
                        Box::new(move |c, data| {
                            for b in 0..nlb as usize {
                                c.store.insert(
                                    (func, slba + b as u64),
                                    data[b * BS..(b + 1) * BS].to_vec(),
                                );
                            }
                            c.complete(func, sqid, cid, 0, 0);
                        }),
                    )
                }),
            ),
            0x00 => self.complete(func, sqid, cid, 0, 0),
            _ => self.complete(func, sqid, cid, 0x01, 0),
        }
    }

    /// Start the next command if idle.
    fn schedule(&mut self) {
        if self.fetch.is_some() {
            return;
        }
        while let Some((func, sqid)) = self.ready.pop_front() {
            let Some(sq) = self.f[func as usize].sq.get_mut(&sqid) else {
                continue;
            };
            if sq.head == sq.tail {
                continue;
            }
            let addr = sq.base + 64 * sq.head as u64;
            sq.head = (sq.head + 1) % sq.size;
            let more = sq.head != sq.tail;
            self.read(
                func,
                vec![(addr, 64)],
                Box::new(move |c, d| {
                    c.exec(func, sqid, &d);
                    if more {
                        c.ready.push_back((func, sqid));
                    }
                }),
            );
            return;
        }
    }

    fn reg_read(&self, func: u8, a: u32) -> u32 {
        let f = &self.f[func as usize];
        let cap = nitrous_regmap::nvme::cap_value();
        match a {
            0x2000..=0x2fff => f
                .msix
                .get(((a - 0x2000) / 4) as usize)
                .copied()
                .unwrap_or(0),
            _ if func == 0 => 0,
            0x00 => cap as u32,
            0x04 => (cap >> 32) as u32,
            0x08 => 0x0001_0400,
            0x14 => f.cc,
            0x1c => f.csts,
            0x24 => f.aqa,
            0x28 => f.asq as u32,
            0x2c => (f.asq >> 32) as u32,
            0x30 => f.acq as u32,
            0x34 => (f.acq >> 32) as u32,
            _ => 0,
        }
    }

    fn reg_write(&mut self, func: u8, a: u32, v: u32) {
        let f = &mut self.f[func as usize];
        match a {
            0x2000..=0x2fff => {
                let i = ((a - 0x2000) / 4) as usize;
                if i < f.msix.len() {
                    f.msix[i] = v;
                }
            }
            _ if func == 0 => {}
            0x14 => {
                let was = f.cc & 1;
                f.cc = v;
                if v & 1 == 1 && was == 0 {
                    f.sq.clear();
                    f.cq.clear();
                    f.sq.insert(
                        0,
                        Sq {
                            base: f.asq,
                            size: (f.aqa & 0xfff) as u16 + 1,
                            head: 0,
                            tail: 0,
                            cqid: 0,
                        },
                    );
                    f.cq.insert(
                        0,
                        Cq {
                            base: f.acq,
                            size: ((f.aqa >> 16) & 0xfff) as u16 + 1,
                            tail: 0,
                            phase: true,
                            vector: Some(0),
                        },
                    );
                    f.csts = 1;
                } else if v & 1 == 0 {
                    f.csts = 0;
                    f.sq.clear();
                    f.cq.clear();
                }
                if (v >> 14) & 3 != 0 {
                    f.csts |= 2 << 2;
                }
            }
            0x24 => f.aqa = v,
            0x28 => f.asq = (f.asq & !0xffff_ffff) | v as u64,
            0x2c => f.asq = (f.asq & 0xffff_ffff) | (v as u64) << 32,
            0x30 => f.acq = (f.acq & !0xffff_ffff) | v as u64,
            0x34 => f.acq = (f.acq & 0xffff_ffff) | (v as u64) << 32,
            0x1000..=0x1fff if (a - 0x1000).is_multiple_of(8) => {
                let q = ((a - 0x1000) / 8) as u16;
                if let Some(sq) = f.sq.get_mut(&q) {
                    sq.tail = v as u16;
                    self.ready.push_back((func, q));
                }
            }
            _ => {}
        }
    }
}

struct Fake {
    v: Vec<[u32; 4]>,
    cycle: u64,
    c: Ctrl,
    cc_next: Option<u32>,
    tag: u8,
}

fn b2w(b: &[u8; 16]) -> [u32; 4] {
    std::array::from_fn(|i| u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap()))
}

impl Fake {
    fn new(vfs: usize) -> Fake {
        let mut f: Vec<Func> = (0..=vfs).map(|_| Func::default()).collect();
        for x in &mut f {
            x.msix = (0..4 * 9).map(|i| (i % 4 == 3) as u32).collect();
        }
        Fake {
            v: vec![[0; 4]; SEAM_PORTS.len()],
            cycle: 0,
            c: Ctrl {
                f,
                store: HashMap::new(),
                items: VecDeque::new(),
                reading: VecDeque::new(),
                fetch: None,
                ready: VecDeque::new(),
                wbeats: VecDeque::new(),
            },
            cc_next: None,
            tag: 0,
        }
    }
    fn inp(&self, n: &str) -> u64 {
        let w = self.v[idx(n)];
        w[0] as u64 | (w[1] as u64) << 32
    }
    fn out(&self, name: &str) -> [u32; 4] {
        let v = |x: u64| [x as u32, (x >> 32) as u32, 0, 0];
        let sending = !self.c.wbeats.is_empty();
        let head = if sending { None } else { self.c.items.front() };
        let (rq, mx) = match head {
            Some(Item::Read { func, addr, len }) => (Some((*func, false, *addr, *len)), None),
            Some(Item::Write { func, addr, data }) => {
                (Some((*func, true, *addr, data.len() as u32)), None)
            }
            Some(Item::Msix { func, vector }) => (None, Some((*func, *vector))),
            None => (None, None),
        };
        match name {
            "cq_ready" | "rc_ready" | "br_ready" => v(1),
            "cc_valid" => v(self.cc_next.is_some() as u64),
            "cc_data" => v(self.cc_next.unwrap_or(0) as u64),
            "rq_valid" => v(rq.is_some() as u64),
            "rq_func" => v(rq.map_or(0, |r| r.0 as u64)),
            "rq_write" => v(rq.map_or(0, |r| r.1 as u64)),
            "rq_addr" => v(rq.map_or(0, |r| r.2)),
            "rq_len" => v(rq.map_or(0, |r| r.3 as u64)),
            "rq_tag" => v(self.tag as u64),
            "wd_valid" => v(sending as u64),
            "wd_data" => self.c.wbeats.front().map_or([0; 4], |b| b2w(&b.0)),
            "wd_last" => v(self.c.wbeats.front().is_some_and(|b| b.1) as u64),
            "mx_valid" => v(mx.is_some() as u64),
            "mx_func" => v(mx.map_or(0, |m| m.0 as u64)),
            "mx_vector" => v(mx.map_or(0, |m| m.1 as u64)),
            "mx_addr" | "mx_data" => {
                let (f, vec) = mx.unwrap_or((0, 0));
                let t = &self.c.f[f as usize].msix;
                let e = 4 * vec as usize;
                if name == "mx_addr" {
                    v(t[e] as u64 | (t[e + 1] as u64) << 32)
                } else {
                    v(t[e + 2] as u64)
                }
            }
            _ => self.v[idx(name)],
        }
    }
}

impl SeamDut for Fake {
    fn name(&self) -> &'static str {
        "fake_nvme"
    }
    fn port(&self, name: &str) -> Option<(usize, u32, PortDir)> {
        SEAM_PORTS
            .iter()
            .position(|p| p.0 == name)
            .map(|i| (i, SEAM_PORTS[i].1, SEAM_PORTS[i].2))
    }
    fn set64(&mut self, i: usize, v: u64) {
        self.v[i] = [v as u32, (v >> 32) as u32, 0, 0];
    }
    fn get64(&self, i: usize) -> u64 {
        let w = self.out(SEAM_PORTS[i].0);
        w[0] as u64 | (w[1] as u64) << 32
    }
    fn set_words(&mut self, i: usize, w: &[u32]) {
        self.v[i] = [w[0], w[1], w[2], w[3]];
    }
    fn get_words(&self, i: usize, w: &mut [u32]) {
        w.copy_from_slice(&self.out(SEAM_PORTS[i].0));
    }
    fn settle(&mut self) {}
    fn tick(&mut self) {
        let o = |s: &Fake, n: &str| s.out(n)[0] == 1;
        let rq = o(self, "rq_valid") && self.inp("rq_ready") == 1;
        let wd = o(self, "wd_valid") && self.inp("wd_ready") == 1;
        let mx = o(self, "mx_valid") && self.inp("mx_ready") == 1;
        let rc = (self.inp("rc_valid") == 1).then(|| {
            let w = self.v[idx("rc_data")];
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[4 * i..4 * i + 4].copy_from_slice(&w[i].to_le_bytes());
            }
            (b, self.inp("rc_last") == 1, self.inp("rc_err") == 1)
        });
        let cq = (self.inp("cq_valid") == 1).then(|| {
            (
                self.inp("cq_func") as u8,
                self.inp("cq_addr") as u32,
                self.inp("cq_write") == 1,
                self.inp("cq_wdata") as u32,
            )
        });
        self.cc_next = None;
        if let Some((f, a, w, d)) = cq {
            if w {
                self.c.reg_write(f, a, d);
            } else {
                self.cc_next = Some(self.c.reg_read(f, a));
            }
        }
        if wd {
            self.c.wbeats.pop_front();
        }
        if rq {
            match self.c.items.pop_front() {
                Some(Item::Read { len, .. }) => {
                    self.c.reading.push_back((len as usize, Vec::new()))
                }
                Some(Item::Write { data, .. }) => {
                    let n = data.len().div_ceil(16);
                    self.c.wbeats = (0..n)
                        .map(|i| {
                            let mut b = [0u8; 16];
                            let e = (16 * i + 16).min(data.len());
                            b[..e - 16 * i].copy_from_slice(&data[16 * i..e]);
                            (b, i + 1 == n)
                        })
                        .collect();
                }
                _ => {}
            }
            self.tag = self.tag.wrapping_add(1) & 0x7f;
        }
        if mx {
            self.c.items.pop_front();
        }
        if let Some((b, last, err)) = rc {
            assert!(!err, "fake NVMe: DMA read faulted");
            let r = self.c.reading.front_mut().expect("completion without read");
            r.1.extend_from_slice(&b);
            if last {
                let (len, mut d) = self.c.reading.pop_front().unwrap();
                d.truncate(len);
                let (left, mut acc, k) = self.c.fetch.take().expect("read without fetch");
                acc.extend_from_slice(&d);
                if left == 1 {
                    k(&mut self.c, acc);
                } else {
                    self.c.fetch = Some((left - 1, acc, k));
                }
            }
        }
        self.c.schedule();
        self.cycle += 1;
    }
    fn cycle(&self) -> u64 {
        self.cycle
    }
    fn apply_reset(&mut self, n: u64) -> nitrous_sim::Result<()> {
        self.cycle += n;
        Ok(())
    }
    fn trace_to(&mut self, _p: &Path) -> nitrous_sim::Result<()> {
        Ok(())
    }
    fn trace_flush(&mut self) {}
}

fn card(vfs: usize) -> SimCard {
    let cfg = PlatformConfig {
        vfs,
        ..PlatformConfig::default()
    };
    let p = Platform::with_dut(
        cfg,
        Box::new(MemStore::new(1 << 20)),
        Box::new(Fake::new(vfs)),
    )
    .unwrap();
    let card = SimCard::new(p);
    let pf = card.function(0).unwrap();
    let s = nitrous_regmap::pci::EXTCAP_SRIOV;
    pf.config_write(s + SRIOV_NUM_VFS, &(vfs as u16).to_le_bytes())
        .unwrap();
    pf.config_write(
        s + SRIOV_CTRL,
        &(SRIOV_VF_ENABLE | SRIOV_VF_MSE).to_le_bytes(),
    )
    .unwrap();
    card
}

fn opts() -> Options {
    Options {
        io_queues: 2,
        queue_size: 16,
        interrupts: true,
        cmd_timeout: Duration::from_secs(60),
    }
}

#[test]
fn nvme_driver_over_sim_function_and_platform() {
    let c = card(2);
    let mut n = Nvme::new(c.function(1).unwrap(), opts()).expect("bring-up");
    assert_eq!(n.namespace().unwrap().blocks, BLOCKS);
    assert_eq!(n.namespace().unwrap().block_size as usize, BS);
    assert_eq!(n.io_queue_count(), 2);
    assert_eq!(n.interrupt_vectors(), 3);
    // 1 block (PRP1), 8 blocks (PRP1 + PRP2), 64 blocks (PRP list), with
    // a page offset from the 512-byte LBA alignment of the buffer.
    for (lba, blocks) in [(0u64, 1usize), (9, 8), (100, 64), (300, 255)] {
        let data: Vec<u8> = (0..blocks * BS)
            .map(|i| (i * 7 + lba as usize) as u8)
            .collect();
        n.write(0, lba, &data).unwrap();
        let mut back = vec![0u8; data.len()];
        n.read(1, lba, &mut back).unwrap();
        assert_eq!(back, data, "{blocks} blocks at {lba}");
    }
    let p = c.platform();
    assert!(p.faults().is_empty(), "{:?}", p.faults());
    assert!(p.msix_errors().is_empty(), "{:?}", p.msix_errors());
    assert!(p.violations().is_empty(), "{:?}", p.violations());
    assert!(p.irq_count(1, 1) > 0 && p.irq_count(1, 2) > 0);
    drop(p);
    drop(n);
}

#[test]
fn two_vfs_interleaved_from_one_thread_are_isolated() {
    let c = card(2);
    let mut a = Nvme::new(c.function(1).unwrap(), opts()).unwrap();
    let mut b = Nvme::new(c.function(2).unwrap(), opts()).unwrap();
    let ba = a.alloc_buffer(8 * 4096).unwrap();
    let bb = b.alloc_buffer(8 * 4096).unwrap();
    ba.region.fill(0, 8 * 4096, 0xaa).unwrap();
    bb.region.fill(0, 8 * 4096, 0xbb).unwrap();
    for i in 0..8 {
        a.submit(
            0,
            IoOp::Write {
                lba: 8 * i,
                blocks: 8,
            },
            &ba,
            4096 * i as usize,
            i,
        )
        .unwrap();
        b.submit(
            0,
            IoOp::Write {
                lba: 8 * i,
                blocks: 8,
            },
            &bb,
            4096 * i as usize,
            i,
        )
        .unwrap();
    }
    a.ring(0).unwrap();
    b.ring(0).unwrap();
    let (mut da, mut db) = (0, 0);
    let mut out = Vec::new();
    while da < 8 || db < 8 {
        out.clear();
        da += a.poll(0, &mut out).unwrap();
        assert!(out.iter().all(|c| c.result.is_ok()));
        out.clear();
        db += b.poll(0, &mut out).unwrap();
        assert!(out.iter().all(|c| c.result.is_ok()));
        let mut p = c.platform();
        let t = p.irq_total();
        assert!(p
            .run_until(100_000, |p| p.irq_total() != t || da + db == 16)
            .is_some());
    }
    let mut back = vec![0u8; 4096];
    a.read(1, 16, &mut back).unwrap();
    assert!(back.iter().all(|&x| x == 0xaa));
    b.read(1, 16, &mut back).unwrap();
    assert!(back.iter().all(|&x| x == 0xbb));
    // Each VF's DMA went through its own IOMMU domain.
    let p = c.platform();
    assert!(p.faults().is_empty());
    assert!(p.dma_bytes(1).0 >= 8 * 4096 && p.dma_bytes(2).0 >= 8 * 4096);
}

#[test]
fn perf_loop_is_exact_and_deterministic() {
    use nitrous_driver::sim::{run_perf, PerfParams};
    let run = || {
        let c = card(2);
        let mut a = Nvme::new(
            c.function(1).unwrap(),
            Options {
                queue_size: 5,
                ..opts()
            },
        )
        .unwrap();
        let mut b = Nvme::new(
            c.function(2).unwrap(),
            Options {
                queue_size: 5,
                ..opts()
            },
        )
        .unwrap();
        let params = PerfParams {
            qd: 4,
            size: 4096,
            read_pct: 50,
            ios: 40,
            seed: 3,
        };
        let mut done = 0;
        let r = run_perf(&c, &mut [&mut a, &mut b], &params, |n| done += n).unwrap();
        assert_eq!(done, 80);
        let p = c.platform();
        assert!(p.faults().is_empty() && p.msix_errors().is_empty());
        r
    };
    let r = run();
    assert!(r.cycles > 0);
    assert_eq!(r.vfs.len(), 2);
    for (i, v) in r.vfs.iter().enumerate() {
        assert_eq!(v.vf as usize, i + 1);
        assert_eq!((v.commands, v.errors), (40, 0));
        assert_eq!(v.latencies.len(), 40);
        assert!(v.latencies.iter().all(|&l| l > 0 && l < r.cycles));
        // Every command moved 4 KiB of data plus its SQE (64) and CQE (16).
        assert!(v.bus_bytes >= 40 * (4096 + 64 + 16), "{}", v.bus_bytes);
    }
    let again = run();
    assert_eq!(again.cycles, r.cycles);
    assert_eq!(again.vfs[0].latencies, r.vfs[0].latencies);
    assert_eq!(again.vfs[1].bus_bytes, r.vfs[1].bus_bytes);
}
