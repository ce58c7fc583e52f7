//! [`Platform`]: the PCIe hard IP, host memory, IOMMU and storage backend
//! around a Verilated model with the seam ports of docs/CARD.md §1.
//!
//! Each clock cycle: the platform drives every seam input from its state
//! (sideband, the oldest pending BAR access, DMA read completions, backend
//! read data, readies), settles the model, samples every handshake
//! (`valid && ready`) and `cc_valid`, ticks the clock (the rising edge that
//! commits those handshakes), then applies their effects. No wall clock, no
//! threads: the same calls give the same cycle counts.
//!
//! Interrupts: MSI-X messages (`mx_*`) are checked against the function's
//! config space and table and counted ([`Platform::irq_count`]); INTx is
//! the card's `intx_level` bit gated by MSI-X Enable and Command.Interrupt
//! Disable, reflected in Status.Interrupt Status ([`Platform::intx`]).

use super::backend::{Backend, BlockStore};
use super::config::{ConfigEvent, ConfigSpace};
use super::dma::{Dma, DmaHeader, Violation};
use super::iommu::{Fault, HostMemory, Iommu};
use super::{Error, Result};
use crate::{Model, PortDir, Sim};
use nitrous_regmap as regmap;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

/// Platform parameters.
#[derive(Clone, Debug)]
pub struct PlatformConfig {
    /// VFs the card was built with (SR-IOV TotalVFs / InitialVFs).
    pub vfs: usize,
    /// Cycles from a DMA read request to its first completion beat.
    pub dma_read_latency: u64,
    /// Cycles from a backend read request to its first data beat.
    pub backend_latency: u64,
    /// Cycles a BAR access may take before it is an error.
    pub bar_timeout: u64,
    /// Reset cycles at construction.
    pub reset_cycles: u64,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        PlatformConfig {
            vfs: regmap::card::DEFAULT_VFS,
            dma_read_latency: 64,
            backend_latency: 0,
            bar_timeout: 20_000,
            reset_cycles: 8,
        }
    }
}

/// An MSI-X message the platform refused to deliver, logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsixError {
    pub cycle: u64,
    pub func: u8,
    pub vector: u8,
    pub reason: String,
}

/// The clocked model behind the platform, type-erased: every Verilated
/// [`Model`] under a [`Sim`] implements it; tests may implement it in Rust
/// (a behavioural card) to exercise the platform's side of the seam. Port
/// values are little-endian; `port` returns (index, width, direction).
pub trait SeamDut: Send {
    fn name(&self) -> &'static str;
    fn port(&self, name: &str) -> Option<(usize, u32, PortDir)>;
    fn set64(&mut self, i: usize, v: u64);
    fn get64(&self, i: usize) -> u64;
    fn set_words(&mut self, i: usize, w: &[u32]);
    fn get_words(&self, i: usize, w: &mut [u32]);
    fn settle(&mut self);
    fn tick(&mut self);
    fn cycle(&self) -> u64;
    fn apply_reset(&mut self, n: u64) -> crate::Result<()>;
    fn trace_to(&mut self, p: &Path) -> crate::Result<()>;
    fn trace_flush(&mut self);
}

impl<M: Model> SeamDut for Sim<M> {
    fn name(&self) -> &'static str {
        M::NAME
    }
    fn port(&self, name: &str) -> Option<(usize, u32, PortDir)> {
        M::port(name).ok().map(|(i, p)| (i, p.width, p.dir))
    }
    fn set64(&mut self, i: usize, v: u64) {
        self.model_mut().raw_mut().set64(i, v)
    }
    fn get64(&self, i: usize) -> u64 {
        self.model().raw().get64(i)
    }
    fn set_words(&mut self, i: usize, w: &[u32]) {
        self.model_mut().raw_mut().set_words(i, w)
    }
    fn get_words(&self, i: usize, w: &mut [u32]) {
        self.model().raw().get_words(i, w)
    }
    fn settle(&mut self) {
        Sim::settle(self)
    }
    fn tick(&mut self) {
        Sim::tick(self)
    }
    fn cycle(&self) -> u64 {
        Sim::cycle(self)
    }
    fn apply_reset(&mut self, n: u64) -> crate::Result<()> {
        Sim::apply_reset(self, n)
    }
    fn trace_to(&mut self, p: &Path) -> crate::Result<()> {
        Sim::trace_to(self, p)
    }
    fn trace_flush(&mut self) {
        self.model_mut().trace_flush()
    }
}

macro_rules! seam_ports {
    ($($name:ident : $dir:ident $width:expr),* $(,)?) => {
        /// Every seam port the platform drives or reads (docs/CARD.md §1):
        /// name, width in bits, direction as seen from the card. Clock and
        /// reset are the model's own. Rust behavioural cards ([`SeamDut`]
        /// in tests) declare their ports from this list.
        pub const SEAM_PORTS: &[(&str, u32, PortDir)] =
            &[$((stringify!($name), $width, PortDir::$dir)),*];

        /// Port indices of the seam, resolved once by name.
        struct Seam { $($name: usize),* }
        impl Seam {
            fn resolve(d: &dyn SeamDut) -> Result<Seam> {
                Ok(Seam { $($name: {
                    let n = stringify!($name);
                    let (i, w, dir) = d.port(n).ok_or_else(|| Error::Seam {
                        model: d.name(),
                        what: format!("`{n}`"),
                    })?;
                    if w != $width || dir != PortDir::$dir {
                        return Err(Error::Seam {
                            model: d.name(),
                            what: format!(
                                "`{n}` as a {}-bit {:?} (it is {w}-bit {dir:?})",
                                $width, PortDir::$dir
                            ),
                        });
                    }
                    i
                }),* })
            }
            /// One past the largest port index used.
            fn ports(&self) -> usize {
                [$(self.$name),*].into_iter().max().map_or(0, |m| m + 1)
            }
        }
    };
}

const F: u32 = regmap::card::FUNC_BITS as u32;
const T: u32 = regmap::card::TAG_BITS as u32;
const L: u32 = regmap::card::LEN_BITS as u32;
const A: u32 = regmap::card::CQ_ADDR_BITS as u32;

seam_ports! {
    cfg_vf_enable: In 32, cfg_bus_master: In 32, cfg_msix_en: In 32, intx_level: Out 32,
    flr_valid: In 1, flr_func: In F,
    cq_valid: In 1, cq_ready: Out 1, cq_func: In F, cq_bar: In 3, cq_addr: In A,
    cq_write: In 1, cq_wdata: In 32, cc_valid: Out 1, cc_data: Out 32,
    rq_valid: Out 1, rq_ready: In 1, rq_func: Out F, rq_write: Out 1, rq_addr: Out 64,
    rq_len: Out L, rq_tag: Out T,
    wd_valid: Out 1, wd_ready: In 1, wd_data: Out 128, wd_last: Out 1,
    rc_valid: In 1, rc_ready: Out 1, rc_tag: In T, rc_data: In 128, rc_last: In 1, rc_err: In 1,
    mx_valid: Out 1, mx_ready: In 1, mx_func: Out F, mx_vector: Out 5, mx_addr: Out 64,
    mx_data: Out 32,
    bq_valid: Out 1, bq_ready: In 1, bq_write: Out 1, bq_addr: Out 64, bq_len: Out L,
    bq_tag: Out T,
    bw_valid: Out 1, bw_ready: In 1, bw_data: Out 128, bw_last: Out 1,
    br_valid: In 1, br_ready: Out 1, br_tag: In T, br_data: In 128, br_last: In 1, br_err: In 1,
}

/// A BAR access waiting for the completer port.
struct Access {
    id: u64,
    func: u8,
    bar: u8,
    addr: u32,
    write: bool,
    wdata: u32,
}

fn bytes_to_words(b: &[u8; 16]) -> [u32; 4] {
    let mut w = [0u32; 4];
    for (i, c) in b.chunks(4).enumerate() {
        w[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    w
}

fn words_to_bytes(w: &[u32; 4]) -> [u8; 16] {
    let mut b = [0u8; 16];
    for (i, x) in w.iter().enumerate() {
        b[4 * i..4 * i + 4].copy_from_slice(&x.to_le_bytes());
    }
    b
}

/// The platform: hard IP + host + storage around the card model.
pub struct Platform {
    dut: Box<dyn SeamDut>,
    seam: Seam,
    cfg: PlatformConfig,
    /// Config space of function f at index f (0 = PF).
    config: Vec<ConfigSpace>,
    iommu: Iommu,
    dma: Dma,
    backend: Backend,
    /// Shadow of each function's MSI-X table as the host wrote it (dwords).
    msix_table: Vec<Vec<u32>>,
    irq: Vec<Vec<u64>>,
    msix_errors: Vec<MsixError>,
    /// `intx_level` as last sampled from the card.
    intx_level: u32,
    /// Bit f: function f's INTx is asserted now.
    intx_line: u32,
    /// Rising edges of each function's INTx.
    intx_edges: Vec<u64>,
    /// Bit f: function f was reset; its INTx stays deasserted until the
    /// reset has reached the card (`intx_release[f]`, docs/CARD.md: 64
    /// cycles after the strobe plus one `intx_level` refresh round) and the
    /// card's request for it has been seen low.
    intx_hold: u32,
    intx_release: Vec<u64>,
    flr_queue: VecDeque<u8>,
    cq_queue: VecDeque<Access>,
    cc_pending: VecDeque<u64>,
    results: HashMap<u64, u32>,
    next_id: u64,
    /// Last value driven on each input (by port index), to skip redundant
    /// FFI calls.
    shadow: Vec<Option<u64>>,
    shadow_wide: Vec<Option<[u32; 4]>>,
}

impl Platform {
    /// A platform around a fresh `M` (which must have every seam port),
    /// reset for `cfg.reset_cycles` cycles.
    pub fn new<M: Model + 'static>(
        cfg: PlatformConfig,
        store: Box<dyn BlockStore>,
    ) -> Result<Self> {
        Self::with_dut(cfg, store, Box::new(Sim::<M>::new()?))
    }

    /// A platform around any [`SeamDut`] (e.g. a behavioural model).
    pub fn with_dut(
        cfg: PlatformConfig,
        store: Box<dyn BlockStore>,
        dut: Box<dyn SeamDut>,
    ) -> Result<Self> {
        assert!(
            cfg.vfs <= regmap::card::MAX_VFS,
            "{} VFs (at most {})",
            cfg.vfs,
            regmap::card::MAX_VFS
        );
        let seam = Seam::resolve(dut.as_ref())?;
        let nports = seam.ports();
        let n = cfg.vfs + 1;
        let mut config = vec![ConfigSpace::pf(cfg.vfs as u16)];
        config.extend((0..cfg.vfs).map(|_| ConfigSpace::vf()));
        let msix_table = config
            .iter()
            .map(|c| Self::fresh_table(c.msix_vectors()))
            .collect();
        let irq = config
            .iter()
            .map(|c| vec![0; c.msix_vectors() as usize])
            .collect();
        let mut p = Platform {
            dut,
            seam,
            config,
            iommu: Iommu::new(n),
            dma: Dma::new(n, cfg.dma_read_latency),
            backend: Backend::new(store, cfg.backend_latency),
            msix_table,
            irq,
            msix_errors: Vec::new(),
            intx_level: 0,
            intx_line: 0,
            intx_edges: vec![0; n],
            intx_hold: 0,
            intx_release: vec![0; n],
            flr_queue: VecDeque::new(),
            cq_queue: VecDeque::new(),
            cc_pending: VecDeque::new(),
            results: HashMap::new(),
            next_id: 0,
            shadow: vec![None; nports],
            shadow_wide: vec![None; nports],
            cfg,
        };
        p.drive_idle();
        p.dut.apply_reset(p.cfg.reset_cycles)?;
        Ok(p)
    }

    /// MSI-X table reset value: every vector masked (PCIe 4.0 §7.7.2.5).
    fn fresh_table(vectors: u32) -> Vec<u32> {
        let mut t = vec![0u32; 4 * vectors as usize];
        for v in 0..vectors as usize {
            t[4 * v + 3] = 1;
        }
        t
    }

    /// The parameters.
    pub fn config(&self) -> &PlatformConfig {
        &self.cfg
    }

    /// Name of the model.
    pub fn model_name(&self) -> &'static str {
        self.dut.name()
    }

    /// VFs the card has (TotalVFs).
    pub fn total_vfs(&self) -> usize {
        self.cfg.vfs
    }

    /// VFs that currently exist (SR-IOV VF Enable and NumVFs).
    pub fn enabled_vfs(&self) -> usize {
        self.config[0].enabled_vfs() as usize
    }

    /// Whether function `func` exists now.
    pub fn function_exists(&self, func: u8) -> bool {
        func == 0 || (func as usize) <= self.enabled_vfs()
    }

    /// Clock cycles so far (reset included).
    pub fn cycle(&self) -> u64 {
        self.dut.cycle()
    }

    // --- sideband ---------------------------------------------------------

    fn vf_enable_bits(&self) -> u64 {
        let n = self.enabled_vfs();
        ((1u64 << (n + 1)) - 1) & 0xffff_ffff
    }

    fn bus_master_bits(&self) -> u64 {
        let mut b = 0u64;
        for (f, c) in self.config.iter().enumerate() {
            if c.bus_master() && self.function_exists(f as u8) {
                b |= 1 << f;
            }
        }
        b
    }

    fn msix_en_bits(&self) -> u64 {
        let mut b = 0u64;
        for (f, c) in self.config.iter().enumerate() {
            if c.msix_enabled() && self.function_exists(f as u8) {
                b |= 1 << f;
            }
        }
        b
    }

    /// INTx as the hard IP derives it (PCI Local Bus 3.0 §6.2.2-§6.2.3,
    /// PCIe 4.0 §7.7.2.2): function f's interrupt is pending when the card
    /// requests it (`intx_level` bit f) and MSI-X is disabled; Status.
    /// Interrupt Status shows it; the line is asserted when, in addition,
    /// Command.Interrupt Disable is clear. Counts rising edges.
    fn update_intx(&mut self) {
        let now = self.dut.cycle();
        for f in 0..self.config.len() {
            if now >= self.intx_release[f] && self.intx_level >> f & 1 == 0 {
                self.intx_hold &= !(1 << f);
            }
        }
        for f in 0..self.config.len() {
            let exists = self.function_exists(f as u8);
            let c = &mut self.config[f];
            let pending = exists
                && self.intx_level >> f & 1 == 1
                && self.intx_hold >> f & 1 == 0
                && !c.msix_enabled();
            c.set_interrupt_status(pending);
            let line = pending && !c.intx_disabled();
            if line && self.intx_line >> f & 1 == 0 {
                self.intx_edges[f] += 1;
            }
            self.intx_line = (self.intx_line & !(1 << f)) | (line as u32) << f;
        }
    }

    fn bus_master(&self, func: u8) -> bool {
        self.function_exists(func)
            && self
                .config
                .get(func as usize)
                .is_some_and(|c| c.bus_master())
    }

    // --- input driving ------------------------------------------------------

    fn put(&mut self, i: usize, v: u64) {
        if self.shadow[i] != Some(v) {
            self.shadow[i] = Some(v);
            self.dut.set64(i, v);
        }
    }

    fn put_wide(&mut self, i: usize, w: [u32; 4]) {
        if self.shadow_wide[i] != Some(w) {
            self.shadow_wide[i] = Some(w);
            self.dut.set_words(i, &w);
        }
    }

    fn drive_idle(&mut self) {
        let s = &self.seam;
        let idle = [
            s.flr_valid,
            s.cq_valid,
            s.rc_valid,
            s.br_valid,
            s.rq_ready,
            s.wd_ready,
            s.mx_ready,
            s.bq_ready,
            s.bw_ready,
        ];
        let (a, b, m) = (s.cfg_vf_enable, s.cfg_bus_master, s.cfg_msix_en);
        for i in idle {
            self.put(i, 0);
        }
        self.put(a, 1);
        self.put(b, 0);
        self.put(m, 0);
    }

    /// One clock cycle (see the module docs).
    pub fn step(&mut self) {
        let cycle = self.dut.cycle();
        let s = &self.seam;
        let (i_vfe, i_bm, i_mx) = (s.cfg_vf_enable, s.cfg_bus_master, s.cfg_msix_en);
        let (vfe, bm) = (self.vf_enable_bits(), self.bus_master_bits());
        let mxe = self.msix_en_bits();
        self.put(i_vfe, vfe);
        self.put(i_bm, bm);
        self.put(i_mx, mxe);

        let flr = self.flr_queue.front().copied();
        let s = &self.seam;
        let (fv, ff) = (s.flr_valid, s.flr_func);
        self.put(fv, flr.is_some() as u64);
        if let Some(f) = flr {
            self.put(ff, f as u64);
        }

        // Completer request.
        let s = &self.seam;
        let (cv, cf, cb, ca, cw, cd) = (
            s.cq_valid, s.cq_func, s.cq_bar, s.cq_addr, s.cq_write, s.cq_wdata,
        );
        match self.cq_queue.front() {
            Some(a) => {
                let (func, bar, addr, write, wdata) = (a.func, a.bar, a.addr, a.write, a.wdata);
                self.put(cv, 1);
                self.put(cf, func as u64);
                self.put(cb, bar as u64);
                self.put(ca, addr as u64);
                self.put(cw, write as u64);
                self.put(cd, wdata as u64);
            }
            None => self.put(cv, 0),
        }

        // DMA read completions.
        let rc = self.dma.rc_beat(&mut self.iommu, cycle);
        let s = &self.seam;
        let (rv, rt, rd, rl, re) = (s.rc_valid, s.rc_tag, s.rc_data, s.rc_last, s.rc_err);
        match rc {
            Some(b) => {
                self.put(rv, 1);
                self.put(rt, b.tag as u64);
                self.put_wide(rd, bytes_to_words(&b.data));
                self.put(rl, b.last as u64);
                self.put(re, b.err as u64);
            }
            None => self.put(rv, 0),
        }

        // Backend read data.
        let br = self.backend.read_beat(cycle);
        let s = &self.seam;
        let (bv, bt, bd, bl, be) = (s.br_valid, s.br_tag, s.br_data, s.br_last, s.br_err);
        match br {
            Some(b) => {
                self.put(bv, 1);
                self.put(bt, b.tag as u64);
                self.put_wide(bd, bytes_to_words(&b.data));
                self.put(bl, b.last as u64);
                self.put(be, b.err as u64);
            }
            None => self.put(bv, 0),
        }

        // Readies (functions of platform state only).
        let s = &self.seam;
        let (i_rq, i_wd, i_mx, i_bq, i_bw) =
            (s.rq_ready, s.wd_ready, s.mx_ready, s.bq_ready, s.bw_ready);
        let rq_ready = self.dma.rq_ready();
        let wd_ready = self.dma.wd_ready();
        let bq_ready = self.backend.req_ready();
        let bw_ready = self.backend.wdata_ready();
        self.put(i_rq, rq_ready as u64);
        self.put(i_wd, wd_ready as u64);
        self.put(i_mx, 1);
        self.put(i_bq, bq_ready as u64);
        self.put(i_bw, bw_ready as u64);

        self.dut.settle();

        // Sample everything that moves on this edge.
        let d = &*self.dut;
        let s = &self.seam;
        let cq_fire = !self.cq_queue.is_empty() && d.get64(s.cq_ready) == 1;
        let cc = (d.get64(s.cc_valid) == 1).then(|| d.get64(s.cc_data) as u32);
        let rq = (rq_ready && d.get64(s.rq_valid) == 1).then(|| DmaHeader {
            func: d.get64(s.rq_func) as u8,
            write: d.get64(s.rq_write) == 1,
            addr: d.get64(s.rq_addr),
            len: d.get64(s.rq_len) as u32,
            tag: d.get64(s.rq_tag) as u8,
        });
        let wd = (wd_ready && d.get64(s.wd_valid) == 1).then(|| {
            let mut w = [0u32; 4];
            d.get_words(s.wd_data, &mut w);
            (words_to_bytes(&w), d.get64(s.wd_last) == 1)
        });
        let rc_fire = rc.is_some() && d.get64(s.rc_ready) == 1;
        let mx = (d.get64(s.mx_valid) == 1).then(|| {
            (
                d.get64(s.mx_func) as u8,
                d.get64(s.mx_vector) as u8,
                d.get64(s.mx_addr),
                d.get64(s.mx_data) as u32,
            )
        });
        let bq = (bq_ready && d.get64(s.bq_valid) == 1).then(|| {
            (
                d.get64(s.bq_write) == 1,
                d.get64(s.bq_addr),
                d.get64(s.bq_len) as u32,
                d.get64(s.bq_tag) as u8,
            )
        });
        let bw = (bw_ready && d.get64(s.bw_valid) == 1).then(|| {
            let mut w = [0u32; 4];
            d.get_words(s.bw_data, &mut w);
            (words_to_bytes(&w), d.get64(s.bw_last) == 1)
        });
        let br_fire = br.is_some() && d.get64(s.br_ready) == 1;
        let intx_level = d.get64(s.intx_level) as u32;

        self.dut.tick();

        // Effects.
        if flr.is_some() {
            self.flr_queue.pop_front();
        }
        if cq_fire {
            if let Some(a) = self.cq_queue.pop_front() {
                if !a.write {
                    self.cc_pending.push_back(a.id);
                }
            }
        }
        if let Some(v) = cc {
            match self.cc_pending.pop_front() {
                Some(id) => {
                    self.results.insert(id, v);
                }
                None => self
                    .dma
                    .violation(cycle, "cc_valid without an outstanding read".into()),
            }
        }
        if let Some(h) = rq {
            let ok = self.bus_master(h.func);
            self.dma.request(h, ok, cycle);
        }
        if let Some((data, last)) = wd {
            self.dma.write_beat(&data, last, &mut self.iommu, cycle);
        }
        if rc_fire {
            self.dma.rc_accepted();
        }
        if let Some((func, vector, addr, data)) = mx {
            self.deliver_msix(cycle, func, vector, addr, data);
        }
        if let Some((write, addr, len, tag)) = bq {
            if addr % 512 != 0 {
                self.dma.violation(
                    cycle,
                    format!("backend request at {addr:#x} not a multiple of 512"),
                );
            }
            self.backend.request(write, addr, len, tag, cycle);
        }
        if let Some((data, last)) = bw {
            self.backend.write_beat(&data, last, cycle);
        }
        if br_fire {
            self.backend.read_accepted();
        }
        // Config-space changes update INTx themselves; here only the card's
        // request can change it.
        if intx_level != self.intx_level || self.intx_hold != 0 {
            self.intx_level = intx_level;
            self.update_intx();
        }
    }

    fn deliver_msix(&mut self, cycle: u64, func: u8, vector: u8, addr: u64, data: u32) {
        let reason = if !self.function_exists(func) {
            Some("function does not exist".to_string())
        } else {
            let c = &self.config[func as usize];
            let t = &self.msix_table[func as usize];
            let v = vector as usize;
            if !c.msix_deliverable() {
                Some(format!(
                    "MSI-X disabled or function masked (control {:#06x})",
                    c.msix_control()
                ))
            } else if v >= c.msix_vectors() as usize {
                Some(format!("vector beyond the table of {}", c.msix_vectors()))
            } else if t[4 * v + 3] & 1 != 0 {
                Some("vector masked in the table".into())
            } else {
                let want_addr = t[4 * v] as u64 | (t[4 * v + 1] as u64) << 32;
                let want_data = t[4 * v + 2];
                if addr != want_addr || data != want_data {
                    Some(format!(
                        "message {addr:#x}/{data:#x} differs from the table's \
                         {want_addr:#x}/{want_data:#x}"
                    ))
                } else {
                    None
                }
            }
        };
        match reason {
            None => self.irq[func as usize][vector as usize] += 1,
            Some(reason) => self.msix_errors.push(MsixError {
                cycle,
                func,
                vector,
                reason,
            }),
        }
    }

    /// Run `cycles` clock cycles.
    pub fn run(&mut self, cycles: u64) {
        for _ in 0..cycles {
            self.step();
        }
    }

    /// Step until `done(self)` holds (checked before each cycle), at most
    /// `max_cycles`; returns the cycles taken, or None if the budget ran
    /// out.
    pub fn run_until(
        &mut self,
        max_cycles: u64,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Option<u64> {
        for n in 0..=max_cycles {
            if done(self) {
                return Some(n);
            }
            if n < max_cycles {
                self.step();
            }
        }
        None
    }

    // --- host accesses ------------------------------------------------------

    /// Checks a BAR access; Ok(false) when the function's memory space is
    /// disabled (the access is an Unsupported Request: reads return all
    /// ones, writes are dropped, PCIe 4.0 §2.3.1).
    fn check_bar(&self, func: u8, bar: u8, off: u64) -> Result<bool> {
        if !self.function_exists(func) {
            return Err(Error::NoFunction { func });
        }
        if bar != 0 {
            return Err(Error::NoBar { func, bar });
        }
        if !off.is_multiple_of(4) || off + 4 > regmap::BAR0_SIZE {
            return Err(Error::BadOffset { func, offset: off });
        }
        let pf = &self.config[0];
        Ok(if func == 0 {
            pf.memory_enabled()
        } else {
            pf.vf_memory_enabled()
        })
    }

    fn enqueue(&mut self, func: u8, bar: u8, addr: u32, write: bool, wdata: u32) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.cq_queue.push_back(Access {
            id,
            func,
            bar,
            addr,
            write,
            wdata,
        });
        id
    }

    /// 32-bit memory read of BAR `bar` of `func` at `off`: runs the clock
    /// until the card completes it (error after `bar_timeout` cycles).
    pub fn bar_read32(&mut self, func: u8, bar: u8, off: u64) -> Result<u32> {
        if !self.check_bar(func, bar, off)? {
            return Ok(u32::MAX);
        }
        let id = self.enqueue(func, bar, off as u32, false, 0);
        let budget = self.cfg.bar_timeout;
        self.run_until(budget, |p| p.results.contains_key(&id));
        self.results.remove(&id).ok_or_else(|| {
            // Never accepted: withdraw it. Accepted: its late completion
            // (if any) is still matched to it, keeping later reads in order.
            self.cq_queue.retain(|a| a.id != id);
            Error::Timeout {
                what: format!("function {func} BAR{bar} read at {off:#x}"),
                cycles: budget,
            }
        })
    }

    /// 32-bit memory write (posted): runs the clock until the card
    /// accepts it.
    pub fn bar_write32(&mut self, func: u8, bar: u8, off: u64, value: u32) -> Result<()> {
        if !self.check_bar(func, bar, off)? {
            return Ok(());
        }
        // Snoop the MSI-X table (the platform checks messages against it).
        let t0 = regmap::MSIX_TABLE_OFFSET as u64;
        let tab = &mut self.msix_table[func as usize];
        if off >= t0 && off < t0 + 4 * tab.len() as u64 {
            tab[((off - t0) / 4) as usize] = value;
        }
        let id = self.enqueue(func, bar, off as u32, true, value);
        let budget = self.cfg.bar_timeout;
        self.run_until(budget, |p| !p.cq_queue.iter().any(|a| a.id == id))
            .map(|_| ())
            .ok_or_else(|| {
                self.cq_queue.retain(|a| a.id != id);
                Error::Timeout {
                    what: format!("function {func} BAR{bar} write at {off:#x}"),
                    cycles: budget,
                }
            })
    }

    /// Read configuration space of `func`.
    pub fn config_read(&self, func: u8, off: u16, buf: &mut [u8]) -> Result<()> {
        if !self.function_exists(func) {
            return Err(Error::NoFunction { func });
        }
        Ok(self.config[func as usize].read(off, buf)?)
    }

    /// Write configuration space of `func`, with its effects (FLR strobes,
    /// VFs appearing or vanishing).
    pub fn config_write(&mut self, func: u8, off: u16, data: &[u8]) -> Result<()> {
        if !self.function_exists(func) {
            return Err(Error::NoFunction { func });
        }
        let events = self.config[func as usize].write(off, data)?;
        for e in events {
            match e {
                ConfigEvent::Flr => self.flr(func),
                ConfigEvent::VfEnable(on) => {
                    // VFs appear fresh; when VF Enable clears every VF is
                    // reset (docs/CARD.md: an FLR strobe each).
                    for vf in 1..=self.cfg.vfs as u8 {
                        self.reset_function_state(vf);
                        if !on {
                            self.flr_queue.push_back(vf);
                        }
                    }
                }
            }
        }
        // Interrupt Disable, MSI-X Enable or the function itself may have
        // changed.
        self.update_intx();
        Ok(())
    }

    fn reset_function_state(&mut self, func: u8) {
        let f = func as usize;
        self.config[f].flr();
        self.intx_hold |= 1 << f;
        self.intx_release[f] = self.dut.cycle() + self.flr_queue.len() as u64 + 1 + 64 + 33;
        self.msix_table[f] = Self::fresh_table(self.config[f].msix_vectors());
    }

    /// Function Level Reset of `func` (as if Initiate FLR was written):
    /// its config space returns to reset values and the card gets the
    /// `flr_valid` strobe. An FLR of the PF also clears VF Enable, which
    /// resets every VF.
    pub fn flr(&mut self, func: u8) {
        let had_vfs = func == 0 && self.enabled_vfs() > 0;
        self.reset_function_state(func);
        self.flr_queue.push_back(func);
        if had_vfs {
            for vf in 1..=self.cfg.vfs as u8 {
                self.reset_function_state(vf);
                self.flr_queue.push_back(vf);
            }
        }
        self.update_intx();
    }

    /// The configuration space of `func` (present or not).
    pub fn config_space(&self, func: u8) -> Option<&ConfigSpace> {
        self.config.get(func as usize)
    }

    // --- IOMMU, interrupts, stats -----------------------------------------

    /// Map `mem` at `iova` in `func`'s IOMMU domain.
    pub fn iommu_map(&mut self, func: u8, iova: u64, mem: Arc<dyn HostMemory>) -> Result<()> {
        Ok(self.iommu.map(func, iova, mem)?)
    }

    /// Unmap every mapping of `func` inside `[iova, iova+len)`.
    pub fn iommu_unmap(&mut self, func: u8, iova: u64, len: u64) -> Result<()> {
        Ok(self.iommu.unmap(func, iova, len)?)
    }

    /// The IOMMU (fault log, mappings).
    pub fn iommu(&self) -> &Iommu {
        &self.iommu
    }

    /// DMA faults so far, oldest first.
    pub fn faults(&self) -> &[Fault] {
        self.iommu.faults()
    }

    /// MSI-X messages delivered to `func`'s `vector` so far.
    pub fn irq_count(&self, func: u8, vector: u32) -> u64 {
        self.irq
            .get(func as usize)
            .and_then(|v| v.get(vector as usize))
            .copied()
            .unwrap_or(0)
    }

    /// MSI-X messages delivered to any function so far.
    pub fn irq_total(&self) -> u64 {
        self.irq.iter().flatten().sum()
    }

    /// Whether function `func`'s INTx is asserted now (card request, MSI-X
    /// disabled, Command.Interrupt Disable clear).
    pub fn intx(&self, func: u8) -> bool {
        func < 32 && self.intx_line >> func & 1 == 1
    }

    /// How many times function `func`'s INTx was asserted (rising edges).
    pub fn intx_assertions(&self, func: u8) -> u64 {
        self.intx_edges.get(func as usize).copied().unwrap_or(0)
    }

    /// MSI-X messages refused (disabled, masked, not matching the table).
    pub fn msix_errors(&self) -> &[MsixError] {
        &self.msix_errors
    }

    /// Seam protocol violations by the card.
    pub fn violations(&self) -> &[Violation] {
        self.dma.violations()
    }

    /// Bytes the card read from / wrote to host memory for `func`.
    pub fn dma_bytes(&self, func: u8) -> (u64, u64) {
        self.dma.bytes(func)
    }

    /// Total bytes moved on the host bus by DMA.
    pub fn dma_total_bytes(&self) -> u64 {
        self.dma.total_bytes()
    }

    /// The storage backend.
    pub fn backend(&mut self) -> &mut dyn BlockStore {
        self.backend.store()
    }

    /// Backend errors (out-of-range or I/O failures), logged.
    pub fn backend_errors(&self) -> &[super::backend::BackendError] {
        self.backend.errors()
    }

    /// Backend bytes (read, written).
    pub fn backend_bytes(&self) -> (u64, u64) {
        (self.backend.bytes_read, self.backend.bytes_written)
    }

    /// Set the backend latency in cycles (from now on).
    pub fn set_backend_latency(&mut self, cycles: u64) {
        self.cfg.backend_latency = cycles;
        self.backend.set_latency(cycles);
    }

    /// Set the host-memory read latency in cycles (from now on).
    pub fn set_dma_read_latency(&mut self, cycles: u64) {
        self.cfg.dma_read_latency = cycles;
        self.dma.set_latency(cycles);
    }

    /// DMA and backend requests in flight.
    pub fn outstanding(&self) -> usize {
        self.dma.outstanding() + self.backend.outstanding()
    }

    /// Write a waveform of the card from the next cycle on.
    pub fn trace_to(&mut self, path: impl AsRef<Path>) -> Result<()> {
        Ok(self.dut.trace_to(path.as_ref())?)
    }

    /// Flush the waveform file.
    pub fn trace_flush(&mut self) {
        self.dut.trace_flush()
    }
}
