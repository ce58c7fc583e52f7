//! Driver robustness against a misbehaving controller (no hardware):
//! every fault becomes an error within the command timeout, and a
//! controller reset brings the driver back to working I/O.

use nitrous_driver::fake::{FakeHandle, FakeNvme, Faults};
use nitrous_driver::nvme::{IoOp, Nvme, Options, Sqe, StatusCode};
use nitrous_driver::Error;
use rand::{RngCore, SeedableRng};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_millis(200);

fn bring_up(interrupts: bool) -> (Nvme<FakeNvme>, FakeHandle) {
    let (dev, h) = FakeNvme::new(8192);
    let opts = Options {
        io_queues: 2,
        queue_size: 16,
        interrupts,
        cmd_timeout: TIMEOUT,
    };
    (Nvme::new(dev, opts).expect("bring-up"), h)
}

fn roundtrip(n: &mut Nvme<FakeNvme>, q: usize, lba: u64, len: usize, seed: u64) {
    let mut data = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    n.write(q, lba, &data).expect("write");
    let mut back = vec![0u8; len];
    n.read(q, lba, &mut back).expect("read");
    assert!(back == data, "read-back mismatch at lba {lba} len {len}");
}

#[test]
fn identify_and_queues() {
    let (n, _h) = bring_up(true);
    assert_eq!(n.controller().vid, 0x1b36);
    assert_eq!(n.controller().model, "nitrous fault-injecting nvme");
    assert_eq!(n.controller().mdts, 5);
    assert_eq!(n.max_transfer(), 128 * 1024);
    assert_eq!(n.active_namespaces(), &[1]);
    let ns = n.namespace().unwrap();
    assert_eq!((ns.nsid, ns.blocks, ns.block_size), (1, 8192, 512));
    assert_eq!(n.io_queue_count(), 2);
    assert_eq!(n.io_queue_depth(), 15);
    assert_eq!(n.interrupt_vectors(), 3);
}

#[test]
fn data_roundtrip_prp_shapes_both_modes() {
    for irq in [true, false] {
        let (mut n, h) = bring_up(irq);
        // 512 B (PRP1 only), 8 KiB (PRP2 page), 128 KiB (PRP list), 1 MiB
        // (split into MDTS-sized commands).
        for (i, len) in [512usize, 4096, 8192, 12288, 128 * 1024, 1024 * 1024]
            .iter()
            .enumerate()
        {
            roundtrip(&mut n, i % 2, (i * 37) as u64, *len, i as u64);
        }
        // The data really reached the backing store.
        let mut d = vec![0u8; 512];
        n.read(0, 0, &mut d).unwrap();
        assert_eq!(h.storage(0, 512), d);
    }
}

#[test]
fn queue_depth_batches_one_doorbell() {
    let (mut n, _h) = bring_up(true);
    let bs = 512usize;
    let buf = n.alloc_buffer(16 * 4096).unwrap();
    let mut expect = vec![0u8; 16 * 4096];
    rand::rngs::StdRng::seed_from_u64(7).fill_bytes(&mut expect);
    buf.region.write(0, &expect).unwrap();
    for i in 0..15u64 {
        n.submit(
            0,
            IoOp::Write {
                lba: i * 8,
                blocks: 8,
            },
            &buf,
            i as usize * 4096,
            i,
        )
        .unwrap();
    }
    // The 16th does not fit a 16-entry queue.
    assert!(matches!(
        n.submit(0, IoOp::Write { lba: 0, blocks: 8 }, &buf, 0, 99),
        Err(Error::QueueFull(_))
    ));
    n.ring(0).unwrap();
    let mut done = Vec::new();
    while done.len() < 15 {
        n.wait(0, &mut done).unwrap();
    }
    let mut tags: Vec<u64> = done.iter().map(|c| c.tag).collect();
    tags.sort();
    assert_eq!(tags, (0..15).collect::<Vec<_>>());
    assert!(done.iter().all(|c| c.result.is_ok()));
    let mut back = vec![0u8; 15 * 4096];
    n.read(1, 0, &mut back).unwrap();
    assert!(back[..] == expect[..15 * 4096]);
    let _ = bs;
}

#[test]
fn write_zeroes_and_flush() {
    let (mut n, _h) = bring_up(true);
    n.write(0, 10, &[0xabu8; 2048]).unwrap();
    n.write_zeroes(0, 11, 2).unwrap();
    n.flush(0).unwrap();
    let mut d = vec![0u8; 2048];
    n.read(0, 10, &mut d).unwrap();
    assert!(d[..512].iter().all(|&b| b == 0xab));
    assert!(d[512..1536].iter().all(|&b| b == 0));
    assert!(d[1536..].iter().all(|&b| b == 0xab));
}

fn expect_recover(n: &mut Nvme<FakeNvme>, h: &FakeHandle) {
    n.reset().expect("reset");
    roundtrip(n, 0, 100, 16384, 3);
    roundtrip(n, 1, 200, 4096, 4);
    assert_eq!(h.csts() & 2, 0, "CFS cleared");
}

#[test]
fn timed_out_command_is_an_error_then_reset_recovers() {
    let (mut n, h) = bring_up(true);
    h.set_faults(Faults {
        drop_next_io: true,
        ..Default::default()
    });
    let t = Instant::now();
    let mut d = vec![0u8; 4096];
    let e = n.read(0, 0, &mut d).unwrap_err();
    assert!(
        matches!(
            e,
            Error::CommandTimeout {
                qid: 1,
                opcode: 0x02,
                ..
            }
        ),
        "{e}"
    );
    assert!(t.elapsed() < TIMEOUT * 5, "took {:?}", t.elapsed());
    // The queue refuses work until reset.
    assert!(matches!(n.read(0, 0, &mut d), Err(Error::QueueBroken(1))));
    expect_recover(&mut n, &h);
}

#[test]
fn controller_fatal_status_is_an_error_then_reset_recovers() {
    for irq in [true, false] {
        let (mut n, h) = bring_up(irq);
        h.set_faults(Faults {
            cfs_on_next_io: true,
            ..Default::default()
        });
        let e = n.write(1, 0, &[1u8; 512]).unwrap_err();
        assert!(matches!(e, Error::ControllerFatal), "{e}");
        expect_recover(&mut n, &h);
    }
}

#[test]
fn unknown_cid_completion_is_an_error_then_reset_recovers() {
    let (mut n, h) = bring_up(true);
    h.set_faults(Faults {
        unknown_cid_next_io: true,
        ..Default::default()
    });
    let e = n.write(0, 0, &[1u8; 512]).unwrap_err();
    assert!(matches!(e, Error::UnknownCid { qid: 1, .. }), "{e}");
    assert!(matches!(
        n.write(0, 0, &[1u8; 512]),
        Err(Error::QueueBroken(1))
    ));
    // The other queue is unaffected.
    roundtrip(&mut n, 1, 0, 4096, 9);
    expect_recover(&mut n, &h);
}

#[test]
fn completion_naming_another_sq_is_an_error_then_reset_recovers() {
    let (mut n, h) = bring_up(true);
    h.set_faults(Faults {
        wrong_sqid_next_io: true,
        ..Default::default()
    });
    let e = n.write(0, 0, &[1u8; 512]).unwrap_err();
    assert!(matches!(e, Error::BadCompletion { qid: 1, .. }), "{e}");
    expect_recover(&mut n, &h);
}

#[test]
fn bad_phase_completion_is_an_error_then_reset_recovers() {
    let (mut n, h) = bring_up(false);
    h.set_faults(Faults {
        bad_phase_next_io: true,
        ..Default::default()
    });
    let mut d = vec![0u8; 512];
    let e = n.read(1, 0, &mut d).unwrap_err();
    assert!(matches!(e, Error::CommandTimeout { qid: 2, .. }), "{e}");
    expect_recover(&mut n, &h);
}

#[test]
fn unmapped_iova_is_a_data_transfer_error_and_queue_survives() {
    let (mut n, h) = bring_up(true);
    let mut c = Sqe::new(0x02);
    c.prp1 = n.unmapped_iova();
    c.cdw12 = 7;
    n.submit_raw(0, c, 1).unwrap();
    n.ring(0).unwrap();
    let mut out = Vec::new();
    n.wait(0, &mut out).unwrap();
    let st = out[0].result.unwrap_err();
    assert_eq!(st.code, StatusCode::DataTransferError);
    // No reset needed: the same queue keeps working.
    roundtrip(&mut n, 0, 0, 8192, 5);
    assert_eq!(h.resets(), 0);
}

#[test]
fn device_status_decoded_lba_out_of_range() {
    let (mut n, _h) = bring_up(true);
    let buf = n.alloc_buffer(4096).unwrap();
    let mut c = Sqe::new(0x02);
    c.prp1 = buf.iova;
    c.cdw10 = 8190;
    c.cdw12 = 7;
    n.submit_raw(1, c, 0).unwrap();
    n.ring(1).unwrap();
    let mut out = Vec::new();
    n.wait(1, &mut out).unwrap();
    assert_eq!(out[0].result.unwrap_err().code, StatusCode::LbaOutOfRange);
    // The driver's own range check refuses before the device sees it.
    assert!(matches!(
        n.submit(
            1,
            IoOp::Read {
                lba: 8190,
                blocks: 8
            },
            &buf,
            0,
            0
        ),
        Err(Error::Invalid(_))
    ));
    // Too large for MDTS.
    let big = n.alloc_buffer(256 * 1024).unwrap();
    assert!(matches!(
        n.submit(
            1,
            IoOp::Read {
                lba: 0,
                blocks: 512
            },
            &big,
            0,
            0
        ),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn never_ready_is_a_bounded_error() {
    let (dev, h) = FakeNvme::new(64);
    h.set_faults(Faults {
        never_ready: true,
        ..Default::default()
    });
    let t = Instant::now();
    let e = Nvme::new(dev, Options::default()).err().expect("must fail");
    assert!(
        matches!(e, Error::ReadyTimeout { want: "ready", .. }),
        "{e}"
    );
    // CAP.TO = 1 -> 500 ms.
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn shutdown_on_drop_and_mappings_released() {
    let (n, h) = bring_up(true);
    assert!(h.mappings() > 0);
    assert_eq!(h.io_queues(), 4);
    drop(n);
    assert_eq!(h.io_queues(), 0, "I/O queues deleted before shutdown");
    assert_eq!(h.cc() & (3 << 14), 1 << 14, "CC.SHN = normal");
    assert_eq!(h.csts() & (3 << 2), 2 << 2, "CSTS.SHST = complete");
    assert_eq!(h.mappings(), 0);
}

#[test]
fn function_reset_rebuilds_queues_and_keeps_data() {
    let (mut n, h) = bring_up(true);
    let data = vec![0x5au8; 8192];
    n.write(1, 40, &data).unwrap();
    let maps = h.mappings();
    n.function_reset().unwrap();
    assert_eq!(h.resets(), 1);
    assert_eq!(h.mappings(), maps, "old queue memory unmapped, new mapped");
    let mut back = vec![0u8; 8192];
    n.read(0, 40, &mut back).unwrap();
    assert_eq!(back, data);
}
