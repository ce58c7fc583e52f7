//! The sim backend: the PF manager ([`CardPf`]) over the Verilated card in
//! the platform model — SR-IOV through config space, the mailbox, MSI-X
//! through `irq_enable` / `irq_wait`, FLR — and (once the card's NVMe
//! function is in the `card` top) the unchanged NVMe driver on every VF.
//! Values from `nitrous-regmap`; XTS golden model: RustCrypto `xts-mode`.
#![cfg(feature = "sim")]

use nitrous_driver::nvme::{Nvme, Options, Sqe, StatusCode};
use nitrous_driver::sim::{CardPf, SimCard};
use nitrous_driver::{Error, PciFunction};
use nitrous_regmap::mailbox::{self as mb, Counter, Op, Status};
use nitrous_sim::platform::{card_platform, MemStore, PlatformConfig};
use std::time::Duration;

fn card() -> SimCard {
    let p = card_platform(PlatformConfig::default(), Box::new(MemStore::new(64 << 20)))
        .expect("this build has the card model");
    SimCard::new(p)
}

fn key(i: u8) -> [u8; 64] {
    std::array::from_fn(|j| (j as u8).wrapping_mul(31).wrapping_add(i * 17 + 1))
}

#[test]
fn sriov_enable_through_config_space() {
    let c = card();
    let pf = c.pf().unwrap();
    let cap = pf.sriov().unwrap();
    assert_eq!(cap.total_vfs as usize, nitrous_regmap::card::DEFAULT_VFS);
    assert_eq!(cap.initial_vfs, cap.total_vfs);
    assert_eq!(cap.first_vf_offset, nitrous_regmap::pci::FIRST_VF_OFFSET);
    assert_eq!(cap.vf_stride, nitrous_regmap::pci::VF_STRIDE);
    assert_eq!(cap.vf_device_id, nitrous_regmap::card::VF_DEVICE_ID);
    assert_eq!(cap.num_vfs, 0);
    assert!(c.function(1).is_err(), "VF before VF Enable");
    assert!(matches!(pf.enable_vfs(5), Err(Error::Invalid(_))));
    pf.enable_vfs(3).unwrap();
    assert_eq!(pf.enabled_vfs(), 3);
    assert_eq!(pf.sriov().unwrap().num_vfs, 3);
    let vf = c.function(3).unwrap();
    let mut id = [0u8; 4];
    vf.config_read(0, &mut id).unwrap();
    assert_eq!(
        u16::from_le_bytes([id[2], id[3]]),
        nitrous_regmap::card::VF_DEVICE_ID
    );
    assert!(c.function(4).is_err());
    // Re-enabling with another count goes through VF Enable = 0 first.
    pf.enable_vfs(4).unwrap();
    assert_eq!(pf.enabled_vfs(), 4);
    pf.disable_vfs().unwrap();
    assert_eq!(pf.enabled_vfs(), 0);
    assert!(vf.config_read(0, &mut id).is_err(), "VF gone");
}

#[test]
fn mailbox_commands_and_status_codes() {
    let c = card();
    let pf = c.pf().unwrap();
    pf.enable_vfs(4).unwrap();
    let caps = pf.caps().unwrap();
    assert_eq!(caps.vfs as usize, nitrous_regmap::card::DEFAULT_VFS);
    assert_eq!(caps.key_slots as usize, nitrous_regmap::card::KEY_SLOTS);
    assert_eq!(caps.io_queues as u32, nitrous_regmap::nvme::IO_QUEUES);
    for vf in 1..=4u8 {
        pf.setup_vf(vf, 1024, 9, (vf as u64 - 1) << 20, &key(vf))
            .unwrap();
    }
    // Errors come back as statuses, never undefined state.
    let r = pf.command(Op::Provision, 1, 0, &[8, 0, 9, 0, 0]).unwrap();
    assert_eq!(r.status, Status::FunctionEnabled);
    let r = pf.command(Op::BindKey, 2, 16, &[]).unwrap();
    assert_eq!(r.status, Status::BadSlot);
    let r = pf.command_raw(0x7f, 0, 0, &[]).unwrap();
    assert_eq!(r.status, Status::BadOpcode);
    let e = pf.provision(9, 8, 9, 0).unwrap_err();
    assert!(e.to_string().contains("BadFunction"), "{e}");
    pf.disable(2).unwrap();
    pf.provision(2, 8, 12, 0).unwrap();
    // Key material never comes back; reads are counted.
    let before = pf.key_reads().unwrap();
    for i in 0..mb::KEY_WORDS {
        assert_eq!(
            pf.function()
                .bar_read32(0, (mb::KEY0 + 4 * i) as u64)
                .unwrap(),
            0
        );
    }
    assert_eq!(pf.key_reads().unwrap(), before + mb::KEY_WORDS);
    assert_eq!(
        pf.read_counter(0, Counter::KeyReads).unwrap(),
        (before + mb::KEY_WORDS) as u64
    );
    assert_eq!(pf.read_counter(1, Counter::Served).unwrap(), 0);
}

#[test]
fn pf_interrupt_through_irq_enable_and_wait() {
    let c = card();
    let mut pf0 = c.function(0).unwrap();
    pf0.enable_bus_master().unwrap();
    assert_eq!(pf0.irq_count(), nitrous_regmap::pci::PF_MSIX_VECTORS);
    assert_eq!(pf0.irq_enable(4).unwrap(), 1);
    pf0.bar_write32(0, mb::IRQ_EN as u64, 1).unwrap();
    let pf = CardPf::new(c.clone()).unwrap();
    assert!(!pf0.irq_wait(0, Duration::ZERO).unwrap(), "nothing yet");
    pf.read_counter(0, Counter::KeyReads).unwrap();
    assert!(
        pf0.irq_wait(0, Duration::ZERO).unwrap(),
        "completion interrupt"
    );
    assert!(!pf0.irq_wait(0, Duration::ZERO).unwrap(), "event consumed");
    assert!(c.platform().msix_errors().is_empty());
    assert!(matches!(
        pf0.irq_wait(1, Duration::ZERO),
        Err(Error::Invalid(_))
    ));
    // With MSI-X disabled the message is refused by the platform.
    pf0.irq_disable().unwrap();
    pf0.bar_write32(0, mb::IRQ_EN as u64, 1).unwrap();
    let n = c.platform().irq_count(0, 0);
    pf.read_counter(0, Counter::KeyReads).unwrap();
    c.platform().run(100);
    assert_eq!(c.platform().irq_count(0, 0), n);
}

#[test]
fn function_reset_is_an_flr_of_that_vf() {
    let c = card();
    let pf = c.pf().unwrap();
    pf.enable_vfs(2).unwrap();
    let mut vf1 = c.function(1).unwrap();
    let vf2 = c.function(2).unwrap();
    vf1.enable_bus_master().unwrap();
    vf2.enable_bus_master().unwrap();
    vf1.reset().unwrap();
    let cmd = |f: &dyn PciFunction| {
        let mut b = [0u8; 2];
        f.config_read(4, &mut b).unwrap();
        u16::from_le_bytes(b)
    };
    assert_eq!(cmd(&vf1) & 4, 0, "VF1 bus master cleared by FLR");
    assert_ne!(cmd(&vf2) & 4, 0, "VF2 untouched");
    assert_eq!(
        pf.function().bar_read32(0, mb::ID as u64).unwrap(),
        nitrous_regmap::CARD_ID
    );
}

// ---- end to end with the NVMe function -------------------------------------

fn xts_encrypt(key: &[u8; 64], lba: u64, lba_size: usize, data: &[u8]) -> Vec<u8> {
    use aes::cipher::KeyInit;
    let xts = xts_mode::Xts128::new(
        aes::Aes256::new(key[..32].into()),
        aes::Aes256::new(key[32..].into()),
    );
    let mut b = data.to_vec();
    xts.encrypt_area(&mut b, lba_size, lba as u128, xts_mode::get_tweak_default);
    b
}

fn opts() -> Options {
    Options {
        io_queues: 2,
        queue_size: 32,
        interrupts: true,
        cmd_timeout: Duration::from_secs(600),
    }
}

#[test]
fn nvme_driver_runs_unchanged_on_every_vf() {
    let c = card();
    let pf = c.pf().unwrap();
    pf.enable_vfs(4).unwrap();
    let shifts = [9u8, 12, 9, 12];
    let blocks = 2048u64;
    let mut base = 0;
    let mut bases = Vec::new();
    for vf in 1..=4u8 {
        let s = shifts[vf as usize - 1];
        pf.setup_vf(vf, blocks, s, base, &key(vf)).unwrap();
        bases.push(base);
        base += blocks << s;
    }
    let mut devs: Vec<Nvme<_>> = (1..=4u8)
        .map(|vf| Nvme::new(c.function(vf).unwrap(), opts()).unwrap())
        .collect();
    for (i, n) in devs.iter_mut().enumerate() {
        let ns = n.namespace().unwrap().clone();
        assert_eq!(ns.blocks, blocks);
        assert_eq!(ns.block_size, 1 << shifts[i]);
        assert!(n.io_queue_count() >= 1);
    }
    // Write / read back on each VF; the backend holds XTS ciphertext.
    for (i, n) in devs.iter_mut().enumerate() {
        let bs = 1usize << shifts[i];
        let data: Vec<u8> = (0..8 * bs).map(|j| (j * 13 + i) as u8).collect();
        n.write(0, 5, &data).unwrap();
        let mut back = vec![0u8; data.len()];
        n.read(n.io_queue_count() - 1, 5, &mut back).unwrap();
        assert_eq!(back, data, "VF {} read back", i + 1);
        let mut stored = vec![0u8; data.len()];
        let addr = bases[i] + 5 * bs as u64;
        c.platform().backend().read(addr, &mut stored).unwrap();
        let vf = i as u8 + 1;
        assert_eq!(
            stored,
            xts_encrypt(&key(vf), 5, bs, &data),
            "VF {vf} ciphertext"
        );
    }
    // A read whose PRP points at an unmapped IOVA: Data Transfer Error,
    // logged as a fault of that VF only; the other VFs keep working.
    let bad = devs[1].unmapped_iova();
    let mut cmd = Sqe::new(0x01); // Write: the card reads host memory
    cmd.prp1 = bad;
    cmd.cdw10 = 0;
    cmd.cdw12 = 0; // one block
    devs[1].submit_raw(0, cmd, 7).unwrap();
    devs[1].ring(0).unwrap();
    let mut out = Vec::new();
    devs[1].wait(0, &mut out).unwrap();
    let st = out[0].result.unwrap_err();
    assert_eq!(st.code, StatusCode::DataTransferError, "{st:?}");
    assert!(c.platform().faults().iter().all(|f| f.func == 2));
    assert!(!c.platform().faults().is_empty());
    let mut b = vec![0u8; 512];
    devs[0].read(0, 5, &mut b).unwrap();
}
