//! Issue 4 §7: the project's own NVMe driver and PF manager against the
//! simulated card (Verilator `card` top inside the platform model), exactly
//! as on a real host: SR-IOV enable through config space, provisioning
//! through the PF mailbox, the unchanged NVMe driver on every VF.
//!
//! Golden model for the backend: RustCrypto `xts-mode` (IEEE 1619, tweak =
//! namespace LBA, data unit = one LBA). Every random choice is seeded, so a
//! failure reproduces; `NITROUS_LONG=1` scales the volumes up.

use nitrous_driver::nvme::{IoOp, Nvme, Options, Sqe, StatusCode};
use nitrous_driver::sim::{SimCard, SimFunction};
use nitrous_driver::DmaBuf;
use nitrous_host_tests::xts;
use nitrous_regmap::mailbox::Counter;
use nitrous_sim::platform::{card_platform, MemStore, PlatformConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

const VFS: u8 = 4;
/// Namespace sizes: VFs alternate 512 B and 4 KiB LBAs, 2 MiB each.
const NS_BYTES: u64 = 2 << 20;

fn long() -> bool {
    std::env::var_os("NITROUS_LONG").is_some()
}

fn key(vf: u8) -> [u8; 64] {
    std::array::from_fn(|j| (j as u8).wrapping_mul(29) ^ vf.wrapping_mul(101))
}

fn shift(vf: u8) -> u8 {
    if vf % 2 == 1 {
        9
    } else {
        12
    }
}

fn opts(queues: u16) -> Options {
    Options {
        io_queues: queues,
        queue_size: 32,
        interrupts: true,
        cmd_timeout: Duration::from_secs(900),
    }
}

/// A card with 4 provisioned, enabled VFs and a driver on each.
struct Rig {
    card: SimCard,
    devs: Vec<Nvme<SimFunction>>,
}

fn base(vf: u8) -> u64 {
    (vf as u64 - 1) * NS_BYTES
}

fn rig(queues: u16) -> Rig {
    let p = card_platform(
        PlatformConfig::default(),
        Box::new(MemStore::new(VFS as u64 * NS_BYTES)),
    )
    .expect("this build has the card model");
    let card = SimCard::new(p);
    let pf = card.pf().unwrap();
    pf.enable_vfs(VFS as u16).unwrap();
    for vf in 1..=VFS {
        pf.setup_vf(vf, NS_BYTES >> shift(vf), shift(vf), base(vf), &key(vf))
            .unwrap();
    }
    let devs = (1..=VFS)
        .map(|vf| Nvme::new(card.function(vf).unwrap(), opts(queues)).unwrap())
        .collect();
    Rig { card, devs }
}

/// One outstanding command of the concurrent workload.
struct Io {
    vf: usize,
    op: IoOp,
    off: usize,
    len: usize,
}

/// Runs `ios` on all VFs at once from one thread: submit everything
/// (spread over the queues), ring each queue once, reap round-robin.
fn run_batch(r: &mut Rig, bufs: &[DmaBuf], ios: &[Io], queues: usize) {
    for (i, io) in ios.iter().enumerate() {
        let q = i % queues;
        r.devs[io.vf]
            .submit(q, io.op, &bufs[io.vf], io.off, i as u64)
            .unwrap();
    }
    for d in r.devs.iter_mut() {
        for q in 0..queues {
            d.ring(q).unwrap();
        }
    }
    let mut left = ios.len();
    let mut out = Vec::new();
    let mut idle = 0;
    while left > 0 {
        let mut got = 0;
        for d in r.devs.iter_mut() {
            for q in 0..queues {
                out.clear();
                d.poll(q, &mut out).unwrap();
                for c in &out {
                    let io = &ios[c.tag as usize];
                    assert!(
                        c.result.is_ok(),
                        "VF {} {:?}: {:?}",
                        io.vf + 1,
                        io.op,
                        c.result
                    );
                }
                got += out.len();
            }
        }
        left -= got;
        if got == 0 {
            idle += 1;
            assert!(idle < 2_000, "no completion for 2,000 polls ({left} left)");
            let mut pl = r.card.platform();
            let t = pl.irq_total();
            pl.run_until(512, |p| p.irq_total() != t);
        } else {
            idle = 0;
        }
    }
}

#[test]
fn four_vfs_concurrent_multiqueue_write_read_verify_and_ciphertext() {
    let queues = 4usize;
    let mut r = rig(queues as u16);
    let mut rng = ChaCha8Rng::seed_from_u64(0x4e54_5253);
    // Identify on every VF: namespace and controller as provisioned.
    for (i, d) in r.devs.iter_mut().enumerate() {
        let vf = i as u8 + 1;
        let ns = d.namespace().unwrap().clone();
        assert_eq!(ns.block_size, 1 << shift(vf));
        assert_eq!(ns.blocks, NS_BYTES >> shift(vf));
        assert_eq!(d.controller().cntlid, vf as u16);
        assert!(d.io_queue_count() >= queues);
    }
    // Shadow copy of every namespace (what the host believes it wrote).
    let mut shadow: Vec<Vec<u8>> = (0..VFS).map(|_| vec![0u8; NS_BYTES as usize]).collect();
    let mut written: Vec<Vec<bool>> = (1..=VFS)
        .map(|vf| vec![false; (NS_BYTES >> shift(vf)) as usize])
        .collect();
    let per_vf_target: u64 = if long() { 16 << 20 } else { 4 << 20 };
    let max_cmd = 128 << 10; // MDTS
    let per_batch = 6; // commands per VF per batch
    let bufs: Vec<DmaBuf> = r
        .devs
        .iter_mut()
        .map(|d| d.alloc_buffer(per_batch * max_cmd).unwrap())
        .collect();
    let mut total = 0u64;
    let mut done_per_vf = 0u64;
    while done_per_vf < per_vf_target {
        // Writes: random offsets and sizes, non-overlapping within a batch.
        let mut ios = Vec::new();
        let mut batch_bytes = 0;
        for v in 0..VFS as usize {
            let bs = 1usize << shift(v as u8 + 1);
            let mut taken: Vec<(u64, u64)> = Vec::new();
            for k in 0..per_batch {
                let blocks = rng.gen_range(1..=(max_cmd / bs).min(64)) as u32;
                let nblocks = NS_BYTES / bs as u64;
                let lba = loop {
                    let l = rng.gen_range(0..=nblocks - blocks as u64);
                    if taken.iter().all(|&(a, b)| l + blocks as u64 <= a || l >= b) {
                        break l;
                    }
                };
                taken.push((lba, lba + blocks as u64));
                let len = blocks as usize * bs;
                let off = k * max_cmd;
                let data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                bufs[v].region.write(off, &data).unwrap();
                let at = lba as usize * bs;
                shadow[v][at..at + len].copy_from_slice(&data);
                for w in &mut written[v][lba as usize..lba as usize + blocks as usize] {
                    *w = true;
                }
                ios.push(Io {
                    vf: v,
                    op: IoOp::Write { lba, blocks },
                    off,
                    len,
                });
                batch_bytes += len as u64;
            }
        }
        run_batch(&mut r, &bufs, &ios, queues);
        // Read the same ranges back into zeroed buffers and compare.
        for b in &bufs {
            b.region.fill(0, b.len(), 0).unwrap();
        }
        let reads: Vec<Io> = ios
            .iter()
            .map(|io| {
                let IoOp::Write { lba, blocks } = io.op else {
                    unreachable!()
                };
                Io {
                    vf: io.vf,
                    op: IoOp::Read { lba, blocks },
                    off: io.off,
                    len: io.len,
                }
            })
            .collect();
        run_batch(&mut r, &bufs, &reads, queues);
        for io in &reads {
            let IoOp::Read { lba, .. } = io.op else {
                unreachable!()
            };
            let bs = 1usize << shift(io.vf as u8 + 1);
            let mut got = vec![0u8; io.len];
            bufs[io.vf].region.read(io.off, &mut got).unwrap();
            let at = lba as usize * bs;
            assert!(
                got == shadow[io.vf][at..at + io.len],
                "VF {} LBA {lba} x{}: read back differs",
                io.vf + 1,
                io.len / bs
            );
        }
        total += batch_bytes;
        done_per_vf += batch_bytes / VFS as u64;
    }
    assert!(total >= VFS as u64 * (4 << 20), "moved {total} bytes");
    // The backend holds exactly the XTS ciphertext of every written LBA,
    // and zeros (never plaintext) elsewhere.
    let mut pl = r.card.platform();
    for v in 0..VFS as usize {
        let vf = v as u8 + 1;
        let bs = 1usize << shift(vf);
        let mut raw = vec![0u8; NS_BYTES as usize];
        pl.backend().read(base(vf), &mut raw).unwrap();
        for (lba, w) in written[v].iter().enumerate() {
            let at = lba * bs;
            let want = if *w {
                xts(&key(vf), lba as u64, bs, &shadow[v][at..at + bs], true)
            } else {
                vec![0u8; bs]
            };
            assert!(
                raw[at..at + bs] == want[..],
                "VF {vf} LBA {lba}: backend is not the ciphertext"
            );
        }
    }
    assert!(pl.faults().is_empty(), "IOMMU faults: {:?}", pl.faults());
    eprintln!(
        "moved {} MiB through 4 VFs in {} cycles",
        total >> 20,
        pl.cycle()
    );
}

#[test]
fn flr_of_one_vf_during_io_resets_that_vf_only() {
    let mut r = rig(2);
    let bs0 = 1usize << shift(1);
    let b0 = r.devs[0].alloc_buffer(64 << 10).unwrap();
    let b1 = r.devs[1].alloc_buffer(64 << 10).unwrap();
    let data: Vec<u8> = (0..64 << 10).map(|i| (i * 7 + 3) as u8).collect();
    b0.region.write(0, &data).unwrap();
    b1.region.write(0, &data).unwrap();
    // I/O in flight on VF 1 and VF 2 ...
    let blocks0 = ((64 << 10) / bs0) as u32;
    r.devs[0]
        .submit(
            0,
            IoOp::Write {
                lba: 0,
                blocks: blocks0,
            },
            &b0,
            0,
            1,
        )
        .unwrap();
    r.devs[1]
        .submit(0, IoOp::Write { lba: 0, blocks: 16 }, &b1, 0, 2)
        .unwrap();
    r.devs[0].ring(0).unwrap();
    r.devs[1].ring(0).unwrap();
    r.card.platform().run(50);
    // ... then FLR of VF 2 (PCIe 4.0 §6.6.2, Device Control bit 15).
    r.card.platform().flr(2);
    r.card.platform().run(200);
    // VF 2's controller is back at its reset state.
    {
        let mut pl = r.card.platform();
        let cc = pl
            .bar_read32(2, 0, nitrous_regmap::nvme::CC as u64)
            .unwrap();
        let csts = pl
            .bar_read32(2, 0, nitrous_regmap::nvme::CSTS as u64)
            .unwrap();
        assert_eq!(cc & 1, 0, "VF 2 CC.EN after FLR");
        assert_eq!(csts & 1, 0, "VF 2 CSTS.RDY after FLR");
        let cc1 = pl
            .bar_read32(1, 0, nitrous_regmap::nvme::CC as u64)
            .unwrap();
        assert_eq!(cc1 & 1, 1, "VF 1 must stay enabled");
    }
    // VF 1's command completes and its data is intact.
    let mut out = Vec::new();
    r.devs[0].wait(0, &mut out).unwrap();
    assert!(out[0].result.is_ok(), "{:?}", out[0].result);
    let mut back = vec![0u8; 64 << 10];
    r.devs[0].read(1, 0, &mut back).unwrap();
    assert!(back == data, "VF 1 data after VF 2's FLR");
    // VF 2 comes back with a fresh bring-up (its queues are gone; the
    // driver's outstanding command is lost) and works.
    let d2 = &mut r.devs[1];
    d2.reset().unwrap();
    let mut b = vec![0u8; 4096];
    d2.write(0, 3, &data[..4096]).unwrap();
    d2.read(1, 3, &mut b).unwrap();
    assert_eq!(b, data[..4096]);
    // VF 3 and 4 never noticed.
    let mut b3 = vec![0u8; 512];
    r.devs[2].read(0, 0, &mut b3).unwrap();
}

#[test]
fn malformed_commands_each_complete_with_a_status() {
    let mut r = rig(1);
    let n = if long() { 100_000 } else { 10_000 };
    let mut rng = ChaCha8Rng::seed_from_u64(0x0bad_5eed);
    let d = &mut r.devs[0];
    let scratch = d.alloc_buffer(8192).unwrap();
    let unmapped = d.unmapped_iova();
    let mut statuses = std::collections::BTreeMap::<String, u32>::new();
    let mut sent = 0;
    let mut out = Vec::new();
    while sent < n {
        let burst = 16.min(n - sent);
        for k in 0..burst {
            // Opcodes around the valid ones and far from them; random
            // namespaces, LBAs, lengths, flags and pointers.
            let opcode = match rng.gen_range(0..4) {
                0 => rng.gen_range(0x00..=0x0f),
                1 => rng.gen(),
                _ => [0x01u8, 0x02, 0x08, 0x00][rng.gen_range(0..4)],
            };
            let mut c = Sqe::new(opcode);
            c.nsid = [1, 0, 2, 0xffff_ffff, rng.gen()][rng.gen_range(0..5)];
            c.prp1 = [
                scratch.iova,
                scratch.iova + 4,
                unmapped,
                rng.gen::<u64>() & !3,
            ][rng.gen_range(0..4)];
            c.prp2 = [0, scratch.iova + 4096, unmapped, rng.gen()][rng.gen_range(0..4)];
            c.cdw10 = [0, 1, rng.gen_range(0..8192), rng.gen()][rng.gen_range(0..4)];
            c.cdw11 = [0, rng.gen()][rng.gen_range(0..2)];
            c.cdw12 = [0, rng.gen_range(0..64), rng.gen()][rng.gen_range(0..3)];
            c.cdw13 = rng.gen();
            c.cdw14 = rng.gen();
            c.cdw15 = rng.gen();
            if rng.gen_range(0..8) == 0 {
                c.flags = rng.gen();
            }
            if opcode == 0x08 {
                // Write Zeroes is not bounded by MDTS: keep each one short
                // so 10,000 of them fit the test budget.
                c.cdw12 &= 0xffff_0000 | 63;
            }
            d.submit_raw(0, c, (sent + k) as u64).unwrap();
        }
        d.ring(0).unwrap();
        let mut got = 0;
        while got < burst {
            out.clear();
            d.wait(0, &mut out).unwrap();
            for c in &out {
                let k = match &c.result {
                    Ok(_) => "success".to_string(),
                    Err(s) => format!("{:?}", s.code),
                };
                *statuses.entry(k).or_default() += 1;
            }
            got += out.len();
        }
        sent += burst;
    }
    let total: u32 = statuses.values().sum();
    assert_eq!(total as usize, n, "every command completed exactly once");
    assert!(
        statuses.len() >= 5,
        "too few distinct statuses: {statuses:?}"
    );
    for want in [
        "InvalidOpcode",
        "InvalidNamespace",
        "LbaOutOfRange",
        "DataTransferError",
    ] {
        assert!(
            statuses.keys().any(|k| k.contains(want)),
            "no {want} among {statuses:?}"
        );
    }
    eprintln!("{n} random commands: {statuses:?}");
    // The controller is still live: a real write/read round trip works,
    // and the card's counters agree with what the host saw.
    let data = vec![0x5au8; 4096];
    let mut back = vec![0u8; 4096];
    d.write(0, 8, &data).unwrap();
    d.read(0, 8, &mut back).unwrap();
    assert_eq!(back, data);
    let pf = r.card.pf().unwrap();
    let served = pf.read_counter(1, Counter::Served).unwrap();
    let rejected = pf.read_counter(1, Counter::Rejected).unwrap();
    let ok = *statuses.get("success").unwrap_or(&0) as u64;
    // + admin commands of the bring-up and the final write/read.
    assert!(served >= ok + 2, "served {served} < {ok} + 2");
    assert!(rejected >= total as u64 - ok, "rejected {rejected}");
    assert!(pf.read_counter(1, Counter::DmaFaults).unwrap() > 0);
    assert_eq!(pf.read_counter(2, Counter::DmaFaults).unwrap(), 0);
    let _ = StatusCode::DataTransferError;
}

#[test]
fn flr_stops_the_dma_of_a_command_in_flight() {
    let mut r = rig(2);
    // VF 2 (4 KiB LBAs): a 128 KiB Write, which the card reads from host
    // memory through a PRP list.
    let b = r.devs[1].alloc_buffer(128 << 10).unwrap();
    b.region.write(0, &vec![0x77; 128 << 10]).unwrap();
    let before = r.card.platform().dma_bytes(2).0;
    r.devs[1]
        .submit(0, IoOp::Write { lba: 0, blocks: 32 }, &b, 0, 1)
        .unwrap();
    r.devs[1].ring(0).unwrap();
    let started = r
        .card
        .platform()
        .run_until(200_000, |p| p.dma_bytes(2).0 - before >= 8192);
    assert!(started.is_some(), "VF 2's write never started moving data");
    // FLR of VF 2 (PCIe 4.0 §6.6.2): no new requests from it afterwards;
    // requests already issued drain. The FLR also clears VF 2's Bus Master
    // Enable, so the platform faults (and logs) any request that reaches it
    // afterwards. The card may not start one: the only one allowed is a
    // request already presented at the seam when the FLR arrived (a valid
    // cannot be withdrawn), which for the mover is at most its one pending
    // 8-byte PRP-list read. Without the mover's FLR abort, the data reads
    // go on (this assertion then sees 4 KiB reads).
    assert!(r.card.platform().faults().is_empty());
    r.card.platform().flr(2);
    r.card.platform().run(2_000);
    let drained = r.card.platform().dma_bytes(2);
    {
        let pl = r.card.platform();
        let after: Vec<_> = pl.faults().iter().filter(|f| f.func == 2).collect();
        assert!(
            after.len() <= 1 && after.iter().all(|f| f.len <= 8 && !f.write),
            "VF 2 started DMA after its FLR: {after:?}"
        );
        assert!(pl.faults().iter().all(|f| f.func == 2));
    }
    r.card.platform().run(20_000);
    assert_eq!(
        r.card.platform().dma_bytes(2),
        drained,
        "VF 2 still moved data 2,000 cycles after its FLR"
    );
    let moved = drained.0 - before;
    assert!(
        moved < 64 << 10,
        "VF 2 read {moved} bytes: its write ran on after the FLR"
    );
    // The card stays usable: VF 1 works, VF 2 comes back.
    let data = vec![0x31u8; 4096];
    let mut back = vec![0u8; 4096];
    r.devs[0].write(0, 8, &data).unwrap();
    r.devs[0].read(1, 8, &mut back).unwrap();
    assert_eq!(back, data);
    r.devs[1].reset().unwrap();
    r.devs[1].write(0, 40, &data).unwrap();
    r.devs[1].read(1, 40, &mut back).unwrap();
    assert_eq!(back, data);
}
