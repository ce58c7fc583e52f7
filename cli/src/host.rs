//! Commands that drive real hardware through kernel VFIO: `vfio`, `pf`,
//! `nvme`. Bad arguments are `CliError::Usage` (exit 2); failures of the
//! device or system are `CliError::Failed` (exit 1).

use crate::CliError;
use clap::{Args, Subcommand};
use nitrous_driver::nvme::{IoOp, Nvme, Options, Sqe};
use nitrous_driver::pf::{self, PfManager};
use nitrous_driver::vfio::VfioFunction;
use nitrous_driver::DmaBuf;
use rand::{Rng, RngCore, SeedableRng};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum HostCmd {
    /// Kernel VFIO: list functions bound to vfio-pci.
    Vfio {
        #[command(subcommand)]
        cmd: VfioCmd,
    },
    /// SR-IOV physical function management (NVMe PF bound to the kernel nvme driver).
    Pf {
        #[command(subcommand)]
        cmd: PfCmd,
    },
    /// Drive an NVMe function (PF or VF) bound to vfio-pci with the userspace driver.
    Nvme {
        #[command(subcommand)]
        cmd: NvmeCmd,
    },
}

#[derive(Subcommand)]
pub enum VfioCmd {
    /// List PCI functions bound to vfio-pci with their IOMMU groups.
    List,
}

#[derive(Subcommand)]
pub enum PfCmd {
    /// Enable N VFs and bring their NVMe secondary controllers online.
    EnableVfs {
        /// PF address, e.g. 0000:01:00.0
        bdf: String,
        #[arg(long)]
        count: u16,
    },
    /// Bind every VF of the PF to vfio-pci; print VMM arguments.
    BindVfio { bdf: String },
    /// Take secondary controllers offline, unbind and disable all VFs.
    DisableVfs { bdf: String },
}

/// Options shared by every `nvme` command.
#[derive(Args, Clone)]
pub struct DevOpts {
    /// Function address (bound to vfio-pci), e.g. 0000:01:00.1
    bdf: String,
    /// Poll completions instead of using MSI-X interrupts.
    #[arg(long)]
    poll: bool,
    /// I/O queue pairs to create.
    #[arg(long, default_value_t = 2)]
    queues: u16,
    /// Per-command timeout in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

#[derive(Subcommand)]
pub enum NvmeCmd {
    /// Identify controller and namespaces.
    Identify {
        #[command(flatten)]
        dev: DevOpts,
    },
    /// Write stdin to LBA L (N blocks; short input is zero-padded).
    Write {
        #[command(flatten)]
        dev: DevOpts,
        #[arg(long)]
        lba: u64,
        #[arg(long)]
        blocks: u32,
    },
    /// Read N blocks from LBA L to stdout.
    Read {
        #[command(flatten)]
        dev: DevOpts,
        #[arg(long)]
        lba: u64,
        #[arg(long)]
        blocks: u32,
    },
    /// Random I/O benchmark: IOPS, latency percentiles, CPU time per I/O.
    Perf {
        #[command(flatten)]
        dev: DevOpts,
        /// Outstanding commands per queue.
        #[arg(long, default_value_t = 32)]
        qd: usize,
        /// Transfer size (bytes, or with k/m suffix).
        #[arg(long, default_value = "4k")]
        size: String,
        /// Percentage of reads (rest are writes).
        #[arg(long, default_value_t = 100)]
        read_pct: u8,
        /// Number of I/Os.
        #[arg(long, default_value_t = 10000)]
        ios: u64,
    },
    /// Write random data and read it back verified: sizes 4 KiB..128 KiB
    /// (PRP lists), queue depths 1..32, over all I/O queues.
    Verify {
        #[command(flatten)]
        dev: DevOpts,
        /// MiB of data.
        #[arg(long, default_value_t = 16)]
        mib: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Function-level reset (FLR through VFIO) with data kept across it.
    Reset {
        #[command(flatten)]
        dev: DevOpts,
    },
    /// Send a read whose PRP points at an unmapped IOVA; expect an error
    /// status, then prove the queue still works.
    BadDma {
        #[command(flatten)]
        dev: DevOpts,
    },
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

fn driver_err(e: nitrous_driver::Error) -> CliError {
    match e {
        nitrous_driver::Error::Invalid(_) => usage(e),
        _ => failed(e),
    }
}

/// Parse "4096", "4k", "128K", "1m".
pub fn parse_size(s: &str) -> Result<usize, CliError> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1024),
        Some('m') => (&t[..t.len() - 1], 1024 * 1024),
        _ => (&t[..], 1),
    };
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|&n| n > 0)
        .ok_or_else(|| usage(format!("bad size {s:?} (e.g. 4096, 4k, 128k)")))
}

fn open(d: &DevOpts) -> Result<Nvme<VfioFunction>, CliError> {
    pf::check_bdf(&d.bdf).map_err(usage)?;
    if d.queues == 0 || d.queues > 64 {
        return Err(usage(format!("--queues {} (1..64)", d.queues)));
    }
    let f = VfioFunction::open(&d.bdf).map_err(failed)?;
    Nvme::new(
        f,
        Options {
            io_queues: d.queues,
            queue_size: 64,
            interrupts: !d.poll,
            cmd_timeout: Duration::from_millis(d.timeout_ms.max(1)),
        },
    )
    .map_err(|e| failed(format!("{}: {e}", d.bdf)))
}

pub fn run(cmd: HostCmd) -> Result<(), CliError> {
    match cmd {
        HostCmd::Vfio { cmd: VfioCmd::List } => {
            let v = pf::vfio_bound();
            if v.is_empty() {
                out!("no functions bound to vfio-pci");
            }
            for (bdf, group, id) in v {
                let g = group.map_or("-".to_string(), |g| g.to_string());
                out!("{bdf}  id {id}  iommu_group {g}  /dev/vfio/{g}");
            }
            Ok(())
        }
        HostCmd::Pf { cmd } => run_pf(cmd),
        HostCmd::Nvme { cmd } => run_nvme(cmd),
    }
}

fn print_vfs(vfs: &[pf::VfInfo]) {
    for v in vfs {
        out!(
            "VF{} {} cntlid {} iommu_group {} driver {}  vmm: {}",
            v.vf,
            v.bdf,
            v.cntlid.map_or("-".into(), |c| c.to_string()),
            v.iommu_group.map_or("-".into(), |g| g.to_string()),
            v.driver.as_deref().unwrap_or("-"),
            v.vmm_args()
        );
    }
}

fn run_pf(cmd: PfCmd) -> Result<(), CliError> {
    let bdf = match &cmd {
        PfCmd::EnableVfs { bdf, .. } | PfCmd::BindVfio { bdf } | PfCmd::DisableVfs { bdf } => {
            bdf.clone()
        }
    };
    pf::check_bdf(&bdf).map_err(usage)?;
    let m = PfManager::open(&bdf).map_err(failed)?;
    match cmd {
        PfCmd::EnableVfs { count, .. } => {
            let cap = m.sriov().map_err(failed)?;
            if count == 0 || count > cap.total_vfs {
                return Err(usage(format!(
                    "--count {count} (PF offers 1..{})",
                    cap.total_vfs
                )));
            }
            let vfs = m.enable_vfs(count).map_err(failed)?;
            out!(
                "{bdf}: {} VF(s) enabled, secondary controllers online",
                vfs.len()
            );
            print_vfs(&vfs);
        }
        PfCmd::BindVfio { .. } => {
            let vfs = m.bind_vfio().map_err(failed)?;
            print_vfs(&vfs);
        }
        PfCmd::DisableVfs { .. } => {
            m.disable_vfs().map_err(failed)?;
            out!("{bdf}: VFs disabled");
        }
    }
    Ok(())
}

/// One transfer of the I/O engine.
#[derive(Clone, Copy)]
struct Job {
    write: bool,
    lba: u64,
    blocks: u32,
    /// Byte offset in the data pattern / read-back buffer.
    off: usize,
}

struct EngineStats {
    ios: u64,
    lat_ns: Vec<u64>,
    wall: Duration,
}

/// Keep up to `qd` commands outstanding on every I/O queue until `next`
/// runs dry. Writes take their data from `pattern[job.off..]`; reads land
/// in `readback[job.off..]` (if given). One doorbell per queue per batch.
fn run_engine(
    n: &mut Nvme<VfioFunction>,
    qd: usize,
    max_bytes: usize,
    mut next: impl FnMut() -> Option<Job>,
    pattern: Option<&[u8]>,
    mut readback: Option<&mut [u8]>,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<EngineStats, CliError> {
    let queues = n.io_queue_count();
    let qd = qd.min(n.io_queue_depth()).max(1);
    let bs = n.namespace().map_err(failed)?.block_size as usize;
    let mut bufs: Vec<DmaBuf> = Vec::new();
    for _ in 0..queues {
        bufs.push(n.alloc_buffer(qd * max_bytes).map_err(failed)?);
    }
    let mut free: Vec<Vec<usize>> = (0..queues).map(|_| (0..qd).rev().collect()).collect();
    let mut inflight: Vec<Vec<Option<Job>>> = (0..queues).map(|_| vec![None; qd]).collect();
    let mut outstanding = 0usize;
    let mut lat = Vec::new();
    let mut done = 0u64;
    let mut exhausted = false;
    let mut out = Vec::new();
    let start = Instant::now();
    let mut rr = 0usize;
    loop {
        // Fill every queue, ring each once.
        if !exhausted {
            for q in 0..queues {
                let mut pushed = false;
                while let Some(&slot) = free[q].last() {
                    let Some(job) = next() else {
                        exhausted = true;
                        break;
                    };
                    free[q].pop();
                    let len = job.blocks as usize * bs;
                    let boff = slot * max_bytes;
                    if job.write {
                        if let Some(p) = pattern {
                            bufs[q]
                                .region
                                .write(boff, &p[job.off..job.off + len])
                                .map_err(failed)?;
                        }
                    }
                    let op = if job.write {
                        IoOp::Write {
                            lba: job.lba,
                            blocks: job.blocks,
                        }
                    } else {
                        IoOp::Read {
                            lba: job.lba,
                            blocks: job.blocks,
                        }
                    };
                    n.submit(q, op, &bufs[q], boff, slot as u64)
                        .map_err(failed)?;
                    inflight[q][slot] = Some(job);
                    outstanding += 1;
                    pushed = true;
                }
                if pushed {
                    n.ring(q).map_err(failed)?;
                }
                if exhausted {
                    break;
                }
            }
        }
        if outstanding == 0 {
            break;
        }
        // Reap: poll all queues; if nothing, block on one with work.
        let mut got = 0;
        for q in 0..queues {
            out.clear();
            got += n.poll(q, &mut out).map_err(failed)?;
            finish(
                q,
                &mut out,
                &mut inflight,
                &mut free,
                &bufs,
                &mut readback,
                bs,
                max_bytes,
                &mut lat,
            )?;
        }
        if got == 0 {
            for i in 0..queues {
                let q = (rr + i) % queues;
                if free[q].len() < qd {
                    out.clear();
                    got += n.wait(q, &mut out).map_err(failed)?;
                    finish(
                        q,
                        &mut out,
                        &mut inflight,
                        &mut free,
                        &bufs,
                        &mut readback,
                        bs,
                        max_bytes,
                        &mut lat,
                    )?;
                    rr = q + 1;
                    break;
                }
            }
        }
        outstanding -= got;
        done += got as u64;
        if let Some(b) = bar {
            b.set_position(done);
        }
    }
    let wall = start.elapsed();
    for b in bufs {
        let _ = n.free_buffer(b);
    }
    Ok(EngineStats {
        ios: done,
        lat_ns: lat,
        wall,
    })
}

#[allow(clippy::too_many_arguments)]
fn finish(
    q: usize,
    out: &mut Vec<nitrous_driver::nvme::Completion>,
    inflight: &mut [Vec<Option<Job>>],
    free: &mut [Vec<usize>],
    bufs: &[DmaBuf],
    readback: &mut Option<&mut [u8]>,
    bs: usize,
    max_bytes: usize,
    lat: &mut Vec<u64>,
) -> Result<(), CliError> {
    for c in out.drain(..) {
        let slot = c.tag as usize;
        let job = inflight[q]
            .get_mut(slot)
            .and_then(|j| j.take())
            .ok_or_else(|| failed(format!("completion for unknown slot {slot}")))?;
        if let Err(st) = c.result {
            return Err(failed(format!(
                "{} lba {} x{} on queue {}: {st}",
                if job.write { "write" } else { "read" },
                job.lba,
                job.blocks,
                q + 1
            )));
        }
        if !job.write {
            if let Some(rb) = readback.as_deref_mut() {
                let len = job.blocks as usize * bs;
                bufs[q]
                    .region
                    .read(slot * max_bytes, &mut rb[job.off..job.off + len])
                    .map_err(failed)?;
            }
        }
        lat.push(c.latency.as_nanos() as u64);
        free[q].push(slot);
    }
    Ok(())
}

/// Run one raw I/O command on queue 0 and describe how it ended: an
/// error status, a driver error (then the controller is reset), or success.
fn bad_dma_one(n: &mut Nvme<VfioFunction>, cmd: Sqe) -> Result<String, CliError> {
    n.submit_raw(0, cmd, 0).map_err(failed)?;
    n.ring(0).map_err(failed)?;
    let mut out = Vec::new();
    Ok(match n.wait(0, &mut out) {
        Ok(_) => match out.first().map(|c| c.result) {
            Some(Err(st)) => format!("device status {st}"),
            Some(Ok(_)) => "completed successfully (the IOMMU blocked the transfer; the device did not report it)".into(),
            None => return Err(failed("no completion")),
        },
        Err(e) => {
            // A timeout is an error too, never a hang; reset to recover.
            let s = format!("driver error {e} (controller reset)");
            n.reset().map_err(failed)?;
            s
        }
    })
}

/// CPU time of this thread (user + system), from the scheduler's
/// `/proc/thread-self/schedstat` (ns resolution); falls back to
/// `/proc/self/stat` utime+stime (clock ticks, assumed 100 Hz).
fn cpu_time() -> Duration {
    if let Ok(s) = std::fs::read_to_string("/proc/thread-self/schedstat") {
        if let Some(ns) = s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
        {
            return Duration::from_nanos(ns);
        }
    }
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the ")" that closes the command name; utime and stime
    // are fields 14 and 15 of the whole line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Busy CPU time of the whole system (user+nice+system+irq+softirq+steal
/// from the `cpu` line of /proc/stat, USER_HZ = 100 assumed): counts the
/// interrupt and kernel work done on our behalf too.
fn system_busy() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let line = s.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let busy = [0usize, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| f.get(i).copied().unwrap_or(0))
        .sum::<u64>();
    Some(Duration::from_millis(busy * 10))
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn run_nvme(cmd: NvmeCmd) -> Result<(), CliError> {
    match cmd {
        NvmeCmd::Identify { dev } => {
            let n = open(&dev)?;
            let c = n.controller();
            let cap = n.cap();
            out!(
                "{}: NVMe controller {:04x}:{:04x} cntlid {}",
                dev.bdf,
                c.vid,
                c.ssvid,
                c.cntlid
            );
            out!("  model    {}", c.model);
            out!("  serial   {}", c.serial);
            out!("  firmware {}", c.firmware);
            out!(
                "  version  {}.{}.{}",
                c.version >> 16,
                (c.version >> 8) & 0xff,
                c.version & 0xff
            );
            out!(
                "  CAP {cap:#018x}: MQES {} TO {} ms DSTRD {}",
                (cap & 0xffff) + 1,
                ((cap >> 24) & 0xff) * 500,
                (cap >> 32) & 0xf
            );
            out!(
                "  MDTS {} (max transfer {} KiB), namespaces {}",
                c.mdts,
                n.max_transfer() / 1024,
                c.nn
            );
            out!(
                "  I/O queues {} x depth {}, interrupts: {}",
                n.io_queue_count(),
                n.io_queue_depth(),
                if n.interrupt_vectors() > 0 {
                    format!("MSI-X x{}", n.interrupt_vectors())
                } else {
                    "polling".into()
                }
            );
            out!("  active namespaces {:?}", n.active_namespaces());
            if let Ok(ns) = n.namespace() {
                out!(
                    "  ns {}: {} blocks x {} B = {} MiB",
                    ns.nsid,
                    ns.blocks,
                    ns.block_size,
                    ns.blocks * ns.block_size as u64 / (1024 * 1024)
                );
            }
            Ok(())
        }
        NvmeCmd::Write { dev, lba, blocks } => {
            if blocks == 0 {
                return Err(usage("--blocks must be > 0"));
            }
            let mut n = open(&dev)?;
            let bs = n.namespace().map_err(failed)?.block_size as usize;
            let len = blocks as usize * bs;
            let mut data = Vec::new();
            std::io::stdin()
                .take(len as u64 + 1)
                .read_to_end(&mut data)
                .map_err(failed)?;
            if data.len() > len {
                return Err(usage(format!(
                    "stdin has more than {blocks} blocks ({len} bytes)"
                )));
            }
            data.resize(len, 0);
            n.write(0, lba, &data).map_err(driver_err)?;
            n.flush(0).map_err(failed)?;
            eprintln!("wrote {len} bytes at LBA {lba}");
            Ok(())
        }
        NvmeCmd::Read { dev, lba, blocks } => {
            if blocks == 0 {
                return Err(usage("--blocks must be > 0"));
            }
            let mut n = open(&dev)?;
            let bs = n.namespace().map_err(failed)?.block_size as usize;
            let mut data = vec![0u8; blocks as usize * bs];
            n.read(0, lba, &mut data).map_err(driver_err)?;
            std::io::stdout().write_all(&data).map_err(failed)?;
            Ok(())
        }
        NvmeCmd::Perf {
            dev,
            qd,
            size,
            read_pct,
            ios,
        } => {
            let size = parse_size(&size)?;
            if read_pct > 100 {
                return Err(usage("--read-pct must be 0..100"));
            }
            if qd == 0 || qd > 1024 {
                return Err(usage("--qd must be 1..1024"));
            }
            if ios == 0 {
                return Err(usage("--ios must be > 0"));
            }
            let mut n = open(&dev)?;
            let ns = n.namespace().map_err(failed)?.clone();
            let bs = ns.block_size as usize;
            if size % bs != 0 || size > n.max_transfer() {
                return Err(usage(format!(
                    "--size {size}: must be a multiple of {bs} and at most {}",
                    n.max_transfer()
                )));
            }
            let blocks = (size / bs) as u32;
            let slots = ns.blocks / blocks as u64;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
            let mut issued = 0u64;
            let bar = indicatif::ProgressBar::new(ios);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} IOs {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let cpu0 = cpu_time();
            let sys0 = system_busy();
            let stats = run_engine(
                &mut n,
                qd,
                size,
                || {
                    if issued == ios {
                        return None;
                    }
                    issued += 1;
                    Some(Job {
                        write: rng.gen_range(0..100) >= read_pct,
                        lba: rng.gen_range(0..slots) * blocks as u64,
                        blocks,
                        off: 0,
                    })
                },
                None,
                None,
                Some(&bar),
            )?;
            let cpu = cpu_time() - cpu0;
            let sys = system_busy().zip(sys0).map(|(b, a)| b.saturating_sub(a));
            bar.finish_and_clear();
            let mut l = stats.lat_ns;
            l.sort_unstable();
            let secs = stats.wall.as_secs_f64();
            let iops = stats.ios as f64 / secs;
            out!(
                "perf {}: {} B, {} queue(s) x qd {}, {}% read, {} IOs in {:.3} s: {:.0} IOPS, {:.1} MiB/s",
                dev.bdf,
                size,
                n.io_queue_count(),
                qd.min(n.io_queue_depth()),
                read_pct,
                stats.ios,
                secs,
                iops,
                iops * size as f64 / (1024.0 * 1024.0)
            );
            out!(
                "latency us: p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
                pct(&l, 50.0),
                pct(&l, 90.0),
                pct(&l, 99.0),
                pct(&l, 99.9),
                pct(&l, 100.0)
            );
            out!(
                "cpu: {:.3} s ({:.2} us per IO, {:.0}% of one core), {}",
                cpu.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / stats.ios as f64,
                100.0 * cpu.as_secs_f64() / secs,
                if n.interrupt_vectors() > 0 {
                    "MSI-X"
                } else {
                    "polling"
                }
            );
            if let Some(sys) = sys {
                out!(
                    "system cpu: {:.2} s busy ({:.2} us per IO)",
                    sys.as_secs_f64(),
                    sys.as_secs_f64() * 1e6 / stats.ios as f64
                );
            }
            Ok(())
        }
        NvmeCmd::Verify { dev, mib, seed } => {
            if mib == 0 || mib > 4096 {
                return Err(usage("--mib must be 1..4096"));
            }
            let mut n = open(&dev)?;
            let ns = n.namespace().map_err(failed)?.clone();
            let bs = ns.block_size as usize;
            let total = mib * 1024 * 1024;
            if (total / bs) as u64 > ns.blocks {
                return Err(usage(format!(
                    "--mib {mib}: namespace holds {} blocks",
                    ns.blocks
                )));
            }
            let max = (128 * 1024).min(n.max_transfer());
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut pattern = vec![0u8; total];
            rng.fill_bytes(&mut pattern);
            // Cut the range into random 4 KiB-multiple pieces up to 128 KiB.
            let mut jobs = Vec::new();
            let mut off = 0usize;
            while off < total {
                let len = (rng.gen_range(1..=max / 4096) * 4096).min(total - off);
                jobs.push(Job {
                    write: true,
                    lba: (off / bs) as u64,
                    blocks: (len / bs) as u32,
                    off,
                });
                off += len;
            }
            let depths = [1usize, 2, 4, 8, 16, 32];
            let t = Instant::now();
            // Write, with the queue depth changing every slice of jobs.
            let per = jobs.len().div_ceil(depths.len());
            for (i, chunk) in jobs.chunks(per).enumerate() {
                let mut it = chunk.iter().copied();
                run_engine(
                    &mut n,
                    depths[i],
                    max,
                    || it.next(),
                    Some(&pattern),
                    None,
                    None,
                )?;
            }
            // Read back in a different order with depths reversed.
            let mut back = vec![0u8; total];
            let mut rjobs: Vec<Job> = jobs.iter().map(|j| Job { write: false, ..*j }).collect();
            rjobs.reverse();
            for (i, chunk) in rjobs.chunks(per).enumerate() {
                let mut it = chunk.iter().copied();
                run_engine(
                    &mut n,
                    depths[depths.len() - 1 - i],
                    max,
                    || it.next(),
                    None,
                    Some(&mut back),
                    None,
                )?;
            }
            if let Some(i) = (0..total).find(|&i| back[i] != pattern[i]) {
                return Err(failed(format!(
                    "verify: mismatch at byte {i} (LBA {})",
                    i / bs
                )));
            }
            out!(
                "verify {}: {} MiB in {} commands of 4..{} KiB, qd 1..32 over {} queue(s), {}: OK in {:.2} s",
                dev.bdf,
                mib,
                jobs.len() * 2,
                max / 1024,
                n.io_queue_count(),
                if n.interrupt_vectors() > 0 { "MSI-X" } else { "polling" },
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        NvmeCmd::Reset { dev } => {
            let mut n = open(&dev)?;
            let bs = n.namespace().map_err(failed)?.block_size as usize;
            let data: Vec<u8> = (0..8 * bs as u32).map(|i| (i * 13 + 1) as u8).collect();
            n.write(0, 8, &data).map_err(failed)?;
            n.flush(0).map_err(failed)?;
            let t = Instant::now();
            n.function_reset().map_err(failed)?;
            let took = t.elapsed();
            let mut back = vec![0u8; data.len()];
            n.read(n.io_queue_count() - 1, 8, &mut back)
                .map_err(failed)?;
            if back != data {
                return Err(failed("data changed across the function reset"));
            }
            out!(
                "reset {}: FLR + bring-up in {:.1} ms, {} I/O queues, data intact",
                dev.bdf,
                took.as_secs_f64() * 1e3,
                n.io_queue_count()
            );
            Ok(())
        }
        NvmeCmd::BadDma { dev } => {
            let mut n = open(&dev)?;
            let good = n.alloc_buffer(16 * 1024).map_err(failed)?;
            let bad = n.unmapped_iova();
            // (a) 12 KiB read whose PRP2 (the PRP list pointer) is an
            // unmapped IOVA: the controller's own list fetch faults.
            let mut a = Sqe::new(0x02);
            a.prp1 = good.iova;
            a.prp2 = bad;
            a.cdw12 = 23; // 24 blocks of 512 B
            let list = bad_dma_one(&mut n, a)?;
            let list_ok = list.starts_with("device status");
            // (b) read whose data PRP1 is unmapped: the IOMMU blocks the
            // data write; whether the device reports it is device-specific.
            let mut b = Sqe::new(0x02);
            b.prp1 = bad;
            b.cdw12 = 7;
            let data_outcome = bad_dma_one(&mut n, b)?;
            // The driver and queue still work.
            let data: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
            n.write(0, 0, &data).map_err(failed)?;
            let mut back = vec![0u8; 4096];
            n.read(0, 0, &mut back).map_err(failed)?;
            if back != data {
                return Err(failed("I/O after the DMA fault read back wrong data"));
            }
            out!("bad-dma {}: PRP list at unmapped IOVA -> {list}", dev.bdf);
            out!(
                "bad-dma {}: data PRP at unmapped IOVA -> {data_outcome}",
                dev.bdf
            );
            out!("bad-dma {}: I/O afterwards OK", dev.bdf);
            if !list_ok {
                return Err(failed("a PRP list at an unmapped IOVA did not fail"));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4096").ok(), Some(4096));
        assert_eq!(parse_size("4k").ok(), Some(4096));
        assert_eq!(parse_size("128K").ok(), Some(131072));
        assert_eq!(parse_size("1m").ok(), Some(1 << 20));
        for bad in ["", "0", "3x", "k", "-4k"] {
            assert!(
                matches!(parse_size(bad), Err(CliError::Usage(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn cpu_time_advances() {
        let a = cpu_time();
        let mut x = 0u64;
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(cpu_time() > a, "{x}");
    }
}
