//! The platform's side of the seam (docs/CARD.md §1) against a behavioural
//! card written in Rust ([`SeamDut`]): DMA reads and writes through the
//! IOMMU with latency and `rc_err`, bus-master gating, MSI-X delivery
//! checks, backend writes/reads with latency, completer reads, sideband
//! (`cfg_vf_enable`, `cfg_bus_master`, `flr_*`). The fake drives the card's
//! outputs from scripted queues and logs what the platform sends back, so
//! every transfer is checked beat by beat.

use nitrous_regmap::{pci, MSIX_TABLE_OFFSET};
use nitrous_sim::platform::config::{
    CMD_BUS_MASTER, CMD_INTX_DISABLE, CMD_MEMORY, COMMAND, MSIX_CTRL, MSIX_ENABLE, PCIE_DEVCTL,
    SRIOV_CTRL, SRIOV_NUM_VFS, SRIOV_VF_ENABLE, SRIOV_VF_MSE, STATUS, STATUS_INTX,
};
use nitrous_sim::platform::{MemStore, Platform, PlatformConfig, SeamDut, VecMemory, SEAM_PORTS};
use nitrous_sim::PortDir;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn idx(name: &str) -> usize {
    SEAM_PORTS.iter().position(|p| p.0 == name).unwrap()
}

/// A request the fake card issues: header, then payload for writes.
#[derive(Clone)]
struct Req {
    func: u8,
    write: bool,
    addr: u64,
    len: u32,
    tag: u8,
    data: Vec<u8>,
}

/// What the fake saw and what it is told to do (shared with the test).
#[derive(Default)]
struct Script {
    dma: VecDeque<Req>,
    /// Write payload beats still to send, (data, last).
    wd: VecDeque<([u8; 16], bool)>,
    mx: VecDeque<(u8, u8, u64, u32)>,
    bq: VecDeque<Req>,
    bw: VecDeque<([u8; 16], bool)>,
    /// Completions received: (cycle, tag, data, last, err).
    rc: Vec<(u64, u8, [u8; 16], bool, bool)>,
    br: Vec<(u64, u8, [u8; 16], bool, bool)>,
    rq_accepted: Vec<u64>,
    flr: Vec<(u64, u8)>,
    /// Completer accesses seen: (func, addr, write, data).
    cq: Vec<(u8, u32, bool, u32)>,
    cc_next: Option<u32>,
    /// Present a write's first payload beat with its header.
    same_edge: bool,
    /// Hold cq_ready low (a hung card).
    stall_cq: bool,
    /// Accept reads but never complete them.
    drop_cc: bool,
    vf_enable: u32,
    bus_master: u32,
    msix_en: u32,
    /// What the fake drives on `intx_level`.
    intx: u32,
}

struct Fake {
    v: Vec<[u32; 4]>,
    s: Arc<Mutex<Script>>,
    cycle: u64,
}

fn beats(d: &[u8]) -> VecDeque<([u8; 16], bool)> {
    let n = d.len().div_ceil(16);
    (0..n)
        .map(|i| {
            let mut b = [0u8; 16];
            let end = (16 * i + 16).min(d.len());
            b[..end - 16 * i].copy_from_slice(&d[16 * i..end]);
            (b, i + 1 == n)
        })
        .collect()
}

fn w2b(w: &[u32; 4]) -> [u8; 16] {
    let mut b = [0u8; 16];
    for i in 0..4 {
        b[4 * i..4 * i + 4].copy_from_slice(&w[i].to_le_bytes());
    }
    b
}

fn b2w(b: &[u8; 16]) -> [u32; 4] {
    std::array::from_fn(|i| {
        u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
    })
}

impl Fake {
    fn inp(&self, n: &str) -> u64 {
        let w = self.v[idx(n)];
        w[0] as u64 | (w[1] as u64) << 32
    }
    fn out(&self, name: &str) -> [u32; 4] {
        let s = self.s.lock().unwrap();
        let v = |x: u64| [x as u32, (x >> 32) as u32, 0, 0];
        let in_wd = !s.wd.is_empty();
        let in_bw = !s.bw.is_empty();
        // Same-edge mode: the head write's first beat rides with its header.
        let early = (!in_wd && s.same_edge)
            .then(|| s.dma.front().filter(|r| r.write).map(|r| beats(&r.data)[0]))
            .flatten();
        match name {
            "cq_ready" => v(!s.stall_cq as u64),
            "cc_valid" => v(s.cc_next.is_some() as u64),
            "cc_data" => v(s.cc_next.unwrap_or(0) as u64),
            "rq_valid" => v((!in_wd && !s.dma.is_empty()) as u64),
            "rq_func" => v(s.dma.front().map_or(0, |r| r.func as u64)),
            "rq_write" => v(s.dma.front().map_or(0, |r| r.write as u64)),
            "rq_addr" => v(s.dma.front().map_or(0, |r| r.addr)),
            "rq_len" => v(s.dma.front().map_or(0, |r| r.len as u64)),
            "rq_tag" => v(s.dma.front().map_or(0, |r| r.tag as u64)),
            "wd_valid" => v((in_wd || early.is_some()) as u64),
            "wd_data" => {
                s.wd.front()
                    .or(early.as_ref())
                    .map_or([0; 4], |b| b2w(&b.0))
            }
            "wd_last" => v(s.wd.front().or(early.as_ref()).is_some_and(|b| b.1) as u64),
            "rc_ready" | "br_ready" => v(1),
            "mx_valid" => v(!s.mx.is_empty() as u64),
            "mx_func" => v(s.mx.front().map_or(0, |m| m.0 as u64)),
            "mx_vector" => v(s.mx.front().map_or(0, |m| m.1 as u64)),
            "mx_addr" => v(s.mx.front().map_or(0, |m| m.2)),
            "mx_data" => v(s.mx.front().map_or(0, |m| m.3 as u64)),
            "bq_valid" => v((!in_bw && !s.bq.is_empty()) as u64),
            "bq_write" => v(s.bq.front().map_or(0, |r| r.write as u64)),
            "bq_addr" => v(s.bq.front().map_or(0, |r| r.addr)),
            "bq_len" => v(s.bq.front().map_or(0, |r| r.len as u64)),
            "bq_tag" => v(s.bq.front().map_or(0, |r| r.tag as u64)),
            "bw_valid" => v(in_bw as u64),
            "bw_data" => s.bw.front().map_or([0; 4], |b| b2w(&b.0)),
            "bw_last" => v(s.bw.front().is_some_and(|b| b.1) as u64),
            "intx_level" => v(s.intx as u64),
            _ => self.v[idx(name)],
        }
    }
}

impl SeamDut for Fake {
    fn name(&self) -> &'static str {
        "fake"
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
    /// The rising edge: every handshake whose valid and ready are high.
    fn tick(&mut self) {
        let c = self.cycle;
        let o = |n: &str| self.out(n)[0] == 1;
        let (rq, wd, mx, bq, bw) = (
            o("rq_valid") && self.inp("rq_ready") == 1,
            o("wd_valid") && self.inp("wd_ready") == 1,
            o("mx_valid") && self.inp("mx_ready") == 1,
            o("bq_valid") && self.inp("bq_ready") == 1,
            o("bw_valid") && self.inp("bw_ready") == 1,
        );
        let rc = (self.inp("rc_valid") == 1).then(|| {
            (
                c,
                self.inp("rc_tag") as u8,
                w2b(&self.v[idx("rc_data")]),
                self.inp("rc_last") == 1,
                self.inp("rc_err") == 1,
            )
        });
        let br = (self.inp("br_valid") == 1).then(|| {
            (
                c,
                self.inp("br_tag") as u8,
                w2b(&self.v[idx("br_data")]),
                self.inp("br_last") == 1,
                self.inp("br_err") == 1,
            )
        });
        let cq = (self.inp("cq_valid") == 1 && self.out("cq_ready")[0] == 1).then(|| {
            (
                self.inp("cq_func") as u8,
                self.inp("cq_addr") as u32,
                self.inp("cq_write") == 1,
                self.inp("cq_wdata") as u32,
            )
        });
        let flr = (self.inp("flr_valid") == 1).then(|| (c, self.inp("flr_func") as u8));
        let (vfe, bm, mxe) = (
            self.inp("cfg_vf_enable") as u32,
            self.inp("cfg_bus_master") as u32,
            self.inp("cfg_msix_en") as u32,
        );
        let mut s = self.s.lock().unwrap();
        s.vf_enable = vfe;
        s.bus_master = bm;
        s.msix_en = mxe;
        s.cc_next = None;
        if let Some(a) = cq {
            if !a.2 && !s.drop_cc {
                // Reads answer (func << 24 | addr) on the next cycle.
                s.cc_next = Some((a.0 as u32) << 24 | a.1);
            }
            s.cq.push(a);
        }
        if rq {
            let r = s.dma.pop_front().unwrap();
            s.rq_accepted.push(c);
            if r.write {
                s.wd = beats(&r.data);
            }
        }
        if wd {
            s.wd.pop_front();
        }
        if let Some(b) = rc {
            s.rc.push(b);
        }
        if mx {
            s.mx.pop_front();
        }
        if bq {
            let r = s.bq.pop_front().unwrap();
            if r.write {
                s.bw = beats(&r.data);
            }
        }
        if bw {
            s.bw.pop_front();
        }
        if let Some(b) = br {
            s.br.push(b);
        }
        if let Some(f) = flr {
            s.flr.push(f);
        }
        self.cycle += 1;
    }
    fn cycle(&self) -> u64 {
        self.cycle
    }
    fn apply_reset(&mut self, n: u64) -> nitrous_sim::Result<()> {
        for _ in 0..n {
            self.tick();
        }
        Ok(())
    }
    fn trace_to(&mut self, _p: &Path) -> nitrous_sim::Result<()> {
        Ok(())
    }
    fn trace_flush(&mut self) {}
}

fn setup(dma_latency: u64, backend_latency: u64) -> (Platform, Arc<Mutex<Script>>) {
    let s = Arc::new(Mutex::new(Script::default()));
    let fake = Fake {
        v: vec![[0; 4]; SEAM_PORTS.len()],
        s: s.clone(),
        cycle: 0,
    };
    let cfg = PlatformConfig {
        vfs: 4,
        dma_read_latency: dma_latency,
        backend_latency,
        ..PlatformConfig::default()
    };
    let mut p = Platform::with_dut(cfg, Box::new(MemStore::new(1 << 20)), Box::new(fake)).unwrap();
    let w16 =
        |p: &mut Platform, f: u8, o: u16, v: u16| p.config_write(f, o, &v.to_le_bytes()).unwrap();
    w16(&mut p, 0, COMMAND, CMD_MEMORY | CMD_BUS_MASTER);
    w16(&mut p, 0, pci::EXTCAP_SRIOV + SRIOV_NUM_VFS, 2);
    w16(
        &mut p,
        0,
        pci::EXTCAP_SRIOV + SRIOV_CTRL,
        SRIOV_VF_ENABLE | SRIOV_VF_MSE,
    );
    (p, s)
}

fn dma(func: u8, write: bool, addr: u64, len: u32, tag: u8, data: Vec<u8>) -> Req {
    Req {
        func,
        write,
        addr,
        len,
        tag,
        data,
    }
}

#[test]
fn sideband_follows_config_space() {
    let (mut p, s) = setup(64, 0);
    p.run(2);
    assert_eq!(s.lock().unwrap().vf_enable, 0b111, "PF + 2 VFs");
    assert_eq!(s.lock().unwrap().bus_master, 0b001);
    p.config_write(2, COMMAND, &CMD_BUS_MASTER.to_le_bytes())
        .unwrap();
    p.run(1);
    assert_eq!(s.lock().unwrap().bus_master, 0b101);
    // FLR of VF 2: one strobe with its number, bus master cleared.
    let devctl = pci::CAP_PCIE as u16 + PCIE_DEVCTL;
    p.config_write(2, devctl, &(1u16 << 15).to_le_bytes())
        .unwrap();
    let c0 = p.cycle();
    p.run(3);
    assert_eq!(s.lock().unwrap().flr, vec![(c0, 2)]);
    assert_eq!(s.lock().unwrap().bus_master, 0b001);
    // VF Enable cleared: an FLR strobe per VF, VFs gone.
    p.config_write(0, pci::EXTCAP_SRIOV + SRIOV_CTRL, &0u16.to_le_bytes())
        .unwrap();
    p.run(6);
    let f: Vec<u8> = s.lock().unwrap().flr.iter().map(|x| x.1).collect();
    assert_eq!(f, vec![2, 1, 2, 3, 4]);
    assert_eq!(s.lock().unwrap().vf_enable, 0b1);
}

/// The hard IP's INTx (PCI Local Bus 3.0 §6.2.2-§6.2.3, PCIe 4.0
/// §7.7.2.2): the card's `intx_level` bit, for an existing function with
/// MSI-X Enable = 0, is the pending interrupt (Status.Interrupt Status); the
/// pin is asserted unless Command.Interrupt Disable is set. `cfg_msix_en`
/// follows each function's MSI-X Enable.
#[test]
fn intx_follows_card_level_and_config_space() {
    let (mut p, s) = setup(64, 0);
    let st = |p: &Platform, f: u8| {
        let mut b = [0u8; 2];
        p.config_read(f, STATUS, &mut b).unwrap();
        u16::from_le_bytes(b) & STATUS_INTX != 0
    };
    // VFs that just appeared are in reset: INTx is held off while the card
    // resets them (docs/CARD.md: 64 cycles + one intx_level refresh round).
    s.lock().unwrap().intx = 0b0010;
    p.run(50);
    assert!(!p.intx(1), "held during the VF's reset");
    s.lock().unwrap().intx = 0;
    p.run(200);
    assert!(!p.intx(1) && !st(&p, 1));
    assert_eq!(s.lock().unwrap().msix_en, 0);
    s.lock().unwrap().intx = 0b1110; // VFs 1, 2 and (absent) 3
    p.run(1);
    assert!(p.intx(1) && p.intx(2) && !p.intx(3) && !p.intx(0));
    assert!(st(&p, 1) && st(&p, 2));
    assert_eq!((p.intx_assertions(1), p.intx_assertions(2)), (1, 1));
    // Interrupt Disable: the pin drops, the status stays.
    p.config_write(1, COMMAND, &CMD_INTX_DISABLE.to_le_bytes())
        .unwrap();
    assert!(!p.intx(1) && st(&p, 1));
    p.config_write(1, COMMAND, &0u16.to_le_bytes()).unwrap();
    assert!(p.intx(1));
    assert_eq!(p.intx_assertions(1), 2);
    // MSI-X Enable: no INTx, and the card is told.
    let m = pci::CAP_MSIX as u16 + MSIX_CTRL;
    p.config_write(2, m, &MSIX_ENABLE.to_le_bytes()).unwrap();
    assert!(!p.intx(2) && !st(&p, 2));
    p.run(1);
    assert_eq!(s.lock().unwrap().msix_en, 0b100);
    p.config_write(2, m, &0u16.to_le_bytes()).unwrap();
    assert!(p.intx(2));
    assert_eq!(p.intx_assertions(2), 2);
    // The card lowers its request.
    s.lock().unwrap().intx = 0b0010;
    p.run(1);
    assert!(!p.intx(2) && !st(&p, 2) && p.intx(1));
    // FLR: deasserted; a request the card still shows from before the
    // reset does not count until it has been seen low.
    let devctl = pci::CAP_PCIE as u16 + PCIE_DEVCTL;
    p.config_write(1, devctl, &(1u16 << 15).to_le_bytes())
        .unwrap();
    assert!(!p.intx(1) && !st(&p, 1));
    p.run(300);
    assert!(!p.intx(1), "stale request after FLR");
    s.lock().unwrap().intx = 0;
    p.run(1);
    s.lock().unwrap().intx = 0b0010;
    p.run(1);
    assert!(p.intx(1), "a new request after the reset");
    assert_eq!(p.intx_assertions(1), 3);
}

#[test]
fn completer_reads_return_cc_data() {
    let (mut p, s) = setup(64, 0);
    assert_eq!(p.bar_read32(0, 0, 0x10).unwrap(), 0x10);
    assert_eq!(p.bar_read32(2, 0, 0x1ffc).unwrap(), 2 << 24 | 0x1ffc);
    p.bar_write32(1, 0, 0x14, 0xabcd).unwrap();
    let cq = s.lock().unwrap().cq.clone();
    assert_eq!(
        cq,
        vec![
            (0, 0x10, false, 0),
            (2, 0x1ffc, false, 0),
            (1, 0x14, true, 0xabcd)
        ]
    );
}

#[test]
fn dma_reads_writes_faults_and_latency() {
    let (mut p, s) = setup(40, 0);
    let mem = Arc::new(VecMemory::new(8192));
    let pattern: Vec<u8> = (0..8192).map(|i| (i * 7 + 1) as u8).collect();
    nitrous_sim::platform::HostMemory::write(&*mem, 0, &pattern);
    p.iommu_map(1, 0x10_0000, mem.clone()).unwrap();
    for f in [1u8, 2] {
        p.config_write(f, COMMAND, &CMD_BUS_MASTER.to_le_bytes())
            .unwrap();
    }
    {
        let mut sc = s.lock().unwrap();
        sc.dma
            .push_back(dma(1, false, 0x10_0000 + 64, 36, 7, vec![]));
        sc.dma.push_back(dma(
            1,
            true,
            0x10_0000 + 0x1000,
            20,
            0,
            (100..120).collect(),
        ));
        // Unmapped for VF 1, mapped only in VF 1's domain for VF 2.
        sc.dma.push_back(dma(1, false, 0x50_0000, 16, 8, vec![]));
        sc.dma.push_back(dma(2, false, 0x10_0000, 16, 9, vec![]));
        sc.dma
            .push_back(dma(2, true, 0x10_0000, 16, 0, vec![0xee; 16]));
    }
    p.run(200);
    // Bus Master Enable off: VF 2's read fails before touching memory.
    p.config_write(2, COMMAND, &0u16.to_le_bytes()).unwrap();
    s.lock()
        .unwrap()
        .dma
        .push_back(dma(2, false, 0x10_0000, 16, 10, vec![]));
    p.run(100);
    let sc = s.lock().unwrap();
    let first = sc.rq_accepted[0];
    // 36 bytes = 3 beats, latency 40 cycles after acceptance.
    assert_eq!(sc.rc[0].0, first + 1 + 40);
    assert_eq!(sc.rc.len(), 3 + 1 + 1 + 1);
    let got: Vec<u8> = sc.rc[..3].iter().flat_map(|b| b.2).collect();
    assert_eq!(got[..36], pattern[64..100]);
    assert!(got[36..].iter().all(|&b| b == 0));
    assert_eq!(
        sc.rc.iter().map(|b| (b.1, b.3, b.4)).collect::<Vec<_>>(),
        vec![
            (7, false, false),
            (7, false, false),
            (7, true, false),
            (8, true, true),
            (9, true, true),
            (10, true, true),
        ]
    );
    let snap = mem.snapshot();
    assert_eq!(snap[0x1000..0x1014], (100..120).collect::<Vec<u8>>()[..]);
    assert_eq!(snap[0x1014], pattern[0x1014], "bytes past rq_len untouched");
    assert_eq!(snap[..16], pattern[..16], "VF 2 cannot write VF 1's memory");
    let faults: Vec<_> = p
        .faults()
        .iter()
        .map(|f| (f.func, f.iova, f.write, f.reason))
        .collect();
    // In the order they happened: the posted write completes before the
    // delayed reads.
    assert_eq!(
        faults,
        vec![
            (2, 0x10_0000, true, "unmapped"),
            (1, 0x50_0000, false, "unmapped"),
            (2, 0x10_0000, false, "unmapped"),
            (2, 0x10_0000, false, "bus master disabled"),
        ]
    );
    assert_eq!(p.iommu().fault_count(2), 3);
    assert_eq!(p.dma_bytes(1), (36, 20));
    assert_eq!(p.dma_bytes(2), (0, 0));
}

#[test]
fn msix_delivery_is_checked() {
    let (mut p, s) = setup(64, 0);
    let t = MSIX_TABLE_OFFSET as u64;
    // VF 1 vector 3 programmed and unmasked; MSI-X enabled.
    p.bar_write32(1, 0, t + 48, 0xfee0_1000).unwrap();
    p.bar_write32(1, 0, t + 52, 0).unwrap();
    p.bar_write32(1, 0, t + 56, 0x33).unwrap();
    p.bar_write32(1, 0, t + 60, 0).unwrap();
    let m = pci::CAP_MSIX as u16 + MSIX_CTRL;
    p.config_write(1, m, &MSIX_ENABLE.to_le_bytes()).unwrap();
    {
        let mut sc = s.lock().unwrap();
        sc.mx.push_back((1, 3, 0xfee0_1000, 0x33));
        sc.mx.push_back((1, 3, 0xfee0_1000, 0x34)); // wrong data
        sc.mx.push_back((1, 2, 0, 0)); // masked vector
        sc.mx.push_back((2, 0, 0, 0)); // MSI-X disabled on VF 2
        sc.mx.push_back((3, 0, 0, 0)); // VF 3 does not exist
        sc.mx.push_back((1, 3, 0xfee0_1000, 0x33));
    }
    p.run(10);
    assert_eq!(p.irq_count(1, 3), 2);
    assert_eq!(p.irq_total(), 2);
    let why: Vec<String> = p.msix_errors().iter().map(|e| e.reason.clone()).collect();
    assert_eq!(why.len(), 4, "{why:?}");
    assert!(why[0].contains("differs from the table"));
    assert!(why[1].contains("masked in the table"));
    assert!(why[2].contains("disabled"));
    assert!(why[3].contains("does not exist"));
}

#[test]
fn backend_writes_then_reads_with_latency() {
    let (mut p, s) = setup(64, 25);
    let data: Vec<u8> = (0..512).map(|i| (i * 3) as u8).collect();
    {
        let mut sc = s.lock().unwrap();
        sc.bq.push_back(dma(0, true, 4096, 512, 1, data.clone()));
        sc.bq.push_back(dma(0, false, 4096, 512, 2, vec![]));
        sc.bq.push_back(dma(0, false, 1 << 20, 512, 3, vec![]));
    }
    p.run(200);
    let mut back = vec![0u8; 512];
    p.backend().read(4096, &mut back).unwrap();
    assert_eq!(back, data);
    let sc = s.lock().unwrap();
    assert_eq!(sc.br.len(), 64);
    let got: Vec<u8> = sc.br[..32].iter().flat_map(|b| b.2).collect();
    assert_eq!(got, data);
    assert!(sc.br[..32].iter().all(|b| b.1 == 2 && !b.4));
    assert!(sc.br[31].3 && !sc.br[30].3);
    assert!(
        sc.br[32..].iter().all(|b| b.1 == 3 && b.4),
        "out of range: br_err"
    );
    assert_eq!(p.backend_errors().len(), 1);
    assert_eq!(p.backend_bytes(), (512, 512));
}

#[test]
fn bar_accesses_time_out_and_the_completer_stays_in_order() {
    let (mut p, s) = setup(64, 0);
    s.lock().unwrap().stall_cq = true;
    let c0 = p.cycle();
    let e = p.bar_read32(0, 0, 0x20).unwrap_err();
    assert!(e.to_string().contains("no answer from the card"), "{e}");
    assert_eq!(p.cycle() - c0, PlatformConfig::default().bar_timeout);
    assert!(p.bar_write32(0, 0, 0x24, 1).is_err());
    // The withdrawn accesses never reach the card once it recovers.
    s.lock().unwrap().stall_cq = false;
    assert_eq!(p.bar_read32(0, 0, 0x28).unwrap(), 0x28);
    assert_eq!(s.lock().unwrap().cq, vec![(0, 0x28, false, 0)]);
    // A read accepted but never completed: later reads wait behind it
    // (completions are in order), so they time out too.
    s.lock().unwrap().drop_cc = true;
    assert!(p.bar_read32(0, 0, 0x2c).is_err());
    s.lock().unwrap().drop_cc = false;
    // The next completion answers the oldest read (0x2c), not 0x30.
    assert!(p.bar_read32(0, 0, 0x30).is_err());
    assert!(p.violations().is_empty());
}

#[test]
fn write_payload_may_ride_with_its_header() {
    let (mut p, s) = setup(64, 0);
    let mem = Arc::new(VecMemory::new(4096));
    p.iommu_map(1, 0x8000, mem.clone()).unwrap();
    p.config_write(1, COMMAND, &CMD_BUS_MASTER.to_le_bytes())
        .unwrap();
    {
        let mut sc = s.lock().unwrap();
        sc.same_edge = true;
        sc.dma
            .push_back(dma(1, true, 0x8010, 20, 0, (1..=20).collect()));
        sc.dma.push_back(dma(1, true, 0x8100, 16, 0, vec![9; 16]));
    }
    let c0 = p.cycle();
    p.run_until(100, |_| {
        let sc = s.lock().unwrap();
        sc.dma.is_empty() && sc.wd.is_empty()
    });
    // Header + beat 1, beat 2, header + beat 1: three cycles.
    assert_eq!(p.cycle() - c0, 3);
    let m = mem.snapshot();
    assert_eq!(m[0x10..0x24], (1..=20).collect::<Vec<u8>>()[..]);
    assert_eq!(m[0x100..0x110], [9; 16]);
    assert!(p.violations().is_empty(), "{:?}", p.violations());
    assert!(p.faults().is_empty());
}
