//! The simulated card as a driver backend (feature `sim`).
//!
//! [`SimCard`] shares one [`Platform`] (the Verilated card inside the
//! platform model of `nitrous_sim::platform`); [`SimFunction`] is one of
//! its PCI functions behind the [`PciFunction`] trait, so the NVMe driver
//! ([`crate::nvme::Nvme`]) runs on it unchanged; [`CardPf`] is the PF
//! manager: SR-IOV through the PF's config space, provisioning through the
//! PF mailbox (`nitrous_regmap::mailbox`).
//!
//! Time is simulated: BAR reads run the clock until the card answers,
//! `irq_wait` runs it until the vector's message arrives or a cycle budget
//! ([`SimFunction::set_wait_cycles`]) passes. The `Duration`s of the trait
//! are ignored; everything is deterministic.

use crate::backend::PciFunction;
use crate::dma::DmaRegion;
use crate::pf::{parse_sriov, SriovCap};
use crate::{Error, Result};
use nitrous_regmap as regmap;
use nitrous_sim::platform::config::{
    MSIX_CTRL, MSIX_ENABLE, MSIX_FUNCTION_MASK, PCIE_DEVCTL, SRIOV_CTRL, SRIOV_NUM_VFS,
    SRIOV_VF_ENABLE, SRIOV_VF_MSE,
};
use nitrous_sim::platform::{self, HostMemory, Platform};
use regmap::mailbox::{self as mb, Counter, Op, Status};
use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

impl HostMemory for DmaRegion {
    fn len(&self) -> usize {
        DmaRegion::len(self)
    }
    fn read(&self, offset: usize, buf: &mut [u8]) {
        // In range: the IOMMU checks accesses against the mapping length.
        let _ = DmaRegion::read(self, offset, buf);
    }
    fn write(&self, offset: usize, data: &[u8]) {
        let _ = DmaRegion::write(self, offset, data);
    }
}

fn sim_err(e: platform::Error) -> Error {
    Error::Sim(e.to_string())
}

/// MSI-X Message Address the sim backend programs (the x86 interrupt
/// window, PCIe 4.0 §6.1.4: any address works; the platform only checks
/// that messages match the table).
pub const MSI_ADDRESS: u64 = 0xfee0_0000;

/// A simulated card: the platform, shared by its functions.
#[derive(Clone)]
pub struct SimCard {
    inner: Arc<Mutex<Platform>>,
}

impl SimCard {
    /// Wrap a platform.
    pub fn new(platform: Platform) -> Self {
        SimCard {
            inner: Arc::new(Mutex::new(platform)),
        }
    }

    /// Lock the platform (stats, fault log, running the clock).
    pub fn platform(&self) -> MutexGuard<'_, Platform> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Function `func` (0 = PF, i = VF i) as a [`PciFunction`]. The
    /// function must exist (VFs: after [`CardPf::enable_vfs`]).
    pub fn function(&self, func: u8) -> Result<SimFunction> {
        if !self.platform().function_exists(func) {
            return Err(Error::Invalid(format!("function {func} does not exist")));
        }
        Ok(SimFunction {
            card: self.clone(),
            func,
            irq_enabled: 0,
            seen: RefCell::new(Vec::new()),
            wait_cycles: 4096,
        })
    }

    /// The PF manager.
    pub fn pf(&self) -> Result<CardPf> {
        CardPf::new(self.clone())
    }

    /// Current cycle.
    pub fn cycle(&self) -> u64 {
        self.platform().cycle()
    }
}

/// One function of a [`SimCard`].
pub struct SimFunction {
    card: SimCard,
    func: u8,
    irq_enabled: u32,
    /// Per vector: messages already consumed by `irq_wait`.
    seen: RefCell<Vec<u64>>,
    wait_cycles: u64,
}

impl SimFunction {
    /// The function number (0 = PF).
    pub fn func(&self) -> u8 {
        self.func
    }

    /// The card.
    pub fn card(&self) -> &SimCard {
        &self.card
    }

    /// Cycles one `irq_wait` call may run before it reports "not fired".
    pub fn set_wait_cycles(&mut self, cycles: u64) {
        self.wait_cycles = cycles.max(1);
    }

    fn p(&self) -> MutexGuard<'_, Platform> {
        self.card.platform()
    }
}

impl PciFunction for SimFunction {
    fn name(&self) -> String {
        format!("sim {}", platform::lspci::bdf(self.func))
    }

    fn config_read(&self, offset: u16, buf: &mut [u8]) -> Result<()> {
        self.p()
            .config_read(self.func, offset, buf)
            .map_err(sim_err)
    }

    fn config_write(&self, offset: u16, data: &[u8]) -> Result<()> {
        self.p()
            .config_write(self.func, offset, data)
            .map_err(sim_err)
    }

    fn bar_len(&self, bar: u8) -> u64 {
        if bar == 0 {
            regmap::BAR0_SIZE
        } else {
            0
        }
    }

    fn bar_read32(&self, bar: u8, offset: u64) -> Result<u32> {
        self.p().bar_read32(self.func, bar, offset).map_err(sim_err)
    }

    fn bar_write32(&self, bar: u8, offset: u64, value: u32) -> Result<()> {
        self.p()
            .bar_write32(self.func, bar, offset, value)
            .map_err(sim_err)
    }

    /// Two dword reads, low first (docs/CARD.md: 64-bit registers are
    /// accessed as two dwords).
    fn bar_read64(&self, bar: u8, offset: u64) -> Result<u64> {
        if !offset.is_multiple_of(8) {
            return Err(Error::Bounds(format!("64-bit read at {offset:#x}")));
        }
        let mut p = self.p();
        let lo = p.bar_read32(self.func, bar, offset).map_err(sim_err)?;
        let hi = p.bar_read32(self.func, bar, offset + 4).map_err(sim_err)?;
        Ok(lo as u64 | (hi as u64) << 32)
    }

    fn bar_write64(&self, bar: u8, offset: u64, value: u64) -> Result<()> {
        if !offset.is_multiple_of(8) {
            return Err(Error::Bounds(format!("64-bit write at {offset:#x}")));
        }
        let mut p = self.p();
        p.bar_write32(self.func, bar, offset, value as u32)
            .map_err(sim_err)?;
        p.bar_write32(self.func, bar, offset + 4, (value >> 32) as u32)
            .map_err(sim_err)
    }

    fn dma_map(&mut self, region: &Arc<DmaRegion>, iova: u64) -> Result<()> {
        let mem: Arc<dyn HostMemory> = region.clone();
        self.p().iommu_map(self.func, iova, mem).map_err(sim_err)
    }

    fn dma_unmap(&mut self, iova: u64, len: usize) -> Result<()> {
        self.p()
            .iommu_unmap(self.func, iova, len as u64)
            .map_err(sim_err)
    }

    fn irq_count(&self) -> u32 {
        self.p()
            .config_space(self.func)
            .map_or(0, |c| c.msix_vectors())
    }

    /// Programs MSI-X table entries `0..count` (address [`MSI_ADDRESS`],
    /// data = function << 8 | vector, unmasked) with the function masked,
    /// then enables MSI-X and clears the function mask (the order Linux
    /// uses, PCIe 4.0 §6.1.4.3).
    fn irq_enable(&mut self, count: u32) -> Result<u32> {
        let n = count.min(self.irq_count());
        let m = regmap::pci::CAP_MSIX as u16 + MSIX_CTRL;
        self.config_write(m, &(MSIX_ENABLE | MSIX_FUNCTION_MASK).to_le_bytes())?;
        let t = regmap::MSIX_TABLE_OFFSET as u64;
        for v in 0..n as u64 {
            let e = t + 16 * v;
            self.bar_write32(0, e, MSI_ADDRESS as u32)?;
            self.bar_write32(0, e + 4, (MSI_ADDRESS >> 32) as u32)?;
            self.bar_write32(0, e + 8, (self.func as u32) << 8 | v as u32)?;
            self.bar_write32(0, e + 12, 0)?;
        }
        self.config_write(m, &MSIX_ENABLE.to_le_bytes())?;
        let p = self.p();
        *self.seen.borrow_mut() = (0..n).map(|v| p.irq_count(self.func, v)).collect();
        drop(p);
        self.irq_enabled = n;
        Ok(n)
    }

    fn irq_disable(&mut self) -> Result<()> {
        let t = regmap::MSIX_TABLE_OFFSET as u64;
        for v in 0..self.irq_enabled as u64 {
            self.bar_write32(0, t + 16 * v + 12, 1)?;
        }
        let m = regmap::pci::CAP_MSIX as u16 + MSIX_CTRL;
        self.config_write(m, &0u16.to_le_bytes())?;
        self.irq_enabled = 0;
        self.seen.borrow_mut().clear();
        Ok(())
    }

    /// Runs the clock until a new message for `vector` arrives (consuming
    /// all arrived so far) or the cycle budget passes.
    fn irq_wait(&self, vector: u32, _timeout: Duration) -> Result<bool> {
        if vector >= self.irq_enabled {
            return Err(Error::Invalid(format!("vector {vector} not enabled")));
        }
        let v = vector as usize;
        let seen = self.seen.borrow()[v];
        let mut p = self.p();
        let f = self.func;
        p.run_until(self.wait_cycles, |p| p.irq_count(f, vector) > seen);
        let now = p.irq_count(f, vector);
        self.seen.borrow_mut()[v] = now;
        Ok(now > seen)
    }

    /// Function Level Reset through the PCIe capability's Initiate FLR,
    /// then 100 cycles (the card finishes an FLR within 64).
    fn reset(&mut self) -> Result<()> {
        let off = regmap::pci::CAP_PCIE as u16 + PCIE_DEVCTL;
        let mut b = [0u8; 2];
        self.config_read(off, &mut b)?;
        let v = u16::from_le_bytes(b) | 1 << 15;
        self.config_write(off, &v.to_le_bytes())?;
        self.p().run(100);
        self.irq_enabled = 0;
        self.seen.borrow_mut().clear();
        Ok(())
    }
}

/// Mailbox capabilities (`CAPS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailboxCaps {
    pub vfs: u8,
    pub key_slots: u8,
    pub io_queues: u8,
}

/// The result of one mailbox command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailboxReply {
    pub status: Status,
    /// RES1:RES0.
    pub result: u64,
}

/// The PF manager of the simulated card: SR-IOV and the mailbox.
pub struct CardPf {
    pf: SimFunction,
    /// BAR reads of STATUS before a command is declared hung.
    pub max_polls: u32,
}

impl CardPf {
    /// Enable the PF's memory space and bus mastering, check the mailbox ID.
    pub fn new(card: SimCard) -> Result<Self> {
        let pf = card.function(0)?;
        pf.enable_bus_master()?;
        let id = pf.bar_read32(0, mb::ID as u64)?;
        if id != regmap::CARD_ID {
            return Err(Error::Unsupported(format!(
                "PF BAR0 ID reads {id:#010x}, want {:#010x}",
                regmap::CARD_ID
            )));
        }
        Ok(CardPf {
            pf,
            max_polls: 1000,
        })
    }

    /// The PF as a [`PciFunction`].
    pub fn function(&self) -> &SimFunction {
        &self.pf
    }

    /// The SR-IOV capability as read from config space.
    pub fn sriov(&self) -> Result<SriovCap> {
        let mut c = vec![0u8; 4096];
        self.pf.config_read(0, &mut c)?;
        parse_sriov(&c).ok_or_else(|| Error::Unsupported("PF has no SR-IOV capability".into()))
    }

    /// Enable `count` VFs: NumVFs, then VF Enable and VF MSE (PCIe 4.0
    /// §9.3.3.3, §9.3.3.7). VFs already enabled are disabled first.
    pub fn enable_vfs(&self, count: u16) -> Result<()> {
        let cap = self.sriov()?;
        if count == 0 || count > cap.total_vfs {
            return Err(Error::Invalid(format!(
                "{count} VFs (the card has {})",
                cap.total_vfs
            )));
        }
        let s = regmap::pci::EXTCAP_SRIOV;
        if cap.num_vfs != 0 {
            self.disable_vfs()?;
        }
        self.pf
            .config_write(s + SRIOV_NUM_VFS, &count.to_le_bytes())?;
        self.pf.config_write(
            s + SRIOV_CTRL,
            &(SRIOV_VF_ENABLE | SRIOV_VF_MSE).to_le_bytes(),
        )?;
        Ok(())
    }

    /// Clear VF Enable (every VF is reset and vanishes).
    pub fn disable_vfs(&self) -> Result<()> {
        let s = regmap::pci::EXTCAP_SRIOV;
        self.pf.config_write(s + SRIOV_CTRL, &0u16.to_le_bytes())?;
        self.pf.card.platform().run(100);
        Ok(())
    }

    /// VFs enabled now.
    pub fn enabled_vfs(&self) -> usize {
        self.pf.card.platform().enabled_vfs()
    }

    /// The mailbox CAPS register.
    pub fn caps(&self) -> Result<MailboxCaps> {
        let c = self.pf.bar_read32(0, mb::CAPS as u64)?;
        Ok(MailboxCaps {
            vfs: c as u8,
            key_slots: (c >> 8) as u8,
            io_queues: (c >> 16) as u8,
        })
    }

    /// Execute one mailbox command: ARG0.. then CMD, poll STATUS until the
    /// command count moves and busy is clear. A status other than Ok is
    /// returned, not an error.
    pub fn command(&self, op: Op, func: u8, slot: u8, args: &[u32]) -> Result<MailboxReply> {
        self.command_raw(op as u8, func, slot, args)
    }

    /// [`CardPf::command`] with a raw opcode (for negative tests).
    pub fn command_raw(&self, op: u8, func: u8, slot: u8, args: &[u32]) -> Result<MailboxReply> {
        if args.len() > mb::ARG_COUNT as usize {
            return Err(Error::Invalid(format!("{} mailbox arguments", args.len())));
        }
        let before = self.pf.bar_read32(0, mb::STATUS as u64)? >> 16;
        for (i, a) in args.iter().enumerate() {
            self.pf
                .bar_write32(0, (mb::ARG0 + 4 * i as u32) as u64, *a)?;
        }
        let cmd = op as u32 | (func as u32) << 8 | (slot as u32) << 16;
        self.pf.bar_write32(0, mb::CMD as u64, cmd)?;
        for _ in 0..self.max_polls {
            let s = self.pf.bar_read32(0, mb::STATUS as u64)?;
            if s & 1 == 0 && (s >> 16) != before {
                let code = (s >> 8) as u8;
                let status = Status::from_u8(code).ok_or_else(|| {
                    Error::Pf(format!("mailbox returned unknown status {code:#04x}"))
                })?;
                let r0 = self.pf.bar_read32(0, mb::RES0 as u64)?;
                let r1 = self.pf.bar_read32(0, mb::RES1 as u64)?;
                return Ok(MailboxReply {
                    status,
                    result: r0 as u64 | (r1 as u64) << 32,
                });
            }
        }
        Err(Error::Pf(format!(
            "mailbox opcode {op:#04x} function {func}: no completion after {} polls",
            self.max_polls
        )))
    }

    fn ok(&self, op: Op, func: u8, slot: u8, args: &[u32]) -> Result<u64> {
        let r = self.command(op, func, slot, args)?;
        if r.status != Status::Ok {
            return Err(Error::Pf(format!(
                "mailbox {op:?} (function {func}, slot {slot}): {:?}",
                r.status
            )));
        }
        Ok(r.result)
    }

    /// Provision VF `vf`: namespace of `blocks` LBAs of 2^`lba_shift`
    /// bytes at backend byte address `base`.
    pub fn provision(&self, vf: u8, blocks: u64, lba_shift: u8, base: u64) -> Result<()> {
        self.ok(
            Op::Provision,
            vf,
            0,
            &[
                blocks as u32,
                (blocks >> 32) as u32,
                lba_shift as u32,
                base as u32,
                (base >> 32) as u32,
            ],
        )
        .map(|_| ())
    }

    /// Load a 64-byte XTS key (Key1 || Key2) into key slot `slot`.
    pub fn load_key(&self, slot: u8, key: &[u8; 64]) -> Result<()> {
        for (i, w) in key.chunks(4).enumerate() {
            let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            self.pf
                .bar_write32(0, (mb::KEY0 + 4 * i as u32) as u64, v)?;
        }
        self.ok(Op::LoadKey, 0, slot, &[]).map(|_| ())
    }

    /// Bind key slot `slot` to VF `vf`.
    pub fn bind_key(&self, vf: u8, slot: u8) -> Result<()> {
        self.ok(Op::BindKey, vf, slot, &[]).map(|_| ())
    }

    /// Enable VF `vf` (provisioned and bound).
    pub fn enable(&self, vf: u8) -> Result<()> {
        self.ok(Op::Enable, vf, 0, &[]).map(|_| ())
    }

    /// Disable VF `vf`.
    pub fn disable(&self, vf: u8) -> Result<()> {
        self.ok(Op::Disable, vf, 0, &[]).map(|_| ())
    }

    /// Erase key slot `slot`.
    pub fn clear_key(&self, slot: u8) -> Result<()> {
        self.ok(Op::ClearKey, 0, slot, &[]).map(|_| ())
    }

    /// Counter `c` of function `func`.
    pub fn read_counter(&self, func: u8, c: Counter) -> Result<u64> {
        self.ok(Op::ReadCounter, func, 0, &[c as u32])
    }

    /// The KEY_READS register.
    pub fn key_reads(&self) -> Result<u32> {
        self.pf.bar_read32(0, mb::KEY_READS as u64)
    }

    /// Provision, key and enable VF `vf` in one go (slot = vf - 1).
    pub fn setup_vf(
        &self,
        vf: u8,
        blocks: u64,
        lba_shift: u8,
        base: u64,
        key: &[u8; 64],
    ) -> Result<()> {
        let slot = vf - 1;
        self.provision(vf, blocks, lba_shift, base)?;
        self.load_key(slot, key)?;
        self.bind_key(vf, slot)?;
        self.enable(vf)
    }
}

// ---- perf ------------------------------------------------------------------

/// Parameters of [`run_perf`].
#[derive(Clone, Debug)]
pub struct PerfParams {
    /// Outstanding commands per VF.
    pub qd: usize,
    /// Bytes per command (a multiple of every VF's block size).
    pub size: usize,
    /// Percentage of reads; the rest are writes.
    pub read_pct: u8,
    /// Commands per VF.
    pub ios: u64,
    /// Seed of the offsets and the write data.
    pub seed: u64,
}

/// One VF's figures from [`run_perf`].
#[derive(Clone, Debug, Default)]
pub struct PerfVf {
    /// Function number.
    pub vf: u8,
    pub commands: u64,
    /// Commands completed with an error status.
    pub errors: u64,
    /// Doorbell-to-MSI-X latency of every command, cycles, in completion order.
    pub latencies: Vec<u64>,
    /// DMA bytes on the host bus (data, SQEs, CQEs, PRP lists).
    pub bus_bytes: u64,
}

/// The result of [`run_perf`].
#[derive(Clone, Debug, Default)]
pub struct PerfResult {
    /// Cycles from the first submission to the last completion.
    pub cycles: u64,
    pub vfs: Vec<PerfVf>,
}

/// Longest stretch [`run_perf`] runs the card between completion polls.
pub const PERF_POLL_CYCLES: u64 = 256;
/// Cycles without any completion before [`run_perf`] gives up.
pub const PERF_STALL_CYCLES: u64 = 2_000_000;

/// SplitMix64 (Steele, Lea, Flood 2014): a small deterministic generator.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Random I/O on every device at once, from this thread, round robin:
/// keep `qd` commands outstanding on each device's first I/O queue, run
/// the card until the next MSI-X (or [`PERF_POLL_CYCLES`]) when nothing
/// completed, reap everything. Deterministic for a given card and seed.
/// `progress` gets the number of commands completed since its last call.
pub fn run_perf(
    card: &SimCard,
    devs: &mut [&mut crate::nvme::Nvme<SimFunction>],
    p: &PerfParams,
    mut progress: impl FnMut(u64),
) -> Result<PerfResult> {
    use crate::nvme::IoOp;
    if p.qd == 0 || p.size == 0 || p.ios == 0 || p.read_pct > 100 {
        return Err(Error::Invalid(format!("perf parameters {p:?}")));
    }
    let mut rng = SplitMix(p.seed);
    struct Run {
        buf: crate::DmaBuf,
        slots: Vec<Option<u64>>,
        submitted: u64,
        nblk: u32,
        max_lba: u64,
        bus0: (u64, u64),
        res: PerfVf,
    }
    let mut runs = Vec::new();
    for d in devs.iter_mut() {
        let ns = d.namespace()?.clone();
        let bs = ns.block_size as usize;
        if !p.size.is_multiple_of(bs) || p.size as u64 > ns.blocks * bs as u64 {
            return Err(Error::Invalid(format!(
                "{}: size {} is not a multiple of {bs} within {} blocks",
                d.backend().name(),
                p.size,
                ns.blocks
            )));
        }
        let buf = d.alloc_buffer(p.qd * p.size)?;
        let data: Vec<u8> = (0..p.qd * p.size).map(|_| rng.next() as u8).collect();
        buf.region.write(0, &data)?;
        let nblk = (p.size / bs) as u32;
        let vf = d.backend().func();
        runs.push(Run {
            buf,
            slots: vec![None; p.qd],
            submitted: 0,
            nblk,
            max_lba: ns.blocks - nblk as u64,
            bus0: card.platform().dma_bytes(vf),
            res: PerfVf {
                vf,
                ..PerfVf::default()
            },
        });
    }
    let start = card.cycle();
    let mut out = Vec::new();
    let mut stalled = 0u64;
    loop {
        for (d, r) in devs.iter_mut().zip(runs.iter_mut()) {
            let mut rang = false;
            while r.submitted < p.ios {
                let Some(slot) = r.slots.iter().position(|s| s.is_none()) else {
                    break;
                };
                let lba = rng.below(r.max_lba + 1) / r.nblk as u64 * r.nblk as u64;
                let blocks = r.nblk;
                let op = if rng.below(100) < p.read_pct as u64 {
                    IoOp::Read { lba, blocks }
                } else {
                    IoOp::Write { lba, blocks }
                };
                d.submit(0, op, &r.buf, slot * p.size, slot as u64)?;
                r.slots[slot] = Some(u64::MAX);
                r.submitted += 1;
                rang = true;
            }
            if rang {
                d.ring(0)?;
                let now = card.cycle();
                for s in r.slots.iter_mut().flatten() {
                    if *s == u64::MAX {
                        *s = now;
                    }
                }
            }
        }
        if runs.iter().all(|r| r.res.commands == p.ios) {
            break;
        }
        let now = card.cycle();
        let mut got = 0;
        for (d, r) in devs.iter_mut().zip(runs.iter_mut()) {
            out.clear();
            d.poll(0, &mut out)?;
            for c in &out {
                if let Some(t0) = r.slots.get_mut(c.tag as usize).and_then(|s| s.take()) {
                    r.res.latencies.push(now.saturating_sub(t0));
                }
                r.res.errors += c.result.is_err() as u64;
                r.res.commands += 1;
                got += 1;
            }
        }
        if got > 0 {
            progress(got);
            stalled = 0;
            continue;
        }
        // Nothing complete: run the card until the next interrupt (the
        // completion's MSI-X, so latencies are exact), polling at least
        // every PERF_POLL_CYCLES in case a completion comes without one.
        let mut pl = card.platform();
        let t = pl.irq_total();
        let before = pl.cycle();
        pl.run_until(PERF_POLL_CYCLES, |pl| pl.irq_total() != t);
        stalled += pl.cycle() - before;
        if stalled > PERF_STALL_CYCLES {
            return Err(Error::Sim(format!(
                "perf: no completion within {PERF_STALL_CYCLES} cycles (cycle {})",
                pl.cycle()
            )));
        }
    }
    let cycles = card.cycle() - start;
    let mut vfs = Vec::new();
    for (d, r) in devs.iter_mut().zip(runs) {
        let b = card.platform().dma_bytes(r.res.vf);
        let mut res = r.res;
        res.bus_bytes = (b.0 - r.bus0.0) + (b.1 - r.bus0.1);
        d.free_buffer(r.buf)?;
        vfs.push(res);
    }
    Ok(PerfResult { cycles, vfs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nitrous_sim::platform::iommu::Iommu;

    #[test]
    fn dma_regions_are_host_memory_for_the_iommu() {
        let r = Arc::new(DmaRegion::new(8192).unwrap());
        r.write(100, &[1, 2, 3, 4]).unwrap();
        let mut io = Iommu::new(2);
        io.map(1, 0x4000_0000, r.clone()).unwrap();
        let mut b = [0u8; 4];
        io.read(1, 0x4000_0000 + 100, &mut b, 0).unwrap();
        assert_eq!(b, [1, 2, 3, 4]);
        io.write(1, 0x4000_0000 + 8190, &[9, 9], 0).unwrap();
        let mut back = [0u8; 2];
        r.read(8190, &mut back).unwrap();
        assert_eq!(back, [9, 9]);
        // Past the region (8 KiB): a fault, the region untouched.
        assert!(io.write(1, 0x4000_0000 + 8190, &[7; 4], 0).is_err());
        r.read(8190, &mut back).unwrap();
        assert_eq!(back, [9, 9]);
        // Another function's domain does not see it.
        assert!(io.read(0, 0x4000_0000, &mut b, 0).is_err());
    }
}
