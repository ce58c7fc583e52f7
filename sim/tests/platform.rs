//! The platform model around the Verilated card: config space and SR-IOV
//! as the hard IP presents them, BAR routing by function, the PF mailbox
//! reached through the platform, MSI-X delivery checks, FLR, determinism.
//! Register values come from `nitrous-regmap`; the rules from PCIe 4.0
//! (§7.5.1 header, §7.7.2 MSI-X, §9.3.3 SR-IOV) and docs/CARD.md.
#![cfg(nsim_top_card)]

use nitrous_regmap::mailbox::{self as mb, Counter, Op, Status};
use nitrous_regmap::{pci, CARD_ID, MSIX_TABLE_OFFSET};
use nitrous_sim::platform::config::{
    CMD_BUS_MASTER, COMMAND, MSIX_CTRL, MSIX_ENABLE, MSIX_FUNCTION_MASK, PCIE_DEVCTL, SRIOV_CTRL,
    SRIOV_VF_ENABLE,
};
use nitrous_sim::platform::{self, card_platform, Error, MemStore, Platform, PlatformConfig};

fn platform() -> Platform {
    card_platform(PlatformConfig::default(), Box::new(MemStore::new(1 << 24))).expect("card")
}

mod common;
use common::{cfg16, enable_pf, enable_vfs, mbox};

#[test]
fn memory_space_enable_gates_bar_access() {
    let mut p = platform();
    // Memory Space off: Unsupported Request, all ones (PCIe 4.0 §2.3.1).
    assert_eq!(p.bar_read32(0, 0, mb::ID as u64).unwrap(), u32::MAX);
    enable_pf(&mut p);
    assert_eq!(p.bar_read32(0, 0, mb::ID as u64).unwrap(), CARD_ID);
    assert!(matches!(
        p.bar_read32(0, 2, 0),
        Err(Error::NoBar { func: 0, bar: 2 })
    ));
    assert!(matches!(
        p.bar_read32(0, 0, 2),
        Err(Error::BadOffset { .. })
    ));
    assert!(matches!(
        p.bar_read32(0, 0, nitrous_regmap::BAR0_SIZE),
        Err(Error::BadOffset { .. })
    ));
}

#[test]
fn vfs_exist_only_after_sriov_enable() {
    let mut p = platform();
    enable_pf(&mut p);
    assert_eq!(p.total_vfs(), nitrous_regmap::card::DEFAULT_VFS);
    assert!(matches!(
        p.bar_read32(1, 0, 0),
        Err(Error::NoFunction { func: 1 })
    ));
    let mut b = [0u8; 4];
    assert!(p.config_read(1, 0, &mut b).is_err());
    enable_vfs(&mut p, 2);
    assert_eq!(p.enabled_vfs(), 2);
    p.config_read(2, 0, &mut b).unwrap();
    assert_eq!(
        u16::from_le_bytes([b[2], b[3]]),
        nitrous_regmap::card::VF_DEVICE_ID
    );
    assert!(p.config_read(3, 0, &mut b).is_err());
    // A VF's BAR0 below 0x2000 is its NVMe front, never the mailbox.
    assert_ne!(p.bar_read32(1, 0, mb::ID as u64).unwrap(), CARD_ID);
    // VF MSE off: all ones.
    cfg16(&mut p, 0, pci::EXTCAP_SRIOV + SRIOV_CTRL, SRIOV_VF_ENABLE);
    assert_eq!(p.bar_read32(1, 0, 0).unwrap(), u32::MAX);
    // VF Enable off: the VFs vanish.
    cfg16(&mut p, 0, pci::EXTCAP_SRIOV + SRIOV_CTRL, 0);
    assert_eq!(p.enabled_vfs(), 0);
    assert!(p.bar_read32(1, 0, 0).is_err());
}

#[test]
fn mailbox_round_trips_through_the_platform() {
    let mut p = platform();
    enable_pf(&mut p);
    enable_vfs(&mut p, 4);
    let caps = p.bar_read32(0, 0, mb::CAPS as u64).unwrap();
    assert_eq!(caps & 0xff, 4);
    assert_eq!(
        mbox(&mut p, Op::Provision, 1, 0, &[1000, 0, 9, 0, 0]).0,
        Status::Ok
    );
    assert_eq!(
        mbox(&mut p, Op::Provision, 1, 0, &[1000, 0, 10, 0, 0]).0,
        Status::BadArgument
    );
    for i in 0..16u32 {
        p.bar_write32(0, 0, (mb::KEY0 + 4 * i) as u64, 0x0101_0101 * i)
            .unwrap();
    }
    // Key staging reads back as zero and is counted.
    assert_eq!(p.bar_read32(0, 0, mb::KEY0 as u64 + 4).unwrap(), 0);
    assert_eq!(p.bar_read32(0, 0, mb::KEY_READS as u64).unwrap(), 1);
    assert_eq!(mbox(&mut p, Op::LoadKey, 0, 0, &[]).0, Status::Ok);
    assert_eq!(mbox(&mut p, Op::BindKey, 1, 0, &[]).0, Status::Ok);
    assert_eq!(mbox(&mut p, Op::Enable, 1, 0, &[]).0, Status::Ok);
    assert_eq!(
        mbox(&mut p, Op::ReadCounter, 0, 0, &[Counter::KeyReads as u32]),
        (Status::Ok, 1)
    );
    assert_eq!(mbox(&mut p, Op::Enable, 2, 0, &[]).0, Status::NotReady);
}

#[test]
fn msix_messages_are_checked_against_config_and_table() {
    let mut p = platform();
    enable_pf(&mut p);
    let m = pci::CAP_MSIX as u16 + MSIX_CTRL;
    // Program PF vector 0 and unmask it in the table.
    let t = MSIX_TABLE_OFFSET as u64;
    p.bar_write32(0, 0, t, 0xfee0_0000).unwrap();
    p.bar_write32(0, 0, t + 4, 0).unwrap();
    p.bar_write32(0, 0, t + 8, 0x55).unwrap();
    p.bar_write32(0, 0, t + 12, 0).unwrap();
    p.bar_write32(0, 0, mb::IRQ_EN as u64, 1).unwrap();
    // MSI-X disabled in config space: the card (told by `cfg_msix_en`)
    // sends nothing, so nothing is delivered or refused (PCIe 4.0 §7.7.2.2).
    mbox(&mut p, Op::ReadCounter, 1, 0, &[0]);
    p.run(50);
    assert_eq!(p.irq_count(0, 0), 0);
    assert!(p.msix_errors().is_empty(), "{:?}", p.msix_errors());
    assert!(!p.intx(0), "the PF mailbox has no INTx");
    // Enabled but function-masked: the card sends, the platform refuses
    // and logs it.
    cfg16(&mut p, 0, m, MSIX_ENABLE | MSIX_FUNCTION_MASK);
    mbox(&mut p, Op::ReadCounter, 1, 0, &[0]);
    p.run(50);
    assert_eq!(p.irq_count(0, 0), 0);
    let refused = p.msix_errors().len();
    assert!(refused >= 1, "no refused message logged");
    assert!(p.msix_errors()[0].reason.contains("function masked"));
    // Enabled and unmasked: delivered, once per command.
    cfg16(&mut p, 0, m, MSIX_ENABLE);
    let before = p.msix_errors().len();
    mbox(&mut p, Op::ReadCounter, 1, 0, &[0]);
    p.run(50);
    let pending_flush = p.irq_count(0, 0);
    assert!(pending_flush >= 1);
    mbox(&mut p, Op::ReadCounter, 1, 0, &[0]);
    p.run(50);
    assert_eq!(p.irq_count(0, 0), pending_flush + 1);
    assert_eq!(p.msix_errors().len(), before, "{:?}", p.msix_errors());
    assert_eq!(p.irq_total(), p.irq_count(0, 0));
}

#[test]
fn flr_resets_only_that_function_config() {
    let mut p = platform();
    enable_pf(&mut p);
    enable_vfs(&mut p, 2);
    cfg16(&mut p, 1, COMMAND, CMD_BUS_MASTER);
    cfg16(&mut p, 2, COMMAND, CMD_BUS_MASTER);
    let devctl = pci::CAP_PCIE as u16 + PCIE_DEVCTL;
    cfg16(&mut p, 1, devctl, 1 << 15);
    p.run(100);
    assert!(!p.config_space(1).unwrap().bus_master(), "VF1 reset");
    assert!(p.config_space(2).unwrap().bus_master(), "VF2 untouched");
    assert!(p.config_space(0).unwrap().bus_master(), "PF untouched");
    assert_eq!(p.enabled_vfs(), 2);
    // The mailbox still answers after the VF's FLR.
    assert_eq!(p.bar_read32(0, 0, mb::ID as u64).unwrap(), CARD_ID);
}

#[test]
fn same_calls_give_the_same_cycle_counts() {
    let run = || {
        let mut p = platform();
        enable_pf(&mut p);
        enable_vfs(&mut p, 4);
        mbox(&mut p, Op::Provision, 3, 0, &[64, 0, 12, 4096, 0]);
        let _ = p.bar_read32(2, 0, 0).unwrap();
        p.cycle()
    };
    let a = run();
    assert_eq!(a, run());
    assert!(a > 0);
}

#[test]
fn lspci_dump_of_the_platform() {
    let mut p = platform();
    enable_vfs(&mut p, 3);
    let text = platform::lspci::format_function(0, p.config_space(0).unwrap());
    assert!(text.starts_with("01:00.0 "));
    let vf = platform::lspci::format_function(3, p.config_space(3).unwrap());
    assert!(vf.starts_with("01:00.3 Non-Volatile memory controller"));
}

#[test]
fn platform_speed() {
    let mut p = platform();
    enable_pf(&mut p);
    enable_vfs(&mut p, 4);
    let n = 200_000;
    let t = std::time::Instant::now();
    p.run(n);
    let s = t.elapsed().as_secs_f64();
    println!(
        "platform + card: {n} idle cycles in {s:.2} s = {:.0} cycles/s",
        n as f64 / s
    );
}

#[test]
fn waveform_on_demand() {
    let dir = std::env::temp_dir().join(format!("nsim-plat-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join(format!("card.{}", nitrous_sim::models::TRACE_FORMAT));
    let mut p = platform();
    enable_pf(&mut p);
    p.trace_to(&f).unwrap();
    assert_eq!(p.bar_read32(0, 0, mb::ID as u64).unwrap(), CARD_ID);
    p.run(10);
    p.trace_flush();
    drop(p);
    let n = std::fs::metadata(&f).unwrap().len();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(n > 100, "trace of {n} bytes");
}
