//! `nitrous sim --card card.toml [--backend disk.img] <cmd>`: the
//! simulated card (Verilated `card` top inside the platform model), driven
//! by the project's own NVMe driver through the sim backend.
//!
//! Every run builds the card from the card file (SR-IOV enable, mailbox
//! provisioning, keys), then runs one command. Arguments are validated
//! against the card file before the backend file is opened, so a bad VF
//! index or LBA range leaves it untouched.

use crate::cardfile::{self, CardFile, VfSpec};
use crate::CliError;
use clap::{Args, Subcommand};
use nitrous_driver::nvme::{Nvme, Options};
use nitrous_driver::sim::{run_perf, PerfParams, SimCard, SimFunction};
use nitrous_sim::platform::{self, BlockStore, FileStore, MemStore, PlatformConfig};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct SimArgs {
    /// Card file (TOML, one [[vf]] table per VF).
    #[arg(long)]
    card: PathBuf,
    /// Backend image file (created if missing; namespaces back to back).
    /// Without it the backend is in memory.
    #[arg(long)]
    backend: Option<PathBuf>,
    #[command(subcommand)]
    cmd: SimCmd,
}

#[derive(Subcommand)]
pub enum SimCmd {
    /// Write stdin at LBA L of VF I (short input is zero-padded to a block).
    NvmeWrite {
        /// VF number, 1-based (the card file's [[vf]] order).
        #[arg(long)]
        vf: u32,
        #[arg(long)]
        lba: u64,
    },
    /// Read N blocks at LBA L of VF I to stdout.
    NvmeRead {
        #[arg(long)]
        vf: u32,
        #[arg(long)]
        lba: u64,
        #[arg(long)]
        blocks: u64,
    },
    /// Random I/O on all VFs at once, from one thread, round robin.
    NvmePerf {
        /// Outstanding commands per VF.
        #[arg(long, default_value_t = 8)]
        qd: usize,
        /// Transfer size (bytes, or with k suffix); a multiple of each VF's LBA size.
        #[arg(long, default_value = "4k")]
        size: String,
        /// Percentage of reads (rest are writes).
        #[arg(long, default_value_t = 100)]
        read_pct: u8,
        /// I/Os per VF.
        #[arg(long, default_value_t = 1000)]
        ios: u64,
        /// Waveform of the card during the run (FST).
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// RNG seed (offsets, data).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Serve VF I to a QEMU 7.2 guest as a conventional PCI function over
    /// `x-pci-proxy-dev` (the remote side of QEMU's multi-process
    /// protocol): either on an inherited socket (`--fd N`, with QEMU
    /// started as `-device x-pci-proxy-dev,fd=...` by you), or `--launch`
    /// to start QEMU with the right arguments plus yours after `--`.
    /// Runs until QEMU exits, then prints what the guest did.
    ServeProxy {
        #[arg(long)]
        vf: u32,
        /// Connected UNIX socket inherited from the launcher (the other end
        /// is QEMU's `x-pci-proxy-dev,fd=`).
        #[arg(long, conflicts_with = "launch", required_unless_present = "launch")]
        fd: Option<i32>,
        /// Start QEMU ourselves (q35, 1 vCPU, shared memfd RAM, the proxy
        /// device) with the arguments after `--`.
        #[arg(long)]
        launch: bool,
        /// QEMU binary for --launch.
        #[arg(long, default_value = "qemu-system-x86_64")]
        qemu: String,
        /// Guest RAM for --launch (QEMU size syntax).
        #[arg(long, default_value = "512M")]
        mem: String,
        /// Write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Further QEMU arguments (after `--`).
        #[arg(last = true)]
        qemu_args: Vec<String>,
    },
    /// Config space of the PF and every enabled VF, in `lspci -xxxx` format
    /// (decode with `lspci -F <file> -vvv`).
    Lspci,
}

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

/// The card, provisioned from the card file.
struct Card {
    sim: SimCard,
}

fn bring_up(card: &CardFile, store: Box<dyn BlockStore>) -> Result<Card, CliError> {
    let cfg = PlatformConfig {
        dma_read_latency: card.dma_latency,
        backend_latency: card.backend_latency,
        ..PlatformConfig::default()
    };
    let p = platform::card_platform_for(card.vfs.len(), cfg, store).map_err(failed)?;
    let sim = SimCard::new(p);
    let pf = sim.pf().map_err(failed)?;
    pf.enable_vfs(card.vfs.len() as u16).map_err(failed)?;
    for v in &card.vfs {
        pf.setup_vf(v.vf, v.blocks, v.lba_shift(), v.base, &v.key)
            .map_err(|e| failed(format!("VF {}: {e}", v.vf)))?;
    }
    drop(pf);
    Ok(Card { sim })
}

fn open_vf(card: &Card, v: &VfSpec, queue_size: u16) -> Result<Nvme<SimFunction>, CliError> {
    let f = card.sim.function(v.vf).map_err(failed)?;
    Nvme::new(
        f,
        Options {
            io_queues: v.queues,
            queue_size,
            interrupts: true,
            // Simulated time: wall-clock timeouts only catch a hung model.
            cmd_timeout: Duration::from_secs(600),
        },
    )
    .map_err(|e| failed(format!("VF {}: {e}", v.vf)))
}

fn check_range(v: &VfSpec, lba: u64, blocks: u64) -> Result<(), CliError> {
    if blocks == 0 {
        return Err(usage("--blocks 0: nothing to transfer"));
    }
    if lba.checked_add(blocks).is_none_or(|e| e > v.blocks) {
        return Err(usage(format!(
            "LBA range {lba}+{blocks} is outside VF {}'s namespace of {} blocks",
            v.vf, v.blocks
        )));
    }
    Ok(())
}

fn store(card: &CardFile, path: &Option<PathBuf>) -> Result<Box<dyn BlockStore>, CliError> {
    let n = card.backend_bytes();
    Ok(match path {
        Some(p) => Box::new(
            FileStore::open(p, n).map_err(|e| failed(format!("backend {}: {e}", p.display())))?,
        ),
        None => Box::new(MemStore::new(n)),
    })
}

pub fn run(a: SimArgs) -> Result<(), CliError> {
    let card = cardfile::load(&a.card).map_err(usage)?;
    let built = platform::card_models().last().map_or(0, |m| m.1);
    if card.vfs.len() > built {
        return Err(usage(format!(
            "card file {}: {} VFs; the simulated card has {built}",
            a.card.display(),
            card.vfs.len()
        )));
    }
    match a.cmd {
        SimCmd::NvmeWrite { vf, lba } => {
            let v = card.vf(vf).map_err(usage)?.clone();
            let mut data = Vec::new();
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|e| failed(format!("stdin: {e}")))?;
            if data.is_empty() {
                return Err(usage("no data on stdin"));
            }
            let bs = v.lba_size as usize;
            let blocks = data.len().div_ceil(bs) as u64;
            check_range(&v, lba, blocks)?;
            data.resize(blocks as usize * bs, 0);
            let c = bring_up(&card, store(&card, &a.backend)?)?;
            let mut n = open_vf(&c, &v, 64)?;
            n.write(0, lba, &data).map_err(failed)?;
            n.flush(0).map_err(failed)?;
            drop(n);
            eprintln!(
                "wrote {} blocks at LBA {lba} of VF {} ({} cycles)",
                blocks,
                v.vf,
                c.sim.cycle()
            );
            Ok(())
        }
        SimCmd::NvmeRead { vf, lba, blocks } => {
            let v = card.vf(vf).map_err(usage)?.clone();
            check_range(&v, lba, blocks)?;
            let c = bring_up(&card, store(&card, &a.backend)?)?;
            let mut n = open_vf(&c, &v, 64)?;
            let mut out = vec![0u8; blocks as usize * v.lba_size as usize];
            n.read(0, lba, &mut out).map_err(failed)?;
            drop(n);
            std::io::stdout()
                .write_all(&out)
                .map_err(|e| failed(format!("stdout: {e}")))?;
            Ok(())
        }
        SimCmd::NvmePerf {
            qd,
            size,
            read_pct,
            ios,
            trace,
            json,
            seed,
        } => {
            let size = crate::host::parse_size(&size)?;
            if qd == 0 || qd > 255 {
                return Err(usage(format!("--qd {qd} (1..=255)")));
            }
            if read_pct > 100 {
                return Err(usage(format!("--read-pct {read_pct} (0..=100)")));
            }
            if ios == 0 {
                return Err(usage("--ios 0"));
            }
            for v in &card.vfs {
                if size % v.lba_size as usize != 0 || size as u64 > v.bytes() {
                    return Err(usage(format!(
                        "--size {size}: VF {} needs a multiple of {} bytes up to its namespace of {} bytes",
                        v.vf,
                        v.lba_size,
                        v.bytes()
                    )));
                }
            }
            if size > 128 * 1024 {
                return Err(usage(format!("--size {size}: at most 128 KiB (MDTS)")));
            }
            let c = bring_up(&card, store(&card, &a.backend)?)?;
            perf(&card, &c, qd, size, read_pct, ios, seed, trace, json)
        }
        SimCmd::ServeProxy {
            vf,
            fd,
            launch,
            qemu,
            mem,
            json,
            qemu_args,
        } => {
            let v = card.vf(vf).map_err(usage)?.clone();
            if !launch && !qemu_args.is_empty() {
                return Err(usage("QEMU arguments after -- need --launch"));
            }
            let link = match fd {
                Some(fd) => Some(nitrous_bridge::mpqemu::Link::from_raw(fd).map_err(usage)?),
                None => None,
            };
            let c = bring_up(&card, store(&card, &a.backend)?)?;
            serve_proxy(c, &v, link, launch.then_some((qemu, mem, qemu_args)), json)
        }
        SimCmd::Lspci => {
            let c = bring_up(&card, store(&card, &a.backend)?)?;
            let p = c.sim.platform();
            let mut text = String::new();
            for f in 0..=p.enabled_vfs() as u8 {
                if let Some(cs) = p.config_space(f) {
                    text.push_str(&platform::lspci::format_function(f, cs));
                    text.push('\n');
                }
            }
            drop(p);
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| failed(format!("stdout: {e}")))?;
            Ok(())
        }
    }
}

#[derive(serde::Serialize)]
struct ProxyReport {
    vf: u8,
    commands: u64,
    served: u64,
    rejected: u64,
    dma_faults: u64,
    sim_cycles: u64,
    tail_cycles: u64,
    cycles_per_command: f64,
    wall_s: f64,
    commands_per_s: f64,
    bar_reads: u64,
    bar_writes: u64,
    config_reads: u64,
    config_writes: u64,
    ram_syncs: u64,
    resets: u64,
    intx_assertions: u64,
    bar_errors: u64,
}

fn serve_proxy(
    c: Card,
    v: &VfSpec,
    link: Option<nitrous_bridge::mpqemu::Link>,
    launch: Option<(String, String, Vec<String>)>,
    json: Option<PathBuf>,
) -> Result<(), CliError> {
    use nitrous_bridge::{launch::QemuSpec, Bridge, Options};
    let (link, child) = match (link, launch) {
        (Some(l), _) => (l, None),
        (None, Some((qemu, mem, extra))) => {
            let (child, l) = QemuSpec { qemu, mem, extra }.spawn().map_err(failed)?;
            (l, Some(child))
        }
        (None, None) => return Err(usage("serve-proxy needs --fd N or --launch")),
    };
    eprintln!(
        "serving VF {} ({} blocks of {} B) to the guest; waiting for QEMU to exit",
        v.vf, v.blocks, v.lba_size
    );
    let bridge = Bridge::new(c.sim.clone(), v.vf, link, Options::default()).map_err(failed)?;
    let served = bridge.serve();
    if let Some(mut ch) = child {
        let _ = ch.wait();
    }
    let s = served.map_err(failed)?;
    let r = ProxyReport {
        vf: v.vf,
        commands: s.commands(),
        served: s.served,
        rejected: s.rejected,
        dma_faults: s.dma_faults,
        sim_cycles: s.cycles,
        tail_cycles: s.tail_cycles,
        cycles_per_command: s.cycles_per_command(),
        wall_s: s.wall.as_secs_f64(),
        commands_per_s: s.commands_per_s(),
        bar_reads: s.bar_reads,
        bar_writes: s.bar_writes,
        config_reads: s.config_reads,
        config_writes: s.config_writes,
        ram_syncs: s.ram_syncs,
        resets: s.resets,
        intx_assertions: s.intx_assertions,
        bar_errors: s.bar_errors,
    };
    eprintln!(
        "guest done: {} commands ({} ok, {} errors, {} DMA faults) in {:.1} s = {:.0} commands/s; \
         {} simulated cycles, {:.0} active cycles/command; {} BAR reads, {} BAR writes, \
         {} INTx assertions",
        r.commands,
        r.served,
        r.rejected,
        r.dma_faults,
        r.wall_s,
        r.commands_per_s,
        r.sim_cycles,
        r.cycles_per_command,
        r.bar_reads,
        r.bar_writes,
        r.intx_assertions
    );
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&r).map_err(failed)?;
        std::fs::write(&path, text + "\n")
            .map_err(|e| failed(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Latency {
    p50: u64,
    p99: u64,
}

#[derive(serde::Serialize)]
struct Figures {
    #[serde(skip_serializing_if = "Option::is_none")]
    vf: Option<u8>,
    commands: u64,
    errors: u64,
    bytes_per_cycle: f64,
    /// Every DMA byte (data, SQEs, CQEs, PRP lists) per cycle.
    bus_bytes_per_cycle: f64,
    commands_per_kcycle: f64,
    /// Commands per second at a 1 MHz clock.
    iops_per_mhz: f64,
    latency_cycles: Latency,
}

#[derive(serde::Serialize)]
struct Report {
    qd: usize,
    size: usize,
    read_pct: u8,
    cycles: u64,
    /// Verilator speed of the whole card in this run (wall clock).
    sim_cycles_per_s: f64,
    total: Figures,
    vfs: Vec<Figures>,
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn figures(
    vf: Option<u8>,
    commands: u64,
    errors: u64,
    size: usize,
    bus: u64,
    cycles: u64,
    lat: &mut [u64],
) -> Figures {
    lat.sort_unstable();
    let c = cycles.max(1) as f64;
    Figures {
        vf,
        commands,
        errors,
        bytes_per_cycle: (commands * size as u64) as f64 / c,
        bus_bytes_per_cycle: bus as f64 / c,
        commands_per_kcycle: commands as f64 * 1000.0 / c,
        iops_per_mhz: commands as f64 * 1e6 / c,
        latency_cycles: Latency {
            p50: pct(lat, 0.50),
            p99: pct(lat, 0.99),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn perf(
    card: &CardFile,
    c: &Card,
    qd: usize,
    size: usize,
    read_pct: u8,
    ios: u64,
    seed: u64,
    trace: Option<PathBuf>,
    json: Option<PathBuf>,
) -> Result<(), CliError> {
    let mut devs = Vec::new();
    for v in &card.vfs {
        devs.push(open_vf(c, v, (qd + 1) as u16)?);
    }
    if let Some(t) = &trace {
        c.sim.platform().trace_to(t).map_err(failed)?;
    }
    let bar = indicatif::ProgressBar::new(ios * devs.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} IOs")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let params = PerfParams {
        qd,
        size,
        read_pct,
        ios,
        seed,
    };
    let mut refs: Vec<&mut Nvme<SimFunction>> = devs.iter_mut().collect();
    let t0 = std::time::Instant::now();
    let res = run_perf(&c.sim, &mut refs, &params, |n| bar.inc(n)).map_err(failed)?;
    let wall = t0.elapsed().as_secs_f64();
    bar.finish_and_clear();
    c.sim.platform().trace_flush();
    let cycles = res.cycles;
    let mut all_lat = Vec::new();
    let mut vfs = Vec::new();
    let (mut cmds, mut errs, mut bus) = (0, 0, 0);
    for r in &res.vfs {
        let mut lat = r.latencies.clone();
        all_lat.extend_from_slice(&lat);
        vfs.push(figures(
            Some(r.vf),
            r.commands,
            r.errors,
            size,
            r.bus_bytes,
            cycles,
            &mut lat,
        ));
        cmds += r.commands;
        errs += r.errors;
        bus += r.bus_bytes;
    }
    let report = Report {
        qd,
        size,
        read_pct,
        cycles,
        sim_cycles_per_s: cycles as f64 / wall.max(1e-9),
        total: figures(None, cmds, errs, size, bus, cycles, &mut all_lat),
        vfs,
    };
    out!(
        "nvme-perf: {} VFs x QD {qd}, {size} B, {read_pct}% reads, {cycles} cycles \
         ({:.0} simulated cycles/s)",
        report.vfs.len(),
        report.sim_cycles_per_s
    );
    for f in report.vfs.iter().chain(std::iter::once(&report.total)) {
        let name = f.vf.map_or("total".to_string(), |v| format!("VF {v}"));
        out!(
            "  {name:>6}: {} cmds ({} errors), {:.1} IOPS/MHz, {:.2} cmds/kcycle, {:.2} data B/cycle, {:.2} bus B/cycle, latency p50 {} p99 {} cycles",
            f.commands,
            f.errors,
            f.iops_per_mhz,
            f.commands_per_kcycle,
            f.bytes_per_cycle,
            f.bus_bytes_per_cycle,
            f.latency_cycles.p50,
            f.latency_cycles.p99
        );
    }
    if let Some(j) = json {
        let s = serde_json::to_string_pretty(&report).map_err(failed)?;
        std::fs::write(&j, s + "\n").map_err(|e| failed(format!("{}: {e}", j.display())))?;
    }
    if errs > 0 {
        return Err(failed(format!(
            "{errs} commands completed with an error status"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rates() {
        let mut lat: Vec<u64> = (1..=100).rev().collect();
        let f = figures(Some(2), 100, 1, 4096, 500_000, 200_000, &mut lat);
        assert_eq!((f.latency_cycles.p50, f.latency_cycles.p99), (50, 99));
        assert_eq!(f.bytes_per_cycle, 100.0 * 4096.0 / 200_000.0);
        assert_eq!(f.bus_bytes_per_cycle, 2.5);
        assert_eq!(f.commands_per_kcycle, 0.5);
        assert_eq!(f.iops_per_mhz, 500.0);
        let j = serde_json::to_value(&f).unwrap();
        assert_eq!(j["latency_cycles"]["p99"], 99);
        assert_eq!(j["vf"], 2);
        assert_eq!(pct(&[], 0.5), 0);
        assert_eq!(pct(&[7], 0.99), 7);
    }
}
