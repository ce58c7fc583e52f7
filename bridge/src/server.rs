//! The bridge: serves one function of the simulated card over an mpqemu
//! link (see [`crate::mpqemu`]).
//!
//! # Time
//! The card runs only inside this process, so simulated time is ours to
//! spend:
//! - a guest register read blocks its vCPU until we answer; the clock runs
//!   until the card completes the read (`Platform::bar_read32`);
//! - after every access that can start work (BAR writes, Command writes)
//!   and as long as the card shows activity (DMA or backend bytes moving,
//!   requests outstanding, interrupt state changing), the clock runs in
//!   chunks of [`Options::chunk`] cycles between messages, so completions
//!   reach guest memory without any guest activity;
//! - after [`Options::quiet`] cycles without activity the card is idle and
//!   the bridge sleeps in `poll` until the guest does something: idle
//!   cycles are skipped, an idle guest costs no host CPU (one chunk per
//!   `idle_poll_ms` as a heartbeat, in case the activity fingerprint ever
//!   misses work in progress; the longest silent stretch of a command is
//!   a host read's latency, 64 cycles by default, well inside `quiet`).
//!
//! # Interrupts
//! INTx (the proxy has no MSI / MSI-X): the platform's INTx state of the
//! function (the card's NVMe pin-based interrupt, NVMe 1.4 §7.5.1, gated
//! by MSI-X Enable and Command.Interrupt Disable as a hard IP does) is
//! mirrored in the view's Status.Interrupt Status; a rising edge writes
//! the interrupt eventfd, and when the resample eventfd fires (the guest
//! ended the interrupt) while the line is still asserted it is written
//! again (level semantics over an edge channel, as KVM's resamplefd
//! expects).

use crate::config_view::ConfigView;
use crate::guest_ram::GuestRegion;
use crate::mpqemu::{Link, LinkError, Msg};
use nitrous_driver::sim::SimCard;
use nitrous_regmap::mailbox::Counter;
use nitrous_sim::platform::config::{CMD_BUS_MASTER, CMD_INTX_DISABLE, COMMAND};
use nitrous_sim::platform::{HostMemory, Platform};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A failure that ends the bridge.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("guest RAM region at {gpa:#x}: {err}")]
    Ram { gpa: u64, err: String },
    #[error("simulated card: {0}")]
    Card(String),
}

/// Tuning of simulated time.
#[derive(Clone, Debug)]
pub struct Options {
    /// Cycles run between two looks at the link while the card is busy.
    pub chunk: u64,
    /// Cycles without activity after which the card counts as idle.
    pub quiet: u64,
    /// Longest sleep while idle (ms); the link wakes the bridge earlier.
    pub idle_poll_ms: i32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            chunk: 256,
            quiet: 1024,
            idle_poll_ms: 100,
        }
    }
}

/// What the guest did, for the report.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub config_reads: u64,
    pub config_writes: u64,
    pub bar_reads: u64,
    pub bar_writes: u64,
    /// BAR accesses outside BAR0 or with memory decoding off.
    pub bar_unclaimed: u64,
    /// BAR accesses the card did not complete in time.
    pub bar_errors: u64,
    pub ram_syncs: u64,
    pub resets: u64,
    pub intx_assertions: u64,
    /// Simulated cycles from the start of serving to the end.
    pub cycles: u64,
    /// Of these, cycles run after the card's last activity before it
    /// counted as idle (the price of not knowing the future).
    pub tail_cycles: u64,
    /// Wall time serving.
    pub wall: Duration,
    /// The card's own counters of the function (mailbox): commands
    /// completed with success and with an error status, DMA faults.
    pub served: u64,
    pub rejected: u64,
    pub dma_faults: u64,
}

impl Stats {
    /// Commands completed by the card for the function.
    pub fn commands(&self) -> u64 {
        self.served + self.rejected
    }

    /// Simulated cycles with the card active, per completed command.
    pub fn cycles_per_command(&self) -> f64 {
        (self.cycles - self.tail_cycles.min(self.cycles)) as f64 / self.commands().max(1) as f64
    }

    /// Commands per second of wall time.
    pub fn commands_per_s(&self) -> f64 {
        self.commands() as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// One served function.
pub struct Bridge {
    card: SimCard,
    func: u8,
    link: Link,
    view: ConfigView,
    ram: Vec<Arc<GuestRegion>>,
    irqfd: Option<OwnedFd>,
    resample: Option<OwnedFd>,
    intx: bool,
    quiet: u64,
    opt: Options,
    stats: Stats,
    last_activity: Activity,
}

/// What changes while the card works: DMA and backend bytes, requests
/// outstanding, interrupts delivered.
type Activity = (u64, (u64, u64), usize, u64);

fn activity(p: &Platform, func: u8) -> Activity {
    (
        p.dma_total_bytes(),
        p.backend_bytes(),
        p.outstanding(),
        p.irq_total() + p.intx_assertions(func),
    )
}

fn eventfd_signal(fd: &OwnedFd) {
    let one = 1u64.to_ne_bytes();
    // SAFETY: an 8-byte write to an eventfd we own. EAGAIN (counter at its
    // maximum) means the interrupt is already pending: nothing to do.
    unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), 8) };
}

fn eventfd_drain(fd: &OwnedFd) {
    let mut b = [0u8; 8];
    // SAFETY: an 8-byte read from an eventfd we own.
    unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr().cast(), 8) };
}

impl Bridge {
    /// Serve `func` of `card` (enabled and provisioned) on `link`.
    pub fn new(card: SimCard, func: u8, link: Link, opt: Options) -> Result<Self, BridgeError> {
        let p = card.platform();
        if func == 0 || !p.function_exists(func) {
            return Err(BridgeError::Card(format!(
                "function {func} is not an enabled VF"
            )));
        }
        let view = ConfigView::card_vf(p.config_space(func).expect("exists"));
        let last_activity = activity(&p, func);
        drop(p);
        Ok(Bridge {
            card,
            func,
            link,
            view,
            ram: Vec::new(),
            irqfd: None,
            resample: None,
            intx: false,
            quiet: 0,
            opt,
            stats: Stats::default(),
            last_activity,
        })
    }

    /// Serve until the guest closes the link (QEMU exits); the backend is
    /// complete when this returns.
    pub fn serve(mut self) -> Result<Stats, BridgeError> {
        let t0 = Instant::now();
        let c0 = self.card.cycle();
        let r = self.serve_loop();
        // Let the card finish what the guest started (posted writes,
        // completions) before the backend file is closed.
        {
            let mut p = self.card.platform();
            p.run_until(1_000_000, |p| p.outstanding() == 0);
            p.run(self.opt.quiet);
        }
        self.stats.cycles = self.card.cycle() - c0;
        self.stats.wall = t0.elapsed();
        if let Ok(pf) = self.card.pf() {
            self.stats.served = pf.read_counter(self.func, Counter::Served).unwrap_or(0);
            self.stats.rejected = pf.read_counter(self.func, Counter::Rejected).unwrap_or(0);
            self.stats.dma_faults = pf.read_counter(self.func, Counter::DmaFaults).unwrap_or(0);
        }
        let mut p = self.card.platform();
        for r in self.ram.drain(..) {
            let _ = p.iommu_unmap(self.func, r.gpa(), HostMemory::len(&*r) as u64);
        }
        drop(p);
        r.map(|()| self.stats)
    }

    fn serve_loop(&mut self) -> Result<(), BridgeError> {
        loop {
            let busy = self.quiet < self.opt.quiet;
            let mut fds = vec![libc::pollfd {
                fd: self.link.raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            if let Some(r) = &self.resample {
                fds.push(libc::pollfd {
                    fd: r.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            let timeout = if busy { 0 } else { self.opt.idle_poll_ms };
            // SAFETY: fds is a live array of pollfd.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(LinkError::Io(e).into());
            }
            if fds.len() > 1 && fds[1].revents & libc::POLLIN != 0 {
                if let Some(r) = &self.resample {
                    eventfd_drain(r);
                }
                if self.intx {
                    self.signal_irq();
                }
            }
            if fds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                match self.link.recv()? {
                    None => return Ok(()),
                    Some(m) => self.handle(m)?,
                }
            } else {
                // Busy: the next chunk. Idle and nothing from the guest for
                // `idle_poll_ms`: one chunk anyway (a heartbeat), so that
                // work the fingerprint missed can never stall the guest.
                self.card.platform().run(self.opt.chunk);
                self.note_activity(self.opt.chunk);
            }
            self.update_intx();
        }
    }

    /// Count quiet cycles; any change of the activity fingerprint resets.
    fn note_activity(&mut self, cycles: u64) {
        let now = activity(&self.card.platform(), self.func);
        if now != self.last_activity {
            self.last_activity = now;
            self.quiet = 0;
        } else {
            self.quiet += cycles;
            self.stats.tail_cycles += cycles;
        }
    }

    fn update_intx(&mut self) {
        // The function's INTx as the hard IP drives it.
        let now = self.card.platform().intx(self.func);
        if now != self.intx {
            self.view.set_intx_status(now);
            if now {
                self.stats.intx_assertions += 1;
                self.signal_irq();
            }
            self.intx = now;
        }
    }

    /// Write the interrupt eventfd (if the proxy gave one).
    fn signal_irq(&self) {
        if let Some(fd) = &self.irqfd {
            eventfd_signal(fd);
        }
    }

    fn reply(&self, v: u64) -> Result<(), BridgeError> {
        Ok(self.link.send(&Msg::Ret(v))?)
    }

    fn handle(&mut self, m: Msg) -> Result<(), BridgeError> {
        match m {
            Msg::SyncSysmem(regions) => {
                self.stats.ram_syncs += 1;
                self.sync_ram(regions)
            }
            Msg::SetIrqfd(mut fds) => {
                // [interrupt eventfd, resample eventfd]; old ones closed.
                self.resample = if fds.len() > 1 {
                    Some(fds.remove(1))
                } else {
                    None
                };
                self.irqfd = fds.into_iter().next();
                if self.intx {
                    self.signal_irq();
                }
                Ok(())
            }
            Msg::CfgRead { addr, len } => {
                self.stats.config_reads += 1;
                self.reply(self.view.read(addr, len) as u64)
            }
            Msg::CfgWrite { addr, val, len } => {
                self.stats.config_writes += 1;
                let (old, new) = self.view.write(addr, val, len);
                let pass = CMD_BUS_MASTER | CMD_INTX_DISABLE;
                if (old ^ new) & pass != 0 {
                    let v = (new & pass).to_le_bytes();
                    self.card
                        .platform()
                        .config_write(self.func, COMMAND, &v)
                        .map_err(|e| BridgeError::Card(e.to_string()))?;
                    self.quiet = 0;
                }
                self.reply(0)
            }
            Msg::BarRead { addr, size, memory } => {
                self.stats.bar_reads += 1;
                let ones = if size >= 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * size)) - 1
                };
                let v = match self.view.bar0_offset(addr, size).filter(|_| memory) {
                    None => {
                        self.stats.bar_unclaimed += 1;
                        ones
                    }
                    Some(off) => self.bar_read(off, size).unwrap_or_else(|e| {
                        self.stats.bar_errors += 1;
                        eprintln!("bridge: BAR read at {off:#x}: {e}");
                        ones
                    }),
                };
                self.reply(v)
            }
            Msg::BarWrite {
                addr,
                val,
                size,
                memory,
            } => {
                self.stats.bar_writes += 1;
                match self.view.bar0_offset(addr, size).filter(|_| memory) {
                    None => self.stats.bar_unclaimed += 1,
                    Some(off) => {
                        if let Err(e) = self.bar_write(off, val, size) {
                            self.stats.bar_errors += 1;
                            eprintln!("bridge: BAR write at {off:#x}: {e}");
                        }
                        self.quiet = 0;
                    }
                }
                self.reply(0)
            }
            Msg::DeviceReset => {
                self.stats.resets += 1;
                let mut p = self.card.platform();
                p.flr(self.func);
                p.run(100);
                drop(p);
                self.view.reset();
                self.intx = false;
                self.quiet = 0;
                self.reply(0)
            }
            Msg::Ret(_) => Err(LinkError::Protocol("unexpected RET from the proxy".into()).into()),
        }
    }

    /// Replace the guest RAM map: old regions leave the function's IOMMU
    /// domain (their mappings and fds are closed), new ones enter it at
    /// IOVA = guest-physical address.
    fn sync_ram(&mut self, regions: Vec<crate::mpqemu::Region>) -> Result<(), BridgeError> {
        let mut p = self.card.platform();
        for r in self.ram.drain(..) {
            let _ = p.iommu_unmap(self.func, r.gpa(), HostMemory::len(&*r) as u64);
        }
        for r in regions {
            let gpa = r.gpa;
            let g = GuestRegion::map(r).map_err(|e| BridgeError::Ram {
                gpa,
                err: e.to_string(),
            })?;
            let g = Arc::new(g);
            let mem: Arc<dyn HostMemory> = g.clone();
            p.iommu_map(self.func, gpa, mem)
                .map_err(|e| BridgeError::Ram {
                    gpa,
                    err: e.to_string(),
                })?;
            self.ram.push(g);
        }
        Ok(())
    }

    /// A read of 1..=8 bytes at BAR0 offset `off`, from the dwords that
    /// cover it (the card's registers are dword registers; reads have no
    /// side effects, NVMe 1.4 §3.1).
    fn bar_read(&self, off: u64, size: u32) -> Result<u64, String> {
        let mut p = self.card.platform();
        let first = off & !3;
        let mut v: u128 = 0;
        let mut a = first;
        while a < off + size as u64 {
            let d = p.bar_read32(self.func, 0, a).map_err(|e| e.to_string())?;
            v |= (d as u128) << (8 * (a - first));
            a += 4;
        }
        let v = (v >> (8 * (off - first))) as u64;
        Ok(if size >= 8 {
            v
        } else {
            v & ((1u64 << (8 * size)) - 1)
        })
    }

    /// A write of 1..=8 bytes: whole dwords directly (low dword first for
    /// 64-bit registers, docs/CARD.md), partial dwords read-modify-write.
    fn bar_write(&self, off: u64, val: u64, size: u32) -> Result<(), String> {
        let mut p = self.card.platform();
        let end = off + size as u64;
        let mut a = off & !3;
        while a < end {
            let lo = off.max(a);
            let hi = end.min(a + 4);
            let shift = 8 * (lo - off);
            let bytes = hi - lo;
            let part = (val >> shift)
                & if bytes >= 4 {
                    0xffff_ffff
                } else {
                    (1u64 << (8 * bytes)) - 1
                };
            let d = if bytes == 4 {
                part as u32
            } else {
                let old = p.bar_read32(self.func, 0, a).map_err(|e| e.to_string())?;
                let s = 8 * (lo - a);
                let m = (((1u64 << (8 * bytes)) - 1) << s) as u32;
                (old & !m) | ((part << s) as u32 & m)
            };
            p.bar_write32(self.func, 0, a, d)
                .map_err(|e| e.to_string())?;
            a += 4;
        }
        Ok(())
    }
}
