//! The card's control plane in Verilator, driven directly at the seam
//! (docs/CARD.md): the completer router, the PF mailbox (provisioning,
//! write-only key slots, counters) and MSI-X. Register offsets and codes
//! come from `nitrous-regmap`; the expected behaviour from
//! regmap/src/mailbox.rs and PCIe 4.0 §6.1.4 / §7.7.2.
#![cfg(nsim_top_card)]

use nitrous_regmap::mailbox::{self as mb, Counter, Op, Status};
use nitrous_regmap::{CARD_ID, MSIX_PBA_OFFSET, MSIX_TABLE_OFFSET, REGMAP_VERSION};
use nitrous_sim::models::Card;
use nitrous_sim::Sim;

struct Seam {
    sim: Sim<Card>,
    /// MSI-X messages seen: (func, vector, addr, data).
    msgs: Vec<(u8, u8, u64, u32)>,
}

impl Seam {
    fn new(vf_enable: u32) -> Seam {
        let mut sim = Sim::<Card>::new().expect("card model");
        {
            let m = sim.model_mut();
            m.set_cfg_vf_enable(vf_enable);
            m.set_cfg_bus_master(vf_enable);
            // MSI-X Enable set in every function's config space.
            m.set_cfg_msix_en(vf_enable);
            m.set_mx_ready(true);
            m.set_rq_ready(true);
            m.set_wd_ready(true);
            m.set_bq_ready(true);
            m.set_bw_ready(true);
        }
        sim.apply_reset(4).unwrap();
        Seam {
            sim,
            msgs: Vec::new(),
        }
    }

    fn tick(&mut self) {
        self.sim.settle();
        let m = self.sim.model();
        if m.mx_valid() {
            self.msgs
                .push((m.mx_func(), m.mx_vector(), m.mx_addr(), m.mx_data()));
        }
        self.sim.tick();
    }

    fn access(&mut self, func: u8, bar: u8, addr: u32, write: Option<u32>) -> Option<u32> {
        {
            let m = self.sim.model_mut();
            m.set_cq_valid(true);
            m.set_cq_func(func);
            m.set_cq_bar(bar);
            m.set_cq_addr(addr as u16);
            m.set_cq_write(write.is_some());
            m.set_cq_wdata(write.unwrap_or(0));
        }
        // Wait for the router to take the access.
        for _ in 0..100 {
            self.sim.settle();
            let ready = self.sim.model().cq_ready();
            self.tick();
            if ready {
                break;
            }
        }
        self.sim.model_mut().set_cq_valid(false);
        if write.is_some() {
            self.tick();
            return None;
        }
        for _ in 0..64 {
            self.sim.settle();
            if self.sim.model().cc_valid() {
                let d = self.sim.model().cc_data();
                self.tick();
                return Some(d);
            }
            self.tick();
        }
        panic!("read of function {func} BAR{bar} {addr:#x} never completed");
    }

    fn read(&mut self, func: u8, addr: u32) -> u32 {
        self.access(func, 0, addr, None).unwrap()
    }

    fn write(&mut self, func: u8, addr: u32, v: u32) {
        self.access(func, 0, addr, Some(v));
    }

    /// Runs a mailbox command; returns its status.
    fn mbox(&mut self, op: Op, func: u8, slot: u8, args: &[u32]) -> Status {
        for (i, a) in args.iter().enumerate() {
            self.write(0, mb::ARG0 + 4 * i as u32, *a);
        }
        let before = self.read(0, mb::STATUS) >> 16;
        self.write(
            0,
            mb::CMD,
            op as u32 | (func as u32) << 8 | (slot as u32) << 16,
        );
        let st = self.read(0, mb::STATUS);
        assert_eq!(st & 1, 0, "mailbox still busy");
        assert_eq!(st >> 16, (before + 1) & 0xffff, "command count");
        Status::from_u8((st >> 8) as u8).expect("known status")
    }

    fn load_key(&mut self, slot: u8, key: &[u8; 64]) -> Status {
        for i in 0..16 {
            let w = u32::from_le_bytes(key[4 * i..4 * i + 4].try_into().unwrap());
            self.write(0, mb::KEY0 + 4 * i as u32, w);
        }
        self.mbox(Op::LoadKey, 0, slot, &[])
    }

    fn counter(&mut self, func: u8, c: Counter) -> u32 {
        assert_eq!(self.mbox(Op::ReadCounter, func, 0, &[c as u32]), Status::Ok);
        assert_eq!(self.read(0, mb::RES1), 0);
        self.read(0, mb::RES0)
    }

    fn provision(&mut self, func: u8, blocks: u64, shift: u32, base: u64) -> Status {
        self.mbox(
            Op::Provision,
            func,
            0,
            &[
                blocks as u32,
                (blocks >> 32) as u32,
                shift,
                base as u32,
                (base >> 32) as u32,
            ],
        )
    }
}

#[test]
fn pf_identifies_itself() {
    let mut s = Seam::new(0b11111);
    assert_eq!(s.read(0, mb::ID), CARD_ID);
    assert_eq!(s.read(0, mb::VERSION), REGMAP_VERSION);
    let caps = s.read(0, mb::CAPS);
    assert_eq!(caps & 0xff, nitrous_regmap::card::DEFAULT_VFS as u32);
    assert_eq!((caps >> 8) & 0xff, nitrous_regmap::card::KEY_SLOTS as u32);
    assert_eq!((caps >> 16) & 0xff, nitrous_regmap::nvme::IO_QUEUES);
    // Other BARs and offsets past BAR0 read 0.
    assert_eq!(s.access(0, 2, mb::ID, None), Some(0));
    assert_eq!(s.read(0, 0x4000 + mb::ID), 0);
}

#[test]
fn key_slots_are_write_only_and_reads_are_counted() {
    let mut s = Seam::new(0b11111);
    let key: [u8; 64] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(1));
    // Staged key words read as zero, and every read is counted.
    for i in 0..16 {
        let w = u32::from_le_bytes(key[4 * i..4 * i + 4].try_into().unwrap());
        s.write(0, mb::KEY0 + 4 * i as u32, w);
    }
    for i in 0..16 {
        assert_eq!(s.read(0, mb::KEY0 + 4 * i), 0, "KEY{i} read back");
    }
    assert_eq!(s.read(0, mb::KEY_READS), 16);
    assert_eq!(s.mbox(Op::LoadKey, 0, 3, &[]), Status::Ok);
    assert_eq!(s.counter(0, Counter::KeyReads), 16);
    // No register of any function returns a key word afterwards.
    let words: Vec<u32> = (0..16)
        .map(|i| u32::from_le_bytes(key[4 * i..4 * i + 4].try_into().unwrap()))
        .collect();
    for func in 0..=4u8 {
        for off in (0..0x100).step_by(4).chain((0x1000..0x1048).step_by(4)) {
            let v = s.read(func, off);
            assert!(
                v == 0 || !words.contains(&v),
                "function {func} offset {off:#x} returned a key word {v:#x}"
            );
        }
    }
    // The scan read the PF's key window once more: 16 more counted reads.
    assert_eq!(s.read(0, mb::KEY_READS), 32);
    // Reads of the key window after LoadKey are still zero and counted.
    assert_eq!(s.read(0, mb::KEY0 + 60), 0);
    assert_eq!(s.read(0, mb::KEY_READS), 33);
    assert_eq!(s.load_key(15, &key), Status::Ok);
    assert_eq!(s.load_key(16, &key), Status::BadSlot);
}

#[test]
fn provisioning_rules_and_status_codes() {
    let mut s = Seam::new(0b11111);
    assert_eq!(s.mbox(Op::Enable, 1, 0, &[]), Status::NotReady);
    assert_eq!(s.provision(0, 100, 9, 0), Status::BadFunction);
    assert_eq!(s.provision(5, 100, 9, 0), Status::BadFunction);
    assert_eq!(s.provision(1, 0, 9, 0), Status::BadArgument);
    assert_eq!(s.provision(1, 100, 10, 0), Status::BadArgument);
    assert_eq!(s.provision(1, 100, 9, 256), Status::BadArgument);
    assert_eq!(s.provision(1, 1 << 33, 12, 1 << 32), Status::Ok);
    assert_eq!(
        s.mbox(Op::Enable, 1, 0, &[]),
        Status::NotReady,
        "no key bound"
    );
    assert_eq!(s.mbox(Op::BindKey, 1, 16, &[]), Status::BadSlot);
    assert_eq!(s.mbox(Op::BindKey, 1, 2, &[]), Status::Ok);
    assert_eq!(s.mbox(Op::Enable, 1, 0, &[]), Status::Ok);
    assert_eq!(s.provision(1, 100, 9, 0), Status::FunctionEnabled);
    assert_eq!(s.mbox(Op::BindKey, 1, 3, &[]), Status::FunctionEnabled);
    assert_eq!(s.mbox(Op::ClearKey, 0, 2, &[]), Status::FunctionEnabled);
    assert_eq!(s.load_key(2, &[7; 64]), Status::FunctionEnabled);
    assert_eq!(s.mbox(Op::Disable, 1, 0, &[]), Status::Ok);
    assert_eq!(s.mbox(Op::ClearKey, 0, 2, &[]), Status::Ok);
    assert_eq!(
        s.mbox(Op::Enable, 1, 0, &[]),
        Status::NotReady,
        "key cleared"
    );
    // Unknown opcodes and counters.
    let st = {
        s.write(0, mb::CMD, 0x7f);
        s.read(0, mb::STATUS)
    };
    assert_eq!(Status::from_u8((st >> 8) as u8), Some(Status::BadOpcode));
    assert_eq!(s.mbox(Op::ReadCounter, 1, 0, &[9]), Status::BadArgument);
    assert_eq!(s.mbox(Op::ReadCounter, 9, 0, &[0]), Status::BadFunction);
    assert_eq!(s.counter(1, Counter::Served), 0);
    // ARG registers are plain read-write.
    s.write(0, mb::ARG0 + 8, 0xdead_beef);
    assert_eq!(s.read(0, mb::ARG0 + 8), 0xdead_beef);
}

#[test]
fn a_vf_cannot_reach_the_mailbox() {
    let mut s = Seam::new(0b11111);
    for vf in 1..=4u8 {
        assert_ne!(s.read(vf, mb::ID), CARD_ID, "VF {vf} read the PF ID");
    }
    let before = s.read(0, mb::STATUS) >> 16;
    // A VF writing the PF's CMD / ARG / KEY offsets changes nothing.
    s.write(2, mb::ARG0, 1);
    s.write(2, mb::ARG0 + 4, 0);
    s.write(2, mb::ARG0 + 8, 9);
    s.write(2, mb::CMD, Op::Provision as u32 | 2 << 8);
    s.write(2, mb::KEY0, 0x1234_5678);
    assert_eq!(s.read(0, mb::STATUS) >> 16, before, "a VF ran a command");
    assert_ne!(s.read(0, mb::ARG0 + 8), 9);
    // A function that does not exist (VF Enable clear) reads 0.
    let mut s = Seam::new(0b00001);
    assert_eq!(s.read(3, MSIX_TABLE_OFFSET + 12), 0, "absent VF's MSI-X");
}

#[test]
fn msix_masking_pending_and_delivery() {
    let mut s = Seam::new(0b11111);
    // PF vector 0: program address and data; still masked after reset.
    let t = MSIX_TABLE_OFFSET;
    s.write(0, t, 0xfee0_1000);
    s.write(0, t + 4, 0x1);
    s.write(0, t + 8, 0x4041);
    assert_eq!(s.read(0, t), 0xfee0_1000);
    assert_eq!(s.read(0, t + 4), 1);
    assert_eq!(s.read(0, t + 8), 0x4041);
    assert_eq!(s.read(0, t + 12), 1, "vector masked after reset");
    // A VF's table is separate.
    assert_eq!(s.read(1, t), 0);
    s.write(1, t, 0xaaaa_0000);
    assert_eq!(s.read(0, t), 0xfee0_1000);

    s.write(0, mb::IRQ_EN, 1);
    assert_eq!(s.mbox(Op::ReadCounter, 1, 0, &[0]), Status::Ok);
    for _ in 0..20 {
        s.tick();
    }
    assert!(s.msgs.is_empty(), "masked vector sent a message");
    assert_eq!(s.read(0, MSIX_PBA_OFFSET), 1, "pending bit");
    // Unmask: the pending message goes out and the bit clears.
    s.write(0, t + 12, 0);
    for _ in 0..20 {
        s.tick();
    }
    assert_eq!(s.msgs, vec![(0, 0, 0x1_fee0_1000, 0x4041)]);
    assert_eq!(s.read(0, MSIX_PBA_OFFSET), 0);
    // Unmasked: the next completion interrupts directly.
    assert_eq!(s.mbox(Op::ReadCounter, 1, 0, &[0]), Status::Ok);
    for _ in 0..20 {
        s.tick();
    }
    assert_eq!(s.msgs.len(), 2);
    // FLR masks every vector again.
    {
        let m = s.sim.model_mut();
        m.set_flr_valid(true);
        m.set_flr_func(0);
    }
    s.tick();
    s.sim.model_mut().set_flr_valid(false);
    assert_eq!(s.read(0, t + 12), 1);
    // MSI-X Enable = 0 (`cfg_msix_en`, PCIe 4.0 §7.7.2.2): no message and no
    // pending bit, masked or not.
    s.sim.model_mut().set_cfg_msix_en(0b11110);
    let n = s.msgs.len();
    assert_eq!(s.mbox(Op::ReadCounter, 1, 0, &[0]), Status::Ok);
    for _ in 0..20 {
        s.tick();
    }
    assert_eq!(
        s.read(0, MSIX_PBA_OFFSET),
        0,
        "no pending bit while disabled"
    );
    s.write(0, t + 12, 0);
    assert_eq!(s.mbox(Op::ReadCounter, 1, 0, &[0]), Status::Ok);
    for _ in 0..20 {
        s.tick();
    }
    assert_eq!(s.msgs.len(), n, "no message while disabled");
    assert_eq!(s.sim.model().intx_level() & 1, 0, "the PF has no INTx");
    s.sim.model_mut().set_cfg_msix_en(0b11111);
    assert_eq!(s.mbox(Op::ReadCounter, 1, 0, &[0]), Status::Ok);
    for _ in 0..20 {
        s.tick();
    }
    assert_eq!(s.msgs.len(), n + 1, "enabled again");
}
