//! Pin-based (INTx) interrupts of the whole card through the platform (the
//! hard IP model): a VF whose MSI-X Enable is 0 interrupts by INTx, as the
//! stock Linux nvme driver expects of a function without MSI-X.
//!
//! Rules checked: NVMe 1.4 §7.5.1 (a vector's IS bit is set while a CQ with
//! IEN = 1 mapped to it holds unconsumed entries, and clears when the CQ
//! head doorbells catch up with the controller's tail), §3.1.3 / §3.1.4
//! (INTMS masks, INTMC unmasks), PCI Local Bus 3.0 §6.2.2 / §6.2.3
//! (Command.Interrupt Disable gates the pin; Status.Interrupt Status shows
//! the pending interrupt whatever Interrupt Disable says), PCIe 4.0 §7.7.2.2
//! (a function with MSI-X enabled uses MSI-X only, one with it disabled sends
//! no MSI-X message). Identify CNS 03h (§5.15.2.4) through the whole card.
#![cfg(nsim_top_card)]

mod common;
use common::{cfg16, enable_pf, enable_vfs, mbox};

use nitrous_regmap::mailbox::{Op, Status};
use nitrous_regmap::{pci, MSIX_TABLE_OFFSET};
use nitrous_sim::platform::config::{
    CMD_BUS_MASTER, CMD_INTX_DISABLE, COMMAND, MSIX_CTRL, MSIX_ENABLE, STATUS, STATUS_INTX,
};
use nitrous_sim::platform::{card_platform, MemStore, Platform, PlatformConfig, VecMemory};
use std::sync::Arc;

/// Host memory of each VF, mapped at IOVA 0.
const MEM: usize = 1 << 20;
const ASQ: u64 = 0x1_0000;
const ACQ: u64 = 0x2_0000;
const IOSQ: u64 = 0x3_0000;
const IOCQ: u64 = 0x4_0000;
const BUF: u64 = 0x8_0000;
const ENTRIES: u16 = 8;

fn status(p: &Platform, func: u8) -> u16 {
    let mut b = [0u8; 2];
    p.config_read(func, STATUS, &mut b).unwrap();
    u16::from_le_bytes(b)
}

/// One VF's NVMe host state: rings in its own memory.
struct Host {
    mem: Arc<VecMemory>,
    sq_tail: [u16; 2],
    cq_head: [u16; 2],
    phase: [bool; 2],
    cid: u16,
}

impl Host {
    fn rd32(&self, a: u64) -> u32 {
        let mut b = [0u8; 4];
        nitrous_sim::platform::HostMemory::read(&*self.mem, a as usize, &mut b);
        u32::from_le_bytes(b)
    }
    fn write(&self, a: u64, d: &[u8]) {
        nitrous_sim::platform::HostMemory::write(&*self.mem, a as usize, d);
    }
    fn bytes(&self, a: u64, n: usize) -> Vec<u8> {
        let mut b = vec![0u8; n];
        nitrous_sim::platform::HostMemory::read(&*self.mem, a as usize, &mut b);
        b
    }
}

struct Rig {
    p: Platform,
    hosts: Vec<Option<Host>>,
}

impl Rig {
    /// PF + 4 VFs; VFs 1 and 2 provisioned, enabled, bus masters, NVMe
    /// controllers enabled with an admin queue pair.
    fn new() -> Rig {
        let mut p =
            card_platform(PlatformConfig::default(), Box::new(MemStore::new(1 << 24))).unwrap();
        enable_pf(&mut p);
        enable_vfs(&mut p, 4);
        assert_eq!(mbox(&mut p, Op::LoadKey, 0, 0, &[]).0, Status::Ok);
        let mut hosts = vec![None, None, None, None, None];
        for f in [1u8, 2] {
            let base = 0x10_0000 * f as u32;
            assert_eq!(
                mbox(&mut p, Op::Provision, f, 0, &[256, 0, 9, base, 0]).0,
                Status::Ok
            );
            assert_eq!(mbox(&mut p, Op::BindKey, f, 0, &[]).0, Status::Ok);
            assert_eq!(mbox(&mut p, Op::Enable, f, 0, &[]).0, Status::Ok);
            cfg16(&mut p, f, COMMAND, CMD_BUS_MASTER);
            let mem = Arc::new(VecMemory::new(MEM));
            p.iommu_map(f, 0, mem.clone()).unwrap();
            hosts[f as usize] = Some(Host {
                mem,
                sq_tail: [0; 2],
                cq_head: [0; 2],
                phase: [true; 2],
                cid: 0,
            });
        }
        let mut r = Rig { p, hosts };
        for f in [1u8, 2] {
            r.enable(f);
        }
        r
    }

    fn host(&self, f: u8) -> &Host {
        self.hosts[f as usize].as_ref().unwrap()
    }

    fn enable(&mut self, f: u8) {
        let e = ENTRIES as u32 - 1;
        let p = &mut self.p;
        p.bar_write32(f, 0, 0x24, e | e << 16).unwrap();
        p.bar_write32(f, 0, 0x28, ASQ as u32).unwrap();
        p.bar_write32(f, 0, 0x2c, 0).unwrap();
        p.bar_write32(f, 0, 0x30, ACQ as u32).unwrap();
        p.bar_write32(f, 0, 0x34, 0).unwrap();
        p.bar_write32(f, 0, 0x14, 0x0046_0001).unwrap();
        for _ in 0..100 {
            if p.bar_read32(f, 0, 0x1c).unwrap() & 1 == 1 {
                return;
            }
        }
        panic!("VF {f}: CSTS.RDY never set");
    }

    /// Writes an SQE on queue `q` (0 admin, 1 I/O) and rings its doorbell.
    fn submit(&mut self, f: u8, q: usize, mut sqe: [u32; 16]) {
        let h = self.hosts[f as usize].as_mut().unwrap();
        h.cid += 1;
        sqe[0] |= (h.cid as u32) << 16;
        let base = if q == 0 { ASQ } else { IOSQ };
        let a = base + 64 * h.sq_tail[q] as u64;
        let b: Vec<u8> = sqe.iter().flat_map(|d| d.to_le_bytes()).collect();
        h.write(a, &b);
        h.sq_tail[q] = (h.sq_tail[q] + 1) % ENTRIES;
        let t = h.sq_tail[q];
        self.p
            .bar_write32(f, 0, 0x1000 + 8 * q as u64, t as u32)
            .unwrap();
    }

    /// Status of the entry at offset `k` from the CQ head once posted.
    fn posted(&mut self, f: u8, q: usize, k: u16) -> u16 {
        let base = if q == 0 { ACQ } else { IOCQ };
        for _ in 0..20_000 {
            let h = self.host(f);
            let idx = (h.cq_head[q] + k) % ENTRIES;
            let phase = h.phase[q] ^ (h.cq_head[q] + k >= ENTRIES);
            let dw3 = h.rd32(base + 16 * idx as u64 + 12);
            if (dw3 >> 16 & 1 == 1) == phase {
                return (dw3 >> 17 & 0x7ff) as u16;
            }
            self.p.step();
        }
        panic!("VF {f} CQ {q}: entry {k} never posted");
    }

    /// Consumes `n` entries of CQ `q`: head doorbell.
    fn consume(&mut self, f: u8, q: usize, n: u16) {
        let h = self.hosts[f as usize].as_mut().unwrap();
        let nh = h.cq_head[q] + n;
        if nh >= ENTRIES {
            h.phase[q] = !h.phase[q];
        }
        h.cq_head[q] = nh % ENTRIES;
        let v = h.cq_head[q];
        self.p
            .bar_write32(f, 0, 0x1004 + 8 * q as u64, v as u32)
            .unwrap();
    }

    /// A command on queue `q`, waited for and consumed; its status.
    fn cmd(&mut self, f: u8, q: usize, sqe: [u32; 16]) -> u16 {
        self.submit(f, q, sqe);
        let st = self.posted(f, q, 0);
        self.consume(f, q, 1);
        st
    }

    /// Lets a change reach the pin (front refresh + platform sampling).
    fn settle(&mut self) {
        self.p.run(40);
    }
}

fn sqe(opc: u8, nsid: u32, prp1: u64, cdw10: u32, cdw11: u32) -> [u32; 16] {
    let mut e = [0u32; 16];
    e[0] = opc as u32;
    e[1] = nsid;
    e[6] = prp1 as u32;
    e[7] = (prp1 >> 32) as u32;
    e[10] = cdw10;
    e[11] = cdw11;
    e
}

const ABORT: u8 = 0x08;
const FLUSH: u8 = 0x00;

#[test]
fn intx_follows_unconsumed_completions_with_msix_disabled() {
    let mut r = Rig::new();
    r.settle();
    for f in 0..=4 {
        assert!(!r.p.intx(f), "function {f} before any completion");
    }
    assert_eq!(status(&r.p, 1) & STATUS_INTX, 0);

    // An admin completion on VF 1: INTx asserted, Interrupt Status set.
    r.submit(1, 0, sqe(ABORT, 0, 0, 0, 0));
    assert_eq!(r.posted(1, 0, 0), 0);
    r.settle();
    assert!(r.p.intx(1), "VF 1 INTx");
    assert_eq!(r.p.intx_assertions(1), 1);
    assert_ne!(status(&r.p, 1) & STATUS_INTX, 0, "Status.Interrupt Status");
    assert!(!r.p.intx(2), "VF 2 untouched");
    assert_eq!(status(&r.p, 2) & STATUS_INTX, 0);

    // INTMS vector 0 masks it while pending; INTMC asserts it again.
    r.p.bar_write32(1, 0, 0x0c, 1).unwrap();
    r.settle();
    assert!(!r.p.intx(1), "masked by INTMS");
    assert_eq!(status(&r.p, 1) & STATUS_INTX, 0);
    r.p.bar_write32(1, 0, 0x10, 1).unwrap();
    r.settle();
    assert!(r.p.intx(1), "unmasked by INTMC");
    assert_eq!(r.p.intx_assertions(1), 2);

    // Command.Interrupt Disable gates the pin, not the status.
    cfg16(&mut r.p, 1, COMMAND, CMD_BUS_MASTER | CMD_INTX_DISABLE);
    r.settle();
    assert!(!r.p.intx(1), "Interrupt Disable");
    assert_ne!(status(&r.p, 1) & STATUS_INTX, 0, "still pending");
    cfg16(&mut r.p, 1, COMMAND, CMD_BUS_MASTER);
    r.settle();
    assert!(r.p.intx(1));
    assert_eq!(r.p.intx_assertions(1), 3);

    // The CQ head doorbell reaching the tail deasserts it.
    r.consume(1, 0, 1);
    r.settle();
    assert!(!r.p.intx(1), "consumed");
    assert_eq!(status(&r.p, 1) & STATUS_INTX, 0);

    // Linux in INTx mode: an I/O CQ with IEN = 1 on vector 0.
    let st = r.cmd(1, 0, sqe(0x05, 0, IOCQ, 1 | 7 << 16, 0x3));
    assert_eq!(st, 0, "create I/O CQ 1, IEN, IV 0");
    let st = r.cmd(1, 0, sqe(0x01, 0, IOSQ, 1 | 7 << 16, 0x1 | 1 << 16));
    assert_eq!(st, 0, "create I/O SQ 1");
    r.settle();
    assert!(!r.p.intx(1), "admin completions consumed");
    let before = r.p.intx_assertions(1);
    r.submit(1, 1, sqe(FLUSH, 1, 0, 0, 0));
    r.submit(1, 1, sqe(FLUSH, 1, 0, 0, 0));
    assert_eq!(r.posted(1, 1, 0), 0);
    assert_eq!(r.posted(1, 1, 1), 0);
    r.settle();
    assert!(r.p.intx(1));
    r.consume(1, 1, 1);
    r.settle();
    assert!(r.p.intx(1), "one entry still unconsumed");
    r.consume(1, 1, 1);
    r.settle();
    assert!(!r.p.intx(1));
    assert_eq!(
        r.p.intx_assertions(1),
        before + 1,
        "a level, not a pulse per entry"
    );

    // No MSI-X message was sent or refused while MSI-X was disabled.
    assert_eq!(r.p.irq_total(), 0);
    assert!(r.p.msix_errors().is_empty(), "{:?}", r.p.msix_errors());
    assert!(!r.p.intx(2) && r.p.intx_assertions(2) == 0);
    assert!(r.p.faults().is_empty(), "{:?}", r.p.faults());

    // An FLR while pending drops the pin.
    r.submit(1, 0, sqe(ABORT, 0, 0, 0, 0));
    r.posted(1, 0, 0);
    r.settle();
    assert!(r.p.intx(1));
    r.p.flr(1);
    assert!(!r.p.intx(1), "FLR");
    r.p.run(200);
    assert!(!r.p.intx(1), "after FLR");
    assert_eq!(status(&r.p, 1) & STATUS_INTX, 0);
}

#[test]
fn msix_enabled_function_never_uses_intx() {
    let mut r = Rig::new();
    // VF 2: vector 0 programmed and unmasked, MSI-X enabled.
    let t = MSIX_TABLE_OFFSET as u64;
    r.p.bar_write32(2, 0, t, 0xfee0_2000).unwrap();
    r.p.bar_write32(2, 0, t + 4, 0).unwrap();
    r.p.bar_write32(2, 0, t + 8, 0x42).unwrap();
    r.p.bar_write32(2, 0, t + 12, 0).unwrap();
    cfg16(&mut r.p, 2, pci::CAP_MSIX as u16 + MSIX_CTRL, MSIX_ENABLE);
    r.submit(2, 0, sqe(ABORT, 0, 0, 0, 0));
    r.posted(2, 0, 0);
    r.settle();
    assert_eq!(r.p.irq_count(2, 0), 1, "MSI-X message");
    assert!(!r.p.intx(2), "no INTx with MSI-X enabled");
    assert_eq!(r.p.intx_assertions(2), 0);
    assert_eq!(status(&r.p, 2) & STATUS_INTX, 0);
    assert!(r.p.msix_errors().is_empty(), "{:?}", r.p.msix_errors());
    // Disabling MSI-X with the entry still unconsumed: INTx takes over
    // (the IS bit is still set), and the next completion sends no message.
    cfg16(&mut r.p, 2, pci::CAP_MSIX as u16 + MSIX_CTRL, 0);
    r.settle();
    assert!(r.p.intx(2), "pending entry, MSI-X now disabled");
    r.consume(2, 0, 1);
    r.settle();
    assert!(!r.p.intx(2));
    assert_eq!(r.cmd(2, 0, sqe(ABORT, 0, 0, 0, 0)), 0);
    r.settle();
    assert_eq!(r.p.irq_count(2, 0), 1, "no message while disabled");
    assert!(r.p.msix_errors().is_empty(), "{:?}", r.p.msix_errors());
    assert_eq!(r.p.intx_assertions(2), 2);
    assert_eq!(r.p.intx_assertions(1), 0);
}

#[test]
fn identify_ns_descriptor_list_through_the_card() {
    let mut r = Rig::new();
    let mut nguids = Vec::new();
    for f in [1u8, 2] {
        assert_eq!(r.cmd(f, 0, sqe(0x06, 1, BUF, 3, 0)), 0, "CNS 03h");
        let d = r.host(f).bytes(BUF, 4096);
        assert_eq!(
            (d[0], d[1], d[2], d[3]),
            (0x02, 16, 0, 0),
            "NIDT NGUID, NIDL 16"
        );
        assert!(d[20..].iter().all(|&b| b == 0));
        assert_eq!(r.cmd(f, 0, sqe(0x06, 1, BUF + 0x1000, 0, 0)), 0, "CNS 00h");
        let ns = r.host(f).bytes(BUF + 0x1000, 4096);
        assert_eq!(&d[4..20], &ns[104..120], "NGUID consistent with CNS 00h");
        assert!(d[4..20].iter().any(|&b| b != 0));
        // Invalid Namespace or Format (SCT 0, SC 0Bh).
        assert_eq!(r.cmd(f, 0, sqe(0x06, 2, BUF, 3, 0)), 0x00b);
        nguids.push(d[4..20].to_vec());
    }
    assert_ne!(nguids[0], nguids[1]);
}
